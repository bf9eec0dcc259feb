// Stage 2 on the GPU: batched ADMM (design.md section 2) with the same algebra and per-element
// arithmetic (blorc/elementwise.h) as src/cpu/admm.c: W x = W C + Q (z - u) with Q = W K, one
// k x k product per iteration, x = C + K (z - u) formed once per sample when it stops. Two
// implementations:
//  - gemm: each iteration is one cuBLAS GEMM over the whole batch plus one kernel; converged
//    samples are frozen in place (no compaction) and their x formed when they stop;
//  - persistent: one block per sample keeps Q and W in shared memory and runs every
//    iteration without leaving the kernel (the shape design.md aims at).
#include "blorc/elementwise.h"
#include "cuda_backend.h"
#include "launch.h"

namespace {

// Sum over the block, returned to every thread. red holds 33 doubles of shared memory.
// Back-to-back calls need no barrier on entry: a call's writes of red[w] come after the
// previous call's last barrier, past which thread 0 has finished reading red[w], and red[32]
// is rewritten only after this call's middle barrier, which every thread reaches after it has
// read the previous red[32] (scripts/mutate_cuda.sh found the entry barrier redundant).
__device__ double block_sum(double v, double *red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = (blockDim.x + 31) >> 5;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double s = 0;
    for (int w = 0; w < nwarps; w++) s += red[w];
    red[32] = s;
  }
  __syncthreads();
  return red[32];
}

// The batch's warm start from the per-sample store: z, and u = lambda / rho for this call's
// rho. Loaded on every call, so that factor, admm, factor, admm continues from the store.
__global__ void load_warm_start(int k, double inv_rho, const size_t *idx, const double *Zall,
                                const double *Lall, double *Z, double *U) {
  int j = blockIdx.x;
  size_t t = idx[j];
  for (int i = threadIdx.x; i < k; i += blockDim.x) {
    Z[(size_t)j * k + i] = Zall[t * k + i];
    U[(size_t)j * k + i] = Lall[t * k + i] * inv_rho;
  }
}

// The number of columns still active, into *out (one block).
__global__ void count_active(int B, const int *active, int *out) {
  BLORC_SHARED(double, red, 33);
  double s = 0;
  for (int j = threadIdx.x; j < B; j += blockDim.x) s += active[j];
  s = block_sum(s, red);
  if (threadIdx.x == 0) *out = (int)s;
}

__global__ void init_flags(int B, int max_iters, int *iters, int *active) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < B) iters[j] = max_iters, active[j] = 1;
}

// T = Z - U over the batch.
__global__ void diff_kernel(size_t len, const double *Z, const double *U, double *T) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < len;
       i += (size_t)gridDim.x * blockDim.x)
    T[i] = Z[i] - U[i];
}

// z/u update of every active column (one block per column); frozen columns get dz = 0 so the
// dual-residual GEMM leaves them alone.
__global__ void zu_kernel(int k, double inv_rho, const int *active, const double *V, double *Z,
                          double *U, double *D, double *r2) {
  BLORC_SHARED(double, red, 33);
  int j = blockIdx.x;
  size_t off = (size_t)j * k;
  if (!active[j]) {
    for (int i = threadIdx.x; i < k; i += blockDim.x) D[off + i] = 0;
    return;
  }
  double s = 0;
  for (int i = threadIdx.x; i < k; i += blockDim.x)
    blorc_admm_zu(V[off + i], inv_rho, &Z[off + i], &U[off + i], &s, &D[off + i]);
  s = block_sum(s, red);
  if (threadIdx.x == 0) r2[j] = s;
}

// x = C + K t for one column: the x whose W x the current iteration used.
__device__ void form_x(int n, int k, const double *K, const double *c, const double *t, double *x) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double s = c[i];
    for (int r = 0; r < k; r++) s += K[(size_t)r * n + i] * t[r];
    x[i] = s;
  }
}

// Per-sample stopping test after R = W^T dz: freezes converged columns and forms their x.
__global__ void check_kernel(int n, int k, int it, double rho, double tol, const double *R,
                             const double *r2, const double *ynorm, const double *K, size_t ks,
                             const double *C, const double *T, double *Xout, int *iters,
                             int *active) {
  BLORC_SHARED(double, red, 33);
  int j = blockIdx.x;
  if (!active[j]) return;
  double s = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    s += R[(size_t)j * n + i] * R[(size_t)j * n + i];
  s = block_sum(s, red) * rho * rho;
  if (!blorc_admm_converged(r2[j], s, tol, ynorm[j])) return;
  form_x(n, k, K + j * ks, C + (size_t)j * n, T + (size_t)j * k, Xout + (size_t)j * n);
  if (threadIdx.x == 0) iters[j] = it, active[j] = 0;
}

// Per-sample operators (masks): V = W C + Q_j t for each column, and x = C + K_j t, where the
// shared case runs one GEMM over the batch.
__global__ void qt_kernel(int k, const double *Q, const double *WC, const double *T, double *V) {
  int j = blockIdx.x;
  const double *q = Q + (size_t)j * k * k, *t = T + (size_t)j * k;
  for (int r = threadIdx.x; r < k; r += blockDim.x) {
    double v = WC[(size_t)j * k + r];
    for (int p = 0; p < k; p++) v += q[r + (size_t)p * k] * t[p];
    V[(size_t)j * k + r] = v;
  }
}

__global__ void form_x_kernel(int n, int k, const double *K, const double *C, const double *T,
                              double *X) {
  int j = blockIdx.x;
  form_x(n, k, K + (size_t)j * n * k, C + (size_t)j * n, T + (size_t)j * k, X + (size_t)j * n);
}

// Columns that never stopped keep their last x.
__global__ void copy_active(int n, const int *active, const double *Xa, double *Xout) {
  int j = blockIdx.x;
  if (!active[j]) return;
  for (int i = threadIdx.x; i < n; i += blockDim.x) Xout[(size_t)j * n + i] = Xa[(size_t)j * n + i];
}

// Writes z and lambda = rho u back to the per-sample store.
__global__ void scatter_kernel(int k, double rho, const size_t *idx, const double *Z,
                               const double *U, double *Zall, double *Lall) {
  int j = blockIdx.x;
  size_t t = idx[j];
  for (int i = threadIdx.x; i < k; i += blockDim.x) {
    Zall[t * k + i] = Z[(size_t)j * k + i];
    Lall[t * k + i] = rho * U[(size_t)j * k + i];
  }
}

// The persistent kernel: one block per sample, every iteration inside. Shared memory: Q
// (k x k), W (n x k, for the dual residual; left out in fixed mode) and the sample's vectors.
__global__ void admm_persistent(int n, int k, const double *W, const double *K, size_t ks,
                                const double *Q, size_t qs, const double *C, const double *WC,
                                double *Z, double *U, const double *ynorm, double rho,
                                int max_iters, double tol, int fixed, int check_every, double *Xout,
                                int *iters, int *active) {
  BLORC_DYNAMIC_SHARED(double, sm);
  const int tid = threadIdx.x, j = blockIdx.x;
  double *sQ = sm, *sW = sQ + (size_t)k * k, *z = sW + (fixed ? 0 : (size_t)n * k);
  double *u = z + k, *t = u + k, *dz = t + k, *wc = dz + k, *red = wc + k;
  for (int e = tid; e < k * k; e += blockDim.x) sQ[e] = Q[j * qs + e];
  if (!fixed)
    for (int e = tid; e < n * k; e += blockDim.x) sW[e] = W[e];
  for (int r = tid; r < k; r += blockDim.x) {
    z[r] = Z[(size_t)j * k + r], u[r] = U[(size_t)j * k + r];
    t[r] = z[r] - u[r], wc[r] = WC[(size_t)j * k + r];
  }
  __syncthreads();
  const double inv_rho = 1.0 / rho, scale = ynorm[j];
  int it = 0, converged = 0;
  while (it < max_iters) {
    it++;
    double r2 = 0;
    for (int r = tid; r < k; r += blockDim.x) {  // (W x)_r = (W C)_r + (Q t)_r
      double v = wc[r];
      for (int q = 0; q < k; q++) v += sQ[r + q * k] * t[q];
      blorc_admm_zu(v, inv_rho, &z[r], &u[r], &r2, &dz[r]);
    }
    __syncthreads();
    if (!fixed && (it % check_every == 0 || it == max_iters)) {  // uniform over the block
      double p2 = block_sum(r2, red), w2 = 0;
      for (int i = tid; i < n; i += blockDim.x) {
        double w = 0;
        for (int r = 0; r < k; r++) w += sW[i + r * n] * dz[r];
        w2 += w * w;
      }
      double d2 = block_sum(w2, red) * rho * rho;
      if (blorc_admm_converged(p2, d2, tol, scale)) {
        converged = 1;
        break;
      }
    }
    if (it < max_iters) {
      for (int r = tid; r < k; r += blockDim.x) t[r] = z[r] - u[r];
      __syncthreads();
    }
  }
  form_x(n, k, K + j * ks, C + (size_t)j * n, t, Xout + (size_t)j * n);
  for (int r = tid; r < k; r += blockDim.x)
    Z[(size_t)j * k + r] = z[r], U[(size_t)j * k + r] = u[r];
  if (tid == 0) iters[j] = converged ? it : max_iters, active[j] = !converged;
}

}  // namespace

size_t cuda_admm_persistent_smem(int n, int k, int fixed) {
  return sizeof(double) * ((size_t)k * k + (fixed ? 0 : (size_t)n * k) + 5 * (size_t)k + 33);
}

static blorc_status z_minus_u(cuda_state *c, int k, int B, blorc_error *err) {
  size_t kB = (size_t)k * B;
  BLORC_LAUNCH(diff_kernel, cuda_grid_for(kB), 256, 0, c->stream)(kB, c->Z, c->U, c->T);
  BLORC_CUDA_CHECK_LAUNCH("diff");
  return BLORC_OK;
}

// The gemm variant's stopping test needs the count of active columns on the host. Waiting for
// it at every check would stall the GPU's queue each time; instead the count goes to
// page-locked memory behind an event, and the loop reads it at the next check once the event
// has completed: at most one check interval of extra iterations, all on frozen columns (which
// the kernels leave unchanged), so the results are those of a synchronous test.
static blorc_status admm_gemm(blorc_backend *b, const blorc_admm_opts *o, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B, tk = cuda_threads_for(k), tn = cuda_threads_for(n);
  double rho = b->rho, one = 1, zero = 0;
  bool count_in_flight = false;
  const bool per_sample = c->op == BLORC_OP_MASK;
  const double *K = per_sample ? c->Kj : c->K;
  const size_t ks = per_sample ? (size_t)n * k : 0;
  BLORC_TRY(z_minus_u(c, k, B, err));
  for (int it = 1; it <= o->max_iters; it++) {
    if (per_sample) {
      BLORC_LAUNCH(qt_kernel, B, tk, 0, c->stream)(k, c->Qj, c->WC, c->T, c->V);
      BLORC_CUDA_CHECK_LAUNCH("qt");
    } else {
      BLORC_CUDA_CHECK(cudaMemcpyAsync(c->V, c->WC, (size_t)k * B * sizeof(double),
                                       cudaMemcpyDeviceToDevice, c->stream));
      BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, k, B, k, &one, c->Q, k,
                                     c->T, k, &one, c->V, k));
    }
    BLORC_LAUNCH(zu_kernel, B, tk, 0, c->stream)
    (k, 1.0 / rho, c->active, c->V, c->Z, c->U, c->D, c->r2);
    BLORC_CUDA_CHECK_LAUNCH("zu");
    if (!o->fixed && (it % o->check_every == 0 || it == o->max_iters)) {
      BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, B, k, &one, c->W, n,
                                     c->D, k, &zero, c->R, n));
      BLORC_LAUNCH(check_kernel, B, tn, 0, c->stream)
      (n, k, it, rho, o->tol, c->R, c->r2, c->ynorm, K, ks, c->C, c->T, c->Xout, c->iters,
       c->active);
      BLORC_CUDA_CHECK_LAUNCH("check");
      if (count_in_flight) {
        cudaError_t q = cudaEventQuery(c->active_ready);
        if (q != cudaErrorNotReady) BLORC_CUDA_CHECK(q);
        if (q == cudaSuccess) {
          count_in_flight = false;
          if (*c->active_count_host == 0) return BLORC_OK;  // every column stopped by then
        }
      }
      if (!count_in_flight) {
        BLORC_LAUNCH(count_active, 1, 256, 0, c->stream)(B, c->active, c->active_count);
        BLORC_CUDA_CHECK_LAUNCH("count_active");
        BLORC_CUDA_CHECK(cudaMemcpyAsync(c->active_count_host, c->active_count, sizeof(int),
                                         cudaMemcpyDeviceToHost, c->stream));
        BLORC_CUDA_CHECK(cudaEventRecord(c->active_ready, c->stream));
        count_in_flight = true;
      }
    }
    if (it < o->max_iters) BLORC_TRY(z_minus_u(c, k, B, err));
  }
  // x = C + K T for the columns that never stopped.
  if (per_sample) {
    BLORC_LAUNCH(form_x_kernel, B, tn, 0, c->stream)(n, k, c->Kj, c->C, c->T, c->Xa);
    BLORC_CUDA_CHECK_LAUNCH("form_x");
  } else {
    BLORC_CUDA_CHECK(cudaMemcpyAsync(c->Xa, c->C, (size_t)n * B * sizeof(double),
                                     cudaMemcpyDeviceToDevice, c->stream));
    BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, B, k, &one, c->K, n, c->T,
                                   k, &one, c->Xa, n));
  }
  BLORC_LAUNCH(copy_active, B, tn, 0, c->stream)(n, c->active, c->Xa, c->Xout);
  BLORC_CUDA_CHECK_LAUNCH("copy_active");
  return BLORC_OK;
}

static blorc_status admm_persistent_run(blorc_backend *b, const blorc_admm_opts *o, size_t smem,
                                        blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k;
  BLORC_CUDA_CHECK(cudaFuncSetAttribute(admm_persistent,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  const bool per_sample = c->op == BLORC_OP_MASK;
  BLORC_LAUNCH(admm_persistent, b->B, cuda_threads_for(n > k ? n : k), smem, c->stream)
  (n, k, c->W, per_sample ? c->Kj : c->K, per_sample ? (size_t)n * k : 0, per_sample ? c->Qj : c->Q,
   per_sample ? (size_t)k * k : 0, c->C, c->WC, c->Z, c->U, c->ynorm, b->rho, o->max_iters, o->tol,
   o->fixed, o->check_every, c->Xout, c->iters, c->active);
  BLORC_CUDA_CHECK_LAUNCH("admm_persistent");
  return BLORC_OK;
}

int cuda_admm_variant(const cuda_state *c, int n, int k, int requested) {
  if (requested != BLORC_ADMM_AUTO) return requested;
  // Decided on the adaptive mode's size (W in shared memory too), so that timing runs in fixed
  // mode measure the variant that training runs.
  return cuda_admm_persistent_smem(n, k, 0) <= c->smem_optin ? BLORC_ADMM_PERSISTENT
                                                             : BLORC_ADMM_GEMM;
}

blorc_status cuda_admm(blorc_backend *b, const blorc_admm_opts *o, blorc_admm_stats *st,
                       blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int n = b->n, k = b->k, B = b->B;
  // Every check before any state changes: a refused call leaves the batch as it was.
  int variant = cuda_admm_variant(c, n, k, o->variant);
  size_t smem = cuda_admm_persistent_smem(n, k, o->fixed);
  if (variant == BLORC_ADMM_PERSISTENT && smem > c->smem_optin)
    return blorc_fail(err, BLORC_EINVAL,
                      "admm: the persistent kernel needs %zu bytes of shared memory for n=%d k=%d; "
                      "this device allows %zu (use the gemm variant)",
                      smem, n, k, c->smem_optin);
  BLORC_LAUNCH(load_warm_start, B, cuda_threads_for(k), 0, c->stream)
  (k, 1.0 / b->rho, c->idx, c->Zall, c->Lall, c->Z, c->U);
  BLORC_CUDA_CHECK_LAUNCH("load_warm_start");
  if (c->op == BLORC_OP_MASK) { /* per-sample factors, K_j, Q_j, C and W C (forward_op.cu) */
    BLORC_CUDA_CHECK(cudaMemsetAsync(c->info, 0, sizeof(int), c->stream));
    BLORC_TRY(cuda_op_factor_batch(b, err));
  } else { /* C = (I + rho W^T W)^{-1} y (A^T y and its factor with an operator) */
    BLORC_CUDA_CHECK(cudaMemcpyAsync(c->C, c->Y, (size_t)n * B * sizeof(double),
                                     cudaMemcpyDeviceToDevice, c->stream));
    BLORC_CUSOLVER_CHECK(
        cusolverDnDpotrs(c->solver, CUBLAS_FILL_MODE_LOWER, n, B, c->L, n, c->C, n, c->info));
    const double one = 1, zero = 0;
    BLORC_CUBLAS_CHECK(cublasDgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, k, B, n, &one, c->W, n, c->C,
                                   n, &zero, c->WC, k));
  }
  BLORC_LAUNCH(init_flags, (B + 127) / 128, 128, 0, c->stream)
  (B, o->max_iters, c->iters, c->active);
  BLORC_CUDA_CHECK_LAUNCH("init_flags");
  BLORC_TRY(variant == BLORC_ADMM_PERSISTENT ? admm_persistent_run(b, o, smem, err)
                                             : admm_gemm(b, o, err));
  BLORC_LAUNCH(scatter_kernel, B, cuda_threads_for(k), 0, c->stream)
  (k, b->rho, c->idx, c->Z, c->U, c->Zall, c->Lall);
  BLORC_CUDA_CHECK_LAUNCH("scatter");
  // potrs's info (argument errors only: L is already a valid factor) is read with the counts,
  // at the one host wait of this stage.
  int info = 0;
  BLORC_CUDA_CHECK(cudaMemcpyAsync(&info, c->info, sizeof info, cudaMemcpyDeviceToHost, c->stream));
  BLORC_TRY(cuda_sum(c, c->iters, B, &st->iters_total, "admm: the iteration counts", err));
  BLORC_TRY(cuda_max(c, c->iters, B, &st->iters_max, "admm: the largest iteration count", err));
  long long at_cap = 0;
  if (o->max_iters > 0)
    BLORC_TRY(cuda_sum(c, c->active, B, &at_cap, "admm: the samples at the cap", err));
  st->at_cap = (int)at_cap;
  st->variant = variant;
  BLORC_CUDA_CHECK(cudaStreamSynchronize(c->stream));
  if (info != 0) return blorc_fail(err, BLORC_ENUMERIC, "admm: cusolverDnDpotrs info %d", info);
  return BLORC_OK;
}
