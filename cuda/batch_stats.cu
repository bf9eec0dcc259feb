// The minibatch's statistics for the training log (blorc_batch_stats) on the GPU, as
// src/cpu/batch_stats.c: one block per sample counts its pattern changes against the
// per-sample store (and files the new pattern), tests ADMM's x against x* and reads its
// uniqueness flag; Thrust sums the three counts. Only three integers reach the host.
#include "blorc/elementwise.h"
#include "cuda_backend.h"
#include "device_math.cuh"
#include "launch.h"

namespace {

using blorc_cuda::warp_sum;

constexpr int kThreads = 128;

__global__ void fill_kernel(size_t len, double v, double *out) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < len;
       i += (size_t)gridDim.x * blockDim.x)
    out[i] = v;
}

// stat[j], stat[cap + j], stat[2 cap + j]: sample j's pattern changes, mismatch, not unique.
__global__ void stats_kernel(int n, int k, int cap, int op, double tol, double nearby,
                             const size_t *idx, const double *S, const double *Xa, const double *Xs,
                             const int *uniq, double *Sall, int *stat) {
  BLORC_SHARED(double, part, 3 * (kThreads / 32));
  const int j = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5,
            nwarps = blockDim.x >> 5;
  double *prev = Sall + idx[j] * k;
  const double *now = S + (size_t)j * k, *xa = Xa + (size_t)j * n, *xs = Xs + (size_t)j * n;
  double ch = 0, d2 = 0, s2 = 0;
  for (int i = threadIdx.x; i < k; i += blockDim.x) {
    ch += prev[i] != 2.0 && prev[i] != now[i];
    prev[i] = now[i];  // each entry read and written by the same thread
  }
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    d2 += (xa[i] - xs[i]) * (xa[i] - xs[i]), s2 += xa[i] * xa[i];
  ch = warp_sum(ch), d2 = warp_sum(d2), s2 = warp_sum(s2);
  if (lane == 0) part[warp] = ch, part[nwarps + warp] = d2, part[2 * nwarps + warp] = s2;
  __syncthreads();
  if (threadIdx.x == 0) {
    double c = 0, d = 0, s = 0;
    for (int w = 0; w < nwarps; w++) c += part[w], d += part[nwarps + w], s += part[2 * nwarps + w];
    stat[j] = (int)c;
    stat[cap + j] = !blorc_agrees(d, s, tol, nearby);
    stat[2 * cap + j] = op && !uniq[j];
  }
}

}  // namespace

blorc_status cuda_reset_patterns(blorc_backend *b, blorc_error *err) {
  cuda_state *c = cuda_of(b);
  size_t len = (size_t)b->k * b->N;
  BLORC_LAUNCH(fill_kernel, cuda_grid_for(len), 256, 0, c->stream)(len, 2.0, c->Sall);
  BLORC_CUDA_CHECK_LAUNCH("pattern store");
  return BLORC_OK;
}

blorc_status cuda_batch_stats(blorc_backend *b, double tol, double nearby, blorc_batch_counts *out,
                              blorc_error *err) {
  cuda_state *c = cuda_of(b);
  int B = b->B, cap = b->cap;
  BLORC_LAUNCH(stats_kernel, B, kThreads, 0, c->stream)
  (b->n, b->k, cap, c->op != BLORC_OP_IDENTITY, tol, nearby, c->idx, c->S, c->Xout, c->Xs, c->uniq,
   c->Sall, c->bstat);
  BLORC_CUDA_CHECK_LAUNCH("batch statistics");
  long long v[3];
  const char *what[3] = {"batch_stats: pattern changes", "batch_stats: mismatches",
                         "batch_stats: samples without a unique minimiser"};
  for (int q = 0; q < 3; q++)
    BLORC_TRY(cuda_sum(c, c->bstat + (size_t)q * cap, B, &v[q], what[q], err));
  out->sign_changes = v[0];
  out->mismatch = (int)v[1], out->not_unique = (int)v[2];
  return BLORC_OK;
}
