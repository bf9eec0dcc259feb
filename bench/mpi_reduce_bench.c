/* The per-minibatch cost of data-parallel training's reduction (issue 18): the status agreement
 * and the rank-ordered sum (src/dist.c) of one k x n gradient plus three counts, as
 * src/train.c calls them, timed over many repetitions on every rank (rank 0 prints medians).
 *   mpirun -np P build/mpi/bench/blorc_mpi_reduce_bench [n ...]   (k = n; default 64 128 256) */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../src/dist.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  blorc_dist d;
  blorc_dist_init(&d);
  int sizes[16] = {64, 128, 256}, ns = 3;
  if (argc > 1) {
    ns = 0;
    for (int i = 1; i < argc && ns < 16; i++) sizes[ns++] = atoi(argv[i]);
  }
  const int reps = 2000;
  double *t = malloc(reps * sizeof(double));
  if (d.rank == 0)
    printf("ranks %d: per minibatch, median of %d: agree + sum of k n + 3 doubles\n", d.size, reps);
  for (int s = 0; s < ns; s++) {
    size_t count = (size_t)sizes[s] * sizes[s] + 3;
    double *v = malloc(count * sizeof(double));
    blorc_error e = {0};
    for (int r = -100; r < reps; r++) { /* the first 100: warm-up */
      for (size_t i = 0; i < count; i++) v[i] = 1e-3 * (double)(i % 97) + d.rank;
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = now_s();
      if (blorc_dist_agree(&d, BLORC_OK, &e) || blorc_dist_sum(&d, v, count, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
      if (r >= 0) t[r] = now_s() - t0;
    }
    qsort(t, reps, sizeof(double), cmp);
    if (d.rank == 0)
      printf("n = k = %d: %zu bytes, median %.1f us, 90th percentile %.1f us\n", sizes[s],
             count * sizeof(double), 1e6 * t[reps / 2], 1e6 * t[reps * 9 / 10]);
    free(v);
  }
  free(t);
  MPI_Finalize();
  return 0;
}
