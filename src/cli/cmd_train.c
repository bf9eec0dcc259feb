/* blorc-gpu train: run configuration from defaults, a config file and flags; then the
 * trainer, with a progress line per epoch. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blorc/train.h"
#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu train [--config FILE] [--batch 100] [--epochs E] [--lr A]\n"
    "                       [--optimizer sgd|adam] [--init identity|tv|dct|tv2d|FILE.npy]\n"
    "                       [--init-scale c] [--gamma 1e-3] [--rho R] [--admm-tol T]\n"
    "                       [--max-iters I] [--seed S] [--set section.key=value]\n"
    "                       [--out DIR] [--resume DIR] [--force] [--device cpu|cuda|auto]\n"
    "                       [--operator identity|inpaint:F|cs:M|blur:S|blur2d:S|A.npy]\n"
    "                       [--verbose]\n"
    "Learns W by minibatch gradient descent on the BLORC closed-form gradient. --config takes a\n"
    "file or the name of an installed config (default, paper-piecewise, paper-dct,\n"
    "paper-stripes, best-piecewise, best-dct, best-stripes). Without --config it runs the\n"
    "built-in default (configs/default.ini: 1D piecewise constant, n = 64). Flags\n"
    "override the config; the resolved config is printed and saved as DIR/config.ini.\n"
    "Outputs in DIR (default runs/NAME-DATE-TIME): W.npy (final), W_best.npy (best validation\n"
    "MSE), log.csv, config.ini, filters.png (final W; for dct data in DCT row order, see\n"
    "blorc-gpu filters --help), checkpoints/.\n"
    "--operator (config [operator] kind, ridge, seed) learns W for the inverse problem\n"
    "argmin_x 1/2||A x - y||^2 + ||W x||_1 instead of denoising: inpaint:F per-sample masks\n"
    "with a share F of entries missing, cs:M an M x n Gaussian sensing matrix, blur:S a 1D and\n"
    "blur2d:S a 2D Gaussian blur of width S pixels, or a matrix from a .npy (m x n). Samples\n"
    "without a unique minimiser are left out of the gradient (log.csv share_not_unique).\n"
    "--resume DIR continues DIR's run from its last checkpoint (only --epochs and --device\n"
    "may change). Progress goes to stderr when it is a terminal, or with --verbose; warnings\n"
    "always do.\n";

typedef struct {
  const char *key, *value, *flag;
} override;

typedef struct {
  int verbose;
} progress;

static void on_start(const char *what, void *user) {
  (void)user;
  printf("%s\n", what);
  fflush(stdout);
}

static void on_epoch(const blorc_epoch_log *lg, void *user) {
  progress *p = user;
  if (p->verbose) {
    double eta = lg->seconds * (lg->epochs - lg->epoch);
    fprintf(stderr,
            "epoch %d/%d  loss %.6g  val PSNR %.2f dB (of the MSE %.2f dB)  %.0f samples/s  ADMM "
            "%.0f it (rho %g)  certified %.1f%% (%.1f polish rounds)  ETA %d:%02d\n",
            lg->epoch, lg->epochs, lg->loss, lg->val_psnr, lg->val_psnr_mse, lg->samples_per_s,
            lg->mean_iters, lg->rho, 100 * lg->share_certified, lg->polish_rounds, (int)eta / 60,
            (int)eta % 60);
  }
  /* Always shown, progress or not: gradients of samples whose pattern is wrong belong to other
   * problems, and this is how a collapse starts (bench/results/paper/README.md). */
  static const char *what[3] = {
      "the certified closed form and ADMM disagree on %.1f%% of training samples (ADMM's sign "
      "pattern was wrong: nearly dependent rows of W, as in 2D or multi-lag differences, or ADMM "
      "stopped early)",
      "%.1f%% of training samples had no unique minimiser (too few zero rows of W x* for the "
      "operator) and were left out of the gradient (operator.ridge > 0 makes every sample "
      "unique)",
      "%.1f%% of training samples had no certificate and were left out of the gradient (raise "
      "admm.polish_rounds or admm.max_iters)"};
  const double share[3] = {lg->share_mismatch, lg->share_not_unique, 1 - lg->share_certified};
  for (int i = 0; i < 3; i++) {
    if (!(share[i] > 0.01)) continue;
    fprintf(stderr, "warning: epoch %d: ", lg->epoch);
    fprintf(stderr, what[i], 100 * share[i]);
    fprintf(stderr, "\n");
  }
  /* Correct either way (the Jacobi kernel redid them), but slower than the Gram path alone. */
  if (p->verbose && lg->svd_fallbacks > 0)
    fprintf(stderr,
            "epoch %d: stage 4's Gram path left %lld samples to the Jacobi kernel (rank not "
            "certain from the eigenvalues)\n",
            lg->epoch, lg->svd_fallbacks);
}

int cmd_train(int argc, char **argv) {
  const char *C = "train", *config = NULL, *out = NULL, *resume = NULL;
  int force = 0, verbose = 0;
  override ov[64];
  int nov = 0;
  static const struct option opts[] = {
      {"config", 1, 0, 'C'},     {"batch", 1, 0, 'b'},     {"epochs", 1, 0, 'e'},
      {"lr", 1, 0, 'l'},         {"optimizer", 1, 0, 'O'}, {"init", 1, 0, 'i'},
      {"init-scale", 1, 0, 'c'}, {"gamma", 1, 0, 'g'},     {"rho", 1, 0, 'r'},
      {"admm-tol", 1, 0, 't'},   {"max-iters", 1, 0, 'm'}, {"seed", 1, 0, 's'},
      {"set", 1, 0, 'S'},        {"out", 1, 0, 'o'},       {"resume", 1, 0, 'R'},
      {"force", 0, 0, 'f'},      {"device", 1, 0, 'd'},    {"verbose", 0, 0, 'v'},
      {"operator", 1, 0, 'P'},   {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
  static const struct {
    int opt;
    const char *key;
  } map[] = {{'b', "train.batch"},     {'e', "train.epochs"}, {'l', "train.lr"},
             {'O', "train.optimizer"}, {'i', "model.init"},   {'c', "model.init_scale"},
             {'g', "train.gamma"},     {'r', "admm.rho"},     {'t', "admm.tol"},
             {'m', "admm.max_iters"},  {'s', "train.seed"},   {'d', "admm.device"},
             {'P', "operator.kind"}};
  int o;
  while ((o = cli_getopt(C, argc, argv, opts)) != -1) {
    if (nov >= 64) return cli_usage_error(C, "too many flags");
    int mapped = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
      if (map[i].opt == o) {
        ov[nov++] = (override){map[i].key, optarg, argv[optind - 1]};
        mapped = 1;
      }
    if (mapped) continue;
    switch (o) {
      case 'C': config = optarg; break;
      case 'o': out = optarg; break;
      case 'R': resume = optarg; break;
      case 'f': force = 1; break;
      case 'v': verbose = 1; break;
      case 'S': {
        char *eq = strchr(optarg, '=');
        if (!eq) return cli_usage_error(C, "--set '%s': expected section.key=value", optarg);
        *eq = '\0';
        ov[nov++] = (override){optarg, eq + 1, "--set"};
        break;
      }
      case 'h': fputs(HELP, stdout); return 0;
      default: return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if (resume && (config || out || force))
    return cli_usage_error(
        C,
        "--resume DIR takes the run's own config and directory; drop --config, --out and --force");
  blorc_error e = {0};
  blorc_config cfg, loaded;
  blorc_config_defaults(&cfg);
  char path[4200];
  if (resume) {
    snprintf(path, sizeof path, "%s/config.ini", resume);
    if (access(path, F_OK) != 0) {
      blorc_fail(&e, BLORC_EINVAL, "--resume %s: no run there (config.ini missing)", resume);
      return cli_fail(C, &e);
    }
    config = path;
  }
  char found[4200];
  if (config && !resume) {
    if (cli_find_config(C, config, found, sizeof found)) return 2;
    config = found;
  }
  if (config && blorc_config_load(&cfg, config, &e)) return cli_fail(C, &e);
  loaded = cfg;
  for (int i = 0; i < nov; i++) {
    char where[64];
    snprintf(where, sizeof where, "flag %s", ov[i].flag);
    if (blorc_config_set(&cfg, ov[i].key, ov[i].value, where, &e)) return cli_fail(C, &e);
  }
  if (resume) { /* bit-for-bit continuation: nothing but the length and the device may move */
    blorc_config same = cfg;
    same.epochs = loaded.epochs;
    memcpy(same.device, loaded.device, sizeof same.device);
    if (memcmp(&same, &loaded, sizeof same) != 0) {
      blorc_fail(
          &e, BLORC_EINVAL,
          "--resume %s: only --epochs and --device may change; other flags would alter the run",
          resume);
      return cli_fail(C, &e);
    }
  }
  if (blorc_config_check(&cfg, &e)) return cli_fail(C, &e);
  char outbuf[600];
  if (!out && !resume) {
    const char *base = config ? strrchr(config, '/') : NULL;
    base = base ? base + 1 : config ? config : "default";
    char name[200];
    snprintf(name, sizeof name, "%.190s", base);
    char *dot = strstr(name, ".ini");
    if (dot) *dot = '\0';
    time_t now = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
    snprintf(outbuf, sizeof outbuf, "runs/%s-%s", name, stamp);
    out = outbuf;
  }
  if (resume) out = resume;
  printf("; resolved configuration%s%s\n", config ? " from " : " (built-in default)",
         config ? config : "");
  blorc_config_write(&cfg, stdout);
  printf("\n");
  progress p = {verbose || isatty(2)};
  blorc_train_hooks hooks = {on_start, on_epoch, &p};
  blorc_train_result res;
  if (blorc_train(&cfg, out, resume != NULL, force, &hooks, &res, &e)) return cli_fail(C, &e);
  char noisy[40] = "";
  if (res.noisy_psnr == res.noisy_psnr)
    snprintf(noisy, sizeof noisy, "noisy %.2f dB, ", res.noisy_psnr);
  printf(
      "done: %d epochs in %.1f s; validation PSNR: %s%s %.2f dB, final %.2f dB; "
      "W_best.npy: epoch %d, validation PSNR of the mean squared error %.4f dB (%s %.4f "
      "dB); outputs in %s\n",
      res.epochs_run, res.seconds, noisy, resume ? "at resume" : "initial W", res.initial_val_psnr,
      res.final_val_psnr, res.best_epoch, res.best_val_psnr_mse, resume ? "at resume" : "initial W",
      res.initial_val_psnr_mse, out);
  return 0;
}
