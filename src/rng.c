/* xoshiro256** seeded by splitmix64; see blorc/rng.h for the algorithms and guarantees. */
#include "blorc/rng.h"

#include <math.h>
#include <stdlib.h>

#include "blorc/elementwise.h"

static uint64_t splitmix64(uint64_t *x) {
  return blorc_mix64(*x += 0x9e3779b97f4a7c15ULL);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

void blorc_rng_seed(blorc_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  r->has_spare = 0;
  r->spare = 0;
}

uint64_t blorc_rng_u64(blorc_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double blorc_rng_uniform(blorc_rng *r) {
  return (double)(blorc_rng_u64(r) >> 11) * 0x1.0p-53;
}

double blorc_rng_normal(blorc_rng *r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u, v, s;
  do {
    u = 2.0 * blorc_rng_uniform(r) - 1.0;
    v = 2.0 * blorc_rng_uniform(r) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double f = sqrt(-2.0 * log(s) / s);
  r->spare = v * f;
  r->has_spare = 1;
  return u * f;
}

uint64_t blorc_rng_below(blorc_rng *r, uint64_t n) {
  if (n == 0) return 0;
  /* Lemire: the high word of a 128-bit product, rejecting the biased low range. */
  unsigned __int128 m = (unsigned __int128)blorc_rng_u64(r) * n;
  uint64_t low = (uint64_t)m;
  if (low < n) {
    uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = (unsigned __int128)blorc_rng_u64(r) * n;
      low = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

void blorc_rng_shuffle(blorc_rng *r, size_t *idx, size_t count) {
  for (size_t i = count; i > 1; i--) {
    size_t j = (size_t)blorc_rng_below(r, i);
    size_t t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}

typedef struct {
  uint64_t key;
  size_t i;
} keyed_index;

static int by_key(const void *a, const void *b) {
  uint64_t x = ((const keyed_index *)a)->key, y = ((const keyed_index *)b)->key;
  return (x > y) - (x < y);
}

int blorc_shuffle_order(uint64_t seed, size_t *idx, size_t count) {
  keyed_index *t = malloc((count ? count : 1) * sizeof *t);
  if (!t) return -1;
  for (size_t i = 0; i < count; i++) t[i].key = blorc_shuffle_key(seed, i), t[i].i = i;
  qsort(t, count, sizeof *t, by_key); /* keys are distinct: the order is unique */
  for (size_t i = 0; i < count; i++) idx[i] = t[i].i;
  free(t);
  return 0;
}
