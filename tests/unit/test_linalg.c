/* test_linalg.c: checks of the eigen solver and the two projections (src/linalg.c), one translation unit.
 *
 *   gcc -std=c11 -O1 -g -Wall -Wextra -I src tests/unit/test_linalg.c -lm && ./a.out
 *
 * 1. gc_sym_top_eig on matrices with a known spectrum: diagonal, 2x2, zero, identity, and planted
 *    A = Q diag(l) Q^T (Q a product of Householder reflections, so the top eigenvector is known too)
 *    with spread, clustered, repeated, zero and large negative eigenvalues, n = 1 ... 1000 (dense up to
 *    600, Lanczos above), plus the matrix-free Lanczos on n = 50 / 300 / 700. Every result must be a
 *    unit vector with |A v - val v| <= 1e-10 |A|, val the planted top (largest ALGEBRAIC) eigenvalue,
 *    and, where that eigenvalue is simple, v = +-the planted eigenvector.
 * 2. gc_project_2d against a brute-force power iteration in double (both Gram branches), the sign
 *    rule (and its tie rule), a == -a up to the SVD sign, zero / constant / NaN input.
 * 3. gc_kpca_project: the 2-point closed form; a centred kernel built here, which out must satisfy:
 *    Kc out = |out|^2 out, |out|^2 = the top eigenvalue (by Jacobi here; at hw = 620, Lanczos inside,
 *    at least what power iteration reaches); a strongly indefinite kernel (|l_min| > 1.3 l_max: the
 *    algebraic top must win); center_x; hw > GC_KPCA_MAX.
 * The last line is "N passed, M failed"; the exit status is nonzero on any failure. */
#include "../../src/linalg.c"

#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "numeric.h" /* urand, rand_f, to_double, dot, rel_err */

#define PI 3.14159265358979323846
#define SQRT1_2 0.70710678118654752440

/* ============================================================================================
 * Helpers
 * ============================================================================================ */

static void matvec_full(const double *a, int n, const double *x, double *y) {
  for (int i = 0; i < n; i++) y[i] = dot(a + (size_t)i * n, x, n);
}

/* |A v - val v|_2 */
static double residual(const double *a, int n, const double *v, double val) {
  double *y = malloc((size_t)n * sizeof *y), r = 0;
  matvec_full(a, n, v, y);
  for (int i = 0; i < n; i++) r += (y[i] - val * v[i]) * (y[i] - val * v[i]);
  free(y);
  return sqrt(r);
}

/* x <- (I - 2 u u^T) x */
static void reflect(const double *u, int n, double *x) {
  const double s = 2 * dot(u, x, n);
  for (int i = 0; i < n; i++) x[i] -= s * u[i];
}

/* A = Q diag(l) Q^T with Q = H_1 ... H_r (r random reflections H = I - 2 u u^T); q_top = Q e_top.
 * H A H = A - 2 u w^T - 2 w u^T + 4 (u.w) u u^T with w = A u, O(n^2) per reflection. */
static double *planted(const double *l, int n, int r, int top, double *q_top) {
  double *a = calloc((size_t)n * n, sizeof *a), *u = malloc((size_t)r * n * sizeof *u), *w = malloc((size_t)n * sizeof *w);
  for (int i = 0; i < n; i++) a[(size_t)i * n + i] = l[i];
  for (int k = 0; k < r; k++) {
    double *uk = u + (size_t)k * n, nn = 0;
    for (int i = 0; i < n; i++) uk[i] = 2 * urand() - 1, nn += uk[i] * uk[i];
    for (int i = 0; i < n; i++) uk[i] /= sqrt(nn);
  }
  for (int k = r - 1; k >= 0; k--) { /* A <- H_k A H_k, innermost first */
    const double *uk = u + (size_t)k * n;
    matvec_full(a, n, uk, w);
    const double uw = dot(uk, w, n);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) a[(size_t)i * n + j] += -2 * uk[i] * w[j] - 2 * w[i] * uk[j] + 4 * uw * uk[i] * uk[j];
  }
  if (q_top) {
    for (int i = 0; i < n; i++) q_top[i] = i == top;
    for (int k = r - 1; k >= 0; k--) reflect(u + (size_t)k * n, n, q_top);
  }
  for (int i = 0; i < n; i++) /* exact symmetry */
    for (int j = 0; j < i; j++) a[(size_t)j * n + i] = a[(size_t)i * n + j] = 0.5 * (a[(size_t)i * n + j] + a[(size_t)j * n + i]);
  free(u), free(w);
  return a;
}

static int argmax(const double *l, int n) {
  int k = 0;
  for (int i = 1; i < n; i++)
    if (l[i] > l[k]) k = i;
  return k;
}

static double max_abs(const double *l, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(l[i]));
  return m;
}

typedef struct { const double *a; int n; int calls; } op_ctx;
static void op_mv(void *ctx, const double *x, double *y) {
  op_ctx *o = ctx;
  o->calls++;
  matvec_full(o->a, o->n, x, y);
}

/* Checks a result of the eigen solver against the planted spectrum l. simple: the top is simple, so v
 * must be +-q_top. use_op: through gc_sym_top_eig_op. */
static void check_eig(const char *name, const double *a, int n, const double *l, const double *q_top, int use_op) {
  double *v = malloc((size_t)n * sizeof *v), val = NAN;
  for (int i = 0; i < n; i++) v[i] = NAN;
  op_ctx o = {a, n, 0};
  const int rc = use_op ? gc_sym_top_eig_op(op_mv, &o, n, v, &val) : gc_sym_top_eig(a, n, v, &val);
  const double an = max_abs(l, n), top = l[argmax(l, n)];
  const double res = residual(a, n, v, val), nv = sqrt(dot(v, v, n));
  CHECK(rc == 0, "%s: rc %d", name, rc);
  CHECK(fabs(nv - 1) < 1e-12, "%s: |v| = %.17g", name, nv);
  CHECK(res <= 1e-10 * an, "%s: residual %.2e (|A| %.3g)", name, res, an);
  CHECK(fabs(val - top) <= 1e-10 * an, "%s: val %.17g, want %.17g", name, val, top);
  if (q_top) {
    const double c = fabs(dot(v, q_top, n));
    CHECK(fabs(c - 1) < 1e-9, "%s: |<v, q_top>| = %.17g", name, c);
  }
  if (use_op) printf("  %s: %d mat-vecs, residual %.1e\n", name, o.calls, an > 0 ? res / an : res);
  free(v);
}

/* ============================================================================================
 * 1. Eigen solver
 * ============================================================================================ */

static void test_small(void) {
  const double a1[1] = {-3}, l1[1] = {-3};
  check_eig("n=1", a1, 1, l1, NULL, 0);
  const double a2[4] = {2, 1, 1, 2}, l2[2] = {3, 1}, q2[2] = {SQRT1_2, SQRT1_2};
  check_eig("n=2 [[2,1],[1,2]]", a2, 2, l2, q2, 0);
  const double a3[4] = {-5, 0, 0, 1}, l3[2] = {-5, 1}, q3[2] = {0, 1};
  check_eig("n=2 diag(-5, 1): algebraic, not magnitude", a3, 2, l3, q3, 0);
  const double a4[4] = {0, 1e-200, 1e-200, 0}, l4[2] = {1e-200, -1e-200}, q4[2] = {SQRT1_2, SQRT1_2};
  check_eig("n=2 tiny entries", a4, 2, l4, q4, 0);
  double z[25] = {0}, lz[5] = {0};
  check_eig("zero 5x5", z, 5, lz, NULL, 0);
  check_eig("zero 5x5 (op)", z, 5, lz, NULL, 1);
  double *v = malloc(5 * sizeof *v), val;
  CHECK(gc_sym_top_eig(z, 0, v, &val) == -1, "n=0 must fail");
  free(v);
}

static void test_diagonal(int n, int repeated) {
  double *a = calloc((size_t)n * n, sizeof *a), *l = malloc((size_t)n * sizeof *l), *q = calloc((size_t)n, sizeof *q);
  for (int i = 0; i < n; i++) l[i] = 4 * urand() - 3; /* [-3, 1) */
  const int top = n / 3;
  l[top] = 2;
  if (repeated) l[n - 1] = l[0] = 2;
  q[top] = 1;
  for (int i = 0; i < n; i++) a[(size_t)i * n + i] = l[i];
  char name[64];
  snprintf(name, sizeof name, "diagonal n=%d%s", n, repeated ? " (top x3)" : "");
  check_eig(name, a, n, l, repeated ? NULL : q, 0);
  for (int i = 0; i < n; i++) a[(size_t)i * n + i] = 1, l[i] = 1;
  snprintf(name, sizeof name, "identity n=%d", n);
  check_eig(name, a, n, l, NULL, 0);
  free(a), free(l), free(q);
}

/* Planted spectra. kind: 0 spread in [-1, 1] (top gap 2/n), 1 PSD Gram-like (fast decay, most zero),
 * 2 indefinite (a big negative block: |l_min| = 10 |l_max|, top gap 0.2), 3 top repeated 3x,
 * 4 top cluster 1e-9 wide, 5 indefinite with a small top gap (Lanczos must restart, keeping the
 * largest ALGEBRAIC Ritz values, not the largest in magnitude) */
static void test_planted(int n, int kind, int use_op) {
  static const char *kinds[] = {"spread", "PSD, mostly zero", "indefinite, l_min = -10", "top repeated x3", "top cluster 1e-9",
                                "indefinite, top gap 1/n"};
  double *l = malloc((size_t)n * sizeof *l), *q = malloc((size_t)n * sizeof *q);
  for (int i = 0; i < n; i++) {
    switch (kind) {
    case 0: l[i] = -1 + 2.0 * i / (n - 1 > 0 ? n - 1 : 1); break;
    case 1: l[i] = i < 20 ? 100 * pow(0.5, i) : 0; break;
    case 2: l[i] = i < n / 4 ? -10 + urand() : 0.8 * urand(); break;
    case 5: l[i] = i < n / 4 ? -10 + urand() : (double)i / n; break;
    default: l[i] = 2 * urand() - 1; break;
    }
  }
  const int top = kind == 0 ? n - 1 : kind == 1 ? 0 : argmax(l, n);
  if (kind == 2) l[top] = 1;
  if (kind == 3) l[top] = l[(top + 1) % n] = l[(top + 2) % n] = 1.5;
  if (kind == 4) l[top] = 1.5, l[(top + 1) % n] = 1.5 - 1e-9;
  double *a = planted(l, n, 4, top, q);
  char name[96];
  snprintf(name, sizeof name, "planted n=%d %s%s", n, kinds[kind], use_op ? " (op)" : "");
  check_eig(name, a, n, l, kind == 3 || kind == 4 ? NULL : q, use_op);
  free(a), free(l), free(q);
}

/* ============================================================================================
 * 2. gc_project_2d
 * ============================================================================================ */

/* top eigenvector of the PSD g (n x n) by plain power iteration */
static void power_top(const double *g, int n, double *v, int iters) {
  double *y = malloc((size_t)n * sizeof *y);
  for (int i = 0; i < n; i++) v[i] = 1 + 0.1 * i;
  for (int it = 0; it < iters; it++) {
    matvec_full(g, n, v, y);
    const double s = sqrt(dot(y, y, n));
    for (int i = 0; i < n; i++) v[i] = y[i] / s;
  }
  free(y);
}

/* brute force: X centred, v = top eigenvector of X^T X by power iteration, p = X v, sign rule */
static void project_ref(const float *a, int hw, int c, double *p) {
  double *x = malloc((size_t)hw * c * sizeof *x), *g = calloc((size_t)c * c, sizeof *g), *v = malloc((size_t)c * sizeof *v);
  for (int ch = 0; ch < c; ch++) {
    double m = 0;
    for (int r = 0; r < hw; r++) m += isnan(a[r * c + ch]) ? 0 : a[r * c + ch];
    for (int r = 0; r < hw; r++) x[r * c + ch] = (isnan(a[r * c + ch]) ? 0 : a[r * c + ch]) - m / hw;
  }
  for (int i = 0; i < c; i++)
    for (int j = 0; j < c; j++)
      for (int r = 0; r < hw; r++) g[i * c + j] += x[r * c + i] * x[r * c + j];
  power_top(g, c, v, 3000);
  int k = 0;
  for (int r = 0; r < hw; r++) {
    p[r] = dot(x + (size_t)r * c, v, c);
    if (fabs(p[r]) > fabs(p[k])) k = r;
  }
  if (p[k] < 0)
    for (int r = 0; r < hw; r++) p[r] = -p[r];
  free(x), free(g), free(v);
}

static int sign_rule_ok(const float *o, int n) {
  int k = 0;
  for (int i = 1; i < n; i++)
    if (fabsf(o[i]) > fabsf(o[k])) k = i;
  return o[k] >= 0;
}

static void test_project(int hw, int c) {
  float *a = rand_f((size_t)hw * c, NULL), *o = malloc((size_t)hw * sizeof *o), *o2 = malloc((size_t)hw * sizeof *o2);
  for (int r = 0; r < hw; r++) /* a dominant direction, so that power iteration converges fast */
    for (int ch = 0; ch < c; ch++) a[r * c + ch] += (float)(3.0 * sin(0.7 * r + 1) * cos(0.3 * ch));
  double *p = malloc((size_t)hw * sizeof *p);
  project_ref(a, hw, c, p);
  const int rc = gc_project_2d(a, hw, c, o);
  const double e = rel_err(o, p, hw);
  CHECK(rc == 0 && e < 1e-6, "project_2d %dx%d (%s Gram) vs power iteration: rc %d, rel err %.1e", hw, c, hw <= c ? "X X^T" : "X^T X", rc, e);
  CHECK(sign_rule_ok(o, hw), "project_2d %dx%d: largest |entry| must be positive", hw, c);
  for (int i = 0; i < hw * c; i++) a[i] = -a[i]; /* -X has the same projection up to sign: identical after the rule */
  gc_project_2d(a, hw, c, o2);
  CHECK(rel_err(o2, p, hw) < 1e-6, "project_2d %dx%d: input negated gives a different result", hw, c);
  a[3] = NAN; /* NaN counts as 0 */
  gc_project_2d(a, hw, c, o);
  a[3] = 0;
  gc_project_2d(a, hw, c, o2);
  CHECK(!memcmp(o, o2, (size_t)hw * sizeof *o), "project_2d %dx%d: NaN must act as 0", hw, c);
  free(a), free(o), free(o2), free(p);
}

static void test_project_edges(void) {
  float o[8];
  /* ties: X = [1, -1] (c = 1): the projection is +-(1, -1); the first of the equal magnitudes wins */
  const float t1[2] = {1, -1}, t2[2] = {-1, 1};
  gc_project_2d(t1, 2, 1, o);
  CHECK(fabsf(o[0] - 1) < 1e-6f && fabsf(o[1] + 1) < 1e-6f, "tie rule [1,-1]: got %g %g", o[0], o[1]);
  gc_project_2d(t2, 2, 1, o);
  CHECK(fabsf(o[0] - 1) < 1e-6f && fabsf(o[1] + 1) < 1e-6f, "tie rule [-1,1]: got %g %g", o[0], o[1]);
  /* constant channels: centred X = 0, projection 0 (both branches) */
  float k[8 * 3];
  for (int i = 0; i < 24; i++) k[i] = (float)(i % 3) + 0.5f;
  for (int b = 0; b < 2; b++) {
    for (int i = 0; i < 8; i++) o[i] = NAN;
    const int hw = b ? 8 : 2, c = b ? 3 : 12;
    const int rc = gc_project_2d(k, hw, c, o);
    int zero = 1;
    for (int i = 0; i < hw; i++) zero &= o[i] == 0;
    CHECK(rc == 0 && zero, "project_2d constant input %dx%d: rc %d, want all 0 (o[0] = %g)", hw, c, rc, o[0]);
  }
  float nan4[4] = {NAN, NAN, NAN, NAN};
  CHECK(gc_project_2d(nan4, 2, 2, o) == 0 && o[0] == 0 && o[1] == 0, "project_2d all NaN: want 0");
  CHECK(gc_project_2d(nan4, 0, 2, o) == -1, "project_2d hw = 0 must fail");
}

/* ============================================================================================
 * 3. gc_kpca_project
 * ============================================================================================ */

/* centred sigmoid kernel, as sklearn: tanh(X X^T / c + 1), then KernelCenterer */
static double *kernel_ref(const float *a, int n, int c, int center) {
  double *x = malloc((size_t)n * c * sizeof *x), *k = malloc((size_t)n * n * sizeof *k), *rm = calloc((size_t)n, sizeof *rm), all = 0;
  for (int ch = 0; ch < c; ch++) {
    double m = 0;
    for (int r = 0; r < n; r++) m += a[r * c + ch];
    for (int r = 0; r < n; r++) x[r * c + ch] = a[r * c + ch] - (center ? m / n : 0);
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) k[i * n + j] = tanh(dot(x + (size_t)i * c, x + (size_t)j * c, c) / c + 1);
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++) rm[i] += k[i * n + j] / n;
    all += rm[i] / n;
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) k[i * n + j] += all - rm[i] - rm[j];
  free(x), free(rm);
  return k;
}

/* smallest and largest eigenvalue of the small symmetric k (n x n) by cyclic Jacobi, here in full (the
 * tolerance is loose, it is a reference: 30 sweeps converge far past double precision for n <= 40) */
static void extremes(const double *k, int n, double *lmin, double *lmax) {
  double *h = malloc((size_t)n * n * sizeof *h);
  memcpy(h, k, (size_t)n * n * sizeof *h);
  for (int sweep = 0; sweep < 30; sweep++)
    for (int p = 0; p < n; p++)
      for (int q = p + 1; q < n; q++) {
        if (h[p * n + q] == 0) continue;
        const double th = (h[q * n + q] - h[p * n + p]) / (2 * h[p * n + q]);
        const double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1)), c = 1 / sqrt(t * t + 1), s = t * c;
        for (int i = 0; i < n; i++) {
          const double ip = h[i * n + p], iq = h[i * n + q];
          h[i * n + p] = c * ip - s * iq, h[i * n + q] = s * ip + c * iq;
        }
        for (int i = 0; i < n; i++) {
          const double pi = h[p * n + i], qi = h[q * n + i];
          h[p * n + i] = c * pi - s * qi, h[q * n + i] = s * pi + c * qi;
        }
      }
  *lmin = INFINITY, *lmax = -INFINITY;
  for (int i = 0; i < n; i++) *lmin = fmin(*lmin, h[i * n + i]), *lmax = fmax(*lmax, h[i * n + i]);
  free(h);
}

/* out must be an eigenvector of the centred kernel with |out|^2 = its eigenvalue = the top one, l_top;
 * l_top NaN (too big for Jacobi here): |out|^2 must be at least the Rayleigh quotient that 30 power
 * iterations on Kc + |Kc|_inf I reach (a lower bound of the top eigenvalue, near it unless gaps are tiny) */
static void check_kpca(const char *name, const float *a, int n, int c, double l_top) {
  float *o = malloc((size_t)n * sizeof *o);
  const int rc = gc_kpca_project(a, n, c, 1, o);
  double *k = kernel_ref(a, n, c, 1), *od = to_double(o, n), *y = malloc((size_t)n * sizeof *y);
  matvec_full(k, n, od, y);
  const double l = dot(od, od, n);
  double r = 0;
  for (int i = 0; i < n; i++) r = fmax(r, fabs(y[i] - l * od[i]));
  CHECK(rc == 0, "%s: rc %d", name, rc);
  if (isnan(l_top)) {
    double sh = 0, *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) {
      double t = 0;
      for (int j = 0; j < n; j++) t += fabs(k[(size_t)i * n + j]);
      sh = fmax(sh, t);
    }
    for (int i = 0; i < n; i++) v[i] = 1 + 0.5 * sin(i);
    for (int it = 0; it < 30; it++) {
      matvec_full(k, n, v, y);
      for (int i = 0; i < n; i++) y[i] += sh * v[i];
      const double s = sqrt(dot(y, y, n));
      for (int i = 0; i < n; i++) v[i] = y[i] / s;
    }
    matvec_full(k, n, v, y);
    const double rq = dot(v, y, n);
    CHECK(l >= rq * (1 - 1e-6), "%s: |out|^2 = %.9g, but a Rayleigh quotient reaches %.9g", name, l, rq);
    free(v);
  } else {
    CHECK(fabs(l - l_top) < 1e-5 * fabs(l_top), "%s: |out|^2 = %.9g, top eigenvalue %.9g", name, l, l_top);
  }
  CHECK(r < 1e-5 * l * sqrt(l), "%s: |Kc out - l out| = %.2e", name, r); /* out is float: 1e-7 relative */
  CHECK(sign_rule_ok(o, n), "%s: svd_flip: largest |entry| must be positive", name);
  free(o), free(k), free(od), free(y);
}

static void test_kpca(void) {
  /* two points: Kc = q [[1, -1], [-1, 1]], q = (K11 + K22 - 2 K12) / 4; out = (sqrt q, -sqrt q) */
  const float two[4] = {0.5f, -1.0f, 2.0f, 0.25f};
  float o[4];
  double x0[2], x1[2];
  for (int ch = 0; ch < 2; ch++) {
    const double m = (two[ch] + two[2 + ch]) / 2.0;
    x0[ch] = two[ch] - m, x1[ch] = two[2 + ch] - m;
  }
  const double q = (tanh(dot(x0, x0, 2) / 2 + 1) + tanh(dot(x1, x1, 2) / 2 + 1) - 2 * tanh(dot(x0, x1, 2) / 2 + 1)) / 4;
  /* (the two magnitudes are equal only up to rounding, so which one is "largest" is rounding's call) */
  CHECK(gc_kpca_project(two, 2, 2, 1, o) == 0 && fabs(fabs(o[0]) - sqrt(q)) < 1e-6 && o[0] == -o[1],
        "kpca 2 points: got %g %g, want +-(%g, %g)", o[0], o[1], sqrt(q), -sqrt(q));

  /* random activations, dense path */
  const int n = 40, c = 6;
  float *a = rand_f((size_t)n * c, NULL);
  for (int i = 0; i < n * c; i++) a[i] = 2 * a[i] + 0.3f * (i % c); /* not centred: center_x matters */
  double *k = kernel_ref(a, n, c, 1), lmin, lmax;
  extremes(k, n, &lmin, &lmax);
  check_kpca("kpca 40x6 random", a, n, c, lmax);
  free(k);

  /* center_x = 1 on a == center_x = 0 on a minus its column means */
  float *ac = malloc((size_t)n * c * sizeof *ac), *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
  for (int ch = 0; ch < c; ch++) {
    double m = 0;
    for (int r = 0; r < n; r++) m += a[r * c + ch];
    for (int r = 0; r < n; r++) ac[r * c + ch] = (float)(a[r * c + ch] - m / n);
  }
  gc_kpca_project(a, n, c, 1, o1);
  gc_kpca_project(ac, n, c, 0, o2);
  double *o1d = to_double(o1, n);
  CHECK(rel_err(o2, o1d, n) < 1e-5, "kpca center_x: %.1e", rel_err(o2, o1d, n));
  gc_kpca_project(a, n, c, 0, o2);
  CHECK(rel_err(o2, o1d, n) > 1e-3, "kpca center_x = 0 on uncentred X must differ");
  free(ac), free(o1), free(o2), free(o1d), free(a);

  /* strongly indefinite: 3 regular triangles in orthogonal planes (c = 6), |x|^2 / c ~ 8. Within a
   * triangle K ~ tanh(-3) ~ -1, across ~ tanh(1), so Kc has l_max ~ 2 and l_min ~ -3.3: the top
   * ALGEBRAIC eigenvalue must come out, not the largest in magnitude. */
  float tri[9 * 6] = {0};
  for (int t = 0; t < 3; t++)
    for (int p = 0; p < 3; p++) {
      const double r = sqrt(48.0) * (1 + 0.05 * t), ang = 2 * PI * p / 3 + 0.3 * t;
      tri[(3 * t + p) * 6 + 2 * t] = (float)(r * cos(ang)), tri[(3 * t + p) * 6 + 2 * t + 1] = (float)(r * sin(ang));
    }
  k = kernel_ref(tri, 9, 6, 1);
  extremes(k, 9, &lmin, &lmax);
  CHECK(lmin < -1.3 * lmax && lmax > 0, "indefinite case is not: l_min %g, l_max %g", lmin, lmax);
  check_kpca("kpca indefinite", tri, 9, 6, lmax);
  free(k);

  /* Lanczos path (hw > GC_EIG_DENSE_MAX) */
  const int nl = 620, cl = 8;
  float *al = rand_f((size_t)nl * cl, NULL);
  for (int r = 0; r < nl; r++)
    for (int ch = 0; ch < cl; ch++) al[r * cl + ch] = 1.5f * al[r * cl + ch] + (float)(2 * sin(0.05 * r) * (ch + 1) / cl);
  check_kpca("kpca 620x8 (Lanczos)", al, nl, cl, NAN);
  free(al);

  float big = 0;
  CHECK(gc_kpca_project(&big, GC_KPCA_MAX + 1, 1, 1, o) == -1, "kpca hw > GC_KPCA_MAX must return -1");
}

int main(void) {
  test_small();
  test_diagonal(50, 0);
  test_diagonal(50, 1);
  test_diagonal(300, 0);
  for (int kind = 0; kind < 5; kind++) {
    test_planted(2, kind, 0);
    test_planted(50, kind, 0);
    test_planted(300, kind, 0);
    /* Lanczos; the spread and the cluster, whose small top gaps take 200+ mat-vecs (seconds under
     * ASan at n = 1000), are tested dense above and by Lanczos with restarts below */
    if (kind >= 1 && kind <= 3) test_planted(1000, kind, 0);
  }
  test_planted(50, 0, 1);  /* Lanczos within one basis (n < LZ_M) */
  test_planted(50, 4, 1);
  test_planted(300, 2, 1);
  test_planted(300, 5, 1); /* thick restarts (~200 mat-vecs), on an indefinite matrix */
  test_planted(700, 1, 1);
  test_project(7, 5);
  test_project(5, 9);
  test_project(30, 30);
  test_project(200, 16);
  test_project_edges();
  test_kpca();
  return check_report();
}
