/* The epoch order on the CPU (blorc_shuffle): blorc_shuffle_order into the backend's
 * permutation, the same order the CUDA backend sorts on the device, and the minibatch gathered
 * from a position of it. */
#include <stdlib.h>

#include "blorc/rng.h"
#include "cpu_backend.h"

blorc_status cpu_shuffle(blorc_backend *b, uint64_t seed, size_t count, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  if (c->perm_cap < count) {
    size_t *p = realloc(c->perm, count * sizeof(size_t));
    if (!p) return blorc_fail(err, BLORC_ENOMEM, "shuffle: out of memory for %zu indices", count);
    c->perm = p, c->perm_cap = count;
  }
  if (blorc_shuffle_order(seed, c->perm, count) != 0)
    return blorc_fail(err, BLORC_ENOMEM, "shuffle: out of memory for %zu sort keys", count);
  return BLORC_OK;
}

blorc_status cpu_select_shuffled(blorc_backend *b, size_t start, blorc_error *err) {
  return cpu_select(b, cpu_of(b)->perm + start, err);
}
