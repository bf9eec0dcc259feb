// Thrust in the cuda-emu build: CCCL's CPP system does the work, behind an execution policy
// of our own that also does what Thrust's CUDA system does around it and the CPP system does
// not: an algorithm synchronises with the device, so a kernel that faulted before it surfaces
// here, as the thrust::system_error Thrust throws on a GPU. cuda/ reaches it only through
// BLORC_THRUST_ON (cuda/launch.h); only the algorithms cuda/ calls are routed (reduce).
#pragma once

#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/reduce.h>
#include <thrust/system/error_code.h>
#include <thrust/system/system_error.h>

#include "emu_device.h"

namespace blorc_emu {

struct thrust_policy : thrust::cpp::execution_policy<thrust_policy> {};

inline void thrust_sync(const char *algorithm) {
  note_sync();  // an algorithm that returns a value waits for the device
  cudaError_t e = surface_fault();
  if (e != cudaSuccess)
    throw thrust::system_error(
        e, thrust::generic_category(),
        std::string(algorithm) + ": failed to synchronize: " + cudaGetErrorString(e));
}

// Found by argument-dependent lookup before Thrust's generic versions (Thrust's own way of
// customising an algorithm for a policy).
template <typename It, typename T, typename Op>
T reduce(thrust_policy &, It first, It last, T init, Op op) {
  thrust_sync("reduce");
  return thrust::reduce(thrust::cpp::par, first, last, init, op);
}
template <typename It, typename T>
T reduce(thrust_policy &p, It first, It last, T init) {
  return reduce(p, first, last, init, thrust::plus<T>());
}

}  // namespace blorc_emu
