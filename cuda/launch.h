// What the CUDA build and the cuda-emu build spell differently, in one place:
// - BLORC_LAUNCH(kernel, grid, block, smem, stream)(args...): the chevron launch under nvcc,
//   the emulated device's checked launch elsewhere (cuda/emu/emu_device.h);
// - BLORC_DYNAMIC_SHARED(type, name): `extern __shared__ type name[]`, which has no C++
//   spelling, and in emulation a pointer to the block's dynamic shared memory;
// - BLORC_SHARED(type, name, count): `__shared__ type name[count]`; in emulation a pointer to
//   the block's own copy, with guard bytes and counted against the shared-memory limits;
// - BLORC_THRUST_ON(stream, alloc): in thrust_policy.h (only reduce.cu needs Thrust);
// - BLORC_CUDA_BACKEND_NAME: the backend's name in logs, which says when it is emulated.
#pragma once

#ifdef BLORC_CUDA_EMU
#include "emu/emu_device.h"
#define BLORC_LAUNCH(kernel, grid, block, smem, stream) \
  ::blorc_emu::make_launcher(#kernel, kernel, grid, block, smem, stream)
#define BLORC_DYNAMIC_SHARED(type, name) \
  type *name = static_cast<type *>(::blorc_emu::dynamic_shared())
#define BLORC_SHARED(type, name, count)                              \
  static const char blorc_shared_site_##name = 0;                    \
  type *const name = static_cast<type *>(::blorc_emu::static_shared( \
      &blorc_shared_site_##name, #name, sizeof(type) * (size_t)(count)))
#define BLORC_CUDA_BACKEND_NAME "cuda (emulated on the CPU: cuda-emu build)"
#else
#define BLORC_LAUNCH(kernel, grid, block, smem, stream) kernel<<<grid, block, smem, stream>>>
#define BLORC_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#define BLORC_SHARED(type, name, count) __shared__ type name[count]
#define BLORC_CUDA_BACKEND_NAME "cuda"
#endif
