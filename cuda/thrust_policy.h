// BLORC_THRUST_ON(stream, alloc), the Thrust execution policy of the stages' algorithms: under
// nvcc thrust::cuda::par(alloc) on the stream (temporary storage from alloc, not cudaMalloc);
// in the cuda-emu build the policy of cuda/emu/thrust_emu.h (Thrust's CPP system, which needs
// no temporary storage, plus the device synchronisation Thrust's CUDA system performs).
#pragma once

#include <thrust/execution_policy.h>

#ifdef BLORC_CUDA_EMU
#include "emu/thrust_emu.h"
#define BLORC_THRUST_ON(stream, alloc) ((void)(alloc), ::blorc_emu::thrust_policy{})
#else
#define BLORC_THRUST_ON(stream, alloc) thrust::cuda::par(alloc).on(stream)
#endif

#include <cstddef>
#include <new>
#include <stdexcept>

#include "blorc/error.h"

namespace blorc_cuda {

// Thrust's allocator interface over preallocated device scratch: bump allocation, released
// when the call ends (each algorithm gets a fresh allocator), so nothing is cudaMalloc'd per
// call and nothing fails on a full device.
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

// Runs f (Thrust calls with a scratch_allocator of cap bytes); every exception becomes a
// blorc_status naming what was being done, so none crosses into the C dispatcher.
template <typename F>
blorc_status guarded(const char *what, size_t cap, blorc_error *err, F f) {
  try {
    f();
    return BLORC_OK;
  } catch (const std::bad_alloc &) {
    return blorc_fail(err, BLORC_ENOMEM, "%s: Thrust needs more than the %zu bytes of scratch",
                      what, cap);
  } catch (const std::exception &e) {
    return blorc_fail(err, BLORC_EDEVICE, "%s: Thrust failed: %s", what, e.what());
  } catch (...) {
    return blorc_fail(err, BLORC_EDEVICE, "%s: Thrust failed with an unknown exception", what);
  }
}

}  // namespace blorc_cuda
