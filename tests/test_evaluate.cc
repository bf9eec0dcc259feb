// PSNR statistics over data sets, against closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "blorc/evaluate.h"

namespace {

TEST(Psnr, OfSignalsAgainstTheDefinition) {
  // Two signals of length 4 off by 0.1 and 0.01 everywhere: PSNRs 20 and 40 dB, mean 30,
  // standard error 10 / sqrt(2) * sqrt(2) / sqrt(2) = 10; aggregate of the MSE (0.01 + 1e-4)/2.
  std::vector<double> X(8, 0.5), Y(8);
  for (int i = 0; i < 4; i++) Y[i] = 0.6, Y[4 + i] = 0.49;
  blorc_psnr_stats s = blorc_psnr_of(X.data(), Y.data(), 2, 4);
  EXPECT_NEAR(s.mean, 30.0, 1e-9);
  EXPECT_NEAR(s.stderr_, 10.0, 1e-9);
  EXPECT_NEAR(s.aggregate, -10 * std::log10((0.01 + 1e-4) / 2), 1e-9);
}

TEST(Psnr, PairedDifferenceClosedForm) {
  // B's error is A's times sqrt(2) on signal 0 and times 2 on signal 1: per-signal PSNR
  // differences 10 log10 2 and 10 log10 4, so mean 15 log10 2 and standard error
  // |d1 - d0| / 2 = 5 log10 2, whatever the signals' own PSNRs are.
  const int n = 5;
  std::vector<double> X(2 * n), A(2 * n), B(2 * n);
  for (int i = 0; i < 2 * n; i++) {
    X[i] = 0.1 * i;
    double e = 0.03 * std::sin(1.0 + i);  // A's error, different per entry
    A[i] = X[i] + e;
    B[i] = X[i] + (i < n ? std::sqrt(2.0) : 2.0) * e;
  }
  blorc_psnr_stats d = blorc_psnr_paired(X.data(), A.data(), B.data(), 2, n);
  EXPECT_NEAR(d.mean, 15 * std::log10(2.0), 1e-12);
  EXPECT_NEAR(d.stderr_, 5 * std::log10(2.0), 1e-12);
  blorc_psnr_stats a = blorc_psnr_of(X.data(), A.data(), 2, n),
                   b = blorc_psnr_of(X.data(), B.data(), 2, n);
  EXPECT_NEAR(d.aggregate, a.aggregate - b.aggregate, 1e-12);
  EXPECT_NEAR(d.mean, a.mean - b.mean, 1e-12);
  // The same estimate twice: exactly no difference.
  d = blorc_psnr_paired(X.data(), A.data(), A.data(), 2, n);
  EXPECT_EQ(d.mean, 0.0);
  EXPECT_EQ(d.stderr_, 0.0);
}

TEST(Psnr, PairedStandardErrorIsThatOfTheDifferences) {
  // 1000 signals with PSNRs spread over 20 dB whose two estimates differ by exactly
  // 10 log10(1 + 1e-6) dB each: the differences are constant, so their standard error is 0,
  // where combining the two estimates' own standard errors (unpaired) would give about 0.26 dB.
  const int N = 1000, n = 4;
  std::vector<double> X(N * n, 0.0), A(N * n), B(N * n);
  for (int j = 0; j < N; j++)
    for (int i = 0; i < n; i++) {
      double e = std::pow(10.0, -1.0 - j / 1000.0) * (i % 2 ? 1 : -1);
      A[j * n + i] = e, B[j * n + i] = e * std::sqrt(1 + 1e-6);
    }
  blorc_psnr_stats d = blorc_psnr_paired(X.data(), A.data(), B.data(), N, n);
  EXPECT_NEAR(d.mean, 10 * std::log10(1 + 1e-6), 1e-12);
  EXPECT_LT(d.stderr_, 1e-12);
  blorc_psnr_stats a = blorc_psnr_of(X.data(), A.data(), N, n);
  EXPECT_GT(a.stderr_, 0.1);  // the spread that pairing removes
}

// The standard error of the PSNR of the mean squared error (delta method) against a bootstrap
// over signals (2000 resamples of 400 signals; the two agree to a few percent), and a paired
// difference whose per-signal error ratio is constant: exactly 10 log10 4 with no spread.
TEST(Psnr, AggregateStandardErrorAgainstABootstrap) {
  const int n = 8, N = 400;
  std::vector<double> X(N * n, 0.0), A(N * n), B(N * n);
  std::mt19937_64 eng(7);
  std::normal_distribution<double> g;
  for (int j = 0; j < N; j++) {
    double s = 0.02 + 0.1 * (j % 7) / 7.0;  // signals of different difficulty
    for (int i = 0; i < n; i++) {
      A[j * n + i] = s * g(eng);
      B[j * n + i] = 2 * A[j * n + i];
    }
  }
  blorc_psnr_stats a = blorc_psnr_of(X.data(), A.data(), N, n);
  std::uniform_int_distribution<int> pick(0, N - 1);
  std::vector<double> XR(N * n, 0.0), AR(N * n), boot;
  double m = 0, m2 = 0;
  const int R = 2000;
  for (int r = 0; r < R; r++) {
    for (int j = 0; j < N; j++) {
      int t = pick(eng);
      for (int i = 0; i < n; i++) AR[j * n + i] = A[t * n + i];
    }
    double v = blorc_psnr_of(XR.data(), AR.data(), N, n).aggregate;
    m += v, m2 += v * v;
  }
  double boot_se = std::sqrt(m2 / R - (m / R) * (m / R));
  EXPECT_NEAR(a.aggregate_se, boot_se, 0.08 * boot_se);
  blorc_psnr_stats d = blorc_psnr_paired(X.data(), A.data(), B.data(), N, n);
  EXPECT_NEAR(d.aggregate, 10 * std::log10(4.0), 1e-12);
  EXPECT_NEAR(d.aggregate_se, 0.0, 1e-12);
}

}  // namespace
