/* The training driver: epochs, shuffling, minibatches through the backend stages, the W
 * update, validation, checkpoints and the run directory (design.md section 5, host side). */
#ifndef BLORC_TRAIN_H
#define BLORC_TRAIN_H

#include <stddef.h>

#include "blorc/config.h"
#include "blorc/error.h"
#include "blorc/operator.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One row of log.csv. */
typedef struct blorc_epoch_log {
  int epoch, epochs;
  double loss;             /* mean minibatch loss over the epoch */
  double val_psnr;         /* mean PSNR (peak 1) of the denoised validation signals */
  double val_psnr_mse;     /* PSNR of their mean squared error (W_best is chosen by it) */
  double seconds;          /* wall time of the epoch, validation included */
  double samples_per_s;    /* training samples per second */
  double mean_iters;       /* mean ADMM iterations per training sample */
  double share_at_cap;     /* share of training samples that hit the ADMM cap */
  long long sign_changes;  /* sign-pattern entries that changed since the previous epoch,
                              -1 in the first epoch of a run (nothing to compare with) */
  double rho;              /* ADMM penalty at the end of the epoch */
  double share_mismatch;   /* share of training samples whose closed-form x* disagreed with
                              ADMM's x (blorc_closed_form_agrees): their gradient is that of
                              another problem; large values precede a collapse */
  double share_certified;  /* share of training samples whose closed form the certificate
                              accepted after the polish (the others are left out of the
                              gradient and of the loss) */
  double min_dual_margin;  /* smallest 1 - max|a_i| over certified samples */
  double min_sign_margin;  /* smallest s_i W_i x* / (||W_i|| max(||y||, 1)) over them */
  double polish_rounds;    /* mean active-set rounds per minibatch */
  double share_not_unique; /* share of training samples whose lower level had no unique
                              minimiser on their pattern (operator: C singular); left out of
                              the gradient */
  long long svd_fallbacks; /* samples of the epoch that stage 4's Gram path (svd_method
                              cusolver, CUDA, k or n > 32) left to the Jacobi kernel */
} blorc_epoch_log;

/* What the caller is told while a run goes (the library itself never prints). */
typedef struct blorc_train_hooks {
  void (*on_start)(const char *what, void *user);           /* a line about the run */
  void (*on_epoch)(const blorc_epoch_log *log, void *user); /* after each epoch */
  void *user;
} blorc_train_hooks;

typedef struct blorc_train_result {
  int epochs_run;              /* epochs trained in this call */
  double noisy_psnr;           /* validation set, before denoising */
  double initial_val_psnr;     /* validation PSNR of the initial W (or the resumed one) */
  double initial_val_psnr_mse; /* the same as PSNR of the mean squared error */
  double final_val_psnr;
  double best_val_psnr_mse; /* the best validation PSNR of the mean squared error of the run
                               (initial W included) */
  int best_epoch;           /* where it was reached (0: the initial W), saved as W_best.npy */
  double seconds;
} blorc_train_result;

/* Trains as configured, writing the run directory out_dir: config.ini, log.csv, W.npy (the
 * last W), W_best.npy (the W of best validation mean squared error: validation-based stopping),
 * filters.png and checkpoints/ (every train.checkpoint_every epochs and at the end).
 * resume: continue from out_dir's last checkpoint (cfg must be the run's config.ini, with at
 * most train.epochs and admm.device changed). Otherwise out_dir must not hold a run unless
 * force is set. Every file is written to a temporary name and renamed. A non-finite W stops
 * the run with BLORC_ENUMERIC; the last checkpoint stays. hooks and result may be NULL. */
blorc_status blorc_train(const blorc_config *cfg, const char *out_dir, int resume, int force,
                         const blorc_train_hooks *hooks, blorc_train_result *result,
                         blorc_error *err);

/* Builds the data set a config describes: N = train + val signals of length n (count x n,
 * row-major, malloc'ed, caller frees). Generated data use data.seed; files are checked for
 * shape, dtype, finiteness and agreement with data.n. */
blorc_status blorc_dataset(const blorc_config *cfg, double **clean, double **noisy, size_t *N,
                           blorc_error *err);

/* The data set under the operator op (built from cfg's [operator] by blorc_operator_parse):
 * clean N x n, measurements N x m and, for inpainting, masks N x n (NULL otherwise; all
 * malloc'ed, caller frees). Generated data: masks drawn from operator.seed, y = A x + noise
 * of data.sigma. Files: data.noisy holds y (N x m), data.masks the masks. The identity gives
 * exactly blorc_dataset's data. */
blorc_status blorc_dataset_op(const blorc_config *cfg, const blorc_operator *op, double **clean,
                              double **meas, double **masks, size_t *N, blorc_error *err);

/* The rows of blorc_dataset_op's data set that one data-parallel rank holds (issue 18):
 * training rows [tlo, thi) then validation rows [vlo, vhi) (each counted within its part), as
 * thi - tlo + vhi - vlo rows. Files: only those rows are read (and checked); generated data are
 * drawn whole, as the streams are sequential, and the other rows dropped. */
blorc_status blorc_dataset_op_rows(const blorc_config *cfg, const blorc_operator *op, size_t tlo,
                                   size_t thi, size_t vlo, size_t vhi, double **clean,
                                   double **meas, double **masks, blorc_error *err);

/* Builds the initial W (k x n, malloc'ed, caller frees) from model.init and init_scale. */
blorc_status blorc_initial_w(const blorc_config *cfg, double **W, int *k, blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
