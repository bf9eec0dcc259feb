/* Per-element math shared by the CPU backend and the CUDA kernels. The CPU fallback build
 * executes exactly these functions, so CPU tests exercise the arithmetic the kernels run. */
#ifndef BLORC_ELEMENTWISE_H
#define BLORC_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define BLORC_HD __host__ __device__ __forceinline__
#else
#define BLORC_HD static inline
#endif

/* soft(v, t) = sign(v) max(|v| - t, 0): the proximal map of t|.| */
BLORC_HD double blorc_soft(double v, double t) {
  if (v > t) return v - t;
  if (v < -t) return v + t;
  return 0.0;
}

/* Thresholded sign: sign(v) where |v| > gamma, else 0 (paper step (b)). */
BLORC_HD double blorc_thresh_sign(double v, double gamma) {
  if (v > gamma) return 1.0;
  if (v < -gamma) return -1.0;
  return 0.0;
}

/* One ADMM z/u update for a single entry, given v = (W x)_i after the x-update.
 * Updates *z and *u (scaled dual) in place; adds the entry's squared primal residual
 * (v - z_new)^2 to *r2 and writes the change z_new - z_old to *dz (the dual residual is
 * rho W^T dz, which needs the whole column). */
BLORC_HD void blorc_admm_zu(double v, double inv_rho, double *z, double *u, double *r2,
                            double *dz) {
  double z_new = blorc_soft(v + *u, inv_rho);
  double r = v - z_new;
  *u += r;
  *r2 += r * r;
  *dz = z_new - *z;
  *z = z_new;
}

/* Per-sample stopping test: both residual norms (squared) under (tol * scale)^2. */
BLORC_HD int blorc_admm_converged(double r2_primal, double r2_dual, double tol, double scale) {
  double eps = tol * (scale > 1.0 ? scale : 1.0);
  return r2_primal <= eps * eps && r2_dual <= eps * eps;
}

/* One entry of the W update (stage 7): plain gradient descent w - lr g (adam 0), or Adam with
 * its moments *m, *v updated in place and the bias corrections c1 = 1 - beta1^t and
 * c2 = 1 - beta2^t of step t (Kingma and Ba, 2015). */
BLORC_HD double blorc_step_entry(int adam, double w, double g, double *m, double *v, double lr,
                                 double beta1, double beta2, double eps, double c1, double c2) {
  if (!adam) return w - lr * g;
  *m = beta1 * *m + (1 - beta1) * g;
  *v = beta2 * *v + (1 - beta2) * g * g;
  return w - lr * (*m / c1) / (sqrt(*v / c2) + eps);
}

/* blorc_closed_form_agrees' test from the squared distance d2 = ||x_admm - x*||^2 and
 * s2 = ||x_admm||^2 (the scale of a denoiser's signal): ADMM stopped within its tolerance of
 * x*, or x* lies nearby by design (rows below the sign threshold count as zero). */
BLORC_HD int blorc_agrees(double d2, double s2, double admm_tol, double nearby) {
  return sqrt(d2) <= fmax(fmax(1e3 * admm_tol, 1e-8), nearby) * fmax(sqrt(s2), 1.0);
}

/* splitmix64's finaliser (Steele, Lea, Flood 2014): a bijection of 64-bit words. */
BLORC_HD uint64_t blorc_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The epoch shuffle's sort key of sample i under seed: the finaliser of seed + (i + 1) 2^64/phi
 * (injective in i: the factor is odd), so keys never tie and the order by key is one
 * permutation, the same on every backend (blorc_shuffle_order, blorc_shuffle). */
BLORC_HD uint64_t blorc_shuffle_key(uint64_t seed, uint64_t i) {
  return blorc_mix64(seed + (i + 1) * 0x9E3779B97F4A7C15ull);
}

#endif
