// Thrust in the cuda-emu build: CCCL's CPP system does the work, behind an execution policy
// of our own that also does what Thrust's CUDA system does around it and the CPP system does
// not: an algorithm synchronises with the device, so a kernel that faulted before it surfaces
// here, as the thrust::system_error Thrust throws on a GPU. cuda/ reaches it only through
// BLORC_THRUST_ON (cuda/launch.h); only the algorithms cuda/ calls are routed (reduce;
// sequence, transform and sort_by_key for the epoch's order), to thrust::cpp::par: Thrust's
// generic paths under a policy of our own bind references through a null system pointer,
// which UBSan reports (the cuda-emu-sanitize build caught it). sort_by_key is std::stable_sort
// here: the CPP system's own radix sort does the same in its temporary arrays.
#pragma once

#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/reduce.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/system/error_code.h>
#include <thrust/system/system_error.h>
#include <thrust/transform.h>

#include <algorithm>
#include <utility>
#include <vector>

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
template <typename It>
void sequence(thrust_policy &, It first, It last) {
  thrust_sync("sequence");
  thrust::sequence(thrust::cpp::par, first, last);
}
template <typename In, typename Out, typename Op>
Out transform(thrust_policy &, In first, In last, Out out, Op op) {
  thrust_sync("transform");
  return thrust::transform(thrust::cpp::par, first, last, out, op);
}
template <typename K, typename V>
void sort_by_key(thrust_policy &, K *first, K *last, V *values) {
  thrust_sync("sort_by_key");
  std::vector<std::pair<K, V>> t;
  for (K *k = first; k != last; k++) t.emplace_back(*k, values[k - first]);
  std::stable_sort(t.begin(), t.end(), [](const std::pair<K, V> &a, const std::pair<K, V> &b) {
    return a.first < b.first;
  });
  for (size_t i = 0; i < t.size(); i++) first[i] = t[i].first, values[i] = t[i].second;
}

}  // namespace blorc_emu
