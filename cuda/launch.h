// The one construct that differs between the CUDA build and the cuda-emu build: a kernel
// launch. BLORC_LAUNCH(kernel, grid, block, smem, stream)(args...) is the chevron launch under
// nvcc, and the emulated device's checked launch elsewhere (cuda/emu/emu_device.h).
#pragma once

#ifdef BLORC_CUDA_EMU
#include "emu/emu_device.h"
#define BLORC_LAUNCH(kernel, grid, block, smem, stream) \
  ::blorc_emu::make_launcher(#kernel, kernel, grid, block, smem, stream)
#else
#define BLORC_LAUNCH(kernel, grid, block, smem, stream) kernel<<<grid, block, smem, stream>>>
#endif
