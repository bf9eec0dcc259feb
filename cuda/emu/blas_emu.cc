// cuBLAS and cuSOLVER of the cuda-emu build (include/cublas_v2.h, include/cusolverDn.h):
// argument checks as documented by NVIDIA, then CBLAS / LAPACKE on the host memory that
// stands for device memory (column-major, as the real libraries).
#include <cblas.h>
#include <lapacke.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "emu_device.h"
#include "include/cusolverDn.h"

struct blorc_emu_cublas {
  cudaStream_t stream;
};
struct blorc_emu_cusolver {
  cudaStream_t stream;
};
struct blorc_emu_params {
  int unused;
};
struct blorc_emu_gesvdj_info {
  double tol;
  int max_sweeps, sort;
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

cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const double *alpha, const double *A, int lda,
                                         long long int strideA, const double *B, int ldb,
                                         long long int strideB, const double *beta, double *C,
                                         int ldc, long long int strideC, int batchCount) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (batchCount < 0) return blas_fail("cublasDgemmStridedBatched", "batchCount < 0");
  // Each product obeys cublasDgemm's rules (checked by it, on every matrix of the batch).
  for (int j = 0; j < batchCount; j++) {
    cublasStatus_t st = cublasDgemm(handle, transa, transb, m, n, k, alpha, A + j * strideA, lda,
                                    B + j * strideB, ldb, beta, C + j * strideC, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
  }
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDtrsm(cublasHandle_t handle, cublasSideMode_t side, cublasFillMode_t uplo,
                           cublasOperation_t trans, cublasDiagType_t diag, int m, int n,
                           const double *alpha, const double *A, int lda, double *B, int ldb) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  long na = side == CUBLAS_SIDE_LEFT ? m : n;
  if ((side != CUBLAS_SIDE_LEFT && side != CUBLAS_SIDE_RIGHT) ||
      (uplo != CUBLAS_FILL_MODE_LOWER && uplo != CUBLAS_FILL_MODE_UPPER) || !op_ok(trans) ||
      (diag != CUBLAS_DIAG_NON_UNIT && diag != CUBLAS_DIAG_UNIT) || m < 0 || n < 0)
    return blas_fail("cublasDtrsm", "bad side, fill mode, operation, diagonal or size");
  if (lda < (na > 1 ? na : 1) || ldb < (m > 1 ? m : 1))
    return blas_fail("cublasDtrsm", "leading dimension below the rows stored");
  if (!host_scalar(alpha))
    return blas_fail("cublasDtrsm", "alpha must be a host pointer (pointer mode host)");
  if (!on_device(A, na, na, lda) || !on_device(B, m, n, ldb))
    return blas_fail("cublasDtrsm", "a matrix is not (wholly) in device memory");
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  cblas_dtrsm(CblasColMajor, side == CUBLAS_SIDE_LEFT ? CblasLeft : CblasRight,
              uplo == CUBLAS_FILL_MODE_LOWER ? CblasLower : CblasUpper, op(trans),
              diag == CUBLAS_DIAG_UNIT ? CblasUnit : CblasNonUnit, m, n, *alpha, A, lda, B, ldb);
  return CUBLAS_STATUS_SUCCESS;
}

// cuBLAS reports a bad argument of geqrfBatched through the host info (-i for the i-th) and
// CUBLAS_STATUS_INVALID_VALUE.
cublasStatus_t cublasDgeqrfBatched(cublasHandle_t handle, int m, int n, double *const Aarray[],
                                   int lda, double *const TauArray[], int *info, int batchSize) {
  const char *call = "cublasDgeqrfBatched";
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!info || blorc_emu::device_owns(info)) return blas_fail(call, "info must be a host pointer");
  int bad = m < 0 ? 2 : n < 0 ? 3 : lda < (m > 1 ? m : 1) ? 5 : batchSize < 0 ? 8 : 0;
  *info = -bad;
  if (bad) return blas_fail(call, "argument " + std::to_string(bad) + " is wrong");
  if (batchSize == 0) return CUBLAS_STATUS_SUCCESS;
  if (!blorc_emu::device_owns(Aarray) || !blorc_emu::device_owns(Aarray + batchSize - 1) ||
      !blorc_emu::device_owns(TauArray) || !blorc_emu::device_owns(TauArray + batchSize - 1))
    return blas_fail(call, "the pointer arrays are not (wholly) in device memory");
  int mn = m < n ? m : n;
  for (int j = 0; j < batchSize; j++)
    if (!on_device(Aarray[j], m, n, lda) || !on_device(TauArray[j], mn, 1, mn > 0 ? mn : 1))
      return blas_fail(call, "matrix " + std::to_string(j) + " or its tau is not in device memory");
  for (int j = 0; j < batchSize && mn > 0; j++)
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, m, n, Aarray[j], lda, TauArray[j]);
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

// gesvdjBatched's parameters: tolerance (default machine precision), sweeps (default 100),
// sorting (default on).
cusolverStatus_t cusolverDnCreateGesvdjInfo(gesvdjInfo_t *info) {
  if (!info) return solver_fail("cusolverDnCreateGesvdjInfo", "info is NULL");
  *info = new blorc_emu_gesvdj_info{0.0, 100, 1};
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDestroyGesvdjInfo(gesvdjInfo_t info) {
  delete info;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnXgesvdjSetTolerance(gesvdjInfo_t info, double tolerance) {
  if (!info) return solver_fail("cusolverDnXgesvdjSetTolerance", "info is NULL");
  info->tol = tolerance;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnXgesvdjSetMaxSweeps(gesvdjInfo_t info, int max_sweeps) {
  if (!info || max_sweeps < 0)
    return solver_fail("cusolverDnXgesvdjSetMaxSweeps", "info is NULL or max_sweeps < 0");
  info->max_sweeps = max_sweeps;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnXgesvdjSetSortEig(gesvdjInfo_t info, int sort_svd) {
  if (!info) return solver_fail("cusolverDnXgesvdjSetSortEig", "info is NULL");
  info->sort = sort_svd != 0;
  return CUSOLVER_STATUS_SUCCESS;
}

namespace {

// The documented argument rules of gesvdjBatched and its buffer query: m, n <= 32, lda >=
// max(1, m), ldu >= max(1, m), ldv >= max(1, n), batchSize >= 0, a valid jobz; "" when they hold.
std::string gesvdj_args(cusolverEigMode_t jobz, int m, int n, int lda, int ldu, int ldv,
                        int batch) {
  if (jobz != CUSOLVER_EIG_MODE_NOVECTOR && jobz != CUSOLVER_EIG_MODE_VECTOR) return "bad jobz";
  if (m < 0 || n < 0 || m > 32 || n > 32)
    return "m = " + std::to_string(m) + ", n = " + std::to_string(n) + ": expected 0..32";
  if (lda < (m > 1 ? m : 1) || ldu < (m > 1 ? m : 1) || ldv < (n > 1 ? n : 1))
    return "lda or ldu < max(1, m), or ldv < max(1, n)";
  if (batch < 0) return "batchSize < 0";
  return "";
}

// The emulation's workspace: one m x n matrix and min(m, n) + 1 values per batch entry (the
// real size differs; callers must use the queried size, which is what is checked).
int gesvdj_lwork(int m, int n, int batch) {
  int mn = m < n ? m : n;
  return (m * n + mn + 1) * (batch > 1 ? batch : 1);
}

}  // namespace

cusolverStatus_t cusolverDnDgesvdjBatched_bufferSize(cusolverDnHandle_t handle,
                                                     cusolverEigMode_t jobz, int m, int n,
                                                     const double *A, int lda, const double *S,
                                                     const double *U, int ldu, const double *V,
                                                     int ldv, int *lwork, gesvdjInfo_t params,
                                                     int batchSize) {
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  std::string why = gesvdj_args(jobz, m, n, lda, ldu, ldv, batchSize);
  if (!why.empty() || !lwork || !params)
    return solver_fail("cusolverDnDgesvdjBatched_bufferSize",
                       why.empty() ? "no lwork or no params" : why);
  (void)A, (void)S, (void)U, (void)V;
  *lwork = gesvdj_lwork(m, n, batchSize);
  return CUSOLVER_STATUS_SUCCESS;
}

// Each matrix by LAPACK's dgesvd (sorted descending, as with sorting on; V, not V^T, is
// returned, as gesvdj does). A is overwritten, as the real routine may.
cusolverStatus_t cusolverDnDgesvdjBatched(cusolverDnHandle_t handle, cusolverEigMode_t jobz, int m,
                                          int n, double *A, int lda, double *S, double *U, int ldu,
                                          double *V, int ldv, double *work, int lwork, int *info,
                                          gesvdjInfo_t params, int batchSize) {
  const char *call = "cusolverDnDgesvdjBatched";
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  std::string why = gesvdj_args(jobz, m, n, lda, ldu, ldv, batchSize);
  if (!why.empty() || !params) return solver_fail(call, why.empty() ? "no params" : why);
  int mn = m < n ? m : n, b = batchSize;
  bool vec = jobz == CUSOLVER_EIG_MODE_VECTOR;
  if (!on_device(A, m, (long)n * b, lda) || !on_device(S, mn, b, mn > 0 ? mn : 1) ||
      (vec && (!on_device(U, m, (long)m * b, ldu) || !on_device(V, n, (long)n * b, ldv))) ||
      !on_device(reinterpret_cast<const double *>(info), 1, 1, 1) ||
      !blorc_emu::device_owns(info + (b > 0 ? b - 1 : 0)))
    return solver_fail(call, "A, S, U, V or info is not in device memory (or too short)");
  if (lwork < gesvdj_lwork(m, n, b) || !on_device(work, lwork, 1, lwork))
    return solver_fail(call, "lwork = " + std::to_string(lwork) +
                                 " below cusolverDnDgesvdjBatched_bufferSize's, or the "
                                 "workspace is not device memory");
  std::vector<double> vt((size_t)n * n), superb(mn > 1 ? mn : 1);
  for (int j = 0; j < b; j++) {
    double *Aj = A + (size_t)j * lda * n, *Sj = S + (size_t)j * mn;
    info[j] = 0;
    if (m == 0 || n == 0) continue;
    int rc = (int)LAPACKE_dgesvd(LAPACK_COL_MAJOR, vec ? 'A' : 'N', vec ? 'A' : 'N', m, n, Aj, lda,
                                 Sj, vec ? U + (size_t)j * ldu * m : nullptr, ldu,
                                 vec ? vt.data() : nullptr, n, superb.data());
    info[j] = rc > 0 ? mn + 1 : rc;
    if (vec)
      for (int c = 0; c < n; c++)
        for (int r = 0; r < n; r++)
          V[(size_t)j * ldv * n + (size_t)c * ldv + r] = vt[(size_t)r * n + c];
    blorc_emu::take_info(call, &info[j]);
  }
  if (!params->sort) {  // unsorted: the emulation reverses, so callers that rely on order fail
    for (int j = 0; j < b && mn > 1; j++) {
      double *Sj = S + (size_t)j * mn;
      for (int q = 0; q < mn / 2; q++) std::swap(Sj[q], Sj[mn - 1 - q]);
      for (int q = 0; vec && q < mn / 2; q++) {
        for (int r = 0; r < n; r++)
          std::swap(V[(size_t)j * ldv * n + (size_t)q * ldv + r],
                    V[(size_t)j * ldv * n + (size_t)(mn - 1 - q) * ldv + r]);
        for (int r = 0; r < m; r++)
          std::swap(U[(size_t)j * ldu * m + (size_t)q * ldu + r],
                    U[(size_t)j * ldu * m + (size_t)(mn - 1 - q) * ldu + r]);
      }
    }
  }
  return CUSOLVER_STATUS_SUCCESS;
}

// The emulation's QR workspace: n doubles (callers must use the queried size).
cusolverStatus_t cusolverDnDgeqrf_bufferSize(cusolverDnHandle_t handle, int m, int n, double *A,
                                             int lda, int *lwork) {
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || lda < (m > 1 ? m : 1) || !lwork)
    return solver_fail("cusolverDnDgeqrf_bufferSize", "m or n < 0, lda < max(1, m) or no lwork");
  (void)A;
  *lwork = n > 1 ? n : 1;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDgeqrf(cusolverDnHandle_t handle, int m, int n, double *A, int lda,
                                  double *TAU, double *Workspace, int Lwork, int *devInfo) {
  const char *call = "cusolverDnDgeqrf";
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || lda < (m > 1 ? m : 1)) return solver_fail(call, "m or n < 0 or lda < m");
  int mn = m < n ? m : n;
  if (!on_device(A, m, n, lda) || !on_device(TAU, mn, 1, mn > 0 ? mn : 1) ||
      !blorc_emu::device_owns(devInfo))
    return solver_fail(call, "A, TAU or devInfo is not in device memory");
  if (Lwork < (n > 1 ? n : 1) || !on_device(Workspace, Lwork, 1, Lwork))
    return solver_fail(call, "Lwork = " + std::to_string(Lwork) +
                                 " below cusolverDnDgeqrf_bufferSize's, or the workspace is not "
                                 "device memory");
  *devInfo = mn == 0 ? 0 : (int)LAPACKE_dgeqrf(LAPACK_COL_MAJOR, m, n, A, lda, TAU);
  blorc_emu::take_info(call, devInfo);
  return CUSOLVER_STATUS_SUCCESS;
}

namespace {

// dorgqr's rules: m >= n >= k >= 0, lda >= max(1, m).
bool orgqr_ok(int m, int n, int k, int lda) {
  return m >= n && n >= k && k >= 0 && lda >= (m > 1 ? m : 1);
}

}  // namespace

cusolverStatus_t cusolverDnDorgqr_bufferSize(cusolverDnHandle_t handle, int m, int n, int k,
                                             const double *A, int lda, const double *tau,
                                             int *lwork) {
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!orgqr_ok(m, n, k, lda) || !lwork)
    return solver_fail("cusolverDnDorgqr_bufferSize", "expected m >= n >= k >= 0, lda >= m");
  (void)A, (void)tau;
  *lwork = n > 1 ? n : 1;
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDorgqr(cusolverDnHandle_t handle, int m, int n, int k, double *A,
                                  int lda, const double *tau, double *work, int lwork, int *info) {
  const char *call = "cusolverDnDorgqr";
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  if (!orgqr_ok(m, n, k, lda)) return solver_fail(call, "expected m >= n >= k >= 0, lda >= m");
  if (!on_device(A, m, n, lda) || !on_device(tau, k, 1, k > 0 ? k : 1) ||
      !blorc_emu::device_owns(info))
    return solver_fail(call, "A, tau or info is not in device memory");
  if (lwork < (n > 1 ? n : 1) || !on_device(work, lwork, 1, lwork))
    return solver_fail(call, "lwork = " + std::to_string(lwork) +
                                 " below cusolverDnDorgqr_bufferSize's, or the workspace is not "
                                 "device memory");
  *info = n == 0 ? 0 : (int)LAPACKE_dorgqr(LAPACK_COL_MAJOR, m, n, k, A, lda, tau);
  blorc_emu::take_info(call, info);
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnCreateParams(cusolverDnParams_t *params) {
  if (!params) return solver_fail("cusolverDnCreateParams", "params is NULL");
  *params = new blorc_emu_params{0};
  return CUSOLVER_STATUS_SUCCESS;
}

cusolverStatus_t cusolverDnDestroyParams(cusolverDnParams_t params) {
  delete params;
  return CUSOLVER_STATUS_SUCCESS;
}

namespace {

// XsyevBatched's rules: a valid jobz and uplo, n >= 0, lda >= max(1, n), batchSize >= 0,
// n lda batchSize <= INT32_MAX (the documented limit), double throughout; "" when they hold.
std::string syev_batched_args(cusolverDnParams_t params, cusolverEigMode_t jobz,
                              cublasFillMode_t uplo, int64_t n, cudaDataType ta, int64_t lda,
                              cudaDataType tw, cudaDataType tc, int64_t batch) {
  if (!params) return "no params";
  if (jobz != CUSOLVER_EIG_MODE_NOVECTOR && jobz != CUSOLVER_EIG_MODE_VECTOR) return "bad jobz";
  if (!uplo_ok(uplo)) return "bad uplo";
  if (n < 0 || lda < (n > 1 ? n : 1) || batch < 0) return "n < 0, lda < max(1, n) or batch < 0";
  if (n * lda * batch > 2147483647LL) return "n * lda * batchSize exceeds INT32_MAX";
  if (ta != CUDA_R_64F || tw != CUDA_R_64F || tc != CUDA_R_64F)
    return "data types other than double";
  return "";
}

// The emulation's workspaces: n + 1 doubles per matrix on the device, 64 bytes on the host
// (callers must pass the queried sizes and both buffers).
size_t syev_device_bytes(int64_t n, int64_t batch) {
  return (size_t)(n + 1) * (size_t)(batch > 1 ? batch : 1) * sizeof(double);
}
constexpr size_t kSyevHostBytes = 64;

}  // namespace

cusolverStatus_t cusolverDnXsyevBatched_bufferSize(
    cusolverDnHandle_t handle, cusolverDnParams_t params, cusolverEigMode_t jobz,
    cublasFillMode_t uplo, int64_t n, cudaDataType dataTypeA, const void *A, int64_t lda,
    cudaDataType dataTypeW, const void *W, cudaDataType computeType,
    size_t *workspaceInBytesOnDevice, size_t *workspaceInBytesOnHost, int64_t batchSize) {
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  std::string why =
      syev_batched_args(params, jobz, uplo, n, dataTypeA, lda, dataTypeW, computeType, batchSize);
  if (!why.empty() || !workspaceInBytesOnDevice || !workspaceInBytesOnHost)
    return solver_fail("cusolverDnXsyevBatched_bufferSize",
                       why.empty() ? "no workspace size outputs" : why);
  (void)A, (void)W;
  *workspaceInBytesOnDevice = syev_device_bytes(n, batchSize);
  *workspaceInBytesOnHost = kSyevHostBytes;
  return CUSOLVER_STATUS_SUCCESS;
}

// Each matrix by LAPACK's dsyev (ascending eigenvalues, eigenvectors over A with jobz VECTOR).
cusolverStatus_t cusolverDnXsyevBatched(cusolverDnHandle_t handle, cusolverDnParams_t params,
                                        cusolverEigMode_t jobz, cublasFillMode_t uplo, int64_t n,
                                        cudaDataType dataTypeA, void *A, int64_t lda,
                                        cudaDataType dataTypeW, void *W, cudaDataType computeType,
                                        void *bufferOnDevice, size_t workspaceInBytesOnDevice,
                                        void *bufferOnHost, size_t workspaceInBytesOnHost,
                                        int *info, int64_t batchSize) {
  const char *call = "cusolverDnXsyevBatched";
  if (!handle) return CUSOLVER_STATUS_NOT_INITIALIZED;
  std::string why =
      syev_batched_args(params, jobz, uplo, n, dataTypeA, lda, dataTypeW, computeType, batchSize);
  if (!why.empty()) return solver_fail(call, why);
  double *a = static_cast<double *>(A), *w = static_cast<double *>(W);
  int64_t b = batchSize;
  if (!on_device(a, n, n * b, lda) || !on_device(w, n, b, n > 0 ? n : 1) ||
      !blorc_emu::device_owns(info) || !blorc_emu::device_owns(info + (b > 0 ? b - 1 : 0)))
    return solver_fail(call, "A, W or info is not in device memory (or too short)");
  size_t dev = syev_device_bytes(n, b);
  if (workspaceInBytesOnDevice < dev ||
      !on_device(static_cast<double *>(bufferOnDevice), (long)(dev / sizeof(double)), 1,
                 (long)(dev / sizeof(double))) ||
      workspaceInBytesOnHost < kSyevHostBytes || !bufferOnHost ||
      blorc_emu::device_owns(bufferOnHost))
    return solver_fail(call,
                       "workspace below cusolverDnXsyevBatched_bufferSize's, or the device "
                       "buffer not in device memory, or the host buffer not on the host");
  for (int64_t j = 0; j < b; j++) {
    info[j] = 0;
    if (n == 0) continue;
    int rc = (int)LAPACKE_dsyev(LAPACK_COL_MAJOR, jobz == CUSOLVER_EIG_MODE_VECTOR ? 'V' : 'N',
                                uplo == CUBLAS_FILL_MODE_LOWER ? 'L' : 'U', (int)n,
                                a + (size_t)j * lda * n, (int)lda, w + (size_t)j * n);
    info[j] = rc;
    blorc_emu::take_info(call, &info[j]);
  }
  return CUSOLVER_STATUS_SUCCESS;
}
