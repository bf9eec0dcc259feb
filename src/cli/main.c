/* blorc-gpu: subcommand dispatch, --version and --help; with MPI (BLORC_MPI) the ranks of a
 * data-parallel `train` (issue 18). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef BLORC_MPI
#include <mpi.h>
#include <omp.h>
#endif

static const struct {
  const char *name;
  int (*run)(int, char **);
  const char *what;
} COMMANDS[] = {
    {"train", cmd_train, "learn W from clean/noisy pairs (default: the built-in 1D config)"},
    {"reconstruct", cmd_denoise,
     "solve inverse problems (inpainting, compressed sensing, blur) with a transform W"},
    {"denoise", cmd_denoise, "denoise signals with a transform W (reconstruct with A = I)"},
    {"grad", cmd_grad, "gradient of the mean denoising loss with respect to W"},
    {"eval", cmd_eval, "PSNR of W against the noisy input and a tuned baseline"},
    {"data", cmd_data, "generate the paper's synthetic signals"},
    {"filters", cmd_filters, "draw the rows of a W as a PNG (heat map or tiles)"},
    {"bench", cmd_bench, "time minibatches stage by stage, CPU and GPU side by side"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: blorc-gpu COMMAND [FLAGS]   (blorc-gpu COMMAND --help for its flags)\n\n");
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    fprintf(f, "  %-11s %s\n", COMMANDS[i].name, COMMANDS[i].what);
  fprintf(f, "\n  --version  version and build\n");
}

static int run(int argc, char **argv, int ranks) {
  /* First, so that --version and every subcommand report and use the same kernels. A
   * fallback that could not be replaced is said on every run (one the user forced through
   * OPENBLAS_CORETYPE is the user's choice, and --version and bench name it). */
  blorc_blas_select_kernels();
  blorc_blas_info blas;
  blorc_blas_query(&blas);
  if (blas.fallback && !blas.forced) fprintf(stderr, "blorc-gpu: warning: BLAS %s\n", blas.summary);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("blorc-gpu %s (%s)\nBLAS: %s\n", blorc_version(), blorc_build_info(), blas.summary);
    return 0;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
    if (strcmp(argv[1], COMMANDS[i].name) != 0) continue;
    if (ranks > 1 && COMMANDS[i].run != cmd_train) {
      fprintf(stderr,
              "blorc-gpu %s: runs on one rank only (%d started): only train is data-parallel\n",
              argv[1], ranks);
      return 2;
    }
    return COMMANDS[i].run(argc - 1, argv + 1);
  }
  fprintf(stderr, "blorc-gpu: unknown command '%s', expected", argv[1]);
  size_t count = sizeof COMMANDS / sizeof COMMANDS[0];
  for (size_t i = 0; i < count; i++)
    fprintf(stderr, "%s %s", i == 0 ? "" : i + 1 < count ? "," : " or", COMMANDS[i].name);
  fprintf(stderr, " (see blorc-gpu --help)\n");
  return 2;
}

#ifdef BLORC_MPI
/* Started by an MPI launcher (mpirun, mpiexec, srun), or told so by BLORC_MPI_INIT=1 (0: never):
 * a plain `blorc-gpu` does not start MPI's machinery (a singleton MPI_Init takes seconds and
 * writes session files). */
static int launched_by_mpi(void) {
  const char *force = getenv("BLORC_MPI_INIT");
  if (force && *force) return strcmp(force, "0") != 0;
  static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                               "SLURM_STEP_NUM_TASKS", "MPI_LOCALNRANKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}
#endif

int main(int argc, char **argv) {
#ifdef BLORC_MPI
  if (!launched_by_mpi()) return run(argc, argv, 1);
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1, local = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm node;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) ==
      MPI_SUCCESS) {
    MPI_Comm_size(node, &local);
    MPI_Comm_free(&node);
  }
  /* CPU ranks of one node split its cores, unless the user chose (OMP_NUM_THREADS). */
  if (local > 1 && !getenv("OMP_NUM_THREADS")) {
    int t = omp_get_num_procs() / local;
    omp_set_num_threads(t > 0 ? t : 1);
  }
  /* Rank 0 speaks for the run: every rank ends with the same status and message (dist.c). */
  if (rank != 0 && (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)))
    return 1;
  int rc = run(argc, argv, size);
  MPI_Finalize();
  return rc;
#else
  return run(argc, argv, 1);
#endif
}
