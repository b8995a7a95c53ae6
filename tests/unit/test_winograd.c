/* test_winograd.c: the F(4x4, 3x3) convolution (src/winograd.c), forward and data gradient.
 *
 *   gcc -std=c11 -O1 -g -Wall -Wextra -I src tests/unit/test_winograd.c -lm && ./a.out
 *
 * 1. Forward against a double-precision direct convolution (+ bias, + residual, ReLU), on map sizes
 *    that are and are not multiples of the 2x2 tile, and on ResNet-18's layer1-4 shapes at 224x224,
 *    to 1e-6 of the largest output: the accuracy of a float direct convolution (F(4x4, 3x3) gave
 *    3e-6 to 6e-6 here, and that was too coarse for the gradients; see winograd.h).
 * 2. Data gradient: finite differences of L(x) = <dy, conv(x)> in double, and the plain C reference
 *    transposed convolution of backward.c (float, so its own rounding counts too: 5e-6) on the ResNet
 *    shapes.
 * 3. Any thread split gives bit-identical results (a fake pool runs the tasks in reverse order on
 *    3 "threads"); outputs are prefilled with NaN (every element must be written) and the scratch's
 *    end is guarded. */
#include "../../src/backward.c"
#include "../../src/winograd.c"

#include <stdio.h>

#include "check.h"
#include "fake_pool.h"
#include "numeric.h"

#define GUARD 64

typedef struct {
  int h, w, C, K;
} shape;

/* conv c with random weights in [-1, 1) / sqrt(9 C) (so outputs stay O(1), as in a trained net) */
static gc_conv make_conv(int C, int K, double **wd, double **bd) {
  gc_conv c = {K, C, 3, 3, 1, 1, NULL, NULL, NULL, NULL};
  const size_t nw = (size_t)K * 9 * C;
  c.w = rand_f(nw, wd);
  const float s = (float)(1.0 / sqrt(9.0 * C));
  for (size_t i = 0; i < nw; i++) { c.w[i] *= s; (*wd)[i] = c.w[i]; }
  c.b = rand_f((size_t)K, bd);
  return c;
}

static const gc_parallel fake3 = FAKE_POOL(3);

static float *guarded(size_t n) {
  float *p = malloc((n + GUARD) * sizeof *p);
  for (size_t i = 0; i < GUARD; i++) p[n + i] = 12345.0f;
  return p;
}
static int guard_ok(const float *p, size_t n) {
  for (size_t i = 0; i < GUARD; i++)
    if (p[n + i] != 12345.0f) return 0;
  return 1;
}
static void fill_nan(float *p, size_t n) { for (size_t i = 0; i < n; i++) p[i] = NAN; }

static void test_forward(shape s, int with_res, int relu) {
  const size_t nx = (size_t)s.h * s.w * s.C, ny = (size_t)s.h * s.w * s.K;
  double *xd, *wd, *bd, *rd = NULL, *want = malloc(ny * sizeof *want);
  float *x = rand_f(nx, &xd), *res = with_res ? rand_f(ny, &rd) : NULL, *y = malloc(ny * sizeof *y),
        *y3 = malloc(ny * sizeof *y3);
  gc_conv c = make_conv(s.C, s.K, &wd, &bd);
  const conv_shape cs = {s.h, s.w, s.C, s.K, 3, 1, 1};
  conv_fwd(&cs, xd, wd, bd, want);
  for (size_t i = 0; i < ny; i++) {
    if (rd) want[i] += rd[i];
    if (relu && want[i] < 0) want[i] = 0;
  }
  gc_wino k;
  CHECK(gc_wino_supported(&c) && gc_wino_init(&k, &c) == 0, "init %dx%d %d->%d", s.h, s.w, s.C, s.K);
  const size_t n1 = gc_wino_scratch(&k, s.h, s.w, 1), n3 = gc_wino_scratch(&k, s.h, s.w, 3);
  float *sc1 = guarded(n1), *sc3 = guarded(n3);
  fill_nan(y, ny); fill_nan(y3, ny);
  gc_wino_forward(&k, x, s.h, s.w, res, relu, y, sc1, NULL);
  gc_wino_forward(&k, x, s.h, s.w, res, relu, y3, sc3, &fake3);
  const double e = rel_err(y, want, ny);
  CHECK(e < 1e-6 && guard_ok(sc1, n1) && guard_ok(sc3, n3),
        "forward %dx%d %d->%d%s%s: rel err %.1e (guards %d %d)", s.h, s.w, s.C, s.K, with_res ? " +res" : "",
        relu ? " relu" : "", e, guard_ok(sc1, n1), guard_ok(sc3, n3));
  CHECK(!memcmp(y, y3, ny * sizeof *y), "forward %dx%d %d->%d: 3-thread split not bit-identical", s.h, s.w, s.C, s.K);
  if (with_res) { /* y may alias res */
    gc_wino_forward(&k, x, s.h, s.w, res, relu, res, sc1, NULL);
    CHECK(!memcmp(y, res, ny * sizeof *y), "forward %dx%d: y aliasing res differs", s.h, s.w);
  }
  printf("forward %3dx%-3d %3d->%-3d%s%s  rel err %.1e\n", s.h, s.w, s.C, s.K, with_res ? " +res" : "     ",
         relu ? " relu" : "     ", e);
  gc_wino_free(&k);
  free(x); free(xd); free(res); free(rd); free(y); free(y3); free(want); free(c.w); free(c.b); free(wd); free(bd);
  free(sc1); free(sc3);
}

/* fd: also check against finite differences (small shapes only: 2 forwards per input element) */
static void test_backward(shape s, int fd) {
  const size_t nx = (size_t)s.h * s.w * s.C, ny = (size_t)s.h * s.w * s.K;
  double *wd, *bd, *dyd, *xd;
  float *dy = rand_f(ny, &dyd), *dx = malloc(nx * sizeof *dx), *dx3 = malloc(nx * sizeof *dx3),
        *ref = malloc(nx * sizeof *ref);
  gc_conv c = make_conv(s.C, s.K, &wd, &bd);
  gc_wino k;
  CHECK(gc_wino_init(&k, &c) == 0, "init");
  const size_t n1 = gc_wino_scratch(&k, s.h, s.w, 1), n3 = gc_wino_scratch(&k, s.h, s.w, 3);
  float *sc1 = guarded(n1), *sc3 = guarded(n3);
  fill_nan(dx, nx); fill_nan(dx3, nx);
  gc_wino_backward_data(&k, dy, s.h, s.w, NULL, NULL, dx, sc1, NULL);
  gc_wino_backward_data(&k, dy, s.h, s.w, NULL, NULL, dx3, sc3, &fake3);
  gc_conv2d_backward_data_ref(dy, s.h, s.w, s.K, c.w, 3, 3, s.C, 1, 1, ref, s.h, s.w, NULL);
  double *refd = to_double(ref, nx);
  const double e = rel_err(dx, refd, nx);
  CHECK(e < 5e-6 && guard_ok(sc1, n1) && guard_ok(sc3, n3), "backward %dx%d %d->%d vs reference: rel err %.1e",
        s.h, s.w, s.C, s.K, e);
  CHECK(!memcmp(dx, dx3, nx * sizeof *dx), "backward %dx%d %d->%d: 3-thread split not bit-identical", s.h, s.w,
        s.C, s.K);
  /* the fused steps: + add, then the ReLU mask, equal to doing them after */
  float *add = rand_f(nx, NULL), *relu_out = rand_f(nx, NULL), *fused = malloc(nx * sizeof *fused);
  gc_wino_backward_data(&k, dy, s.h, s.w, add, relu_out, fused, sc3, &fake3);
  size_t bad = 0;
  for (size_t i = 0; i < nx; i++) {
    const float want = relu_out[i] > 0 ? dx[i] + add[i] : 0.0f;
    bad += memcmp(&want, fused + i, sizeof want) != 0;
  }
  CHECK(bad == 0, "backward %dx%d %d->%d: fused add + ReLU mask differ in %zu of %zu", s.h, s.w, s.C, s.K, bad, nx);
  free(add); free(relu_out); free(fused);
  double efd = 0;
  if (fd) {
    float *x = rand_f(nx, &xd);
    double *g = malloc(nx * sizeof *g), *y = malloc(ny * sizeof *y);
    const conv_ctx t = {{s.h, s.w, s.C, s.K, 3, 1, 1}, wd, dyd, y};
    fd_grad(conv_loss, &t, xd, nx, g);
    efd = rel_err(dx, g, nx);
    CHECK(efd < 1e-4, "backward %dx%d %d->%d vs finite differences: rel err %.1e", s.h, s.w, s.C, s.K, efd);
    free(x); free(xd); free(g); free(y);
  }
  printf("backward %3dx%-3d %3d->%-3d  rel err %.1e vs reference", s.h, s.w, s.C, s.K, e);
  if (fd) printf(", %.1e vs finite differences", efd);
  printf("\n");
  gc_wino_free(&k);
  free(dy); free(dyd); free(dx); free(dx3); free(ref); free(refd); free(c.w); free(c.b); free(wd); free(bd);
  free(sc1); free(sc3);
}

int main(void) {
  gc_conv bad = {16, 16, 3, 3, 2, 1, NULL, NULL, NULL, NULL};
  CHECK(!gc_wino_supported(&bad), "stride 2 must not be supported");
  bad.stride = 1; bad.ic = 12;
  CHECK(!gc_wino_supported(&bad), "12 input channels must not be supported");
  /* small and ragged maps: tiles hanging past the right and bottom edges, a single tile, 1 pixel */
  const shape small[] = {{1, 1, 8, 8}, {4, 4, 8, 8}, {5, 7, 8, 16}, {9, 13, 16, 8}, {6, 3, 8, 24}, {14, 14, 32, 32}};
  for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
    test_forward(small[i], 0, 0);
    test_forward(small[i], 1, 1);
    test_backward(small[i], small[i].h * small[i].w * small[i].C <= 2048);
  }
  /* ResNet-18 layers 1-3 at 224x224, and layer2 at an odd input (33x47 -> 5x6 after the stem) */
  const shape resnet[] = {{56, 56, 64, 64}, {28, 28, 128, 128}, {14, 14, 256, 256}, {7, 7, 512, 512},
                          {5, 6, 128, 128}};
  for (size_t i = 0; i < sizeof resnet / sizeof *resnet; i++) {
    test_forward(resnet[i], 1, 1);
    test_backward(resnet[i], 0);
  }
  return check_report();
}
