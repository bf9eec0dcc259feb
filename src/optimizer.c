/* Plain gradient descent (the paper's) and Adam (Kingma and Ba, 2015, bias-corrected). */
#include "optimizer.h"

#include <stdlib.h>

int blorc_optimizer_init(blorc_optimizer *o, int adam, double lr, size_t len) {
  o->adam = adam;
  o->lr = lr;
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->eps = 1e-8;
  o->t = 0;
  o->len = len;
  o->m = calloc(len, sizeof(double));
  o->v = calloc(len, sizeof(double));
  return o->m && o->v ? 0 : -1;
}

void blorc_optimizer_free(blorc_optimizer *o) {
  free(o->m), free(o->v);
  o->m = o->v = NULL;
}

blorc_step_opts blorc_optimizer_next(blorc_optimizer *o) {
  blorc_step_opts s;
  s.adam = o->adam;
  s.lr = o->lr, s.beta1 = o->beta1, s.beta2 = o->beta2, s.eps = o->eps;
  if (o->adam) o->t++;
  s.t = o->t;
  return s;
}
