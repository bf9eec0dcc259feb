/* Dispatcher: validates arguments and stage order once for every backend, then calls the
 * backend's function table. */
#include "blorc/backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"
#include "blorc/active_set.h"
#include "blorc/blas.h"

blorc_admm_opts blorc_admm_defaults(void) {
  blorc_admm_opts o;
  o.max_iters = 2000;
  o.tol = 1e-9;
  o.fixed = 0;
  o.check_every = 1;
  o.variant = BLORC_ADMM_AUTO;
  return o;
}

static const char *stage_name(blorc_progress p) {
  switch (p) {
    case BLORC_PROGRESS_NONE: return "select";
    case BLORC_PROGRESS_SELECTED: return "admm";
    case BLORC_PROGRESS_ADMM: return "signs";
    case BLORC_PROGRESS_SIGNS: return "svd";
    case BLORC_PROGRESS_SVD: return "closed_form";
    default: return "gradient";
  }
}

/* A stage may run when the batch has reached the stage before it. */
static blorc_status need(const blorc_backend *b, blorc_progress before, const char *stage,
                         blorc_error *err) {
  if (b->progress < before)
    return blorc_fail(err, BLORC_EINVAL, "stage %s: run stage %s first", stage,
                      stage_name(b->progress));
  return BLORC_OK;
}

static int all_finite(const double *v, size_t count, size_t *bad) {
  for (size_t i = 0; i < count; i++)
    if (!isfinite(v[i])) {
      *bad = i;
      return 0;
    }
  return 1;
}

int blorc_cuda_available(void);

blorc_status blorc_backend_create(blorc_device device, int n, int k, int max_batch,
                                  blorc_backend **out, blorc_error *err) {
  *out = NULL;
  if (n < 1 || k < 1 || max_batch < 1)
    return blorc_fail(err, BLORC_EINVAL, "backend sizes n=%d k=%d max_batch=%d: expected all >= 1",
                      n, k, max_batch);
  /* Before the first BLAS call of ours: never compute with a fallback kernel family. */
  blorc_blas_select_kernels();
  const blorc_backend_ops *ops = NULL;
  if (device == BLORC_DEVICE_CPU) {
    ops = &blorc_cpu_ops;
  } else {
#ifdef BLORC_WITH_CUDA
    if (!blorc_cuda_available())
      return blorc_fail(err, BLORC_EDEVICE, "device cuda: no CUDA device is visible");
    ops = &blorc_cuda_ops;
#else
    return blorc_fail(err, BLORC_EDEVICE,
                      "device cuda: this build has no CUDA backend (configure with "
                      "-DBLORC_CUDA=ON)");
#endif
  }
  blorc_backend *b = calloc(1, sizeof *b);
  if (!b) return blorc_fail(err, BLORC_ENOMEM, "out of host memory for the backend");
  b->ops = ops;
  b->n = n;
  b->k = k;
  b->cap = max_batch;
  b->kn = k < n ? k : n;
  b->m = n;
  blorc_status st = ops->init(b, err);
  if (st != BLORC_OK) {
    free(b);
    return st;
  }
  *out = b;
  return BLORC_OK;
}

void blorc_backend_destroy(blorc_backend *b) {
  if (!b) return;
  b->ops->destroy(b);
  free(b);
}

const char *blorc_backend_name(const blorc_backend *b) {
  return b->ops->name;
}

static const char *op_name(blorc_operator_kind kind) {
  return kind == BLORC_OP_IDENTITY ? "identity" : kind == BLORC_OP_MATRIX ? "matrix" : "mask";
}

blorc_status blorc_set_operator(blorc_backend *b, blorc_operator_kind kind, int m, const double *A,
                                double ridge, blorc_error *err) {
  if (kind != BLORC_OP_IDENTITY && kind != BLORC_OP_MATRIX && kind != BLORC_OP_MASK)
    return blorc_fail(err, BLORC_EINVAL,
                      "operator kind %d: expected IDENTITY (0), MATRIX (1) or MASK (2)", (int)kind);
  if (!(ridge >= 0) || !isfinite(ridge))
    return blorc_fail(err, BLORC_EINVAL, "operator ridge = %g: expected a finite value >= 0",
                      ridge);
  if (kind == BLORC_OP_IDENTITY && ridge != 0)
    return blorc_fail(err, BLORC_EINVAL,
                      "operator ridge = %g: the identity takes ridge 0 (denoising as it is)",
                      ridge);
  if (kind == BLORC_OP_MATRIX) {
    if (m < 1 || !A)
      return blorc_fail(err, BLORC_EINVAL, "operator matrix: %d rows%s, expected an m x %d matrix",
                        m, A ? "" : " and no values", b->n);
    size_t bad;
    if (!all_finite(A, (size_t)m * b->n, &bad))
      return blorc_fail(err, BLORC_EINVAL,
                        "operator matrix: non-finite value at row %zu column %zu", bad / b->n,
                        bad % b->n);
  } else {
    if (A) return blorc_fail(err, BLORC_EINVAL, "operator %s: takes no matrix", op_name(kind));
    m = b->n;
  }
  blorc_status st = b->ops->set_operator(b, kind, m, A, ridge, err);
  if (st != BLORC_OK) return st;
  b->op_kind = kind;
  b->m = m;
  b->ridge = ridge;
  b->N = 0; /* the data set's y had the old operator's length */
  b->shuffled = 0;
  b->has_masks = 0;
  b->has_clean = 0;
  b->B = 0;
  b->factored = 0;
  b->progress = BLORC_PROGRESS_NONE;
  return BLORC_OK;
}

int blorc_operator_rows(const blorc_backend *b) {
  return b->m;
}

blorc_status blorc_set_masks(blorc_backend *b, const double *masks, blorc_error *err) {
  if (b->op_kind != BLORC_OP_MASK)
    return blorc_fail(err, BLORC_EINVAL, "masks: the operator is %s, not mask",
                      op_name(b->op_kind));
  if (b->N == 0 || !masks)
    return blorc_fail(err, BLORC_EINVAL, "masks: set the data set first (one mask per signal)");
  size_t count = b->N * (size_t)b->n;
  for (size_t i = 0; i < count; i++)
    if (masks[i] != 0.0 && masks[i] != 1.0)
      return blorc_fail(err, BLORC_EINVAL,
                        "masks: value %g at signal %zu index %zu, expected 0 (missing) or 1 "
                        "(observed)",
                        masks[i], i / b->n, i % b->n);
  blorc_status st = b->ops->set_masks(b, masks, err);
  if (st != BLORC_OK) return st;
  b->has_masks = 1;
  b->progress = BLORC_PROGRESS_NONE;
  return BLORC_OK;
}

blorc_status blorc_set_data(blorc_backend *b, size_t N, const double *X, const double *Y,
                            blorc_error *err) {
  if (N < 1 || !Y) return blorc_fail(err, BLORC_EINVAL, "data set: expected N >= 1 noisy signals");
  size_t bad;
  if (!all_finite(Y, N * (size_t)b->m, &bad))
    return blorc_fail(err, BLORC_EINVAL, "noisy signals: non-finite value at signal %zu index %zu",
                      bad / b->m, bad % b->m);
  if (X && !all_finite(X, N * (size_t)b->n, &bad))
    return blorc_fail(err, BLORC_EINVAL, "clean signals: non-finite value at signal %zu index %zu",
                      bad / b->n, bad % b->n);
  size_t oldN = b->N;
  b->N = N;
  blorc_status st = b->ops->set_data(b, X, Y, err);
  if (st != BLORC_OK) {
    b->N = oldN;
    return st;
  }
  b->has_clean = X != NULL;
  b->shuffled = 0;
  b->has_masks = 0;
  b->upstream = 0;
  b->B = 0;
  b->progress = BLORC_PROGRESS_NONE;
  return BLORC_OK;
}

/* What both selections check: the batch size and, for the mask operator, its masks. */
static blorc_status check_batch(const blorc_backend *b, int B, blorc_error *err) {
  if (B < 1 || B > b->cap)
    return blorc_fail(err, BLORC_EINVAL, "select: batch size %d, expected 1..%d", B, b->cap);
  if (b->op_kind == BLORC_OP_MASK && !b->has_masks)
    return blorc_fail(err, BLORC_EINVAL, "select: the mask operator needs masks (set_masks)");
  return BLORC_OK;
}

/* The batch's state after a gather (st: the backend's status). */
static blorc_status selected(blorc_backend *b, blorc_status st) {
  b->progress = st == BLORC_OK ? BLORC_PROGRESS_SELECTED : BLORC_PROGRESS_NONE;
  return st;
}

blorc_status blorc_select(blorc_backend *b, const size_t *idx, int B, blorc_error *err) {
  if (b->N == 0) return blorc_fail(err, BLORC_EINVAL, "select: no data set (call set_data)");
  blorc_status st = check_batch(b, B, err);
  if (st != BLORC_OK) return st;
  for (int j = 0; j < B; j++)
    if (idx[j] >= b->N)
      return blorc_fail(err, BLORC_EINVAL, "select: index %zu at position %d, expected < %zu",
                        idx[j], j, b->N);
  b->B = B;
  b->upstream = 0; /* the gather below restores the clean signals */
  return selected(b, b->ops->select(b, idx, err));
}

blorc_status blorc_shuffle(blorc_backend *b, uint64_t seed, size_t count, blorc_error *err) {
  if (count < 1 || count > b->N)
    return blorc_fail(err, BLORC_EINVAL, "shuffle: %zu samples, expected 1..%zu (the data set)",
                      count, b->N);
  b->shuffled = 0;
  blorc_status st = b->ops->shuffle(b, seed, count, err);
  if (st == BLORC_OK) b->shuffled = count;
  return st;
}

blorc_status blorc_select_shuffled(blorc_backend *b, size_t start, int B, blorc_error *err) {
  if (b->shuffled == 0) return blorc_fail(err, BLORC_EINVAL, "select: no shuffle (call shuffle)");
  blorc_status st = check_batch(b, B, err);
  if (st != BLORC_OK) return st;
  if (start > b->shuffled || (size_t)B > b->shuffled - start)
    return blorc_fail(err, BLORC_EINVAL, "select: positions %zu..%zu of a shuffle of %zu samples",
                      start, start + (size_t)B - 1, b->shuffled);
  b->B = B;
  b->upstream = 0;
  return selected(b, b->ops->select_shuffled(b, start, err));
}

blorc_status blorc_batch_stats(blorc_backend *b, double tol, double nearby, blorc_batch_counts *out,
                               blorc_error *err) {
  blorc_status st = need(b, BLORC_PROGRESS_CLOSED_FORM, "batch_stats", err);
  if (st != BLORC_OK) return st;
  if (!(tol >= 0) || !(nearby >= 0) || !isfinite(tol) || !isfinite(nearby))
    return blorc_fail(err, BLORC_EINVAL, "batch_stats: tol = %g, nearby = %g, expected >= 0", tol,
                      nearby);
  memset(out, 0, sizeof *out);
  return b->ops->batch_stats(b, tol, nearby, out, err);
}

blorc_status blorc_factor(blorc_backend *b, double rho, blorc_error *err) {
  if (!(rho > 0) || !isfinite(rho))
    return blorc_fail(err, BLORC_EINVAL, "factor: rho = %g, expected a finite value > 0", rho);
  b->factored = 0;
  b->rho = rho;
  blorc_status st = b->ops->factor(b, err);
  if (st == BLORC_OK) b->factored = 1;
  /* Later stages of the batch used the old factorisation: ADMM must run again. */
  if (b->progress > BLORC_PROGRESS_SELECTED) b->progress = BLORC_PROGRESS_SELECTED;
  return st;
}

blorc_status blorc_admm(blorc_backend *b, const blorc_admm_opts *opts, blorc_admm_stats *stats,
                        blorc_error *err) {
  blorc_status st = need(b, BLORC_PROGRESS_SELECTED, "admm", err);
  if (st != BLORC_OK) return st;
  if (!b->factored) return blorc_fail(err, BLORC_EINVAL, "stage admm: run stage factor first");
  if (opts->max_iters < 0 || opts->check_every < 1 || !(opts->tol >= 0) ||
      opts->variant < BLORC_ADMM_AUTO || opts->variant > BLORC_ADMM_PERSISTENT)
    return blorc_fail(err, BLORC_EINVAL,
                      "admm options: max_iters=%d (>= 0), check_every=%d (>= 1), tol=%g (>= 0), "
                      "variant=%d (0..2)",
                      opts->max_iters, opts->check_every, opts->tol, opts->variant);
  blorc_admm_stats local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  st = b->ops->admm(b, opts, stats, err);
  b->progress = st == BLORC_OK ? BLORC_PROGRESS_ADMM : BLORC_PROGRESS_SELECTED;
  return st;
}

blorc_status blorc_signs(blorc_backend *b, double gamma, blorc_error *err) {
  blorc_status st = need(b, BLORC_PROGRESS_ADMM, "signs", err);
  if (st != BLORC_OK) return st;
  if (!(gamma >= 0) || !isfinite(gamma))
    return blorc_fail(err, BLORC_EINVAL, "signs: gamma = %g, expected a finite value >= 0", gamma);
  st = b->ops->signs(b, gamma, err);
  b->progress = st == BLORC_OK ? BLORC_PROGRESS_SIGNS : BLORC_PROGRESS_ADMM;
  return st;
}

blorc_status blorc_svd(blorc_backend *b, double rel_tol, blorc_error *err) {
  blorc_status st = need(b, BLORC_PROGRESS_SIGNS, "svd", err);
  if (st != BLORC_OK) return st;
  if (!(rel_tol > 0 && rel_tol < 1))
    return blorc_fail(err, BLORC_EINVAL, "svd: rel_tol = %g, expected 0 < rel_tol < 1", rel_tol);
  b->svd_used = BLORC_SVD_FULL; /* a backend with a fast path says when it took it */
  b->svd_tol = rel_tol;
  st = b->ops->svd(b, rel_tol, err);
  b->progress = st == BLORC_OK ? BLORC_PROGRESS_SVD : BLORC_PROGRESS_SIGNS;
  return st;
}

blorc_status blorc_set_svd_method(blorc_backend *b, blorc_svd_method method, blorc_error *err) {
  if ((int)method < BLORC_SVD_AUTO || (int)method > BLORC_SVD_GPU_CUSOLVER)
    return blorc_fail(err, BLORC_EINVAL,
                      "svd method %d: expected AUTO (0), FULL (1), FAST (2), GPU_JACOBI (3) or "
                      "GPU_CUSOLVER (4)",
                      (int)method);
  if (method >= BLORC_SVD_GPU_JACOBI && b->ops == &blorc_cpu_ops)
    return blorc_fail(err, BLORC_EINVAL,
                      "svd method %s: a CUDA backend's variant; the CPU backend runs auto, full or "
                      "fast",
                      method == BLORC_SVD_GPU_JACOBI ? "jacobi" : "cusolver");
  b->svd_method = method;
  return BLORC_OK;
}

int blorc_svd_method_from_name(const char *name, blorc_svd_method *out) {
  static const char *names[] = {"auto", "full", "fast", "jacobi", "cusolver"};
  for (int m = 0; m < (int)(sizeof names / sizeof names[0]); m++)
    if (strcmp(name, names[m]) == 0) {
      *out = (blorc_svd_method)m;
      return 0;
    }
  return -1;
}

blorc_svd_method blorc_svd_method_used(const blorc_backend *b) {
  return b->svd_used;
}

long long blorc_svd_fallbacks(const blorc_backend *b) {
  return b->svd_fallbacks;
}

blorc_status blorc_closed_form(blorc_backend *b, blorc_error *err) {
  blorc_status st = need(b, BLORC_PROGRESS_SVD, "closed_form", err);
  if (st != BLORC_OK) return st;
  b->polished = 0;
  st = b->ops->closed_form(b, err);
  b->progress = st == BLORC_OK ? BLORC_PROGRESS_CLOSED_FORM : BLORC_PROGRESS_SVD;
  return st;
}

blorc_polish_opts blorc_polish_defaults(void) {
  blorc_polish_opts o;
  o.tol = 1e-6;
  o.max_rounds = 64;
  return o;
}

/* Counts the certified samples and their smallest margins from the CERT buffer; returns the
 * number certified. */
static int summarise(const double *cert, int B, blorc_polish_stats *st) {
  int ok = 0;
  st->min_dual_margin = st->min_sign_margin = 1.0;
  for (int j = 0; j < B; j++) {
    const double *c = cert + (size_t)j * BLORC_CERT_COLUMNS;
    if (c[BLORC_CERT_OK] == 0.0) continue;
    ok++;
    st->min_dual_margin = fmin(st->min_dual_margin, c[BLORC_CERT_DUAL_MARGIN]);
    st->min_sign_margin = fmin(st->min_sign_margin, c[BLORC_CERT_SIGN_MARGIN]);
  }
  return ok;
}

blorc_status blorc_polish(blorc_backend *b, const blorc_polish_opts *opts,
                          blorc_polish_stats *stats, blorc_error *err) {
  blorc_status st = need(b, BLORC_PROGRESS_CLOSED_FORM, "polish", err);
  if (st != BLORC_OK) return st;
  if (!(opts->tol > 0 && opts->tol < 1) || opts->max_rounds < 0)
    return blorc_fail(err, BLORC_EINVAL,
                      "polish options: tol = %g (expected 0 < tol < 1), max_rounds = %d (>= 0)",
                      opts->tol, opts->max_rounds);
  blorc_polish_stats local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  size_t count = (size_t)b->B * BLORC_CERT_COLUMNS;
  double *cert = malloc(count * sizeof(double));
  if (!cert) return blorc_fail(err, BLORC_ENOMEM, "polish: out of host memory");
  long long moved = 0;
  b->progress = BLORC_PROGRESS_SVD; /* until the final certificate stands */
  st = b->ops->certify(b, opts->tol, 1, err);
  if (!st) st = b->ops->read(b, BLORC_BUF_CERT, cert, err);
  int ok = st ? 0 : summarise(cert, b->B, stats);
  while (!st && ok < b->B && stats->rounds < opts->max_rounds) {
    long long now = 0;
    st = b->ops->polish_step(b, opts->tol, stats->rounds == 0, &now, err);
    if (st || now == 0) break; /* nothing left to move: the failures are not the pattern's */
    moved += now;
    stats->rounds++;
    b->svd_partial = 1;
    st = b->ops->svd(b, b->svd_tol, err);
    b->svd_partial = 0;
    if (!st) st = b->ops->closed_form(b, err);
    if (!st) st = b->ops->certify(b, opts->tol, 0, err);
    if (!st) st = b->ops->read(b, BLORC_BUF_CERT, cert, err);
    if (!st) ok = summarise(cert, b->B, stats);
  }
  free(cert);
  stats->certified = ok;
  stats->rows_moved = (int)moved;
  if (st) return st;
  b->certified = ok;
  b->polished = 1;
  b->progress = BLORC_PROGRESS_CERTIFIED;
  return BLORC_OK;
}

blorc_status blorc_gradient(blorc_backend *b, double *loss, blorc_error *err) {
  blorc_status st = need(b, BLORC_PROGRESS_CLOSED_FORM, "gradient", err);
  if (st != BLORC_OK) return st;
  if (!b->has_clean && !b->upstream)
    return blorc_fail(err, BLORC_EINVAL,
                      "gradient: the data set has no clean signals (nor an upstream gradient)");
  double local;
  st = b->ops->gradient(b, loss ? loss : &local, err);
  b->progress = st == BLORC_OK ? BLORC_PROGRESS_GRADIENT : BLORC_PROGRESS_CLOSED_FORM;
  b->grad_ready = st == BLORC_OK;
  return st;
}

double blorc_step_c1(const blorc_step_opts *o) {
  return o->adam ? 1 - pow(o->beta1, (double)o->t) : 1.0;
}

double blorc_step_c2(const blorc_step_opts *o) {
  return o->adam ? 1 - pow(o->beta2, (double)o->t) : 1.0;
}

blorc_status blorc_step(blorc_backend *b, const blorc_step_opts *o, blorc_error *err) {
  if (!b->grad_ready)
    return blorc_fail(err, BLORC_EINVAL, "step: no gradient (run stage gradient, or write one)");
  if (!(o->lr >= 0) || !isfinite(o->lr) ||
      (o->adam && (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) ||
                   !(o->eps > 0) || o->t < 1)))
    return blorc_fail(err, BLORC_EINVAL,
                      "step options: lr = %g (>= 0), beta1 = %g, beta2 = %g (in [0, 1)), eps = %g "
                      "(> 0), t = %lld (>= 1 for Adam)",
                      o->lr, o->beta1, o->beta2, o->eps, o->t);
  long bad = -1;
  blorc_status st = b->ops->step(b, o, blorc_step_c1(o), blorc_step_c2(o), &bad, err);
  if (st) return st;
  if (bad >= 0)
    return blorc_fail(err, BLORC_ENUMERIC,
                      "step: non-finite entry (%ld, %ld) of the new W; W is left as it was",
                      bad / b->n, bad % b->n);
  b->factored = 0; /* as for a written W */
  if (b->progress > BLORC_PROGRESS_SELECTED) b->progress = BLORC_PROGRESS_SELECTED;
  b->grad_ready = 0;
  return BLORC_OK;
}

size_t blorc_buffer_size(const blorc_backend *b, blorc_buffer which) {
  size_t n = (size_t)b->n, k = (size_t)b->k, B = (size_t)b->B;
  switch (which) {
    case BLORC_BUF_W:
    case BLORC_BUF_ADAM_M:
    case BLORC_BUF_ADAM_V:
    case BLORC_BUF_GRAD: return k * n;
    case BLORC_BUF_STATE_Z:
    case BLORC_BUF_STATE_SIGNS:
    case BLORC_BUF_STATE_LAMBDA: return b->N * k;
    case BLORC_BUF_X_ADMM:
    case BLORC_BUF_XSTAR:
    case BLORC_BUF_UPSTREAM:
    case BLORC_BUF_H: return B * n;
    case BLORC_BUF_ITERS:
    case BLORC_BUF_RANK:
    case BLORC_BUF_LOSS: return B;
    case BLORC_BUF_SIGN:
    case BLORC_BUF_A:
    case BLORC_BUF_B: return B * k;
    case BLORC_BUF_SV: return B * (size_t)b->kn;
    case BLORC_BUF_CERT: return B * BLORC_CERT_COLUMNS;
    case BLORC_BUF_DUAL: return B * k;
    case BLORC_BUF_PN: return B * n * n;
    case BLORC_BUF_GRAD_Y: return B * (size_t)b->m;
    case BLORC_BUF_GRAD_OP: return b->op_kind == BLORC_OP_MATRIX ? (size_t)b->m * n : 0;
    case BLORC_BUF_UNIQUE: return B;
  }
  return 0;
}

/* The stage after which a batch buffer holds data. */
static blorc_progress produced_by(blorc_buffer which) {
  switch (which) {
    case BLORC_BUF_X_ADMM:
    case BLORC_BUF_ITERS: return BLORC_PROGRESS_ADMM;
    case BLORC_BUF_SIGN: return BLORC_PROGRESS_SIGNS;
    case BLORC_BUF_SV:
    case BLORC_BUF_RANK:
    case BLORC_BUF_PN: return BLORC_PROGRESS_SVD;
    case BLORC_BUF_XSTAR:
    case BLORC_BUF_A:
    case BLORC_BUF_B:
    case BLORC_BUF_H:
    case BLORC_BUF_UNIQUE:
    case BLORC_BUF_LOSS: return BLORC_PROGRESS_CLOSED_FORM;
    case BLORC_BUF_CERT:
    case BLORC_BUF_DUAL: return BLORC_PROGRESS_CERTIFIED;
    case BLORC_BUF_GRAD_Y:
    case BLORC_BUF_GRAD_OP:
    case BLORC_BUF_GRAD: return BLORC_PROGRESS_GRADIENT;
    default: return BLORC_PROGRESS_NONE;
  }
}

static blorc_status check_count(const blorc_backend *b, blorc_buffer which, size_t count,
                                blorc_error *err) {
  size_t want = blorc_buffer_size(b, which);
  if (want == 0 || count != want)
    return blorc_fail(err, BLORC_EINVAL, "buffer %d: %zu values given, expected %zu", (int)which,
                      count, want);
  return BLORC_OK;
}

blorc_status blorc_read(const blorc_backend *b, blorc_buffer which, double *dst, size_t count,
                        blorc_error *err) {
  blorc_status st = check_count(b, which, count, err);
  if (st != BLORC_OK) return st;
  blorc_progress p = produced_by(which);
  if (b->progress < p) return need(b, p, "read", err);
  if ((which == BLORC_BUF_CERT || which == BLORC_BUF_DUAL) && !b->polished)
    return blorc_fail(err, BLORC_EINVAL, "read: run polish first (the certificate)");
  if (which == BLORC_BUF_UPSTREAM)
    return blorc_fail(err, BLORC_EINVAL, "read: the upstream gradient is write-only");
  if ((which == BLORC_BUF_A || which == BLORC_BUF_B || which == BLORC_BUF_H ||
       which == BLORC_BUF_LOSS) &&
      !b->has_clean && !b->upstream)
    return blorc_fail(err, BLORC_EINVAL, "read: a, b, h and losses need clean signals");
  /* The identity needs nothing of the backend: A h = h, and every minimiser is unique. */
  if (b->op_kind == BLORC_OP_IDENTITY && which == BLORC_BUF_GRAD_Y)
    return b->ops->read(b, BLORC_BUF_H, dst, err);
  if (b->op_kind == BLORC_OP_IDENTITY && which == BLORC_BUF_UNIQUE) {
    for (size_t j = 0; j < count; j++) dst[j] = 1.0;
    return BLORC_OK;
  }
  return b->ops->read(b, which, dst, err);
}

/* The batch's clean buffer takes gx, and stage 5 runs again on the same patterns (x* comes
 * out the same, h and b are formed from gx); a polish's certificate stays valid, since it
 * depends on x* and the dual only. */
static blorc_status write_upstream(blorc_backend *b, const double *gx, blorc_error *err) {
  blorc_progress was =
      b->progress > BLORC_PROGRESS_CERTIFIED ? BLORC_PROGRESS_CERTIFIED : b->progress;
  b->progress = BLORC_PROGRESS_SVD;
  blorc_status st = b->ops->write(b, BLORC_BUF_UPSTREAM, gx, err);
  b->upstream = st == BLORC_OK;
  if (!st) st = b->ops->closed_form(b, err);
  if (!st) b->progress = b->polished ? BLORC_PROGRESS_CERTIFIED : was;
  return st;
}

blorc_status blorc_write(blorc_backend *b, blorc_buffer which, const double *src, size_t count,
                         blorc_error *err) {
  if (which != BLORC_BUF_W && which != BLORC_BUF_STATE_Z && which != BLORC_BUF_STATE_LAMBDA &&
      which != BLORC_BUF_UPSTREAM && which != BLORC_BUF_GRAD && which != BLORC_BUF_ADAM_M &&
      which != BLORC_BUF_ADAM_V && which != BLORC_BUF_STATE_SIGNS)
    return blorc_fail(err, BLORC_EINVAL, "write: buffer %d is read-only", (int)which);
  if (which == BLORC_BUF_UPSTREAM) {
    blorc_status st = need(b, BLORC_PROGRESS_CLOSED_FORM, "upstream gradient", err);
    if (st != BLORC_OK) return st;
  }
  blorc_status st = check_count(b, which, count, err);
  if (st != BLORC_OK) return st;
  size_t bad;
  int per_row = which == BLORC_BUF_STATE_Z || which == BLORC_BUF_STATE_LAMBDA ||
                        which == BLORC_BUF_STATE_SIGNS
                    ? b->k
                    : b->n;
  if (!all_finite(src, count, &bad))
    return blorc_fail(err, BLORC_EINVAL, "%s: non-finite value at row %zu column %zu",
                      which == BLORC_BUF_W                                     ? "W"
                      : which == BLORC_BUF_UPSTREAM                            ? "upstream gradient"
                      : which == BLORC_BUF_GRAD                                ? "gradient"
                      : which == BLORC_BUF_ADAM_M || which == BLORC_BUF_ADAM_V ? "Adam moments"
                                                                               : "warm-start state",
                      bad / per_row, bad % per_row);
  if (which == BLORC_BUF_UPSTREAM) return write_upstream(b, src, err);
  st = b->ops->write(b, which, src, err);
  if (which == BLORC_BUF_GRAD) {
    b->grad_ready = st == BLORC_OK;
    return st;
  }
  if (which == BLORC_BUF_ADAM_M || which == BLORC_BUF_ADAM_V || which == BLORC_BUF_STATE_SIGNS)
    return st; /* nothing of the batch depends on them */
  if (which == BLORC_BUF_W) {
    b->factored = 0;
    if (b->progress > BLORC_PROGRESS_SELECTED) b->progress = BLORC_PROGRESS_SELECTED;
  } else if (b->progress > BLORC_PROGRESS_NONE) {
    b->progress = BLORC_PROGRESS_NONE; /* the gathered batch state is stale */
  }
  return st;
}

blorc_status blorc_backend_sync(const blorc_backend *b, blorc_error *err) {
  return b->ops->sync ? b->ops->sync(b, err) : BLORC_OK;
}
