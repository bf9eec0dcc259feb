/* blorc-bench-minibatch: times the stages of whole minibatches on synthetic
 * piecewise-constant data (the paper's first experiment) and prints the median, min and max
 * milliseconds of each stage over the repeats, after one warm-up minibatch.
 *
 *   blorc-bench-minibatch [--device cpu|cuda] [--n 64] [--batch 100] [--iters 2000]
 *                         [--tol 0] [--repeat 5] [--rho 10] [--init tv|identity|dct]
 *                         [--init-scale 0.2] [--gamma 1e-3] [--seed 0] [--csv]
 *
 * --tol 0 (the default) runs every sample for exactly --iters ADMM iterations, so timings
 * compare like for like; --tol > 0 stops samples as they converge (cold starts each repeat).
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blorc/blorc.h"

enum { S_FACTOR, S_ADMM, S_SIGNS, S_SVD, S_CLOSED, S_GRAD, S_TOTAL, NSTAGES };
static const char *STAGE[NSTAGES] = {"factor",      "admm",     "signs", "svd",
                                     "closed_form", "gradient", "total"};

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: blorc-bench-minibatch [--device cpu|cuda] [--n N] [--batch B] [--iters I]\n"
          "       [--tol T] [--repeat R] [--rho RHO] [--init tv|identity|dct] [--init-scale C]\n"
          "       [--gamma G] [--seed S] [--csv]\n");
}

static int die(const blorc_error *e) {
  fprintf(stderr, "blorc-bench-minibatch: %s\n", e->msg);
  return 1;
}

int main(int argc, char **argv) {
  int n = 64, B = 100, iters = 2000, repeat = 5, csv = 0;
  double tol = 0, rho = 10, scale = 0.2, gamma = 1e-3;
  unsigned long long seed = 0;
  const char *init = "tv", *device = "cpu";
  static const struct option opts[] = {
      {"device", 1, 0, 'd'},     {"n", 1, 0, 'n'},      {"batch", 1, 0, 'b'}, {"iters", 1, 0, 'i'},
      {"tol", 1, 0, 't'},        {"repeat", 1, 0, 'r'}, {"rho", 1, 0, 'p'},   {"init", 1, 0, 'w'},
      {"init-scale", 1, 0, 'c'}, {"gamma", 1, 0, 'g'},  {"seed", 1, 0, 's'},  {"csv", 0, 0, 'v'},
      {"help", 0, 0, 'h'},       {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
      case 'd': device = optarg; break;
      case 'n': n = atoi(optarg); break;
      case 'b': B = atoi(optarg); break;
      case 'i': iters = atoi(optarg); break;
      case 't': tol = atof(optarg); break;
      case 'r': repeat = atoi(optarg); break;
      case 'p': rho = atof(optarg); break;
      case 'w': init = optarg; break;
      case 'c': scale = atof(optarg); break;
      case 'g': gamma = atof(optarg); break;
      case 's': seed = strtoull(optarg, NULL, 10); break;
      case 'v': csv = 1; break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (n < 2 || B < 1 || iters < 0 || repeat < 1) {
    fprintf(stderr,
            "blorc-bench-minibatch: need --n >= 2, --batch >= 1, --iters >= 0, --repeat >= 1\n");
    return 2;
  }
  blorc_device dev;
  if (strcmp(device, "cpu") == 0)
    dev = BLORC_DEVICE_CPU;
  else if (strcmp(device, "cuda") == 0)
    dev = BLORC_DEVICE_CUDA;
  else {
    fprintf(stderr, "blorc-bench-minibatch: --device '%s', expected cpu or cuda\n", device);
    return 2;
  }
  blorc_error e = {0};
  blorc_transform_kind kind;
  int k;
  if (blorc_transform_parse(init, &kind, &e) || blorc_transform_rows(kind, n, &k, &e))
    return die(&e);
  double *W = malloc(sizeof(double) * k * n);
  double *X = malloc(sizeof(double) * n * B), *Y = malloc(sizeof(double) * n * B);
  size_t *idx = malloc(sizeof(size_t) * B);
  double *t = malloc(sizeof(double) * NSTAGES * repeat);
  if (!W || !X || !Y || !idx || !t) {
    fprintf(stderr, "blorc-bench-minibatch: out of memory\n");
    return 1;
  }
  blorc_transform_fill(kind, n, scale, W, NULL);
  blorc_rng rng;
  blorc_rng_seed(&rng, seed);
  if (blorc_generate(BLORC_DATA_PIECEWISE, n, B, 0.1, &rng, X, Y, &e)) return die(&e);
  for (int j = 0; j < B; j++) idx[j] = j;

  blorc_backend *b;
  if (blorc_backend_create(dev, n, k, B, &b, &e)) return die(&e);
  if (blorc_write(b, BLORC_BUF_W, W, (size_t)k * n, &e)) return die(&e);
  blorc_admm_opts ao = blorc_admm_defaults();
  ao.max_iters = iters;
  ao.fixed = tol <= 0;
  ao.tol = tol > 0 ? tol : 0;
  double loss = 0;
  long long total_iters = 0;
  for (int r = -1; r < repeat; r++) { /* r = -1: warm-up */
    if (blorc_set_data(b, B, X, Y, &e) || blorc_select(b, idx, B, &e)) return die(&e);
    double ts[NSTAGES + 1];
    blorc_admm_stats st;
    ts[0] = now_ms();
    if (blorc_factor(b, rho, &e)) return die(&e);
    ts[1] = now_ms();
    if (blorc_admm(b, &ao, &st, &e)) return die(&e);
    ts[2] = now_ms();
    if (blorc_signs(b, gamma, &e)) return die(&e);
    ts[3] = now_ms();
    if (blorc_svd(b, 1e-10, &e)) return die(&e);
    ts[4] = now_ms();
    if (blorc_closed_form(b, &e)) return die(&e);
    ts[5] = now_ms();
    if (blorc_gradient(b, &loss, &e)) return die(&e);
    ts[6] = now_ms();
    if (r < 0) continue;
    total_iters = st.iters_total;
    for (int s = 0; s < S_TOTAL; s++) t[s * repeat + r] = ts[s + 1] - ts[s];
    t[S_TOTAL * repeat + r] = ts[6] - ts[0];
  }
  if (csv)
    printf("device,n,k,batch,iters,stage,ms_median,ms_min,ms_max,samples_per_s\n");
  else
    printf(
        "blorc-bench-minibatch: device %s (%s), n=%d k=%d batch=%d, %s %d ADMM iterations, "
        "%d repeats\n%-12s %10s %10s %10s\n",
        blorc_backend_name(b), blorc_build_info(), n, k, B, ao.fixed ? "fixed" : "at most", iters,
        repeat, "stage", "median ms", "min ms", "max ms");
  for (int s = 0; s < NSTAGES; s++) {
    double *v = t + s * repeat;
    qsort(v, repeat, sizeof(double), cmp);
    double med = repeat % 2 ? v[repeat / 2] : 0.5 * (v[repeat / 2 - 1] + v[repeat / 2]);
    if (csv)
      printf("%s,%d,%d,%d,%d,%s,%.4f,%.4f,%.4f,%.1f\n", blorc_backend_name(b), n, k, B, iters,
             STAGE[s], med, v[0], v[repeat - 1], s == S_TOTAL ? B / (med * 1e-3) : 0.0);
    else
      printf("%-12s %10.3f %10.3f %10.3f\n", STAGE[s], med, v[0], v[repeat - 1]);
  }
  if (!csv)
    printf("samples/s %.1f, mean ADMM iterations %.1f, loss %.6g\n",
           B / (t[S_TOTAL * repeat + repeat / 2] * 1e-3), (double)total_iters / B, loss);
  blorc_backend_destroy(b);
  free(W), free(X), free(Y), free(idx), free(t);
  return 0;
}
