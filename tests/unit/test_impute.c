/* test_impute.c: checks of ROAD's noisy linear imputer (src/impute.c), one translation unit.
 *
 *   gcc -std=c11 -O1 -g -Wall -Wextra -I src tests/unit/test_impute.c -lm && ./a.out
 *
 * 1. The equations: at every unknown pixel, s_i v_i = sum_{j ~ i in image} w_ij v_j for the output v
 *    (w = 1/6 edge, 1/12 diagonal neighbours, s_i = the sum of the w_ij present), to 1e-6.
 * 2. A small case against a dense Gaussian elimination of the same system built here (1e-5).
 * 3. Exact solutions: a constant image stays constant, a linear ramp is reproduced under an interior
 *    hole (the symmetric weights average a linear function to itself), 1x2 with one known pixel.
 * 4. Known pixels are bit-identical; noise 0 is deterministic; noise > 0 changes only the unknowns,
 *    by draws of mean ~0 and standard deviation ~noise, the same for the same seed only.
 * 5. All unknown -> GC_IMPUTE_SINGULAR (img untouched); nothing unknown -> OK, untouched.
 * 6. 224x224x3 with blob-shaped masks (a thresholded smooth field) at 10 / 50 / 90 % unknown:
 *    equations to 1e-6, at most 25 CG iterations (~17 now: a guard on the preconditioner), and the
 *    time and iterations printed (times here are of this build: -O0 + sanitizers under ctest).
 * The last line is "N passed, M failed"; the exit status is nonzero on any failure. */
#include "../../src/impute.c"

#include <stdio.h>
#include <time.h>

#include "check.h"
#include "numeric.h" /* urand */

static double now(void) { return (double)clock() / CLOCKS_PER_SEC; }

static const double W[9] = {1.0 / 12, 1.0 / 6, 1.0 / 12, 1.0 / 6, 0, 1.0 / 6, 1.0 / 12, 1.0 / 6, 1.0 / 12};

/* max over unknown pixels and channels of |s_i v_i - sum_j w_ij v_j| */
static double stencil_err(const float *v, const uint8_t *keep, int h, int w, int c) {
  double e = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      if (keep[y * w + x]) continue;
      for (int ch = 0; ch < c; ch++) {
        double s = 0, m = 0;
        for (int d = 0; d < 9; d++) {
          const int yy = y + d / 3 - 1, xx = x + d % 3 - 1;
          if (d == 4 || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          s += W[d], m += W[d] * v[(yy * w + xx) * c + ch];
        }
        e = fmax(e, fabs(s * v[(y * w + x) * c + ch] - m));
      }
    }
  return e;
}

static float *rand_img(int h, int w, int c) {
  float *f = malloc((size_t)h * w * c * sizeof *f);
  for (int i = 0; i < h * w * c; i++) f[i] = (float)urand();
  return f;
}

static float *copy(const float *f, size_t n) {
  float *g = malloc(n * sizeof *g);
  memcpy(g, f, n * sizeof *g);
  return g;
}

/* 1 if every known pixel is bit-identical */
static int known_same(const float *a, const float *b, const uint8_t *keep, int hw, int c) {
  for (int i = 0; i < hw; i++)
    if (keep[i] && memcmp(a + (size_t)i * c, b + (size_t)i * c, (size_t)c * sizeof *a)) return 0;
  return 1;
}

/* Blob mask: keep = field >= its `frac` quantile, field a sum of smooth waves (like a CAM). */
static uint8_t *blob_mask(int h, int w, double frac, int phase) {
  double *f = malloc((size_t)h * w * sizeof *f), *s = malloc((size_t)h * w * sizeof *s);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      f[y * w + x] = sin(0.045 * x + 0.3 * phase) * cos(0.037 * y - 0.2) + 0.6 * sin(0.021 * (x + y) + phase) +
                     0.3 * cos(0.09 * x - 0.05 * y);
  memcpy(s, f, (size_t)h * w * sizeof *s); /* shell sort for the quantile */
  for (int gap = h * w / 2; gap > 0; gap /= 2)
    for (int i = gap; i < h * w; i++)
      for (int j = i; j >= gap && s[j - gap] > s[j]; j -= gap) { const double t = s[j]; s[j] = s[j - gap], s[j - gap] = t; }
  const double thr = s[(int)(frac * h * w)];
  uint8_t *keep = malloc((size_t)h * w);
  for (int i = 0; i < h * w; i++) keep[i] = f[i] >= thr;
  free(f), free(s);
  return keep;
}

/* ============================================================================================ */

/* the same system, dense, by Gaussian elimination with partial pivoting (small n only) */
static void dense_ref(const float *img, const uint8_t *keep, int h, int w, int c, double *out /* [h*w][c] */) {
  int n = 0, *id = malloc((size_t)h * w * sizeof *id);
  for (int i = 0; i < h * w; i++) id[i] = keep[i] ? -1 : n++;
  double *A = calloc((size_t)n * (n + c), sizeof *A); /* [n][n + c]: matrix | right-hand sides */
  const int ld = n + c;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const int i = id[y * w + x];
      if (i < 0) continue;
      for (int d = 0; d < 9; d++) {
        const int yy = y + d / 3 - 1, xx = x + d % 3 - 1;
        if (d == 4 || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        A[i * ld + i] += W[d];
        const int j = id[yy * w + xx];
        if (j >= 0) A[i * ld + j] -= W[d];
        else
          for (int ch = 0; ch < c; ch++) A[i * ld + n + ch] += W[d] * img[(yy * w + xx) * c + ch];
      }
    }
  for (int k = 0; k < n; k++) {
    int p = k;
    for (int i = k + 1; i < n; i++)
      if (fabs(A[i * ld + k]) > fabs(A[p * ld + k])) p = i;
    for (int j = 0; j < ld; j++) { const double t = A[k * ld + j]; A[k * ld + j] = A[p * ld + j], A[p * ld + j] = t; }
    for (int i = k + 1; i < n; i++) {
      const double f = A[i * ld + k] / A[k * ld + k];
      for (int j = k; j < ld; j++) A[i * ld + j] -= f * A[k * ld + j];
    }
  }
  for (int k = n - 1; k >= 0; k--)
    for (int ch = 0; ch < c; ch++) {
      double s = A[k * ld + n + ch];
      for (int j = k + 1; j < n; j++) s -= A[k * ld + j] * A[j * ld + n + ch];
      A[k * ld + n + ch] = s / A[k * ld + k];
    }
  for (int i = 0; i < h * w; i++)
    for (int ch = 0; ch < c; ch++) out[i * c + ch] = id[i] < 0 ? img[i * c + ch] : A[id[i] * ld + n + ch];
  free(id), free(A);
}

static void test_small(int h, int w, int c, double frac) {
  float *img = rand_img(h, w, c), *orig = copy(img, (size_t)h * w * c);
  uint8_t *keep = malloc((size_t)h * w);
  for (int i = 0; i < h * w; i++) keep[i] = urand() >= frac;
  keep[0] = 1; /* at least one known */
  for (int i = 0; i < h * w * c; i++) /* NaN where unknown: must be overwritten, never read */
    if (!keep[i / c]) img[i] = NAN;
  double *ref = malloc((size_t)h * w * c * sizeof *ref);
  dense_ref(orig, keep, h, w, c, ref);
  const int rc = gc_impute_linear(img, keep, h, w, c, 0, 1);
  double e = 0;
  for (int i = 0; i < h * w * c; i++) e = fmax(e, fabs(img[i] - ref[i]));
  CHECK(rc == 0, "small %dx%dx%d: rc %d", h, w, c, rc);
  CHECK(e < 1e-5, "small %dx%dx%d vs dense solve: max err %.2e", h, w, c, e);
  CHECK(stencil_err(img, keep, h, w, c) < 1e-6, "small %dx%dx%d: equations off by %.2e", h, w, c, stencil_err(img, keep, h, w, c));
  CHECK(known_same(img, orig, keep, h * w, c), "small %dx%dx%d: a known pixel changed", h, w, c);
  free(img), free(orig), free(keep), free(ref);
}

static void test_exact(void) {
  /* constant image, unknowns touching the borders */
  const int h = 40, w = 50, c = 2;
  float *img = malloc((size_t)h * w * c * sizeof *img);
  uint8_t *keep = blob_mask(h, w, 0.7, 1);
  for (int i = 0; i < h * w * c; i++) img[i] = keep[i / c] ? (i % c ? -2.5f : 0.75f) : 99.0f;
  CHECK(gc_impute_linear(img, keep, h, w, c, 0, 0) == 0, "constant: rc");
  double e = 0;
  for (int i = 0; i < h * w * c; i++) e = fmax(e, fabs(img[i] - (i % c ? -2.5 : 0.75)));
  CHECK(e < 1e-6, "constant image: imputed off by %.2e", e);
  /* a linear ramp with an interior hole (a disc): reproduced */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      keep[y * w + x] = (y - 20) * (y - 20) + (x - 24) * (x - 24) > 120;
      img[(y * w + x) * c] = keep[y * w + x] ? 0.02f * x - 0.03f * y + 0.5f : 0;
      img[(y * w + x) * c + 1] = keep[y * w + x] ? 0.01f * (x + y) : 0;
    }
  CHECK(gc_impute_linear(img, keep, h, w, c, 0, 0) == 0, "ramp: rc");
  e = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      e = fmax(e, fmax(fabs(img[(y * w + x) * c] - (0.02 * x - 0.03 * y + 0.5)), fabs(img[(y * w + x) * c + 1] - 0.01 * (x + y))));
  CHECK(e < 1e-5, "linear ramp under a hole: off by %.2e", e);
  free(img), free(keep);
  /* 1x2, one known: the unknown's only neighbour */
  float two[2] = {0.625f, -7};
  const uint8_t k2[2] = {1, 0};
  CHECK(gc_impute_linear(two, k2, 1, 2, 1, 0, 0) == 0 && fabsf(two[1] - 0.625f) < 1e-7f, "1x2: got %g", two[1]);
}

static void test_errors(void) {
  float img[12], before[12];
  uint8_t keep[4] = {0, 0, 0, 0};
  for (int i = 0; i < 12; i++) img[i] = before[i] = (float)i;
  CHECK(gc_impute_linear(img, keep, 2, 2, 3, 0, 0) == GC_IMPUTE_SINGULAR, "all unknown must be singular");
  CHECK(!memcmp(img, before, sizeof img), "all unknown: img must stay untouched");
  CHECK(gc_impute_linear(img, keep, 1, 1, 3, 0.1, 0) == GC_IMPUTE_SINGULAR, "1x1 unknown must be singular");
  memset(keep, 1, sizeof keep);
  CHECK(gc_impute_linear(img, keep, 2, 2, 3, 0.5, 7) == 0 && !memcmp(img, before, sizeof img), "nothing unknown: OK, untouched");
  CHECK(gc_impute_linear(img, keep, 0, 2, 3, 0, 0) == GC_IMPUTE_SINGULAR, "h = 0 must fail");
}

static void test_noise(void) {
  const int h = 96, w = 96, c = 3, hw = h * w;
  float *img = rand_img(h, w, c), *a = copy(img, (size_t)hw * c), *b = copy(img, (size_t)hw * c),
        *n1 = copy(img, (size_t)hw * c), *n2 = copy(img, (size_t)hw * c), *n3 = copy(img, (size_t)hw * c);
  uint8_t *keep = blob_mask(h, w, 0.5, 2);
  gc_impute_linear(a, keep, h, w, c, 0, 1);
  gc_impute_linear(b, keep, h, w, c, 0, 2);
  CHECK(!memcmp(a, b, (size_t)hw * c * sizeof *a), "noise 0: results differ (seed must not matter)");
  const double sd = 0.05;
  gc_impute_linear(n1, keep, h, w, c, sd, 42);
  gc_impute_linear(n2, keep, h, w, c, sd, 42);
  gc_impute_linear(n3, keep, h, w, c, sd, 43);
  CHECK(!memcmp(n1, n2, (size_t)hw * c * sizeof *a), "noise: same seed, different result");
  CHECK(memcmp(n1, n3, (size_t)hw * c * sizeof *a), "noise: other seed, same result");
  CHECK(known_same(n1, img, keep, hw, c), "noise touched a known pixel");
  double s = 0, s2 = 0;
  int m = 0;
  for (int i = 0; i < hw * c; i++)
    if (!keep[i / c]) {
      const double d = (double)n1[i] - a[i];
      s += d, s2 += d * d, m++;
    }
  const double mean = s / m, std = sqrt(s2 / m - mean * mean);
  CHECK(fabs(std / sd - 1) < 0.03 && fabs(mean) < 5 * sd / sqrt(m), "noise: %d draws, mean %.2e, std %.4f (want %.4f)", m, mean, std, sd);
  free(img), free(a), free(b), free(n1), free(n2), free(n3), free(keep);
}

static void test_224(double frac) {
  const int h = 224, w = 224, c = 3;
  float *img = rand_img(h, w, c), *orig = copy(img, (size_t)h * w * c);
  for (int y = 0; y < h; y++) /* an image-like smooth part, so the solution is not all mean */
    for (int x = 0; x < w; x++)
      for (int ch = 0; ch < c; ch++) img[(y * w + x) * c + ch] = orig[(y * w + x) * c + ch] = (float)(0.3 * img[(y * w + x) * c + ch] + sin(0.05 * x * (ch + 1)) * cos(0.03 * y));
  uint8_t *keep = blob_mask(h, w, frac, 0);
  int n = 0;
  for (int i = 0; i < h * w; i++) n += !keep[i];
  const double t0 = now();
  const int rc = gc_impute_linear(img, keep, h, w, c, 0, 0);
  const double t = now() - t0, e = stencil_err(img, keep, h, w, c);
  CHECK(rc == 0, "224x224 %.0f%%: rc %d", 100 * frac, rc);
  CHECK(e < 1e-6, "224x224 %.0f%% unknown: equations off by %.2e", 100 * frac, e);
  CHECK(known_same(img, orig, keep, h * w, c), "224x224: a known pixel changed");
  CHECK(impute_iters <= 25, "224x224 %.0f%%: %d CG iterations, the preconditioner has got worse", 100 * frac, impute_iters);
  printf("  224x224x3, %d unknown (%.0f%%): %d CG iterations, %.1f ms, equations to %.1e\n", n, 100.0 * n / (h * w),
         impute_iters, 1e3 * t, e);
  free(img), free(orig), free(keep);
}

int main(void) {
  test_small(13, 11, 3, 0.4);
  test_small(9, 17, 1, 0.8);
  test_small(20, 20, 2, 0.97);
  test_small(1, 30, 3, 0.5);
  test_small(30, 1, 2, 0.5);
  test_exact();
  test_errors();
  test_noise();
  test_224(0.1);
  test_224(0.5);
  test_224(0.9);
  return check_report();
}
