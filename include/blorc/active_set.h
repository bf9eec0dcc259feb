/* Per-sample arithmetic of the certificate and the active-set polish (design.md section 7),
 * shared by the CPU backend and the CUDA kernels (one GPU thread per sample runs these), so
 * both backends take the same decisions from the same numbers.
 *
 * For one sample, with k rows: s the pattern (0 on the zero set Z), v = W x*, ac the
 * certificate dual (on Z: the dual of the closed form nearest to the polish's current dual;
 * off Z: unused), rn the row norms ||W_i||, yscale = max(||y||, 1). */
#ifndef BLORC_ACTIVE_SET_H
#define BLORC_ACTIVE_SET_H

#include <math.h>

#include "blorc/elementwise.h"

/* Columns of BLORC_BUF_CERT, per sample. */
enum {
  BLORC_CERT_OK = 0,       /* 1 when every check below passed */
  BLORC_CERT_STATIONARITY, /* ||x* - y + W^T (s + a)|| / max(||y||, 1) */
  BLORC_CERT_PRIMAL,       /* max over Z of |W_i x*| / (||W_i|| max(||y||, 1)); 0 if Z empty */
  BLORC_CERT_DUAL_MARGIN,  /* 1 - max over Z of |a_i|; 1 if Z is empty */
  BLORC_CERT_SIGN_MARGIN,  /* min over rows off Z of s_i W_i x* / (||W_i|| max(||y||, 1));
                              1 if every row is in Z */
  BLORC_CERT_VIOLATIONS,   /* rows that fail their check */
  BLORC_CERT_COLUMNS
};

/* The checks with tolerance tol: stationarity and primal <= tol, |a_i| <= 1 + tol on Z,
 * s_i W_i x* >= -tol ||W_i|| max(||y||, 1) off Z. stat is the stationarity residual norm. */
BLORC_HD void blorc_certificate(int k, const double *s, const double *v, const double *ac,
                                const double *rn, double yscale, double stat, double tol,
                                double *out) {
  double primal = 0, amax = 0, smin = 1;
  int bad = 0, zeros = 0;
  for (int i = 0; i < k; i++) {
    double sc = rn[i] * yscale;
    if (s[i] == 0.0) {
      double p = sc > 0 ? fabs(v[i]) / sc : 0.0;
      primal = p > primal ? p : primal;
      amax = fabs(ac[i]) > amax ? fabs(ac[i]) : amax;
      bad += p > tol || fabs(ac[i]) > 1.0 + tol;
      zeros++;
    } else {
      double m = sc > 0 ? s[i] * v[i] / sc : 0.0;
      smin = m < smin ? m : smin;
      bad += m < -tol;
    }
  }
  double st = stat / yscale;
  out[BLORC_CERT_STATIONARITY] = st;
  out[BLORC_CERT_PRIMAL] = primal;
  out[BLORC_CERT_DUAL_MARGIN] = zeros ? 1.0 - amax : 1.0;
  out[BLORC_CERT_SIGN_MARGIN] = smin;
  out[BLORC_CERT_VIOLATIONS] = bad;
  out[BLORC_CERT_OK] = bad == 0 && st <= tol;
}

/* The polish's current dual before its first round: ADMM's dual lambda (= rho u, inside the
 * box [-1, 1] up to rounding) on Z, the signs off Z. */
BLORC_HD void blorc_polish_start(int k, const double *s, const double *lambda, double *acur) {
  for (int i = 0; i < k; i++)
    acur[i] = s[i] != 0.0 ? s[i] : lambda[i] > 1.0 ? 1.0 : lambda[i] < -1.0 ? -1.0 : lambda[i];
}

/* The polish's first round for a sample the certificate rejected: the pattern of ADMM's z,
 * whose zeros are exact (a threshold on W x marks rows of a stalled ADMM nonzero with
 * arbitrary signs), with its dual lambda. Returns the number of rows changed. */
BLORC_HD int blorc_polish_from_admm(int k, double *s, const double *z, const double *lambda,
                                    double *acur) {
  int moved = 0;
  for (int i = 0; i < k; i++) {
    double si = z[i] > 0 ? 1.0 : z[i] < 0 ? -1.0 : 0.0;
    moved += si != s[i];
    s[i] = si;
  }
  blorc_polish_start(k, s, lambda, acur);
  return moved;
}

/* One round of a primal active-set method on the dual box QP (min 1/2||y - W^T a||^2 over
 * |a_i| <= 1: rows with |a_i| = 1 are off Z with s_i = a_i, the rest are Z). acur is kept
 * inside the box. If the closed form's dual ac leaves the box on Z, step from acur towards
 * ac as far as the box allows and move the rows that reach it off Z with their sign (moving
 * every violator at once, as a primal-dual active set would, cycles when rows are nearly
 * dependent); otherwise take ac and move into Z the rows off Z whose sign is wrong. Returns
 * the number of rows moved (0: nothing to change). */
BLORC_HD int blorc_polish_step(int k, double *s, double *acur, const double *ac, const double *v,
                               const double *rn, double yscale, double tol) {
  double t = 1.0;
  int over = 0, arg = -1;
  for (int i = 0; i < k; i++) {
    if (s[i] != 0.0 || !(fabs(ac[i]) > 1.0 + tol)) continue;
    double d = ac[i] - acur[i];
    double ti = ((d > 0 ? 1.0 : -1.0) - acur[i]) / d; /* where row i reaches the box */
    ti = ti < 0 ? 0 : ti;
    if (ti < t || arg < 0) t = ti, arg = i;
    over++;
  }
  int moved = 0;
  if (over) {
    for (int i = 0; i < k; i++) {
      if (s[i] != 0.0) continue;
      double a = acur[i] + t * (ac[i] - acur[i]);
      if (i == arg || fabs(a) >= 1.0 - 1e-12) {
        s[i] = a > 0 ? 1.0 : -1.0;
        acur[i] = s[i];
        moved++;
      } else {
        acur[i] = a;
      }
    }
    return moved;
  }
  for (int i = 0; i < k; i++) {
    if (s[i] == 0.0) {
      acur[i] = ac[i];
    } else if (s[i] * v[i] < -tol * rn[i] * yscale) {
      s[i] = 0.0; /* acur[i] stays at the bound it had: inside the box */
      moved++;
    }
  }
  return moved;
}

#endif
