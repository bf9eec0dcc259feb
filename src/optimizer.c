/* Plain gradient descent (the paper's) and Adam (Kingma and Ba, 2015, bias-corrected). */
#include "optimizer.h"

#include <math.h>
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

long blorc_optimizer_step(blorc_optimizer *o, const double *W, const double *G, double *W_new) {
  long bad = -1;
  if (!o->adam) {
    for (size_t i = 0; i < o->len; i++) W_new[i] = W[i] - o->lr * G[i];
  } else {
    o->t++;
    double c1 = 1 - pow(o->beta1, (double)o->t), c2 = 1 - pow(o->beta2, (double)o->t);
    for (size_t i = 0; i < o->len; i++) {
      o->m[i] = o->beta1 * o->m[i] + (1 - o->beta1) * G[i];
      o->v[i] = o->beta2 * o->v[i] + (1 - o->beta2) * G[i] * G[i];
      W_new[i] = W[i] - o->lr * (o->m[i] / c1) / (sqrt(o->v[i] / c2) + o->eps);
    }
  }
  for (size_t i = 0; i < o->len && bad < 0; i++)
    if (!isfinite(W_new[i])) bad = (long)i;
  return bad;
}
