/* Check macros for every CUDA runtime, cuBLAS and cuSOLVER call: on failure they record a
 * blorc_error naming the call, file and line, and return from the calling function. The
 * calling function must have `blorc_error *err` in scope and return blorc_status. */
#ifndef BLORC_CUDA_CHECK_H
#define BLORC_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include "blorc/error.h"

#define BLORC_CUDA_CHECK(call)                                                                   \
  do {                                                                                           \
    cudaError_t blorc_e_ = (call);                                                               \
    if (blorc_e_ != cudaSuccess)                                                                 \
      return blorc_fail(err, BLORC_EDEVICE, "%s failed at %s:%d: %s", #call, __FILE__, __LINE__, \
                        cudaGetErrorString(blorc_e_));                                           \
  } while (0)

/* After every kernel launch: launch errors now, execution errors at the next sync. */
#define BLORC_CUDA_CHECK_LAUNCH(name)                                                        \
  do {                                                                                       \
    cudaError_t blorc_e_ = cudaGetLastError();                                               \
    if (blorc_e_ != cudaSuccess)                                                             \
      return blorc_fail(err, BLORC_EDEVICE, "kernel %s failed to launch at %s:%d: %s", name, \
                        __FILE__, __LINE__, cudaGetErrorString(blorc_e_));                   \
  } while (0)

#define BLORC_CUBLAS_CHECK(call)                                                           \
  do {                                                                                     \
    cublasStatus_t blorc_s_ = (call);                                                      \
    if (blorc_s_ != CUBLAS_STATUS_SUCCESS)                                                 \
      return blorc_fail(err, BLORC_EDEVICE, "%s failed at %s:%d: cuBLAS status %d", #call, \
                        __FILE__, __LINE__, (int)blorc_s_);                                \
  } while (0)

#define BLORC_CUSOLVER_CHECK(call)                                                           \
  do {                                                                                       \
    cusolverStatus_t blorc_s_ = (call);                                                      \
    if (blorc_s_ != CUSOLVER_STATUS_SUCCESS)                                                 \
      return blorc_fail(err, BLORC_EDEVICE, "%s failed at %s:%d: cuSOLVER status %d", #call, \
                        __FILE__, __LINE__, (int)blorc_s_);                                  \
  } while (0)

/* Propagates a blorc_status from a helper. */
#define BLORC_TRY(call)                        \
  do {                                         \
    blorc_status blorc_t_ = (call);            \
    if (blorc_t_ != BLORC_OK) return blorc_t_; \
  } while (0)

#endif
