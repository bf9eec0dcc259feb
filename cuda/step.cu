// Stage 7 on the GPU: the W update with blorc_step_entry (the CPU's arithmetic) on the
// device's W, G and Adam moments, so training moves no W or G between host and device; one
// block finds the first non-finite entry, and W takes the new values only when there is none.
#include <climits>

#include "blorc/elementwise.h"
#include "cuda_backend.h"
#include "launch.h"

namespace {

constexpr int kStepThreads = 256;

__global__ void step_kernel(int len, int adam, double lr, double beta1, double beta2, double eps,
                            double c1, double c2, const double *W, const double *G, double *m,
                            double *v, double *Wn, int *bad) {
  BLORC_SHARED(int, first, kStepThreads);
  int mine = INT_MAX;
  for (int i = threadIdx.x; i < len; i += blockDim.x) {
    double w = blorc_step_entry(adam, W[i], G[i], &m[i], &v[i], lr, beta1, beta2, eps, c1, c2);
    Wn[i] = w;
    if (mine == INT_MAX && !isfinite(w)) mine = i;
  }
  first[threadIdx.x] = mine;
  __syncthreads();
  if (threadIdx.x == 0) {
    int f = INT_MAX;
    for (int t = 0; t < (int)blockDim.x; t++) f = first[t] < f ? first[t] : f;
    bad[0] = f;
  }
}

}  // namespace

blorc_status cuda_step(blorc_backend *b, const blorc_step_opts *o, double c1, double c2, long *bad,
                       blorc_error *err) {
  cuda_state *c = cuda_of(b);
  size_t len = (size_t)b->n * b->k;
  if (len > (size_t)INT_MAX)
    return blorc_fail(err, BLORC_EINVAL, "step: k n = %zu entries, more than the kernel indexes",
                      len);
  BLORC_LAUNCH(step_kernel, 1, kStepThreads, 0, c->stream)
  ((int)len, o->adam, o->lr, o->beta1, o->beta2, o->eps, c1, c2, c->W, c->G, c->Am, c->Av, c->Wn,
   c->info);
  BLORC_CUDA_CHECK_LAUNCH("step");
  int first = INT_MAX;
  BLORC_CUDA_CHECK(
      cudaMemcpyAsync(&first, c->info, sizeof(int), cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  *bad = first == INT_MAX ? -1 : first;
  if (*bad < 0)
    BLORC_CUDA_CHECK(
        cudaMemcpyAsync(c->W, c->Wn, len * sizeof(double), cudaMemcpyDeviceToDevice, c->stream));
  return BLORC_OK;
}
