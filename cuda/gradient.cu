// Stage 6 on the GPU: G = -(1/B) [(A + S) H^T + Bm X*^T] by two cuBLAS GEMMs (stored as its
// n x k transpose, i.e. G row-major), and the mean loss reduced with Thrust (reduce.cu).
#include "cuda_backend.h"
#include "launch.h"

blorc_status cuda_gradient(blorc_backend *b, double *loss, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  double one = 1, scale = -1.0 / B, zero = 0;
  // T = A + S
  BLORC_CUBLAS_CHECK(
      cublasDgeam(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, k, B, &one, c->A, k, &one, c->S, k, c->T, k));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, k, B, &scale, c->H, n, c->T,
                                 k, &zero, c->G, n));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, k, B, &scale, c->Xs, n,
                                 c->Bv, k, &one, c->G, n));
  double sum = 0;
  BLORC_TRY(cuda_sum(c, c->loss, B, &sum, "gradient: the losses", err));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  *loss = sum / B;
  return BLORC_OK;
}
