// Reductions over device arrays with Thrust, for the stages: Thrust allocates its temporary
// storage from the backend's preallocated scratch (no cudaMalloc per call, so nothing to fail
// on a full device) and throws on device errors; every exception becomes a blorc_status
// naming what was being reduced, so no C++ exception crosses into the C dispatcher.
#include <thrust/functional.h>
#include <thrust/reduce.h>

#include <new>
#include <stdexcept>

#include "cuda_backend.h"
#include "thrust_policy.h"

namespace {

// Thrust's allocator interface over c->thrust_scratch: bump allocation, released when the
// call ends (each reduction gets a fresh allocator).
struct scratch_allocator {
  typedef char value_type;
  char *base;
  size_t cap, used;
  char *allocate(std::ptrdiff_t bytes) {
    size_t b = ((size_t)bytes + 255) & ~(size_t)255;
    if (used + b > cap) throw std::bad_alloc();
    char *p = base + used;
    used += b;
    return p;
  }
  void deallocate(char *, size_t) {}
};

template <typename F>
blorc_status guarded(const char *what, blorc_error *err, F f) {
  try {
    f();
    return BLORC_OK;
  } catch (const std::bad_alloc &) {
    return blorc_fail(err, BLORC_ENOMEM, "%s: Thrust needs more than the %zu bytes of scratch",
                      what, kCudaThrustScratch);
  } catch (const std::exception &e) {
    return blorc_fail(err, BLORC_EDEVICE, "%s: Thrust failed: %s", what, e.what());
  } catch (...) {
    return blorc_fail(err, BLORC_EDEVICE, "%s: Thrust failed with an unknown exception", what);
  }
}

}  // namespace

// One reduction of v[0..count) from init with op into *out.
template <typename T, typename R, typename Op>
blorc_status reduce(cuda_state *c, const T *v, int count, R init, Op op, R *out, const char *what,
                    blorc_error *err) {
  return guarded(what, err, [&] {
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
