// Independent references with a forward operator (see reference_operator.h). Plain loops and
// LAPACK dgelsy / dpotrf / dpotri only.
#include "reference_operator.h"

#include <lapacke.h>

#include <algorithm>
#include <cmath>

namespace ref {

static int ls_rank(Vec M, int rows, int cols, Vec *rhs, int nrhs) {
  // Column-major copy for dgelsy; returns the effective rank (rcond 1e-12); rhs (rows x nrhs,
  // column-major, at least max(rows, cols) long per column) receives the solution.
  Vec a((size_t)rows * cols);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) a[(size_t)j * rows + i] = M[(size_t)i * cols + j];
  std::vector<lapack_int> jpvt(cols, 0);
  lapack_int rank = 0;
  int ldb = std::max(rows, cols);
  Vec dummy((size_t)ldb, 0.0);
  double *b = rhs ? rhs->data() : dummy.data();
  LAPACKE_dgelsy(LAPACK_COL_MAJOR, rows, cols, rhs ? nrhs : 1, a.data(), rows, b, ldb, jpvt.data(),
                 1e-12, &rank);
  return (int)rank;
}

OpExact op_exact_given_signs(const Vec &W, int k, int n, const Vec &A, int m, double ridge,
                             const Vec &y, const std::vector<int> &s, double margin_nz,
                             double margin_dual) {
  std::vector<int> Z;
  for (int i = 0; i < k; i++)
    if (s[i] == 0) Z.push_back(i);
  int z = (int)Z.size(), dim = n + z;
  OpExact out;
  // Uniqueness: [A; sqrt(ridge) I; W0] of full column rank.
  int rows = m + (ridge > 0 ? n : 0) + z;
  Vec S((size_t)rows * n, 0.0);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) S[(size_t)i * n + j] = A[(size_t)i * n + j];
  int r0 = m;
  if (ridge > 0)
    for (int i = 0; i < n; i++) S[(size_t)(r0 + i) * n + i] = std::sqrt(ridge);
  r0 += ridge > 0 ? n : 0;
  for (int t = 0; t < z; t++)
    for (int j = 0; j < n; j++) S[(size_t)(r0 + t) * n + j] = W[(size_t)Z[t] * n + j];
  out.unique = ls_rank(S, rows, n, nullptr, 0) == n;
  // KKT matrix and right-hand side.
  Vec K((size_t)dim * dim, 0.0), rhs((size_t)dim, 0.0);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double v = i == j ? ridge : 0.0;
      for (int r = 0; r < m; r++) v += A[(size_t)r * n + i] * A[(size_t)r * n + j];
      K[(size_t)i * dim + j] = v;
    }
  for (int t = 0; t < z; t++)
    for (int j = 0; j < n; j++) {
      K[(size_t)j * dim + n + t] = W[(size_t)Z[t] * n + j];
      K[(size_t)(n + t) * dim + j] = W[(size_t)Z[t] * n + j];
    }
  for (int j = 0; j < n; j++) {
    double v = 0;
    for (int r = 0; r < m; r++) v += A[(size_t)r * n + j] * y[r];
    for (int i = 0; i < k; i++) v -= W[(size_t)i * n + j] * s[i];
    rhs[j] = v;
  }
  ls_rank(K, dim, dim, &rhs, 1);
  out.x.assign(rhs.begin(), rhs.begin() + n);
  out.v0.assign(rhs.begin() + n, rhs.begin() + dim);
  out.min_nonzero = 1e300;
  out.max_dual = 0;
  for (int i = 0; i < k; i++) {
    if (s[i] == 0) continue;
    double wx = 0;
    for (int j = 0; j < n; j++) wx += W[(size_t)i * n + j] * out.x[j];
    out.min_nonzero = std::min(out.min_nonzero, s[i] * wx);
  }
  for (double v : out.v0) out.max_dual = std::max(out.max_dual, std::fabs(v));
  out.certified =
      out.unique && out.min_nonzero >= margin_nz && out.max_dual <= 1.0 - margin_dual + 1e-9;
  return out;
}

OpExact op_solve(const Vec &W, int k, int n, const Vec &A, int m, double ridge, const Vec &y,
                 int iters) {
  // ||W||_2^2 by power iteration, then tau = sigma = 0.9 / ||W||.
  Vec v(n, 1.0), t(k);
  double L = 0;
  for (int it = 0; it < 200; it++) {
    for (int i = 0; i < k; i++) {
      t[i] = 0;
      for (int j = 0; j < n; j++) t[i] += W[(size_t)i * n + j] * v[j];
    }
    Vec u(n, 0.0);
    for (int i = 0; i < k; i++)
      for (int j = 0; j < n; j++) u[j] += W[(size_t)i * n + j] * t[i];
    L = 0;
    for (double e : u) L += e * e;
    L = std::sqrt(L);
    for (int j = 0; j < n; j++) v[j] = u[j] / L;
  }
  double tau = 0.9 / std::sqrt(L * 1.01), sigma = tau;
  // P = (I + tau B)^{-1}, Aty = A^T y.
  Vec P((size_t)n * n, 0.0), Aty(n, 0.0);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double b = i == j ? ridge : 0.0;
      for (int r = 0; r < m; r++) b += A[(size_t)r * n + i] * A[(size_t)r * n + j];
      P[(size_t)i * n + j] = (i == j ? 1.0 : 0.0) + tau * b;
    }
  for (int j = 0; j < n; j++)
    for (int r = 0; r < m; r++) Aty[j] += A[(size_t)r * n + j] * y[r];
  LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, P.data(), n);
  LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', n, P.data(), n);
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) P[(size_t)i * n + j] = P[(size_t)j * n + i];
  Vec x(n, 0.0), xbar(n, 0.0), dual(k, 0.0), rhs(n);
  for (int it = 0; it < iters; it++) {
    for (int i = 0; i < k; i++) {
      double wx = 0;
      for (int j = 0; j < n; j++) wx += W[(size_t)i * n + j] * xbar[j];
      dual[i] = std::clamp(dual[i] + sigma * wx, -1.0, 1.0);
    }
    for (int j = 0; j < n; j++) rhs[j] = x[j] + tau * Aty[j];
    for (int i = 0; i < k; i++)
      for (int j = 0; j < n; j++) rhs[j] -= tau * W[(size_t)i * n + j] * dual[i];
    for (int i = 0; i < n; i++) {
      double nx = 0;
      for (int j = 0; j < n; j++) nx += P[(size_t)i * n + j] * rhs[j];
      xbar[i] = 2 * nx - x[i];
      x[i] = nx;
    }
  }
  // The pattern of W x at the first threshold whose KKT solution is certified: CP's iterate
  // is near the minimiser, not on it, so rows of the zero set are small, not 0.
  Vec wx(k, 0.0);
  for (int i = 0; i < k; i++)
    for (int j = 0; j < n; j++) wx[i] += W[(size_t)i * n + j] * x[j];
  OpExact best;
  for (double thr = 1e-10; thr < 2e-3; thr *= 3) {
    std::vector<int> s(k);
    for (int i = 0; i < k; i++) s[i] = std::fabs(wx[i]) > thr ? (wx[i] > 0 ? 1 : -1) : 0;
    best = op_exact_given_signs(W, k, n, A, m, ridge, y, s, 0, 0);
    if (best.certified) break;
  }
  return best;
}

}  // namespace ref
