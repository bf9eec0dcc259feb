// Stage 3 on the GPU: s = tsign(W x, gamma), computed on the device.
#include "blorc/elementwise.h"
#include "cuda_backend.h"
#include "launch.h"

namespace {
__global__ void sign_kernel(size_t len, double gamma, const double *V, double *S) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < len;
       i += (size_t)gridDim.x * blockDim.x)
    S[i] = blorc_thresh_sign(V[i], gamma);
}
}  // namespace

blorc_status cuda_signs(blorc_backend *b, double gamma, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  double one = 1, zero = 0;
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, k, B, n, &one, c->W, n, c->Xout,
                                 n, &zero, c->V, k));
  size_t len = (size_t)k * B;
  BLORC_LAUNCH(sign_kernel, cuda_grid_for(len), 256, 0, c->stream)(len, gamma, c->V, c->S);
  BLORC_CUDA_CHECK_LAUNCH("sign");
  return BLORC_OK;
}
