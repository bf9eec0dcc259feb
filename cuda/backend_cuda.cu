// The CUDA backend: device memory, library handles, the data set and batch gathering,
// buffer access, and the function table that plugs the stage files into the dispatcher.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda_backend.h"
#include "launch.h"

namespace {

// Every device array of the backend, for allocation and release in one place.
template <typename F>
void for_each_array(cuda_state *c, F f) {
  f((void **)&c->W), f((void **)&c->L), f((void **)&c->K), f((void **)&c->Q), f((void **)&c->WC),
      f((void **)&c->Y), f((void **)&c->X);
  f((void **)&c->ynorm), f((void **)&c->Z), f((void **)&c->U), f((void **)&c->C);
  f((void **)&c->Xa), f((void **)&c->Xout), f((void **)&c->V), f((void **)&c->D), f((void **)&c->T);
  f((void **)&c->R), f((void **)&c->r2), f((void **)&c->iters), f((void **)&c->active);
  f((void **)&c->S), f((void **)&c->sv), f((void **)&c->Vs), f((void **)&c->Xs), f((void **)&c->A);
  f((void **)&c->Bv), f((void **)&c->H), f((void **)&c->Wq), f((void **)&c->Wg);
  f((void **)&c->loss), f((void **)&c->G), f((void **)&c->rank), f((void **)&c->svd_work);
  f((void **)&c->idx), f((void **)&c->info), f((void **)&c->potrf_work);
  f((void **)&c->Xall), f((void **)&c->Yall), f((void **)&c->Zall), f((void **)&c->Lall);
}

void cuda_destroy(blorc_backend *b) {
  cuda_state *c = cuda_of(b);
  if (!c) return;
  for_each_array(c, [](void **p) {
    if (*p) cudaFree(*p);
    *p = nullptr;
  });
  if (c->blas) cublasDestroy(c->blas);
  if (c->solver) cusolverDnDestroy(c->solver);
  if (c->stream) cudaStreamDestroy(c->stream);
  free(c);
  b->impl = nullptr;
}

// cudaMalloc with a message naming the sizes when the device is out of memory.
blorc_status dev_alloc(const blorc_backend *b, void **p, size_t bytes, const char *what,
                       blorc_error *err) {
  cudaError_t e = cudaMalloc(p, bytes ? bytes : 8);
  if (e == cudaSuccess) return BLORC_OK;
  cudaGetLastError();
  *p = nullptr;
  return blorc_fail(err, e == cudaErrorMemoryAllocation ? BLORC_ENOMEM : BLORC_EDEVICE,
                    "out of device memory for batch size %d (n=%d, k=%d): %s needs %zu bytes (%s)",
                    b->cap, b->n, b->k, what, bytes, cudaGetErrorString(e));
}

blorc_status cuda_init_inner(blorc_backend *b, cuda_state *c, blorc_error *err) {
  size_t n = b->n, k = b->k, cap = b->cap, kn = b->kn, d = sizeof(double);
  BLORC_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
  BLORC_CUBLAS_CHECK(cublasCreate(&c->blas));
  BLORC_CUBLAS_CHECK(cublasSetStream(c->blas, c->stream));
  BLORC_CUSOLVER_CHECK(cusolverDnCreate(&c->solver));
  BLORC_CUSOLVER_CHECK(cusolverDnSetStream(c->solver, c->stream));
  int dev, optin = 0;
  BLORC_CUDA_CHECK(cudaGetDevice(&dev));
  BLORC_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  c->smem_optin = (size_t)optin;
  struct {
    void **p;
    size_t bytes;
    const char *what;
  } arrays[] = {
      {(void **)&c->W, n * k * d, "W"},
      {(void **)&c->L, n * n * d, "the Cholesky factor"},
      {(void **)&c->K, n * k * d, "K"},
      {(void **)&c->Q, k * k * d, "Q"},
      {(void **)&c->WC, k * cap * d, "W C"},
      {(void **)&c->Y, n * cap * d, "noisy batch"},
      {(void **)&c->X, n * cap * d, "clean batch"},
      {(void **)&c->ynorm, cap * d, "norms"},
      {(void **)&c->Z, k * cap * d, "z"},
      {(void **)&c->U, k * cap * d, "u"},
      {(void **)&c->C, n * cap * d, "C"},
      {(void **)&c->Xa, n * cap * d, "x"},
      {(void **)&c->Xout, n * cap * d, "x out"},
      {(void **)&c->V, k * cap * d, "W x"},
      {(void **)&c->D, k * cap * d, "dz"},
      {(void **)&c->T, k * cap * d, "z - u"},
      {(void **)&c->R, n * cap * d, "W^T dz"},
      {(void **)&c->r2, cap * d, "residuals"},
      {(void **)&c->iters, cap * sizeof(int), "iterations"},
      {(void **)&c->active, cap * sizeof(int), "flags"},
      {(void **)&c->S, k * cap * d, "signs"},
      {(void **)&c->sv, kn * cap * d, "singular values"},
      {(void **)&c->Vs, n * kn * cap * d, "singular vectors"},
      {(void **)&c->Xs, n * cap * d, "x*"},
      {(void **)&c->A, k * cap * d, "a"},
      {(void **)&c->Bv, k * cap * d, "b"},
      {(void **)&c->H, n * cap * d, "h"},
      {(void **)&c->Wq, n * cap * d, "wq"},
      {(void **)&c->Wg, n * cap * d, "wg"},
      {(void **)&c->loss, cap * d, "losses"},
      {(void **)&c->G, n * k * d, "gradient"},
      {(void **)&c->rank, cap * sizeof(int), "ranks"},
      {(void **)&c->svd_work, n * k * cap * d, "SVD workspace"},
      {(void **)&c->idx, cap * sizeof(size_t), "indices"},
      {(void **)&c->info, sizeof(int), "info"},
  };
  for (auto &a : arrays) BLORC_TRY(dev_alloc(b, a.p, a.bytes, a.what, err));
  BLORC_CUSOLVER_CHECK(cusolverDnDpotrf_bufferSize(c->solver, CUBLAS_FILL_MODE_LOWER, (int)n, c->L,
                                                   (int)n, &c->potrf_lwork));
  BLORC_TRY(
      dev_alloc(b, (void **)&c->potrf_work, (size_t)c->potrf_lwork * d, "potrf workspace", err));
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->W, 0, n * k * d, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return BLORC_OK;
}

blorc_status cuda_init(blorc_backend *b, blorc_error *err) {
  cuda_state *c = (cuda_state *)calloc(1, sizeof *c);
  if (!c) return blorc_fail(err, BLORC_ENOMEM, "out of host memory for the CUDA backend");
  b->impl = c;
  blorc_status st = cuda_init_inner(b, c, err);
  if (st != BLORC_OK) cuda_destroy(b);
  return st;
}

blorc_status cuda_set_data(blorc_backend *b, const double *X, const double *Y, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  size_t nN = (size_t)b->n * b->N * sizeof(double), kN = (size_t)b->k * b->N * sizeof(double);
  double *arr[4] = {c->Xall, c->Yall, c->Zall, c->Lall};
  for (double *p : arr)
    if (p) BLORC_CUDA_CHECK(cudaFree(p));
  c->Xall = c->Yall = c->Zall = c->Lall = nullptr;
  if (X) BLORC_TRY(dev_alloc(b, (void **)&c->Xall, nN, "the clean data set", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->Yall, nN, "the noisy data set", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->Zall, kN, "warm-start z", err));
  BLORC_TRY(dev_alloc(b, (void **)&c->Lall, kN, "warm-start duals", err));
  if (X) BLORC_CUDA_CHECK(cudaMemcpyAsync(c->Xall, X, nN, cudaMemcpyHostToDevice, c->stream));
  BLORC_CUDA_CHECK(cudaMemcpyAsync(c->Yall, Y, nN, cudaMemcpyHostToDevice, c->stream));
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->Zall, 0, kN, c->stream));
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->Lall, 0, kN, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return BLORC_OK;
}

// One block per batch column: gathers y, x, z and the unscaled dual, and ||y||.
__global__ void gather_kernel(int n, int k, const size_t *idx, const double *Yall,
                              const double *Xall, const double *Zall, const double *Lall, double *Y,
                              double *X, double *Z, double *U, double *ynorm) {
  int j = blockIdx.x;
  size_t t = idx[j];
  BLORC_SHARED(double, part, 32);
  double s = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double y = Yall[t * n + i];
    Y[(size_t)j * n + i] = y;
    if (Xall) X[(size_t)j * n + i] = Xall[t * n + i];
    s += y * y;
  }
  for (int i = threadIdx.x; i < k; i += blockDim.x) {
    Z[(size_t)j * k + i] = Zall[t * k + i];
    U[(size_t)j * k + i] = Lall[t * k + i];
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0;
    for (int w = 0; w < (int)(blockDim.x + 31) / 32; w++) total += part[w];
    ynorm[j] = sqrt(total);
  }
}

blorc_status cuda_select(blorc_backend *b, const size_t *idx, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  BLORC_CUDA_CHECK(cudaMemcpyAsync(c->idx, idx, (size_t)b->B * sizeof(size_t),
                                   cudaMemcpyHostToDevice, c->stream));
  BLORC_LAUNCH(gather_kernel, b->B, 128, 0, c->stream)
  (b->n, b->k, c->idx, c->Yall, c->Xall, c->Zall, c->Lall, c->Y, c->X, c->Z, c->U, c->ynorm);
  BLORC_CUDA_CHECK_LAUNCH("gather");
  // idx lives on the host side only for this call: finish before it may change.
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return BLORC_OK;
}

blorc_status copy_out(cuda_state *c, void *dst, const void *src, size_t bytes, blorc_error *err) {
  BLORC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return BLORC_OK;
}

blorc_status copy_ints(cuda_state *c, double *dst, const int *src, int count, blorc_error *err) {
  std::vector<int> h(count);
  BLORC_TRY(copy_out(c, h.data(), src, count * sizeof(int), err));
  for (int j = 0; j < count; j++) dst[j] = h[j];
  return BLORC_OK;
}

blorc_status cuda_read(const blorc_backend *b, blorc_buffer which, double *dst, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  size_t bytes = blorc_buffer_size(b, which) * sizeof(double);
  switch (which) {
    case BLORC_BUF_W: return copy_out(c, dst, c->W, bytes, err);
    case BLORC_BUF_GRAD: return copy_out(c, dst, c->G, bytes, err);
    case BLORC_BUF_STATE_Z: return copy_out(c, dst, c->Zall, bytes, err);
    case BLORC_BUF_STATE_LAMBDA: return copy_out(c, dst, c->Lall, bytes, err);
    case BLORC_BUF_X_ADMM: return copy_out(c, dst, c->Xout, bytes, err);
    case BLORC_BUF_SIGN: return copy_out(c, dst, c->S, bytes, err);
    case BLORC_BUF_SV: return copy_out(c, dst, c->sv, bytes, err);
    case BLORC_BUF_XSTAR: return copy_out(c, dst, c->Xs, bytes, err);
    case BLORC_BUF_A: return copy_out(c, dst, c->A, bytes, err);
    case BLORC_BUF_B: return copy_out(c, dst, c->Bv, bytes, err);
    case BLORC_BUF_H: return copy_out(c, dst, c->H, bytes, err);
    case BLORC_BUF_LOSS: return copy_out(c, dst, c->loss, bytes, err);
    case BLORC_BUF_ITERS: return copy_ints(c, dst, c->iters, b->B, err);
    case BLORC_BUF_RANK: return copy_ints(c, dst, c->rank, b->B, err);
    case BLORC_BUF_PN: {
      std::vector<double> Vs((size_t)b->n * b->kn * b->B);
      std::vector<int> rank(b->B);
      BLORC_TRY(copy_out(c, Vs.data(), c->Vs, Vs.size() * sizeof(double), err));
      BLORC_TRY(copy_out(c, rank.data(), c->rank, rank.size() * sizeof(int), err));
      blorc_projectors(b->n, b->kn, b->B, Vs.data(), rank.data(), dst);
      return BLORC_OK;
    }
  }
  return blorc_fail(err, BLORC_EINVAL, "read: unknown buffer %d", (int)which);
}

blorc_status cuda_write(blorc_backend *b, blorc_buffer which, const double *src, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  double *dst = which == BLORC_BUF_W ? c->W : which == BLORC_BUF_STATE_Z ? c->Zall : c->Lall;
  if (!dst) return blorc_fail(err, BLORC_EINVAL, "write: no data set for the warm-start state");
  size_t bytes = blorc_buffer_size(b, which) * sizeof(double);
  BLORC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return BLORC_OK;
}

blorc_status cuda_sync(const blorc_backend *b, blorc_error *err) {
  BLORC_CUDA_CHECK(cudaStreamSynchronize(cuda_of(b)->stream));
  return BLORC_OK;
}

}  // namespace

extern "C" const blorc_backend_ops blorc_cuda_ops = {
    "cuda",     cuda_init, cuda_destroy,     cuda_set_data, cuda_select, cuda_factor, cuda_admm,
    cuda_signs, cuda_svd,  cuda_closed_form, cuda_gradient, cuda_read,   cuda_write,  cuda_sync};
