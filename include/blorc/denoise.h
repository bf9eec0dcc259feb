/* Denoising with a transform W: ADMM, then the closed-form polish (the exact minimiser
 * given the sign pattern), and the quality measures used by eval and training. */
#ifndef BLORC_DENOISE_H
#define BLORC_DENOISE_H

#include <stddef.h>

#include "blorc/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct blorc_denoise_opts {
  double rho;               /* ADMM penalty */
  blorc_admm_opts admm;     /* tolerance, cap */
  double polish_gamma;      /* sign threshold for the polish: rows below it count as zero */
  double svd_tol;           /* rank threshold */
  blorc_polish_opts polish; /* certificate and active-set polish (blorc_polish) */
} blorc_denoise_opts;

/* rho 10, ADMM tol 1e-10 with a 20000-iteration cap, polish gamma 1e-7, svd_tol 1e-8, the
 * polish's defaults (blorc_polish_defaults). */
blorc_denoise_opts blorc_denoise_defaults(void);

typedef struct blorc_denoise_stats {
  size_t polished;   /* signals whose closed form was used: certified, or agreeing with ADMM */
  size_t certified;  /* of those, the ones with a certificate (blorc_polish) */
  size_t unpolished; /* signals where the pattern had not settled: ADMM's x was kept */
  long long iters;   /* ADMM iterations, summed */
  size_t at_cap;     /* signals that hit the ADMM cap */
} blorc_denoise_stats;

/* Denoises the data-set signals idx[0..count) of b (its W and data already set), in batches
 * of at most the backend's max_batch, writing count x n values to out. Warm-start state is
 * used and updated. The closed form, after the polish, replaces ADMM's x when it is
 * certified or agrees with ADMM's x (blorc_closed_form_agrees, nearby 0); otherwise the ADMM
 * iterate is kept. stats may be NULL. */
blorc_status blorc_denoise(blorc_backend *b, int max_batch, const size_t *idx, size_t count,
                           const blorc_denoise_opts *o, double *out, blorc_denoise_stats *stats,
                           blorc_error *err);

/* 1 when the closed-form x* of one signal (length dim) agrees with the ADMM iterate x_admm
 * to max(1e3 admm_tol, 1e-8, nearby) max(||x_admm||, 1), i.e. the sign pattern read from
 * ADMM had settled and x* solves the same problem (or, within nearby, a deliberately close
 * one); 0 when the pattern is wrong (x* then belongs to another problem, and so does the
 * gradient built on it). */
int blorc_closed_form_agrees(const double *x_admm, const double *x_star, size_t dim,
                             double admm_tol, double nearby);

/* PSNR in dB of x against the reference, peak 1: 10 log10(1 / mean((x - ref)^2)). An exact
 * match gives 300 dB instead of infinity, so means stay finite. */
double blorc_psnr(const double *x, const double *ref, int n);

#ifdef __cplusplus
}
#endif
#endif
