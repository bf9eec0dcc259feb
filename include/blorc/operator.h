/* Forward operators as a run describes them (issue 16, design.md section 7): the spec text
 * (identity, inpaint:FRACTION, cs:M, blur:SIGMA, blur2d:SIGMA or an m x n .npy file), the
 * matrices it stands for, per-sample inpainting masks, and measurements y = A x + noise. */
#ifndef BLORC_OPERATOR_H
#define BLORC_OPERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "blorc/backend.h"
#include "blorc/error.h"
#include "blorc/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct blorc_operator {
  blorc_operator_kind kind; /* IDENTITY, MATRIX (cs, blur, blur2d, file) or MASK (inpaint) */
  int n, m;                 /* signal length and measurement length */
  double *A;                /* MATRIX: m x n row-major (malloc'ed); NULL otherwise */
  double missing;           /* MASK: probability that an entry is missing */
  double ridge;             /* ridge/2 ||x||^2 added to the lower level */
  char desc[600];           /* one line for logs: what the operator is */
} blorc_operator;

/* Builds the operator a spec names for signals of length n:
 *   identity         denoising (ridge must be 0)
 *   inpaint:F        per-sample masks, each entry missing with probability F (0 <= F < 1)
 *   cs:M             compressed sensing: an M x n Gaussian matrix, entries N(0, 1/M), drawn
 *                    from seed
 *   blur:S           1D Gaussian blur of width S pixels (taps to 3 S, each row normalised to
 *                    sum 1 over the taps inside the signal)
 *   blur2d:S         the same on sqrt(n) x sqrt(n) patches (row-major), separable
 *   PATH.npy         a float64 m x n matrix
 * Bad specs are BLORC_EINVAL naming the text and what was expected; `where` prefixes the
 * message (a flag or config key). Free with blorc_operator_free. */
blorc_status blorc_operator_parse(const char *spec, int n, uint64_t seed, double ridge,
                                  const char *where, blorc_operator *op, blorc_error *err);
void blorc_operator_free(blorc_operator *op);

/* MASK: N x n masks (1 observed, 0 missing) drawn from rng; every row keeps at least one
 * observed entry. */
void blorc_operator_draw_masks(const blorc_operator *op, size_t N, blorc_rng *rng, double *masks);

/* Measurements of the N clean signals X (N x n): Y (N x m) = A x + sigma e with e standard
 * normal from rng; for MASK, y = mask .* (x + sigma e) (missing entries 0). */
void blorc_operator_measure(const blorc_operator *op, size_t N, const double *X,
                            const double *masks, double sigma, blorc_rng *rng, double *Y);

/* Generated data under op, as 'train' and 'data' make them alike: masks (MASK) drawn from
 * mask_seed, then Y = measurements of X with noise sigma from a stream of data_seed of its
 * own (not the one the clean signals and the denoising noise came from). */
void blorc_operator_simulate(const blorc_operator *op, size_t N, const double *X, double sigma,
                             uint64_t data_seed, uint64_t mask_seed, double *Y, double *masks);

/* Checks N x n masks from a file: 0 or 1 only, at least one observed entry per row. `what`
 * names the file in the message. */
blorc_status blorc_operator_check_masks(const double *masks, size_t N, int n, const char *what,
                                        blorc_error *err);

/* Gives the operator to a backend (blorc_set_operator; the data set is dropped). */
blorc_status blorc_operator_install(blorc_backend *b, const blorc_operator *op, blorc_error *err);

/* Installs the operator, the data set (X may be NULL, Y is N x m) and, for MASK, the masks:
 * the order the backend needs. */
blorc_status blorc_operator_load(blorc_backend *b, const blorc_operator *op, size_t N,
                                 const double *X, const double *Y, const double *masks,
                                 blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
