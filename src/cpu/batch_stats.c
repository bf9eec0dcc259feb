/* The minibatch's statistics for the training log (blorc_batch_stats) on the CPU: pattern
 * changes against the per-sample store, closed form against ADMM, uniqueness. */
#include <string.h>

#include "blorc/elementwise.h"
#include "cpu_backend.h"

blorc_status cpu_batch_stats(blorc_backend *b, double tol, double nearby, blorc_batch_counts *out,
                             blorc_error *err) {
  (void)err;
  cpu_state *c = cpu_of(b);
  size_t n = (size_t)b->n, k = (size_t)b->k;
  for (int j = 0; j < b->B; j++) {
    double *prev = c->Sall + c->idx[j] * k;
    const double *now = c->S + (size_t)j * k;
    for (size_t i = 0; i < k; i++) out->sign_changes += prev[i] != 2.0 && prev[i] != now[i];
    memcpy(prev, now, k * sizeof(double));
    const double *xa = c->Xa + (size_t)j * n, *xs = c->Xs + (size_t)j * n;
    double d2 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) d2 += (xa[i] - xs[i]) * (xa[i] - xs[i]), s2 += xa[i] * xa[i];
    out->mismatch += !blorc_agrees(d2, s2, tol, nearby);
    out->not_unique += c->op != BLORC_OP_IDENTITY && !c->uniq[j];
  }
  return BLORC_OK;
}
