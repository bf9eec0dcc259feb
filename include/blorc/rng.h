/* Seeded random numbers. Algorithm: xoshiro256** (Blackman and Vigna, 2018), its 256-bit
 * state filled from the 64-bit seed by splitmix64. Uniform doubles take the top 53 bits;
 * normals use Marsaglia's polar method; integers below n use Lemire's unbiased
 * multiply-and-reject. The state is plain data, so it can be checkpointed by value. The
 * same seed gives the same numbers bit for bit on every platform with IEEE doubles and a
 * correctly rounded sqrt (log is glibc's, as used by the normals). */
#ifndef BLORC_RNG_H
#define BLORC_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct blorc_rng {
  uint64_t s[4];
  double spare; /* second normal of the last polar pair */
  int has_spare;
} blorc_rng;

void blorc_rng_seed(blorc_rng *r, uint64_t seed);
uint64_t blorc_rng_u64(blorc_rng *r);
/* Uniform on [0, 1). */
double blorc_rng_uniform(blorc_rng *r);
/* Standard normal. */
double blorc_rng_normal(blorc_rng *r);
/* Uniform integer in [0, n); n must be > 0 (returns 0 otherwise). */
uint64_t blorc_rng_below(blorc_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..count). */
void blorc_rng_shuffle(blorc_rng *r, size_t *idx, size_t count);
/* Training's epoch order: idx <- 0..count-1 sorted by blorc_shuffle_key(seed, i)
 * (blorc/elementwise.h), the order blorc_shuffle draws on a backend. Returns 0, or -1 when out
 * of memory (idx untouched). */
int blorc_shuffle_order(uint64_t seed, size_t *idx, size_t count);

#ifdef __cplusplus
}
#endif
#endif
