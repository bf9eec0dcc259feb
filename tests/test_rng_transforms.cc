// The seeded generator (bit-for-bit reproducibility, known outputs, distributions) and the
// standard transforms.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

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

}  // namespace
