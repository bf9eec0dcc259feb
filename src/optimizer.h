/* Internal: the W update of stage 7 (plain gradient descent or Adam), on the host. */
#ifndef BLORC_OPTIMIZER_H
#define BLORC_OPTIMIZER_H

#include <stddef.h>

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
/* W_new = W - step(G). Returns the index of the first non-finite entry of W_new, or -1. The
 * optimiser state advances either way; the caller keeps W when the step failed. */
long blorc_optimizer_step(blorc_optimizer *o, const double *W, const double *G, double *W_new);

#endif
