// The forward operator on the GPU (design.md section 7), the same stages as
// src/cpu/forward_op.c for one m x n matrix A shared by the batch: A^T y at batch selection,
// the factor of A^T A + ridge I + rho W^T W, and the closed form x* = N C^{-1} N^T q with
// C = (A N)^T (A N) + ridge I. N is not formed: with P = I - V_r V_r^T the projector onto
// null(W0), F = [A P; sqrt(ridge) P; V_r^T] has F^T F = P B P + V_r V_r^T, which acts as C
// on null(W0) and as I on its complement, so M v = P R^{-1} R^{-T} P v from a Householder QR
// F = Q R (one block per sample), never a Cholesky of a formed C (A may be ill conditioned).
// Per-sample inpainting masks (A_j = diag(mask_j)): each sample's factor of diag(mask_j) +
// ridge I + rho W^T W, K_j and Q_j by one block per sample at the start of ADMM (as
// src/cpu/admm.c does through cpu_op_factor_batch), and the same closed form with A P's rows
// masked.
#include <cmath>
#include <vector>

#include "cuda_backend.h"
#include "device_math.cuh"
#include "launch.h"

namespace {
using blorc_cuda::project;
using blorc_cuda::warp_sum;

// Sum of v over the block (every thread gets it); red: 32 doubles of shared memory.
__device__ double block_sum(double v, double *red) {
  v = warp_sum(v);
  __syncthreads();  // red may still be read by an earlier call
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  double t = 0;
  for (int w = 0; w < (int)(blockDim.x >> 5); w++) t += red[w];
  return t;
}

// out = v - V_r (V_r^T v); coef: r doubles. Ends with a barrier.
__device__ void apply_p(int n, int r, const double *V, const double *v, double *out, double *coef) {
  blorc_cuda::coefficients(n, r, V, v, coef);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double a = v[i];
    for (int p = 0; p < r; p++) a -= V[(size_t)p * n + i] * coef[p];
    out[i] = a;
  }
  __syncthreads();
}

// out = B v: B n x n symmetric (global), or with masks (B NULL) diag(mask + ridge); ends with
// a barrier.
__device__ void apply_b(int n, const double *B, const double *mk, double ridge, const double *v,
                        double *out) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double a = 0;
    if (B)
      for (int l = 0; l < n; l++) a += B[(size_t)l * n + i] * v[l];
    else
      a = (mk[i] + ridge) * v[i];
    out[i] = a;
  }
  __syncthreads();
}

// x = P R^{-1} R^{-T} P v (R: the upper triangle of F, leading dimension ld); t, u scratch.
// One thread runs the two triangular solves (n^2 flops: small next to the QR).
__device__ void solve_m(int n, int r, int ld, const double *V, const double *F, const double *v,
                        double *t, double *u, double *x, double *coef) {
  apply_p(n, r, V, v, t, coef);
  if (threadIdx.x == 0) {
    for (int i = 0; i < n; i++) { /* R^T u = t */
      double a = t[i];
      for (int l = 0; l < i; l++) a -= F[(size_t)i * ld + l] * u[l];
      u[i] = a / F[(size_t)i * ld + i];
    }
    for (int i = n - 1; i >= 0; i--) { /* R t = u */
      double a = u[i];
      for (int l = i + 1; l < n; l++) a -= F[(size_t)l * ld + i] * t[l];
      t[i] = a / F[(size_t)i * ld + i];
    }
  }
  __syncthreads();
  apply_p(n, r, V, t, x, coef);
}

// One block per sample. Shared: q, g, t, u, x, res (6n), coef (kn), red (32), tau-free QR.
__global__ void op_closed_form_kernel(int n, int m, int k, int kn, int clean, double ridge,
                                      double tiny, const double *W, const double *At,
                                      const double *Bop, const double *Mk, const double *S,
                                      const double *Y, const double *X, const double *Xa,
                                      const double *Vs, const double *sv, const int *rank,
                                      double *Fws, double *Xs, double *H, double *Wq, double *Wg,
                                      double *loss, int *uniq) {
  BLORC_DYNAMIC_SHARED(double, sm);
  double *q = sm, *g = q + n, *t = g + n, *u = t + n, *x = u + n, *res = x + n;
  double *coef = res + n, *red = coef + kn;
  const int j = blockIdx.x, r = rank[j], ld = m + 2 * n;
  const double *s = S + (size_t)j * k, *V = Vs + (size_t)j * n * kn;
  const double *svj = sv ? sv + (size_t)j * kn : nullptr;  // none after the fast path
  double *F = Fws + (size_t)j * ld * n;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double v = Y[(size_t)j * n + i];
    for (int p = 0; p < k; p++) v -= W[(size_t)p * n + i] * s[p];
    q[i] = v;
  }
  // F's middle block <- P (scaled below), bottom block <- V_r^T padded with zero rows.
  for (size_t e = threadIdx.x; e < (size_t)n * n; e += blockDim.x) {
    int i = (int)(e % n), col = (int)(e / n);
    double p = i == col ? 1.0 : 0.0;
    for (int l = 0; l < r; l++) p -= V[(size_t)l * n + i] * V[(size_t)l * n + col];
    F[(size_t)col * ld + m + i] = p;
    F[(size_t)col * ld + m + n + i] = i < r ? V[(size_t)i * n + col] : 0.0;
  }
  __syncthreads();
  // Top block <- A P (A row-major m x n is At column-major n x m; masks: P's rows masked).
  const double *mk = Mk ? Mk + (size_t)j * n : nullptr;
  for (size_t e = threadIdx.x; e < (size_t)m * n; e += blockDim.x) {
    int i = (int)(e % m), col = (int)(e / m);
    double a = 0;
    if (mk)
      a = mk[i] * F[(size_t)col * ld + m + i];
    else
      for (int l = 0; l < n; l++) a += At[(size_t)i * n + l] * F[(size_t)col * ld + m + l];
    F[(size_t)col * ld + i] = a;
  }
  __syncthreads();
  double sr = sqrt(ridge);
  for (size_t e = threadIdx.x; e < (size_t)n * n; e += blockDim.x)
    F[(e / n) * ld + m + e % n] *= sr;
  __syncthreads();
  // Householder QR in place; R on and above the diagonal, the reflectors below are dropped.
  double rmin = INFINITY;
  for (int c = 0; c < n; c++) {
    double *fc = F + (size_t)c * ld;
    double part = 0;
    for (int i = c + threadIdx.x; i < ld; i += blockDim.x) part += fc[i] * fc[i];
    double nrm = sqrt(block_sum(part, red));
    double alpha = fc[c], beta = alpha > 0 ? -nrm : nrm;
    // v = (fc[c..] - beta e_c) / (alpha - beta): v_c = 1; H = I - tau v v^T, tau = (beta -
    // alpha) / beta. A zero column is left alone (R_cc = 0: C is singular).
    double tau = nrm > 0 ? (beta - alpha) / beta : 0.0, inv = nrm > 0 ? 1.0 / (alpha - beta) : 0;
    __syncthreads();
    if (nrm > 0) {
      for (int i = c + 1 + threadIdx.x; i < ld; i += blockDim.x) fc[i] *= inv;
      __syncthreads();
      for (int col = c + 1 + threadIdx.x; col < n; col += blockDim.x) {
        double *fo = F + (size_t)col * ld;
        double d = fo[c];
        for (int i = c + 1; i < ld; i++) d += fc[i] * fo[i];
        d *= tau;
        fo[c] -= d;
        for (int i = c + 1; i < ld; i++) fo[i] -= d * fc[i];
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) fc[c] = nrm > 0 ? beta : 0.0;
    rmin = fmin(rmin, nrm > 0 ? fabs(beta) : 0.0);
    __syncthreads();
  }
  const int ok = n == 0 || rmin > tiny;
  double *xs = Xs + (size_t)j * n, *h = H + (size_t)j * n;
  double *wq = Wq + (size_t)j * n, *wg = Wg + (size_t)j * n;
  if (threadIdx.x == 0) uniq[j] = ok;
  if (!ok) { /* no unique minimiser: ADMM's x, no gradient */
    double l = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      xs[i] = Xa[(size_t)j * n + i];
      h[i] = wq[i] = wg[i] = 0.0;
      if (clean) l += (xs[i] - X[(size_t)j * n + i]) * (xs[i] - X[(size_t)j * n + i]);
    }
    l = block_sum(l, red);
    if (clean && threadIdx.x == 0) loss[j] = 0.5 * l;
    return;
  }
  solve_m(n, r, ld, V, F, q, t, u, x, coef);
  apply_b(n, Bop, mk, ridge, x, res);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    res[i] = q[i] - res[i]; /* q - B x* */
    xs[i] = x[i];
  }
  __syncthreads();
  project(n, r, V, svj, res, wq, coef);
  __syncthreads();
  if (!clean) return;
  double l = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    g[i] = clean == BLORC_RESIDUAL_UPSTREAM ? X[(size_t)j * n + i] : x[i] - X[(size_t)j * n + i];
    l += g[i] * g[i];
  }
  l = block_sum(l, red);
  if (threadIdx.x == 0) loss[j] = 0.5 * l;
  solve_m(n, r, ld, V, F, g, t, u, x, coef); /* x <- h */
  apply_b(n, Bop, mk, ridge, x, res);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    res[i] = g[i] - res[i]; /* g - B h */
    h[i] = x[i];
  }
  __syncthreads();
  project(n, r, V, svj, res, wg, coef);
}

// Column norms of an n x B block (one block per column).
__global__ void column_norms_kernel(int n, const double *Y, double *out) {
  BLORC_SHARED(double, red, 32);
  double s = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    s += Y[(size_t)blockIdx.x * n + i] * Y[(size_t)blockIdx.x * n + i];
  s = block_sum(s, red);
  if (threadIdx.x == 0) out[blockIdx.x] = sqrt(s);
}

// L <- Bop + L (lower triangle), flags non-finite entries, records the largest diagonal entry.
__global__ void add_b_kernel(int n, const double *Bop, double *L, int *bad, double *dmax) {
  for (int j = 0; j < n; j++)
    for (int i = j + threadIdx.x; i < n; i += blockDim.x) {
      double v = L[(size_t)j * n + i] + Bop[(size_t)j * n + i];
      L[(size_t)j * n + i] = v;
      if (!isfinite(v)) *bad = 1;
    }
  __syncthreads();
  if (threadIdx.x == 0) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, L[(size_t)i * n + i]);
    *dmax = d;
  }
}

// After potrf: a pivot below 1e-13 of the largest diagonal entry counts as singular, as on
// the CPU (src/cpu/forward_op.c).
__global__ void small_pivot_kernel(int n, const double *L, const double *dmax, int *bad) {
  if (threadIdx.x != 0) return;
  for (int i = 0; i < n; i++)
    if (L[(size_t)i * n + i] * L[(size_t)i * n + i] <= 1e-13 * *dmax) *bad = 1;
}

// Ry = w (Ym - Ry) and Hy scaled by w, per column (m x B).
__global__ void weigh_measurements_kernel(int m, int B, const double *w, const double *Ym,
                                          double *Ry, double *Hw, const double *Hy) {
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < (size_t)m * B;
       e += (size_t)gridDim.x * blockDim.x) {
    double wj = w[e / m];
    Ry[e] = wj * (Ym[e] - Ry[e]);
    Hw[e] = wj * Hy[e];
  }
}

__global__ void add_diagonal_kernel(int n, double v, double *M) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) M[(size_t)i * n + i] += v;
}

// Masks: gathers each batch column's mask and forms A^T y = mask .* y.
__global__ void gather_masks_kernel(int n, const size_t *idx, const double *Mall, double *Mk,
                                    const double *Ym, double *Y) {
  int j = blockIdx.x;
  size_t t = idx[j];
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double v = Mall[t * n + i];
    Mk[(size_t)j * n + i] = v;
    Y[(size_t)j * n + i] = v * Ym[(size_t)j * n + i];
  }
}

// out = (mask + add) .* X over n x B (add: the ridge for B x, 0 for A h).
__global__ void mask_times_kernel(size_t len, const double *Mk, double add, const double *X,
                                  double *out) {
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < len;
       e += (size_t)gridDim.x * blockDim.x)
    out[e] = (Mk[e] + add) * X[e];
}

// One block per sample: L_j = lower(rho W^T W) + diag(mask_j + ridge), its Cholesky (right
// looking; a pivot <= 0 or below 1e-13 of the largest diagonal entry is singular, as on the
// CPU), then K_j = rho L_j^-T L_j^-1 W^T and C_j = L_j^-T L_j^-1 (A^T y)_j by one thread per
// right-hand side, Q_j = W K_j and W C_j.
__global__ void mask_factor_kernel(int n, int k, double rho, double ridge, const double *WtW,
                                   const double *W, const double *Mk, const double *Y, double *Lj,
                                   double *Kj, double *Qj, double *C, double *WC, int *bad) {
  BLORC_SHARED(double, piv, 2);
  const int j = blockIdx.x, T = blockDim.x;
  double *L = Lj + (size_t)j * n * n, *K = Kj + (size_t)j * n * k, *Q = Qj + (size_t)j * k * k;
  double *cj = C + (size_t)j * n;
  const double *mk = Mk + (size_t)j * n;
  for (size_t e = threadIdx.x; e < (size_t)n * n; e += T) {
    int i = (int)(e % n), col = (int)(e / n);
    L[e] = i < col ? 0.0 : WtW[e] + (i == col ? mk[i] + ridge : 0.0);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, L[(size_t)i * n + i]);
    piv[0] = d;
  }
  for (int c = 0; c < n; c++) {
    __syncthreads();
    if (threadIdx.x == 0) piv[1] = L[(size_t)c * n + c];
    __syncthreads();
    double d = piv[1];
    if (!(d > 1e-13 * piv[0])) { /* the same value in every thread: the block leaves together */
      if (threadIdx.x == 0) bad[j] = 1;
      return;
    }
    double sd = sqrt(d);
    for (int i = c + threadIdx.x; i < n; i += T)
      L[(size_t)c * n + i] = i == c ? sd : L[(size_t)c * n + i] / sd;
    __syncthreads();
    int rest = n - c - 1;
    for (size_t e = threadIdx.x; e < (size_t)rest * rest; e += T) {
      int i = c + 1 + (int)(e % rest), l = c + 1 + (int)(e / rest);
      if (i >= l) L[(size_t)l * n + i] -= L[(size_t)c * n + i] * L[(size_t)c * n + l];
    }
  }
  if (threadIdx.x == 0) bad[j] = 0;
  __syncthreads();
  for (int r = threadIdx.x; r <= k; r += T) { /* column r of rho W^T, or the data (r = k) */
    double *x = r < k ? K + (size_t)r * n : cj;
    for (int i = 0; i < n; i++) x[i] = r < k ? rho * W[(size_t)r * n + i] : Y[(size_t)j * n + i];
    for (int i = 0; i < n; i++) { /* L z = b */
      double a = x[i];
      for (int l = 0; l < i; l++) a -= L[(size_t)l * n + i] * x[l];
      x[i] = a / L[(size_t)i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) { /* L^T x = z */
      double a = x[i];
      for (int l = i + 1; l < n; l++) a -= L[(size_t)i * n + l] * x[l];
      x[i] = a / L[(size_t)i * n + i];
    }
  }
  __syncthreads();
  for (size_t e = threadIdx.x; e < (size_t)k * k; e += T) { /* Q = W K, column-major k x k */
    int r = (int)(e % k), q = (int)(e / k);
    double a = 0;
    for (int i = 0; i < n; i++) a += W[(size_t)r * n + i] * K[(size_t)q * n + i];
    Q[e] = a;
  }
  for (int r = threadIdx.x; r < k; r += T) {
    double a = 0;
    for (int i = 0; i < n; i++) a += W[(size_t)r * n + i] * cj[i];
    WC[(size_t)j * k + r] = a;
  }
}

}  // namespace

static void free_operator(cuda_state *c) {
  double **bufs[] = {&c->At,  &c->Bop,  &c->Ym,   &c->Ry, &c->Hy, &c->GA, &c->Mv, &c->Fws,
                     &c->wts, &c->dmax, &c->Mall, &c->Mk, &c->Lj, &c->Kj, &c->Qj};
  for (double **p : bufs) {
    if (*p) cudaFree(*p);
    *p = nullptr;
  }
  for (int **p : {&c->uniq, &c->bad}) {
    if (*p) cudaFree(*p);
    *p = nullptr;
  }
}

blorc_status cuda_set_operator(blorc_backend *b, blorc_operator_kind kind, int m, const double *A,
                               double ridge, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  free_operator(c);
  for (double **p : {&c->Xall, &c->Yall, &c->Zall, &c->Lall}) { /* the data set goes */
    if (*p) BLORC_CUDA_CHECK(cudaFree(*p));
    *p = nullptr;
  }
  c->op = BLORC_OP_IDENTITY;
  if (kind == BLORC_OP_IDENTITY) return BLORC_OK;
  size_t n = b->n, k = b->k, cap = b->cap, mm = (size_t)m, d = sizeof(double);
  const bool mat = kind == BLORC_OP_MATRIX, mask = !mat;
  struct {
    void **p;
    size_t bytes;
    const char *what;
  } arrays[] = {{(void **)&c->At, mat ? mm * n * d : 0, "the operator A"},
                {(void **)&c->Bop, mat ? n * n * d : 0, "A^T A"},
                {(void **)&c->GA, mat ? mm * n * d : 0, "dU/dA"},
                {(void **)&c->Mk, mask ? n * cap * d : 0, "the batch's masks"},
                {(void **)&c->Lj, mask ? n * n * cap * d : 0, "per-sample factors"},
                {(void **)&c->Kj, mask ? n * k * cap * d : 0, "per-sample K"},
                {(void **)&c->Qj, mask ? k * k * cap * d : 0, "per-sample Q"},
                {(void **)&c->bad, mask ? cap * sizeof(int) : 0, "per-sample flags"},
                {(void **)&c->Ym, mm * cap * d, "measurements"},
                {(void **)&c->Ry, mat ? mm * cap * d : 0, "measurement residuals"},
                {(void **)&c->Hy, mm * cap * d, "A h"},
                {(void **)&c->Mv, n * cap * d, "B x*"},
                {(void **)&c->Fws, (mm + 2 * n) * n * cap * d, "the closed form's QR"},
                {(void **)&c->wts, cap * d, "sample weights"},
                {(void **)&c->dmax, d, "a pivot scale"},
                {(void **)&c->uniq, cap * sizeof(int), "uniqueness flags"}};
  blorc_status st = BLORC_OK;
  for (auto &a : arrays)
    if (st == BLORC_OK && a.bytes) st = dev_alloc(b, a.p, a.bytes, a.what, err);
  if (st != BLORC_OK) {
    free_operator(c);
    return st;
  }
  if (mask) { /* ||diag(mask) + ridge I|| <= 1 + ridge: the CPU's scale */
    c->anorm = std::sqrt(1.0 + ridge);
    c->op = kind, c->m = m, c->ridge = ridge;
    return BLORC_OK;
  }
  BLORC_CUDA_CHECK(cudaMemcpyAsync(c->At, A, mm * n * d, cudaMemcpyHostToDevice, c->stream));
  double one = 1, zero = 0;
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)n, (int)n, m, &one, c->At,
                                 (int)n, c->At, (int)n, &zero, c->Bop, (int)n));
  BLORC_LAUNCH(add_diagonal_kernel, 1, 64, 0, c->stream)((int)n, ridge, c->Bop);
  BLORC_CUDA_CHECK_LAUNCH("operator: ridge");
  // ||B||_2 by power iteration on the host (the scale of the uniqueness test only).
  std::vector<double> Bh(n * n), v(n, 1.0), w(n);
  BLORC_CUDA_CHECK(
      cudaMemcpyAsync(Bh.data(), c->Bop, n * n * d, cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  double lam = 0;
  for (int it = 0; it < 300; it++) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
      w[i] = 0;
      for (size_t l = 0; l < n; l++) w[i] += Bh[l * n + i] * v[l];
      s += w[i] * w[i];
    }
    lam = std::sqrt(s);
    if (!(lam > 0)) break;
    for (size_t i = 0; i < n; i++) v[i] = w[i] / lam;
  }
  c->anorm = std::sqrt(lam);
  c->op = kind, c->m = m, c->ridge = ridge;
  return BLORC_OK;
}

blorc_status cuda_set_masks(blorc_backend *b, const double *masks, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  size_t bytes = b->N * (size_t)b->n * sizeof(double);
  double *fresh = nullptr; /* allocated before the old set goes, as set_data does */
  BLORC_TRY(dev_alloc(b, (void **)&fresh, bytes, "the data set's masks", err));
  if (c->Mall) BLORC_CUDA_CHECK(cudaFree(c->Mall));
  c->Mall = fresh;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(c->Mall, masks, bytes, cudaMemcpyHostToDevice, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return BLORC_OK;
}

blorc_status cuda_op_select(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, B = b->B;
  double one = 1, zero = 0;
  if (c->op == BLORC_OP_MASK) {
    BLORC_LAUNCH(gather_masks_kernel, B, cuda_threads_for(n), 0, c->stream)
    (n, c->idx, c->Mall, c->Mk, c->Ym, c->Y);
    BLORC_CUDA_CHECK_LAUNCH("select: masks");
  } else {
    BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, B, c->m, &one, c->At, n,
                                   c->Ym, c->m, &zero, c->Y, n));
  }
  BLORC_LAUNCH(column_norms_kernel, B, 64, 0, c->stream)(n, c->Y, c->ynorm);
  BLORC_CUDA_CHECK_LAUNCH("select: norms of A^T y");
  return BLORC_OK;
}

blorc_status cuda_op_factor(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k;
  double rho = b->rho, zero = 0;
  BLORC_CUBLAS_CHECK(cublasDsyrk(c->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, n, k, &rho, c->W, n,
                                 &zero, c->L, n));
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->info, 0, sizeof(int), c->stream));
  BLORC_LAUNCH(add_b_kernel, 1, 64, 0, c->stream)(n, c->Bop, c->L, c->info, c->dmax);
  BLORC_CUDA_CHECK_LAUNCH("factor: A^T A + rho W^T W");
  int flag = 0;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(&flag, c->info, sizeof flag, cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  if (flag) return blorc_fail(err, BLORC_ENUMERIC, "factor: A^T A + rho W^T W overflows");
  BLORC_CUSOLVER_CHECK(cusolverDnDpotrf(c->solver, CUBLAS_FILL_MODE_LOWER, n, c->L, n,
                                        c->potrf_work, c->potrf_lwork, c->info));
  int info = 0;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(&info, c->info, sizeof info, cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  if (info < 0) return blorc_fail(err, BLORC_ENUMERIC, "factor: cusolverDnDpotrf info %d", info);
  if (info == 0) {
    BLORC_LAUNCH(small_pivot_kernel, 1, 32, 0, c->stream)(n, c->L, c->dmax, c->info);
    BLORC_CUDA_CHECK_LAUNCH("factor: pivots");
    BLORC_CUDA_CHECK(
        cudaMemcpyAsync(&info, c->info, sizeof info, cudaMemcpyDeviceToHost, c->stream));
    BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  }
  if (info != 0)
    return blorc_fail(err, BLORC_EINVAL,
                      "factor: A^T A + rho W^T W is singular: null(A) and null(W) meet "
                      "(operator.ridge > 0 makes it definite)");
  return BLORC_OK;
}

blorc_status cuda_op_factor_batch(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  BLORC_LAUNCH(mask_factor_kernel, B, cuda_threads_for(n > k ? n : k), 0, c->stream)
  (n, k, b->rho, c->ridge, c->L, c->W, c->Mk, c->Y, c->Lj, c->Kj, c->Qj, c->C, c->WC, c->bad);
  BLORC_CUDA_CHECK_LAUNCH("admm: per-sample factors");
  std::vector<int> bad(B);
  BLORC_CUDA_CHECK(
      cudaMemcpyAsync(bad.data(), c->bad, B * sizeof(int), cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int j = 0; j < B; j++) {
    if (!bad[j]) continue;
    size_t t = 0;
    BLORC_CUDA_CHECK(cudaMemcpy(&t, c->idx + j, sizeof t, cudaMemcpyDeviceToHost));
    return blorc_fail(err, BLORC_EINVAL,
                      "factor (batch sample %d, data-set signal %zu): A^T A + rho W^T W is "
                      "singular: null(A) and null(W) meet (operator.ridge > 0 makes it definite)",
                      j, t);
  }
  return BLORC_OK;
}

blorc_status cuda_op_closed_form(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, kn = b->kn, B = b->B;
  size_t smem = sizeof(double) * (6 * (size_t)n + kn + 32);
  if (smem > 48 * 1024)
    BLORC_CUDA_CHECK(cudaFuncSetAttribute(op_closed_form_kernel,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  int threads = cuda_threads_for(n > c->m ? n : c->m);
  BLORC_LAUNCH(op_closed_form_kernel, B, threads, smem, c->stream)
  (n, c->m, k, kn, blorc_residual_mode(b), c->ridge, 1e-10 * (c->anorm > 0 ? c->anorm : 1.0), c->W,
   c->At, c->Bop, c->op == BLORC_OP_MASK ? c->Mk : nullptr, c->S, c->Y, c->X, c->Xout, c->Vs,
   cuda_singular_values(b), c->rank, c->Fws, c->Xs, c->H, c->Wq, c->Wg, c->loss, c->uniq);
  BLORC_CUDA_CHECK_LAUNCH("closed_form (operator)");
  return BLORC_OK;
}

blorc_status cuda_op_normal(cuda_state *c, int n, int B, const double *X, blorc_error *err) {
  double one = 1, zero = 0;
  if (c->op == BLORC_OP_MASK) {
    size_t len = (size_t)n * B;
    BLORC_LAUNCH(mask_times_kernel, cuda_grid_for(len), 256, 0, c->stream)
    (len, c->Mk, c->ridge, X, c->Mv);
    BLORC_CUDA_CHECK_LAUNCH("B x*");
    return BLORC_OK;
  }
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, B, n, &one, c->Bop, n, X, n,
                                 &zero, c->Mv, n));
  return BLORC_OK;
}

blorc_status cuda_op_gradient(blorc_backend *b, const double *w, double scale, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, m = c->m, B = b->B;
  double one = 1, zero = 0, minus = -scale;
  if (c->op == BLORC_OP_MASK) { /* A h = mask .* h; no shared A to differentiate */
    size_t len = (size_t)n * B;
    BLORC_LAUNCH(mask_times_kernel, cuda_grid_for(len), 256, 0, c->stream)
    (len, c->Mk, 0.0, c->H, c->Hy);
    BLORC_CUDA_CHECK_LAUNCH("gradient: A h");
    return BLORC_OK;
  }
  // Hy = A H; Ry = A X*, then weighted residuals; GA = scale [H Ry^T - X* (w Hy)^T] is
  // dU/dA^T = mean of (y - A x*) h^T - (A h) x*^T (scale = 1 / samples used), stored as its
  // n x m transpose.
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, m, B, n, &one, c->At, n, c->H,
                                 n, &zero, c->Hy, m));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, m, B, n, &one, c->At, n, c->Xs,
                                 n, &zero, c->Ry, m));
  size_t len = (size_t)m * B;
  // The weighted A h goes to Fws (free after the closed form; (m + 2n) n cap doubles).
  double *Hw = c->Fws;
  BLORC_LAUNCH(weigh_measurements_kernel, cuda_grid_for(len), 256, 0, c->stream)
  (m, B, w, c->Ym, c->Ry, Hw, c->Hy);
  BLORC_CUDA_CHECK_LAUNCH("gradient: measurement residuals");
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, m, B, &scale, c->H, n, c->Ry,
                                 m, &zero, c->GA, n));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, m, B, &minus, c->Xs, n, Hw,
                                 m, &one, c->GA, n));
  return BLORC_OK;
}
