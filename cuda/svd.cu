// Stage 4 on the GPU: per sample, the SVD of the masked W0m = diag(s == 0) W by a one-sided
// (Hestenes) Jacobi SVD, one block per sample, or (BLORC_SVD_GPU_CUSOLVER, k, n <= 32) by
// cuSOLVER's gesvdjBatched on the masked k x n matrices. The rows of W0 are packed as the columns
// of A = W0^T (n x k0); Jacobi rotations orthogonalise those columns, after which the column norms
// are the singular values and the normalised columns the right singular vectors V of W0m, exactly
// what src/cpu/svd.c gets from LAPACK dgesdd. Jacobi keeps small singular values to high relative
// accuracy, so the rank decision sigma_i > rel_tol sigma_1 matches the CPU's; Gram-matrix methods
// (gesvda, syevBatched on W0m^T W0m) would blur it below 1e-8.
#include <vector>

#include "cuda_backend.h"
#include "device_math.cuh"
#include "launch.h"

namespace {

constexpr int kThreads = 256;  // 8 warps, each rotating column pairs

using blorc_cuda::warp_sum;

__global__ void jacobi_svd(int n, int k, int kn, const double *W, const double *S, double *work,
                           double *sv, double *Vs, int *rank, int *failed, double rel_tol,
                           int max_sweeps, const int *redo) {
  BLORC_SHARED(int, cols, 1024);  // packed column -> row of W (k <= 1024 checked by the caller)
  BLORC_SHARED(int, k0s, 1);
  BLORC_SHARED(int, rotated, 1);
  BLORC_SHARED(double, norms, 1024);
  BLORC_SHARED(double, part, kThreads / 32);
  const int j = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5,
            nwarps = blockDim.x >> 5;
  if (redo && !redo[j]) return;  // a polish round: this sample's pattern did not change
  const double *s = S + (size_t)j * k;
  double *A = work + (size_t)j * n * k;
  if (threadIdx.x == 0) {
    int m = 0;
    for (int i = 0; i < k; i++)
      if (s[i] == 0.0) cols[m++] = i;
    k0s[0] = m;
    rotated[0] = 0;
  }
  __syncthreads();
  const int k0 = k0s[0];
  for (int e = threadIdx.x; e < n * k0; e += blockDim.x) {
    int i = e % n, q = e / n;
    A[(size_t)q * n + i] = W[(size_t)cols[q] * n + i];  // column q of A = row cols[q] of W
  }
  // ||A||_F^2, which rotations preserve: with more zero rows than n (k0 > n), k0 - n columns
  // must end as rounding noise, whose directions are random; a relative orthogonality test
  // between noise columns never passes, so columns below n eps ||A||_F count as converged.
  double f2 = 0;
  for (int e = threadIdx.x; e < n * k0; e += blockDim.x) {
    int i = e % n, q = e / n;
    double v = W[(size_t)cols[q] * n + i];
    f2 += v * v;
  }
  f2 = warp_sum(f2);
  if (lane == 0) part[warp] = f2;
  __syncthreads();
  double frob2 = 0;
  for (int w = 0; w < nwarps; w++) frob2 += part[w];
  const double negligible = (n * 2.3e-16) * (n * 2.3e-16) * frob2;
  // Round-robin ordering: m (even) players, m - 1 rounds of m / 2 disjoint pairs.
  const int m = k0 + (k0 & 1);
  int sweep = 0;
  // rotated[0] holds the last sweep (counted from 1) in which any pair rotated: a stamp that
  // only grows, so no thread resets it and none can read a reset too early or too late (a
  // thread that sees a later sweep's stamp knows this sweep rotated too). A reset flag needed
  // a barrier before and after each test, which the emulation cannot see missing (it
  // interleaves threads only at barriers and shuffles): scripts/mutate_cuda.sh.
  for (; sweep < max_sweeps && k0 > 1; sweep++) {
    for (int round = 0; round < m - 1; round++) {
      for (int pair = warp; pair < m / 2; pair += nwarps) {
        int p = pair == 0 ? m - 1 : (round + pair) % (m - 1);
        int q = (round + m - 1 - pair) % (m - 1);
        if (p >= k0 || q >= k0) continue;  // the dummy player of an odd count
        double *ap = A + (size_t)p * n, *aq = A + (size_t)q * n;
        double alpha = 0, beta = 0, gamma = 0;
        for (int i = lane; i < n; i += 32)
          alpha += ap[i] * ap[i], beta += aq[i] * aq[i], gamma += ap[i] * aq[i];
        alpha = warp_sum(alpha), beta = warp_sum(beta), gamma = warp_sum(gamma);
        if (alpha <= negligible || beta <= negligible) continue;
        // Orthogonal to rounding (n eps, as LAPACK): further rotations would only churn.
        if (fabs(gamma) <= fmax(1e-15, n * 2.3e-16) * sqrt(alpha * beta) || gamma == 0.0) continue;
        double zeta = (beta - alpha) / (2.0 * gamma);
        double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
        double cs = 1.0 / sqrt(1.0 + t * t), sn = cs * t;
        for (int i = lane; i < n; i += 32) {
          double x = ap[i], y = aq[i];
          ap[i] = cs * x - sn * y;
          aq[i] = sn * x + cs * y;
        }
        if (lane == 0) rotated[0] = sweep + 1;
      }
      __syncthreads();
    }
    if (rotated[0] < sweep + 1) break;
  }
  // Still rotating after the cap: not converged, and the host is told.
  if (threadIdx.x == 0) failed[j] = k0 > 1 && sweep == max_sweeps;
  // Column norms are the singular values; sort them descending with their columns.
  for (int q = warp; q < k0; q += nwarps) {
    double v = 0;
    for (int i = lane; i < n; i += 32) v += A[(size_t)q * n + i] * A[(size_t)q * n + i];
    v = warp_sum(v);
    if (lane == 0) norms[q] = sqrt(v);
  }
  __syncthreads();
  double *svj = sv + (size_t)j * kn, *V = Vs + (size_t)j * n * kn;
  if (threadIdx.x == 0) {
    for (int q = 0; q < k0; q++) cols[q] = q;  // reuse as the sort order
    for (int a = 1; a < k0; a++)               // insertion sort: k0 is small
      for (int b = a; b > 0 && norms[cols[b]] > norms[cols[b - 1]]; b--) {
        int tmp = cols[b];
        cols[b] = cols[b - 1], cols[b - 1] = tmp;
      }
    int mk = k0 < n ? k0 : n, r = 0;
    double top = k0 > 0 ? norms[cols[0]] : 0;
    for (int q = 0; q < kn; q++) svj[q] = q < mk ? norms[cols[q]] : 0.0;
    while (r < mk && svj[r] > rel_tol * top) r++;
    rank[j] = r;
    k0s[0] = r;
  }
  __syncthreads();
  const int r = k0s[0];
  for (int e = threadIdx.x; e < n * kn; e += blockDim.x) {
    int i = e % n, q = e / n;
    V[e] = q < r ? A[(size_t)cols[q] * n + i] / norms[cols[q]] : 0.0;
  }
}

// gesvdjBatched's input: per sample the masked W0m = diag(s == 0) W, k x n column-major.
__global__ void pack_masked(int n, int k, const double *W, const double *S, double *A) {
  const int j = blockIdx.x;
  const double *s = S + (size_t)j * k;
  double *Aj = A + (size_t)j * k * n;
  for (int e = threadIdx.x; e < k * n; e += blockDim.x) {
    int row = e % k, col = e / k;
    Aj[e] = s[row] == 0.0 ? W[(size_t)row * n + col] : 0.0;
  }
}

// From gesvdjBatched's sorted singular values and V (n x n per sample): the rank by the CPU's
// rule, the singular values and the first rank columns of V, in the Jacobi kernel's layout.
__global__ void unpack_svd(int n, int kn, const double *Sg, const double *Vg, double rel_tol,
                           double *sv, double *Vs, int *rank) {
  BLORC_SHARED(int, rs, 1);
  const int j = blockIdx.x;
  const double *Sj = Sg + (size_t)j * kn;
  if (threadIdx.x == 0) {
    int r = 0;
    while (r < kn && Sj[r] > rel_tol * Sj[0]) r++;
    rank[j] = r;
    rs[0] = r;
  }
  for (int q = threadIdx.x; q < kn; q += blockDim.x) sv[(size_t)j * kn + q] = Sj[q];
  __syncthreads();
  const int r = rs[0];
  double *V = Vs + (size_t)j * n * kn;
  for (int e = threadIdx.x; e < n * kn; e += blockDim.x)
    V[e] = e / n < r ? Vg[(size_t)j * n * n + e] : 0.0;
}

// Stage 4 by cuSOLVER's batched Jacobi SVD (k, n <= 32), every info checked.
blorc_status svd_cusolver(blorc_backend *b, double rel_tol, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  BLORC_LAUNCH(pack_masked, B, 256, 0, c->stream)(n, k, c->W, c->S, c->gj_A);
  BLORC_CUDA_CHECK_LAUNCH("pack_masked");
  BLORC_CUSOLVER_CHECK(cusolverDnDgesvdjBatched(c->solver, CUSOLVER_EIG_MODE_VECTOR, k, n, c->gj_A,
                                                k, c->gj_S, c->gj_U, k, c->gj_V, n, c->gj_work,
                                                c->gj_lwork, c->gj_info, c->gj_params, B));
  std::vector<int> info(B);
  BLORC_CUDA_CHECK(
      cudaMemcpyAsync(info.data(), c->gj_info, B * sizeof(int), cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  for (int j = 0; j < B; j++) {
    if (info[j] < 0)
      return blorc_fail(err, BLORC_EDEVICE, "svd: gesvdjBatched: parameter %d is wrong", -info[j]);
    if (info[j] > 0)
      return blorc_fail(err, BLORC_ENUMERIC,
                        "svd: gesvdjBatched did not converge for sample %d of the batch (info %d)",
                        j, info[j]);
  }
  BLORC_LAUNCH(unpack_svd, B, 128, 0, c->stream)
  (n, b->kn, c->gj_S, c->gj_V, rel_tol, c->sv, c->Vs, c->rank);
  BLORC_CUDA_CHECK_LAUNCH("unpack_svd");
  return BLORC_OK;
}

}  // namespace

blorc_status cuda_gesvdj_init(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  size_t n = b->n, k = b->k, cap = b->cap, kn = b->kn, d = sizeof(double);
  BLORC_TRY(dev_alloc(b, (void **)&c->gj_A, k * n * cap * d, "gesvdj input", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->gj_S, kn * cap * d, "gesvdj singular values", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->gj_U, k * k * cap * d, "gesvdj U", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->gj_V, n * n * cap * d, "gesvdj V", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->gj_info, cap * sizeof(int), "gesvdj info", err));
  BLORC_CUSOLVER_CHECK(cusolverDnCreateGesvdjInfo(&c->gj_params));
  BLORC_CUSOLVER_CHECK(cusolverDnXgesvdjSetSortEig(c->gj_params, 1)); /* rank by the largest */
  BLORC_CUSOLVER_CHECK(cusolverDnDgesvdjBatched_bufferSize(
      c->solver, CUSOLVER_EIG_MODE_VECTOR, (int)k, (int)n, c->gj_A, (int)k, c->gj_S, c->gj_U,
      (int)k, c->gj_V, (int)n, &c->gj_lwork, c->gj_params, (int)cap));
  return dev_alloc(b, (void **)&c->gj_work, (size_t)c->gj_lwork * d, "gesvdj workspace", err);
}

blorc_status cuda_svd_jacobi(blorc_backend *b, double rel_tol, const int *flags, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  if (b->k > 1024)
    return blorc_fail(err, BLORC_EINVAL, "svd: k = %d rows; the CUDA Jacobi SVD handles up to 1024",
                      b->k);
  // Skipped samples leave their flag as it was: start from none.
  if (flags) BLORC_CUDA_CHECK(cudaMemsetAsync(c->svd_failed, 0, b->B * sizeof(int), c->stream));
  BLORC_LAUNCH(jacobi_svd, b->B, kThreads, 0, c->stream)
  (b->n, b->k, b->kn, c->W, c->S, c->svd_work, c->sv, c->Vs, c->rank, c->svd_failed, rel_tol,
   c->svd_max_sweeps, flags);
  BLORC_CUDA_CHECK_LAUNCH("jacobi_svd");
  long long failed = 0;
  BLORC_TRY(cuda_sum(c, c->svd_failed, b->B, &failed, "svd: the convergence flags", err));
  if (failed == 0) return BLORC_OK;
  std::vector<int> flags_h(b->B);
  BLORC_CUDA_CHECK(cudaMemcpy(flags_h.data(), c->svd_failed, flags_h.size() * sizeof(int),
                              cudaMemcpyDeviceToHost));
  int first = 0;
  while (first < b->B && !flags_h[first]) first++;
  return blorc_fail(err, BLORC_ENUMERIC,
                    "svd: the Jacobi SVD did not converge within %d sweeps for %lld of %d samples "
                    "(first: sample %d of the batch)",
                    c->svd_max_sweeps, failed, b->B, first);
}

// Which variant runs: a polish round keeps the batch's; GPU_CUSOLVER is gesvdjBatched up to
// 32 x 32 and the Gram path beyond; FAST and AUTO try the fast path (AUTO by its estimate);
// the Jacobi kernel otherwise, and wherever the fast path does not apply. Only here is
// b->svd_used set: how the closed form reads the factorisation.
blorc_status cuda_svd(blorc_backend *b, double rel_tol, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  blorc_svd_method want = b->svd_partial ? b->svd_used : b->svd_method;
  if (want == BLORC_SVD_GPU_CUSOLVER) {
    BLORC_TRY(c->gj_params ? svd_cusolver(b, rel_tol, err) : cuda_svd_gram(b, rel_tol, err));
    b->svd_used = BLORC_SVD_GPU_CUSOLVER;
    return BLORC_OK;
  }
  int ran = 0;
  if (want == BLORC_SVD_FAST || want == BLORC_SVD_AUTO)
    BLORC_TRY(cuda_svd_fast(b, rel_tol, &ran, err));
  if (!ran) BLORC_TRY(cuda_svd_jacobi(b, rel_tol, b->svd_partial ? c->redo : nullptr, err));
  b->svd_used = ran ? BLORC_SVD_FAST : BLORC_SVD_GPU_JACOBI;
  return BLORC_OK;
}
