// Random lower-level problems for the tests, drawn with the tests' own generator.
#pragma once
#include <cmath>
#include <string>

#include "pipeline.h"
#include "reference.h"

namespace prob {

// A problem size for parameterised tests, named "n8_k16" in test names.
struct Shape {
  int n, k;
};
struct ShapeName {
  template <typename Info>
  std::string operator()(const Info &info) const {
    return "n" + std::to_string(info.param.n) + "_k" + std::to_string(info.param.k);
  }
};

struct Problem {
  int n, k, B;
  ref::Vec W;  // k x n
  ref::Vec X;  // B x n clean
  ref::Vec Y;  // B x n noisy
};

// W: Gaussian entries scaled by w_scale / sqrt(n); clean signals piecewise constant (jumps
// with probability 0.2, heights in [0, 1)); noise sigma. At w_scale ~ 0.3 about a third to
// two thirds of the rows of W x* vanish: both parts of the gradient formula are exercised.
inline Problem make(uint64_t seed, int n, int k, int B, double w_scale, double sigma = 0.1) {
  ref::Rand r(seed);
  Problem p{n, k, B, ref::random_matrix(r, k, n, w_scale / std::sqrt((double)n)), {}, {}};
  p.X.resize((size_t)n * B);
  p.Y.resize((size_t)n * B);
  for (int j = 0; j < B; j++) {
    double h = r.uniform();
    for (int i = 0; i < n; i++) {
      if (i > 0 && r.uniform() < 0.2) h = r.uniform();
      p.X[(size_t)j * n + i] = h;
      p.Y[(size_t)j * n + i] = h + sigma * r.normal();
    }
  }
  return p;
}

inline ref::Vec row(const ref::Vec &M, int len, int j) {
  return ref::Vec(M.begin() + (size_t)j * len, M.begin() + (size_t)(j + 1) * len);
}

// Loads p into run (W, data) and selects its first p.B samples.
inline void load(lib::Run &run, const Problem &p) {
  run.set_W(p.W);
  run.set_data(p.X, p.Y);
  run.select_first(p.B);
}

// Operators with exactly dependent rows, where ADMM's pattern is unreliable (issue 15): 2D
// finite differences on 4 x 4 stripe patches (n = 16, k = 24, scale 0.12), or multi-lag
// differences [0.09 D1; 0.02 D2; 0.01 D3] on piecewise-constant signals (n = 16, k = 42);
// every nonzero entry moved by eps times a uniform draw in [-1, 1] (eps 0: exactly dependent).
enum class Dependent { Fd2d, MultiLag };
inline Problem dependent(Dependent kind, double eps, uint64_t seed, int B) {
  const int n = 16;
  Problem p{n, 0, B, {}, {}, {}};
  if (kind == Dependent::Fd2d) {
    blorc_error e{};
    lib::check(blorc_transform_rows(BLORC_TRANSFORM_FD2, n, &p.k, &e), e, "rows");
    p.W.resize((size_t)p.k * n);
    lib::check(blorc_transform_fill(BLORC_TRANSFORM_FD2, n, 0.12, p.W.data(), &e), e, "fill");
    p.X.resize((size_t)n * B), p.Y.resize((size_t)n * B);
    blorc_rng rng;
    blorc_rng_seed(&rng, seed);
    lib::check(blorc_sample_stripes(4, 0.1, 1, &rng, (size_t)B, p.X.data(), p.Y.data(), &e), e,
               "stripes");
  } else {
    Problem q = make(seed, n, 1, B, 1.0);
    p.X = q.X, p.Y = q.Y;
    const double scale[3] = {0.09, 0.02, 0.01};
    for (int lag = 1; lag <= 3; lag++)
      for (int i = 0; i + lag < n; i++) {
        ref::Vec r(n, 0.0);
        r[i] = -scale[lag - 1], r[i + lag] = scale[lag - 1];
        p.W.insert(p.W.end(), r.begin(), r.end());
        p.k++;
      }
  }
  ref::Rand r(seed + 17);
  for (double &w : p.W)
    if (w != 0.0) w += eps * (2 * r.uniform() - 1);
  return p;
}

// Gaussian blur of width sigma (truncated at 3 sigma, the kernel normalised to sum 1, zero
// outside the signal, so rows near the ends sum to less): the tests' own.
inline ref::Vec blur_matrix(int n, double sigma) {
  ref::Vec A((size_t)n * n, 0.0);
  int half = (int)std::ceil(3 * sigma);
  for (int i = 0; i < n; i++) {
    double s = 0;
    for (int d = -half; d <= half; d++) s += std::exp(-0.5 * d * d / (sigma * sigma));
    for (int d = -half; d <= half; d++)
      if (i + d >= 0 && i + d < n)
        A[(size_t)i * n + i + d] = std::exp(-0.5 * d * d / (sigma * sigma)) / s;
  }
  return A;
}

// y = A x + sigma e for each of the B clean signals (A m x n row-major).
inline ref::Vec measure(const ref::Vec &A, int m, int n, const ref::Vec &X, int B, double sigma,
                        uint64_t seed) {
  ref::Rand r(seed);
  ref::Vec Y((size_t)B * m);
  for (int j = 0; j < B; j++)
    for (int i = 0; i < m; i++) {
      double v = 0;
      for (int c = 0; c < n; c++) v += A[(size_t)i * n + c] * X[(size_t)j * n + c];
      Y[(size_t)j * m + i] = v + sigma * r.normal();
    }
  return Y;
}

}  // namespace prob
