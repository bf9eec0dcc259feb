// Independent float64 references for a forward operator A (design.md section 7): nothing here
// calls the library. A is m x n row-major; B = A^T A + ridge I.
#pragma once
#include <vector>

#include "reference.h"

namespace ref {

struct OpExact {
  Vec x;               // the minimiser for the pattern
  Vec v0;              // duals of the zero rows (minimum-norm when W0's rows are dependent)
  bool unique;         // [A; sqrt(ridge) I; W0] has full column rank: x is unique
  bool certified;      // unique, stationary, with the margins asked for
  double min_nonzero;  // min s_i W_i x over the nonzero rows
  double max_dual;     // max |v0_i|
};

// The KKT system of min 1/2||A x - y||^2 + ridge/2 ||x||^2 + ||W x||_1 for the pattern s:
//   [B W0^T; W0 0] [x; v0] = [A^T y - W±^T s; 0]
// by complete orthogonal decomposition (LAPACK dgelsy); uniqueness from the rank of the
// stacked [A; sqrt(ridge) I; W0] (dgelsy again). certified: s_i W_i x >= margin_nz off Z,
// |v0_i| <= 1 - margin_dual on Z.
OpExact op_exact_given_signs(const Vec &W, int k, int n, const Vec &A, int m, double ridge,
                             const Vec &y, const std::vector<int> &s, double margin_nz,
                             double margin_dual);

// Chambolle-Pock primal-dual iterations on the same problem (K = W, the l1 norm's conjugate a
// box, the quadratic's prox by an explicit inverse of I + tau B), then the pattern of W x
// at the smallest threshold (1e-10 up to 1e-3) whose op_exact_given_signs solution is certified.
// Independent of ADMM and of every QR/SVD of the library.
OpExact op_solve(const Vec &W, int k, int n, const Vec &A, int m, double ridge, const Vec &y,
                 int iters);

}  // namespace ref
