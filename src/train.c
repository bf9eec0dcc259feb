/* The training driver (host side of design.md section 5): epochs, shuffling, minibatches
 * through the backend's stages, the W update, validation, logging and checkpoints. */
#define _POSIX_C_SOURCE 200809L
#include "blorc/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blorc/backend.h"
#include "blorc/denoise.h"
#include "blorc/evaluate.h"
#include "blorc/image.h"
#include "blorc/npy.h"
#include "checkpoint.h"
#include "dist.h"
#include "fsutil.h"
#include "optimizer.h"
#include "rho_tuner.h"

/* A row with |W_i x| < gamma counted as zero moves x* off ADMM's x by several gamma relative
 * (default run, gamma 1e-3: median 4.5e-3, 99th percentile 1.6e-2); a wrong pattern after a
 * collapse moves it by O(1). */
enum { GAMMA_SLACK = 100 };

static const char LOG_HEADER[] =
    "epoch,loss,val_psnr,val_psnr_mse,seconds,samples_per_s,mean_admm_iters,share_at_cap,"
    "sign_changes,rho,share_mismatch,share_certified,min_dual_margin,min_sign_margin,"
    "polish_rounds,share_not_unique\n";

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Everything a run holds; freed in one place. With several data-parallel ranks (issue 18) each
 * holds its shard: training samples [tlo, thi) and validation samples [vlo, vhi) of the whole
 * sets (Ntr, Nval), as local rows 0..N-1 (training first); the run's W, optimiser and shuffle
 * are the same on every rank. */
typedef struct run {
  const blorc_config *cfg;
  const char *dir;
  int n, k;
  size_t N, Ntr, Nval; /* N: rows held here; Ntr, Nval: the whole sets */
  blorc_dist d;
  size_t tlo, thi, vlo, vhi;   /* this rank's shard */
  size_t *tcounts, *vcounts;   /* per rank: training and validation rows (gathers) */
  size_t *lidx;                /* this rank's local indices within a minibatch */
  double *xval_all, *Xval_all; /* rank 0: validation outputs and clean signals, whole set */
  double *red;                 /* per-minibatch reduction: k n + 3 values */
  double *X, *Y, *W, *G, *xval;
  double *masks; /* inpainting: N x n */
  blorc_operator op;
  size_t *perm, *vidx;
  blorc_backend *b;
  blorc_optimizer opt;
  blorc_checkpoint ck; /* arrays used as the signs store and for saving */
  char *log;
  size_t log_len, log_cap;
} run;

static void run_free(run *r) {
  free(r->X), free(r->Y), free(r->W), free(r->G), free(r->xval), free(r->masks);
  blorc_operator_free(&r->op);
  free(r->perm), free(r->vidx), free(r->log);
  free(r->tcounts), free(r->vcounts), free(r->lidx), free(r->xval_all), free(r->Xval_all);
  free(r->red);
  free(r->ck.Z), free(r->ck.L), free(r->ck.signs), free(r->ck.W_best);
  blorc_optimizer_free(&r->opt);
  blorc_backend_destroy(r->b);
}

static blorc_status log_append(run *r, const char *text, blorc_error *err) {
  size_t len = strlen(text);
  if (r->log_len + len + 1 > r->log_cap) {
    size_t cap = (r->log_cap + len + 1) * 2;
    char *p = realloc(r->log, cap);
    if (!p) return blorc_fail(err, BLORC_ENOMEM, "out of memory for the log");
    r->log = p, r->log_cap = cap;
  }
  memcpy(r->log + r->log_len, text, len + 1);
  r->log_len += len;
  return BLORC_OK;
}

/* On resume: keep the rows of log.csv up to the checkpoint's epoch. */
static blorc_status log_restore(run *r, int epoch, blorc_error *err) {
  char path[4200], *old = NULL;
  blorc_path(path, sizeof path, r->dir, "log.csv");
  blorc_status st = log_append(r, LOG_HEADER, err);
  if (st || blorc_read_text(path, &old, NULL) != BLORC_OK) return st;
  char *line = strchr(old, '\n');
  while (line && line[1]) {
    char *next = strchr(line + 1, '\n');
    if (!next) break;
    if (atoi(line + 1) > epoch) break;
    char save = next[1];
    next[1] = '\0';
    st = log_append(r, line + 1, err);
    next[1] = save;
    if (st) break;
    line = next;
  }
  free(old);
  return st;
}

/* The run directory's files are rank 0's to write (write_file, write_config, write_outputs:
 * the other ranks return BLORC_OK); callers then agree on the status. */
static blorc_status write_file(run *r, const char *name, const char *text, blorc_error *err) {
  if (r->d.rank != 0) return BLORC_OK;
  char path[4200];
  if (!blorc_path(path, sizeof path, r->dir, name))
    return blorc_fail(err, BLORC_EINVAL, "%s: path too long", r->dir);
  return blorc_write_atomic(path, text, strlen(text), err);
}

static blorc_status write_config(run *r, blorc_error *err) {
  if (r->d.rank != 0) return BLORC_OK;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return blorc_fail(err, BLORC_ENOMEM, "out of memory for config.ini");
  fprintf(f, "; blorc-gpu run configuration (resolved: defaults, file and flags)\n");
  blorc_config_write(r->cfg, f);
  fclose(f);
  blorc_status st = write_file(r, "config.ini", buf, err);
  free(buf);
  return st;
}

/* Rank 0 receives every rank's rows (rows[q] of `width` values from rank q) in rank order. */
static blorc_status gather_block(const run *r, const size_t *rows, size_t width,
                                 const double *local, double *all, blorc_error *err) {
  size_t *c = malloc((size_t)r->d.size * sizeof(size_t));
  blorc_status st = c ? BLORC_OK : blorc_fail(err, BLORC_ENOMEM, "out of memory for the ranks");
  if ((st = blorc_dist_agree(&r->d, st, err))) return st;
  for (int q = 0; q < r->d.size; q++) c[q] = rows[q] * width;
  st = blorc_dist_gather(&r->d, local, c, all, err);
  free(c);
  return st;
}

/* Rank 0 receives the per-sample rows (k values each) of every rank's shard in the whole set's
 * order: training rows, then (when val) validation rows; `local` holds this rank's, training
 * first. */
static blorc_status gather_rows(run *r, const double *local, int val, double *all,
                                blorc_error *err) {
  size_t k = (size_t)r->k, ntl = r->thi - r->tlo;
  blorc_status st = gather_block(r, r->tcounts, k, local, all, err);
  if (!st && val)
    st = gather_block(r, r->vcounts, k, local + ntl * k, all ? all + r->Ntr * k : NULL, err);
  return st;
}

/* This rank's rows of a whole-set per-sample array (N x width, training then validation). */
static void take_rows(const run *r, const double *all, size_t width, double *local) {
  size_t ntl = r->thi - r->tlo;
  memcpy(local, all + r->tlo * width, ntl * width * sizeof(double));
  memcpy(local + ntl * width, all + (r->Ntr + r->vlo) * width,
         (r->vhi - r->vlo) * width * sizeof(double));
}

/* Denoises the validation signals (rows Ntr.. of the data set) with the current W: *psnr is
 * the mean per-signal PSNR, *psnr_mse the PSNR of the mean squared error (what training
 * minimises, and what W_best is chosen by: the mean of per-signal PSNRs can be gamed by a W
 * that recovers some signals exactly and ruins others, as on the stripes' empty patches). */
static blorc_status validate(run *r, double *psnr, double *psnr_mse, blorc_error *err) {
  blorc_denoise_opts o = blorc_denoise_defaults();
  o.rho = r->ck.tuner.rho;
  o.polish.tol = r->cfg->cert_tol, o.polish.max_rounds = r->cfg->polish_rounds;
  size_t nv = r->vhi - r->vlo, ntl = r->thi - r->tlo;
  blorc_status st =
      nv ? blorc_denoise(r->b, r->cfg->batch, r->vidx, nv, &o, r->xval, NULL, err) : BLORC_OK;
  if (r->d.size == 1) {
    if (st) return st;
    blorc_psnr_stats ps = blorc_psnr_of(r->X + ntl * r->n, r->xval, r->Nval, r->n);
    *psnr = ps.mean;
    *psnr_mse = ps.aggregate;
    return BLORC_OK;
  }
  /* Rank 0 measures the whole set in its order, as one process would; the others learn the
   * two numbers. */
  if ((st = blorc_dist_agree(&r->d, st, err)) ||
      (st = gather_block(r, r->vcounts, (size_t)r->n, r->xval, r->xval_all, err)))
    return st;
  double v[2] = {0, 0};
  if (r->d.rank == 0) {
    blorc_psnr_stats ps = blorc_psnr_of(r->Xval_all, r->xval_all, r->Nval, r->n);
    v[0] = ps.mean, v[1] = ps.aggregate;
  }
  if ((st = blorc_dist_bcast(&r->d, v, 2, err))) return st;
  *psnr = v[0];
  *psnr_mse = v[1];
  return BLORC_OK;
}

/* Validation-based stopping: W_best follows W whenever the validation PSNR of the mean
 * squared error improves (always for the first call of a fresh run, epoch 0). */
static void keep_if_best(run *r, int epoch, double val_psnr_mse, int first) {
  if (!first && !(val_psnr_mse > r->ck.best_val)) return;
  memcpy(r->ck.W_best, r->W, (size_t)r->k * r->n * sizeof(double));
  r->ck.best_val = val_psnr_mse;
  r->ck.best_epoch = epoch;
}

/* The checkpoint holds the whole sets' warm starts and patterns in one process's layout, so a
 * run resumes with any number of ranks; rank 0 writes it. */
static blorc_status save_checkpoint(run *r, int epoch, blorc_error *err) {
  blorc_checkpoint *c = &r->ck;
  c->epoch = epoch;
  c->adam_t = r->opt.t;
  c->W = r->W, c->m = r->opt.m, c->v = r->opt.v; /* W_best, best_val: kept in r->ck */
  size_t kn = (size_t)r->k * r->n;
  blorc_status st = blorc_read(r->b, BLORC_BUF_ADAM_M, r->opt.m, kn, err);
  if (!st) st = blorc_read(r->b, BLORC_BUF_ADAM_V, r->opt.v, kn, err);
  size_t nk = r->N * (size_t)r->k;
  /* The patterns live on the backend (blorc_batch_stats): the training rows come first. */
  if (!st && nk) st = blorc_read(r->b, BLORC_BUF_STATE_SIGNS, c->signs, nk, err);
  if ((st = blorc_dist_agree(&r->d, st, err))) return st;
  if (r->d.size == 1) {
    if ((st = blorc_read(r->b, BLORC_BUF_STATE_Z, c->Z, nk, err)) ||
        (st = blorc_read(r->b, BLORC_BUF_STATE_LAMBDA, c->L, nk, err)))
      return st;
    return blorc_checkpoint_save(r->dir, c, err);
  }
  size_t all = (r->Ntr + r->Nval) * (size_t)r->k;
  double *z = malloc((nk ? nk : 1) * sizeof(double)), *l = malloc((nk ? nk : 1) * sizeof(double));
  blorc_checkpoint w = *c;
  w.Z = w.L = w.signs = NULL;
  if (r->d.rank == 0) {
    w.Z = malloc(all * sizeof(double)), w.L = malloc(all * sizeof(double));
    w.signs = malloc(r->Ntr * (size_t)r->k * sizeof(double));
  }
  if (!z || !l || (r->d.rank == 0 && (!w.Z || !w.L || !w.signs)))
    st = blorc_fail(err, BLORC_ENOMEM, "out of memory for the checkpoint's warm starts");
  if (!st && nk) st = blorc_read(r->b, BLORC_BUF_STATE_Z, z, nk, err);
  if (!st && nk) st = blorc_read(r->b, BLORC_BUF_STATE_LAMBDA, l, nk, err);
  if (!(st = blorc_dist_agree(&r->d, st, err)) && !(st = gather_rows(r, z, 1, w.Z, err)) &&
      !(st = gather_rows(r, l, 1, w.L, err)) && !(st = gather_rows(r, c->signs, 0, w.signs, err)))
    st = r->d.rank == 0 ? blorc_checkpoint_save(r->dir, &w, err) : BLORC_OK;
  free(z), free(l), free(w.Z), free(w.L), free(w.signs);
  return blorc_dist_agree(&r->d, st, err);
}

static blorc_status write_outputs(run *r, blorc_error *err) {
  if (r->d.rank != 0) return BLORC_OK;
  char path[4200];
  blorc_path(path, sizeof path, r->dir, "W.npy");
  blorc_status st = blorc_npy_save(path, r->W, 2, (size_t)r->k, (size_t)r->n, err);
  if (st) return st;
  blorc_path(path, sizeof path, r->dir, "W_best.npy");
  st = blorc_npy_save(path, r->ck.W_best, 2, (size_t)r->k, (size_t)r->n, err);
  if (st) return st;
  blorc_path(path, sizeof path, r->dir, "filters.png");
  int side = (int)lround(sqrt((double)r->n));
  int patches = strcmp(r->cfg->data_kind, "stripes") == 0 && side * side == r->n;
  /* DCT-sparse signals: rows ordered by their best-matching DCT row, as the paper shows them. */
  blorc_transform_kind dct = BLORC_TRANSFORM_DCT;
  const blorc_transform_kind *like = strcmp(r->cfg->data_kind, "dct") == 0 ? &dct : NULL;
  return blorc_write_filters_png_like(path, r->W, r->k, r->n, patches ? side : 0, like, err);
}

/* admm.svd_method on the backend; a CUDA variant on the CPU backend is an error naming the key. */
static blorc_status set_svd_method(run *r, blorc_error *err) {
  const char *name = r->cfg->svd_method;
  blorc_svd_method m;
  if (blorc_svd_method_from_name(name, &m) != 0)
    return blorc_fail(err, BLORC_EINVAL,
                      "admm.svd_method = %s: expected auto, full, fast, jacobi or cusolver", name);
  blorc_status st = blorc_set_svd_method(r->b, m, err);
  if (st) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    blorc_fail(err, st, "admm.svd_method = %s on the %s backend: %s", name,
               blorc_backend_name(r->b), msg);
  }
  return st;
}

static blorc_status open_backend(run *r, const blorc_train_hooks *h, blorc_error *err) {
  const char *dev = r->cfg->device;
  int cap = r->cfg->batch;
  blorc_status st;
  if (strcmp(dev, "cpu") != 0 && (strcmp(dev, "cuda") == 0 || blorc_cuda_available())) {
    if (r->d.size > 1) blorc_cuda_use_device(r->d.local_rank); /* one GPU per rank of a node */
    st = blorc_backend_create(BLORC_DEVICE_CUDA, r->n, r->k, cap, &r->b, err);
    if (st == BLORC_OK) return set_svd_method(r, err);
    if (strcmp(dev, "cuda") == 0) return st;
    if (h && h->on_start) h->on_start("device auto: CUDA backend unavailable, using cpu", h->user);
  }
  st = blorc_backend_create(BLORC_DEVICE_CPU, r->n, r->k, cap, &r->b, err);
  return st ? st : set_svd_method(r, err);
}

/* Rewrites err's numerical failure as a divergence of W at this minibatch, with advice. */
static void diverged(const run *r, int epoch, size_t minibatch, blorc_error *err) {
  char msg[sizeof err->msg];
  snprintf(msg, sizeof msg, "%s", err->msg);
  blorc_fail(err, BLORC_ENUMERIC,
             "W diverged at epoch %d, minibatch %zu (%s); lower train.lr (now %g). The last good "
             "checkpoint is kept in %s/checkpoints",
             epoch, minibatch, msg, r->cfg->lr, r->dir);
}

/* One epoch over the training samples in a fresh shuffled order. */
static blorc_status epoch(run *r, blorc_epoch_log *lg, int first, blorc_error *err) {
  const blorc_config *c = r->cfg;
  int auto_rho = c->rho_auto && !c->fixed; /* fixed mode: every rho costs the same */
  double t0 = now_s();
  long long fallbacks0 = blorc_svd_fallbacks(r->b);
  /* From the epoch number alone, so that a resumed run steps exactly as an unbroken one. */
  r->opt.lr = c->lr * pow(c->lr_decay, lg->epoch - 1);
  /* The epoch's order: sorted by blorc_shuffle_key under a seed from the checkpointed stream;
   * one process draws it on the backend (the GPU sorts on the device, no index crosses); MPI
   * ranks draw the same order on the host, which assigns them their samples. */
  uint64_t seed = blorc_rng_u64(&r->ck.rng);
  blorc_status st = BLORC_OK;
  if (r->d.size == 1)
    st = blorc_shuffle(r->b, seed, r->Ntr, err);
  else if (blorc_shuffle_order(seed, r->perm, r->Ntr) != 0)
    st = blorc_fail(err, BLORC_ENOMEM, "out of memory for the epoch's order");
  if ((st = blorc_dist_agree(&r->d, st, err))) return st;
  blorc_admm_opts ao = blorc_admm_defaults();
  ao.tol = c->tol, ao.max_iters = c->max_iters, ao.fixed = c->fixed,
  ao.check_every = c->check_every;
  blorc_polish_opts po = blorc_polish_defaults();
  po.tol = c->cert_tol, po.max_rounds = c->polish_rounds;
  double loss_sum = 0;
  long long iters = 0, at_cap = 0, changes = 0, mismatch = 0, certified = 0, rounds = 0;
  long long not_unique = 0;
  lg->min_dual_margin = lg->min_sign_margin = 1.0;
  /* Rows below gamma count as zero: x* solves a nearby problem by design. */
  double nearby = GAMMA_SLACK * c->gamma;
  size_t kn = (size_t)r->k * r->n;
  for (size_t start = 0; start < r->Ntr; start += (size_t)c->batch) {
    int Bg = (int)(r->Ntr - start < (size_t)c->batch ? r->Ntr - start : (size_t)c->batch);
    /* This rank's part of the minibatch: the samples of its shard, in the minibatch's order
     * (one process: the whole minibatch, from the backend's order). */
    int B = r->d.size > 1 ? 0 : Bg;
    for (int j = 0; r->d.size > 1 && j < Bg; j++)
      if (r->perm[start + j] >= r->tlo && r->perm[start + j] < r->thi)
        r->lidx[B++] = r->perm[start + j] - r->tlo;
    blorc_admm_stats as = {0};
    blorc_polish_stats ps = {0};
    blorc_batch_counts bs = {0};
    ps.min_dual_margin = ps.min_sign_margin = 1.0;
    double loss = 0, rho = auto_rho ? blorc_rho_tuner_next(&r->ck.tuner) : c->rho;
    if (B > 0 &&
        ((st = r->d.size > 1 ? blorc_select(r->b, r->lidx, B, err)
                             : blorc_select_shuffled(r->b, start, B, err)) ||
         (st = blorc_factor(r->b, rho, err)) || (st = blorc_admm(r->b, &ao, &as, err)) ||
         (st = blorc_signs(r->b, c->gamma, err)) || (st = blorc_svd(r->b, c->svd_tol, err)) ||
         (st = blorc_closed_form(r->b, err)) || (st = blorc_polish(r->b, &po, &ps, err)) ||
         (st = blorc_gradient(r->b, &loss, err)) ||
         (st = blorc_batch_stats(r->b, c->tol, nearby, &bs, err)) ||
         (r->d.size > 1 && (st = blorc_read(r->b, BLORC_BUF_GRAD, r->G, kn, err))))) {
      /* numerical trouble in a stage: W has diverged */
      if (st == BLORC_ENUMERIC) diverged(r, lg->epoch, start / (size_t)c->batch + 1, err);
      return blorc_dist_agree(&r->d, st, err);
    }
    changes += bs.sign_changes, mismatch += bs.mismatch, not_unique += bs.not_unique;
    if (r->d.size > 1) { /* the minibatch's sums over ranks, in rank order (dist.c) */
      double *v = r->red;
      for (size_t i = 0; i < kn; i++) v[i] = B > 0 ? r->G[i] * ps.certified : 0.0;
      v[kn] = loss * ps.certified, v[kn + 1] = ps.certified, v[kn + 2] = (double)as.iters_total;
      if ((st = blorc_dist_agree(&r->d, st, err)) || (st = blorc_dist_sum(&r->d, v, kn + 3, err)))
        return st;
      double used = v[kn + 1];
      for (size_t i = 0; i < kn; i++) r->G[i] = used > 0 ? v[i] / used : 0.0;
      loss = used > 0 ? v[kn] / used : 0.0;
      ps.certified = (int)used;
      as.iters_total = (long long)v[kn + 2];
    }
    if (auto_rho) blorc_rho_tuner_record(&r->ck.tuner, as.iters_total, Bg);
    loss_sum += loss * ps.certified;
    certified += ps.certified;
    rounds += ps.rounds;
    lg->min_dual_margin = fmin(lg->min_dual_margin, ps.min_dual_margin);
    lg->min_sign_margin = fmin(lg->min_sign_margin, ps.min_sign_margin);
    iters += as.iters_total;
    at_cap += as.at_cap;
    /* Stage 7 on the backend: W stays there between log points (the ranks of a data-parallel
     * run write their sum of the gradients first). */
    if (r->d.size > 1) st = blorc_write(r->b, BLORC_BUF_GRAD, r->G, kn, err);
    blorc_step_opts so = blorc_optimizer_next(&r->opt);
    if (!st) st = blorc_step(r->b, &so, err);
    r->ck.step++;
    if (st == BLORC_ENUMERIC) diverged(r, lg->epoch, start / (size_t)c->batch + 1, err);
    if (st) return blorc_dist_agree(&r->d, st, err);
  }
  lg->svd_fallbacks = blorc_svd_fallbacks(r->b) - fallbacks0; /* this rank's, summed below */
  if (r->d.size > 1) { /* per-sample counts over ranks; the margins' minimum by rank 0 */
    double v[6] = {(double)at_cap,
                   (double)changes,
                   (double)mismatch,
                   (double)not_unique,
                   (double)rounds / r->d.size,
                   (double)lg->svd_fallbacks};
    double mine[2] = {lg->min_dual_margin, lg->min_sign_margin}, *all = NULL;
    size_t *two = malloc((size_t)r->d.size * sizeof(size_t));
    if (r->d.rank == 0) all = malloc((size_t)r->d.size * 2 * sizeof(double));
    if (!two || (r->d.rank == 0 && !all))
      st = blorc_fail(err, BLORC_ENOMEM, "out of memory for %d ranks", r->d.size);
    for (int q = 0; two && q < r->d.size; q++) two[q] = 2;
    if (!(st = blorc_dist_agree(&r->d, st, err)) && !(st = blorc_dist_sum(&r->d, v, 6, err)))
      st = blorc_dist_gather(&r->d, mine, two, all, err);
    for (int q = 0; !st && all && q < r->d.size; q++)
      mine[0] = fmin(mine[0], all[2 * q]), mine[1] = fmin(mine[1], all[2 * q + 1]);
    if (!st) st = blorc_dist_bcast(&r->d, mine, 2, err);
    free(two), free(all);
    if (st) return st;
    at_cap = (long long)v[0], changes = (long long)v[1], mismatch = (long long)v[2];
    not_unique = (long long)v[3];
    lg->min_dual_margin = mine[0], lg->min_sign_margin = mine[1];
    rounds = llround(v[4]);
    lg->svd_fallbacks = llround(v[5]);
  }
  double t1 = now_s();
  /* A log point: the epoch's W comes to the host (W_best, checkpoints, outputs). */
  if ((st = blorc_read(r->b, BLORC_BUF_W, r->W, kn, err))) return blorc_dist_agree(&r->d, st, err);
  if ((st = validate(r, &lg->val_psnr, &lg->val_psnr_mse, err))) return st;
  lg->loss = certified ? loss_sum / (double)certified : 0.0;
  lg->share_certified = (double)certified / (double)r->Ntr;
  lg->polish_rounds = (double)rounds / (double)((r->Ntr + c->batch - 1) / c->batch);
  lg->seconds = now_s() - t0;
  lg->samples_per_s = (double)r->Ntr / (t1 - t0);
  lg->mean_iters = (double)iters / (double)r->Ntr;
  lg->share_at_cap = (double)at_cap / (double)r->Ntr;
  lg->sign_changes = first ? -1 : changes;
  lg->rho = r->ck.tuner.rho;
  lg->share_mismatch = (double)mismatch / (double)r->Ntr;
  lg->share_not_unique = (double)not_unique / (double)r->Ntr;
  return BLORC_OK;
}

static blorc_status prepare_dir(const char *dir, int resume, int force, blorc_error *err) {
  char path[4200];
  if (!blorc_path(path, sizeof path, dir, "config.ini"))
    return blorc_fail(err, BLORC_EINVAL, "%s: path too long", dir);
  if (!resume && !force && blorc_exists(path))
    return blorc_fail(err, BLORC_EINVAL,
                      "%s: already holds a run (config.ini); use --resume %s to continue it or "
                      "--force to overwrite it",
                      dir, dir);
  if (resume && !blorc_exists(path))
    return blorc_fail(err, BLORC_EINVAL, "%s: no run to resume (config.ini missing)", dir);
  blorc_status st = blorc_mkdirs(dir, err);
  if (st) return st;
  blorc_remove_stale_temps(dir); /* what a killed run was writing */
  if (resume || !force) return st;
  blorc_path(path, sizeof path, dir, "checkpoints"); /* --force: an old run's checkpoints go */
  blorc_remove_tree(path);
  return BLORC_OK;
}

blorc_status blorc_train(const blorc_config *cfg, const char *out_dir, int resume, int force,
                         const blorc_train_hooks *h, blorc_train_result *result, blorc_error *err) {
  blorc_train_result res_local;
  if (!result) result = &res_local;
  memset(result, 0, sizeof *result);
  blorc_status st = blorc_config_check(cfg, err);
  if (st) return st;
  if (cfg->val < 1)
    return blorc_fail(err, BLORC_EINVAL,
                      "config data.val = %ld, expected at least 1 validation signal", cfg->val);
  run r = {0};
  char path_buf[4200];
  r.cfg = cfg, r.dir = out_dir;
  r.n = cfg->n;
  double t_start = now_s();
  blorc_dist_init(&r.d);
  int lead = r.d.rank == 0; /* writes the run directory and calls the hooks */
  if (!lead) h = NULL;
  if ((st =
           blorc_dist_agree(&r.d, lead ? prepare_dir(out_dir, resume, force, err) : BLORC_OK, err)))
    return st;
  r.Ntr = (size_t)cfg->train, r.Nval = (size_t)cfg->val;
  blorc_dist_block(r.Ntr, r.d.rank, r.d.size, &r.tlo, &r.thi);
  blorc_dist_block(r.Nval, r.d.rank, r.d.size, &r.vlo, &r.vhi);
  r.N = (r.thi - r.tlo) + (r.vhi - r.vlo);
  r.tcounts = malloc((size_t)r.d.size * sizeof(size_t));
  r.vcounts = malloc((size_t)r.d.size * sizeof(size_t));
  if (!r.tcounts || !r.vcounts) {
    st = blorc_fail(err, BLORC_ENOMEM, "out of memory for %d ranks", r.d.size);
    goto done;
  }
  for (int q = 0; q < r.d.size; q++) {
    size_t lo, hi;
    blorc_dist_block(r.Ntr, q, r.d.size, &lo, &hi);
    r.tcounts[q] = hi - lo;
    blorc_dist_block(r.Nval, q, r.d.size, &lo, &hi);
    r.vcounts[q] = hi - lo;
  }
  st = blorc_operator_parse(cfg->op_kind, cfg->n, (uint64_t)cfg->op_seed, cfg->op_ridge,
                            "config operator.kind", &r.op, err);
  if (!st)
    st = blorc_dataset_op_rows(cfg, &r.op, r.tlo, r.thi, r.vlo, r.vhi, &r.X, &r.Y, &r.masks, err);
  if (!st) st = blorc_initial_w(cfg, &r.W, &r.k, err);
  if ((st = blorc_dist_agree(&r.d, st, err))) goto done;
  size_t kn = (size_t)r.k * r.n;
  r.G = malloc(kn * sizeof(double));
  size_t ntl = r.thi - r.tlo, nvl = r.vhi - r.vlo;
  r.xval = malloc((nvl ? nvl : 1) * r.n * sizeof(double));
  r.lidx = malloc((size_t)cfg->batch * sizeof(size_t));
  r.red = malloc((kn + 3) * sizeof(double));
  r.perm = malloc(r.Ntr * sizeof(size_t));
  r.vidx = malloc((nvl ? nvl : 1) * sizeof(size_t));
  r.ck.Z = malloc((r.N ? r.N : 1) * r.k * sizeof(double));
  r.ck.L = malloc((r.N ? r.N : 1) * r.k * sizeof(double));
  r.ck.signs = malloc((r.N ? r.N : 1) * r.k * sizeof(double)); /* the backend's store */
  r.ck.W_best = malloc(kn * sizeof(double));
  if (lead && r.d.size > 1) {
    r.xval_all = malloc(r.Nval * r.n * sizeof(double));
    r.Xval_all = malloc(r.Nval * r.n * sizeof(double));
  }
  if (!r.G || !r.xval || !r.lidx || !r.red || !r.perm || !r.vidx || !r.ck.Z || !r.ck.L ||
      !r.ck.signs || !r.ck.W_best || (lead && r.d.size > 1 && (!r.xval_all || !r.Xval_all)) ||
      blorc_optimizer_init(&r.opt, strcmp(cfg->optimizer, "adam") == 0, cfg->lr, kn))
    st = blorc_fail(err, BLORC_ENOMEM, "out of memory for a run of %zu signals, k=%d n=%d", r.N,
                    r.k, r.n);
  if ((st = blorc_dist_agree(&r.d, st, err))) goto done;
  for (size_t i = 0; i < nvl; i++) r.vidx[i] = ntl + i;
  for (size_t i = 0; i < r.N * r.k; i++) r.ck.signs[i] = 2.0;
  r.ck.k = r.k, r.ck.n = r.n, r.ck.N = r.Ntr + r.Nval, r.ck.Ntrain = r.Ntr;
  blorc_rng_seed(&r.ck.rng, (uint64_t)cfg->seed);
  blorc_rho_tuner_init(&r.ck.tuner, cfg->rho);
  st = open_backend(&r, h, err);
  if (!st && r.N > 0) st = blorc_operator_load(r.b, &r.op, r.N, r.X, r.Y, r.masks, err);
  if ((st = blorc_dist_agree(&r.d, st, err))) goto done;
  if (r.d.size > 1) { /* rank 0 scores the whole validation set */
    if ((st = gather_block(&r, r.vcounts, (size_t)r.n, r.X + ntl * r.n, r.Xval_all, err)))
      goto done;
  }
  int first_epoch = 1;
  if (resume) {
    /* Killed before its first checkpoint: nothing to restore, so the run starts over. */
    blorc_path(path_buf, sizeof path_buf, out_dir, "checkpoints/latest");
    if (!blorc_exists(path_buf)) resume = 0;
  }
  if (resume) {
    /* Every rank reads the checkpoint (the run directory is shared) and keeps its rows: it
     * holds the whole sets' state, so any number of ranks resumes it. */
    blorc_checkpoint in = r.ck;
    in.W = in.m = in.v = in.Z = in.L = in.signs = in.W_best = NULL;
    st = blorc_checkpoint_load(out_dir, &in, err);
    if (!st) {
      memcpy(r.W, in.W, kn * sizeof(double));
      memcpy(r.opt.m, in.m, kn * sizeof(double));
      memcpy(r.opt.v, in.v, kn * sizeof(double));
      memcpy(r.ck.signs, in.signs + r.tlo * r.k, ntl * r.k * sizeof(double));
      memcpy(r.ck.W_best, in.W_best, kn * sizeof(double));
      r.ck.best_val = in.best_val;
      r.ck.best_epoch = in.best_epoch;
      r.opt.t = in.adam_t;
      r.ck.rng = in.rng;
      r.ck.step = in.step;
      r.ck.tuner = in.tuner;
      first_epoch = in.epoch + 1;
      take_rows(&r, in.Z, (size_t)r.k, r.ck.Z);
      take_rows(&r, in.L, (size_t)r.k, r.ck.L);
      if (r.N) st = blorc_write(r.b, BLORC_BUF_STATE_Z, r.ck.Z, r.N * r.k, err);
      if (!st && r.N) st = blorc_write(r.b, BLORC_BUF_STATE_LAMBDA, r.ck.L, r.N * r.k, err);
      if (!st && r.N) st = blorc_write(r.b, BLORC_BUF_STATE_SIGNS, r.ck.signs, r.N * r.k, err);
    }
    blorc_checkpoint_free(&in);
    if ((st = blorc_dist_agree(&r.d, st, err))) goto done;
    if (first_epoch > cfg->epochs + 1) {
      st = blorc_fail(
          err, BLORC_EINVAL,
          "%s: the checkpoint is at epoch %d already, past --epochs %d; raise --epochs to "
          "continue",
          out_dir, first_epoch - 1, cfg->epochs);
      goto done;
    }
    /* At the last epoch already (killed while writing the outputs): no epoch runs, and the
     * outputs are written from the checkpoint. Rows past the checkpoint go at once. */
    st = log_restore(&r, first_epoch - 1, err);
    if (!st) st = write_file(&r, "log.csv", r.log, err);
  } else {
    st = log_append(&r, LOG_HEADER, err);
  }
  if (!st) st = write_config(&r, err);
  if (!st) st = blorc_write(r.b, BLORC_BUF_W, r.W, kn, err);
  if (!st) st = blorc_write(r.b, BLORC_BUF_ADAM_M, r.opt.m, kn, err);
  if (!st) st = blorc_write(r.b, BLORC_BUF_ADAM_V, r.opt.v, kn, err);
  if ((st = blorc_dist_agree(&r.d, st, err))) goto done;
  /* Measurements of another length or with holes have no PSNR of their own. */
  result->noisy_psnr = NAN;
  if (r.op.kind == BLORC_OP_IDENTITY) {
    double noisy = 0;
    for (size_t j = 0; j < nvl; j++)
      noisy += blorc_psnr(r.Y + r.vidx[j] * r.n, r.X + r.vidx[j] * r.n, r.n);
    if ((st = blorc_dist_sum(&r.d, &noisy, 1, err))) goto done;
    result->noisy_psnr = noisy / (double)r.Nval;
  }
  if ((st = validate(&r, &result->initial_val_psnr, &result->initial_val_psnr_mse, err))) goto done;
  result->final_val_psnr = result->initial_val_psnr;
  if (!resume) keep_if_best(&r, 0, result->initial_val_psnr_mse, 1);
  if (h && h->on_start) {
    char line[1400], opline[700] = "", noisy_txt[48] = "";
    if (r.op.kind != BLORC_OP_IDENTITY)
      snprintf(opline, sizeof opline, "; operator: %s, m=%d%s", r.op.desc, r.op.m,
               r.op.ridge > 0 ? " (with ridge)" : "");
    else
      snprintf(noisy_txt, sizeof noisy_txt, "noisy %.2f dB, ", result->noisy_psnr);
    snprintf(line, sizeof line,
             "%s %s: %zu training and %zu validation signals, n=%d k=%d, backend %s%s; "
             "validation PSNR %s%s W %.2f dB",
             resume ? "resuming" : "training", out_dir, r.Ntr, r.Nval, r.n, r.k,
             blorc_backend_name(r.b), opline, noisy_txt, resume ? "checkpoint" : "initial",
             result->initial_val_psnr);
    h->on_start(line, h->user);
  }
  for (int e = first_epoch; e <= cfg->epochs; e++) {
    blorc_epoch_log lg = {0};
    lg.epoch = e, lg.epochs = cfg->epochs;
    /* Only epoch 1 has no previous pattern: a resumed run restored it from the checkpoint. */
    if ((st = epoch(&r, &lg, e == 1, err))) goto done;
    result->epochs_run++;
    result->final_val_psnr = lg.val_psnr;
    keep_if_best(&r, e, lg.val_psnr_mse, 0);
    char row[400];
    snprintf(row, sizeof row,
             "%d,%.10g,%.6f,%.6f,%.4f,%.2f,%.2f,%.4f,%lld,%.6g,%.4f,%.4f,%.4g,%.4g,%.2f,%.4f\n",
             lg.epoch, lg.loss, lg.val_psnr, lg.val_psnr_mse, lg.seconds, lg.samples_per_s,
             lg.mean_iters, lg.share_at_cap, lg.sign_changes, lg.rho, lg.share_mismatch,
             lg.share_certified, lg.min_dual_margin, lg.min_sign_margin, lg.polish_rounds,
             lg.share_not_unique);
    st = log_append(&r, row, err);
    if (!st) st = write_file(&r, "log.csv", r.log, err);
    if ((st = blorc_dist_agree(&r.d, st, err))) goto done;
    if (e % cfg->checkpoint_every == 0 || e == cfg->epochs)
      if ((st = save_checkpoint(&r, e, err))) goto done;
    if (h && h->on_epoch) h->on_epoch(&lg, h->user);
  }
  st = blorc_dist_agree(&r.d, write_outputs(&r, err), err);
  result->best_val_psnr_mse = r.ck.best_val;
  result->best_epoch = r.ck.best_epoch;
done:
  result->seconds = now_s() - t_start;
  run_free(&r);
  return st;
}
