// Stand-in for <cuda_runtime.h> in the cuda-emu build (issue 14): the types, enums and
// functions cuda/ calls, with the real names, signatures and status codes, executed on the
// CPU. Device memory is host heap recorded in an allocation table, so that copies and kernel
// arguments can be checked against it; streams are synchronous. Not a second backend: test
// infrastructure that lets cuda/*.cu run, unchanged but for BLORC_LAUNCH, where no GPU is.
#pragma once

#include <math.h>  // nvcc makes the math functions visible in device code

#include <cstddef>

#include "../emu_launch.h"

// CCCL finds these stand-ins as the toolkit (cuda_runtime_api.h) and specialises its tuple
// interface for the vector types; 12.0 keeps it to the ones defined below.
#define CUDART_VERSION 12000

#define BLORC_EMU_VECTOR(name, type) \
  struct name##1 {                   \
    type x;                          \
  };                                 \
  struct name##2 {                   \
    type x, y;                       \
  };                                 \
  struct name##3 {                   \
    type x, y, z;                    \
  };                                 \
  struct name##4 {                   \
    type x, y, z, w;                 \
  };
BLORC_EMU_VECTOR(char, signed char)
BLORC_EMU_VECTOR(uchar, unsigned char)
BLORC_EMU_VECTOR(short, short)
BLORC_EMU_VECTOR(ushort, unsigned short)
BLORC_EMU_VECTOR(int, int)
BLORC_EMU_VECTOR(uint, unsigned int)
BLORC_EMU_VECTOR(long, long)
BLORC_EMU_VECTOR(ulong, unsigned long)
BLORC_EMU_VECTOR(longlong, long long)
BLORC_EMU_VECTOR(ulonglong, unsigned long long)
BLORC_EMU_VECTOR(float, float)
BLORC_EMU_VECTOR(double, double)
#undef BLORC_EMU_VECTOR

// Qualifiers: every function is an ordinary host function here.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// Static shared memory is declared with BLORC_SHARED (cuda/launch.h), which gives each block
// its own guarded copy and counts it against the launch's limit; a bare __shared__ would not.
#define __shared__ static_assert(false, "declare shared memory with BLORC_SHARED (cuda/launch.h)");

#define threadIdx (::blorc_emu::thread_idx())
#define blockIdx (::blorc_emu::block_idx())
#define blockDim (::blorc_emu::block_dim())
#define gridDim (::blorc_emu::grid_dim())
#define __syncthreads() (::blorc_emu::sync_threads())
#define __syncwarp(mask) (::blorc_emu::sync_warp(mask))
#define __shfl_down_sync(mask, v, ...) (::blorc_emu::shfl_down((mask), (v), __VA_ARGS__))
#define __shfl_xor_sync(mask, v, ...) (::blorc_emu::shfl_xor((mask), (v), __VA_ARGS__))

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  operator blorc_emu::Dim3() const { return {x, y, z}; }
};

// The values of CUDA 13's driver_types.h.
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorNotReady = 600,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorLaunchFailure = 719,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };

#define cudaStreamNonBlocking 0x01
#define cudaEventDisableTiming 0x02

struct blorc_emu_stream;
typedef struct blorc_emu_stream *cudaStream_t;

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaMalloc(void **ptr, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T **ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void **>(ptr), bytes);
}
cudaError_t cudaFree(void *ptr);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaGetLastError(void);
// Events: streams run synchronously here, so a recorded event has always completed.
struct blorc_emu_event;
typedef struct blorc_emu_event *cudaEvent_t;
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
// Page-locked host memory: host memory (outside the device's allocation table).
cudaError_t cudaMallocHost(void **ptr, size_t bytes);
template <typename T>
cudaError_t cudaMallocHost(T **ptr, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void **>(ptr), bytes);
}
cudaError_t cudaFreeHost(void *ptr);
const char *cudaGetErrorString(cudaError_t e);
cudaError_t blorc_emu_func_set_attribute(const void *func, cudaFuncAttribute attr, int value);
template <typename F>
cudaError_t cudaFuncSetAttribute(F *func, cudaFuncAttribute attr, int value) {
  return blorc_emu_func_set_attribute(reinterpret_cast<const void *>(func), attr, value);
}
