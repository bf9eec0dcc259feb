/* Internal: training checkpoints. Each is a directory checkpoints/epoch-NNNNNN written
 * under a temporary name and renamed into place; the file checkpoints/latest (itself
 * replaced atomically) names the newest complete one, so a crash at any point leaves the
 * previous checkpoint readable. */
#ifndef BLORC_CHECKPOINT_H
#define BLORC_CHECKPOINT_H

#include <stddef.h>

#include "blorc/error.h"
#include "blorc/rng.h"
#include "rho_tuner.h"

typedef struct blorc_checkpoint {
  int epoch;
  long long step, adam_t;
  blorc_rng rng;
  blorc_rho_tuner tuner;
  int k, n;
  size_t N, Ntrain;
  double *W, *m, *v; /* k x n each */
  double *Z, *L;     /* N x k warm-start state */
  double *signs;     /* Ntrain x k last sign pattern (2 = none yet) */
  double *W_best;    /* k x n: the W of best validation PSNR so far */
  double best_val;   /* its validation PSNR */
  int best_epoch;    /* its epoch (0: the initial W) */
} blorc_checkpoint;

/* Writes c into run_dir/checkpoints and drops older checkpoints. */
blorc_status blorc_checkpoint_save(const char *run_dir, const blorc_checkpoint *c,
                                   blorc_error *err);

/* Reads the newest checkpoint. The arrays are malloc'ed (free with blorc_checkpoint_free);
 * their shapes must match k, n, N and Ntrain already set in *c. */
blorc_status blorc_checkpoint_load(const char *run_dir, blorc_checkpoint *c, blorc_error *err);
void blorc_checkpoint_free(blorc_checkpoint *c);

#endif
