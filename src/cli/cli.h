/* The blorc-gpu command line: one file per subcommand, shared helpers in common.c. Every
 * failure prints one line "blorc-gpu CMD: message" on stderr and returns non-zero. */
#ifndef BLORC_CLI_H
#define BLORC_CLI_H

#include <getopt.h>

#include "blorc/blorc.h"

int cmd_data(int argc, char **argv);
int cmd_denoise(int argc, char **argv);
int cmd_grad(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_filters(int argc, char **argv);

/* Prints "blorc-gpu CMD: msg" and returns 1 (2 for usage errors: BLORC_EINVAL from flags). */
int cli_fail(const char *cmd, const blorc_error *e);
int cli_usage_error(const char *cmd, const char *fmt, ...);

/* getopt_long over argv with one-line errors for unknown flags and missing values.
 * Returns the option value, -1 at the end, or '?' after printing the error. */
int cli_getopt(const char *cmd, int argc, char **argv, const struct option *opts);

/* Number parsing that names the flag in its error. Return 0 on success. */
int cli_int(const char *cmd, const char *flag, const char *s, long long min, long long *out);
int cli_double(const char *cmd, const char *flag, const char *s, double min_excl, double *out);

/* Loads a 2-D float .npy of shape (rows, cols) with cols == want_cols (when > 0), finite.
 * `what` names the flag in errors. */
blorc_status cli_load_matrix(const char *what, const char *path, int want_cols, blorc_array *a,
                             blorc_error *err);

/* The solver flags shared by denoise, grad and eval: --tol, --max-iters, --rho, --svd-tol,
 * --device. */
/* Long-only option code for --svd-tol (beyond every short-option letter). */
enum { CLI_OPT_SVD_TOL = 1000 };
#define CLI_SOLVER_OPTIONS                                          \
  {"tol", 1, 0, 't'}, {"max-iters", 1, 0, 'm'}, {"rho", 1, 0, 'r'}, \
      {"svd-tol", 1, 0, CLI_OPT_SVD_TOL}, {                         \
    "device", 1, 0, 'd'                                             \
  }
/* Applies option opt (from CLI_SOLVER_OPTIONS) to o or *device: 1 when handled, 0 when opt
 * is not a solver flag, -1 after printing a bad value. */
int cli_solver_flag(const char *cmd, int opt, const char *arg, blorc_denoise_opts *o,
                    const char **device);

/* Loads clean signals (n columns) and their measurements (m columns; m = n for denoising)
 * with the same number of rows. */
blorc_status cli_load_pairs(const char *cflag, const char *cpath, const char *nflag,
                            const char *npath, int n, int m, blorc_array *X, blorc_array *Y,
                            blorc_error *err);

/* The forward-operator flags of reconstruct, grad, eval and bench (issue 16): --operator
 * SPEC (blorc_operator_parse), --masks M.npy (inpainting: one mask row per signal), --ridge R,
 * --operator-seed S. */
enum { CLI_OPT_OPERATOR = 1001, CLI_OPT_MASKS, CLI_OPT_RIDGE, CLI_OPT_OP_SEED };
#define CLI_OPERATOR_OPTIONS                                            \
  {"operator", 1, 0, CLI_OPT_OPERATOR}, {"masks", 1, 0, CLI_OPT_MASKS}, \
      {"ridge", 1, 0, CLI_OPT_RIDGE}, {                                 \
    "operator-seed", 1, 0, CLI_OPT_OP_SEED                              \
  }
typedef struct cli_operator {
  const char *spec, *masks;
  double ridge;
  long long seed;
} cli_operator;
#define CLI_OPERATOR_INIT \
  { "identity", NULL, 0.0, 0 }
/* 1 when opt is an operator flag (applied to o), 0 when not, -1 after printing a bad value. */
int cli_operator_flag(const char *cmd, int opt, const char *arg, cli_operator *o);
/* The measurements' length m under o for signals of length n (a file operator is read for
 * it); BLORC_EINVAL and friends for a bad spec. */
blorc_status cli_operator_rows(const cli_operator *o, int n, int *m, blorc_error *err);
/* Loads N masks of n entries (0 or 1, at least one 1 per row) from path; flag names it. */
blorc_status cli_load_masks(const char *flag, const char *path, int n, size_t N, blorc_array *masks,
                            blorc_error *err);
/* Builds the operator for signals of length n and, for inpainting, loads the masks file
 * (N rows of n entries, 0 or 1; masks->data stays NULL for other operators). */
blorc_status cli_operator_open(const cli_operator *o, int n, size_t N, blorc_operator *op,
                               blorc_array *masks, blorc_error *err);

/* Resolves --config: an existing file as given; else, for a bare NAME (no '/'), NAME or
 * NAME.ini among the installed configs (beside the binary, share/blorc-gpu/configs) and then
 * the source tree's configs/. Returns 0 and writes the path to out, or -1 after printing an
 * error that lists where it looked. */
int cli_find_config(const char *cmd, const char *name, char *out, size_t cap);

/* cpu, cuda or auto (cuda when this build has a usable device). */
int cli_device(const char *cmd, const char *s, blorc_device *dev);

#endif
