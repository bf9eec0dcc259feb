/* blorc-gpu data: the paper's synthetic signals as .npy files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu data --kind piecewise|dct|stripes [--n 64] [--count 4000] [--sigma 0.1]\n"
    "                      [--seed 0] --clean X.npy --noisy Y.npy\n"
    "                      [--operator inpaint:F|cs:M|blur:S|blur2d:S|A.npy [--operator-seed 0]\n"
    "                       [--masks M.npy] [--matrix A.npy]]\n"
    "Writes count clean signals and their noisy versions (float64, shape (count, n)).\n"
    "  piecewise  jumps with probability 0.1, heights uniform in [0, 1)\n"
    "  dct        orthonormal-DCT coefficients nonzero with probability 0.1, uniform in [-1, 1]\n"
    "  stripes    8 x 8 patches (n = 64; n = side^2 in general) at stride 7 from two 256 x 256\n"
    "             images (vertical and diagonal stripes), in random order; count <= 2592\n"
    "  --stripe-phase fixed|random  the paper's two images (fixed, the default: every seed\n"
    "             gives the same images, only the noise differs) or stripe phases drawn from\n"
    "             the seed (random: test images that are not training images)\n"
    "--operator makes measurements y = A x + noise (shape (count, m)) for an inverse problem\n"
    "instead of noisy signals: inpaint:F per-sample masks with a share F of entries missing\n"
    "(written to --masks, required; y is 0 where missing), cs:M an M x n Gaussian matrix drawn\n"
    "from --operator-seed, blur:S / blur2d:S a 1D / 2D Gaussian blur of width S pixels, or a\n"
    "matrix file. --matrix writes A (m x n). train, reconstruct, grad and eval take the same\n"
    "--operator and seed (and the masks) to reproduce A.\n";

int cmd_data(int argc, char **argv) {
  const char *kind = NULL, *clean = NULL, *noisy = NULL, *C = "data";
  long long n = 64, count = 4000, seed = 0;
  double sigma = 0.1;
  int random_phase = 0;
  const char *masks_out = NULL, *matrix_out = NULL;
  cli_operator copt = CLI_OPERATOR_INIT;
  static const struct option opts[] = {{"stripe-phase", 1, 0, 'p'},
                                       {"kind", 1, 0, 'k'},
                                       {"n", 1, 0, 'n'},
                                       {"count", 1, 0, 'c'},
                                       {"sigma", 1, 0, 's'},
                                       {"seed", 1, 0, 'r'},
                                       {"clean", 1, 0, 'x'},
                                       {"noisy", 1, 0, 'y'},
                                       {"help", 0, 0, 'h'},
                                       {"operator", 1, 0, CLI_OPT_OPERATOR},
                                       {"operator-seed", 1, 0, CLI_OPT_OP_SEED},
                                       {"masks", 1, 0, CLI_OPT_MASKS},
                                       {"matrix", 1, 0, 'A'},
                                       {0, 0, 0, 0}};
  int o;
  while ((o = cli_getopt(C, argc, argv, opts)) != -1) {
    switch (o) {
      case 'k': kind = optarg; break;
      case 'n':
        if (cli_int(C, "n", optarg, 1, &n)) return 2;
        break;
      case 'c':
        if (cli_int(C, "count", optarg, 1, &count)) return 2;
        break;
      case 's':
        if (cli_double(C, "sigma", optarg, -1e-300, &sigma)) return 2;
        break;
      case 'r':
        if (cli_int(C, "seed", optarg, 0, &seed)) return 2;
        break;
      case 'p':
        if (strcmp(optarg, "fixed") && strcmp(optarg, "random"))
          return cli_usage_error(C, "--stripe-phase '%s': expected fixed or random", optarg);
        random_phase = !strcmp(optarg, "random");
        break;
      case 'x': clean = optarg; break;
      case 'y': noisy = optarg; break;
      case 'h': fputs(HELP, stdout); return 0;
      case 'A': matrix_out = optarg; break;
      case CLI_OPT_MASKS: masks_out = optarg; break;
      default:
        if (cli_operator_flag(C, o, optarg, &copt) == 1) break;
        return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if (!kind) return cli_usage_error(C, "--kind is required (piecewise, dct or stripes)");
  if (!clean || !noisy) return cli_usage_error(C, "--clean and --noisy output paths are required");
  int is_stripes = !strcmp(kind, "stripes");
  if (!is_stripes && strcmp(kind, "piecewise") && strcmp(kind, "dct"))
    return cli_usage_error(C, "--kind '%s': expected piecewise, dct or stripes", kind);
  blorc_error e = {0};
  blorc_operator op;
  if (blorc_operator_parse(copt.spec, (int)n, (uint64_t)copt.seed, 0, "--operator", &op, &e))
    return cli_fail(C, &e);
  if (op.kind == BLORC_OP_MASK && !masks_out) {
    blorc_operator_free(&op);
    return cli_usage_error(C, "--operator %s needs --masks M.npy (the masks' output)", copt.spec);
  }
  if ((op.kind != BLORC_OP_MASK && masks_out) || (op.kind != BLORC_OP_MATRIX && matrix_out)) {
    blorc_operator_free(&op);
    return cli_usage_error(C, "--%s: the operator %s has none", masks_out ? "masks" : "matrix",
                           copt.spec);
  }
  blorc_rng rng;
  blorc_rng_seed(&rng, (uint64_t)seed);
  size_t N = (size_t)count;
  double *X = NULL, *Y = NULL;
  blorc_status st;
  if (is_stripes) {
    int side = (int)lround(sqrt((double)n));
    if (side * side != n)
      return cli_usage_error(C, "--n %lld: stripes need a square (64 = 8 x 8)", n);
    size_t total = blorc_stripes_count(side);
    if (N > total)
      return cli_usage_error(C, "--count %zu: the stripe images give only %zu patches of %d x %d",
                             N, total, side, side);
    X = malloc(N * n * sizeof(double)), Y = malloc(N * n * sizeof(double));
    st = X && Y ? blorc_sample_stripes(side, sigma, random_phase, &rng, N, X, Y, &e)
                : blorc_fail(&e, BLORC_ENOMEM, "out of memory");
  } else {
    X = malloc(N * n * sizeof(double)), Y = malloc(N * n * sizeof(double));
    st = X && Y ? blorc_generate(strcmp(kind, "dct") ? BLORC_DATA_PIECEWISE : BLORC_DATA_DCT,
                                 (int)n, N, sigma, &rng, X, Y, &e)
                : blorc_fail(&e, BLORC_ENOMEM, "out of memory for %zu signals", N);
  }
  /* An operator: measurements replace the noisy signals (masks first, as train draws them). */
  double *Ym = NULL, *M = NULL;
  if (!st && op.kind != BLORC_OP_IDENTITY) {
    Ym = malloc(N * (size_t)op.m * sizeof(double));
    M = op.kind == BLORC_OP_MASK ? malloc(N * (size_t)n * sizeof(double)) : NULL;
    if (!Ym || (op.kind == BLORC_OP_MASK && !M))
      st = blorc_fail(&e, BLORC_ENOMEM, "out of memory for %zu measurements", N);
    else
      blorc_operator_simulate(&op, N, X, sigma, (uint64_t)seed, (uint64_t)copt.seed, Ym, M);
  }
  if (!st) st = blorc_npy_save(clean, X, 2, N, (size_t)n, &e);
  if (!st) st = blorc_npy_save(noisy, Ym ? Ym : Y, 2, N, (size_t)(Ym ? op.m : n), &e);
  if (!st && M) st = blorc_npy_save(masks_out, M, 2, N, (size_t)n, &e);
  if (!st && matrix_out) st = blorc_npy_save(matrix_out, op.A, 2, (size_t)op.m, (size_t)n, &e);
  free(X), free(Y), free(Ym), free(M);
  if (!st && op.kind == BLORC_OP_IDENTITY)
    printf("wrote %zu %s signals of length %lld: %s (clean), %s (noisy, sigma %g)\n", N, kind, n,
           clean, noisy, sigma);
  else if (!st)
    printf(
        "wrote %zu %s signals of length %lld: %s (clean), %s (measurements y = A x + noise, "
        "m = %d, sigma %g; %s)%s%s%s%s\n",
        N, kind, n, clean, noisy, op.m, sigma, op.desc, M ? ", masks " : "", M ? masks_out : "",
        matrix_out ? ", matrix " : "", matrix_out ? matrix_out : "");
  blorc_operator_free(&op);
  if (st) return cli_fail(C, &e);
  return 0;
}
