// Stage 5 on the GPU, one block per sample: q = y - W^T s, x* = P_N q, and with g = x* - x
// (clean = BLORC_RESIDUAL_CLEAN) or g = the upstream gradient in X (_UPSTREAM):
// h = P_N g, the loss, and w = V_r S_r^-2 V_r^T (q and g); a and b = mask0 .* (W w) follow as
// GEMMs over the batch, as in src/cpu/closed_form.c.
#include "cuda_backend.h"
#include "device_math.cuh"
#include "launch.h"

namespace {
using blorc_cuda::project;
using blorc_cuda::warp_sum;

__global__ void closed_form_kernel(int n, int k, int kn, int clean, const double *W,
                                   const double *S, const double *Y, const double *X,
                                   const double *Vs, const double *sv, const int *rank, double *Xs,
                                   double *H, double *Wq, double *Wg, double *loss) {
  BLORC_DYNAMIC_SHARED(double, sm);
  double *q = sm, *g = q + n, *coef = g + n, *red = coef + kn;  // 2n + kn + 32 doubles
  const int j = blockIdx.x, r = rank[j];
  const double *s = S + (size_t)j * k, *V = Vs + (size_t)j * n * kn;
  const double *svj = sv ? sv + (size_t)j * kn : nullptr;  // none after the fast path
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double v = Y[(size_t)j * n + i];
    for (int p = 0; p < k; p++) v -= W[(size_t)p * n + i] * s[p];
    q[i] = v;
  }
  __syncthreads();
  project(n, r, V, svj, q, Wq + (size_t)j * n, coef);
  for (int i = threadIdx.x; i < n; i += blockDim.x) Xs[(size_t)j * n + i] = q[i];
  if (!clean) return;
  double l = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    g[i] = clean == BLORC_RESIDUAL_UPSTREAM ? X[(size_t)j * n + i] : q[i] - X[(size_t)j * n + i];
    l += g[i] * g[i];
  }
  l = warp_sum(l);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = l;
  __syncthreads();
  if (threadIdx.x == 0) {
    double t = 0;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) t += red[w];
    loss[j] = 0.5 * t;
  }
  project(n, r, V, svj, g, Wg + (size_t)j * n, coef);
  for (int i = threadIdx.x; i < n; i += blockDim.x) H[(size_t)j * n + i] = g[i];
}

// out = mask0 .* out: rows with s != 0 are not rows of W0m.
__global__ void mask_kernel(size_t len, const double *S, double *out) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < len;
       i += (size_t)gridDim.x * blockDim.x)
    if (S[i] != 0.0) out[i] = 0.0;
}

}  // namespace

// out = mask0 .* (M^T w), M = W or, after stage 4's fast path, W^+ (both n x k).
static blorc_status masked_w_times(const blorc_backend *b, const double *w, double *out,
                                   blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  double one = 1, zero = 0;
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, k, B, n, &one, cuda_pinv_map(b),
                                 n, w, n, &zero, out, k));
  size_t len = (size_t)k * B;
  BLORC_LAUNCH(mask_kernel, cuda_grid_for(len), 256, 0, c->stream)(len, c->S, out);
  BLORC_CUDA_CHECK_LAUNCH("mask");
  return BLORC_OK;
}

blorc_status cuda_closed_form(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, kn = b->kn, B = b->B;
  if (c->op != BLORC_OP_IDENTITY) { /* x* = M q, a and b from residuals: forward_op.cu */
    BLORC_TRY(cuda_op_closed_form(b, err));
    BLORC_TRY(masked_w_times(b, c->Wq, c->A, err));
    if (blorc_residual_mode(b)) BLORC_TRY(masked_w_times(b, c->Wg, c->Bv, err));
    return BLORC_OK;
  }
  // All of the kernel's shared memory is dynamic, so this is the whole of what the 48 KB limit
  // counts (static arrays would count too, and be easy to forget here).
  size_t smem = sizeof(double) * (2 * (size_t)n + kn + 32);  // red: one per warp, <= 32
  if (smem > 48 * 1024)
    BLORC_CUDA_CHECK(cudaFuncSetAttribute(closed_form_kernel,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  BLORC_LAUNCH(closed_form_kernel, B, cuda_threads_for(n), smem, c->stream)
  (n, k, kn, blorc_residual_mode(b), c->W, c->S, c->Y, c->X, c->Vs, cuda_singular_values(b),
   c->rank, c->Xs, c->H, c->Wq, c->Wg, c->loss);
  BLORC_CUDA_CHECK_LAUNCH("closed_form");
  BLORC_TRY(masked_w_times(b, c->Wq, c->A, err));
  if (blorc_residual_mode(b)) BLORC_TRY(masked_w_times(b, c->Wg, c->Bv, err));
  return BLORC_OK;
}
