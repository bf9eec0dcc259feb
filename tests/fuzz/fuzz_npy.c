/* libFuzzer target: the .npy reader. Any byte string must give either an array whose shape
 * matches its data or an error with a message, never a crash, a leak or a huge allocation. */
#include <stdint.h>
#include <stdlib.h>

#include "blorc/npy.h"
#include "fuzz_input_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_input_path(data, size, ".npy");
  if (!path) return 0;
  blorc_array a;
  blorc_error e;
  if (blorc_npy_load(path, &a, &e) == BLORC_OK) {
    if (a.ndim < 1 || a.ndim > 2 || (a.ndim == 1 && a.cols != 1)) abort();
    /* The data were read from this input: touch every value so ASan checks the extent. */
    volatile double sum = 0;
    for (size_t i = 0; i < a.rows * a.cols; i++) sum += a.data[i];
    (void)sum;
  } else if (!e.msg[0]) {
    abort(); /* every failure carries a message */
  }
  blorc_array_free(&a);
  return 0;
}
