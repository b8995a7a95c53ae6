/* test_dconv.c: convolution by im2col + GEMM (src/dconv.c), the forward of the stem, the stride-2 3x3s
 * and the 1x1 downsamples.
 *
 *   gcc -std=c11 -O1 -g -Wall -Wextra -I src tests/unit/test_dconv.c -lm && ./a.out
 *
 * Against a double-precision direct convolution (+ bias, ReLU) to 2e-6 of the largest output (a float
 * sum of up to 2304 products: 1.0e-6 at layer4.0.conv1's, as any float convolution's), on
 * ResNet's shapes at 224x224 and on odd sizes (blocks of 64 pixels that do and do not divide the map,
 * rows past the 4-row kernel); a fake pool's 3-thread split gives bit-identical output; every output is
 * written (NaN-prefilled) and the scratch's end is guarded. */
#include "../../src/dconv.c"

#include <math.h>
#include <stdio.h>

#include "check.h"
#include "fake_pool.h"
#include "numeric.h"

#define GUARD 64

static const gc_parallel fake3 = FAKE_POOL(3);

static void test_conv(int h, int w, int ic, int oc, int k, int s, int p, int relu) {
  const int oh = out_size(h, k, s, p), ow = out_size(w, k, s, p);
  const size_t nx = (size_t)h * w * ic, ny = (size_t)oh * ow * oc, nw = (size_t)oc * k * k * ic;
  double *xd, *wd, *bd, *want = malloc(ny * sizeof *want);
  float *x = rand_f(nx, &xd), *y1 = malloc(ny * sizeof *y1), *y3 = malloc(ny * sizeof *y3);
  gc_conv c = {oc, ic, k, k, s, p, rand_f(nw, &wd), rand_f((size_t)oc, &bd), NULL, NULL};
  const float sc = (float)(1.0 / sqrt((double)k * k * ic)); /* outputs O(1), as in a trained net */
  for (size_t i = 0; i < nw; i++) { c.w[i] *= sc; wd[i] = c.w[i]; }
  const conv_shape cs = {h, w, ic, oc, k, s, p};
  conv_fwd(&cs, xd, wd, bd, want);
  if (relu) for (size_t i = 0; i < ny; i++) want[i] = want[i] > 0 ? want[i] : 0;
  gc_dconv d;
  CHECK(gc_dconv_supported(&c) && gc_dconv_init(&d, &c, relu) == 0, "init %d->%d %dx%d/%d", ic, oc, k, k, s);
  const size_t n1 = gc_dconv_scratch(&d, h, w, 1), n3 = gc_dconv_scratch(&d, h, w, 3);
  float *s1 = malloc((n1 + GUARD) * sizeof *s1), *s3 = malloc((n3 + GUARD) * sizeof *s3);
  for (int i = 0; i < GUARD; i++) s1[n1 + i] = s3[n3 + i] = 12345.0f;
  for (size_t i = 0; i < ny; i++) y1[i] = y3[i] = NAN;
  gc_dconv_forward(&d, x, h, w, y1, s1, NULL);
  gc_dconv_forward(&d, x, h, w, y3, s3, &fake3);
  int guards = 1;
  for (int i = 0; i < GUARD; i++) guards &= s1[n1 + i] == 12345.0f && s3[n3 + i] == 12345.0f;
  const double e = rel_err(y1, want, ny);
  CHECK(e < 2e-6 && guards, "%dx%dx%d -> %d, %dx%d/%d pad %d%s: rel err %.1e (guards %d)", h, w, ic, oc, k, k, s, p,
        relu ? " relu" : "", e, guards);
  CHECK(!memcmp(y1, y3, ny * sizeof *y1), "%dx%dx%d -> %d, %dx%d/%d: 3-thread split not bit-identical", h, w, ic, oc,
        k, k, s);
  printf("%3dx%-3d %3d->%-3d %dx%d/%d pad %d%s  rel err %.1e\n", h, w, ic, oc, k, k, s, p, relu ? " relu" : "     ", e);
  gc_dconv_free(&d);
  free(x); free(xd); free(y1); free(y3); free(want); free(c.w); free(c.b); free(wd); free(bd); free(s1); free(s3);
}

int main(void) {
  test_conv(224, 224, 3, 64, 7, 2, 3, 0);   /* the stem (its pre-ReLU output is kept) */
  test_conv(56, 56, 64, 128, 3, 2, 1, 1);   /* layer2.0.conv1 */
  test_conv(28, 28, 128, 256, 3, 2, 1, 1);  /* layer3.0.conv1 */
  test_conv(14, 14, 256, 512, 3, 2, 1, 1);  /* layer4.0.conv1: 49 pixels, one block */
  test_conv(14, 14, 256, 512, 1, 2, 0, 0);  /* layer4.0.downsample */
  test_conv(56, 56, 64, 128, 1, 2, 0, 0);   /* layer2.0.downsample */
  test_conv(37, 41, 3, 64, 7, 2, 3, 1);     /* odd sizes: 19x21 = 399 pixels, a short last block */
  test_conv(9, 11, 24, 40, 3, 2, 1, 1);     /* 5x6 = 30 pixels: rows past the 4-row kernel */
  test_conv(3, 3, 8, 8, 3, 1, 1, 0);        /* tiny, stride 1 */
  return check_report();
}
