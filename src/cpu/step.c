/* Stage 7: the W update with blorc_step_entry, the host optimiser's arithmetic (so a CPU run
 * steps bit for bit as before); W takes the new values only when all are finite. */
#include <string.h>

#include "blorc/elementwise.h"
#include "cpu_backend.h"

blorc_status cpu_step(blorc_backend *b, const blorc_step_opts *o, double c1, double c2, long *bad,
                      blorc_error *err) {
  (void)err;
  cpu_state *c = cpu_of(b);
  size_t len = (size_t)b->n * b->k;
  *bad = -1;
  for (size_t i = 0; i < len; i++) {
    c->Wn[i] = blorc_step_entry(o->adam, c->W[i], c->G[i], &c->Am[i], &c->Av[i], o->lr, o->beta1,
                                o->beta2, o->eps, c1, c2);
    if (*bad < 0 && !isfinite(c->Wn[i])) *bad = (long)i;
  }
  if (*bad < 0) memcpy(c->W, c->Wn, len * sizeof(double));
  return BLORC_OK;
}
