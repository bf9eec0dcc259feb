/* Stage 3: thresholded sign pattern s = tsign(W x, gamma) per sample; its zeros mark the
 * rows of W0 (the mask of stage 4). */
#include "blorc/elementwise.h"
#include "cpu_backend.h"

blorc_status cpu_signs(blorc_backend *b, double gamma, blorc_error *err) {
  (void)err;
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, B = b->B;
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, B, n, 1.0, c->W, n, c->Xa, n, 0.0, c->V,
              k);
  size_t kB = (size_t)k * B;
  for (size_t i = 0; i < kB; i++) c->S[i] = blorc_thresh_sign(c->V[i], gamma);
  return BLORC_OK;
}
