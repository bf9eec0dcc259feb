// BLORC_THRUST_ON(stream, alloc), the Thrust execution policy of the stages' reductions: under
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
