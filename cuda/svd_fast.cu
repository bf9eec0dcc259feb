// Stage 4's fast path on the GPU, the same mathematics as src/cpu/svd.c (k <= n, W well
// conditioned): null(W0m) = null(W) + span{W^+ e_i : s_i != 0}. Once per minibatch cuSOLVER's
// geqrf and orgqr factor W^T = Q R (null(W) = Q's columns k.., W^+ = Q_k R^-T with R^-1 by
// cuBLAS trsm), with the CPU's guard on sigma_k(W) / sigma_1(W); per sample the n - k0 columns
// spanning null(W0m) are QR'd by cuBLAS's geqrfBatched and a kernel applies those reflectors to
// [0; I_k0] (the CPU's dormqr): V_r, rank k0. The closed form then maps through W^+ instead of
// dividing by singular values (cuda_pinv_map).
#include <vector>

#include "cuda_backend.h"
#include "device_math.cuh"
#include "launch.h"

namespace {

using blorc_cuda::warp_sum;

__global__ void set_identity(int k, double *M) {
  for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < k * k; e += gridDim.x * blockDim.x)
    M[e] = e % k == e / k ? 1.0 : 0.0;
}

// guard[0] = 1 / sqrt(||R||_F^2 ||R^-1||_F^2) <= sigma_k / sigma_1, R in Q's upper triangle.
__global__ void guard_kernel(int n, int k, const double *Q, const double *Rinv, double *guard) {
  BLORC_SHARED(double, part, 64);
  double r = 0, ri = 0;
  for (int e = threadIdx.x; e < k * k; e += blockDim.x) {
    int i = e % k, j = e / k;
    double v = i <= j ? Q[(size_t)j * n + i] : 0.0;
    r += v * v;
    ri += Rinv[e] * Rinv[e];
  }
  r = warp_sum(r), ri = warp_sum(ri);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  if (lane == 0) part[warp] = r, part[32 + warp] = ri;
  __syncthreads();
  if (threadIdx.x == 0) {
    double a = 0, b = 0;
    for (int w = 0; w < nwarps; w++) a += part[w], b += part[32 + w];
    guard[0] = 1.0 / sqrt(a * b);
  }
}

// AUTO's estimate per sample (flops; the fixed cost of W's QR is added on the host): the
// Jacobi kernel's ~8 sweeps of k0^2 / 2 pairs at 12 n each, against the padded n x n QR and
// the reflectors applied to k0 columns.
__global__ void cost_kernel(int n, int k, int B, const double *S, double *cost) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= B) return;
  double k0 = 0;
  for (int i = 0; i < k; i++) k0 += S[(size_t)j * k + i] == 0.0;
  double m = n - k0;
  cost[j] = 48.0 * n * k0 * k0 - (4.0 / 3.0 * n * n * n + 4.0 * n * m * k0);
}

// G_j = [null(W), W^+ e_i for s_i != 0, zero columns]: n x n, the first m columns a basis of
// null(W0m) (zero padding keeps geqrfBatched's size uniform and leaves the first m reflectors
// as they would be). rank[j] = k0 = n - m.
__global__ void build_basis(int n, int k, const double *Q, const double *Wpinv, const double *S,
                            double *G, int *rank, const int *redo) {
  BLORC_SHARED(int, rows, 1024);  // G's column m0 + q comes from W^+'s column rows[q]
  BLORC_SHARED(int, count, 1);
  const int j = blockIdx.x, m0 = n - k;
  if (redo && !redo[j]) return;
  const double *s = S + (size_t)j * k;
  if (threadIdx.x == 0) {
    int q = 0;
    for (int i = 0; i < k; i++)
      if (s[i] != 0.0) rows[q++] = i;
    count[0] = q;
    rank[j] = k - q;
  }
  __syncthreads();
  const int m = m0 + count[0];
  double *Gj = G + (size_t)j * n * n;
  for (int e = threadIdx.x; e < n * n; e += blockDim.x) {
    int i = e % n, col = e / n;
    Gj[e] = col < m0  ? Q[(size_t)(k + col) * n + i]
            : col < m ? Wpinv[(size_t)rows[col - m0] * n + i]
                      : 0.0;
  }
}

// V_r = H_0 ... H_{m-1} [0; I_k0], one warp per column: each lane owns rows lane, lane + 32,
// ... for every reflector (not rows r + lane: those change hands as r moves, a race the
// emulation caught), so a column needs no barrier between reflectors.
__global__ void apply_reflectors(int n, int kn, const double *G, const double *tau, const int *rank,
                                 double *Vs, const int *redo) {
  const int j = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5,
            nwarps = blockDim.x >> 5;
  if (redo && !redo[j]) return;
  const int k0 = rank[j], m = n - k0;
  const double *Gj = G + (size_t)j * n * n, *tj = tau + (size_t)j * n;
  double *V = Vs + (size_t)j * n * kn;
  for (int c = warp; c < kn; c += nwarps) {
    double *x = V + (size_t)c * n;
    for (int i = lane; i < n; i += 32) x[i] = c < k0 && i == m + c ? 1.0 : 0.0;
    if (c >= k0) continue;
    for (int r = m - 1; r >= 0; r--) {  // v_r = [0 (r), 1, G's column r below the diagonal]
      double d = 0;
      for (int i = lane; i < n; i += 32)
        if (i >= r) d += (i == r ? 1.0 : Gj[(size_t)r * n + i]) * x[i];
      d = warp_sum(d) * tj[r];
      for (int i = lane; i < n; i += 32)
        if (i >= r) x[i] -= d * (i == r ? 1.0 : Gj[(size_t)r * n + i]);
    }
  }
}

// The path's arrays and workspaces, at its first use (they take n^2 per sample).
blorc_status fast_init(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  size_t n = b->n, k = b->k, cap = b->cap, d = sizeof(double);
  struct {
    void **p;
    size_t bytes;
    const char *what;
  } arrays[] = {
      {(void **)&c->fq_Q, n * n * d, "fast path: Q of W^T"},
      {(void **)&c->fq_tau, n * d, "fast path: tau of W^T"},
      {(void **)&c->fq_Rinv, k * k * d, "fast path: R^-1"},
      {(void **)&c->Wpinv, n * k * d, "fast path: W^+"},
      {(void **)&c->fq_G, n * n * cap * d, "fast path: per-sample bases"},
      {(void **)&c->fq_Gtau, n * cap * d, "fast path: per-sample tau"},
      {(void **)&c->fq_guard, d, "fast path: guard"},
      {(void **)&c->fq_cost, cap * d, "fast path: cost estimate"},
      {(void **)&c->fq_Gptr, cap * sizeof(double *), "fast path: matrix pointers"},
      {(void **)&c->fq_Tptr, cap * sizeof(double *), "fast path: tau pointers"},
  };
  for (auto &a : arrays) BLORC_TRY(dev_alloc(b, a.p, a.bytes, a.what, err));
  int lq = 0, lo = 0;
  BLORC_CUSOLVER_CHECK(
      cusolverDnDgeqrf_bufferSize(c->solver, (int)n, (int)k, c->fq_Q, (int)n, &lq));
  BLORC_CUSOLVER_CHECK(cusolverDnDorgqr_bufferSize(c->solver, (int)n, (int)n, (int)k, c->fq_Q,
                                                   (int)n, c->fq_tau, &lo));
  c->fq_lwork = lq > lo ? lq : lo;
  BLORC_TRY(
      dev_alloc(b, (void **)&c->fq_work, (size_t)c->fq_lwork * d, "fast path: QR workspace", err));
  std::vector<double *> gp(cap), tp(cap);
  for (size_t j = 0; j < cap; j++) gp[j] = c->fq_G + j * n * n, tp[j] = c->fq_Gtau + j * n;
  BLORC_CUDA_CHECK(
      cudaMemcpy(c->fq_Gptr, gp.data(), cap * sizeof(double *), cudaMemcpyHostToDevice));
  BLORC_CUDA_CHECK(
      cudaMemcpy(c->fq_Tptr, tp.data(), cap * sizeof(double *), cudaMemcpyHostToDevice));
  return BLORC_OK;
}

blorc_status read_info(cuda_state *c, const char *call, blorc_error *err) {
  int info = 0;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(&info, c->info, sizeof info, cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  if (info < 0)
    return blorc_fail(err, BLORC_EDEVICE, "svd: %s of W^T: parameter %d is wrong", call, -info);
  if (info > 0)
    return blorc_fail(err, BLORC_ENUMERIC, "svd: %s of W^T failed (info %d)", call, info);
  return BLORC_OK;
}

// AUTO: whether the estimate favours the fast path for this batch's patterns.
blorc_status fast_pays(blorc_backend *b, int *pays, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, B = b->B;
  BLORC_LAUNCH(cost_kernel, (B + 127) / 128, 128, 0, c->stream)(n, b->k, B, c->S, c->fq_cost);
  BLORC_CUDA_CHECK_LAUNCH("svd: cost estimate");
  double saved = 0;
  BLORC_TRY(cuda_sum(c, c->fq_cost, B, &saved, "svd: the cost estimate", err));
  *pays = saved > 4.0 * n * n * n;
  return BLORC_OK;
}

// Once per minibatch: W^T = Q R, the guard, then Q (n x n) and W^+. *use = 0 when the guard
// fails (W too ill conditioned for the path; the caller runs the Jacobi kernel).
blorc_status prepare(blorc_backend *b, double rel_tol, int *use, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k;
  double one = 1, zero = 0;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(c->fq_Q, c->W, (size_t)n * k * sizeof(double),
                                   cudaMemcpyDeviceToDevice, c->stream));
  BLORC_CUSOLVER_CHECK(
      cusolverDnDgeqrf(c->solver, n, k, c->fq_Q, n, c->fq_tau, c->fq_work, c->fq_lwork, c->info));
  BLORC_LAUNCH(set_identity, cuda_grid_for((size_t)k * k), 256, 0, c->stream)(k, c->fq_Rinv);
  BLORC_CUDA_CHECK_LAUNCH("svd: identity");
  BLORC_CUBLAS_CHECK(cublasDtrsm(c->blas, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N,
                                 CUBLAS_DIAG_NON_UNIT, k, k, &one, c->fq_Q, n, c->fq_Rinv, k));
  BLORC_LAUNCH(guard_kernel, 1, 256, 0, c->stream)(n, k, c->fq_Q, c->fq_Rinv, c->fq_guard);
  BLORC_CUDA_CHECK_LAUNCH("svd: guard");
  double g = 0;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(&g, c->fq_guard, sizeof g, cudaMemcpyDeviceToHost, c->stream));
  BLORC_TRY(read_info(c, "geqrf", err));  // synchronises, so g has arrived too
  // The CPU's margin (src/cpu/svd.c): every W0m then has full row rank by the rank rule.
  double guard = fmax(1e3 * rel_tol, 1e-6);
  *use = g > guard;  // a singular R gives inf or NaN here: no
  if (!*use) return BLORC_OK;
  BLORC_CUSOLVER_CHECK(cusolverDnDorgqr(c->solver, n, n, k, c->fq_Q, n, c->fq_tau, c->fq_work,
                                        c->fq_lwork, c->info));
  BLORC_TRY(read_info(c, "orgqr", err));
  // W^+ = Q_k R^-T (R^-1 is upper triangular with exact zeros below: a GEMM is exact there).
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, k, k, &one, c->fq_Q, n,
                                 c->fq_Rinv, k, &zero, c->Wpinv, n));
  return BLORC_OK;
}

}  // namespace

const double *cuda_pinv_map(const blorc_backend *b) {
  const cuda_state *c = cuda_of(b);
  return b->svd_used == BLORC_SVD_FAST ? c->Wpinv : c->W;
}

const double *cuda_singular_values(const blorc_backend *b) {
  return b->svd_used == BLORC_SVD_FAST ? nullptr : cuda_of(b)->sv;
}

blorc_status cuda_svd_fast(blorc_backend *b, double rel_tol, int *ran, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  *ran = 0;
  if (k > n) return BLORC_OK;  // W^+ W0 = [I 0] needs full row rank
  if (k > 1024)
    return blorc_fail(err, BLORC_EINVAL, "svd: k = %d rows; the CUDA fast path handles up to 1024",
                      k);
  if (!c->fq_G) BLORC_TRY(fast_init(b, err));
  // A polish round keeps the batch's W^+ (W is unchanged) and redoes the samples it moved.
  const int *redo = b->svd_partial ? c->redo : nullptr;
  if (!redo) {
    if (b->svd_method == BLORC_SVD_AUTO) {
      int pays = 0;
      BLORC_TRY(fast_pays(b, &pays, err));
      if (!pays) return BLORC_OK;
    }
    int use = 0;
    BLORC_TRY(prepare(b, rel_tol, &use, err));
    if (!use) return BLORC_OK;
  }
  BLORC_LAUNCH(build_basis, B, 256, 0, c->stream)
  (n, k, c->fq_Q, c->Wpinv, c->S, c->fq_G, c->rank, redo);
  BLORC_CUDA_CHECK_LAUNCH("svd: bases of null(W0m)");
  int info = 0;
  BLORC_CUBLAS_CHECK(cublasDgeqrfBatched(c->blas, n, n, c->fq_Gptr, n, c->fq_Tptr, &info, B));
  if (info != 0)
    return blorc_fail(err, BLORC_EDEVICE, "svd: geqrfBatched: parameter %d is wrong", -info);
  BLORC_LAUNCH(apply_reflectors, B, 256, 0, c->stream)
  (n, b->kn, c->fq_G, c->fq_Gtau, c->rank, c->Vs, redo);
  BLORC_CUDA_CHECK_LAUNCH("svd: reflectors");
  *ran = 1;
  return BLORC_OK;
}
