/* Internal: the data-parallel group a training run belongs to (issue 18). With MPI
 * (BLORC_MPI) and MPI initialised by the program, MPI_COMM_WORLD's ranks; otherwise one rank.
 * Every collective here is called by all ranks in the same order; each reduces in rank order
 * (gather to rank 0, sum there, broadcast), so results do not depend on timing. */
#ifndef BLORC_DIST_H
#define BLORC_DIST_H

#include <stddef.h>

#include "blorc/error.h"

typedef struct blorc_dist {
  int rank, size;             /* this rank and the number of ranks */
  int local_rank, local_size; /* the same among the ranks of this node (GPU and core choice) */
} blorc_dist;

/* The group of this process: MPI_COMM_WORLD when MPI is built in and initialised, else
 * rank 0 of 1. */
void blorc_dist_init(blorc_dist *d);

/* Every rank passes its status (err holds its message when st != OK). All ranks return the
 * status and message of the lowest rank that failed (prefixed "rank R: " when size > 1), or
 * BLORC_OK when none did: a rank that fails makes every rank stop with its message. */
blorc_status blorc_dist_agree(const blorc_dist *d, blorc_status st, blorc_error *err);

/* v (count doubles) becomes the sum over ranks of v, added in rank order on rank 0 and
 * broadcast: bit-identical on every rank and from run to run. */
blorc_status blorc_dist_sum(const blorc_dist *d, double *v, size_t count, blorc_error *err);

/* Rank 0 receives every rank's `mine` (counts[r] doubles from rank r, rank order) into all
 * (sum of counts); other ranks pass all = NULL. */
blorc_status blorc_dist_gather(const blorc_dist *d, const double *mine, const size_t *counts,
                               double *all, blorc_error *err);

/* Broadcasts count doubles from rank 0. */
blorc_status blorc_dist_bcast(const blorc_dist *d, double *v, size_t count, blorc_error *err);

/* The block of [0, total) that rank r owns: [lo, hi), sizes differing by one at most. */
void blorc_dist_block(size_t total, int rank, int size, size_t *lo, size_t *hi);

#endif
