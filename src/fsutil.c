/* File-system helpers: atomic writes, directory trees. */
#define _XOPEN_SOURCE 700
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int blorc_path(char *out, size_t cap, const char *dir, const char *name) {
  int len = snprintf(out, cap, "%s/%s", dir, name);
  return len >= 0 && (size_t)len < cap;
}

int blorc_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

blorc_status blorc_mkdirs(const char *dir, blorc_error *err) {
  char buf[4096];
  if (strlen(dir) >= sizeof buf) return blorc_fail(err, BLORC_EINVAL, "%s: path too long", dir);
  strcpy(buf, dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return blorc_fail(err, BLORC_EIO, "%s: cannot create directory (%s)", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST)
    return blorc_fail(err, BLORC_EIO, "%s: cannot create directory (%s)", buf, strerror(errno));
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
    return blorc_fail(err, BLORC_EIO, "%s: exists and is not a directory", buf);
  return BLORC_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

void blorc_remove_tree(const char *dir) {
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void blorc_remove_stale_temps(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char path[4200];
  while (d && (de = readdir(d)))
    if (de->d_name[0] != '.' && strstr(de->d_name, ".tmp.") &&
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
      unlink(path);
  if (d) closedir(d);
}

blorc_status blorc_atomic_open(blorc_atomic_file *f, const char *path, blorc_error *err) {
  size_t cap = strlen(path) + 48;
  f->fp = NULL;
  f->path = path;
  f->tmp = malloc(cap);
  if (!f->tmp) return blorc_fail(err, BLORC_ENOMEM, "%s: out of memory", path);
  int fd = -1;
  for (unsigned attempt = 0; fd < 0 && attempt < 1000; attempt++) {
    snprintf(f->tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(), attempt);
    fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd >= 0) f->fp = fdopen(fd, "wb");
  if (!f->fp) {
    blorc_status st = blorc_fail(
        err, BLORC_EIO, "%s: cannot create a temporary file beside it (%s)", path, strerror(errno));
    if (fd >= 0) close(fd), unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
    return st;
  }
  return BLORC_OK;
}

/* Test hook for the kill -9 tests: BLORC_TEST_WRITE_DELAY_MS=N makes every atomic write
 * whose path contains BLORC_TEST_WRITE_DELAY_MATCH (all, when unset) pause N ms with its
 * data written but not yet renamed: the moment a crash would leave a torn file, were it
 * written in place. */
static void test_write_delay(const char *path) {
  const char *ms = getenv("BLORC_TEST_WRITE_DELAY_MS");
  if (!ms || !*ms) return;
  const char *match = getenv("BLORC_TEST_WRITE_DELAY_MATCH");
  if (match && *match && !strstr(path, match)) return;
  long v = strtol(ms, NULL, 10);
  struct timespec t = {v / 1000, (v % 1000) * 1000000L};
  if (v > 0) nanosleep(&t, NULL);
}

blorc_status blorc_atomic_close(blorc_atomic_file *f, int ok, blorc_error *err) {
  int saved = ok ? 0 : errno;
  /* Flushed and on disk before the rename: a rename never exposes an unwritten file, even
   * after a power cut. */
  if (ok && fflush(f->fp) != 0) ok = 0, saved = errno;
  if (ok && fsync(fileno(f->fp)) != 0) ok = 0, saved = errno;
  ok = (fclose(f->fp) == 0) && ok;
  if (ok) test_write_delay(f->path);
  if (ok && rename(f->tmp, f->path) != 0) ok = 0;
  blorc_status st = BLORC_OK;
  if (!ok) {
    st = blorc_fail(err, BLORC_EIO, "%s: write failed (%s)", f->path,
                    strerror(saved ? saved : errno));
    unlink(f->tmp);
  }
  free(f->tmp);
  f->tmp = NULL;
  f->fp = NULL;
  return st;
}

blorc_status blorc_write_atomic(const char *path, const char *data, size_t len, blorc_error *err) {
  blorc_atomic_file f;
  blorc_status st = blorc_atomic_open(&f, path, err);
  if (st) return st;
  return blorc_atomic_close(&f, fwrite(data, 1, len, f.fp) == len, err);
}

blorc_status blorc_read_text(const char *path, char **out, blorc_error *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return blorc_fail(err, BLORC_EIO, "%s: cannot open (%s)", path, strerror(errno));
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (len + 1 < cap) break;
    char *nb = realloc(buf, cap *= 2);
    if (!nb) free(buf);
    buf = nb;
  }
  fclose(f);
  if (!buf) return blorc_fail(err, BLORC_ENOMEM, "%s: out of memory", path);
  buf[len] = '\0';
  *out = buf;
  return BLORC_OK;
}
