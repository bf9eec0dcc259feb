// Reductions over device arrays with Thrust, for the stages: Thrust allocates its temporary
// storage from the backend's preallocated scratch (no cudaMalloc per call, so nothing to fail
// on a full device) and throws on device errors; every exception becomes a blorc_status
// naming what was being reduced, so no C++ exception crosses into the C dispatcher.
#include <thrust/functional.h>
#include <thrust/reduce.h>

#include "cuda_backend.h"
#include "thrust_policy.h"

using blorc_cuda::guarded;
using blorc_cuda::scratch_allocator;

// One reduction of v[0..count) from init with op into *out.
template <typename T, typename R, typename Op>
blorc_status reduce(cuda_state *c, const T *v, int count, R init, Op op, R *out, const char *what,
                    blorc_error *err) {
  return guarded(what, kCudaThrustScratch, err, [&] {
    scratch_allocator a{(char *)c->thrust_scratch, kCudaThrustScratch, 0};
    *out = thrust::reduce(BLORC_THRUST_ON(c->stream, a), v, v + count, init, op);
  });
}

blorc_status cuda_sum(cuda_state *c, const int *v, int count, long long *out, const char *what,
                      blorc_error *err) {
  return reduce(c, v, count, 0LL, thrust::plus<long long>(), out, what, err);
}

blorc_status cuda_max(cuda_state *c, const int *v, int count, int *out, const char *what,
                      blorc_error *err) {
  return reduce(c, v, count, 0, thrust::maximum<int>(), out, what, err);
}

blorc_status cuda_sum(cuda_state *c, const double *v, int count, double *out, const char *what,
                      blorc_error *err) {
  return reduce(c, v, count, 0.0, thrust::plus<double>(), out, what, err);
}
