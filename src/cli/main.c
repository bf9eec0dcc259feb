/* blorc-gpu: subcommand dispatch, --version and --help. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

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

int main(int argc, char **argv) {
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
  for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
    if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
  fprintf(stderr, "blorc-gpu: unknown command '%s', expected", argv[1]);
  size_t count = sizeof COMMANDS / sizeof COMMANDS[0];
  for (size_t i = 0; i < count; i++)
    fprintf(stderr, "%s %s", i == 0 ? "" : i + 1 < count ? "," : " or", COMMANDS[i].name);
  fprintf(stderr, " (see blorc-gpu --help)\n");
  return 2;
}
