/* Penalty tuning by alternating measurements (see rho_tuner.h). */
#include "rho_tuner.h"

void blorc_rho_tuner_init(blorc_rho_tuner *t, double rho) {
  t->rho = rho;
  t->dir = 1;
  t->phase = 0;
  t->base_cost = 0;
  t->iters = t->samples = 0;
  t->batches = 0;
}

double blorc_rho_tuner_next(const blorc_rho_tuner *t) {
  if (t->phase == 0) return t->rho;
  return t->dir > 0 ? t->rho * 2 : t->rho / 2;
}

void blorc_rho_tuner_record(blorc_rho_tuner *t, long long iters, int samples) {
  t->iters += iters;
  t->samples += samples;
  if (++t->batches < BLORC_RHO_PERIOD) return;
  double cost = (double)t->iters / (double)(t->samples ? t->samples : 1);
  if (t->phase == 0) {
    t->base_cost = cost;
    t->phase = 1;
  } else {
    double probe = blorc_rho_tuner_next(t);
    /* A 5% margin keeps rho still when ADMM is already down to one or two iterations and
     * the costs differ by noise; the bounds keep a pathological run from drifting away. */
    if (cost < 0.95 * t->base_cost && probe > 1e-6 && probe < 1e8)
      t->rho = probe;
    else
      t->dir = -t->dir;
    t->phase = 0;
  }
  t->iters = t->samples = 0;
  t->batches = 0;
}
