// Stage 6 on the GPU: G = -(1/B) [(A + S) H^T + Bm X*^T] by two cuBLAS GEMMs (stored as its
// n x k transpose, i.e. G row-major), and the mean loss reduced with Thrust (reduce.cu). After
// the polish, over the certified samples only, as in src/cpu/gradient.c.
#include "blorc/active_set.h"
#include "cuda_backend.h"
#include "launch.h"

namespace {
// T = w (A + S), Tb = w Bm and the weighted losses, w = 1 for certified samples, else 0.
__global__ void weigh_kernel(int k, int B, const double *cert, const double *A, const double *S,
                             const double *Bv, const double *loss, double *T, double *Tb,
                             double *wloss) {
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < (size_t)k * B;
       e += (size_t)gridDim.x * blockDim.x) {
    size_t j = e / k;
    double w = cert ? cert[j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] : 1.0;
    T[e] = w * (A[e] + S[e]);
    Tb[e] = w * Bv[e];
    if (e % k == 0) wloss[j] = w * loss[j];
  }
}
}  // namespace

blorc_status cuda_gradient(blorc_backend *b, double *loss, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  int used = b->polished ? b->certified : B;
  double one = 1, scale = used > 0 ? -1.0 / used : 0.0, zero = 0;
  size_t kB = (size_t)k * B;
  BLORC_LAUNCH(weigh_kernel, cuda_grid_for(kB), 256, 0, c->stream)
  (k, B, b->polished ? c->cert : nullptr, c->A, c->S, c->Bv, c->loss, c->T, c->Tb, c->wloss);
  BLORC_CUDA_CHECK_LAUNCH("gradient: weights");
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, k, B, &scale, c->H, n, c->T,
                                 k, &zero, c->G, n));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, k, B, &scale, c->Xs, n,
                                 c->Tb, k, &one, c->G, n));
  double sum = 0;
  BLORC_TRY(cuda_sum(c, c->wloss, B, &sum, "gradient: the losses", err));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  *loss = used > 0 ? sum / used : 0.0;
  return BLORC_OK;
}
