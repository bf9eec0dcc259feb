/* blorc-bench-minibatch: times whole minibatches, stage by stage, on synthetic
 * piecewise-constant data (the paper's first experiment): one warm-up minibatch, then
 * --repeat timed ones; prints the median, min and max milliseconds of each stage. With
 * --device all it runs the CPU and the CUDA backend on the same data in the same process
 * and prints the CPU/GPU ratio per stage.
 *
 *   blorc-bench-minibatch [--device cpu|cuda|all] [--n 64] [--k K] [--batch 100]
 *                         [--iters 2000] [--tol 0] [--repeat 5] [--rho 10]
 *                         [--init tv|identity|dct] [--init-scale 0.2] [--gamma 1e-3]
 *                         [--variant auto|gemm|persistent] [--seed 0] [--csv]
 *
 * --tol 0 (the default) runs every sample for exactly --iters ADMM iterations, so timings
 * compare like for like; --tol > 0 stops samples as they converge (cold starts each repeat).
 * Each stage is followed by blorc_backend_sync, so a stage's time includes its device work.
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

typedef struct {
  int n, k, B, iters, repeat, variant;
  double tol, rho, gamma;
  const double *W, *X, *Y;
} setup;

typedef struct {
  double med[NSTAGES], min[NSTAGES], max[NSTAGES], loss, mean_iters;
  char name[16];
} timing;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef blorc_status (*stage_fn)(blorc_backend *, const setup *, blorc_admm_stats *, double *,
                                 blorc_error *);
static blorc_status st_factor(blorc_backend *b, const setup *s, blorc_admm_stats *a, double *l,
                              blorc_error *e) {
  (void)a, (void)l;
  return blorc_factor(b, s->rho, e);
}
static blorc_status st_admm(blorc_backend *b, const setup *s, blorc_admm_stats *a, double *l,
                            blorc_error *e) {
  (void)l;
  blorc_admm_opts o = blorc_admm_defaults();
  o.max_iters = s->iters, o.fixed = s->tol <= 0, o.tol = s->tol > 0 ? s->tol : 0,
  o.variant = s->variant;
  return blorc_admm(b, &o, a, e);
}
static blorc_status st_signs(blorc_backend *b, const setup *s, blorc_admm_stats *a, double *l,
                             blorc_error *e) {
  (void)a, (void)l;
  return blorc_signs(b, s->gamma, e);
}
static blorc_status st_svd(blorc_backend *b, const setup *s, blorc_admm_stats *a, double *l,
                           blorc_error *e) {
  (void)s, (void)a, (void)l;
  return blorc_svd(b, 1e-10, e);
}
static blorc_status st_closed(blorc_backend *b, const setup *s, blorc_admm_stats *a, double *l,
                              blorc_error *e) {
  (void)s, (void)a, (void)l;
  return blorc_closed_form(b, e);
}
static blorc_status st_grad(blorc_backend *b, const setup *s, blorc_admm_stats *a, double *l,
                            blorc_error *e) {
  (void)s, (void)a;
  return blorc_gradient(b, l, e);
}
static const stage_fn STAGES[S_TOTAL] = {st_factor, st_admm, st_signs, st_svd, st_closed, st_grad};

static blorc_status time_device(blorc_device dev, const setup *s, timing *out, blorc_error *e) {
  blorc_backend *b;
  blorc_status st = blorc_backend_create(dev, s->n, s->k, s->B, &b, e);
  if (st) return st;
  snprintf(out->name, sizeof out->name, "%s", blorc_backend_name(b));
  size_t *idx = malloc(sizeof(size_t) * s->B);
  double *t = malloc(sizeof(double) * NSTAGES * s->repeat);
  if (!idx || !t) st = blorc_fail(e, BLORC_ENOMEM, "out of memory");
  for (int j = 0; !st && j < s->B; j++) idx[j] = j;
  if (!st) st = blorc_write(b, BLORC_BUF_W, s->W, (size_t)s->k * s->n, e);
  blorc_admm_stats as = {0};
  for (int r = -1; !st && r < s->repeat; r++) { /* r = -1: warm-up */
    st = blorc_set_data(b, s->B, s->X, s->Y, e);
    if (!st) st = blorc_select(b, idx, s->B, e);
    if (!st) st = blorc_backend_sync(b, e);
    double t0 = now_ms(), prev = t0;
    for (int k = 0; !st && k < S_TOTAL; k++) {
      st = STAGES[k](b, s, &as, &out->loss, e);
      if (!st) st = blorc_backend_sync(b, e);
      double now = now_ms();
      if (r >= 0) t[k * s->repeat + r] = now - prev;
      prev = now;
    }
    if (r >= 0) t[S_TOTAL * s->repeat + r] = prev - t0;
  }
  for (int k = 0; !st && k < NSTAGES; k++) {
    double *v = t + k * s->repeat;
    qsort(v, s->repeat, sizeof(double), cmp);
    int R = s->repeat;
    out->med[k] = R % 2 ? v[R / 2] : 0.5 * (v[R / 2 - 1] + v[R / 2]);
    out->min[k] = v[0], out->max[k] = v[R - 1];
  }
  out->mean_iters = (double)as.iters_total / s->B;
  blorc_backend_destroy(b);
  free(idx), free(t);
  return st;
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: blorc-bench-minibatch [--device cpu|cuda|all] [--n N] [--k K] [--batch B]\n"
      "       [--iters I] [--tol T] [--repeat R] [--rho RHO] [--init tv|identity|dct]\n"
      "       [--init-scale C] [--gamma G] [--variant auto|gemm|persistent] [--seed S] [--csv]\n");
}

int main(int argc, char **argv) {
  setup s = {64, 0, 100, 2000, 5, BLORC_ADMM_AUTO, 0, 10, 1e-3, NULL, NULL, NULL};
  int csv = 0;
  double scale = 0.2;
  unsigned long long seed = 0;
  const char *init = "tv", *device = "cpu", *variant = "auto";
  static const struct option opts[] = {{"device", 1, 0, 'd'}, {"n", 1, 0, 'n'},
                                       {"k", 1, 0, 'K'},      {"batch", 1, 0, 'b'},
                                       {"iters", 1, 0, 'i'},  {"tol", 1, 0, 't'},
                                       {"repeat", 1, 0, 'r'}, {"rho", 1, 0, 'p'},
                                       {"init", 1, 0, 'w'},   {"init-scale", 1, 0, 'c'},
                                       {"gamma", 1, 0, 'g'},  {"variant", 1, 0, 'V'},
                                       {"seed", 1, 0, 's'},   {"csv", 0, 0, 'v'},
                                       {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
      case 'd': device = optarg; break;
      case 'n': s.n = atoi(optarg); break;
      case 'K': s.k = atoi(optarg); break;
      case 'b': s.B = atoi(optarg); break;
      case 'i': s.iters = atoi(optarg); break;
      case 't': s.tol = atof(optarg); break;
      case 'r': s.repeat = atoi(optarg); break;
      case 'p': s.rho = atof(optarg); break;
      case 'w': init = optarg; break;
      case 'c': scale = atof(optarg); break;
      case 'g': s.gamma = atof(optarg); break;
      case 'V': variant = optarg; break;
      case 's': seed = strtoull(optarg, NULL, 10); break;
      case 'v': csv = 1; break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (s.n < 2 || s.B < 1 || s.iters < 0 || s.repeat < 1) {
    fprintf(stderr,
            "blorc-bench-minibatch: need --n >= 2, --batch >= 1, --iters >= 0, --repeat >= 1\n");
    return 2;
  }
  s.variant = !strcmp(variant, "gemm")         ? BLORC_ADMM_GEMM
              : !strcmp(variant, "persistent") ? BLORC_ADMM_PERSISTENT
                                               : BLORC_ADMM_AUTO;
  int want_cpu = !strcmp(device, "cpu") || !strcmp(device, "all");
  int want_gpu = !strcmp(device, "cuda") || !strcmp(device, "all");
  if (!want_cpu && !want_gpu) {
    fprintf(stderr, "blorc-bench-minibatch: --device '%s', expected cpu, cuda or all\n", device);
    return 2;
  }
  blorc_error e = {0};
  blorc_transform_kind kind;
  int kt;
  if (blorc_transform_parse(init, &kind, &e) || blorc_transform_rows(kind, s.n, &kt, &e)) {
    fprintf(stderr, "blorc-bench-minibatch: %s\n", e.msg);
    return 2;
  }
  /* --k: the transform's rows repeated or cut to k rows (for k != n sweeps). */
  int k = s.k > 0 ? s.k : kt;
  double *T = malloc(sizeof(double) * kt * s.n), *W = malloc(sizeof(double) * k * s.n);
  double *X = malloc(sizeof(double) * s.n * s.B), *Y = malloc(sizeof(double) * s.n * s.B);
  if (!T || !W || !X || !Y) return fprintf(stderr, "blorc-bench-minibatch: out of memory\n"), 1;
  blorc_transform_fill(kind, s.n, scale, T, NULL);
  for (int r = 0; r < k; r++)
    memcpy(W + (size_t)r * s.n, T + (size_t)(r % kt) * s.n, sizeof(double) * s.n);
  blorc_rng rng;
  blorc_rng_seed(&rng, seed);
  blorc_generate(BLORC_DATA_PIECEWISE, s.n, s.B, 0.1, &rng, X, Y, NULL);
  s.k = k, s.W = W, s.X = X, s.Y = Y;
  timing tm[2];
  int nt = 0;
  if (want_cpu && time_device(BLORC_DEVICE_CPU, &s, &tm[nt++], &e)) {
    fprintf(stderr, "blorc-bench-minibatch: cpu: %s\n", e.msg);
    return 1;
  }
  if (want_gpu && time_device(BLORC_DEVICE_CUDA, &s, &tm[nt++], &e)) {
    fprintf(stderr, "blorc-bench-minibatch: cuda: %s\n", e.msg);
    return 1;
  }
  if (csv) {
    printf("device,n,k,batch,iters,stage,ms_median,ms_min,ms_max,samples_per_s\n");
    for (int d = 0; d < nt; d++)
      for (int q = 0; q < NSTAGES; q++)
        printf("%s,%d,%d,%d,%d,%s,%.4f,%.4f,%.4f,%.1f\n", tm[d].name, s.n, k, s.B, s.iters,
               STAGE[q], tm[d].med[q], tm[d].min[q], tm[d].max[q],
               s.B / (tm[d].med[S_TOTAL] * 1e-3));
  } else {
    printf(
        "blorc-bench-minibatch (%s): n=%d k=%d batch=%d, %s %d ADMM iterations, %d repeats, median "
        "ms\n",
        blorc_build_info(), s.n, k, s.B, s.tol <= 0 ? "fixed" : "at most", s.iters, s.repeat);
    printf("%-12s", "stage");
    for (int d = 0; d < nt; d++) printf(" %12s", tm[d].name);
    if (nt == 2) printf(" %12s", "cpu/cuda");
    printf("\n");
    for (int q = 0; q < NSTAGES; q++) {
      printf("%-12s", STAGE[q]);
      for (int d = 0; d < nt; d++) printf(" %12.3f", tm[d].med[q]);
      if (nt == 2) printf(" %11.1fx", tm[0].med[q] / tm[1].med[q]);
      printf("\n");
    }
    for (int d = 0; d < nt; d++)
      printf("%s: %.0f samples/s, mean ADMM iterations %.1f, loss %.6g\n", tm[d].name,
             s.B / (tm[d].med[S_TOTAL] * 1e-3), tm[d].mean_iters, tm[d].loss);
  }
  free(T), free(W), free(X), free(Y);
  return 0;
}
