// Stage 1 on the GPU: Cholesky of I + rho W^T W (cuSOLVER potrf; A^T A + ridge I + rho W^T W
// with an operator, forward_op.cu), K = rho (I + rho W^T W)^{-1}
// W^T (potrs) and Q = W K (cuBLAS), as src/cpu/factor.c does on the host.
#include "cuda_backend.h"
#include "launch.h"

namespace {

// Adds the identity to the lower triangle and flags any non-finite entry: a diverged W
// overflows W^T W before the Cholesky notices anything.
__global__ void add_identity_check(int n, double *L, int *bad) {
  int j = blockIdx.x;
  for (int i = j + threadIdx.x; i < n; i += blockDim.x) {
    double v = L[(size_t)j * n + i] + (i == j ? 1.0 : 0.0);
    L[(size_t)j * n + i] = v;
    if (!isfinite(v)) *bad = 1;
  }
}

__global__ void scale_copy(size_t len, double a, const double *src, double *dst) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < len;
       i += (size_t)gridDim.x * blockDim.x)
    dst[i] = a * src[i];
}

}  // namespace

// Copies the device info word and fails naming the call when it is non-zero.
static blorc_status check_info(cuda_state *c, const char *what, blorc_error *err) {
  int info = 0;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(&info, c->info, sizeof info, cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  if (info != 0)
    return blorc_fail(err, BLORC_ENUMERIC, "factor: %s failed (device info %d)", what, info);
  return BLORC_OK;
}

// K = rho K_rho^{-1} W^T and Q = W K from the factor in c->L.
static blorc_status make_kq(cuda_state *c, int n, int k, double rho, blorc_error *err) {
  double one = 1, zero = 0;
  BLORC_LAUNCH(scale_copy, 64, 256, 0, c->stream)((size_t)n * k, rho, c->W, c->K);
  BLORC_CUDA_CHECK_LAUNCH("scale_copy");
  BLORC_CUSOLVER_CHECK(
      cusolverDnDpotrs(c->solver, CUBLAS_FILL_MODE_LOWER, n, k, c->L, n, c->K, n, c->info));
  BLORC_TRY(check_info(c, "triangular solves (cusolverDnDpotrs)", err));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, k, k, n, &one, c->W, n, c->K, n,
                                 &zero, c->Q, k));
  return BLORC_OK;
}

blorc_status cuda_factor(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k;
  double rho = b->rho, zero = 0;
  if (c->op == BLORC_OP_MATRIX) { /* A^T A + ridge I + rho W^T W (forward_op.cu) */
    BLORC_TRY(cuda_op_factor(b, err));
    return make_kq(c, n, k, rho, err);
  }
  if (c->op == BLORC_OP_MASK) { /* the shared rho W^T W; each sample's factor is ADMM's */
    BLORC_CUBLAS_CHECK(cublasDsyrk(c->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, n, k, &rho, c->W,
                                   n, &zero, c->L, n));
    return BLORC_OK;
  }
  BLORC_CUBLAS_CHECK(cublasDsyrk(c->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, n, k, &rho, c->W, n,
                                 &zero, c->L, n));
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->info, 0, sizeof(int), c->stream));
  BLORC_LAUNCH(add_identity_check, n, 64, 0, c->stream)(n, c->L, c->info);
  BLORC_CUDA_CHECK_LAUNCH("add_identity_check");
  int bad = 0;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(&bad, c->info, sizeof bad, cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  if (bad)
    return blorc_fail(err, BLORC_ENUMERIC,
                      "factor: I + rho W^T W overflows (rho %g): W has grown too large", rho);
  BLORC_CUSOLVER_CHECK(cusolverDnDpotrf(c->solver, CUBLAS_FILL_MODE_LOWER, n, c->L, n,
                                        c->potrf_work, c->potrf_lwork, c->info));
  BLORC_TRY(check_info(c, "Cholesky (cusolverDnDpotrf)", err));
  return make_kq(c, n, k, rho, err);
}
