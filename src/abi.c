/* Sizes of the public structs for bindings that mirror them (python/blorc/_lib.py compares its
 * ctypes layouts with these at import, so a field added in C cannot go unnoticed there). */
#include <string.h>

#include "blorc/blorc.h"
#include "blorc/layer.h"

#define BLORC_ABI_ENTRY(T) \
  { #T, sizeof(T) }

size_t blorc_abi_sizeof(const char *type_name) {
  static const struct {
    const char *name;
    size_t size;
  } table[] = {
      BLORC_ABI_ENTRY(blorc_error),        BLORC_ABI_ENTRY(blorc_admm_opts),
      BLORC_ABI_ENTRY(blorc_admm_stats),   BLORC_ABI_ENTRY(blorc_polish_opts),
      BLORC_ABI_ENTRY(blorc_denoise_opts), BLORC_ABI_ENTRY(blorc_denoise_stats),
      BLORC_ABI_ENTRY(blorc_config),       BLORC_ABI_ENTRY(blorc_epoch_log),
      BLORC_ABI_ENTRY(blorc_train_hooks),  BLORC_ABI_ENTRY(blorc_train_result),
      BLORC_ABI_ENTRY(blorc_psnr_stats),   BLORC_ABI_ENTRY(blorc_operator),
      BLORC_ABI_ENTRY(blorc_rng),          BLORC_ABI_ENTRY(blorc_layer_stats),
  };
  if (!type_name) return 0;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(table[i].name, type_name) == 0) return table[i].size;
  return 0;
}
