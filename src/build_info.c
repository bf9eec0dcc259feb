/* Version and build description. */
#include <stdio.h>

#include "blorc/blorc.h"

#ifndef BLORC_VERSION
#define BLORC_VERSION "unknown"
#endif
#ifndef BLORC_BLAS_NAME
#define BLORC_BLAS_NAME "BLAS"
#endif

const char *blorc_version(void) {
  return BLORC_VERSION;
}

const char *blorc_build_info(void) {
#if defined(BLORC_CUDA_EMU)
  return "CUDA emulated on the CPU (cuda-emu: test infrastructure, slow), BLAS " BLORC_BLAS_NAME
         ", LAPACKE";
#elif defined(BLORC_WITH_CUDA)
  return "CUDA on (architectures " BLORC_CUDA_ARCHS "), BLAS " BLORC_BLAS_NAME ", LAPACKE";
#else
  return "CUDA off (CPU fallback), BLAS " BLORC_BLAS_NAME ", LAPACKE";
#endif
}

#ifndef BLORC_WITH_CUDA
int blorc_cuda_available(void) {
  return 0;
}

int blorc_cuda_use_device(int local_rank) {
  (void)local_rank;
  return -1;
}
#endif
