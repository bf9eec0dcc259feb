// Independent float64 references for the tests: nothing here calls the library's stages.
// Matrices are row-major std::vector<double>; W is k x n.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace ref {

using Vec = std::vector<double>;

struct Rand {  // the tests' own generator, separate from blorc_rng
  explicit Rand(uint64_t seed) : eng(seed) {}
  double normal() { return std::normal_distribution<double>()(eng); }
  double uniform() { return std::uniform_real_distribution<double>()(eng); }
  std::mt19937_64 eng;
};

Vec random_matrix(Rand &r, int rows, int cols, double scale);

// Projected gradient (FISTA with gradient restart) on the dual of
//   min_x 1/2||x - y||^2 + ||W x||_1:   min_{|v|_inf <= 1} 1/2||y - W^T v||^2,  x = y - W^T v.
// Runs until the iterate stops moving (relative 1e-15 over 100 steps) or max_iters.
// Returns x; *v_out (if given) receives v.
Vec dual_pg_solve(const Vec &W, int k, int n, const Vec &y, int max_iters, Vec *v_out = nullptr);

// Optimality certificate for x with sign pattern s: x - y + W^T t = 0 with t_i = s_i on the
// nonzero rows and |t_i| <= 1 on the zero rows (t = v0 there). v0 is found by least squares
// on W0^T v0 = y - x - W±^T s; when W0 has dependent rows that system has many solutions,
// so a dual hint (the PG dual, which lies in the box) is corrected to the nearest solution
// instead of taking the minimum-norm one.
struct Exact {
  Vec x;
  Vec v0;              // duals of the zero rows
  double min_nonzero;  // min |(W x)_i| over s_i != 0
  double max_dual;     // max |v0_i|
  double residual;     // max of |(W0 x)_i| and the stationarity residual
  bool certified;      // optimal, with the margins asked for
};
Exact certify(const Vec &W, int k, int n, const Vec &y, const Vec &x, const std::vector<int> &s,
              double margin_nz, double margin_dual, const Vec *v_hint = nullptr);

// Exact minimiser for a given sign pattern s (entries -1, 0, 1): solves the KKT system
//   [I W0^T; W0 0] [x; v0] = [y - W±^T s; 0]
// by complete orthogonal decomposition (LAPACK dgelsy), independent of any SVD, then
// certifies it (margins: see certify).
Exact exact_given_signs(const Vec &W, int k, int n, const Vec &y, const std::vector<int> &s,
                        double margin_nz, double margin_dual, const Vec *v_hint = nullptr);

// Duality gap of the lower level for a primal x and a dual v (clipped into the box first, so
// that it is feasible): P(x) - D(v) with P(x) = 1/2||x - y||^2 + ||W x||_1 and
// D(v) = 1/2||y||^2 - 1/2||y - W^T v||^2. Weak duality makes it >= 0 (up to rounding), and
// strong convexity of P bounds the distance to the minimiser: ||x - x*||^2 <= 2 gap.
double duality_gap(const Vec &W, int k, int n, const Vec &y, const Vec &x, const Vec &v);

// Signs of W x with a threshold.
std::vector<int> sign_pattern(const Vec &W, int k, int n, const Vec &x, double gamma);

// Full solve: dual PG to find the pattern, then the exact KKT solve for that pattern.
Exact solve_exact(const Vec &W, int k, int n, const Vec &y, double margin_nz = 0,
                  double margin_dual = 0);

// The paper's row-split gradient, eqs. (7) and (8), for one pair: W0^+ from dgelsy, P_N =
// I - W0^+ W0. Returns the k x n gradient of 1/2||x* - x_clean||^2.
Vec rowsplit_gradient(const Vec &W, int k, int n, const Vec &y, const Vec &x_clean,
                      const Vec &xstar, const std::vector<int> &s);

double rel_diff(const Vec &a, const Vec &b);  // ||a - b|| / max(||b||, tiny)
// ||a - b|| / scale: for vectors that may be exactly zero (x* = 0), measured against the
// size of the input (||y||) instead of their own.
double diff_over(const Vec &a, const Vec &b, double scale);
double norm2(const Vec &a);
double max_abs(const Vec &a);

}  // namespace ref
