/* Internal: small file-system helpers for run directories. */
#ifndef BLORC_FSUTIL_H
#define BLORC_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "blorc/error.h"

/* dir + "/" + name into out (size cap); returns 0 when it did not fit. */
int blorc_path(char *out, size_t cap, const char *dir, const char *name);
int blorc_exists(const char *path);
/* Creates dir and its parents (like mkdir -p). */
blorc_status blorc_mkdirs(const char *dir, blorc_error *err);
/* Removes a directory tree (files and subdirectories). Missing is not an error. */
void blorc_remove_tree(const char *dir);
/* Removes the files in dir (not below) that blorc_atomic_open named and a killed process left
 * behind ("NAME.tmp.PID.N"). */
void blorc_remove_stale_temps(const char *dir);
/* A file written under a temporary name beside its final path, then renamed over it, so
 * readers never see a torn file and a failed write leaves the old one intact. */
typedef struct blorc_atomic_file {
  FILE *fp;
  char *tmp;
  const char *path;
} blorc_atomic_file;

/* Creates PATH.tmp.PID.N exclusively with mode 0666 less the umask, as any new file. */
blorc_status blorc_atomic_open(blorc_atomic_file *f, const char *path, blorc_error *err);
/* Closes the file; renames it over the path when ok (and the close succeeded), else removes
 * it. Returns BLORC_EIO naming the path when anything failed. */
blorc_status blorc_atomic_close(blorc_atomic_file *f, int ok, blorc_error *err);

/* Writes len bytes to a temporary file beside path, then renames it over path. */
blorc_status blorc_write_atomic(const char *path, const char *data, size_t len, blorc_error *err);
/* Reads a whole (small) file into a malloc'ed NUL-terminated buffer. */
blorc_status blorc_read_text(const char *path, char **out, blorc_error *err);

#endif
