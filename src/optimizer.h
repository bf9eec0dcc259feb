/* Internal: the W update of stage 7 (plain gradient descent or Adam): its hyperparameters, step
 * count and (for checkpoints) a host copy of the moments; blorc_step runs it on the backend. */
#ifndef BLORC_OPTIMIZER_H
#define BLORC_OPTIMIZER_H

#include <stddef.h>

#include "blorc/backend.h"

typedef struct blorc_optimizer {
  int adam;
  double lr, beta1, beta2, eps;
  long long t; /* Adam steps taken */
  size_t len;
  double *m, *v; /* Adam moments (allocated for sgd too, left zero) */
} blorc_optimizer;

/* Returns 0 on success, -1 when out of memory. */
int blorc_optimizer_init(blorc_optimizer *o, int adam, double lr, size_t len);
void blorc_optimizer_free(blorc_optimizer *o);
/* The options of the optimiser's next step for blorc_step (advances Adam's step count). */
blorc_step_opts blorc_optimizer_next(blorc_optimizer *o);

#endif
