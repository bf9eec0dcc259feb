// Stage 6 on the GPU: G = -(1/B) [(A + S) H^T + Bm X*^T] by two cuBLAS GEMMs (stored as its
// n x k transpose, i.e. G row-major), and the mean loss reduced with Thrust (reduce.cu). After
// the polish, over the certified samples only, as in src/cpu/gradient.c.
#include "blorc/active_set.h"
#include "cuda_backend.h"
#include "launch.h"

namespace {
// T = w (A + S), Tb = w Bm and the weighted losses, w = 1 for certified samples (and, with an
// operator, samples with a unique minimiser), else 0; wts (may be NULL) receives w.
__global__ void weigh_kernel(int k, int B, const double *cert, const int *uniq, const double *A,
                             const double *S, const double *Bv, const double *loss, double *T,
                             double *Tb, double *wloss, double *wts) {
  for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < (size_t)k * B;
       e += (size_t)gridDim.x * blockDim.x) {
    size_t j = e / k;
    double w = cert ? cert[j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] : 1.0;
    if (uniq && !uniq[j]) w = 0.0;
    T[e] = w * (A[e] + S[e]);
    Tb[e] = w * Bv[e];
    if (e % k == 0) {
      wloss[j] = w * loss[j];
      if (wts) wts[j] = w;
    }
  }
}
}  // namespace

blorc_status cuda_gradient(blorc_backend *b, double *loss, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  int used = b->polished ? b->certified : B;
  const int op = c->op != BLORC_OP_IDENTITY;
  if (op) { /* samples without a unique minimiser are left out (and never certified) */
    long long unique = 0;
    BLORC_TRY(cuda_sum(c, c->uniq, B, &unique, "gradient: the unique samples", err));
    if (unique == 0)
      return blorc_fail(err, BLORC_EINVAL,
                        "gradient: no sample of the batch has a unique minimiser (C = (A N)^T (A "
                        "N) is singular on every pattern: too few zero rows for the operator; "
                        "operator.ridge > 0 makes it unique)");
    if (!b->polished) used = (int)unique;
  }
  double one = 1, scale = used > 0 ? -1.0 / used : 0.0, zero = 0;
  size_t kB = (size_t)k * B;
  BLORC_LAUNCH(weigh_kernel, cuda_grid_for(kB), 256, 0, c->stream)
  (k, B, b->polished ? c->cert : nullptr, op ? c->uniq : nullptr, c->A, c->S, c->Bv, c->loss, c->T,
   c->Tb, c->wloss, op ? c->wts : nullptr);
  BLORC_CUDA_CHECK_LAUNCH("gradient: weights");
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, k, B, &scale, c->H, n, c->T,
                                 k, &zero, c->G, n));
  BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, k, B, &scale, c->Xs, n,
                                 c->Tb, k, &one, c->G, n));
  if (op) BLORC_TRY(cuda_op_gradient(b, c->wts, used > 0 ? 1.0 / used : 0.0, err));
  double sum = 0;
  BLORC_TRY(cuda_sum(c, c->wloss, B, &sum, "gradient: the losses", err));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  *loss = used > 0 ? sum / used : 0.0;
  return BLORC_OK;
}
