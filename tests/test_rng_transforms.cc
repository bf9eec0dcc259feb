// The seeded generator (bit-for-bit reproducibility, known outputs, distributions), the
// standard transforms, and ordering learned rows like a transform for pictures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "blorc/elementwise.h"
#include "blorc/image.h"
#include "blorc/rng.h"
#include "blorc/transforms.h"

namespace {

TEST(Rng, SameSeedSameNumbersBitForBit) {
  blorc_rng a, b, c;
  blorc_rng_seed(&a, 42);
  blorc_rng_seed(&b, 42);
  blorc_rng_seed(&c, 43);
  int differ = 0;
  for (int i = 0; i < 1000; i++) {
    double x = blorc_rng_normal(&a), y = blorc_rng_normal(&b), z = blorc_rng_normal(&c);
    EXPECT_EQ(std::memcmp(&x, &y, sizeof x), 0);
    differ += x != z;
  }
  EXPECT_GT(differ, 990);
  // A copied state continues identically (checkpoints store the struct by value).
  blorc_rng d = a;
  for (int i = 0; i < 10; i++) EXPECT_EQ(blorc_rng_u64(&a), blorc_rng_u64(&d));
}

TEST(Rng, MatchesPublishedAlgorithm) {
  // splitmix64 from seed 0 gives 0xe220a8397b1dcdaf first (Vigna's reference); xoshiro256**
  // output of a known state {1, 2, 3, 4} is rotl(2 * 5, 7) * 9 = 11520.
  blorc_rng r;
  blorc_rng_seed(&r, 0);
  EXPECT_EQ(r.s[0], 0xe220a8397b1dcdafULL);
  r.s[0] = 1, r.s[1] = 2, r.s[2] = 3, r.s[3] = 4;
  EXPECT_EQ(blorc_rng_u64(&r), 11520u);
}

TEST(Rng, Distributions) {
  blorc_rng r;
  blorc_rng_seed(&r, 7);
  const int N = 200000;
  double su = 0, sn = 0, sn2 = 0, umin = 1, umax = 0;
  for (int i = 0; i < N; i++) {
    double u = blorc_rng_uniform(&r), z = blorc_rng_normal(&r);
    su += u, sn += z, sn2 += z * z;
    umin = std::min(umin, u), umax = std::max(umax, u);
  }
  // Means within 5 standard errors (a 1-in-a-million event for a correct generator).
  EXPECT_NEAR(su / N, 0.5, 5 * std::sqrt(1.0 / 12 / N));
  EXPECT_NEAR(sn / N, 0.0, 5 * std::sqrt(1.0 / N));
  EXPECT_NEAR(sn2 / N, 1.0, 5 * std::sqrt(2.0 / N));
  EXPECT_GE(umin, 0.0);
  EXPECT_LT(umax, 1.0);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; i++) counts[blorc_rng_below(&r, 7)]++;
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

TEST(Rng, ShuffleIsAPermutation) {
  blorc_rng r;
  blorc_rng_seed(&r, 3);
  std::vector<size_t> v(100);
  std::iota(v.begin(), v.end(), 0);
  blorc_rng_shuffle(&r, v.data(), v.size());
  std::vector<size_t> s = v;
  std::sort(s.begin(), s.end());
  for (size_t i = 0; i < s.size(); i++) EXPECT_EQ(s[i], i);
  EXPECT_NE(v[0] + v[1] * 100, 0u + 1 * 100);  // moved (fails with chance 1e-4)
}

// Training's epoch order (blorc_shuffle_order): a permutation, the same for the same seed, a
// different one for another, and uniform: over 20000 seeds each of N = 5 samples lands in each
// position 4000 times in expectation (binomial sd 57; 6 sd allowed). The keys are splitmix64's
// outputs: seed 0, sample 0 is splitmix64's first output from state 0 (published value).
TEST(Rng, ShuffleOrderIsAUniformPermutation) {
  EXPECT_EQ(blorc_shuffle_key(0, 0), 0xE220A8397B1DCDAFull);
  std::vector<size_t> a(1000), b(1000), c(1000);
  ASSERT_EQ(blorc_shuffle_order(42, a.data(), a.size()), 0);
  ASSERT_EQ(blorc_shuffle_order(42, b.data(), b.size()), 0);
  ASSERT_EQ(blorc_shuffle_order(43, c.data(), c.size()), 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<size_t> s = a;
  std::sort(s.begin(), s.end());
  for (size_t i = 0; i < s.size(); i++) EXPECT_EQ(s[i], i);
  std::vector<int> where(25, 0);
  std::vector<size_t> v(5);
  for (uint64_t seed = 0; seed < 20000; seed++) {
    ASSERT_EQ(blorc_shuffle_order(seed * 0x2545F4914F6CDD1Dull, v.data(), 5), 0);
    for (int pos = 0; pos < 5; pos++) where[v[pos] * 5 + pos]++;
  }
  for (int cell = 0; cell < 25; cell++)
    EXPECT_NEAR(where[cell], 4000, 340) << "sample " << cell / 5 << " at position " << cell % 5;
}

std::vector<double> make(blorc_transform_kind kind, int n, int *k) {
  blorc_error e{};
  EXPECT_EQ(blorc_transform_rows(kind, n, k, &e), BLORC_OK) << e.msg;
  std::vector<double> W((size_t)*k * n);
  EXPECT_EQ(blorc_transform_fill(kind, n, 1.0, W.data(), &e), BLORC_OK) << e.msg;
  return W;
}

TEST(Transforms, DctIsOrthonormal) {
  int k;
  std::vector<double> W = make(BLORC_TRANSFORM_DCT, 64, &k);
  ASSERT_EQ(k, 64);
  for (int a = 0; a < 64; a++)
    for (int b = 0; b < 64; b++) {
      double d = 0;
      for (int i = 0; i < 64; i++) d += W[a * 64 + i] * W[b * 64 + i];
      EXPECT_NEAR(d, a == b ? 1.0 : 0.0, 1e-13);
    }
  EXPECT_NEAR(W[0], 1 / 8.0, 1e-15);  // constant row 1/sqrt(n)
}

TEST(Transforms, FiniteDifferences) {
  int k;
  std::vector<double> W = make(BLORC_TRANSFORM_FD1, 5, &k);
  ASSERT_EQ(k, 4);
  std::vector<double> x = {1, 4, 9, 16, 25}, d(4, 0.0);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 5; j++) d[i] += W[i * 5 + j] * x[j];
  EXPECT_EQ(d, (std::vector<double>{3, 5, 7, 9}));
  W = make(BLORC_TRANSFORM_FD2, 9, &k);
  ASSERT_EQ(k, 12);  // 3 rows x 2 horizontal + 2 x 3 vertical
  std::vector<double> img = {0, 1, 2, 10, 11, 12, 20, 21, 22}, g(12, 0.0);
  for (int i = 0; i < 12; i++)
    for (int j = 0; j < 9; j++) g[i] += W[i * 9 + j] * img[j];
  for (int i = 0; i < 6; i++) EXPECT_EQ(g[i], 1);    // horizontal
  for (int i = 6; i < 12; i++) EXPECT_EQ(g[i], 10);  // vertical
  W = make(BLORC_TRANSFORM_IDENTITY, 3, &k);
  EXPECT_EQ(W, (std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
}

TEST(Transforms, BadSizesAndNames) {
  int k;
  blorc_error e{};
  EXPECT_EQ(blorc_transform_rows(BLORC_TRANSFORM_FD2, 10, &k, &e), BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("n = 10"), std::string::npos) << e.msg;
  EXPECT_EQ(blorc_transform_rows(BLORC_TRANSFORM_FD1, 1, &k, &e), BLORC_EINVAL);
  blorc_transform_kind kind;
  EXPECT_EQ(blorc_transform_parse("wavelet", &kind, &e), BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("'wavelet'"), std::string::npos) << e.msg;
  EXPECT_EQ(blorc_transform_parse("tv", &kind, &e), BLORC_OK);
  EXPECT_EQ(kind, BLORC_TRANSFORM_FD1);
}

TEST(RowOrder, RecoversAShuffledRescaledSignFlippedNoisyDct) {
  // W = a shuffled DCT, rows scaled by 0.5 .. 2, signs flipped at random, plus noise 0.02 per
  // entry (each row's correlation with its own DCT row stays near 0.99, with any other near
  // 0.02 * sqrt(n) / |row| ~ 0.16 at most): ordering like the DCT must undo the shuffle.
  const int n = 64;
  int kr;
  blorc_error e{};
  ASSERT_EQ(blorc_transform_rows(BLORC_TRANSFORM_DCT, n, &kr, &e), BLORC_OK);
  std::vector<double> R(kr * n), W(n * n), out(n * n);
  ASSERT_EQ(blorc_transform_fill(BLORC_TRANSFORM_DCT, n, 1.0, R.data(), &e), BLORC_OK);
  std::vector<size_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  blorc_rng g;
  blorc_rng_seed(&g, 7);
  blorc_rng_shuffle(&g, perm.data(), perm.size());
  for (int i = 0; i < n; i++) {
    double scale = (blorc_rng_uniform(&g) < 0.5 ? -1 : 1) * (0.5 + 1.5 * blorc_rng_uniform(&g));
    for (int j = 0; j < n; j++)
      W[i * n + j] = scale * R[perm[i] * n + j] + 0.02 * blorc_rng_normal(&g);
  }
  std::vector<int> order(n);
  ASSERT_EQ(blorc_order_rows_like(W.data(), n, R.data(), kr, n, out.data(), order.data(), &e),
            BLORC_OK);
  for (int pos = 0; pos < n; pos++) {
    EXPECT_EQ(perm[order[pos]], (size_t)pos) << "position " << pos;
    double d = 0;
    for (int j = 0; j < n; j++) {
      d += out[pos * n + j] * R[pos * n + j];
      EXPECT_EQ(std::fabs(out[pos * n + j]), std::fabs(W[order[pos] * n + j]));
    }
    EXPECT_GT(d, 0) << "row at position " << pos << " flipped to correlate positively";
  }
}

TEST(RowOrder, FewerOrMoreRowsThanTheReference) {
  blorc_error e{};
  // k = 3 < kr = 5 (identity): matched to reference rows 4, 0, 2, so drawn in the order of
  // W rows 1, 2, 0; row 1 (-e0) flipped.
  std::vector<double> I5(25, 0.0), W3(15, 0.0), out3(15);
  for (int i = 0; i < 5; i++) I5[i * 5 + i] = 1;
  W3[0 * 5 + 4] = 1, W3[1 * 5 + 0] = -1, W3[2 * 5 + 2] = 2;
  std::vector<int> order3(3);
  ASSERT_EQ(blorc_order_rows_like(W3.data(), 3, I5.data(), 5, 5, out3.data(), order3.data(), &e),
            BLORC_OK);
  EXPECT_EQ(order3, (std::vector<int>{1, 2, 0}));
  EXPECT_EQ(out3[0], 1.0);
  EXPECT_EQ(out3[1 * 5 + 2], 2.0);
  // k = 4 > kr = 3: the exact matches (correlation 1) go first; W row 1 (e1 + 0.1 e0) finds
  // its best reference row taken and every other one too, so it is drawn last.
  std::vector<double> I3 = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  std::vector<double> W4 = {0, 1, 0, 0.1, 1, 0, 0, 0, -1, 1, 0, 0}, out4(12);
  std::vector<int> order4(4);
  ASSERT_EQ(blorc_order_rows_like(W4.data(), 4, I3.data(), 3, 3, out4.data(), order4.data(), &e),
            BLORC_OK);
  EXPECT_EQ(order4, (std::vector<int>{3, 0, 2, 1}));
  EXPECT_EQ(out4[2 * 3 + 2], 1.0);                              // -e2 flipped
  EXPECT_EQ(std::vector<double>(out4.begin() + 9, out4.end()),  // unmatched: as it was
            (std::vector<double>{0.1, 1, 0}));
  EXPECT_EQ(blorc_order_rows_like(W4.data(), 0, I3.data(), 3, 3, out4.data(), order4.data(), &e),
            BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("k = 0"), std::string::npos) << e.msg;
}

}  // namespace
