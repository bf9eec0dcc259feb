// Device discovery for the dispatcher: is a CUDA device visible to this process?
#include <cuda_runtime.h>

extern "C" int blorc_cuda_available(void) {
  int count = 0;
  // No driver or no device both mean "not available"; the caller reports it.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count > 0;
}
