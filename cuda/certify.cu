// The certificate and the active-set polish on the GPU, the same steps as src/cpu/certify.c:
//   a = a_cur + (W0m^+)^T (q - W0m^T a_cur) on Z (the dual of the closed form nearest the
//   polish's current one), v = W x*, stationarity x* - y + W^T (s + a); the per-sample
//   decisions are blorc/active_set.h's, one thread per sample (k rows each: tiny next to the
//   GEMMs and the SVD).
#include "blorc/active_set.h"
#include "cuda_backend.h"
#include "device_math.cuh"
#include "launch.h"

namespace {

constexpr int kSampleThreads = 64;

unsigned sample_blocks(int B) {
  return (unsigned)((B + kSampleThreads - 1) / kSampleThreads);
}

__global__ void row_norms_kernel(int n, int k, const double *W, double *rn) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= k) return;
  double s = 0;
  for (int e = 0; e < n; e++) s += W[(size_t)i * n + e] * W[(size_t)i * n + e];
  rn[i] = sqrt(s);
}

// Per sample: the starting dual from ADMM's (when start), then T = s + mask0 a_cur.
__global__ void dual_start_kernel(int k, int B, int start, double rho, const double *S,
                                  const double *U, double *Dcur, double *T) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= B) return;
  size_t o = (size_t)j * k;
  if (start) {
    for (int i = 0; i < k; i++) T[o + i] = rho * U[o + i];
    blorc_polish_start(k, S + o, T + o, Dcur + o);
  }
  for (int i = 0; i < k; i++) T[o + i] = S[o + i] != 0.0 ? S[o + i] : Dcur[o + i];
}

// One block per sample: w = V_r S_r^-2 V_r^T r for the residual r (Rn's column).
__global__ void dual_project_kernel(int n, int kn, const double *Vs, const double *sv,
                                    const int *rank, const double *Rn, double *Wr) {
  BLORC_DYNAMIC_SHARED(double, sm);
  double *v = sm, *coef = v + n;  // n + kn doubles
  const int j = blockIdx.x;
  for (int i = threadIdx.x; i < n; i += blockDim.x) v[i] = Rn[(size_t)j * n + i];
  __syncthreads();
  blorc_cuda::project(n, rank[j], Vs + (size_t)j * n * kn, sv ? sv + (size_t)j * kn : nullptr, v,
                      Wr + (size_t)j * n, coef);
}

// a = mask0 .* (W w + a_cur): rows off Z are not rows of W0m.
__global__ void dual_finish_kernel(size_t len, const double *S, const double *Dcur, double *Ac) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < len;
       i += (size_t)gridDim.x * blockDim.x)
    Ac[i] = S[i] != 0.0 ? 0.0 : Ac[i] + Dcur[i];
}

__global__ void certificate_kernel(int n, int k, int B, double tol, const double *S,
                                   const double *Vx, const double *Ac, const double *rn,
                                   const double *ynorm, const double *Rn, double *cert) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= B) return;
  double s2 = 0;
  for (int i = 0; i < n; i++) s2 += Rn[(size_t)j * n + i] * Rn[(size_t)j * n + i];
  double ys = ynorm[j] > 1.0 ? ynorm[j] : 1.0;
  size_t o = (size_t)j * k;
  blorc_certificate(k, S + o, Vx + o, Ac + o, rn, ys, sqrt(s2), tol,
                    cert + (size_t)j * BLORC_CERT_COLUMNS);
}

// No unique minimiser: the closed form is not this pattern's solution.
__global__ void not_unique_kernel(int B, const int *uniq, double *cert) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < B && !uniq[j]) cert[(size_t)j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] = 0.0;
}

__global__ void polish_step_kernel(int k, int B, double tol, int from_admm, double rho,
                                   const double *cert, const double *Z, const double *U,
                                   const double *Ac, const double *Vx, const double *rn,
                                   const double *ynorm, double *S, double *Dcur, double *T,
                                   int *redo, int *moved) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= B) return;
  redo[j] = 0, moved[j] = 0;
  if (cert[(size_t)j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] != 0.0) return;
  size_t o = (size_t)j * k;
  double ys = ynorm[j] > 1.0 ? ynorm[j] : 1.0;
  int m = 0;
  if (from_admm) {
    for (int i = 0; i < k; i++) T[o + i] = rho * U[o + i];
    m = blorc_polish_from_admm(k, S + o, Z + o, T + o, Dcur + o);
  }
  if (m == 0) m = blorc_polish_step(k, S + o, Dcur + o, Ac + o, Vx + o, rn, ys, tol);
  redo[j] = m > 0;
  moved[j] = m;
}

}  // namespace

blorc_status cuda_certify(blorc_backend *b, double tol, int start, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, kn = b->kn, B = b->B;
  size_t kB = (size_t)k * B, nB = (size_t)n * B;
  double one = 1, minus = -1, zero = 0;
  BLORC_LAUNCH(row_norms_kernel, (unsigned)((k + 63) / 64), 64, 0, c->stream)(n, k, c->W, c->rn);
  BLORC_CUDA_CHECK_LAUNCH("certify: row norms");
  BLORC_LAUNCH(dual_start_kernel, sample_blocks(B), kSampleThreads, 0, c->stream)
  (k, B, start, b->rho, c->S, c->U, c->Dcur, c->Tk);
  BLORC_CUDA_CHECK_LAUNCH("certify: dual start");
  // Rn = y - W^T (s + mask0 a_cur)
  BLORC_CUDA_CHECK(
      cudaMemcpyAsync(c->Rn, c->Y, nB * sizeof(double), cudaMemcpyDeviceToDevice, c->stream));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, B, k, &minus, c->W, n, c->Tk,
                                 k, &one, c->Rn, n));
  // With an operator the stationarity holds B x*, not x*: Rn -= B x* (which lies in
  // range(W0^T) then), and the residual below starts from B x* - A^T y.
  const int op = c->op != BLORC_OP_IDENTITY;
  if (op) {
    BLORC_TRY(cuda_op_normal(c, n, B, c->Xs, err));
    BLORC_CUBLAS_CHECK(cublasDgeam(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, B, &one, c->Rn, n, &minus,
                                   c->Mv, n, c->Rn, n));
  }
  size_t smem = sizeof(double) * ((size_t)n + kn);
  if (smem > 48 * 1024)
    BLORC_CUDA_CHECK(cudaFuncSetAttribute(dual_project_kernel,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  BLORC_LAUNCH(dual_project_kernel, B, cuda_threads_for(n), smem, c->stream)
  (n, kn, c->Vs, cuda_singular_values(b), c->rank, c->Rn, c->Wr);
  BLORC_CUDA_CHECK_LAUNCH("certify: dual projection");
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, k, B, n, &one, cuda_pinv_map(b),
                                 n, c->Wr, n, &zero, c->Ac, k));
  BLORC_LAUNCH(dual_finish_kernel, cuda_grid_for(kB), 256, 0, c->stream)(kB, c->S, c->Dcur, c->Ac);
  BLORC_CUDA_CHECK_LAUNCH("certify: dual");
  // v = W x*; Rn = x* - y + W^T (s + a)
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, k, B, n, &one, c->W, n, c->Xs,
                                 n, &zero, c->Vx, k));
  BLORC_CUBLAS_CHECK(cublasDgeam(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, k, B, &one, c->S, k, &one,
                                 c->Ac, k, c->Tk, k));
  BLORC_CUBLAS_CHECK(cublasDgeam(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, B, &one, op ? c->Mv : c->Xs,
                                 n, &minus, c->Y, n, c->Rn, n));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, B, k, &one, c->W, n, c->Tk,
                                 k, &one, c->Rn, n));
  BLORC_LAUNCH(certificate_kernel, sample_blocks(B), kSampleThreads, 0, c->stream)
  (n, k, B, tol, c->S, c->Vx, c->Ac, c->rn, c->ynorm, c->Rn, c->cert);
  BLORC_CUDA_CHECK_LAUNCH("certify: certificate");
  if (op) {
    BLORC_LAUNCH(not_unique_kernel, sample_blocks(B), kSampleThreads, 0, c->stream)
    (B, c->uniq, c->cert);
    BLORC_CUDA_CHECK_LAUNCH("certify: uniqueness");
  }
  return BLORC_OK;
}

blorc_status cuda_polish_step(blorc_backend *b, double tol, int from_admm, long long *moved,
                              blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int B = b->B;
  BLORC_LAUNCH(polish_step_kernel, sample_blocks(B), kSampleThreads, 0, c->stream)
  (b->k, B, tol, from_admm, b->rho, c->cert, c->Z, c->U, c->Ac, c->Vx, c->rn, c->ynorm, c->S,
   c->Dcur, c->Tk, c->redo, c->moved);
  BLORC_CUDA_CHECK_LAUNCH("polish_step");
  long long now = 0;
  BLORC_TRY(cuda_sum(c, c->moved, B, &now, "polish: the rows moved", err));
  *moved += now;
  return BLORC_OK;
}
