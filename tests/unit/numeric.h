/* numeric.h: what the C tests of the backward kernels share (test_backward.c, test_winograd.c):
 * a seeded RNG, random float inputs with exact double copies, relative error, central finite
 * differences, a plain double-precision convolution and its finite-difference loss. Static functions:
 * include it once per test. */
#ifndef GC_NUMERIC_H
#define GC_NUMERIC_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng = 0x243F6A8885A308D3ull;
static inline double urand(void) { /* splitmix64, uniform in [0, 1) */
  uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/* n random floats in [-1, 1), and their exact double copies (d may be NULL) */
static inline float *rand_f(size_t n, double **d) {
  float *f = malloc(n * sizeof *f);
  if (d) *d = malloc(n * sizeof **d);
  for (size_t i = 0; i < n; i++) {
    f[i] = (float)(2.0 * urand() - 1.0);
    if (d) (*d)[i] = f[i];
  }
  return f;
}

static inline double *to_double(const float *f, size_t n) {
  double *d = malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = f[i];
  return d;
}

/* max |got - want| / max |want|; a NaN anywhere (e.g. an element the kernel never wrote) is inf */
static inline double rel_err(const float *got, const double *want, size_t n) {
  double e = 0, m = 0;
  for (size_t i = 0; i < n; i++) {
    const double d = fabs(got[i] - want[i]);
    if (isnan(d)) return INFINITY;
    e = d > e ? d : e;
    m = fabs(want[i]) > m ? fabs(want[i]) : m;
  }
  return m > 0 ? e / m : e;
}

static inline double dot(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Central differences of L at x (x is perturbed in place and restored). */
typedef double (*loss_fn)(const double *x, const void *ctx);
static inline void fd_grad(loss_fn L, const void *ctx, double *x, size_t n, double *g) {
  const double eps = 1e-6;
  for (size_t i = 0; i < n; i++) {
    const double xi = x[i];
    x[i] = xi + eps;
    const double lp = L(x, ctx);
    x[i] = xi - eps;
    const double lm = L(x, ctx);
    x[i] = xi;
    g[i] = (lp - lm) / (2 * eps);
  }
}

/* ---- double-precision conv forward (NHWC, OHWI, as the kernels) ---- */
static inline int out_size(int n, int k, int s, int p) { return (n + 2 * p - k) / s + 1; }

typedef struct {
  int h, w, ic, oc, k, s, p;
} conv_shape;

/* y[oy][ox][oc] = sum w[oc][ky][kx][ic] * x[oy*s + ky - p][ox*s + kx - p][ic] (+ b[oc] if b) */
static inline void conv_fwd(const conv_shape *c, const double *x, const double *w, const double *b,
                     double *y) {
  const int oh = out_size(c->h, c->k, c->s, c->p), ow = out_size(c->w, c->k, c->s, c->p);
  for (int oy = 0; oy < oh; oy++)
    for (int ox = 0; ox < ow; ox++)
      for (int o = 0; o < c->oc; o++) {
        double acc = b ? b[o] : 0;
        for (int ky = 0; ky < c->k; ky++)
          for (int kx = 0; kx < c->k; kx++) {
            const int iy = oy * c->s + ky - c->p, ix = ox * c->s + kx - c->p;
            if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
            for (int i = 0; i < c->ic; i++)
              acc += w[((o * c->k + ky) * c->k + kx) * c->ic + i] *
                     x[(iy * c->w + ix) * c->ic + i];
          }
        y[(oy * ow + ox) * c->oc + o] = acc;
      }
}

/* L(x) = <dy, conv(x)> for a convolution with weights w (no bias): the loss whose gradient with
 * respect to x is the conv's data gradient given dy; y is scratch for conv(x). */
typedef struct {
  conv_shape c;
  const double *w, *dy;
  double *y;
} conv_ctx;

static inline double conv_loss(const double *x, const void *vc) {
  const conv_ctx *t = vc;
  conv_fwd(&t->c, x, t->w, NULL, t->y);
  return dot(t->dy, t->y,
             (size_t)out_size(t->c.h, t->c.k, t->c.s, t->c.p) *
                 out_size(t->c.w, t->c.k, t->c.s, t->c.p) * t->c.oc);
}

#endif
