/* Run configuration: a table of keys drives parsing, checking and writing alike. */
#define _POSIX_C_SOURCE 200809L
#include "blorc/config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_INT, T_LONG, T_I64, T_DOUBLE, T_STR, T_BOOL } key_type;

typedef struct {
  const char *section, *key;
  key_type type;
  size_t offset, size; /* size: for strings, the buffer */
  const char *choices; /* for strings: '|'-separated allowed values, or NULL */
  const char *help;
} key_def;

#define K(sec, name, type, field, choices, help)                                                 \
  {                                                                                              \
    sec, name, type, offsetof(blorc_config, field), sizeof(((blorc_config *)0)->field), choices, \
        help                                                                                     \
  }

static const key_def KEYS[] = {
    K("data", "kind", T_STR, data_kind, "piecewise|dct|stripes|files", "signal generator or files"),
    K("data", "n", T_INT, n, NULL, "signal length"),
    K("data", "train", T_LONG, train, NULL, "training signals"),
    K("data", "val", T_LONG, val, NULL, "validation signals"),
    K("data", "sigma", T_DOUBLE, sigma, NULL, "noise standard deviation"),
    K("data", "seed", T_I64, data_seed, NULL, "data generator seed"),
    K("data", "stripe_phase", T_STR, stripe_phase, "fixed|random",
      "stripes: the paper's two images (fixed) or stripe phases drawn from the seed (random)"),
    K("data", "clean", T_STR, clean, NULL, "clean signals .npy (kind = files)"),
    K("data", "noisy", T_STR, noisy, NULL,
      "noisy signals .npy (kind = files; with an operator, the measurements y)"),
    K("data", "masks", T_STR, masks, NULL,
      "inpainting masks .npy, 1 observed and 0 missing (kind = files, operator inpaint)"),
    K("operator", "kind", T_STR, op_kind, NULL,
      "forward operator: identity, inpaint:FRACTION, cs:M, blur:SIGMA, blur2d:SIGMA or an m x n "
      ".npy"),
    K("operator", "ridge", T_DOUBLE, op_ridge, NULL,
      "ridge/2 ||x||^2 added to the lower level (makes it unique; 0: none)"),
    K("operator", "seed", T_I64, op_seed, NULL, "seed of the sensing matrix and of the masks"),
    K("model", "init", T_STR, init, NULL, "identity, tv, dct, tv2d or a .npy file"),
    K("model", "init_scale", T_DOUBLE, init_scale, NULL, "scale of the initial W"),
    K("train", "epochs", T_INT, epochs, NULL, "epochs"),
    K("train", "batch", T_INT, batch, NULL, "minibatch size"),
    K("train", "lr", T_DOUBLE, lr, NULL, "learning rate"),
    K("train", "lr_decay", T_DOUBLE, lr_decay, NULL,
      "learning-rate factor per epoch (epoch e uses lr * lr_decay^(e-1))"),
    K("train", "optimizer", T_STR, optimizer, "sgd|adam", "optimiser"),
    K("train", "gamma", T_DOUBLE, gamma, NULL, "sign threshold"),
    K("train", "seed", T_I64, seed, NULL, "shuffling seed"),
    K("train", "checkpoint_every", T_INT, checkpoint_every, NULL, "epochs between checkpoints"),
    K("admm", "rho", T_DOUBLE, rho, NULL, "ADMM penalty (the starting value when rho_auto)"),
    K("admm", "rho_auto", T_BOOL, rho_auto, NULL,
      "tune rho for speed while training (not in fixed mode)"),
    K("admm", "tol", T_DOUBLE, tol, NULL, "ADMM residual tolerance"),
    K("admm", "max_iters", T_INT, max_iters, NULL, "ADMM iteration cap"),
    K("admm", "fixed", T_BOOL, fixed, NULL, "run exactly max_iters"),
    K("admm", "check_every", T_INT, check_every, NULL, "iterations between residual checks"),
    K("admm", "svd_tol", T_DOUBLE, svd_tol, NULL, "relative rank threshold"),
    K("admm", "cert_tol", T_DOUBLE, cert_tol, NULL,
      "tolerance of the per-sample certificate (KKT conditions of the closed form)"),
    K("admm", "polish_rounds", T_INT, polish_rounds, NULL,
      "active-set rounds at most for samples the certificate rejects (0: certificate only)"),
    K("admm", "device", T_STR, device, "cpu|cuda|auto", "where the stages run"),
    K("admm", "svd_method", T_STR, svd_method, "auto|full|fast|jacobi|cusolver",
      "stage 4 (blorc_set_svd_method): auto, full, fast; on CUDA also jacobi, cusolver"),
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

void blorc_config_defaults(blorc_config *c) {
  memset(c, 0, sizeof *c);
  strcpy(c->data_kind, "piecewise");
  c->n = 64;
  c->train = 2000;
  c->val = 200;
  c->sigma = 0.1;
  c->data_seed = 0;
  strcpy(c->stripe_phase, "fixed");
  strcpy(c->op_kind, "identity");
  c->op_ridge = 0;
  c->op_seed = 0;
  strcpy(c->init, "identity");
  c->init_scale = 0.05;
  c->epochs = 40;
  c->batch = 100;
  c->lr = 1e-3;
  c->lr_decay = 1;
  strcpy(c->svd_method, "auto");
  strcpy(c->optimizer, "adam");
  c->gamma = 1e-3;
  c->seed = 1;
  c->checkpoint_every = 5;
  c->rho = 10;
  c->rho_auto = 1;
  c->tol = 1e-7;
  c->max_iters = 2000;
  c->fixed = 0;
  c->check_every = 1;
  /* Not 1e-10: an optimiser moves exactly dependent rows (overcomplete W, e.g. multi-lag
   * differences) apart by ~1e-10 relative, and a stricter rule then shrinks the null space
   * (tests/test_svd_paths.cc, NearlyDependentRows...). */
  c->svd_tol = 1e-8;
  c->cert_tol = 1e-6;
  c->polish_rounds = 64;
  strcpy(c->device, "cpu");
}

static int in_choices(const char *value, const char *choices) {
  size_t len = strlen(value);
  for (const char *p = choices; p && *p;) {
    const char *bar = strchr(p, '|');
    size_t l = bar ? (size_t)(bar - p) : strlen(p);
    if (l == len && strncmp(p, value, l) == 0) return 1;
    p = bar ? bar + 1 : NULL;
  }
  return 0;
}

/* The table entry of "section.key", or NULL. */
static const key_def *find_key(const char *key) {
  const char *dot = strchr(key, '.');
  for (size_t i = 0; dot && i < NKEYS; i++)
    if (strncmp(key, KEYS[i].section, (size_t)(dot - key)) == 0 &&
        strlen(KEYS[i].section) == (size_t)(dot - key) && strcmp(dot + 1, KEYS[i].key) == 0)
      return &KEYS[i];
  return NULL;
}

blorc_status blorc_config_set(blorc_config *c, const char *key, const char *value,
                              const char *where, blorc_error *err) {
  const key_def *d = find_key(key);
  if (!d) return blorc_fail(err, BLORC_EINVAL, "%s: unknown config key '%s'", where, key);
  char *field = (char *)c + d->offset, *end = NULL;
  errno = 0;
  switch (d->type) {
    case T_INT:
    case T_LONG:
    case T_I64: {
      long long v = strtoll(value, &end, 10);
      if (errno || end == value || *end ||
          (d->type == T_INT && (v < -2147483647LL || v > 2147483647LL)))
        return blorc_fail(err, BLORC_EINVAL, "%s: %s = '%s', expected an integer", where, key,
                          value);
      if (d->type == T_INT)
        *(int *)field = (int)v;
      else if (d->type == T_LONG)
        *(long *)field = (long)v;
      else
        *(long long *)field = v;
      break;
    }
    case T_DOUBLE: {
      double v = strtod(value, &end);
      if (errno || end == value || *end || !isfinite(v))
        return blorc_fail(err, BLORC_EINVAL, "%s: %s = '%s', expected a finite number", where, key,
                          value);
      *(double *)field = v;
      break;
    }
    case T_BOOL:
      if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
        *(int *)field = 1;
      else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
        *(int *)field = 0;
      else
        return blorc_fail(err, BLORC_EINVAL, "%s: %s = '%s', expected true or false", where, key,
                          value);
      break;
    case T_STR:
      if (d->choices && !in_choices(value, d->choices))
        return blorc_fail(err, BLORC_EINVAL, "%s: %s = '%s', expected one of %s", where, key, value,
                          d->choices);
      if (strlen(value) >= d->size)
        return blorc_fail(err, BLORC_EINVAL, "%s: %s is longer than %zu characters", where, key,
                          d->size - 1);
      strcpy(field, value);
      break;
  }
  return BLORC_OK;
}

typedef struct {
  blorc_config *c;
  const char *path;
  blorc_error *err;
  int failed;
} load_ctx;

static int on_key(void *user, const char *section, const char *name, const char *value) {
  load_ctx *ctx = user;
  char key[128];
  snprintf(key, sizeof key, "%s.%s", section, name);
  /* The line number is known only when ini_parse returns; it is added there. */
  if (blorc_config_set(ctx->c, key, value, ctx->path, ctx->err) != BLORC_OK) {
    ctx->failed = 1;
    return 0;
  }
  return 1;
}

blorc_status blorc_config_load(blorc_config *c, const char *path, blorc_error *err) {
  blorc_config tmp = *c; /* all or nothing */
  load_ctx ctx = {&tmp, path, err, 0};
  int rc = ini_parse(path, on_key, &ctx);
  if (rc == -1)
    return blorc_fail(err, BLORC_EIO, "%s: cannot open config (%s)", path, strerror(errno));
  if (rc == -2) return blorc_fail(err, BLORC_ENOMEM, "%s: out of memory while parsing", path);
  if (rc != 0) {
    if (ctx.failed && err) { /* "path: msg" becomes "path:line: msg" */
      char msg[sizeof err->msg];
      snprintf(msg, sizeof msg, "%s", err->msg + strlen(path));
      blorc_fail(err, BLORC_EINVAL, "%s:%d%s", path, rc, msg);
    }
    if (!ctx.failed)
      blorc_fail(err, BLORC_EINVAL, "%s:%d: malformed line, expected 'key = value' or '[section]'",
                 path, rc);
    return BLORC_EINVAL;
  }
  *c = tmp;
  return BLORC_OK;
}

blorc_status blorc_config_check(const blorc_config *c, blorc_error *err) {
#define NEED(cond, key, fmt, val, what) \
  if (!(cond))                          \
  return blorc_fail(err, BLORC_EINVAL, "config %s = " fmt ", expected %s", key, val, what)
  NEED(c->n >= 1, "data.n", "%d", c->n, "n >= 1");
  NEED(c->train >= 1, "data.train", "%ld", c->train, "at least 1 training signal");
  NEED(c->val >= 0, "data.val", "%ld", c->val, "val >= 0");
  NEED(c->sigma >= 0, "data.sigma", "%g", c->sigma, "sigma >= 0");
  NEED(c->init_scale > 0, "model.init_scale", "%g", c->init_scale, "a value > 0");
  NEED(c->epochs >= 1, "train.epochs", "%d", c->epochs, "epochs >= 1");
  NEED(c->batch >= 1, "train.batch", "%d", c->batch, "batch >= 1");
  NEED(c->batch <= c->train, "train.batch", "%d", c->batch, "no more than data.train signals");
  NEED(c->lr > 0, "train.lr", "%g", c->lr, "a value > 0");
  NEED(c->lr_decay > 0 && c->lr_decay <= 1, "train.lr_decay", "%g", c->lr_decay,
       "0 < lr_decay <= 1");
  NEED(c->gamma >= 0, "train.gamma", "%g", c->gamma, "gamma >= 0");
  NEED(c->checkpoint_every >= 1, "train.checkpoint_every", "%d", c->checkpoint_every,
       "a value >= 1");
  NEED(c->rho > 0, "admm.rho", "%g", c->rho, "a value > 0");
  NEED(c->tol >= 0, "admm.tol", "%g", c->tol, "tol >= 0");
  NEED(c->max_iters >= 1, "admm.max_iters", "%d", c->max_iters, "max_iters >= 1");
  NEED(c->check_every >= 1, "admm.check_every", "%d", c->check_every, "a value >= 1");
  NEED(c->svd_tol > 0 && c->svd_tol < 1, "admm.svd_tol", "%g", c->svd_tol, "0 < svd_tol < 1");
  NEED(c->cert_tol > 0 && c->cert_tol < 1, "admm.cert_tol", "%g", c->cert_tol, "0 < cert_tol < 1");
  NEED(c->polish_rounds >= 0, "admm.polish_rounds", "%d", c->polish_rounds, "a value >= 0");
  NEED(c->op_ridge >= 0, "operator.ridge", "%g", c->op_ridge, "ridge >= 0");
  if (strcmp(c->data_kind, "files") == 0 && (!c->clean[0] || !c->noisy[0]))
    return blorc_fail(err, BLORC_EINVAL,
                      "config data.kind = files needs data.clean and data.noisy");
#undef NEED
  return BLORC_OK;
}

/* The value of key d in c as text: the shortest that reads back to the same value. */
static void format_value(const blorc_config *c, const key_def *d, char *buf, size_t len) {
  const char *field = (const char *)c + d->offset;
  switch (d->type) {
    case T_INT: snprintf(buf, len, "%d", *(const int *)field); break;
    case T_LONG: snprintf(buf, len, "%ld", *(const long *)field); break;
    case T_I64: snprintf(buf, len, "%lld", *(const long long *)field); break;
    case T_DOUBLE: {
      double v = *(const double *)field;
      for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
      }
      break;
    }
    case T_BOOL: snprintf(buf, len, "%s", *(const int *)field ? "true" : "false"); break;
    case T_STR: snprintf(buf, len, "%s", field); break;
  }
}

void blorc_config_write(const blorc_config *c, FILE *f) {
  const char *section = "";
  for (size_t i = 0; i < NKEYS; i++) {
    const key_def *d = &KEYS[i];
    if (strcmp(section, d->section) != 0) {
      fprintf(f, "%s[%s]\n", i ? "\n" : "", d->section);
      section = d->section;
    }
    char buf[sizeof(((blorc_config *)0)->clean) + 8];
    format_value(c, d, buf, sizeof buf);
    fprintf(f, "; %s\n%s = %s\n", d->help, d->key, buf);
  }
}

int blorc_config_key(size_t i, const char **section, const char **key, const char **help) {
  if (i >= NKEYS) return 0;
  if (section) *section = KEYS[i].section;
  if (key) *key = KEYS[i].key;
  if (help) *help = KEYS[i].help;
  return 1;
}

blorc_status blorc_config_get(const blorc_config *c, const char *key, char *buf, size_t len,
                              blorc_error *err) {
  const key_def *d = find_key(key);
  if (!d) return blorc_fail(err, BLORC_EINVAL, "unknown config key '%s'", key);
  if (len > 0) format_value(c, d, buf, len);
  return BLORC_OK;
}
