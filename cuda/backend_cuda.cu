// The CUDA backend: device memory, library handles, the data set and batch gathering,
// buffer access, and the function table that plugs the stage files into the dispatcher.
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "blorc/active_set.h"
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
  f((void **)&c->svd_failed), f((void **)&c->thrust_scratch), f((void **)&c->active_count);
  f((void **)&c->Dcur), f((void **)&c->Ac), f((void **)&c->Vx), f((void **)&c->Tk);
  f((void **)&c->Tb), f((void **)&c->Rn), f((void **)&c->Wr), f((void **)&c->cert);
  f((void **)&c->rn), f((void **)&c->wloss), f((void **)&c->redo), f((void **)&c->moved);
  f((void **)&c->At), f((void **)&c->Bop), f((void **)&c->Ym), f((void **)&c->Ry);
  f((void **)&c->Hy), f((void **)&c->GA), f((void **)&c->Mv), f((void **)&c->Fws);
  f((void **)&c->uniq), f((void **)&c->wts), f((void **)&c->dmax), f((void **)&c->Mall);
  f((void **)&c->Mk), f((void **)&c->Lj), f((void **)&c->Kj), f((void **)&c->Qj);
  f((void **)&c->bad);
  f((void **)&c->gj_A), f((void **)&c->gj_S), f((void **)&c->gj_U), f((void **)&c->gj_V);
  f((void **)&c->gj_work), f((void **)&c->gj_info), f((void **)&c->Am), f((void **)&c->Av);
  f((void **)&c->Wn);
  f((void **)&c->fq_Q), f((void **)&c->fq_tau), f((void **)&c->fq_Rinv), f((void **)&c->Wpinv);
  f((void **)&c->fq_G), f((void **)&c->fq_Gtau), f((void **)&c->fq_work), f((void **)&c->fq_guard);
  f((void **)&c->fq_cost), f((void **)&c->fq_Gptr), f((void **)&c->fq_Tptr);
  f((void **)&c->gr_G), f((void **)&c->gr_L), f((void **)&c->gr_work), f((void **)&c->gr_info);
  f((void **)&c->gr_redo), f((void **)&c->perm), f((void **)&c->pkeys);
  f((void **)&c->sort_scratch), f((void **)&c->Sall), f((void **)&c->bstat);
}

void cuda_destroy(blorc_backend *b) {
  cuda_state *c = cuda_of(b);
  if (!c) return;
  for_each_array(c, [](void **p) {
    if (*p) cudaFree(*p);
    *p = nullptr;
  });
  if (c->active_count_host) cudaFreeHost(c->active_count_host);
  if (c->active_ready) cudaEventDestroy(c->active_ready);
  if (c->gj_params) cusolverDnDestroyGesvdjInfo(c->gj_params);
  if (c->gr_params) cusolverDnDestroyParams(c->gr_params);
  free(c->gr_host);
  if (c->blas) cublasDestroy(c->blas);
  if (c->solver) cusolverDnDestroy(c->solver);
  if (c->stream) cudaStreamDestroy(c->stream);
  free(c);
  b->impl = nullptr;
}

}  // namespace

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

namespace {

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
      {(void **)&c->Am, n * k * d, "Adam's first moments"},
      {(void **)&c->Av, n * k * d, "Adam's second moments"},
      {(void **)&c->Wn, n * k * d, "the step's new W"},
      {(void **)&c->rank, cap * sizeof(int), "ranks"},
      {(void **)&c->svd_work, n * k * cap * d, "SVD workspace"},
      {(void **)&c->idx, cap * sizeof(size_t), "indices"},
      {(void **)&c->info, sizeof(int), "info"},
      {(void **)&c->svd_failed, cap * sizeof(int), "SVD flags"},
      {(void **)&c->thrust_scratch, kCudaThrustScratch, "Thrust scratch"},
      {(void **)&c->active_count, sizeof(int), "active count"},
      {(void **)&c->Dcur, k * cap * d, "polish dual"},
      {(void **)&c->Ac, k * cap * d, "certificate dual"},
      {(void **)&c->Vx, k * cap * d, "W x*"},
      {(void **)&c->Tk, k * cap * d, "certificate scratch"},
      {(void **)&c->Tb, k * cap * d, "gradient scratch"},
      {(void **)&c->Rn, n * cap * d, "residuals"},
      {(void **)&c->Wr, n * cap * d, "dual projection"},
      {(void **)&c->cert, BLORC_CERT_COLUMNS * cap * d, "certificates"},
      {(void **)&c->rn, k * d, "row norms"},
      {(void **)&c->wloss, cap * d, "weighted losses"},
      {(void **)&c->redo, cap * sizeof(int), "polish flags"},
      {(void **)&c->moved, cap * sizeof(int), "polish counts"},
      {(void **)&c->bstat, 3 * cap * sizeof(int), "minibatch statistics"},
  };
  for (auto &a : arrays) BLORC_TRY(dev_alloc(b, a.p, a.bytes, a.what, err));
  BLORC_CUSOLVER_CHECK(cusolverDnDpotrf_bufferSize(c->solver, CUBLAS_FILL_MODE_LOWER, (int)n, c->L,
                                                   (int)n, &c->potrf_lwork));
  BLORC_TRY(
      dev_alloc(b, (void **)&c->potrf_work, (size_t)c->potrf_lwork * d, "potrf workspace", err));
  BLORC_CUDA_CHECK(cudaMallocHost(&c->active_count_host, sizeof(int)));
  BLORC_CUDA_CHECK(cudaEventCreateWithFlags(&c->active_ready, cudaEventDisableTiming));
  if (n <= kCudaGesvdjMax && k <= kCudaGesvdjMax) BLORC_TRY(cuda_gesvdj_init(b, err));
  c->svd_max_sweeps = kCudaJacobiSweeps;
  if (const char *s = getenv("BLORC_TEST_JACOBI_SWEEPS")) c->svd_max_sweeps = atoi(s);
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->W, 0, n * k * d, c->stream));
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->Am, 0, n * k * d, c->stream)); /* Adam starts at zero */
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->Av, 0, n * k * d, c->stream));
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
  size_t mN = (size_t)b->m * b->N * sizeof(double); /* y: m per signal under an operator */
  // The new set is allocated before the old one goes: when the device is full, the old data
  // (which the dispatcher still holds as loaded) stays valid.
  double *fresh[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  struct {
    double **p;
    size_t bytes;
    const char *what;
  } want[] = {{&fresh[0], X ? nN : 0, "the clean data set"},
              {&fresh[1], mN, "the noisy data set"},
              {&fresh[2], kN, "warm-start z"},
              {&fresh[3], kN, "warm-start duals"},
              {&fresh[4], kN, "sign patterns"}};
  blorc_status st = BLORC_OK;
  for (auto &w : want)
    if (st == BLORC_OK && w.bytes) st = dev_alloc(b, (void **)w.p, w.bytes, w.what, err);
  if (st != BLORC_OK) {
    for (double *p : fresh)
      if (p) cudaFree(p);
    return st;
  }
  double **held[5] = {&c->Xall, &c->Yall, &c->Zall, &c->Lall, &c->Sall};
  for (int i = 0; i < 5; i++) {
    if (*held[i]) BLORC_CUDA_CHECK(cudaFree(*held[i]));
    *held[i] = fresh[i];
  }
  if (X) BLORC_CUDA_CHECK(cudaMemcpyAsync(c->Xall, X, nN, cudaMemcpyHostToDevice, c->stream));
  BLORC_CUDA_CHECK(cudaMemcpyAsync(c->Yall, Y, mN, cudaMemcpyHostToDevice, c->stream));
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->Zall, 0, kN, c->stream));
  BLORC_CUDA_CHECK(cudaMemsetAsync(c->Lall, 0, kN, c->stream));
  BLORC_TRY(cuda_reset_patterns(b, err));
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return BLORC_OK;
}

constexpr int kGatherThreads = 128;

// One block per batch column: gathers y (length m) and x (length n), and ||y|| (ADMM loads
// its warm start itself).
__global__ void gather_kernel(int n, int m, const size_t *idx, const double *Yall,
                              const double *Xall, double *Y, double *X, double *ynorm) {
  int j = blockIdx.x;
  size_t t = idx[j];
  BLORC_SHARED(double, part, kGatherThreads / 32);  // one per warp
  double s = 0;
  for (int i = threadIdx.x; i < m; i += blockDim.x) {
    double y = Yall[t * m + i];
    Y[(size_t)j * m + i] = y;
    s += y * y;
  }
  for (int i = threadIdx.x; Xall && i < n; i += blockDim.x) X[(size_t)j * n + i] = Xall[t * n + i];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0;
    for (int w = 0; w < (int)(blockDim.x + 31) / 32; w++) total += part[w];
    ynorm[j] = sqrt(total);
  }
}

}  // namespace

blorc_status cuda_gather(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int op = c->op != BLORC_OP_IDENTITY;
  BLORC_LAUNCH(gather_kernel, b->B, kGatherThreads, 0, c->stream)
  (b->n, b->m, c->idx, c->Yall, c->Xall, op ? c->Ym : c->Y, c->X, c->ynorm);
  BLORC_CUDA_CHECK_LAUNCH("gather");
  if (op) BLORC_TRY(cuda_op_select(b, err)); /* Y = A^T y and its norms */
  return BLORC_OK;
}

namespace {

blorc_status cuda_select(blorc_backend *b, const size_t *idx, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  BLORC_CUDA_CHECK(cudaMemcpyAsync(c->idx, idx, (size_t)b->B * sizeof(size_t),
                                   cudaMemcpyHostToDevice, c->stream));
  BLORC_TRY(cuda_gather(b, err));
  // idx lives on the host side only for this call: finish before it may change.
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  return BLORC_OK;
}

blorc_status copy_out(cuda_state *c, void *dst, const void *src, size_t bytes, blorc_error *err) {
  if (bytes == 0) return BLORC_OK; /* e.g. dU/dA without a shared matrix */
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
    case BLORC_BUF_STATE_SIGNS: return copy_out(c, dst, c->Sall, bytes, err);
    case BLORC_BUF_X_ADMM: return copy_out(c, dst, c->Xout, bytes, err);
    case BLORC_BUF_SIGN: return copy_out(c, dst, c->S, bytes, err);
    case BLORC_BUF_SV: {
      if (b->svd_used != BLORC_SVD_FAST) return copy_out(c, dst, c->sv, bytes, err);
      // The fast path never formed them: LAPACK on the host, as the CPU backend does.
      std::vector<double> W((size_t)b->n * b->k), S((size_t)b->k * b->B);
      BLORC_TRY(copy_out(c, W.data(), c->W, W.size() * sizeof(double), err));
      BLORC_TRY(copy_out(c, S.data(), c->S, S.size() * sizeof(double), err));
      return blorc_masked_singular_values(b->n, b->k, b->kn, b->B, W.data(), S.data(), dst, err);
    }
    case BLORC_BUF_XSTAR: return copy_out(c, dst, c->Xs, bytes, err);
    case BLORC_BUF_A: return copy_out(c, dst, c->A, bytes, err);
    case BLORC_BUF_B: return copy_out(c, dst, c->Bv, bytes, err);
    case BLORC_BUF_H: return copy_out(c, dst, c->H, bytes, err);
    case BLORC_BUF_LOSS: return copy_out(c, dst, c->loss, bytes, err);
    case BLORC_BUF_CERT: return copy_out(c, dst, c->cert, bytes, err);
    case BLORC_BUF_DUAL: return copy_out(c, dst, c->Ac, bytes, err);
    case BLORC_BUF_ITERS: return copy_ints(c, dst, c->iters, b->B, err);
    case BLORC_BUF_GRAD_Y: return copy_out(c, dst, c->Hy, bytes, err);
    case BLORC_BUF_GRAD_OP: return copy_out(c, dst, c->GA, bytes, err);
    case BLORC_BUF_UNIQUE: return copy_ints(c, dst, c->uniq, b->B, err);
    case BLORC_BUF_RANK: return copy_ints(c, dst, c->rank, b->B, err);
    case BLORC_BUF_ADAM_M: return copy_out(c, dst, c->Am, bytes, err);
    case BLORC_BUF_ADAM_V: return copy_out(c, dst, c->Av, bytes, err);
    case BLORC_BUF_UPSTREAM: break; /* write-only: the dispatcher refuses the read */
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
  double *dst = BLORC_WRITE_TARGET(c, which);
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

// The C boundary: the dispatcher (C) calls these; a C++ exception from anything inside
// (std::vector, Thrust) becomes a status naming the stage instead of std::terminate.
template <const char *Stage, typename Sig, Sig *F>
struct guard;
template <const char *Stage, typename... A, blorc_status (*F)(A...)>
struct guard<Stage, blorc_status(A...), F> {
  static blorc_status call(A... a) {
    blorc_error *err = std::get<sizeof...(A) - 1>(std::forward_as_tuple(a...));
    try {
      return F(a...);
    } catch (const std::bad_alloc &) {
      return blorc_fail(err, BLORC_ENOMEM, "%s: out of host memory", Stage);
    } catch (const std::exception &e) {
      return blorc_fail(err, BLORC_EDEVICE, "%s: %s", Stage, e.what());
    } catch (...) {
      return blorc_fail(err, BLORC_EDEVICE, "%s: unknown C++ exception", Stage);
    }
  }
};
#define BLORC_GUARD(fn) guard<k_##fn, decltype(fn), fn>::call

constexpr char k_cuda_init[] = "CUDA backend", k_cuda_set_data[] = "set_data",
               k_cuda_select[] = "select", k_cuda_factor[] = "factor", k_cuda_admm[] = "admm",
               k_cuda_signs[] = "signs", k_cuda_svd[] = "svd", k_cuda_closed_form[] = "closed_form",
               k_cuda_gradient[] = "gradient", k_cuda_certify[] = "certify",
               k_cuda_polish_step[] = "polish", k_cuda_read[] = "read", k_cuda_write[] = "write",
               k_cuda_sync[] = "sync", k_cuda_set_operator[] = "set_operator",
               k_cuda_set_masks[] = "set_masks", k_cuda_step[] = "step",
               k_cuda_shuffle[] = "shuffle", k_cuda_select_shuffled[] = "select",
               k_cuda_batch_stats[] = "batch_stats";

}  // namespace

// In the order of blorc_backend_ops' fields (C++17 has no designated initialisers).
extern "C" const blorc_backend_ops blorc_cuda_ops = {
    BLORC_CUDA_BACKEND_NAME,       BLORC_GUARD(cuda_init),    cuda_destroy,
    BLORC_GUARD(cuda_set_data),    BLORC_GUARD(cuda_select),  BLORC_GUARD(cuda_factor),
    BLORC_GUARD(cuda_admm),        BLORC_GUARD(cuda_signs),   BLORC_GUARD(cuda_svd),
    BLORC_GUARD(cuda_closed_form), BLORC_GUARD(cuda_certify), BLORC_GUARD(cuda_polish_step),
    BLORC_GUARD(cuda_gradient),    BLORC_GUARD(cuda_step),    BLORC_GUARD(cuda_read),
    BLORC_GUARD(cuda_write),       BLORC_GUARD(cuda_sync),    BLORC_GUARD(cuda_set_operator),
    BLORC_GUARD(cuda_set_masks),   BLORC_GUARD(cuda_shuffle), BLORC_GUARD(cuda_select_shuffled),
    BLORC_GUARD(cuda_batch_stats)};
