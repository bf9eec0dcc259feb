/* Which BLAS runs, with which kernels, and making sure they fit the CPU.
 *
 * Debian's OpenBLAS (a DYNAMIC_ARCH build) picks its kernel family from the CPU model at
 * load time. A model newer than the library (e.g. Emerald Rapids under OpenBLAS 0.3.21) gets
 * the generic Prescott (SSE3) kernels: 4-5x slower GEMMs on a CPU with AVX-512. blorc checks
 * the family against the CPU's feature flags instead and, where OpenBLAS fell back, selects
 * the family the flags call for. */
#ifndef BLORC_BLAS_H
#define BLORC_BLAS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct blorc_blas_info {
  char library[64];         /* e.g. "OpenBLAS 0.3.21" */
  char kernels[32];         /* kernel family in use, e.g. "SkylakeX" */
  char cpu_family[32];      /* the family this CPU's vector extensions call for ("" if unknown) */
  char isa[16];             /* the CPU's widest vector extension: "AVX-512", "AVX2", "AVX", "SSE" */
  char openblas_choice[32]; /* what OpenBLAS itself chose at load time */
  int forced;               /* OPENBLAS_CORETYPE was set by the user: blorc left it alone */
  int selected;             /* blorc replaced OpenBLAS's fallback by cpu_family */
  int fallback;             /* the family in use is below the CPU's vector extensions */
  char summary[256];        /* one line for --version, bench headers and results files */
} blorc_blas_info;

/* Once per process (later calls return at once): when OpenBLAS runs a kernel family below
 * this CPU's vector extensions (AVX2, AVX-512) and OPENBLAS_CORETYPE is not set, re-selects
 * OpenBLAS's kernels for the CPU's feature flags. blorc_backend_create calls it; call it
 * yourself before any other thread runs BLAS if your program does, since it replaces the
 * kernel table that every BLAS call reads. Setting OPENBLAS_CORETYPE (any value OpenBLAS
 * knows) keeps OpenBLAS's own choice, e.g. OPENBLAS_CORETYPE=Prescott to test the fallback.
 * BLORC_EMULATE_BLAS_FALLBACK=1 (for tests) first puts OpenBLAS on its Prescott kernels, as
 * on a CPU model it does not know, so that the selection itself can be exercised anywhere. */
void blorc_blas_select_kernels(void);

/* Describes the BLAS in use now (after blorc_blas_select_kernels, if it ran). */
void blorc_blas_query(blorc_blas_info *out);

#ifdef __cplusplus
}
#endif
#endif
