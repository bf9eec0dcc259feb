/* See fuzz_input_file.h. */
#include "fuzz_input_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *fuzz_input_path(const uint8_t *data, size_t size, const char *suffix) {
  /* One file per process for the whole run: libFuzzer calls the target millions of times. */
  static char path[256];
  if (!path[0]) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/blorc-fuzz-%ld%s", dir && *dir ? dir : "/tmp", (long)getpid(),
             suffix);
  }
  FILE *fp = fopen(path, "wb");
  if (!fp) return NULL;
  size_t wrote = fwrite(data, 1, size, fp);
  if (fclose(fp) != 0 || wrote != size) return NULL;
  return path;
}
