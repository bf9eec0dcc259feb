/* blorc-gpu eval: PSNR of the noisy input, a tuned baseline transform and W. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu eval --transform W.npy --clean X.npy --noisy Y.npy\n"
    "                      [--baseline tv|dct|tv2d|none] [--tune-clean X2.npy --tune-noisy "
    "Y2.npy]\n"
    "                      [--csv] [--tol 1e-10] [--max-iters 20000] [--rho 10]\n"
    "                      [--svd-tol 1e-8] [--device cpu|cuda|auto]\n"
    "                      [--operator SPEC [--masks M.npy] [--tune-masks M2.npy] [--ridge R]\n"
    "                      [--operator-seed S]]\n"
    "Prints PSNR (peak 1; the mean over signals with its standard error, and the PSNR of the\n"
    "mean squared error over all of them with its standard error) of the noisy signals, of\n"
    "denoising with the baseline transform scaled by beta, and of denoising with W as it is.\n"
    "beta is tuned for each criterion separately (golden-section search on the tuning pairs:\n"
    "--tune-* if given, else the evaluation pairs themselves, which flatters the baseline):\n"
    "one beta for the mean PSNR, one for the PSNR of the mean squared error. Then W minus the\n"
    "baseline, paired signal by signal, each criterion against the baseline tuned for it (the\n"
    "standard errors are of the paired differences, far smaller than either one's when both\n"
    "make similar errors). --csv prints one machine-readable row.\n"
    "With --operator (as in blorc-gpu reconstruct) --noisy holds measurements y (N x m), the\n"
    "baseline is tuned for the same operator, and the noisy input has no PSNR of its own.\n";

int cmd_eval(int argc, char **argv) {
  const char *C = "eval", *wpath = NULL, *cpath = NULL, *npath = NULL, *base = "tv",
             *dev_s = "auto";
  const char *tcpath = NULL, *tnpath = NULL, *tmpath = NULL;
  int csv = 0;
  cli_operator copt = CLI_OPERATOR_INIT;
  blorc_denoise_opts dopt = blorc_denoise_defaults();
  static const struct option opts[] = {
      {"transform", 1, 0, 'w'}, {"clean", 1, 0, 'x'},      {"noisy", 1, 0, 'y'},
      {"baseline", 1, 0, 'b'},  {"tune-clean", 1, 0, 'X'}, {"tune-noisy", 1, 0, 'Y'},
      {"csv", 0, 0, 'c'},       {"help", 0, 0, 'h'},       {"tune-masks", 1, 0, 'M'},
      CLI_SOLVER_OPTIONS,       CLI_OPERATOR_OPTIONS,      {0, 0, 0, 0}};
  int o;
  while ((o = cli_getopt(C, argc, argv, opts)) != -1) {
    switch (o) {
      case 'w': wpath = optarg; break;
      case 'x': cpath = optarg; break;
      case 'y': npath = optarg; break;
      case 'b': base = optarg; break;
      case 'X': tcpath = optarg; break;
      case 'Y': tnpath = optarg; break;
      case 'c': csv = 1; break;
      case 'M': tmpath = optarg; break;
      case 'h': fputs(HELP, stdout); return 0;
      default:
        if (cli_solver_flag(C, o, optarg, &dopt, &dev_s) == 1) break;
        if (cli_operator_flag(C, o, optarg, &copt) == 1) break;
        return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if (!wpath || !cpath || !npath)
    return cli_usage_error(C, "--transform, --clean and --noisy are required");
  if (!tcpath != !tnpath) return cli_usage_error(C, "--tune-clean and --tune-noisy go together");
  int use_base = strcmp(base, "none") != 0;
  blorc_transform_kind kind = BLORC_TRANSFORM_FD1;
  blorc_error e = {0};
  if (use_base && (!strcmp(base, "identity") || blorc_transform_parse(base, &kind, &e)))
    return cli_usage_error(C, "--baseline '%s': expected tv, dct, tv2d or none", base);
  blorc_device dev;
  if (cli_device(C, dev_s, &dev)) return 2;
  blorc_array W = {0}, X = {0}, Y = {0}, TX = {0}, TY = {0}, M = {0}, TM = {0};
  blorc_operator op = {0};
  blorc_status st = cli_load_matrix("--transform", wpath, 0, &W, &e);
  /* The operator (and its width m) before the measurements; masks once N is known. */
  int m = 0;
  if (!st) st = cli_operator_rows(&copt, (int)W.cols, &m, &e);
  if (!st) st = cli_load_pairs("--clean", cpath, "--noisy", npath, (int)W.cols, m, &X, &Y, &e);
  if (!st) st = cli_operator_open(&copt, (int)W.cols, X.rows, &op, &M, &e);
  if (!st && tcpath)
    st = cli_load_pairs("--tune-clean", tcpath, "--tune-noisy", tnpath, (int)W.cols, m, &TX, &TY,
                        &e);
  if (!st && tcpath && op.kind == BLORC_OP_MASK && !tmpath)
    st =
        blorc_fail(&e, BLORC_EINVAL,
                   "--operator %s with --tune-clean needs --tune-masks (the tuning signals' masks)",
                   copt.spec);
  if (!st && tcpath && op.kind == BLORC_OP_MASK)
    st = cli_load_masks("--tune-masks", tmpath, (int)W.cols, TX.rows, &TM, &e);
  const blorc_operator *opp = op.kind == BLORC_OP_IDENTITY ? NULL : &op;
  int has_noisy = op.kind == BLORC_OP_IDENTITY;
  int n = (int)W.cols, kb = 0;
  double *T = NULL, *TB = NULL, beta = NAN, beta_mse = NAN, tuned = NAN, *XW = NULL, *XB = NULL;
  blorc_psnr_stats noisy = {0, 0, 0, 0}, learned = {0, 0, 0, 0}, none = {NAN, NAN, NAN, NAN};
  blorc_psnr_stats baseline = none, baseline_mse = none, diff = none, diff_mse = none;
  size_t N = X.rows;
  /* Denoised signals, kept for the paired comparison with the baseline. */
  if (!st && use_base &&
      (!(XW = malloc(N * n * sizeof(double))) || !(XB = malloc(N * n * sizeof(double)))))
    st = blorc_fail(&e, BLORC_ENOMEM, "out of memory for %zu signals", N);
  if (!st) {
    if (has_noisy)
      noisy = blorc_psnr_of(X.data, Y.data, N, n);
    else
      noisy = none;
    st = blorc_eval_psnr(dev, opp, M.data, W.data, (int)W.rows, n, X.data, Y.data, N, &dopt,
                         &learned, XW, &e);
  }
  if (!st && use_base) {
    st = blorc_transform_rows(kind, n, &kb, &e);
    if (!st && (!(T = malloc((size_t)kb * n * sizeof(double))) ||
                !(TB = malloc((size_t)kb * n * sizeof(double)))))
      st = blorc_fail(&e, BLORC_ENOMEM, "out of memory");
    if (!st) st = blorc_transform_fill(kind, n, 1.0, T, &e);
    const blorc_array *tx = tcpath ? &TX : &X, *ty = tcpath ? &TY : &Y, *tm = tcpath ? &TM : &M;
    /* One beta per criterion, each baseline judged by the criterion it was tuned for. */
    for (int crit = 0; crit < 2 && !st; crit++) {
      double *b = crit ? &beta_mse : &beta;
      st = blorc_tune_beta(dev, opp, tm->data, T, kb, n, tx->data, ty->data, tx->rows, &dopt,
                           crit ? BLORC_TUNE_MSE : BLORC_TUNE_MEAN_PSNR, b, &tuned, &e);
      for (size_t i = 0; !st && i < (size_t)kb * n; i++) TB[i] = *b * T[i];
      blorc_psnr_stats *bs = crit ? &baseline_mse : &baseline;
      if (!st)
        st = blorc_eval_psnr(dev, opp, M.data, TB, kb, n, X.data, Y.data, N, &dopt, bs, XB, &e);
      if (!st) *(crit ? &diff_mse : &diff) = blorc_psnr_paired(X.data, XW, XB, N, n);
    }
  }
  if (!st) {
    if (csv) {
      printf(
          "signals,noisy_psnr,noisy_se,baseline,beta,baseline_psnr,baseline_se,learned_psnr,"
          "learned_se,noisy_psnr_agg,baseline_psnr_agg,learned_psnr_agg,learned_minus_baseline,"
          "learned_minus_baseline_se,beta_mse,baseline_mse_psnr,baseline_mse_psnr_agg,"
          "learned_psnr_agg_se,learned_minus_baseline_mse_agg,learned_minus_baseline_mse_agg_se\n");
      printf(
          "%zu,%.4f,%.4f,%s,%.6g,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.6f,%.6f,%.6g,%.4f,%.4f,%.4f,"
          "%.6f,%.6f\n",
          N, noisy.mean, noisy.stderr_, base, beta, baseline.mean, baseline.stderr_, learned.mean,
          learned.stderr_, noisy.aggregate, baseline.aggregate, learned.aggregate, diff.mean,
          diff.stderr_, beta_mse, baseline_mse.mean, baseline_mse.aggregate, learned.aggregate_se,
          diff_mse.aggregate, diff_mse.aggregate_se);
    } else {
      printf(
          "%zu signals of length %d, PSNR in dB (peak 1): mean over signals +- standard error,"
          " and of the mean squared error +- standard error\n",
          N, n);
      const char *row = "  %-50s %7.2f +- %.2f  %7.2f +- %.2f\n";
      if (has_noisy)
        printf(row, "noisy input", noisy.mean, noisy.stderr_, noisy.aggregate, noisy.aggregate_se);
      else
        printf("  operator: %s (m = %d)\n", op.desc, op.m);
      if (use_base) {
        char label[96];
        snprintf(label, sizeof label, "%s, beta = %.4g (mean PSNR, tuned on %s)", base, beta,
                 tcpath ? "--tune-*" : "these");
        printf(row, label, baseline.mean, baseline.stderr_, baseline.aggregate,
               baseline.aggregate_se);
        snprintf(label, sizeof label, "%s, beta = %.4g (MSE, tuned on %s)", base, beta_mse,
                 tcpath ? "--tune-*" : "these");
        printf(row, label, baseline_mse.mean, baseline_mse.stderr_, baseline_mse.aggregate,
               baseline_mse.aggregate_se);
      }
      printf(row, "W (as given)", learned.mean, learned.stderr_, learned.aggregate,
             learned.aggregate_se);
      if (use_base)
        printf("  %-50s %+7.4f +- %.4f  %+7.4f +- %.4f\n",
               "W minus baseline (paired; each criterion's beta)", diff.mean, diff.stderr_,
               diff_mse.aggregate, diff_mse.aggregate_se);
    }
  }
  free(T), free(TB), free(XW), free(XB);
  blorc_array_free(&W), blorc_array_free(&X), blorc_array_free(&Y);
  blorc_array_free(&TX), blorc_array_free(&TY), blorc_array_free(&M), blorc_array_free(&TM);
  blorc_operator_free(&op);
  return st ? cli_fail(C, &e) : 0;
}
