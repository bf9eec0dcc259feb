/* See blorc/blas.h. OpenBLAS's DYNAMIC_ARCH builds read OPENBLAS_CORETYPE when they
 * initialise their kernel table; gotoblas_dynamic_quit/init (exported by those builds)
 * re-run that selection, so setting the variable and re-initialising once, before any
 * computation of ours, gives the documented override without re-executing the process.
 * Builds without those entry points (weak symbols below) keep their choice and report it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blorc/blas.h"

char *openblas_get_corename(void);
char *openblas_get_config(void);
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

/* Vector-extension levels: 1 SSE, 2 AVX, 3 AVX2 + FMA, 4 AVX-512 (F, CD, BW, DQ, VL). */
static int cpu_level(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return 4;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 3;
  if (__builtin_cpu_supports("avx")) return 2;
  return 1;
#else
  return 0; /* not x86-64: nothing to compare */
#endif
}

/* The level an OpenBLAS x86-64 kernel family was written for; 0 for names not listed. */
static int family_level(const char *name) {
  static const struct {
    const char *name;
    int level;
  } FAMILIES[] = {
      {"SkylakeX", 4},    {"Cooperlake", 4},  {"SapphireRapids", 4}, {"Haswell", 3},
      {"Zen", 3},         {"Sandybridge", 2}, {"Bulldozer", 2},      {"Piledriver", 2},
      {"Steamroller", 2}, {"Excavator", 2},   {"Prescott", 1},       {"Core2", 1},
      {"Penryn", 1},      {"Dunnington", 1},  {"Nehalem", 1},        {"Atom", 1},
      {"Nano", 1},        {"Opteron", 1},     {"Opteron(SSE3)", 1},  {"Barcelona", 1},
      {"Bobcat", 1},      {"Katmai", 1},      {"Coppermine", 1},     {"Northwood", 1},
      {"Banias", 1},      {"Athlon", 1},
  };
  for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
    if (!strcasecmp(name, FAMILIES[i].name)) return FAMILIES[i].level;
  return 0;
}

static const char *LEVEL_FAMILY[] = {"", "Prescott", "Sandybridge", "Haswell", "SkylakeX"};
static const char *LEVEL_ISA[] = {"unknown", "SSE", "AVX", "AVX2", "AVX-512"};

/* What the once-only selection saw and did: process-wide like the OpenBLAS table it
 * changes, written once under pthread_once and read-only afterwards. */
static struct {
  char openblas_choice[32];
  int selected;
} g_selection;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Re-runs OpenBLAS's kernel selection with OPENBLAS_CORETYPE = family. The variable only
 * steers this re-initialisation; unset again, it does not leak into child processes as if
 * the user had set it. */
static void reinit_openblas(const char *family) {
  setenv("OPENBLAS_CORETYPE", family, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

static void select_once(void) {
  int have_reinit = gotoblas_dynamic_init && gotoblas_dynamic_quit;
  const char *emulate = getenv("BLORC_EMULATE_BLAS_FALLBACK");
  if (emulate && *emulate && strcmp(emulate, "0") != 0 && have_reinit &&
      !getenv("OPENBLAS_CORETYPE"))
    reinit_openblas("Prescott");
  snprintf(g_selection.openblas_choice, sizeof g_selection.openblas_choice, "%s",
           openblas_get_corename());
  int cpu = cpu_level(), have = family_level(g_selection.openblas_choice);
  if (getenv("OPENBLAS_CORETYPE") || cpu < 2 || have == 0 || have >= cpu) return;
  if (!have_reinit) return;
  reinit_openblas(LEVEL_FAMILY[cpu]);
  g_selection.selected = family_level(openblas_get_corename()) == cpu;
}

void blorc_blas_select_kernels(void) {
  pthread_once(&g_once, select_once);
}

void blorc_blas_query(blorc_blas_info *out) {
  memset(out, 0, sizeof *out);
  /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": the name and version are its first words. */
  const char *config = openblas_get_config();
  const char *sp = strchr(config, ' ');
  int len = sp ? (int)strcspn(sp + 1, " ") + (int)(sp - config) + 1 : (int)strlen(config);
  snprintf(out->library, sizeof out->library, "%.*s", len, config);
  snprintf(out->kernels, sizeof out->kernels, "%s", openblas_get_corename());
  int cpu = cpu_level(), have = family_level(out->kernels);
  snprintf(out->isa, sizeof out->isa, "%s", LEVEL_ISA[cpu]);
  snprintf(out->cpu_family, sizeof out->cpu_family, "%s", LEVEL_FAMILY[cpu]);
  int ran = g_selection.openblas_choice[0] != 0;
  snprintf(out->openblas_choice, sizeof out->openblas_choice, "%s",
           ran ? g_selection.openblas_choice : out->kernels);
  out->selected = g_selection.selected;
  out->forced = !out->selected && getenv("OPENBLAS_CORETYPE") != NULL;
  out->fallback = have > 0 && cpu > 0 && have < cpu;
  const char *cpu_word = cpu > 0 ? LEVEL_ISA[cpu] : "this CPU";
  if (out->selected)
    snprintf(out->summary, sizeof out->summary,
             "%s, %s kernels (selected by blorc for %s; OpenBLAS chose %s)", out->library,
             out->kernels, cpu_word, out->openblas_choice);
  else if (out->forced)
    snprintf(out->summary, sizeof out->summary, "%s, %s kernels (forced by OPENBLAS_CORETYPE%s%s)",
             out->library, out->kernels, out->fallback ? "; this CPU has " : "",
             out->fallback ? cpu_word : "");
  else if (out->fallback)
    snprintf(out->summary, sizeof out->summary,
             "%s, %s kernels (a FALLBACK below this CPU's %s; set OPENBLAS_CORETYPE=%s)",
             out->library, out->kernels, cpu_word, out->cpu_family);
  else
    snprintf(out->summary, sizeof out->summary, "%s, %s kernels (OpenBLAS's choice for %s)",
             out->library, out->kernels, cpu_word);
}
