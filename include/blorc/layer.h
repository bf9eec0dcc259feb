/* The lower level as a differentiable layer (issue 17): x*(W, y) = argmin_x 1/2||A x - y||^2 +
 * ||W x||_1 for a batch of measurements, and its exact vector-Jacobian product. The gradient of
 * design.md sections 4 and 7 is linear in the residual x* - x; with any upstream gradient
 * gx = dL/dx* in its place it is sum_j (dx*_j/dW)^T gx_j, and A h_j is (dx*_j/dy_j)^T gx_j.
 * Python's blorc.torch builds its autograd Function on these two calls. */
#ifndef BLORC_LAYER_H
#define BLORC_LAYER_H

#include "blorc/backend.h"
#include "blorc/denoise.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct blorc_layer_stats {
  int certified;     /* samples whose closed form the certificate accepted */
  int unique;        /* samples with a unique minimiser on their pattern (all for A = I) */
  int with_gradient; /* samples that are both: the others get no gradient */
  long long iters;   /* ADMM iterations, summed over the batch */
  int at_cap;        /* samples that stopped at the ADMM cap */
} blorc_layer_stats;

/* Forward: solves the lower level on backend b (its operator already set, max_batch >= B) for
 * B measurements Y (B x m, m = blorc_operator_rows) with W (k x n): ADMM from zero, the
 * pattern read at o->polish_gamma, the closed form, the certificate and polish (as
 * blorc_denoise). The data set of b becomes Y (masks: B x n for the MASK operator, else NULL).
 * x (B x n) receives x* for the samples with a gradient, ADMM's iterate for the others; ok
 * (B doubles, may be NULL) 1 for a sample with a gradient (certified, unique minimiser), else
 * 0. stats may be NULL. Leaves b ready for blorc_layer_backward. */
blorc_status blorc_layer_forward(blorc_backend *b, const double *W, const double *Y,
                                 const double *masks, int B, const blorc_denoise_opts *o, double *x,
                                 double *ok, blorc_layer_stats *stats, blorc_error *err);

/* Backward, after blorc_layer_forward on the same b with nothing in between (it may be called
 * again with another gx): gx = dL/dx (B x n). gW (k x n) = sum_j (dx*_j/dW)^T gx_j; gy (B x m,
 * may be NULL) row j = (dx*_j/dy_j)^T gx_j; gA (m x n, may be NULL; a shared MATRIX operator
 * only, else left untouched) = sum_j (dx*_j/dA)^T gx_j. Samples without a gradient (ok = 0)
 * contribute nothing: zero rows of gy. Non-finite gx is BLORC_EINVAL naming the entry. */
blorc_status blorc_layer_backward(blorc_backend *b, const double *gx, double *gW, double *gy,
                                  double *gA, blorc_error *err);

/* sizeof of a public struct by its name ("blorc_config", "blorc_epoch_log", ...), 0 for an
 * unknown name: bindings that mirror the structs (python/blorc/_lib.py) check their layout.
 * In libblorc.so only (BLORC_SHARED_LIB), the library bindings load. */
size_t blorc_abi_sizeof(const char *type_name);

#ifdef __cplusplus
}
#endif
#endif
