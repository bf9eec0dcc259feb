/* libFuzzer target: INI configs through inih, our key table and the validation that `train`
 * runs. Any byte string must load and pass the checks, or fail with a message naming the
 * file; a failed load leaves the configuration untouched (all or nothing). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/config.h"
#include "fuzz_input_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_input_path(data, size, ".ini");
  if (!path) return 0;
  blorc_config c, before;
  blorc_config_defaults(&c);
  before = c;
  blorc_error e;
  if (blorc_config_load(&c, path, &e) != BLORC_OK) {
    if (!e.msg[0] || !strstr(e.msg, path)) abort();
    if (memcmp(&c, &before, sizeof c) != 0) abort();
    return 0;
  }
  if (blorc_config_check(&c, &e) != BLORC_OK && !e.msg[0]) abort();
  /* Strings stay terminated inside their fields whatever the input. */
  if (!memchr(c.data_kind, 0, sizeof c.data_kind) || !memchr(c.init, 0, sizeof c.init) ||
      !memchr(c.clean, 0, sizeof c.clean) || !memchr(c.noisy, 0, sizeof c.noisy) ||
      !memchr(c.optimizer, 0, sizeof c.optimizer))
    abort();
  return 0;
}
