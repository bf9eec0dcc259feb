/* Synthetic training data: the paper's generators (design.md section 6). Signals are
 * written row by row: clean and noisy are count x n, row-major. */
#ifndef BLORC_DATA_H
#define BLORC_DATA_H

#include <stddef.h>

#include "blorc/error.h"
#include "blorc/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum blorc_data_kind {
  BLORC_DATA_PIECEWISE, /* piecewise constant: a jump at each index with probability 0.1,
                           piece heights uniform in [0, 1) */
  BLORC_DATA_DCT        /* DCT-sparse: each orthonormal-DCT coefficient nonzero with
                           probability 0.1, uniform in [-1, 1]; x = inverse DCT */
} blorc_data_kind;

/* Draws count clean signals of length n and adds Gaussian noise of standard deviation
 * sigma to make the noisy ones, using rng (advanced). clean and noisy hold count * n
 * doubles each. BLORC_EINVAL for n < 1, count < 1 or sigma < 0. */
blorc_status blorc_generate(blorc_data_kind kind, int n, size_t count, double sigma, blorc_rng *rng,
                            double *clean, double *noisy, blorc_error *err);

/* The paper's 2D experiment: two 256 x 256 images, vertical stripes and diagonal stripes
 * (period 16 pixels, values 0 and 1), noise sigma added to each image, then every side x side
 * patch at stride 7 from both (clean and noisy alike), vectorised row by row (n = side^2).
 * random_phase: each image's stripes are shifted by a phase drawn from rng (0..31 pixels), so
 * that data sets of different seeds hold different images; 0 keeps the paper's images, the
 * same for every seed (only the noise changes). blorc_stripes_count gives the number of
 * patches; clean and noisy hold count * n each. */
size_t blorc_stripes_count(int side);
blorc_status blorc_generate_stripes(int side, double sigma, int random_phase, blorc_rng *rng,
                                    double *clean, double *noisy, blorc_error *err);

/* count (<= blorc_stripes_count(side)) of those patches in a random order drawn from rng
 * (after the noise), so both images appear in any subset; clean and noisy hold count * n. */
blorc_status blorc_sample_stripes(int side, double sigma, int random_phase, blorc_rng *rng,
                                  size_t count, double *clean, double *noisy, blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
