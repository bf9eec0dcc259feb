/* The data-parallel group (issue 18): MPI when built in (BLORC_MPI), one rank otherwise. The
 * messages are small (a k x n gradient and a few counts per minibatch), so every reduction
 * gathers to rank 0 and sums there in rank order, which no MPI_Allreduce promises. */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BLORC_MPI
#include <mpi.h>
#endif

void blorc_dist_block(size_t total, int rank, int size, size_t *lo, size_t *hi) {
  *lo = total * (size_t)rank / (size_t)size;
  *hi = total * (size_t)(rank + 1) / (size_t)size;
}

#ifndef BLORC_MPI

void blorc_dist_init(blorc_dist *d) {
  d->rank = d->local_rank = 0;
  d->size = d->local_size = 1;
}

blorc_status blorc_dist_agree(const blorc_dist *d, blorc_status st, blorc_error *err) {
  (void)d, (void)err;
  return st;
}

blorc_status blorc_dist_sum(const blorc_dist *d, double *v, size_t count, blorc_error *err) {
  (void)d, (void)v, (void)count, (void)err;
  return BLORC_OK;
}

blorc_status blorc_dist_gather(const blorc_dist *d, const double *mine, const size_t *counts,
                               double *all, blorc_error *err) {
  (void)d, (void)err;
  if (all != mine) memcpy(all, mine, counts[0] * sizeof(double));
  return BLORC_OK;
}

blorc_status blorc_dist_bcast(const blorc_dist *d, double *v, size_t count, blorc_error *err) {
  (void)d, (void)v, (void)count, (void)err;
  return BLORC_OK;
}

#else

static int mpi_active(void) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

void blorc_dist_init(blorc_dist *d) {
  d->rank = d->local_rank = 0;
  d->size = d->local_size = 1;
  if (!mpi_active()) return;
  MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &d->size);
  MPI_Comm node;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node) ==
      MPI_SUCCESS) {
    MPI_Comm_rank(node, &d->local_rank);
    MPI_Comm_size(node, &d->local_size);
    MPI_Comm_free(&node);
  }
}

/* MPI's own failures: its error handler aborts the job by default (MPI_ERRORS_ARE_FATAL),
 * which also stops every rank; a returned code is reported like ours. */
static blorc_status mpi_fail(int rc, const char *what, blorc_error *err) {
  if (rc == MPI_SUCCESS) return BLORC_OK;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return blorc_fail(err, BLORC_EDEVICE, "MPI %s: %s", what, text);
}

/* Up to 2^31 - 1 elements per call (MPI's int counts); the messages here are far smaller. */
static int icount(size_t count) {
  return count > 2147483647u ? -1 : (int)count;
}

blorc_status blorc_dist_agree(const blorc_dist *d, blorc_status st, blorc_error *err) {
  if (d->size == 1) return st;
  int mine = st != BLORC_OK ? d->rank : d->size, first = d->size;
  int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "allreduce", err);
  if (first == d->size) return BLORC_OK;
  blorc_error local = {0};
  if (!err) err = &local;
  struct {
    int code;
    char msg[sizeof err->msg];
  } m = {0};
  if (d->rank == first) {
    m.code = st;
    snprintf(m.msg, sizeof m.msg, "rank %d: %.490s", d->rank, err->msg); /* may cut the end */
  }
  rc = MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "broadcast", err);
  err->code = (blorc_status)m.code;
  memcpy(err->msg, m.msg, sizeof err->msg);
  return (blorc_status)m.code;
}

blorc_status blorc_dist_sum(const blorc_dist *d, double *v, size_t count, blorc_error *err) {
  if (d->size == 1) return BLORC_OK;
  int c = icount(count);
  if (c < 0) return blorc_fail(err, BLORC_EINVAL, "MPI sum of %zu values: too many", count);
  double *all = d->rank == 0 ? malloc((size_t)d->size * count * sizeof(double)) : NULL;
  int ok = d->rank != 0 || all;
  blorc_status st = blorc_dist_agree(
      d, ok ? BLORC_OK : blorc_fail(err, BLORC_ENOMEM, "out of memory for the reduction"), err);
  if (st) {
    free(all);
    return st;
  }
  int rc = MPI_Gather(v, c, MPI_DOUBLE, all, c, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rc == MPI_SUCCESS && d->rank == 0) {
    for (size_t i = 0; i < count; i++) { /* rank order, one value at a time */
      double s = all[i];
      for (int r = 1; r < d->size; r++) s += all[(size_t)r * count + i];
      v[i] = s;
    }
  }
  free(all);
  if (rc == MPI_SUCCESS) rc = MPI_Bcast(v, c, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return mpi_fail(rc, "reduction", err);
}

/* MPI_Gatherv's counts and displacements as ints. */
static blorc_status displacements(const blorc_dist *d, const size_t *counts, int **cnt, int **disp,
                                  blorc_error *err) {
  *cnt = malloc((size_t)d->size * sizeof(int));
  *disp = malloc((size_t)d->size * sizeof(int));
  if (!*cnt || !*disp) return blorc_fail(err, BLORC_ENOMEM, "out of memory for MPI counts");
  size_t off = 0;
  for (int r = 0; r < d->size; r++) {
    if (icount(counts[r]) < 0 || icount(off) < 0)
      return blorc_fail(err, BLORC_EINVAL, "MPI gather of %zu values: too many", off + counts[r]);
    (*cnt)[r] = (int)counts[r];
    (*disp)[r] = (int)off;
    off += counts[r];
  }
  return BLORC_OK;
}

blorc_status blorc_dist_gather(const blorc_dist *d, const double *mine, const size_t *counts,
                               double *all, blorc_error *err) {
  if (d->size == 1) {
    if (all != mine) memcpy(all, mine, counts[0] * sizeof(double));
    return BLORC_OK;
  }
  int *cnt = NULL, *disp = NULL;
  blorc_status st = blorc_dist_agree(d, displacements(d, counts, &cnt, &disp, err), err);
  int rc = st ? MPI_SUCCESS
              : MPI_Gatherv(mine, cnt[d->rank], MPI_DOUBLE, all, cnt, disp, MPI_DOUBLE, 0,
                            MPI_COMM_WORLD);
  free(cnt), free(disp);
  return st ? st : mpi_fail(rc, "gather", err);
}

blorc_status blorc_dist_bcast(const blorc_dist *d, double *v, size_t count, blorc_error *err) {
  if (d->size == 1) return BLORC_OK;
  int c = icount(count);
  if (c < 0) return blorc_fail(err, BLORC_EINVAL, "MPI broadcast of %zu values: too many", count);
  return mpi_fail(MPI_Bcast(v, c, MPI_DOUBLE, 0, MPI_COMM_WORLD), "broadcast", err);
}

#endif
