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

}  // namespace prob
