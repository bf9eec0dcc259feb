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

// Data-parallel ranks of one node take the node's GPUs in turn (issue 18).
extern "C" int blorc_cuda_use_device(int local_rank) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) {
    cudaGetLastError();
    return -1;
  }
  int dev = local_rank % count;
  if (cudaSetDevice(dev) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return dev;
}
