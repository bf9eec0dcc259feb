/* Fuzz targets: the parsers take paths, so each input is written to one private temporary
 * file (created once per process) before the parser opens it. */
#ifndef BLORC_FUZZ_INPUT_FILE_H
#define BLORC_FUZZ_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Writes data to the process's input file, suffixed like ".npy"; returns its path, or NULL
 * when the file cannot be written (the target then skips the input). */
const char *fuzz_input_path(const uint8_t *data, size_t size, const char *suffix);

#endif
