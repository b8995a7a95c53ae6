/* test_backward.c: checks of the backward kernels (src/backward.c), one translation unit.
 *
 *   gcc -std=c11 -O1 -g -Wall -Wextra -I src tests/unit/test_backward.c -lm && ./a.out
 *   emcc -std=c11 -O2 -msimd128 -I src tests/unit/test_backward.c -o /tmp/tb.js
 *   node --no-experimental-fetch /tmp/tb.js   (emcc 3.1.6's loader + node >= 18 needs the flag)
 *
 * 1. Finite differences, in double: for each op a plain double-precision forward f lives here;
 *    with a random dy, L(x) = <dy, f(x)> and its central differences (eps 1e-6) must match the
 *    kernel's dx (float) to 1e-4 relative (max |error| / max |gradient|). Ops are linear or
 *    piecewise linear, so the differences are exact up to rounding, as long as no kink (ReLU at
 *    0, a max-pool tie) lies within eps: inputs are drawn to stay away from them.
 * 2. Max pool follows PyTorch's scan: first of equal maxima, NaN wins (last NaN of a window).
 * 3. A small residual block chain (conv, relu, conv, + shortcut, relu, avgpool, fc), class score
 *    against its input, by finite differences.
 * 4. wasm SIMD builds: the SIMD conv kernel against the plain C reference (1e-5 relative) on every
 *    ResNet-18 conv shape at 224x224 and at 33x47, and on odd channel counts.
 * Every conv check also prefills dx with NaN (the kernel must overwrite all of it) and guards the
 * scratch buffer's end. The last line is "N passed, M failed"; the exit status is nonzero on any
 * failure. */
#include "../../src/backward.c"

#include <stdint.h>
#include <stdio.h>

/* ============================================================================================
 * Harness
 * ============================================================================================ */
#include "check.h"
#include "fake_pool.h"

#include "numeric.h"

/* ============================================================================================
 * Double-precision forwards (NHWC, OHWI, as the kernels)
 * ============================================================================================ */
static void maxpool_fwd(const double *x, int h, int w, int c, int k, int s, int p, double *y) {
  const int oh = out_size(h, k, s, p), ow = out_size(w, k, s, p);
  for (int oy = 0; oy < oh; oy++)
    for (int ox = 0; ox < ow; ox++)
      for (int ch = 0; ch < c; ch++) {
        double m = -INFINITY;
        for (int y_ = oy * s - p; y_ < oy * s - p + k; y_++)
          for (int x_ = ox * s - p; x_ < ox * s - p + k; x_++)
            if (y_ >= 0 && y_ < h && x_ >= 0 && x_ < w && x[(y_ * w + x_) * c + ch] > m)
              m = x[(y_ * w + x_) * c + ch];
        y[(oy * ow + ox) * c + ch] = m;
      }
}

static void relu_fwd(double *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

static double min_abs(const double *x, size_t n) {
  double m = INFINITY;
  for (size_t i = 0; i < n; i++) m = fabs(x[i]) < m ? fabs(x[i]) : m;
  return m;
}

/* ============================================================================================
 * Conv helpers: run a kernel with NaN-prefilled dx and a guarded scratch
 * ============================================================================================ */
typedef void (*conv_bwd_fn)(const float *, int, int, int, const float *, int, int, int, int, int,
                            float *, int, int, float *);

/* Runs k on (dy, w) into dx; returns 0 if the scratch guard was overwritten. */
static int run_conv_bwd(conv_bwd_fn k, const conv_shape *c, const float *dy, const float *w,
                        float *dx, int own_scratch) {
  const int oh = out_size(c->h, c->k, c->s, c->p), ow = out_size(c->w, c->k, c->s, c->p);
  const size_t ns = gc_conv2d_backward_data_scratch(oh, ow, c->oc, c->k, c->k, c->ic, c->s, c->p,
                                                    c->h, c->w),
               guard = 64;
  float *scratch = own_scratch ? NULL : malloc((ns + guard) * sizeof *scratch);
  for (size_t i = 0; i < (size_t)c->h * c->w * c->ic; i++) dx[i] = NAN;
  if (scratch)
    for (size_t i = 0; i < guard; i++) scratch[ns + i] = 12345.0f;
  k(dy, oh, ow, c->oc, w, c->k, c->k, c->ic, c->s, c->p, dx, c->h, c->w, scratch);
  int ok = 1;
  if (scratch)
    for (size_t i = 0; i < guard; i++) ok &= scratch[ns + i] == 12345.0f;
  free(scratch);
  return ok;
}

/* ============================================================================================
 * 1. Finite-difference checks, one op at a time
 * ============================================================================================ */

static void test_conv_fd(conv_shape c) {
  const size_t nx = (size_t)c.h * c.w * c.ic, nw = (size_t)c.oc * c.k * c.k * c.ic,
               ny = (size_t)out_size(c.h, c.k, c.s, c.p) * out_size(c.w, c.k, c.s, c.p) * c.oc;
  double *xd, *wd, *dyd, *g = malloc(nx * sizeof *g), *y = malloc(ny * sizeof *y);
  float *x = rand_f(nx, &xd), *w = rand_f(nw, &wd), *dy = rand_f(ny, &dyd);
  float *dx = malloc(nx * sizeof *dx);
  const conv_ctx t = {c, wd, dyd, y};
  fd_grad(conv_loss, &t, xd, nx, g);
  static const struct { conv_bwd_fn f; const char *name; int own; } v[] = {
      {gc_conv2d_backward_data_ref, "ref", 0},
      {gc_conv2d_backward_data, "fast", 0},
      {gc_conv2d_backward_data, "fast, scratch NULL", 1}};
  for (int i = 0; i < 3; i++) {
    const int guard_ok = run_conv_bwd(v[i].f, &c, dy, w, dx, v[i].own);
    const double e = rel_err(dx, g, nx);
    CHECK(guard_ok && e < 1e-4, "conv fd %dx%d/%d pad %d, %dx%d, %d->%d [%s]: rel err %.1e%s",
          c.k, c.k, c.s, c.p, c.h, c.w, c.ic, c.oc, v[i].name, e,
          guard_ok ? "" : ", SCRATCH OVERRUN");
  }
  free(xd), free(wd), free(dyd), free(g), free(y), free(x), free(w), free(dy), free(dx);
}

typedef struct {
  int h, w, c, k, s, p;
  const double *dy;
  double *y;
} pool_ctx;

static double pool_loss(const double *x, const void *vc) {
  const pool_ctx *t = vc;
  maxpool_fwd(x, t->h, t->w, t->c, t->k, t->s, t->p, t->y);
  const int oh = out_size(t->h, t->k, t->s, t->p), ow = out_size(t->w, t->k, t->s, t->p);
  return dot(t->dy, t->y, (size_t)oh * ow * t->c);
}

/* The max pool backward in bands on 2, 3 and 7 fake threads equals the one-band scan bit for bit. */
static int maxpool_bands_same(const float *dy, int oh, int ow, const float *x, int h, int w, int c, int k, int s,
                              int p, int relu, const float *want) {
  float *dx = malloc((size_t)h * w * c * sizeof *dx);
  int same = 1;
  for (int t = 2; t <= 7; t += t == 3 ? 4 : 1) {
    const gc_parallel par = FAKE_POOL(t);
    gc_maxpool2d_backward(dy, oh, ow, x, h, w, c, k, s, p, relu, dx, &par);
    same &= !memcmp(dx, want, (size_t)h * w * c * sizeof *dx);
  }
  free(dx);
  return same;
}

static void test_maxpool_fd(int h, int w, int c, int k, int s, int p) {
  const int oh = out_size(h, k, s, p), ow = out_size(w, k, s, p);
  const size_t nx = (size_t)h * w * c, ny = (size_t)oh * ow * c;
  /* tie-free input: a shuffled ramp with steps of 1/64, far larger than eps */
  float *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *dx);
  for (size_t i = 0; i < nx; i++) x[i] = (float)i / 64.0f - 1.0f;
  for (size_t i = nx - 1; i > 0; i--) {
    const size_t j = (size_t)(urand() * (i + 1));
    const float t = x[i];
    x[i] = x[j], x[j] = t;
  }
  double *xd = to_double(x, nx), *dyd, *g = malloc(nx * sizeof *g), *y = malloc(ny * sizeof *y);
  float *dy = rand_f(ny, &dyd);
  const pool_ctx t = {h, w, c, k, s, p, dyd, y};
  fd_grad(pool_loss, &t, xd, nx, g);
  gc_maxpool2d_backward(dy, oh, ow, x, h, w, c, k, s, p, 0, dx, NULL);
  const double e = rel_err(dx, g, nx);
  CHECK(e < 1e-4, "maxpool fd %dx%d/%d pad %d, %dx%dx%d: rel err %.1e", k, k, s, p, h, w, c, e);
  CHECK(maxpool_bands_same(dy, oh, ow, x, h, w, c, k, s, p, 0, dx), "maxpool %dx%d/%d pad %d, %dx%dx%d: bands differ",
        k, k, s, p, h, w, c);
  /* the fused ReLU mask = the pass, then gc_relu_backward; x as a ReLU's output, 80% of it 0 so that
   * some windows hold only zeros */
  const float cut = -1.0f + 0.8f * (float)nx / 64.0f;
  for (size_t i = 0; i < nx; i++) x[i] = x[i] > cut ? x[i] - cut : 0;
  float *fused = malloc(nx * sizeof *fused);
  gc_maxpool2d_backward(dy, oh, ow, x, h, w, c, k, s, p, 0, dx, NULL);
  size_t masked = 0; /* gradient the mask removes: windows whose max is 0 (so the test can fail) */
  for (size_t i = 0; i < nx; i++) masked += x[i] <= 0 && dx[i] != 0;
  gc_relu_backward(dx, x, nx);
  gc_maxpool2d_backward(dy, oh, ow, x, h, w, c, k, s, p, 1, fused, NULL);
  CHECK(!memcmp(fused, dx, nx * sizeof *dx) && masked > 0, "maxpool %dx%d/%d pad %d: fused relu mask differs", k, k, s, p);
  CHECK(maxpool_bands_same(dy, oh, ow, x, h, w, c, k, s, p, 1, dx), "maxpool %dx%d/%d pad %d, %dx%dx%d: fused bands differ",
        k, k, s, p, h, w, c);
  free(fused);
  free(x), free(dx), free(xd), free(dyd), free(g), free(y), free(dy);
}

typedef struct {
  int kind; /* 0 relu, 1 avgpool, 2 fc, 3 add (x + b) */
  int h, w, c, n;
  const double *dy, *W, *b;
  double *y;
} small_ctx;

static double small_loss(const double *x, const void *vc) {
  const small_ctx *t = vc;
  const size_t nx = (size_t)t->h * t->w * t->c;
  if (t->kind == 0 || t->kind == 3) {
    for (size_t i = 0; i < nx; i++) t->y[i] = x[i] + (t->kind == 3 ? t->b[i] : 0);
    if (t->kind == 0) relu_fwd(t->y, nx);
    return dot(t->dy, t->y, nx);
  }
  if (t->kind == 1) {
    for (int ch = 0; ch < t->c; ch++) {
      double s = 0;
      for (int i = 0; i < t->h * t->w; i++) s += x[i * t->c + ch];
      t->y[ch] = s / (t->h * t->w);
    }
    return dot(t->dy, t->y, t->c);
  }
  for (int r = 0; r < t->n; r++) t->y[r] = dot(t->W + (size_t)r * t->c, x, t->c);
  return dot(t->dy, t->y, t->n);
}

static void test_small_ops_fd(void) {
  enum { H = 5, W = 7, C = 6, N = 9 };
  const size_t nx = H * W * C;
  double *xd, *dyd, *Wd, *bd, g[H * W * C], y[H * W * C];
  float *x = rand_f(nx, &xd), *dy = rand_f(nx, &dyd), *Wf = rand_f(N * C, &Wd);
  float *b = rand_f(nx, &bd), dx[H * W * C];
  for (size_t i = 0; i < nx; i++) /* keep ReLU inputs away from the kink at 0 */
    if (fabs(xd[i]) < 0.05) x[i] = x[i] < 0 ? -0.5f : 0.5f, xd[i] = x[i];

  small_ctx t = {0, H, W, C, N, dyd, Wd, bd, y};
  fd_grad(small_loss, &t, xd, nx, g); /* relu */
  float yf[H * W * C];
  for (size_t i = 0; i < nx; i++) yf[i] = x[i] > 0 ? x[i] : 0, dx[i] = dy[i];
  gc_relu_backward(dx, yf, nx);
  double e = rel_err(dx, g, nx);
  CHECK(e < 1e-4, "relu fd, %zu elements: rel err %.1e", nx, e);

  t.kind = 1;
  fd_grad(small_loss, &t, xd, nx, g);
  gc_avgpool_backward(dy, H, W, C, dx);
  e = rel_err(dx, g, nx);
  CHECK(e < 1e-4, "avgpool fd, %dx%dx%d: rel err %.1e", H, W, C, e);

  t.kind = 2, t.h = t.w = 1;
  fd_grad(small_loss, &t, xd, C, g);
  gc_fc_backward(dy, Wf, N, C, dx);
  e = rel_err(dx, g, C);
  CHECK(e < 1e-4, "fc fd, %d x %d: rel err %.1e", N, C, e);

  t.kind = 3, t.h = H, t.w = W;
  fd_grad(small_loss, &t, xd, nx, g); /* d<dy, x + b>/dx = dy, added onto an existing gradient */
  double *want = malloc(nx * sizeof *want);
  for (size_t i = 0; i < nx; i++) dx[i] = b[i], want[i] = g[i] + b[i];
  gc_add_inplace(dx, dy, nx);
  e = rel_err(dx, want, nx);
  CHECK(e < 1e-4, "add fd (acc += g), %zu elements: rel err %.1e", nx, e);
  free(want), free(x), free(dy), free(Wf), free(b), free(xd), free(dyd), free(Wd), free(bd);
}

/* ============================================================================================
 * 2. Max pool tie-breaking and NaN, as PyTorch
 * ============================================================================================ */
static void test_maxpool_ties(void) {
  enum { H = 7, W = 8, C = 67, K = 3, S = 2, P = 1, OH = 4, OW = 4 };
  float x[H * W * C], dx[H * W * C], want[H * W * C] = {0}, *dy = rand_f(OH * OW * C, NULL);
  for (int i = 0; i < H * W * C; i++) x[i] = 1.0f; /* all equal: each window's first pixel wins */
  for (int oy = 0; oy < OH; oy++)
    for (int ox = 0; ox < OW; ox++)
      for (int ch = 0; ch < C; ch++) {
        const int y0 = oy * S - P < 0 ? 0 : oy * S - P, x0 = ox * S - P < 0 ? 0 : ox * S - P;
        want[(y0 * W + x0) * C + ch] += dy[(oy * OW + ox) * C + ch];
      }
  gc_maxpool2d_backward(dy, OH, OW, x, H, W, C, K, S, P, 0, dx, NULL);
  int same = 1;
  for (int i = 0; i < H * W * C; i++) same &= dx[i] == want[i];
  CHECK(same, "maxpool ties: constant input, the first pixel of each window gets the gradient");
  CHECK(maxpool_bands_same(dy, OH, OW, x, H, W, C, K, S, P, 0, dx), "maxpool ties: bands differ");

  /* 5x5x1, 3x3/2 pad 1, NaN at (1,1) and (2,2): windows (0,0), (0,1), (1,0) hold only the first,
   * window (1,1) holds both and PyTorch picks the later one in scan order. */
  float xn[25], dxn[25], g[9] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  for (int i = 0; i < 25; i++) xn[i] = (float)i;
  xn[1 * 5 + 1] = NAN, xn[2 * 5 + 2] = NAN;
  gc_maxpool2d_backward(g, 3, 3, xn, 5, 5, 1, 3, 2, 1, 0, dxn, NULL);
  CHECK(dxn[6] == 1 + 2 + 8 && dxn[12] == 16 && dxn[24] == 256,
        "maxpool NaN: NaN beats numbers, last NaN of a window wins (dx = %g, %g, %g)", dxn[6],
        dxn[12], dxn[24]);
  free(dy);
}

/* ============================================================================================
 * 3. End-to-end: a BasicBlock, avgpool and fc, class score vs the block input
 * ============================================================================================
 * score = fc(avgpool(relu(conv_b(relu(conv_a(x))) + shortcut(x))))[cls], shortcut = identity, or a
 * 1x1/s conv when conv_a has stride 2 (torchvision's downsample). */
typedef struct {
  conv_shape a, b, d; /* d.oc == 0: identity shortcut */
  const double *wa, *ba, *wb, *bb, *wd, *fc;
  int classes, cls;
  double *y1, *y2, *sc; /* relu(conv_a), relu(conv_b + shortcut) before pooling, shortcut */
} chain_ctx;

static double chain_loss(const double *x, const void *vc) {
  const chain_ctx *t = vc;
  const int h = out_size(t->a.h, 3, t->a.s, 1), w = out_size(t->a.w, 3, t->a.s, 1);
  const size_t n = (size_t)h * w * t->a.oc;
  conv_fwd(&t->a, x, t->wa, t->ba, t->y1);
  relu_fwd(t->y1, n);
  conv_fwd(&t->b, t->y1, t->wb, t->bb, t->y2);
  if (t->d.oc) conv_fwd(&t->d, x, t->wd, NULL, t->sc);
  for (size_t i = 0; i < n; i++) t->y2[i] += t->d.oc ? t->sc[i] : x[i];
  relu_fwd(t->y2, n);
  double score = 0;
  for (int ch = 0; ch < t->a.oc; ch++) {
    double s = 0;
    for (int i = 0; i < h * w; i++) s += t->y2[i * t->a.oc + ch];
    score += t->fc[t->cls * t->a.oc + ch] * s / (h * w);
  }
  return score;
}

/* Smallest |pre-activation| of the two ReLUs at x: a perturbation of eps moves them by at most
 * ~eps * (9*c + 1) (weights in [-1, 1]), so the differences see no kink if this is above 1e-3. */
static double chain_margin(const chain_ctx *t, const double *x) {
  const int h = out_size(t->a.h, 3, t->a.s, 1), w = out_size(t->a.w, 3, t->a.s, 1);
  const size_t n = (size_t)h * w * t->a.oc;
  conv_fwd(&t->a, x, t->wa, t->ba, t->y1);
  double m = min_abs(t->y1, n);
  relu_fwd(t->y1, n);
  conv_fwd(&t->b, t->y1, t->wb, t->bb, t->y2);
  if (t->d.oc) conv_fwd(&t->d, x, t->wd, NULL, t->sc);
  for (size_t i = 0; i < n; i++) t->y2[i] += t->d.oc ? t->sc[i] : x[i];
  return fmin(m, min_abs(t->y2, n));
}

static void test_chain(int h, int w, int c_in, int c, int s) {
  const int oh = out_size(h, 3, s, 1), ow = out_size(w, 3, s, 1), classes = 5, cls = 2;
  const size_t nx = (size_t)h * w * c_in, n = (size_t)oh * ow * c;
  chain_ctx t = {{h, w, c_in, c, 3, s, 1}, {oh, ow, c, c, 3, 1, 1},
                 {h, w, c_in, s > 1 ? c : 0, 1, s, 0}, 0, 0, 0, 0, 0, 0, classes, cls,
                 malloc(n * sizeof(double)), malloc(n * sizeof(double)),
                 malloc(n * sizeof(double))};
  double *xd, *wad, *bad, *wbd, *bbd, *wdd, *fcd, *g = malloc(nx * sizeof *g), margin;
  float *x, *wa, *ba, *wb, *bb, *wd, *fc;
  for (int draw = 0;; draw++) { /* redraw (deterministically) until no ReLU input is near 0 */
    x = rand_f(nx, &xd), wa = rand_f((size_t)c * 9 * c_in, &wad), ba = rand_f(c, &bad);
    wb = rand_f((size_t)c * 9 * c, &wbd), bb = rand_f(c, &bbd);
    wd = rand_f((size_t)c * c_in, &wdd), fc = rand_f((size_t)classes * c, &fcd);
    t.wa = wad, t.ba = bad, t.wb = wbd, t.bb = bbd, t.wd = wdd, t.fc = fcd;
    margin = chain_margin(&t, xd);
    if (margin > 1e-3 || draw == 20) break;
    free(xd), free(wad), free(bad), free(wbd), free(bbd), free(wdd), free(fcd);
    free(x), free(wa), free(ba), free(wb), free(bb), free(wd), free(fc);
  }
  fd_grad(chain_loss, &t, xd, nx, g);
  chain_loss(xd, &t); /* the ReLU outputs the backward needs */
  float *y1 = malloc(n * sizeof *y1), *y2 = malloc(n * sizeof *y2);
  for (size_t i = 0; i < n; i++) y1[i] = (float)t.y1[i], y2[i] = (float)t.y2[i];

  float dlogits[5] = {0}, feat[64], *g2 = malloc(n * sizeof *g2), *g1 = malloc(n * sizeof *g1);
  float *dx = malloc(nx * sizeof *dx), *dsc = malloc(nx * sizeof *dsc);
  dlogits[cls] = 1;
  gc_fc_backward(dlogits, fc, classes, c, feat);
  gc_avgpool_backward(feat, oh, ow, c, g2);
  gc_relu_backward(g2, y2, n);                                  /* g2: block output gradient */
  gc_conv2d_backward_data(g2, oh, ow, c, wb, 3, 3, c, 1, 1, g1, oh, ow, NULL);
  gc_relu_backward(g1, y1, n);
  gc_conv2d_backward_data(g1, oh, ow, c, wa, 3, 3, c_in, s, 1, dx, h, w, NULL);
  if (t.d.oc) {
    gc_conv2d_backward_data(g2, oh, ow, c, wd, 1, 1, c_in, s, 0, dsc, h, w, NULL);
    gc_add_inplace(dx, dsc, nx);
  } else {
    gc_add_inplace(dx, g2, nx);
  }
  const double e = rel_err(dx, g, nx);
  CHECK(e < 1e-4 && margin > 1e-3,
        "chain fd: block %dx%dx%d -> %d stride %d (%s shortcut), avgpool, fc: rel err %.1e, "
        "relu margin %.1e", h, w, c_in, c, s, t.d.oc ? "1x1 conv" : "identity", e, margin);
  free(t.y1), free(t.y2), free(t.sc), free(g), free(xd), free(wad), free(bad), free(wbd);
  free(bbd), free(wdd), free(fcd), free(x), free(wa), free(ba), free(wb), free(bb), free(wd);
  free(fc), free(y1), free(y2), free(g2), free(g1), free(dx), free(dsc);
}

/* ============================================================================================
 * 4. SIMD kernel against the reference (wasm SIMD builds only)
 * ============================================================================================ */
#ifdef __wasm_simd128__
static void test_simd_vs_ref(const char *name, conv_shape c) {
  const int oh = out_size(c.h, c.k, c.s, c.p), ow = out_size(c.w, c.k, c.s, c.p);
  const size_t nx = (size_t)c.h * c.w * c.ic;
  /* weights first: layer4's 9.4 MB must fit the default 16 MB wasm memory with the rest */
  float *w = rand_f((size_t)c.oc * c.k * c.k * c.ic, NULL);
  float *dy = rand_f((size_t)oh * ow * c.oc, NULL);
  float *ref = malloc(nx * sizeof *ref), *fast = malloc(nx * sizeof *fast);
  if (!w || !dy || !ref || !fast) {
    CHECK(0, "simd vs ref %s: out of memory", name);
  } else {
    gc_conv2d_backward_data_ref(dy, oh, ow, c.oc, w, c.k, c.k, c.ic, c.s, c.p, ref, c.h, c.w, NULL);
    const int guard_ok = run_conv_bwd(gc_conv2d_backward_data, &c, dy, w, fast, 0);
    double *refd = to_double(ref, nx);
    const double e = rel_err(fast, refd, nx);
    CHECK(guard_ok && e <= 1e-5,
          "simd vs ref %-28s %3dx%-3d %dx%d/%d pad %d %3d->%-3d: rel err %.1e%s",
          name, c.h, c.w, c.k, c.k, c.s, c.p, c.ic, c.oc, e, guard_ok ? "" : ", SCRATCH OVERRUN");
    free(refd);
  }
  free(w), free(dy), free(ref), free(fast);
}

static void test_simd_all(void) {
  /* ResNet-18's convs (data gradient of each) at 224x224 input, then at 33x47, whose feature
   * maps are 17x24 (conv1), 9x12 (layer1), 5x6, 3x3, 2x2; then odd channel counts. */
  static const struct { const char *name; int hw[2][2], ic, oc, k, s, p; } r18[] = {
      {"conv1", {{224, 224}, {33, 47}}, 3, 64, 7, 2, 3},
      {"layer1 conv", {{56, 56}, {9, 12}}, 64, 64, 3, 1, 1},
      {"layer2.0.conv1", {{56, 56}, {9, 12}}, 64, 128, 3, 2, 1},
      {"layer2.0.downsample", {{56, 56}, {9, 12}}, 64, 128, 1, 2, 0},
      {"layer2 conv", {{28, 28}, {5, 6}}, 128, 128, 3, 1, 1},
      {"layer3.0.conv1", {{28, 28}, {5, 6}}, 128, 256, 3, 2, 1},
      {"layer3.0.downsample", {{28, 28}, {5, 6}}, 128, 256, 1, 2, 0},
      {"layer3 conv", {{14, 14}, {3, 3}}, 256, 256, 3, 1, 1},
      {"layer4.0.conv1", {{14, 14}, {3, 3}}, 256, 512, 3, 2, 1},
      {"layer4.0.downsample", {{14, 14}, {3, 3}}, 256, 512, 1, 2, 0},
      {"layer4 conv", {{7, 7}, {2, 2}}, 512, 512, 3, 1, 1},
  };
  for (int size = 0; size < 2; size++)
    for (size_t i = 0; i < sizeof r18 / sizeof *r18; i++)
      test_simd_vs_ref(r18[i].name, (conv_shape){r18[i].hw[size][0], r18[i].hw[size][1], r18[i].ic,
                                                 r18[i].oc, r18[i].k, r18[i].s, r18[i].p});
  test_simd_vs_ref("odd channels", (conv_shape){11, 9, 13, 7, 3, 2, 1});
  test_simd_vs_ref("odd channels", (conv_shape){10, 3, 20, 3, 3, 1, 1});
  test_simd_vs_ref("odd channels", (conv_shape){6, 5, 6, 9, 1, 1, 0});
  test_simd_vs_ref("odd channels", (conv_shape){13, 8, 5, 11, 7, 2, 3});
  test_simd_vs_ref("kernel 2x2 stride 2", (conv_shape){9, 7, 12, 8, 2, 2, 0});
  test_simd_vs_ref("3 input channels, 3x3/1", (conv_shape){9, 10, 3, 8, 3, 1, 1});
  test_simd_vs_ref("kernel 3x3 stride 3", (conv_shape){10, 11, 9, 5, 3, 3, 1});
  test_simd_vs_ref("1x1 with pad > k - 1", (conv_shape){7, 6, 5, 4, 1, 2, 1});
}
#endif

int main(void) {
  /* 1. single ops */
  test_conv_fd((conv_shape){7, 6, 5, 4, 3, 1, 1});    /* 3x3/1, odd/even sizes, ic tail */
  test_conv_fd((conv_shape){6, 7, 3, 2, 3, 1, 0});    /* no padding */
  test_conv_fd((conv_shape){5, 11, 16, 7, 3, 1, 1});  /* two full 8-channel slices */
  test_conv_fd((conv_shape){9, 8, 9, 6, 3, 2, 1});    /* 3x3/2, 8 + 1 channels */
  test_conv_fd((conv_shape){8, 10, 12, 3, 3, 2, 1});  /* 3x3/2, 8 + 4 channels */
  test_conv_fd((conv_shape){7, 9, 4, 5, 1, 2, 0});    /* 1x1/2 downsample: odd pixels get 0 */
  test_conv_fd((conv_shape){11, 13, 3, 4, 7, 2, 3});  /* conv1's 7x7/2 pad 3, 3 channels */
  test_conv_fd((conv_shape){7, 8, 3, 12, 3, 1, 1});   /* 3 channels, stride 1 (SIMD along oc) */
  test_conv_fd((conv_shape){6, 7, 2, 3, 2, 2, 0});    /* kernel = stride, last column unused */
  test_conv_fd((conv_shape){7, 6, 5, 3, 1, 2, 1});    /* pad > k - 1: dy's border reads only 0 */
  test_maxpool_fd(9, 10, 3, 3, 2, 1);                 /* ResNet's 3x3/2 pad 1 */
  test_maxpool_fd(8, 7, 5, 3, 2, 1);
  test_maxpool_fd(6, 6, 2, 2, 2, 0);
  test_maxpool_fd(5, 6, 70, 3, 2, 1);                 /* channels beyond one 64-channel block */
  test_small_ops_fd();
  /* 2. PyTorch's max pool rules */
  test_maxpool_ties();
  /* 3. a residual block end to end */
  test_chain(6, 7, 4, 4, 1);
  test_chain(7, 6, 3, 5, 2);
  /* 4. SIMD against reference */
#ifdef __wasm_simd128__
  test_simd_all();
#else
  printf("(SIMD vs reference checks skipped: not a wasm SIMD build)\n");
#endif
  return check_report();
}
