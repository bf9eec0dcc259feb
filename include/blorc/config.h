/* Run configuration: INI files (parsed by inih) with sections [data], [operator], [model],
 * [train] and [admm]; command-line flags override single keys through blorc_config_set. Unknown
 * sections or keys and malformed values are errors naming the file, line, key and what was
 * expected. */
#ifndef BLORC_CONFIG_H
#define BLORC_CONFIG_H

#include <stdio.h>

#include "blorc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct blorc_config {
  /* [data] */
  char data_kind[16]; /* piecewise, dct, stripes, or files */
  int n;              /* signal length (stripes: patch pixels, a square) */
  long train;         /* training signals (generated, or the first rows of the files) */
  long val;           /* validation signals held out for the per-epoch PSNR */
  double sigma;       /* noise level of generated data */
  long long data_seed;
  char stripe_phase[8];        /* stripes: fixed (the paper's images) or random (from the seed) */
  char clean[512], noisy[512]; /* .npy files for kind = files (noisy: the measurements y) */
  char masks[512];             /* kind = files with an inpainting operator: the masks .npy */
  /* [operator] (issue 16) */
  char op_kind[512]; /* identity, inpaint:F, cs:M, blur:S, blur2d:S or an m x n .npy */
  double op_ridge;   /* ridge/2 ||x||^2 in the lower level (0: none) */
  long long op_seed; /* the sensing matrix's and the masks' seed */
  /* [model] */
  char init[512];    /* identity, tv, dct, tv2d, or a W.npy path */
  double init_scale; /* factor on the initial transform */
  /* [train] */
  int epochs, batch;
  double lr;
  double lr_decay;   /* lr of epoch e is lr * lr_decay^(e - 1); 1 keeps it constant */
  char optimizer[8]; /* sgd or adam */
  double gamma;      /* sign threshold */
  long long seed;    /* shuffling */
  int checkpoint_every;
  /* [admm] */
  double rho, tol;
  int rho_auto; /* tune rho during training (rho is then the starting value) */
  int max_iters, fixed, check_every;
  double svd_tol;
  double cert_tol;     /* certificate tolerance (blorc_polish) */
  int polish_rounds;   /* active-set rounds at most per minibatch */
  char device[8];      /* cpu, cuda, auto */
  char svd_method[16]; /* stage 4: auto, full, fast (both backends), jacobi, cusolver (CUDA) */
} blorc_config;

/* The built-in default run: 1D piecewise constant, n = 64 (configs/default.ini holds the
 * same values). */
void blorc_config_defaults(blorc_config *c);

/* Sets one key, "section.key" (e.g. "train.batch"), from text. `where` prefixes messages
 * (a file:line or a flag name). Returns BLORC_EINVAL for an unknown key or a bad value. */
blorc_status blorc_config_set(blorc_config *c, const char *key, const char *value,
                              const char *where, blorc_error *err);

/* Reads an INI file over the current values. */
blorc_status blorc_config_load(blorc_config *c, const char *path, blorc_error *err);

/* Checks ranges (positive batch, epochs, lr, ...); the message names the key. */
blorc_status blorc_config_check(const blorc_config *c, blorc_error *err);

/* Writes every key as INI text (loadable by blorc_config_load). */
void blorc_config_write(const blorc_config *c, FILE *f);

/* The i-th key of the table (0-based): its section, key and one-line help (any may be NULL);
 * returns 0 past the last one. Bindings list the keys with it. */
int blorc_config_key(size_t i, const char **section, const char **key, const char **help);

/* The value of "section.key" as text (as blorc_config_write prints it) into buf (len bytes,
 * truncated to fit); BLORC_EINVAL for an unknown key. */
blorc_status blorc_config_get(const blorc_config *c, const char *key, char *buf, size_t len,
                              blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
