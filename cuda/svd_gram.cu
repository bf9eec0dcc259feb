// Stage 4 by cuSOLVER for masked matrices beyond gesvdjBatched's 32 x 32: per sample the Gram
// matrix W0m^T W0m (n x n, cuBLAS's strided batched GEMM on the packed W0^T) and its
// eigendecomposition by cusolverDnXsyevBatched. Eigenvalues carry an absolute error of about
// n eps lambda_1, so sigma_i = sqrt(lambda_i) cannot decide the rank rule sigma_i > rel_tol
// sigma_1 near 1e-8 (lambda ratio 1e-16, below eps). A sample is certified only when its
// structural rank p = min(k0, n) is clear: lambda_p >= kGramRatio lambda_1, the n - p
// remaining eigenvalues are rounding-sized, and each kept pair's residual is too. Then rank = p and
// V_r, S_r come from the eigenvectors with error about n eps / kGramRatio (1e-10 at n = 64, the
// bound the tests state); every other sample (and any that did not converge) is redone by the
// Jacobi kernel, and their count is added to the backend's fallback counter (blorc_svd_fallbacks).
#include <cstdlib>
#include <vector>

#include "cuda_backend.h"
#include "device_math.cuh"
#include "launch.h"

namespace {

using blorc_cuda::warp_sum;

// lambda_p / lambda_1 >= 1e-4, i.e. sigma_p / sigma_1 >= 1e-2: kappa^2 eps stays near 1e-12.
constexpr double kGramRatio = 1e-4;

// P_j = W^T with the columns of rows s_i != 0 zeroed (n x k), so P_j P_j^T = W0m^T W0m.
__global__ void pack_rows(int n, int k, const double *W, const double *S, double *P) {
  const int j = blockIdx.x;
  const double *s = S + (size_t)j * k;
  double *Pj = P + (size_t)j * n * k;
  for (int e = threadIdx.x; e < n * k; e += blockDim.x) Pj[e] = s[e / n] == 0.0 ? W[e] : 0.0;
}

// Per sample: rank, singular values and V_r from the ascending eigenvalues L and eigenvectors G
// when the rank is certified (see above) and each kept pair's residual | ||W0m v||^2 - lambda |
// (from the packed P, W0m v = P^T v) is rounding-sized; otherwise redo[j] = 1 for the Jacobi
// kernel.
__global__ void unpack_gram(int n, int k, int kn, const double *S, const double *P, const double *L,
                            const double *G, const int *info, double min_ratio, double *sv,
                            double *Vs, int *rank, int *redo) {
  BLORC_SHARED(int, ps, 1);
  BLORC_SHARED(int, bad, 32);  // per warp: a kept pair failed its residual
  const int j = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5,
            nwarps = blockDim.x >> 5;
  const double *Lj = L + (size_t)j * n, *Sj = S + (size_t)j * k, *Pj = P + (size_t)j * n * k;
  const double *Gj = G + (size_t)j * n * n;
  const double top = Lj[n - 1], noise = 64.0 * n * 2.3e-16 * top;
  if (threadIdx.x == 0) {
    int k0 = 0;
    for (int i = 0; i < k; i++) k0 += Sj[i] == 0.0;
    int p = k0 < n ? k0 : n;
    bool ok = info[j] == 0 && (p == 0 || (top > 0 && Lj[n - p] >= min_ratio * top));
    for (int i = 0; ok && i < n - p; i++) ok = fabs(Lj[i]) <= noise;
    ps[0] = ok ? p : -1;
  }
  if (lane == 0) bad[warp] = 0;
  __syncthreads();
  int p = ps[0];
  for (int q = warp; q < p; q += nwarps) {  // eigenvector n - 1 - q, eigenvalue Lj[n - 1 - q]
    const double *v = Gj + (size_t)(n - 1 - q) * n;
    double norm2 = 0;
    for (int c = 0; c < k; c++) {
      if (Sj[c] != 0.0) continue;  // not a row of W0m
      double d = 0;
      for (int i = lane; i < n; i += 32) d += Pj[(size_t)c * n + i] * v[i];
      d = warp_sum(d);
      norm2 += d * d;
    }
    if (lane == 0 && !(fabs(norm2 - Lj[n - 1 - q]) <= noise)) bad[warp] = 1;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 0; w < nwarps && ps[0] >= 0; w++)
      if (bad[w]) ps[0] = -1;
    redo[j] = ps[0] < 0;
    if (ps[0] >= 0) rank[j] = ps[0];
  }
  __syncthreads();
  p = ps[0];
  if (p < 0) return;
  double *svj = sv + (size_t)j * kn, *V = Vs + (size_t)j * n * kn;
  for (int q = threadIdx.x; q < kn; q += blockDim.x) svj[q] = q < p ? sqrt(Lj[n - 1 - q]) : 0.0;
  for (int e = threadIdx.x; e < n * kn; e += blockDim.x) {
    int i = e % n, q = e / n;
    V[e] = q < p ? Gj[(size_t)(n - 1 - q) * n + i] : 0.0;
  }
}

// Arrays, parameters and workspaces at the first use (n^2 per sample).
blorc_status gram_init(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int64_t n = b->n, cap = b->cap;
  size_t d = sizeof(double);
  if (n * n * cap > 2147483647LL)
    return blorc_fail(err, BLORC_EINVAL,
                      "svd method cusolver: n^2 x batch = %lld exceeds syevBatched's limit "
                      "(2^31 - 1); use jacobi or a smaller batch",
                      (long long)(n * n * cap));
  BLORC_TRY(dev_alloc(b, (void **)&c->gr_G, (size_t)(n * n * cap) * d, "Gram matrices", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->gr_L, (size_t)(n * cap) * d, "Gram eigenvalues", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->gr_info, (size_t)cap * sizeof(int), "syevBatched info", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->gr_redo, (size_t)cap * sizeof(int), "Jacobi flags", err));
  BLORC_CUSOLVER_CHECK(cusolverDnCreateParams(&c->gr_params));
  BLORC_CUSOLVER_CHECK(cusolverDnXsyevBatched_bufferSize(
      c->solver, c->gr_params, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n, CUDA_R_64F,
      c->gr_G, n, CUDA_R_64F, c->gr_L, CUDA_R_64F, &c->gr_dbytes, &c->gr_hbytes, cap));
  BLORC_TRY(dev_alloc(b, (void **)&c->gr_work, c->gr_dbytes, "syevBatched workspace", err));
  c->gr_host = malloc(c->gr_hbytes ? c->gr_hbytes : 1);
  if (!c->gr_host)
    return blorc_fail(err, BLORC_ENOMEM, "out of host memory for syevBatched's workspace");
  return BLORC_OK;
}

}  // namespace

blorc_status cuda_svd_gram(blorc_backend *b, double rel_tol, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  if (!c->gr_G) BLORC_TRY(gram_init(b, err));
  BLORC_LAUNCH(pack_rows, B, 256, 0, c->stream)(n, k, c->W, c->S, c->svd_work);
  BLORC_CUDA_CHECK_LAUNCH("svd: pack for the Gram matrices");
  double one = 1, zero = 0;
  BLORC_CUBLAS_CHECK(cublasDgemmStridedBatched(
      c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, n, k, &one, c->svd_work, n, (long long)n * k,
      c->svd_work, n, (long long)n * k, &zero, c->gr_G, n, (long long)n * n, B));
  BLORC_CUSOLVER_CHECK(cusolverDnXsyevBatched(
      c->solver, c->gr_params, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n, CUDA_R_64F,
      c->gr_G, n, CUDA_R_64F, c->gr_L, CUDA_R_64F, c->gr_work, c->gr_dbytes, c->gr_host,
      c->gr_hbytes, c->gr_info, B));
  std::vector<int> info(B);
  BLORC_CUDA_CHECK(
      cudaMemcpyAsync(info.data(), c->gr_info, B * sizeof(int), cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int j = 0; j < B; j++)  // > 0 (not converged): that sample goes to the Jacobi kernel
    if (info[j] < 0)
      return blorc_fail(err, BLORC_EDEVICE, "svd: syevBatched: parameter %d is wrong", -info[j]);
  double ratio = 1e3 * rel_tol * 1e3 * rel_tol;  // the fast path's margin over rel_tol, squared
  BLORC_LAUNCH(unpack_gram, B, 128, 0, c->stream)
  (n, k, b->kn, c->S, c->svd_work, c->gr_L, c->gr_G, c->gr_info,
   ratio > kGramRatio ? ratio : kGramRatio, c->sv, c->Vs, c->rank, c->gr_redo);
  BLORC_CUDA_CHECK_LAUNCH("svd: Gram eigenpairs");
  long long redo = 0;
  BLORC_TRY(cuda_sum(c, c->gr_redo, B, &redo, "svd: the Jacobi flags", err));
  if (redo == 0) return BLORC_OK;
  b->svd_fallbacks += redo;
  return cuda_svd_jacobi(b, rel_tol, c->gr_redo, err);
}
