/* The CPU backend: allocation, data set and batch gathering, buffer access, and the function
 * table that plugs the stage files (factor.c ... gradient.c) into the dispatcher. */
#include <lapacke.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/active_set.h"
#include "cpu_backend.h"

static void cpu_destroy(blorc_backend *b) {
  cpu_state *c = cpu_of(b);
  if (!c) return;
  double **bufs[] = {
      &c->Xall, &c->Yall, &c->Zall,  &c->Sall,  &c->Lall, &c->W,  &c->L,       &c->K,     &c->Q,
      &c->WC,   &c->Y,    &c->X,     &c->ynorm, &c->Z,    &c->U,  &c->C,       &c->Xa,    &c->V,
      &c->D,    &c->R,    &c->T,     &c->r2,    &c->S,    &c->sv, &c->Vs,      &c->Xs,    &c->A,
      &c->Bv,   &c->H,    &c->loss,  &c->G,     &c->Wq,   &c->Wg, &c->scratch, &c->Wpinv, &c->Wu,
      &c->Wtau, &c->Wa,   &c->Wwork, &c->Dcur,  &c->Ac,   &c->Vx, &c->Tk,      &c->Tb,    &c->Rn,
      &c->Wr,   &c->cert, &c->rn,    &c->Am,    &c->Av,   &c->Wn};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(*bufs[i]);
  free(c->idx);
  free(c->perm);
  free(c->iters);
  free(c->pos);
  free(c->rank);
  free(c->redo);
  free(c->uniq);
  cpu_op_free(c);
  free(c);
  b->impl = NULL;
}

static double *zalloc(size_t count, int *ok) {
  double *p = calloc(count ? count : 1, sizeof(double));
  if (!p) *ok = 0;
  return p;
}

/* Buffers and workspace sizes of stage 4's fast path (see svd.c); 0 when out of memory. */
static int fast_svd_init(cpu_state *c, lapack_int n, lapack_int k) {
  int ok = 1;
  double q[4] = {0};
  c->Wpinv = zalloc((size_t)n * k, &ok);
  c->Wu = zalloc((size_t)n * n, &ok);
  c->Wtau = zalloc((size_t)k, &ok);
  c->Wa = zalloc((size_t)k * k, &ok);
  /* Per minibatch: dgeqrf and dorgqr on W^T; per sample (per-thread
   * scratch): dgeqrf and dormqr on at most n x n. */
  if (LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, n, k, NULL, n, NULL, &q[0], -1) != 0 ||
      LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, n, n, k, NULL, n, NULL, &q[1], -1) != 0 ||
      LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, n, n, NULL, n, NULL, &q[2], -1) != 0 ||
      LAPACKE_dormqr_work(LAPACK_COL_MAJOR, 'L', 'N', n, n, n, NULL, n, NULL, NULL, n, &q[3], -1) !=
          0)
    return 0;
  c->wqr_lwork = (size_t)fmax(q[0], q[1]) + 1;
  c->qr_lwork = (size_t)fmax(q[2], q[3]) + 1;
  c->Wwork = zalloc(c->wqr_lwork, &ok);
  return ok;
}

static blorc_status cpu_init(blorc_backend *b, blorc_error *err) {
  cpu_state *c = calloc(1, sizeof *c);
  if (!c) return blorc_fail(err, BLORC_ENOMEM, "out of host memory for the CPU backend");
  b->impl = c;
  size_t n = (size_t)b->n, k = (size_t)b->k, cap = (size_t)b->cap, kn = (size_t)b->kn;
  int ok = 1;
  c->W = zalloc(n * k, &ok);
  c->Am = zalloc(n * k, &ok);
  c->Av = zalloc(n * k, &ok);
  c->Wn = zalloc(n * k, &ok);
  c->L = zalloc(n * n, &ok);
  c->K = zalloc(n * k, &ok);
  c->Q = zalloc(k * k, &ok);
  c->WC = zalloc(k * cap, &ok);
  c->Y = zalloc(n * cap, &ok);
  c->X = zalloc(n * cap, &ok);
  c->ynorm = zalloc(cap, &ok);
  c->Z = zalloc(k * cap, &ok);
  c->U = zalloc(k * cap, &ok);
  c->C = zalloc(n * cap, &ok);
  c->Xa = zalloc(n * cap, &ok);
  c->V = zalloc(k * cap, &ok);
  c->D = zalloc(k * cap, &ok);
  c->T = zalloc(k * cap, &ok);
  c->R = zalloc(n * cap, &ok);
  c->r2 = zalloc(cap, &ok);
  c->S = zalloc(k * cap, &ok);
  c->sv = zalloc(kn * cap, &ok);
  c->Vs = zalloc(n * kn * cap, &ok);
  c->Xs = zalloc(n * cap, &ok);
  c->A = zalloc(k * cap, &ok);
  c->Bv = zalloc(k * cap, &ok);
  c->H = zalloc(n * cap, &ok);
  c->Wq = zalloc(n * cap, &ok);
  c->Wg = zalloc(n * cap, &ok);
  c->loss = zalloc(cap, &ok);
  c->G = zalloc(n * k, &ok);
  c->Dcur = zalloc(k * cap, &ok);
  c->Ac = zalloc(k * cap, &ok);
  c->Vx = zalloc(k * cap, &ok);
  c->Tk = zalloc(k * cap, &ok);
  c->Tb = zalloc(k * cap, &ok);
  c->Rn = zalloc(n * cap, &ok);
  c->Wr = zalloc(n * cap, &ok);
  c->cert = zalloc(BLORC_CERT_COLUMNS * cap, &ok);
  c->rn = zalloc(k, &ok);
  c->idx = calloc(cap, sizeof *c->idx);
  c->iters = calloc(cap, sizeof *c->iters);
  c->pos = calloc(cap, sizeof *c->pos);
  c->rank = calloc(cap, sizeof *c->rank);
  c->redo = calloc(cap, sizeof *c->redo);
  c->uniq = calloc(cap, sizeof *c->uniq);
  if (!c->idx || !c->iters || !c->pos || !c->rank || !c->redo || !c->uniq) ok = 0;
  if (ok) {
    /* SVD scratch per thread: the compacted W0m^T (n x k), dgesdd's U^T (kn x k), its
     * workspace and integer workspace (8 kn, stored in doubles). */
    /* Packed W0^T has n rows and k0 <= k columns; take the largest workspace over k0. */
    size_t lwork = 1;
    for (lapack_int k0 = 1; k0 <= (lapack_int)k; k0++) {
      double q = 0;
      lapack_int m0 = k0 < (lapack_int)n ? k0 : (lapack_int)n;
      lapack_int info =
          LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)n, k0, NULL, (lapack_int)n, NULL,
                              NULL, (lapack_int)n, NULL, m0, &q, -1, NULL);
      if (info != 0) {
        cpu_destroy(b);
        return blorc_fail(err, BLORC_ENUMERIC, "dgesdd workspace query: info %d", (int)info);
      }
      if ((size_t)q + 1 > lwork) lwork = (size_t)q + 1;
    }
    c->svd_lwork = lwork;
    c->nthreads = omp_get_max_threads();
    c->scratch_per_thread = n * k + kn * k + c->svd_lwork + 8 * kn;
    if (k <= n && !fast_svd_init(c, (lapack_int)n, (lapack_int)k)) ok = 0;
    /* The fast path's per-thread QR: an n x n matrix, n reflector scalars, workspace. */
    if (c->scratch_per_thread < n * n + n + c->qr_lwork)
      c->scratch_per_thread = n * n + n + c->qr_lwork;
    /* Every thread's scratch starts on a 64-byte boundary. With an odd size, thread 1's
     * buffers sat 8 bytes off 16-byte alignment, and OpenBLAS's SSE kernels (Prescott, its
     * fallback on CPUs it does not know) round differently on such data: with dynamic
     * scheduling a sample's SVD then changed from run to run (issue 13). Whole cache lines
     * also keep the threads from sharing one. */
    c->scratch_per_thread = (c->scratch_per_thread + 7) & ~(size_t)7;
    c->scratch = aligned_alloc(64, c->scratch_per_thread * (size_t)c->nthreads * sizeof(double));
    if (!c->scratch) ok = 0;
  }
  if (!ok) {
    cpu_destroy(b);
    return blorc_fail(err, BLORC_ENOMEM,
                      "out of host memory for n=%d k=%d batch=%d on the CPU backend", b->n, b->k,
                      b->cap);
  }
  return BLORC_OK;
}

static blorc_status cpu_set_data(blorc_backend *b, const double *X, const double *Y,
                                 blorc_error *err) {
  cpu_state *c = cpu_of(b);
  size_t nN = (size_t)b->n * b->N, kN = (size_t)b->k * b->N, mN = (size_t)b->m * b->N;
  double *nx = X ? malloc(nN * sizeof(double)) : NULL;
  double *ny = malloc(mN * sizeof(double));
  double *nz = calloc(kN, sizeof(double));
  double *nl = calloc(kN, sizeof(double));
  double *ns = malloc(kN * sizeof(double));
  if ((X && !nx) || !ny || !nz || !nl || !ns) {
    free(nx), free(ny), free(nz), free(nl), free(ns);
    return blorc_fail(err, BLORC_ENOMEM, "out of host memory for a data set of %zu signals", b->N);
  }
  if (X) memcpy(nx, X, nN * sizeof(double));
  memcpy(ny, Y, mN * sizeof(double));
  for (size_t i = 0; i < kN; i++) ns[i] = 2.0; /* no pattern yet */
  free(c->Xall), free(c->Yall), free(c->Zall), free(c->Lall), free(c->Mall), free(c->Sall);
  c->Xall = nx, c->Yall = ny, c->Zall = nz, c->Lall = nl, c->Mall = NULL, c->Sall = ns;
  return BLORC_OK;
}

blorc_status cpu_select(blorc_backend *b, const size_t *idx, blorc_error *err) {
  (void)err;
  cpu_state *c = cpu_of(b);
  size_t n = (size_t)b->n;
  for (int j = 0; j < b->B; j++) {
    size_t t = idx[j];
    c->idx[j] = t;
    if (c->op == BLORC_OP_IDENTITY) memcpy(c->Y + j * n, c->Yall + t * n, n * sizeof(double));
    if (c->Xall) memcpy(c->X + j * n, c->Xall + t * n, n * sizeof(double));
  }
  if (c->op != BLORC_OP_IDENTITY) cpu_op_select(b);
  for (int j = 0; j < b->B; j++) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += c->Y[j * n + i] * c->Y[j * n + i];
    c->ynorm[j] = sqrt(s);
  }
  return BLORC_OK;
}

static blorc_status cpu_read(const blorc_backend *b, blorc_buffer which, double *dst,
                             blorc_error *err) {
  const cpu_state *c = cpu_of(b);
  size_t B = (size_t)b->B;
  const double *src = NULL;
  size_t count = blorc_buffer_size(b, which);
  switch (which) {
    case BLORC_BUF_W: src = c->W; break;
    case BLORC_BUF_GRAD: src = c->G; break;
    case BLORC_BUF_STATE_Z: src = c->Zall; break;
    case BLORC_BUF_STATE_LAMBDA: src = c->Lall; break;
    case BLORC_BUF_STATE_SIGNS: src = c->Sall; break;
    case BLORC_BUF_X_ADMM: src = c->Xa; break;
    case BLORC_BUF_SIGN: src = c->S; break;
    case BLORC_BUF_SV: return cpu_read_singular_values(b, dst, err);
    case BLORC_BUF_XSTAR: src = c->Xs; break;
    case BLORC_BUF_A: src = c->A; break;
    case BLORC_BUF_B: src = c->Bv; break;
    case BLORC_BUF_H: src = c->H; break;
    case BLORC_BUF_LOSS: src = c->loss; break;
    case BLORC_BUF_CERT: src = c->cert; break;
    case BLORC_BUF_DUAL: src = c->Ac; break;
    case BLORC_BUF_ITERS:
      for (size_t j = 0; j < B; j++) dst[j] = c->iters[j];
      return BLORC_OK;
    case BLORC_BUF_RANK:
      for (size_t j = 0; j < B; j++) dst[j] = c->rank[j];
      return BLORC_OK;
    case BLORC_BUF_PN: blorc_projectors(b->n, b->kn, b->B, c->Vs, c->rank, dst); return BLORC_OK;
    case BLORC_BUF_GRAD_Y: src = c->Hy; break;
    case BLORC_BUF_GRAD_OP: src = c->GA; break;
    case BLORC_BUF_UNIQUE:
      for (size_t j = 0; j < B; j++) dst[j] = c->uniq[j];
      return BLORC_OK;
    case BLORC_BUF_ADAM_M: src = c->Am; break;
    case BLORC_BUF_ADAM_V: src = c->Av; break;
    case BLORC_BUF_UPSTREAM: break; /* write-only: the dispatcher refuses the read */
  }
  if (!src) return blorc_fail(err, BLORC_EINVAL, "read: unknown buffer %d", (int)which);
  memcpy(dst, src, count * sizeof(double));
  return BLORC_OK;
}

static blorc_status cpu_write(blorc_backend *b, blorc_buffer which, const double *src,
                              blorc_error *err) {
  cpu_state *c = cpu_of(b);
  double *dst = BLORC_WRITE_TARGET(c, which);
  if (!dst) return blorc_fail(err, BLORC_EINVAL, "write: no data set for the warm-start state");
  memcpy(dst, src, blorc_buffer_size(b, which) * sizeof(double));
  return BLORC_OK;
}

const blorc_backend_ops blorc_cpu_ops = {
    .name = "cpu",
    .init = cpu_init,
    .destroy = cpu_destroy,
    .set_data = cpu_set_data,
    .select = cpu_select,
    .shuffle = cpu_shuffle,
    .select_shuffled = cpu_select_shuffled,
    .batch_stats = cpu_batch_stats,
    .factor = cpu_factor,
    .admm = cpu_admm,
    .signs = cpu_signs,
    .svd = cpu_svd,
    .closed_form = cpu_closed_form,
    .certify = cpu_certify,
    .polish_step = cpu_polish_step,
    .gradient = cpu_gradient,
    .step = cpu_step,
    .read = cpu_read,
    .write = cpu_write,
    .sync = NULL,
    .set_operator = cpu_set_operator,
    .set_masks = cpu_set_masks,
};
