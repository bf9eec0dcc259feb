/* blorc-gpu bench: times whole minibatches stage by stage on synthetic piecewise-constant
 * data (the paper's first experiment): one warm-up minibatch, then --repeat timed ones, with
 * the median, min and max milliseconds of each stage. --device all runs the CPU and the CUDA
 * backend on the same data in one process and prints the CPU/GPU ratio per stage. Every stage
 * is followed by blorc_backend_sync, so its time includes its device work. The update stage
 * is blorc_step (a gradient step on the backend's W, no copy to the host). Repeats continue
 * from the previous one (W updated, ADMM warm-started), as consecutive minibatches do. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu bench [--device cpu|cuda|all] [--n 64] [--k K] [--batch 100]\n"
    "                       [--iters 2000] [--fixed] [--tol 1e-7] [--repeat 5] [--rho 10]\n"
    "                       [--init tv|identity|dct] [--init-scale 0.2] [--gamma 1e-3]\n"
    "                       [--variant auto|gemm|persistent] [--lr 1e-4] [--seed 0] [--csv]\n"
    "                       [--svd auto|full|fast|jacobi|cusolver] [--transform W.npy --clean "
    "X.npy --noisy "
    "Y.npy]\n"
    "                       [--operator SPEC [--masks M.npy] [--ridge R] [--operator-seed S]]\n"
    "Times minibatches stage by stage (factor, admm, signs, svd, closed_form, gradient,\n"
    "update, total): median, min and max ms over --repeat runs after one warm-up.\n"
    "--fixed runs exactly --iters ADMM iterations per sample (like-for-like timing); without\n"
    "it samples stop at --tol, warm-started from the previous repeat. --k repeats or cuts the\n"
    "initial transform's rows to k. --csv prints one row per (device, stage). With --transform,\n"
    "--clean and --noisy the minibatch is the files' first --batch pairs and W is the file's\n"
    "(for side-by-side runs with other tools on identical data). --svd picks the CPU's stage 4:\n"
    "auto (cheaper by a flop estimate), full (one SVD per sample) or fast (through W^+ where\n"
    "W allows; see blorc_set_svd_method), and the GPU's the same way (auto by its own flop\n"
    "estimate, fast through geqrf/orgqr and geqrfBatched, full = jacobi); jacobi (its kernel) or\n"
    "cusolver (gesvdjBatched up to k, n = 32, beyond that syevBatched on the Gram matrices with\n"
    "the samples it cannot certify redone by the kernel, counted); the CPU runs auto for those.\n"
    "--operator inpaint:F|cs:M|blur:S|blur2d:S|A.npy times the inverse problem (generated\n"
    "data: masks and measurements drawn from --seed; with files, --noisy holds y and --masks\n"
    "the masks). --ridge and --operator-seed as in blorc-gpu reconstruct.\n";

enum { S_FACTOR, S_ADMM, S_SIGNS, S_SVD, S_CLOSED, S_GRAD, S_UPDATE, S_TOTAL, NSTAGES };
static const char *STAGE[NSTAGES] = {"factor",      "admm",     "signs",  "svd",
                                     "closed_form", "gradient", "update", "total"};

typedef struct {
  int n, k, B, repeat;
  double rho, gamma, lr;
  blorc_admm_opts admm;
  blorc_svd_method svd;
  const double *W0, *X, *Y;
  const blorc_operator *op; /* forward operator (identity: denoising) */
  const double *masks;      /* inpainting: B x n */
} setup;

typedef struct {
  double med[NSTAGES], min[NSTAGES], max[NSTAGES], loss, mean_iters;
  char name[16];
  blorc_svd_method svd_used;
  long long svd_fallbacks; /* the Gram path's Jacobi samples, -1 when it did not run */
  int admm_variant;        /* CUDA: which ADMM implementation ran (0 on the CPU) */
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

/* One stage of one minibatch. */
static blorc_status stage(int q, blorc_backend *b, const setup *s, blorc_admm_stats *as,
                          double *loss, blorc_error *e) {
  switch (q) {
    case S_FACTOR: return blorc_factor(b, s->rho, e);
    case S_ADMM: return blorc_admm(b, &s->admm, as, e);
    case S_SIGNS: return blorc_signs(b, s->gamma, e);
    case S_SVD: return blorc_svd(b, 1e-10, e);
    case S_CLOSED: return blorc_closed_form(b, e);
    case S_GRAD: return blorc_gradient(b, loss, e);
    default: {
      blorc_step_opts so = {0, s->lr, 0.9, 0.999, 1e-8, 1}; /* gradient descent, on the backend */
      return blorc_step(b, &so, e);
    }
  }
}

static blorc_status time_device(blorc_device dev, const setup *s, timing *out, blorc_error *e) {
  blorc_backend *b;
  blorc_status st = blorc_backend_create(dev, s->n, s->k, s->B, &b, e);
  if (st) return st;
  /* The device's short name ("cuda"): the header's build line says when it is emulated. */
  const char *bn = blorc_backend_name(b);
  snprintf(out->name, sizeof out->name, "%.*s", (int)strcspn(bn, " "), bn);
  size_t kn = (size_t)s->k * s->n;
  size_t *idx = malloc(sizeof(size_t) * s->B);
  double *t = malloc(sizeof(double) * NSTAGES * s->repeat);
  double *W = malloc(sizeof(double) * kn);
  if (!idx || !t || !W) st = blorc_fail(e, BLORC_ENOMEM, "out of memory");
  for (int j = 0; !st && j < s->B; j++) idx[j] = j;
  if (!st) memcpy(W, s->W0, kn * sizeof(double));
  /* The GPU's variants (jacobi, cusolver) name the CUDA backend's stage 4; the CPU then runs
   * its auto choice beside it. */
  if (!st)
    st = blorc_set_svd_method(
        b, dev == BLORC_DEVICE_CPU && s->svd >= BLORC_SVD_GPU_JACOBI ? BLORC_SVD_AUTO : s->svd, e);
  if (!st) st = blorc_write(b, BLORC_BUF_W, W, kn, e);
  if (!st) st = blorc_operator_load(b, s->op, s->B, s->X, s->Y, s->masks, e);
  blorc_admm_stats as = {0};
  for (int r = -1; !st && r < s->repeat; r++) { /* r = -1: warm-up */
    st = blorc_select(b, idx, s->B, e);
    if (!st) st = blorc_backend_sync(b, e);
    double t0 = now_ms(), prev = t0;
    for (int q = 0; !st && q < S_TOTAL; q++) {
      st = stage(q, b, s, &as, &out->loss, e);
      if (!st) st = blorc_backend_sync(b, e);
      double now = now_ms();
      if (r >= 0) t[q * s->repeat + r] = now - prev;
      prev = now;
    }
    if (r >= 0) t[S_TOTAL * s->repeat + r] = prev - t0;
  }
  for (int q = 0; !st && q < NSTAGES; q++) {
    double *v = t + q * s->repeat;
    int R = s->repeat;
    qsort(v, R, sizeof(double), cmp);
    out->med[q] = R % 2 ? v[R / 2] : 0.5 * (v[R / 2 - 1] + v[R / 2]);
    out->min[q] = v[0], out->max[q] = v[R - 1];
  }
  out->mean_iters = (double)as.iters_total / s->B;
  out->svd_used = blorc_svd_method_used(b);
  out->svd_fallbacks = out->svd_used == BLORC_SVD_GPU_CUSOLVER && (s->n > 32 || s->k > 32)
                           ? blorc_svd_fallbacks(b)
                           : -1;
  out->admm_variant = as.variant;
  blorc_backend_destroy(b);
  free(idx), free(t), free(W);
  return st;
}

/* How many samples the Gram path left to the Jacobi kernel (over warm-up and repeats). */
static const char *fallbacks_note(const timing *t, char *buf, size_t len) {
  if (t->svd_fallbacks <= 0) return "";
  snprintf(buf, len, " (%lld samples redone by the Jacobi kernel)", t->svd_fallbacks);
  return buf;
}

int cmd_bench(int argc, char **argv) {
  const char *C = "bench", *init = "tv", *device = "cpu", *variant = "auto", *svd = "auto";
  const char *wpath = NULL, *cpath = NULL, *npath = NULL;
  setup s = {64,   0,    100,  5,    10,  1e-3, 1e-4, blorc_admm_defaults(), BLORC_SVD_AUTO,
             NULL, NULL, NULL, NULL, NULL};
  cli_operator copt = CLI_OPERATOR_INIT;
  blorc_operator op = {0};
  blorc_array fm = {0};
  double *Ym = NULL, *Mk = NULL;
  s.admm.tol = 1e-7;
  long long v;
  double scale = 0.2;
  int csv = 0;
  unsigned long long seed = 0;
  static const struct option opts[] = {{"device", 1, 0, 'd'},
                                       {"n", 1, 0, 'n'},
                                       {"k", 1, 0, 'K'},
                                       {"batch", 1, 0, 'b'},
                                       {"iters", 1, 0, 'i'},
                                       {"fixed", 0, 0, 'F'},
                                       {"tol", 1, 0, 't'},
                                       {"repeat", 1, 0, 'r'},
                                       {"rho", 1, 0, 'p'},
                                       {"init", 1, 0, 'w'},
                                       {"init-scale", 1, 0, 'c'},
                                       {"gamma", 1, 0, 'g'},
                                       {"variant", 1, 0, 'V'},
                                       {"lr", 1, 0, 'l'},
                                       {"seed", 1, 0, 's'},
                                       {"csv", 0, 0, 'v'},
                                       {"transform", 1, 0, 'T'},
                                       {"clean", 1, 0, 'x'},
                                       {"noisy", 1, 0, 'y'},
                                       {"svd", 1, 0, 'S'},
                                       {"help", 0, 0, 'h'},
                                       CLI_OPERATOR_OPTIONS,
                                       {0, 0, 0, 0}};
  int o;
  while ((o = cli_getopt(C, argc, argv, opts)) != -1) {
    switch (o) {
      case 'd': device = optarg; break;
      case 'n':
        if (cli_int(C, "n", optarg, 2, &v)) return 2;
        s.n = (int)v;
        break;
      case 'K':
        if (cli_int(C, "k", optarg, 1, &v)) return 2;
        s.k = (int)v;
        break;
      case 'b':
        if (cli_int(C, "batch", optarg, 1, &v)) return 2;
        s.B = (int)v;
        break;
      case 'i':
        if (cli_int(C, "iters", optarg, 0, &v)) return 2;
        s.admm.max_iters = (int)v;
        break;
      case 'F': s.admm.fixed = 1; break;
      case 't':
        if (cli_double(C, "tol", optarg, 0, &s.admm.tol)) return 2;
        break;
      case 'r':
        if (cli_int(C, "repeat", optarg, 1, &v)) return 2;
        s.repeat = (int)v;
        break;
      case 'p':
        if (cli_double(C, "rho", optarg, 0, &s.rho)) return 2;
        break;
      case 'w': init = optarg; break;
      case 'c':
        if (cli_double(C, "init-scale", optarg, 0, &scale)) return 2;
        break;
      case 'g':
        if (cli_double(C, "gamma", optarg, -1e-300, &s.gamma)) return 2;
        break;
      case 'V': variant = optarg; break;
      case 'S': svd = optarg; break;
      case 'l':
        if (cli_double(C, "lr", optarg, -1e-300, &s.lr)) return 2;
        break;
      case 's':
        if (cli_int(C, "seed", optarg, 0, &v)) return 2;
        seed = (unsigned long long)v;
        break;
      case 'v': csv = 1; break;
      case 'T': wpath = optarg; break;
      case 'x': cpath = optarg; break;
      case 'y': npath = optarg; break;
      case 'h': fputs(HELP, stdout); return 0;
      default:
        if (cli_operator_flag(C, o, optarg, &copt) == 1) break;
        return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if (!strcmp(variant, "gemm"))
    s.admm.variant = BLORC_ADMM_GEMM;
  else if (!strcmp(variant, "persistent"))
    s.admm.variant = BLORC_ADMM_PERSISTENT;
  else if (strcmp(variant, "auto"))
    return cli_usage_error(C, "--variant '%s': expected auto, gemm or persistent", variant);
  if (blorc_svd_method_from_name(svd, &s.svd) != 0)
    return cli_usage_error(C, "--svd '%s': expected auto, full, fast, jacobi or cusolver", svd);
  int want_cpu = !strcmp(device, "cpu") || !strcmp(device, "all");
  int want_gpu = !strcmp(device, "cuda") || !strcmp(device, "all");
  if (!want_cpu && !want_gpu)
    return cli_usage_error(C, "--device '%s': expected cpu, cuda or all", device);
  if ((wpath || cpath || npath) && !(wpath && cpath && npath))
    return cli_usage_error(C, "--transform, --clean and --noisy go together");
  blorc_error e = {0};
  blorc_array fw = {0}, fx = {0}, fy = {0};
  double *T = NULL, *W = NULL, *X = NULL, *Y = NULL;
  int rc = 0, k;
  if (wpath) { /* the files' data, W as given */
    blorc_status st = cli_load_matrix("--transform", wpath, 0, &fw, &e);
    int m = 0;
    if (!st) st = cli_operator_rows(&copt, (int)fw.cols, &m, &e);
    if (!st) st = cli_load_pairs("--clean", cpath, "--noisy", npath, (int)fw.cols, m, &fx, &fy, &e);
    if (!st && fx.rows < (size_t)s.B)
      st = blorc_fail(&e, BLORC_EINVAL, "--clean %s: %zu signals, fewer than --batch %d", cpath,
                      fx.rows, s.B);
    if (st) {
      rc = cli_fail(C, &e);
      goto done;
    }
    s.n = (int)fw.cols, k = (int)fw.rows;
    W = fw.data, X = fx.data, Y = fy.data;
    st = cli_operator_open(&copt, s.n, fx.rows, &op, &fm, &e);
    if (st) {
      rc = cli_fail(C, &e);
      goto done;
    }
    Mk = fm.data;
  } else {
    blorc_transform_kind kind;
    int kt;
    if (blorc_transform_parse(init, &kind, &e) || blorc_transform_rows(kind, s.n, &kt, &e))
      return cli_fail(C, &e);
    k = s.k > 0 ? s.k : kt;
    T = malloc(sizeof(double) * kt * s.n), W = malloc(sizeof(double) * k * s.n);
    X = malloc(sizeof(double) * s.n * s.B), Y = malloc(sizeof(double) * s.n * s.B);
    if (!T || !W || !X || !Y) {
      blorc_fail(&e, BLORC_ENOMEM, "out of memory for batch %d", s.B);
      rc = cli_fail(C, &e);
      goto done;
    }
    blorc_transform_fill(kind, s.n, scale, T, NULL);
    for (int r = 0; r < k; r++)
      memcpy(W + (size_t)r * s.n, T + (size_t)(r % kt) * s.n, sizeof(double) * s.n);
    blorc_rng rng;
    blorc_rng_seed(&rng, seed);
    blorc_generate(BLORC_DATA_PIECEWISE, s.n, s.B, 0.1, &rng, X, Y, NULL);
    if (blorc_operator_parse(copt.spec, s.n, (uint64_t)copt.seed, copt.ridge, "--operator", &op,
                             &e)) {
      rc = cli_fail(C, &e);
      goto done;
    }
    if (op.kind != BLORC_OP_IDENTITY) {
      Ym = malloc(sizeof(double) * op.m * s.B);
      Mk = op.kind == BLORC_OP_MASK ? malloc(sizeof(double) * s.n * s.B) : NULL;
      if (!Ym || (op.kind == BLORC_OP_MASK && !Mk)) {
        blorc_fail(&e, BLORC_ENOMEM, "out of memory for batch %d", s.B);
        rc = cli_fail(C, &e);
        goto done;
      }
      blorc_operator_simulate(&op, s.B, X, 0.1, seed, seed, Ym, Mk);
    }
  }
  s.op = &op, s.masks = Mk;
  s.k = k, s.W0 = W, s.X = X, s.Y = Ym ? Ym : Y;
  timing tm[2];
  int nt = 0;
  if (want_cpu && time_device(BLORC_DEVICE_CPU, &s, &tm[nt++], &e)) {
    rc = cli_fail(C, &e);
    goto done;
  }
  if (want_gpu && time_device(BLORC_DEVICE_CUDA, &s, &tm[nt++], &e)) {
    rc = cli_fail(C, &e);
    goto done;
  }
  if (csv) {
    printf("device,n,k,batch,iters,stage,ms_median,ms_min,ms_max,samples_per_s\n");
    for (int d = 0; d < nt; d++)
      for (int q = 0; q < NSTAGES; q++)
        printf("%s,%d,%d,%d,%d,%s,%.4f,%.4f,%.4f,%.1f\n", tm[d].name, s.n, k, s.B, s.admm.max_iters,
               STAGE[q], tm[d].med[q], tm[d].min[q], tm[d].max[q],
               s.B / (tm[d].med[S_TOTAL] * 1e-3));
  } else {
    blorc_blas_info bi;
    blorc_blas_query(&bi);
    printf(
        "blorc-gpu bench (%s)\nBLAS: %s\noperator: %s, m=%d\nn=%d k=%d batch=%d, %s %d ADMM "
        "iterations%s, %d repeats; median ms\n",
        blorc_build_info(), bi.summary, op.desc, op.m, s.n, k, s.B,
        s.admm.fixed ? "exactly" : "at most", s.admm.max_iters,
        s.admm.fixed ? "" : " (tolerance, warm starts)", s.repeat);
    printf("%-12s", "stage");
    for (int d = 0; d < nt; d++) printf(" %10s", tm[d].name);
    if (nt == 2) printf(" %10s", "cpu/cuda");
    printf("\n");
    for (int q = 0; q < NSTAGES; q++) {
      printf("%-12s", STAGE[q]);
      for (int d = 0; d < nt; d++) printf(" %10.3f", tm[d].med[q]);
      if (nt == 2) printf(" %9.1fx", tm[0].med[q] / tm[1].med[q]);
      printf("\n");
    }
    char note[96];
    for (int d = 0; d < nt; d++)
      printf("%s: %.0f samples/s, mean ADMM iterations %.1f%s, loss %.12g, stage 4 %s%s\n",
             tm[d].name, s.B / (tm[d].med[S_TOTAL] * 1e-3), tm[d].mean_iters,
             tm[d].admm_variant == BLORC_ADMM_PERSISTENT ? " (persistent kernel)"
             : tm[d].admm_variant == BLORC_ADMM_GEMM     ? " (gemm variant)"
                                                         : "",
             tm[d].loss,
             tm[d].svd_used == BLORC_SVD_FAST         ? "fast path (W^+ and a QR per sample)"
             : tm[d].svd_used == BLORC_SVD_GPU_JACOBI ? "Jacobi kernel (a block per sample)"
             : tm[d].svd_used == BLORC_SVD_GPU_CUSOLVER
                 ? (tm[d].svd_fallbacks < 0 ? "cuSOLVER gesvdjBatched"
                                            : "cuSOLVER syevBatched of the Gram matrices")
                 : "one SVD per sample",
             fallbacks_note(&tm[d], note, sizeof note));
  }
done:
  if (wpath) {
    blorc_array_free(&fw), blorc_array_free(&fx), blorc_array_free(&fy), blorc_array_free(&fm);
  } else {
    free(T), free(W), free(X), free(Y), free(Ym), free(Mk);
  }
  blorc_operator_free(&op);
  return rc;
}
