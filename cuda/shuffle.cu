// The epoch order on the GPU (blorc_shuffle): the sort keys blorc_shuffle_key(seed, i) and their
// order by Thrust's sort_by_key, on the device, so the order src/cpu/shuffle.c draws on the
// host arrives with no index crossing from the host; each minibatch is gathered from a
// position of it (a device-to-device copy into the batch's indices).
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "blorc/elementwise.h"
#include "cuda_backend.h"
#include "thrust_policy.h"

namespace {

struct shuffle_key {
  unsigned long long seed;
  __host__ __device__ unsigned long long operator()(size_t i) const {
    return blorc_shuffle_key(seed, i);
  }
};

// Index and key arrays for count samples, and the sort's scratch: radix sort's double buffers
// of keys and values plus CUB's bookkeeping, with room to spare.
blorc_status shuffle_alloc(blorc_backend *b, size_t count, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  if (c->perm_cap >= count) return BLORC_OK;
  for (void **p : {(void **)&c->perm, (void **)&c->pkeys, &c->sort_scratch}) {
    if (*p) BLORC_CUDA_CHECK(cudaFree(*p));
    *p = nullptr;
  }
  c->perm_cap = 0;
  c->sort_scratch_bytes = 4 * count * (sizeof(size_t) + sizeof(unsigned long long)) + (1 << 20);
  BLORC_TRY(dev_alloc(b, (void **)&c->perm, count * sizeof(size_t), "shuffle: indices", err));
  BLORC_TRY(
      dev_alloc(b, (void **)&c->pkeys, count * sizeof(unsigned long long), "shuffle: keys", err));
  BLORC_TRY(dev_alloc(b, &c->sort_scratch, c->sort_scratch_bytes, "shuffle: sort scratch", err));
  c->perm_cap = count;
  return BLORC_OK;
}

}  // namespace

blorc_status cuda_shuffle(blorc_backend *b, uint64_t seed, size_t count, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  BLORC_TRY(shuffle_alloc(b, count, err));
  return blorc_cuda::guarded("shuffle", c->sort_scratch_bytes, err, [&] {
    blorc_cuda::scratch_allocator a{(char *)c->sort_scratch, c->sort_scratch_bytes, 0};
    thrust::sequence(BLORC_THRUST_ON(c->stream, a), c->perm, c->perm + count);
    thrust::transform(BLORC_THRUST_ON(c->stream, a), c->perm, c->perm + count, c->pkeys,
                      shuffle_key{seed});
    // Keys never tie (blorc_shuffle_key is injective in i): one order, stable or not.
    thrust::sort_by_key(BLORC_THRUST_ON(c->stream, a), c->pkeys, c->pkeys + count, c->perm);
  });
}

blorc_status cuda_select_shuffled(blorc_backend *b, size_t start, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  BLORC_CUDA_CHECK(cudaMemcpyAsync(c->idx, c->perm + start, (size_t)b->B * sizeof(size_t),
                                   cudaMemcpyDeviceToDevice, c->stream));
  return cuda_gather(b, err);
}
