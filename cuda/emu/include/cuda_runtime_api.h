// Stand-in for <cuda_runtime_api.h> in the cuda-emu build. CCCL's headers include this file
// whenever one is on the include path; this one keeps the real toolkit's out.
#pragma once

#include "cuda_runtime.h"
