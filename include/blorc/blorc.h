/* blorc-gpu public API: include this one header. */
#ifndef BLORC_BLORC_H
#define BLORC_BLORC_H

#include "blorc/active_set.h"
#include "blorc/backend.h"
#include "blorc/blas.h"
#include "blorc/config.h"
#include "blorc/data.h"
#include "blorc/denoise.h"
#include "blorc/elementwise.h"
#include "blorc/error.h"
#include "blorc/evaluate.h"
#include "blorc/image.h"
#include "blorc/layer.h"
#include "blorc/npy.h"
#include "blorc/operator.h"
#include "blorc/rng.h"
#include "blorc/train.h"
#include "blorc/transforms.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version string, e.g. "0.1.0". */
const char *blorc_version(void);
/* One line describing the build: CUDA on/off and architectures, BLAS flavour. */
const char *blorc_build_info(void);

#ifdef __cplusplus
}
#endif
#endif
