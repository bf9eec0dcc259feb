/* Internal: the ADMM penalty rho, tuned during training. The best rho moves by orders of
 * magnitude as W is learned (design.md section 2), and the closed form makes the gradient
 * independent of rho once ADMM has found the sign pattern, so rho is chosen purely for speed:
 * periods of minibatches alternate between the current rho and a probe at twice or half of
 * it; the probe replaces it when its samples needed at least 5% fewer iterations, else the
 * next probe goes the other way. Comparing fresh measurements keeps it robust as W drifts. */
#ifndef BLORC_RHO_TUNER_H
#define BLORC_RHO_TUNER_H

typedef struct blorc_rho_tuner {
  double rho;       /* current best */
  int dir;          /* +1: next probe 2 rho, -1: rho / 2 */
  int phase;        /* 0: measuring rho, 1: measuring the probe */
  double base_cost; /* mean iterations per sample at rho in the last phase 0 */
  long long iters;  /* accumulated in the current phase */
  long long samples;
  int batches;
} blorc_rho_tuner;

enum { BLORC_RHO_PERIOD = 5 }; /* minibatches per measurement */

void blorc_rho_tuner_init(blorc_rho_tuner *t, double rho);
/* The rho the next minibatch should use. */
double blorc_rho_tuner_next(const blorc_rho_tuner *t);
/* Records a minibatch's ADMM iterations (summed over its samples). */
void blorc_rho_tuner_record(blorc_rho_tuner *t, long long iters, int samples);

#endif
