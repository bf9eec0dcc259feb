/* blorc-gpu grad: the gradient of the mean denoising loss over N pairs with respect to W. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu grad --transform W.npy --clean X.npy --noisy Y.npy --output G.npy\n"
    "                      [--gamma 1e-3] [--check-fd] [--tol 1e-12] [--max-iters 50000]\n"
    "                      [--rho 10] [--svd-tol 1e-8] [--device cpu|cuda|auto]\n"
    "                      [--fd-output G_fd.npy] [--operator SPEC [--masks M.npy]\n"
    "                      [--ridge R] [--operator-seed S] [--output-y GY.npy]\n"
    "                      [--output-a GA.npy]]\n"
    "Writes G (shape of W), the gradient of mean_t 1/2||x*_t(W) - x_t||^2 over the N pairs, by\n"
    "the closed form (sign threshold gamma) and prints the loss. --check-fd also prints the\n"
    "relative error against central finite differences (step 1e-6): 2 k n extra solves of all\n"
    "N pairs, so use it on small problems; --fd-output also saves that FD gradient.\n"
    "With --operator (as in blorc-gpu reconstruct) the lower level is argmin_x 1/2||A x - y||^2\n"
    "+ ||W x||_1 and --noisy holds the measurements y (N x m); samples without a unique\n"
    "minimiser are left out of the mean (and counted). --output-y writes each pair's dU/dy =\n"
    "A h for its own loss (N x m), --output-a the mean's dU/dA (m x n, a shared matrix).\n";

int cmd_grad(int argc, char **argv) {
  const char *C = "grad", *wpath = NULL, *cpath = NULL, *npath = NULL, *out = NULL, *dev_s = "auto";
  blorc_denoise_opts dopt = blorc_denoise_defaults();
  dopt.admm.tol = 1e-12;
  dopt.admm.max_iters = 50000;
  double gamma = 1e-3;
  int check_fd = 0;
  const char *fd_out = NULL, *out_y = NULL, *out_a = NULL;
  cli_operator copt = CLI_OPERATOR_INIT;
  static const struct option opts[] = {{"transform", 1, 0, 'w'},
                                       {"clean", 1, 0, 'x'},
                                       {"noisy", 1, 0, 'y'},
                                       {"output", 1, 0, 'o'},
                                       {"gamma", 1, 0, 'g'},
                                       {"check-fd", 0, 0, 'f'},
                                       {"fd-output", 1, 0, 'F'},
                                       {"help", 0, 0, 'h'},
                                       CLI_SOLVER_OPTIONS,
                                       CLI_OPERATOR_OPTIONS,
                                       {"output-y", 1, 0, 'Q'},
                                       {"output-a", 1, 0, 'P'},
                                       {0, 0, 0, 0}};
  int o;
  while ((o = cli_getopt(C, argc, argv, opts)) != -1) {
    switch (o) {
      case 'w': wpath = optarg; break;
      case 'x': cpath = optarg; break;
      case 'y': npath = optarg; break;
      case 'o': out = optarg; break;
      case 'g':
        if (cli_double(C, "gamma", optarg, -1e-300, &gamma)) return 2;
        break;
      case 'f': check_fd = 1; break;
      case 'F': fd_out = optarg, check_fd = 1; break;
      case 'Q': out_y = optarg; break;
      case 'P': out_a = optarg; break;
      case 'h': fputs(HELP, stdout); return 0;
      default:
        if (cli_solver_flag(C, o, optarg, &dopt, &dev_s) == 1) break;
        if (cli_operator_flag(C, o, optarg, &copt) == 1) break;
        return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if ((out_y || out_a) && strcmp(copt.spec, "identity") == 0)
    return cli_usage_error(C, "--output-y and --output-a go with --operator");
  if (!wpath || !cpath || !npath || !out)
    return cli_usage_error(C, "--transform, --clean, --noisy and --output are required");
  blorc_device dev;
  if (cli_device(C, dev_s, &dev)) return 2;
  blorc_error e = {0};
  blorc_array W = {0}, X = {0}, Y = {0}, M = {0};
  blorc_operator op = {0};
  blorc_status st = cli_load_matrix("--transform", wpath, 0, &W, &e);
  int m = 0;
  if (!st) st = cli_operator_rows(&copt, (int)W.cols, &m, &e);
  if (!st) st = cli_load_pairs("--clean", cpath, "--noisy", npath, (int)W.cols, m, &X, &Y, &e);
  if (!st) st = cli_operator_open(&copt, (int)W.cols, X.rows, &op, &M, &e);
  int n = (int)W.cols, k = (int)W.rows;
  size_t N = X.rows, kn = (size_t)k * n;
  int cap = N < 256 ? (int)N : 256;
  double *G = malloc(kn * sizeof(double)), *Wp = malloc(kn * sizeof(double)), loss = 0;
  double *Gfd = malloc(kn * sizeof(double));
  size_t *idx = malloc((N ? N : 1) * sizeof(size_t));
  blorc_backend *b = NULL;
  if (!st && (!G || !Wp || !Gfd || !idx)) st = blorc_fail(&e, BLORC_ENOMEM, "out of memory");
  for (size_t i = 0; !st && i < N; i++) idx[i] = i;
  if (!st) st = blorc_backend_create(dev, n, k, cap, &b, &e);
  if (!st) st = blorc_operator_load(b, &op, N, X.data, Y.data, M.data, &e);
  if (!st) st = blorc_write(b, BLORC_BUF_W, W.data, kn, &e);
  double *Gy = NULL, *GA = NULL;
  size_t used = N;
  if (!st && out_y && !(Gy = malloc(N * (size_t)m * sizeof(double))))
    st = blorc_fail(&e, BLORC_ENOMEM, "out of memory for dU/dy");
  if (!st && out_a && op.kind != BLORC_OP_MATRIX)
    st = blorc_fail(&e, BLORC_EINVAL, "--output-a: the operator %s is no shared matrix", copt.spec);
  if (!st && out_a && !(GA = malloc((size_t)m * n * sizeof(double))))
    st = blorc_fail(&e, BLORC_ENOMEM, "out of memory for dU/dA");
  if (!st) st = blorc_objective_full(b, cap, idx, N, &dopt, gamma, &loss, G, Gy, GA, &used, &e);
  if (!st) st = blorc_npy_save(out, G, 2, (size_t)k, (size_t)n, &e);
  if (!st && Gy) st = blorc_npy_save(out_y, Gy, 2, N, (size_t)m, &e);
  /* GA is dU/dA^T column-major, i.e. dU/dA row-major m x n. */
  if (!st && GA) st = blorc_npy_save(out_a, GA, 2, (size_t)m, (size_t)n, &e);
  if (!st && used == N)
    printf("loss %.12g (mean of 1/2||x* - x||^2 over %zu pairs); gradient written to %s\n", loss, N,
           out);
  else if (!st)
    printf(
        "loss %.12g (mean of 1/2||x* - x||^2 over the %zu of %zu pairs with a unique "
        "minimiser); gradient written to %s\n",
        loss, used, N, out);
  free(Gy), free(GA);
  if (!st && check_fd) {
    const double h = 1e-6;
    double num = 0, den = 0;
    memcpy(Wp, W.data, kn * sizeof(double));
    for (size_t i = 0; !st && i < kn; i++) {
      double lp = 0, lm = 0;
      Wp[i] = W.data[i] + h;
      st = blorc_write(b, BLORC_BUF_W, Wp, kn, &e);
      if (!st) st = blorc_objective(b, cap, idx, N, &dopt, gamma, &lp, NULL, &e);
      Wp[i] = W.data[i] - h;
      if (!st) st = blorc_write(b, BLORC_BUF_W, Wp, kn, &e);
      if (!st) st = blorc_objective(b, cap, idx, N, &dopt, gamma, &lm, NULL, &e);
      Wp[i] = W.data[i];
      double fd = (lp - lm) / (2 * h);
      Gfd[i] = fd;
      num += (G[i] - fd) * (G[i] - fd), den += fd * fd;
    }
    if (!st)
      printf(
          "finite-difference check: relative error %.3g (||G - G_fd|| / ||G_fd||, step %g, %zu "
          "entries)\n",
          sqrt(num / fmax(den, 1e-300)), h, kn);
  }
  if (!st && fd_out) st = blorc_npy_save(fd_out, Gfd, 2, (size_t)k, (size_t)n, &e);
  blorc_backend_destroy(b);
  blorc_array_free(&W), blorc_array_free(&X), blorc_array_free(&Y), blorc_array_free(&M);
  blorc_operator_free(&op);
  free(G), free(Wp), free(Gfd), free(idx);
  return st ? cli_fail(C, &e) : 0;
}
