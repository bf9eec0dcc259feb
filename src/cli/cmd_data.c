/* blorc-gpu data: the paper's synthetic signals as .npy files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu data --kind piecewise|dct|stripes [--n 64] [--count 4000] [--sigma 0.1]\n"
    "                      [--seed 0] --clean X.npy --noisy Y.npy\n"
    "Writes count clean signals and their noisy versions (float64, shape (count, n)).\n"
    "  piecewise  jumps with probability 0.1, heights uniform in [0, 1)\n"
    "  dct        orthonormal-DCT coefficients nonzero with probability 0.1, uniform in [-1, 1]\n"
    "  stripes    8 x 8 patches (n = 64; n = side^2 in general) at stride 7 from two 256 x 256\n"
    "             images (vertical and diagonal stripes), in random order; count <= 2592\n"
    "  --stripe-phase fixed|random  the paper's two images (fixed, the default: every seed\n"
    "             gives the same images, only the noise differs) or stripe phases drawn from\n"
    "             the seed (random: test images that are not training images)\n";

int cmd_data(int argc, char **argv) {
  const char *kind = NULL, *clean = NULL, *noisy = NULL, *C = "data";
  long long n = 64, count = 4000, seed = 0;
  double sigma = 0.1;
  int random_phase = 0;
  static const struct option opts[] = {
      {"stripe-phase", 1, 0, 'p'}, {"kind", 1, 0, 'k'}, {"n", 1, 0, 'n'},     {"count", 1, 0, 'c'},
      {"sigma", 1, 0, 's'},        {"seed", 1, 0, 'r'}, {"clean", 1, 0, 'x'}, {"noisy", 1, 0, 'y'},
      {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
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
      default: return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if (!kind) return cli_usage_error(C, "--kind is required (piecewise, dct or stripes)");
  if (!clean || !noisy) return cli_usage_error(C, "--clean and --noisy output paths are required");
  int is_stripes = !strcmp(kind, "stripes");
  if (!is_stripes && strcmp(kind, "piecewise") && strcmp(kind, "dct"))
    return cli_usage_error(C, "--kind '%s': expected piecewise, dct or stripes", kind);
  blorc_error e = {0};
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
  if (!st) st = blorc_npy_save(clean, X, 2, N, (size_t)n, &e);
  if (!st) st = blorc_npy_save(noisy, Y, 2, N, (size_t)n, &e);
  free(X), free(Y);
  if (st) return cli_fail(C, &e);
  printf("wrote %zu %s signals of length %lld: %s (clean), %s (noisy, sigma %g)\n", N, kind, n,
         clean, noisy, sigma);
  return 0;
}
