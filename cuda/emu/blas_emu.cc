// cuBLAS and cuSOLVER of the cuda-emu build (include/cublas_v2.h, include/cusolverDn.h):
// argument checks as documented by NVIDIA, then CBLAS / LAPACKE on the host memory that
// stands for device memory (column-major, as the real libraries).
#include <cblas.h>
#include <lapacke.h>

#include <cstring>
#include <string>
#include <type_traits>

#include "emu_device.h"
#include "include/cusolverDn.h"

struct blorc_emu_cublas {
  cudaStream_t stream;
};
struct blorc_emu_cusolver {
  cudaStream_t stream;
};

namespace {

// A column-major rows x cols matrix with leading dimension ld lies in device memory.
bool on_device(const double *p, long rows, long cols, long ld) {
  if (rows == 0 || cols == 0) return true;
  return blorc_emu::device_owns(p) && blorc_emu::device_owns(p + (cols - 1) * ld + rows - 1);
}

// A bad argument to a cuBLAS or cuSOLVER call: said on stderr like every emulated error, but
// reported through the library's status, not left as the runtime's last error.
void bad_argument(const char *call, const std::string &why) {
  blorc_emu::record_error(cudaErrorInvalidValue, std::string(call) + ": " + why);
  (void)cudaGetLastError();
}

cublasStatus_t blas_fail(const char *call, const std::string &why) {
  bad_argument(call, why);
  return CUBLAS_STATUS_INVALID_VALUE;
}

// Both libraries' handles only remember their stream (calls run synchronously).
template <typename Handle, typename Status>
Status create_handle(Handle *h, Status ok) {
  *h = new std::remove_pointer_t<Handle>{nullptr};
  return ok;
}
template <typename Handle, typename Status>
Status destroy_handle(Handle h, Status ok, Status not_initialized) {
  if (!h) return not_initialized;
  delete h;
  return ok;
}
template <typename Handle, typename Status>
Status set_handle_stream(Handle h, cudaStream_t stream, Status ok, Status not_initialized) {
  if (!h) return not_initialized;
  h->stream = stream;
  return ok;
}

CBLAS_TRANSPOSE op(cublasOperation_t t) {
  return t == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
}

bool op_ok(cublasOperation_t t) {
  return t == CUBLAS_OP_N || t == CUBLAS_OP_T || t == CUBLAS_OP_C;
}

// Scalars in the default (host) pointer mode: a device pointer here is the classic misuse.
bool host_scalar(const double *p) {
  return p && !blorc_emu::device_owns(p);
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
  return create_handle(handle, CUBLAS_STATUS_SUCCESS);
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  return destroy_handle(handle, CUBLAS_STATUS_SUCCESS, CUBLAS_STATUS_NOT_INITIALIZED);
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  return set_handle_stream(handle, stream, CUBLAS_STATUS_SUCCESS, CUBLAS_STATUS_NOT_INITIALIZED);
}

cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const double *alpha,
                           const double *A, int lda, const double *B, int ldb, const double *beta,
                           double *C, int ldc) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  long ar = transa == CUBLAS_OP_N ? m : k, ac = transa == CUBLAS_OP_N ? k : m;
  long br = transb == CUBLAS_OP_N ? k : n, bc = transb == CUBLAS_OP_N ? n : k;
  if (!op_ok(transa) || !op_ok(transb) || m < 0 || n < 0 || k < 0)
    return blas_fail("cublasDgemm", "bad operation or negative size");
  if (lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1))
    return blas_fail("cublasDgemm", "leading dimension lda=" + std::to_string(lda) +
                                        " ldb=" + std::to_string(ldb) +
                                        " ldc=" + std::to_string(ldc) + " below the rows stored");
  if (!host_scalar(alpha) || !host_scalar(beta))
    return blas_fail("cublasDgemm", "alpha and beta must be host pointers (pointer mode host)");
  if (!on_device(A, ar, ac, lda) || !on_device(B, br, bc, ldb) || !on_device(C, m, n, ldc))
    return blas_fail("cublasDgemm", "a matrix is not (wholly) in device memory");
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  cblas_dgemm(CblasColMajor, op(transa), op(transb), m, n, k, *alpha, A, lda, B, ldb, *beta, C,
              ldc);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDsyrk(cublasHandle_t handle, cublasFillMode_t uplo, cublasOperation_t trans,
                           int n, int k, const double *alpha, const double *A, int lda,
                           const double *beta, double *C, int ldc) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  long ar = trans == CUBLAS_OP_N ? n : k, ac = trans == CUBLAS_OP_N ? k : n;
  if ((uplo != CUBLAS_FILL_MODE_LOWER && uplo != CUBLAS_FILL_MODE_UPPER) ||
      (trans != CUBLAS_OP_N && trans != CUBLAS_OP_T) || n < 0 || k < 0)
    return blas_fail("cublasDsyrk", "bad fill mode, operation or size");
  if (lda < (ar > 1 ? ar : 1) || ldc < (n > 1 ? n : 1))
    return blas_fail("cublasDsyrk", "leading dimension below the rows stored");
  if (!host_scalar(alpha) || !host_scalar(beta))
    return blas_fail("cublasDsyrk", "alpha and beta must be host pointers (pointer mode host)");
  if (!on_device(A, ar, ac, lda) || !on_device(C, n, n, ldc))
    return blas_fail("cublasDsyrk", "a matrix is not (wholly) in device memory");
  if (n == 0) return CUBLAS_STATUS_SUCCESS;
  cblas_dsyrk(CblasColMajor, uplo == CUBLAS_FILL_MODE_LOWER ? CblasLower : CblasUpper, op(trans), n,
              k, *alpha, A, lda, *beta, C, ldc);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDgeam(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, const double *alpha,
                           const double *A, int lda, const double *beta, const double *B, int ldb,
                           double *C, int ldc) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  long ar = transa == CUBLAS_OP_N ? m : n, ac = transa == CUBLAS_OP_N ? n : m;
  long br = transb == CUBLAS_OP_N ? m : n, bc = transb == CUBLAS_OP_N ? n : m;
  if (!op_ok(transa) || !op_ok(transb) || m < 0 || n < 0)
    return blas_fail("cublasDgeam", "bad operation or negative size");
  if (lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1))
    return blas_fail("cublasDgeam", "leading dimension below the rows stored");
  if (!host_scalar(alpha) || !host_scalar(beta))
    return blas_fail("cublasDgeam", "alpha and beta must be host pointers (pointer mode host)");
  if (!on_device(A, ar, ac, lda) || !on_device(B, br, bc, ldb) || !on_device(C, m, n, ldc))
    return blas_fail("cublasDgeam", "a matrix is not (wholly) in device memory");
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      double a = transa == CUBLAS_OP_N ? A[(size_t)j * lda + i] : A[(size_t)i * lda + j];
      double b = transb == CUBLAS_OP_N ? B[(size_t)j * ldb + i] : B[(size_t)i * ldb + j];
      C[(size_t)j * ldc + i] = *alpha * a + *beta * b;
    }
  return CUBLAS_STATUS_SUCCESS;
}

namespace {

cusolverStatus_t solver_fail(const char *call, const std::string &why) {
  bad_argument(call, why);
  return CUSOLVER_STATUS_INVALID_VALUE;
}

bool uplo_ok(cublasFillMode_t u) {
  return u == CUBLAS_FILL_MODE_LOWER || u == CUBLAS_FILL_MODE_UPPER;
}

}  // namespace

cusolverStatus_t cusolverDnCreate(cusolverDnHandle_t *handle) {
  return create_handle(handle, CUSOLVER_STATUS_SUCCESS);
}

cusolverStatus_t cusolverDnDestroy(cusolverDnHandle_t handle) {
  return destroy_handle(handle, CUSOLVER_STATUS_SUCCESS, CUSOLVER_STATUS_NOT_INITIALIZED);
}

cusolverStatus_t cusolverDnSetStream(cusolverDnHandle_t handle, cudaStream_t stream) {
  return set_handle_stream(handle, stream, CUSOLVER_STATUS_SUCCESS,
                           CUSOLVER_STATUS_NOT_INITIALIZED);
}

// The workspace the emulation asks for: n doubles (the real size differs; callers must use the
// queried size, which is what is checked).
cusolverStatus_t cusolverDnDpotrf_bufferSize(cusolverDnHandle_t handle, cublasFillMode_t uplo,
                                             int n, double *A, int lda, int *Lwork) {
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!uplo_ok(uplo) || n < 0 || lda < (n > 1 ? n : 1) || !Lwork)
    return solver_fail("cusolverDnDpotrf_bufferSize", "n < 0, lda < max(1, n) or no Lwork");
  (void)A;
  *Lwork = n > 1 ? n : 1;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDpotrf(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n,
                                  double *A, int lda, double *Workspace, int Lwork, int *devInfo) {
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!uplo_ok(uplo) || n < 0 || lda < (n > 1 ? n : 1))
    return solver_fail("cusolverDnDpotrf", "n < 0 or lda < max(1, n)");
  if (!on_device(A, n, n, lda) || !blorc_emu::device_owns(devInfo))
    return solver_fail("cusolverDnDpotrf", "A or devInfo is not in device memory");
  if (Lwork < (n > 1 ? n : 1) || !on_device(Workspace, Lwork, 1, Lwork))
    return solver_fail(
        "cusolverDnDpotrf",
        "Lwork = " + std::to_string(Lwork) +
            " below cusolverDnDpotrf_bufferSize's, or the workspace is not device memory");
  *devInfo = n == 0 ? 0
                    : (int)LAPACKE_dpotrf(LAPACK_COL_MAJOR,
                                          uplo == CUBLAS_FILL_MODE_LOWER ? 'L' : 'U', n, A, lda);
  blorc_emu::take_info("cusolverDnDpotrf", devInfo);
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDpotrs(cusolverDnHandle_t handle, cublasFillMode_t uplo, int n, int nrhs,
                                  const double *A, int lda, double *B, int ldb, int *devInfo) {
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!uplo_ok(uplo) || n < 0 || nrhs < 0 || lda < (n > 1 ? n : 1) || ldb < (n > 1 ? n : 1))
    return solver_fail("cusolverDnDpotrs", "n < 0, nrhs < 0, lda or ldb < max(1, n)");
  if (!on_device(A, n, n, lda) || !on_device(B, n, nrhs, ldb) || !blorc_emu::device_owns(devInfo))
    return solver_fail("cusolverDnDpotrs", "A, B or devInfo is not in device memory");
  *devInfo = n == 0 || nrhs == 0
                 ? 0
                 : (int)LAPACKE_dpotrs(LAPACK_COL_MAJOR, uplo == CUBLAS_FILL_MODE_LOWER ? 'L' : 'U',
                                       n, nrhs, A, lda, B, ldb);
  blorc_emu::take_info("cusolverDnDpotrs", devInfo);
  return CUSOLVER_STATUS_SUCCESS;
}
