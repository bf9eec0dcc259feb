/* Data-set level measures: the mean upper-level loss and its gradient over many pairs, mean
 * PSNR of denoised signals, and tuning a baseline transform's scale. */
#ifndef BLORC_EVALUATE_H
#define BLORC_EVALUATE_H

#include <stddef.h>

#include "blorc/backend.h"
#include "blorc/denoise.h"
#include "blorc/operator.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean over the data-set samples idx[0..count) of 1/2||x* - x||^2 and, when G is not NULL,
 * its gradient with respect to W (k x n), processed in batches of at most max_batch. The
 * lower level is solved with o (ADMM, then the pattern read with threshold gamma). */
blorc_status blorc_objective(blorc_backend *b, int max_batch, const size_t *idx, size_t count,
                             const blorc_denoise_opts *o, double gamma, double *loss, double *G,
                             blorc_error *err);

/* The same under the backend's forward operator, with the samples that have no unique
 * minimiser left out of the mean (*used, may be NULL, counts the others), and optionally:
 * Gy (count x m), each sample's dU/dy = A h for its own loss (0 for the samples left out),
 * and GA (m x n, a shared matrix only; untouched otherwise), the mean's dU/dA. */
blorc_status blorc_objective_full(blorc_backend *b, int max_batch, const size_t *idx, size_t count,
                                  const blorc_denoise_opts *o, double gamma, double *loss,
                                  double *G, double *Gy, double *GA, size_t *used,
                                  blorc_error *err);

typedef struct blorc_psnr_stats {
  double mean, stderr_; /* mean PSNR (dB, peak 1) and its standard error */
  double aggregate;     /* PSNR of the mean squared error over all signals: unlike the mean
                           of per-signal PSNRs, not dominated by exactly recovered signals */
  double aggregate_se;  /* its standard error (delta method on the per-signal squared
                           errors; for a paired comparison, of the difference, with the
                           covariance of the two estimates' errors) */
} blorc_psnr_stats;

/* Reconstructs the N signals from their measurements Y (N x m) with W (k x n) and compares
 * with X (N x n): mean PSNR and standard error. op: the forward operator (NULL: denoising, Y
 * is N x n), masks its N x n masks for inpainting (else NULL). Creates its own CPU or CUDA
 * backend on `device`. When denoised is not NULL (N x n, the caller's) it receives the
 * reconstructed signals. */
blorc_status blorc_eval_psnr(blorc_device device, const blorc_operator *op, const double *masks,
                             const double *W, int k, int n, const double *X, const double *Y,
                             size_t N, const blorc_denoise_opts *o, blorc_psnr_stats *out,
                             double *denoised, blorc_error *err);

/* PSNR statistics of Y itself against X (the noisy input). */
blorc_psnr_stats blorc_psnr_of(const double *X, const double *Y, size_t N, int n);

/* Paired comparison of two estimates A and B of the same signals X (each N x n): mean over
 * signals of PSNR(A) - PSNR(B) and its standard error (of the per-signal differences, so the
 * spread the two share cancels), and aggregate = the difference of their aggregate PSNRs. */
blorc_psnr_stats blorc_psnr_paired(const double *X, const double *A, const double *B, size_t N,
                                   int n);

/* What a baseline's scale is tuned for: the mean of per-signal PSNRs, or the PSNR of the mean
 * squared error over all signals (what training minimises; the mean PSNR favours scales that
 * recover flat signals exactly, as on the stripes' empty patches). */
typedef enum blorc_tune_criterion {
  BLORC_TUNE_MEAN_PSNR = 0,
  BLORC_TUNE_MSE = 1
} blorc_tune_criterion;

/* Scales the transform T (k x n) by beta chosen by golden-section search on log10(beta) in
 * [-4, 2] (40 steps) to maximise the criterion on (X, Y) under the operator op (NULL:
 * denoising; masks as for blorc_eval_psnr); returns beta and that value (dB). */
blorc_status blorc_tune_beta(blorc_device device, const blorc_operator *op, const double *masks,
                             const double *T, int k, int n, const double *X, const double *Y,
                             size_t N, const blorc_denoise_opts *o, blorc_tune_criterion criterion,
                             double *beta, double *psnr, blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
