// Independent references (see reference.h). Plain loops and LAPACK dgelsy only.
#include "reference.h"

#include <lapacke.h>

#include <algorithm>
#include <cmath>

namespace ref {

Vec random_matrix(Rand &r, int rows, int cols, double scale) {
  Vec m((size_t)rows * cols);
  for (double &v : m) v = scale * r.normal();
  return m;
}

static Vec wt_times(const Vec &W, int k, int n, const Vec &v) {  // W^T v
  Vec out(n, 0.0);
  for (int i = 0; i < k; i++)
    for (int j = 0; j < n; j++) out[j] += W[(size_t)i * n + j] * v[i];
  return out;
}

static Vec w_times(const Vec &W, int k, int n, const Vec &x) {  // W x
  Vec out(k, 0.0);
  for (int i = 0; i < k; i++)
    for (int j = 0; j < n; j++) out[i] += W[(size_t)i * n + j] * x[j];
  return out;
}

static double norm(const Vec &a) {
  double s = 0;
  for (double v : a) s += v * v;
  return std::sqrt(s);
}

double rel_diff(const Vec &a, const Vec &b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); i++) d += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(d) / std::max(norm(b), 1e-300);
}

double norm2(const Vec &a) {
  return norm(a);
}

double diff_over(const Vec &a, const Vec &b, double scale) {
  double d = 0;
  for (size_t i = 0; i < a.size(); i++) d += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(d) / scale;
}

double max_abs(const Vec &a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

Vec dual_pg_solve(const Vec &W, int k, int n, const Vec &y, int max_iters, Vec *v_out) {
  // Lipschitz constant ||W||_2^2 by power iteration on W^T W, with a safety margin.
  Vec p(n, 1.0);
  double L = 0;
  for (int it = 0; it < 300; it++) {
    Vec q = wt_times(W, k, n, w_times(W, k, n, p));
    L = norm(q) / std::max(norm(p), 1e-300);
    double s = std::max(norm(q), 1e-300);
    for (int j = 0; j < n; j++) p[j] = q[j] / s;
  }
  L = L * 1.01 + 1e-300;
  Vec v(k, 0.0), v_prev(k, 0.0), w(k, 0.0);
  Vec x = y, x_prev = y;
  double t = 1;
  int still = 0;
  for (int it = 0; it < max_iters; it++) {
    // gradient of 1/2||y - W^T w||^2 in w: W (W^T w - y)
    Vec r = wt_times(W, k, n, w);
    for (int j = 0; j < n; j++) r[j] -= y[j];
    Vec g = w_times(W, k, n, r);
    v_prev = v;
    for (int i = 0; i < k; i++) v[i] = std::clamp(w[i] - g[i] / L, -1.0, 1.0);
    double t_next = 0.5 * (1 + std::sqrt(1 + 4 * t * t));
    // gradient restart: momentum only while it points downhill
    double dot = 0;
    for (int i = 0; i < k; i++) dot += (w[i] - v[i]) * (v[i] - v_prev[i]);
    if (dot > 0) t_next = 1, t = 1;
    for (int i = 0; i < k; i++) w[i] = v[i] + (t - 1) / t_next * (v[i] - v_prev[i]);
    t = t_next;
    x_prev = x;
    x = wt_times(W, k, n, v);
    for (int j = 0; j < n; j++) x[j] = y[j] - x[j];
    double dx = 0;
    for (int j = 0; j < n; j++) dx = std::max(dx, std::fabs(x[j] - x_prev[j]));
    still = dx <= 1e-15 * (1 + max_abs(x)) ? still + 1 : 0;
    if (still >= 100) break;
  }
  if (v_out) *v_out = v;
  return x;
}

double duality_gap(const Vec &W, int k, int n, const Vec &y, const Vec &x, const Vec &v) {
  Vec wx = w_times(W, k, n, x), vc(k);
  for (int i = 0; i < k; i++) vc[i] = std::clamp(v[i], -1.0, 1.0);
  Vec wtv = wt_times(W, k, n, vc);
  double p = 0, d = 0;
  for (int j = 0; j < n; j++) {
    p += 0.5 * (x[j] - y[j]) * (x[j] - y[j]);
    d += 0.5 * y[j] * y[j] - 0.5 * (y[j] - wtv[j]) * (y[j] - wtv[j]);
  }
  for (int i = 0; i < k; i++) p += std::fabs(wx[i]);
  return p - d;
}

std::vector<int> sign_pattern(const Vec &W, int k, int n, const Vec &x, double gamma) {
  Vec wx = w_times(W, k, n, x);
  std::vector<int> s(k);
  for (int i = 0; i < k; i++) s[i] = wx[i] > gamma ? 1 : wx[i] < -gamma ? -1 : 0;
  return s;
}

Exact certify(const Vec &W, int k, int n, const Vec &y, const Vec &x, const std::vector<int> &s,
              double margin_nz, double margin_dual, const Vec *v_hint) {
  std::vector<int> zero;
  for (int i = 0; i < k; i++)
    if (s[i] == 0) zero.push_back(i);
  int k0 = (int)zero.size(), ld = std::max(n, k0);
  Vec rhs(n);  // y - x - W±^T s
  for (int j = 0; j < n; j++) {
    double v = y[j] - x[j];
    for (int i = 0; i < k; i++) v -= W[(size_t)i * n + j] * s[i];
    rhs[j] = v;
  }
  Exact e;
  e.x = x;
  e.v0.assign(k0, 0.0);
  if (v_hint)
    for (int z = 0; z < k0; z++) e.v0[z] = (*v_hint)[zero[z]];
  if (k0 > 0) {  // correction d = argmin ||d|| with W0^T (v0 + d) = rhs
    Vec A((size_t)n * k0), b(ld, 0.0);
    for (int z = 0; z < k0; z++)
      for (int j = 0; j < n; j++) A[(size_t)z * n + j] = W[(size_t)zero[z] * n + j];
    for (int j = 0; j < n; j++) {
      double v = rhs[j];
      for (int z = 0; z < k0; z++) v -= A[(size_t)z * n + j] * e.v0[z];
      b[j] = v;
    }
    std::vector<lapack_int> jpvt(k0, 0);
    lapack_int rank;
    LAPACKE_dgelsy(LAPACK_COL_MAJOR, n, k0, 1, A.data(), n, b.data(), ld, jpvt.data(), 1e-12,
                   &rank);
    for (int z = 0; z < k0; z++) e.v0[z] += b[z];
  }
  e.residual = 0;
  for (int j = 0; j < n; j++) {  // stationarity with the final v0
    double v = rhs[j];
    for (int z = 0; z < k0; z++) v -= W[(size_t)zero[z] * n + j] * e.v0[z];
    e.residual = std::max(e.residual, std::fabs(v));
  }
  Vec wx = w_times(W, k, n, x);
  e.min_nonzero = INFINITY;
  bool signs_ok = true;
  for (int i = 0; i < k; i++) {
    if (s[i] == 0) {
      e.residual = std::max(e.residual, std::fabs(wx[i]));
    } else {
      e.min_nonzero = std::min(e.min_nonzero, std::fabs(wx[i]));
      if ((wx[i] > 0) != (s[i] > 0)) signs_ok = false;
    }
  }
  e.max_dual = k0 ? max_abs(e.v0) : 0;
  // Rounding slack: residuals at 1e-10 of the data's size, the dual box at 1e-9.
  double scale = 1 + max_abs(y);
  e.certified = signs_ok && e.residual <= 1e-10 * scale && e.min_nonzero > margin_nz &&
                e.max_dual <= 1 - margin_dual + 1e-9;
  return e;
}

Exact exact_given_signs(const Vec &W, int k, int n, const Vec &y, const std::vector<int> &s,
                        double margin_nz, double margin_dual, const Vec *v_hint) {
  std::vector<int> zero;
  for (int i = 0; i < k; i++)
    if (s[i] == 0) zero.push_back(i);
  int k0 = (int)zero.size(), m = n + k0;
  // KKT matrix, column-major m x m, and right-hand side.
  Vec A((size_t)m * m, 0.0), rhs(m, 0.0);
  for (int j = 0; j < n; j++) A[(size_t)j * m + j] = 1.0;
  for (int z = 0; z < k0; z++)
    for (int j = 0; j < n; j++) {
      double w = W[(size_t)zero[z] * n + j];
      A[(size_t)(n + z) * m + j] = w;  // W0^T block
      A[(size_t)j * m + n + z] = w;    // W0 block
    }
  for (int j = 0; j < n; j++) {
    double v = y[j];
    for (int i = 0; i < k; i++) v -= W[(size_t)i * n + j] * s[i];
    rhs[j] = v;
  }
  std::vector<lapack_int> jpvt(m, 0);
  lapack_int rank;
  LAPACKE_dgelsy(LAPACK_COL_MAJOR, m, m, 1, A.data(), m, rhs.data(), m, jpvt.data(), 1e-13, &rank);
  Vec x(rhs.begin(), rhs.begin() + n);
  if (!v_hint) {  // the KKT system's own (minimum-norm) dual as the starting point
    Vec hint(k, 0.0);
    for (int z = 0; z < k0; z++) hint[zero[z]] = rhs[n + z];
    return certify(W, k, n, y, x, s, margin_nz, margin_dual, &hint);
  }
  return certify(W, k, n, y, x, s, margin_nz, margin_dual, v_hint);
}

Exact solve_exact(const Vec &W, int k, int n, const Vec &y, double margin_nz, double margin_dual) {
  Vec v;
  Vec x = dual_pg_solve(W, k, n, y, 2000000, &v);
  // The PG iterate is accurate to far better than 1e-7; classify rows at that level.
  return exact_given_signs(W, k, n, y, sign_pattern(W, k, n, x, 1e-7), margin_nz, margin_dual, &v);
}

Vec rowsplit_gradient(const Vec &W, int k, int n, const Vec &y, const Vec &x_clean,
                      const Vec &xstar, const std::vector<int> &s) {
  std::vector<int> zero, nonzero;
  for (int i = 0; i < k; i++) (s[i] == 0 ? zero : nonzero).push_back(i);
  int k0 = (int)zero.size();
  // W0^+ (n x k0) as the least-squares solution of W0 X = I_k0 (dgelsy, minimum norm).
  Vec pinv((size_t)n * std::max(k0, 1), 0.0);  // row-major n x k0
  Vec P((size_t)n * n, 0.0);                   // P_N, row-major
  for (int j = 0; j < n; j++) P[(size_t)j * n + j] = 1.0;
  if (k0 > 0) {
    int ld = std::max(n, k0);
    Vec A((size_t)k0 * n), B((size_t)ld * k0, 0.0);  // column-major
    for (int z = 0; z < k0; z++)
      for (int j = 0; j < n; j++) A[(size_t)j * k0 + z] = W[(size_t)zero[z] * n + j];
    for (int z = 0; z < k0; z++) B[(size_t)z * ld + z] = 1.0;
    std::vector<lapack_int> jpvt(n, 0);
    lapack_int rank;
    LAPACKE_dgelsy(LAPACK_COL_MAJOR, k0, n, k0, A.data(), k0, B.data(), ld, jpvt.data(), 1e-12,
                   &rank);
    for (int j = 0; j < n; j++)
      for (int z = 0; z < k0; z++) pinv[(size_t)j * k0 + z] = B[(size_t)z * ld + j];
    for (int a = 0; a < n; a++)  // P = I - W0^+ W0
      for (int b = 0; b < n; b++) {
        double v = 0;
        for (int z = 0; z < k0; z++) v += pinv[(size_t)a * k0 + z] * W[(size_t)zero[z] * n + b];
        P[(size_t)a * n + b] -= v;
      }
  }
  Vec g(n), q(n);
  for (int j = 0; j < n; j++) g[j] = xstar[j] - x_clean[j];
  for (int j = 0; j < n; j++) {
    double v = y[j];
    for (int i : nonzero) v -= W[(size_t)i * n + j] * s[i];
    q[j] = v;
  }
  Vec G((size_t)k * n, 0.0);
  // (7): grad_{W±} = -s (grad_x U)^T P_N, one row per nonzero index.
  Vec gP(n, 0.0);
  for (int b = 0; b < n; b++)
    for (int a = 0; a < n; a++) gP[b] += g[a] * P[(size_t)a * n + b];
  for (int i : nonzero)
    for (int j = 0; j < n; j++) G[(size_t)i * n + j] = -s[i] * gP[j];
  // (8): grad_{W0} = -(P_N (q g^T + g q^T) W0^+)^T, a k0 x n block.
  if (k0 > 0) {
    Vec M((size_t)n * n);
    for (int a = 0; a < n; a++)
      for (int b = 0; b < n; b++) M[(size_t)a * n + b] = q[a] * g[b] + g[a] * q[b];
    Vec PM((size_t)n * n, 0.0);
    for (int a = 0; a < n; a++)
      for (int c = 0; c < n; c++)
        for (int b = 0; b < n; b++)
          PM[(size_t)a * n + b] += P[(size_t)a * n + c] * M[(size_t)c * n + b];
    for (int a = 0; a < n; a++)
      for (int z = 0; z < k0; z++) {
        double v = 0;
        for (int b = 0; b < n; b++) v += PM[(size_t)a * n + b] * pinv[(size_t)b * k0 + z];
        G[(size_t)zero[z] * n + a] = -v;
      }
  }
  return G;
}

}  // namespace ref
