// Device helpers shared by kernels: warp sums (svd.cu, closed_form.cu, certify.cu) and the
// projection of the closed form (closed_form.cu, certify.cu, forward_op.cu).
#ifndef BLORC_CUDA_DEVICE_MATH_CUH
#define BLORC_CUDA_DEVICE_MATH_CUH

namespace blorc_cuda {

__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// coef[p] = V_p^T v for p < r (V_r: n x r column-major), one warp per column; then a barrier.
__device__ inline void coefficients(int n, int r, const double *V, const double *v, double *coef) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  for (int p = warp; p < r; p += nwarps) {
    double d = 0;
    for (int i = lane; i < n; i += 32) d += V[(size_t)p * n + i] * v[i];
    d = warp_sum(d);
    if (lane == 0) coef[p] = d;
  }
  __syncthreads();
}

// v <- v - V_r (V_r^T v); w <- V_r S_r^-2 V_r^T v_original, or with sv NULL (stage 4's fast
// path, which maps w through W^+) w <- V_r V_r^T v_original; coef: r doubles of shared memory.
// Each thread ends owning v[i] and w[i] for its own i; a caller that reads other entries, or
// calls again (coef is rewritten), synchronises first. There is no barrier on the way out:
// both callers' next cross-thread reads already follow one (scripts/mutate_cuda.sh found it
// redundant).
__device__ inline void project(int n, int r, const double *V, const double *sv, double *v,
                               double *w, double *coef) {
  coefficients(n, r, V, v, coef);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double a = 0, b = 0;
    for (int p = 0; p < r; p++) {
      double vp = V[(size_t)p * n + i];
      a += vp * coef[p];
      b += sv ? vp * coef[p] / (sv[p] * sv[p]) : vp * coef[p];
    }
    v[i] -= a;
    w[i] = b;
  }
}

}  // namespace blorc_cuda

#endif
