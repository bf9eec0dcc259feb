/* Training checkpoints: a directory of .npy arrays plus meta.ini, made visible by renaming. */
#define _XOPEN_SOURCE 700
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/npy.h"
#include "fsutil.h"

typedef struct {
  const char *name;
  size_t rows, cols;
  double **data;
} array_entry;

#define NENTRIES 7

static int entries(blorc_checkpoint *c, array_entry out[NENTRIES]) {
  array_entry e[NENTRIES] = {{"W.npy", (size_t)c->k, (size_t)c->n, &c->W},
                             {"adam_m.npy", (size_t)c->k, (size_t)c->n, &c->m},
                             {"adam_v.npy", (size_t)c->k, (size_t)c->n, &c->v},
                             {"state_z.npy", c->N, (size_t)c->k, &c->Z},
                             {"state_lambda.npy", c->N, (size_t)c->k, &c->L},
                             {"signs.npy", c->Ntrain, (size_t)c->k, &c->signs},
                             {"W_best.npy", (size_t)c->k, (size_t)c->n, &c->W_best}};
  memcpy(out, e, sizeof e);
  return NENTRIES;
}

blorc_status blorc_checkpoint_save(const char *run_dir, const blorc_checkpoint *c,
                                   blorc_error *err) {
  char base[4096], name[64], tmpdir[4200], final[4200], path[4600];
  if (!blorc_path(base, sizeof base, run_dir, "checkpoints"))
    return blorc_fail(err, BLORC_EINVAL, "%s: path too long", run_dir);
  blorc_status st = blorc_mkdirs(base, err);
  if (st) return st;
  snprintf(name, sizeof name, "epoch-%06d", c->epoch);
  snprintf(tmpdir, sizeof tmpdir, "%s/.%s.tmp", base, name);
  snprintf(final, sizeof final, "%s/%s", base, name);
  blorc_remove_tree(tmpdir); /* left by an earlier crash */
  if ((st = blorc_mkdirs(tmpdir, err))) return st;
  array_entry e[NENTRIES];
  int ne = entries((blorc_checkpoint *)c, e);
  for (int i = 0; i < ne; i++) {
    snprintf(path, sizeof path, "%s/%s", tmpdir, e[i].name);
    if ((st = blorc_npy_save(path, *e[i].data, 2, e[i].rows, e[i].cols, err))) return st;
  }
  char meta[1024];
  int len = snprintf(meta, sizeof meta,
                     "[checkpoint]\nepoch = %d\nstep = %lld\nadam_t = %lld\n"
                     "rng0 = %016" PRIx64 "\nrng1 = %016" PRIx64 "\nrng2 = %016" PRIx64
                     "\nrng3 = %016" PRIx64
                     "\nrng_spare = %a\nrng_has_spare = %d\n"
                     "rho = %a\nrho_dir = %d\nrho_phase = %d\nrho_base_cost = %a\n"
                     "rho_iters = %lld\nrho_samples = %lld\nrho_batches = %d\n"
                     "best_val = %a\nbest_epoch = %d\n",
                     c->epoch, c->step, c->adam_t, c->rng.s[0], c->rng.s[1], c->rng.s[2],
                     c->rng.s[3], c->rng.spare, c->rng.has_spare, c->tuner.rho, c->tuner.dir,
                     c->tuner.phase, c->tuner.base_cost, c->tuner.iters, c->tuner.samples,
                     c->tuner.batches, c->best_val, c->best_epoch);
  snprintf(path, sizeof path, "%s/meta.ini", tmpdir);
  if ((st = blorc_write_atomic(path, meta, (size_t)len, err))) return st;
  blorc_remove_tree(final); /* a checkpoint of the same epoch from an earlier attempt */
  if (rename(tmpdir, final) != 0)
    return blorc_fail(err, BLORC_EIO, "%s: cannot rename checkpoint into place (%s)", final,
                      strerror(errno));
  char latest[4200], line[80];
  snprintf(latest, sizeof latest, "%s/latest", base);
  len = snprintf(line, sizeof line, "%s\n", name);
  if ((st = blorc_write_atomic(latest, line, (size_t)len, err))) return st;
  /* Older checkpoints are superseded only now that `latest` names the new one. */
  DIR *d = opendir(base);
  struct dirent *de;
  while (d && (de = readdir(d)))
    if ((strncmp(de->d_name, "epoch-", 6) == 0 && strcmp(de->d_name, name) != 0) ||
        strncmp(de->d_name, ".epoch-", 7) == 0) {
      /* Superseded checkpoints, and checkpoint directories a killed run left half-written. */
      snprintf(path, sizeof path, "%s/%s", base, de->d_name);
      blorc_remove_tree(path);
    }
  if (d) closedir(d);
  blorc_remove_stale_temps(base); /* a `latest` a killed writer left half-written */
  return BLORC_OK;
}

static int on_meta(void *user, const char *section, const char *key, const char *value) {
  blorc_checkpoint *c = user;
  (void)section;
  if (!strcmp(key, "epoch"))
    c->epoch = atoi(value);
  else if (!strcmp(key, "step"))
    c->step = strtoll(value, NULL, 10);
  else if (!strcmp(key, "adam_t"))
    c->adam_t = strtoll(value, NULL, 10);
  else if (!strncmp(key, "rng", 3) && key[3] >= '0' && key[3] <= '3' && !key[4])
    c->rng.s[key[3] - '0'] = strtoull(value, NULL, 16);
  else if (!strcmp(key, "rng_spare"))
    c->rng.spare = strtod(value, NULL);
  else if (!strcmp(key, "rng_has_spare"))
    c->rng.has_spare = atoi(value);
  else if (!strcmp(key, "rho"))
    c->tuner.rho = strtod(value, NULL);
  else if (!strcmp(key, "rho_dir"))
    c->tuner.dir = atoi(value);
  else if (!strcmp(key, "rho_phase"))
    c->tuner.phase = atoi(value);
  else if (!strcmp(key, "rho_base_cost"))
    c->tuner.base_cost = strtod(value, NULL);
  else if (!strcmp(key, "rho_iters"))
    c->tuner.iters = strtoll(value, NULL, 10);
  else if (!strcmp(key, "rho_samples"))
    c->tuner.samples = strtoll(value, NULL, 10);
  else if (!strcmp(key, "rho_batches"))
    c->tuner.batches = atoi(value);
  else if (!strcmp(key, "best_val"))
    c->best_val = strtod(value, NULL);
  else if (!strcmp(key, "best_epoch"))
    c->best_epoch = atoi(value);
  else
    return 0;
  return 1;
}

blorc_status blorc_checkpoint_load(const char *run_dir, blorc_checkpoint *c, blorc_error *err) {
  char latest[4200], dir[4400], path[4500];
  snprintf(latest, sizeof latest, "%s/checkpoints/latest", run_dir);
  char *name = NULL;
  blorc_status st = blorc_read_text(latest, &name, err);
  if (st)
    return blorc_fail(err, BLORC_EINVAL, "%s: no checkpoint to resume from (%s missing)", run_dir,
                      latest);
  name[strcspn(name, "\r\n")] = '\0';
  snprintf(dir, sizeof dir, "%s/checkpoints/%s", run_dir, name);
  free(name);
  snprintf(path, sizeof path, "%s/meta.ini", dir);
  c->epoch = -1;
  if (ini_parse(path, on_meta, c) != 0 || c->epoch < 0)
    return blorc_fail(err, BLORC_EFORMAT, "%s: unreadable checkpoint metadata", path);
  array_entry e[NENTRIES];
  int ne = entries(c, e);
  for (int i = 0; i < ne; i++) {
    blorc_array a = {0};
    snprintf(path, sizeof path, "%s/%s", dir, e[i].name);
    if ((st = blorc_npy_load(path, &a, err))) return st;
    if (a.ndim != 2 || a.rows != e[i].rows || a.cols != e[i].cols) {
      blorc_array_free(&a);
      return blorc_fail(err, BLORC_EFORMAT,
                        "%s: shape does not match this run (expected (%zu, %zu)); was the "
                        "config changed?",
                        path, e[i].rows, e[i].cols);
    }
    *e[i].data = a.data;
  }
  return BLORC_OK;
}

void blorc_checkpoint_free(blorc_checkpoint *c) {
  array_entry e[NENTRIES];
  int ne = entries(c, e);
  for (int i = 0; i < ne; i++) {
    free(*e[i].data);
    *e[i].data = NULL;
  }
}
