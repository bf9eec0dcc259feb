// Shared by the gpu-labelled test files: the skip where no CUDA device exists (the emulated
// device of the cuda-emu build counts as one).
#pragma once

#include <gtest/gtest.h>

#include "blorc/blorc.h"

#define NEED_GPU() \
  if (!blorc_cuda_available()) GTEST_SKIP() << "no CUDA device"
