/* linalg.c: top eigenpair of a symmetric matrix, SVD projection, sigmoid kernel PCA (see linalg.h).
 *
 * Dense path (n <= GC_EIG_DENSE_MAX), for A scaled to max |a_ij| = 1 so that nothing over- or underflows:
 *   1. Householder: Q^T A Q = T tridiagonal (d, e), the reflectors kept below the diagonal.
 *   2. Sturm bisection for T's largest eigenvalue: the count of eigenvalues below x is the number of
 *      negative pivots of the LDL^T of T - xI; bisect until the interval is eps |T| wide.
 *   3. Inverse iteration: solve (T - lam I) y = y with a pivoted tridiagonal LU; since lam is exact to
 *      rounding, one or two solves give an eigenvector to rounding (its residual is checked).
 *   4. v = Q y, and val = v^T A v.
 * Only one eigenvector is wanted, so nothing O(n^3) beyond step 1 is done (no QL sweeps with vectors).
 *
 * Lanczos path: an orthonormal Krylov basis V (each new vector orthogonalised twice against all the
 * previous ones, so no spurious copies), H = V^T A V, and the top eigenpair (theta, s) of H is the Ritz
 * pair (theta, V s) with residual |beta s_last| (beta = norm of the next basis vector before scaling).
 * When V holds LZ_M vectors it is rotated onto its LZ_KEEP best Ritz vectors (a thick restart: H then
 * becomes diag(theta) plus a coupling row to the pending vector) so memory stays O(LZ_M n).
 */
#include "linalg.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LZ_M 80     /* Lanczos basis size that triggers a thick restart                      */
#define LZ_KEEP 40  /* Ritz vectors (the largest) kept over a restart                        */
#define LZ_MAXMV 4000 /* give up after this many mat-vecs                                    */

/* four partial sums: independent chains the CPU (or wasm engine) can overlap */
static double ddot(const double *x, const double *y, int n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int i = 0;
  for (; i + 4 <= n; i += 4) s0 += x[i] * y[i], s1 += x[i + 1] * y[i + 1], s2 += x[i + 2] * y[i + 2], s3 += x[i + 3] * y[i + 3];
  for (; i < n; i++) s0 += x[i] * y[i];
  return (s0 + s1) + (s2 + s3);
}

/* x /= |x|_2 (computed on x / max|x| so that no square over- or underflows); returns 0 if x == 0. */
static int normalize(double *x, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  if (!(m > 0) || !isfinite(m)) return 0;
  double s = 0;
  for (int i = 0; i < n; i++) s += (x[i] / m) * (x[i] / m);
  const double f = 1.0 / (m * sqrt(s));
  for (int i = 0; i < n; i++) x[i] *= f;
  return 1;
}

/* A fixed pseudo-random vector in [-1, 1)^n (splitmix64 of the index): deterministic, yet with
 * components along every eigenvector (an all-ones start would be an eigenvector of a centred kernel). */
static void start_vector(double *x, int n, uint64_t salt) {
  for (int i = 0; i < n; i++) {
    uint64_t z = salt + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    x[i] = (double)((z ^ (z >> 31)) >> 11) / 4503599627370496.0 - 1.0;
  }
}

/* ---- dense: tridiagonalisation ------------------------------------------------------------- */

/* Householder reduction of the symmetric a (n x n, lower triangle used and overwritten) to
 * T = Q^T A Q: d[n] diagonal, e[n-1] sub-diagonal. Q = H_0 H_1 ... H_{n-3}, H_k = I - beta[k] u u^T on
 * rows k+1.., u = (1, u_1, ...) stored in column k from row k+1 down. work: 2n doubles. */
static void tridiagonalize(double *a, int n, double *d, double *e, double *beta, double *work) {
  for (int k = 0; k + 2 < n; k++) {
    const int m = n - k - 1;          /* the column below the diagonal: rows k+1 .. n-1 */
    double *col = a + (size_t)(k + 1) * n + k, *u = work, *q = work + n;
    double scale = 0, sigma = 0;
    for (int i = 0; i < m; i++) scale = fmax(scale, fabs(col[(size_t)i * n]));
    for (int i = 1; scale > 0 && i < m; i++) sigma += (col[(size_t)i * n] / scale) * (col[(size_t)i * n] / scale);
    if (sigma == 0) { /* already tridiagonal in this column: H_k = I */
      beta[k] = 0, e[k] = col[0];
      continue;
    }
    /* H x = mu e1 with u = x - mu e1 scaled to u_0 = 1 (the form that avoids cancellation, GVL 5.1.1) */
    const double x0 = col[0] / scale, mu = sqrt(x0 * x0 + sigma);
    const double v0 = x0 <= 0 ? x0 - mu : -sigma / (x0 + mu), b = 2 * v0 * v0 / (sigma + v0 * v0);
    beta[k] = b, e[k] = mu * scale;
    u[0] = col[0] = 1;
    for (int i = 1; i < m; i++) u[i] = col[(size_t)i * n] = col[(size_t)i * n] / scale / v0;
    /* q = b A22 u from A22's lower triangle, then w = q - (b/2)(q.u) u and A22 -= u w^T + w u^T */
    double *a22 = a + (size_t)(k + 1) * n + (k + 1);
    for (int i = 0; i < m; i++) q[i] = 0;
    for (int i = 0; i < m; i++) {
      const double *row = a22 + (size_t)i * n, ui = u[i];
      double s = 0;
      for (int j = 0; j < i; j++) s += row[j] * u[j], q[j] += row[j] * ui;
      q[i] += s + row[i] * ui;
    }
    for (int i = 0; i < m; i++) q[i] *= b;
    const double kq = 0.5 * b * ddot(q, u, m);
    for (int i = 0; i < m; i++) q[i] -= kq * u[i];
    for (int i = 0; i < m; i++) {
      double *row = a22 + (size_t)i * n;
      const double ui = u[i], qi = q[i];
      for (int j = 0; j <= i; j++) row[j] -= ui * q[j] + qi * u[j];
    }
  }
  for (int i = 0; i < n; i++) d[i] = a[(size_t)i * n + i];
  if (n >= 2) e[n - 2] = a[(size_t)(n - 1) * n + n - 2];
}

/* y <- Q y with the reflectors tridiagonalize left in a. */
static void apply_q(const double *a, int n, const double *beta, double *y) {
  for (int k = n - 3; k >= 0; k--) {
    if (beta[k] == 0) continue;
    const double *col = a + (size_t)(k + 1) * n + k;
    double s = 0;
    for (int i = 0; i < n - k - 1; i++) s += col[(size_t)i * n] * y[k + 1 + i];
    s *= beta[k];
    for (int i = 0; i < n - k - 1; i++) y[k + 1 + i] -= s * col[(size_t)i * n];
  }
}

/* ---- dense: the tridiagonal's top eigenpair ------------------------------------------------- */

/* Number of eigenvalues of T (d, e) below x: the negative pivots of T - xI = LDL^T (Sylvester). */
static int sturm_below(const double *d, const double *e, int n, double x, double pivmin) {
  double q = d[0] - x;
  if (fabs(q) < pivmin) q = -pivmin;
  int cnt = q < 0;
  for (int i = 1; i < n; i++) {
    q = d[i] - x - e[i - 1] * e[i - 1] / q;
    if (fabs(q) < pivmin) q = -pivmin;
    cnt += q < 0;
  }
  return cnt;
}

/* Largest eigenvalue of T by bisection between Gershgorin bounds; *tnorm = max row sum of |T|. */
static double tridiag_top(const double *d, const double *e, int n, double *tnorm) {
  double lo = INFINITY, hi = -INFINITY, nrm = 0, e2 = 1;
  for (int i = 0; i < n; i++) {
    const double r = (i > 0 ? fabs(e[i - 1]) : 0) + (i < n - 1 ? fabs(e[i]) : 0);
    lo = fmin(lo, d[i] - r), hi = fmax(hi, d[i] + r), nrm = fmax(nrm, fabs(d[i]) + r);
    if (i < n - 1) e2 = fmax(e2, e[i] * e[i]);
  }
  const double pivmin = DBL_MIN * e2, pad = 4 * DBL_EPSILON * nrm * n + pivmin;
  lo -= pad, hi += pad; /* so that count(lo) < n <= count(hi) survives rounding in the counts */
  for (int it = 0; it < 200 && hi - lo > 2 * DBL_EPSILON * nrm + pivmin; it++) {
    const double mid = 0.5 * (lo + hi);
    if (sturm_below(d, e, n, mid, pivmin) < n) lo = mid;
    else hi = mid;
  }
  *tnorm = nrm;
  return 0.5 * (lo + hi);
}

/* |(T - lam I) y|_inf */
static double tridiag_resid(const double *d, const double *e, int n, double lam, const double *y) {
  double r = 0;
  for (int i = 0; i < n; i++) {
    double t = (d[i] - lam) * y[i];
    if (i > 0) t += e[i - 1] * y[i - 1];
    if (i < n - 1) t += e[i] * y[i + 1];
    r = fmax(r, fabs(t));
  }
  return r;
}

/* Eigenvector y (unit length) of T for its eigenvalue lam by inverse iteration. T - lam I = PLU with
 * partial pivoting (U has two super-diagonals); pivots smaller than eps |T| become eps |T|, which is
 * what makes the nearly singular solve blow up along the eigenvector. Up to 5 solves, keeping the
 * y with the smallest residual. Returns -1 if out of memory. */
static int tridiag_vec(const double *d, const double *e, int n, double lam, double tnorm, double *y) {
  double *w = malloc((size_t)6 * n * sizeof *w);
  unsigned char *piv = malloc((size_t)n);
  if (!w || !piv) return free(w), free(piv), -1;
  double *u0 = w, *u1 = w + n, *u2 = w + 2 * n, *l = w + 3 * n, *b = w + 4 * n, *best = w + 5 * n;
  const double tiny = tnorm > 0 ? DBL_EPSILON * tnorm : DBL_MIN;
  double cd = d[0] - lam, cs = n > 1 ? e[0] : 0; /* the row being eliminated: cols i, i+1 */
  for (int i = 0; i + 1 < n; i++) {
    const double sub = e[i], nd = d[i + 1] - lam, ns = i + 2 < n ? e[i + 1] : 0;
    if (fabs(cd) >= fabs(sub)) {
      if (fabs(cd) < tiny) cd = cd < 0 ? -tiny : tiny;
      piv[i] = 0, l[i] = sub / cd, u0[i] = cd, u1[i] = cs, u2[i] = 0;
      cd = nd - l[i] * cs, cs = ns;
    } else { /* swap rows i and i+1 */
      piv[i] = 1, l[i] = cd / sub, u0[i] = sub, u1[i] = nd, u2[i] = ns;
      cd = cs - l[i] * nd, cs = -l[i] * ns;
    }
  }
  u0[n - 1] = cd;
  for (int i = 0; i < n; i++)
    if (fabs(u0[i]) < tiny) u0[i] = u0[i] < 0 ? -tiny : tiny;
  start_vector(y, n, 0x5EED);
  normalize(y, n);
  memcpy(best, y, (size_t)n * sizeof *y);
  double best_r = tridiag_resid(d, e, n, lam, y);
  for (int it = 0; it < 5 && best_r > 16 * DBL_EPSILON * tnorm; it++) {
    memcpy(b, y, (size_t)n * sizeof *b);
    for (int i = 0; i + 1 < n; i++) {
      if (piv[i]) { const double t = b[i]; b[i] = b[i + 1], b[i + 1] = t; }
      b[i + 1] -= l[i] * b[i];
    }
    for (int i = n - 1; i >= 0; i--) {
      double t = b[i];
      if (i + 1 < n) t -= u1[i] * b[i + 1];
      if (i + 2 < n) t -= u2[i] * b[i + 2];
      b[i] = t / u0[i];
    }
    if (!normalize(b, n)) break; /* overflow: keep the best so far */
    memcpy(y, b, (size_t)n * sizeof *y);
    const double r = tridiag_resid(d, e, n, lam, y);
    if (r < best_r) best_r = r, memcpy(best, y, (size_t)n * sizeof *y);
  }
  memcpy(y, best, (size_t)n * sizeof *y);
  free(w), free(piv);
  return 0;
}

/* v^T A v from A's lower triangle */
static double rayleigh_lower(const double *a, int n, const double *v) {
  double s = 0;
  for (int i = 0; i < n; i++) {
    const double *row = a + (size_t)i * n;
    double t = 0;
    for (int j = 0; j < i; j++) t += row[j] * v[j];
    s += v[i] * (2 * t + row[i] * v[i]);
  }
  return s;
}

static int top_eig_dense(const double *a, int n, double *vec, double *val) {
  double amax = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++) amax = fmax(amax, fabs(a[(size_t)i * n + j]));
  if (!isfinite(amax)) return -1;
  if (amax == 0 || n == 1) { /* A = 0 or 1x1: e_0 is an eigenvector */
    memset(vec, 0, (size_t)n * sizeof *vec);
    vec[0] = 1, *val = a[0];
    return 0;
  }
  double *t = malloc((size_t)n * n * sizeof *t), *w = malloc((size_t)5 * n * sizeof *w);
  if (!t || !w) return free(t), free(w), -1;
  double *d = w, *e = w + n, *beta = w + 2 * n, *work = w + 3 * n;
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++) t[(size_t)i * n + j] = a[(size_t)i * n + j] / amax;
  tridiagonalize(t, n, d, e, beta, work);
  double tnorm;
  const double lam = tridiag_top(d, e, n, &tnorm);
  int rc = tridiag_vec(d, e, n, lam, tnorm, vec);
  if (!rc) {
    apply_q(t, n, beta, vec);
    normalize(vec, n);
    *val = rayleigh_lower(a, n, vec);
  }
  free(t), free(w);
  return rc;
}

/* ---- Lanczos ---------------------------------------------------------------------------------- */

/* All eigenpairs of the symmetric m x m matrix h (destroyed: its diagonal ends up holding the
 * eigenvalues) by cyclic Jacobi rotations; s (m x m) gets the eigenvectors as columns. Only for the
 * small restart matrices (m = LZ_M), where its O(m^3) per sweep is nothing next to the mat-vecs. */
static void jacobi_eig(double *h, int m, double *s) {
  for (int i = 0; i < m * m; i++) s[i] = 0;
  for (int i = 0; i < m; i++) s[i * m + i] = 1;
  double fro = 0;
  for (int i = 0; i < m * m; i++) fro += h[i] * h[i];
  /* an entry below rounding of the matrix is as good as zero (the Ritz vectors are only wanted to
   * that accuracy); a sweep without a rotation ends it (quadratic convergence: a handful of sweeps) */
  const double tiny = DBL_EPSILON * sqrt(fro) + DBL_MIN;
  for (int sweep = 0, rotated = 1; sweep < 60 && rotated; sweep++) {
    rotated = 0;
    for (int p = 0; p < m; p++)
      for (int q = p + 1; q < m; q++) {
        const double apq = h[p * m + q];
        if (fabs(apq) <= tiny) continue;
        rotated = 1;
        /* the rotation's tangent: the smaller root of t^2 + 2 theta t - 1 = 0, zeroing h[p][q] */
        const double theta = (h[q * m + q] - h[p * m + p]) / (2 * apq);
        const double t = fabs(theta) > 1e150 ? 0.5 / theta : (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        const double c = 1 / sqrt(t * t + 1), sn = t * c;
        for (int k = 0; k < m; k++) {
          const double kp = h[k * m + p], kq = h[k * m + q];
          h[k * m + p] = c * kp - sn * kq, h[k * m + q] = sn * kp + c * kq;
        }
        for (int k = 0; k < m; k++) {
          const double pk = h[p * m + k], qk = h[q * m + k];
          h[p * m + k] = c * pk - sn * qk, h[q * m + k] = sn * pk + c * qk;
        }
        for (int k = 0; k < m; k++) {
          const double kp = s[k * m + p], kq = s[k * m + q];
          s[k * m + p] = c * kp - sn * kq, s[k * m + q] = sn * kp + c * kq;
        }
        h[p * m + q] = h[q * m + p] = 0; /* what the rotation was chosen for, without its rounding */
      }
  }
}

/* Rotate the basis onto the `keep` largest (algebraic) Ritz vectors of h (m x m, destroyed) and make
 * the pending vector V[m] basis vector `keep`; h becomes diag(theta). Its coupling column `keep`
 * (A v'_i = theta_i v'_i + beta s_{m-1,i} v_m) need not be set: expanding v_keep next computes it as
 * v'_i . A v_keep. work: m*m + 2m doubles + m ints. */
static void thick_restart(double *V, int n, double *h, int m, int keep, double *work, int *idx) {
  double *S = work, *th = work + m * m, *tmp = th + m;
  jacobi_eig(h, m, S);
  for (int i = 0; i < m; i++) th[i] = h[i * m + i], idx[i] = i;
  for (int i = 1; i < m; i++) /* insertion sort, descending */
    for (int j = i; j > 0 && th[idx[j]] > th[idx[j - 1]]; j--) { const int t = idx[j]; idx[j] = idx[j - 1], idx[j - 1] = t; }
  for (int t = 0; t < n; t++) {
    for (int l = 0; l < m; l++) tmp[l] = V[(size_t)l * n + t];
    for (int i = 0; i < keep; i++) {
      double s = 0;
      for (int l = 0; l < m; l++) s += tmp[l] * S[l * m + idx[i]];
      V[(size_t)i * n + t] = s;
    }
  }
  memcpy(V + (size_t)keep * n, V + (size_t)m * n, (size_t)n * sizeof *V);
  for (int i = 0; i < m * m; i++) h[i] = 0;
  for (int i = 0; i < keep; i++) h[i * m + i] = th[idx[i]];
}

int gc_sym_top_eig_op(gc_matvec_fn matvec, void *ctx, int n, double *vec, double *val) {
  if (n < 1) return -1;
  const int m = n < LZ_M ? n : LZ_M, keep = n < LZ_M ? n : LZ_KEEP;
  double *V = malloc((size_t)(m + 1) * n * sizeof *V), *w = malloc((size_t)n * sizeof *w);
  double *h = malloc((size_t)m * m * sizeof *h), *hc = malloc((size_t)m * m * sizeof *hc);
  double *s = malloc((size_t)(m * m + 2 * m) * sizeof *s), *av = malloc((size_t)n * sizeof *av);
  int *idx = malloc((size_t)m * sizeof *idx);
  int rc = -1;
  if (!V || !w || !h || !hc || !s || !av || !idx) goto done;
  memset(h, 0, (size_t)m * m * sizeof *h);
  start_vector(V, n, 0x1A2C05);
  normalize(V, n);
  double best_r = INFINITY;
  for (int j = 0, nmv = 0; nmv < LZ_MAXMV; j++) {
    /* expand: w = A v_j, orthogonalised twice against v_0..v_j; the coefficients are H's column j */
    double *vj = V + (size_t)j * n;
    matvec(ctx, vj, w), nmv++;
    for (int i = 0; i <= j; i++) h[i * m + j] = 0;
    for (int pass = 0; pass < 2; pass++)
      for (int i = 0; i <= j; i++) {
        const double *vi = V + (size_t)i * n, c = ddot(vi, w, n);
        h[i * m + j] += c;
        for (int t = 0; t < n; t++) w[t] -= c * vi[t];
      }
    for (int i = 0; i < j; i++) h[j * m + i] = h[i * m + j];
    const int size = j + 1;
    double anorm = 0; /* |H|_inf, the scale the tolerances are relative to */
    for (int i = 0; i < size; i++) {
      double r = 0;
      for (int k = 0; k < size; k++) r += fabs(h[i * m + k]);
      anorm = fmax(anorm, r);
    }
    const double beta = sqrt(ddot(w, w, n));
    /* breakdown: the basis spans an invariant subspace (or all of R^n), so its Ritz pairs are exact */
    const int exact = size == n || beta <= 1e-13 * anorm;
    if (!exact) for (int t = 0; t < n; t++) V[(size_t)size * n + t] = w[t] / beta;
    if (!exact && size != m && size % 5) continue;
    /* Ritz pair: (theta, V s) with s H's top eigenvector; its residual is |beta s_last| */
    for (int i = 0; i < size; i++) memcpy(hc + i * size, h + i * m, (size_t)size * sizeof *hc);
    double theta;
    if (top_eig_dense(hc, size, s, &theta)) goto done;
    if ((exact ? 0 : beta * fabs(s[size - 1])) <= 1e-11 * anorm) {
      for (int t = 0; t < n; t++) w[t] = 0;
      for (int i = 0; i < size; i++)
        for (int t = 0; t < n; t++) w[t] += s[i] * V[(size_t)i * n + t];
      normalize(w, n);
      matvec(ctx, w, av), nmv++; /* the true residual, not just the estimate */
      const double rq = ddot(w, av, n);
      for (int t = 0; t < n; t++) av[t] -= rq * w[t];
      const double r = sqrt(ddot(av, av, n));
      if (r < best_r) best_r = r, memcpy(vec, w, (size_t)n * sizeof *vec), *val = rq;
      if (r <= 1e-10 * fmax(anorm, fabs(rq))) { rc = 0; goto done; }
      if (exact) goto done; /* cannot improve on an exact subspace */
    } else if (exact) {
      goto done;
    }
    if (size == m) { /* thick restart; the next step expands the pending vector, now basis vector keep */
      thick_restart(V, n, h, m, keep, s, idx);
      j = keep - 1;
    }
  }
done:
  free(V), free(w), free(h), free(hc), free(s), free(av), free(idx);
  return rc;
}

typedef struct { const double *a; int n; } dense_op;

static void dense_matvec(void *ctx, const double *x, double *y) {
  const dense_op *op = ctx;
  for (int i = 0; i < op->n; i++) y[i] = ddot(op->a + (size_t)i * op->n, x, op->n);
}

int gc_sym_top_eig(const double *a, int n, double *vec, double *val) {
  if (n < 1) return -1;
  if (n <= GC_EIG_DENSE_MAX) return top_eig_dense(a, n, vec, val);
  dense_op op = {a, n};
  return gc_sym_top_eig_op(dense_matvec, &op, n, vec, val);
}

/* ---- projections -------------------------------------------------------------------------------- */

/* X = a as doubles with NaN -> 0, minus its per-channel (column) means if center. [hw][c] */
static double *load_x(const float *a, int hw, int c, int center) {
  double *x = malloc((size_t)hw * c * sizeof *x), *mean = calloc((size_t)c, sizeof *mean);
  if (!x || !mean) return free(x), free(mean), NULL;
  for (size_t i = 0; i < (size_t)hw * c; i++) x[i] = isnan(a[i]) ? 0 : a[i];
  if (center) {
    for (int r = 0; r < hw; r++)
      for (int ch = 0; ch < c; ch++) mean[ch] += x[(size_t)r * c + ch];
    for (int ch = 0; ch < c; ch++) mean[ch] /= hw;
    for (int r = 0; r < hw; r++)
      for (int ch = 0; ch < c; ch++) x[(size_t)r * c + ch] -= mean[ch];
  }
  free(mean);
  return x;
}

/* out = p as floats, negated if its entry of largest magnitude (the first among ties) is negative. */
static void store_signed(const double *p, int n, float *out) {
  int k = 0;
  for (int i = 1; i < n; i++)
    if (fabs(p[i]) > fabs(p[k])) k = i;
  const double s = p[k] < 0 ? -1 : 1;
  for (int i = 0; i < n; i++) out[i] = (float)(s * p[i]);
}

int gc_project_2d(const float *a, int hw, int c, float *out) {
  if (hw < 1 || c < 1) return -1;
  const int n = hw <= c ? hw : c; /* the smaller Gram matrix: X X^T [hw][hw] or X^T X [c][c] */
  double *x = load_x(a, hw, c, 1), *g = calloc((size_t)n * n, sizeof *g);
  double *v = malloc((size_t)n * sizeof *v), *p = malloc((size_t)hw * sizeof *p);
  int rc = -1;
  if (!x || !g || !v || !p) goto done;
  if (hw <= c) {
    for (int i = 0; i < n; i++)
      for (int j = 0; j <= i; j++) g[(size_t)i * n + j] = ddot(x + (size_t)i * c, x + (size_t)j * c, c);
  } else {
    for (int r = 0; r < hw; r++) { /* X^T X accumulated row by row of X (contiguous reads) */
      const double *xr = x + (size_t)r * c;
      for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) g[(size_t)i * n + j] += xr[i] * xr[j];
    }
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++) g[(size_t)j * n + i] = g[(size_t)i * n + j];
  double lam;
  if (gc_sym_top_eig(g, n, v, &lam)) goto done;
  if (hw <= c) { /* X v1 = sigma1 u1 */
    const double sigma = sqrt(fmax(lam, 0));
    for (int i = 0; i < hw; i++) p[i] = sigma * v[i];
  } else {
    for (int r = 0; r < hw; r++) p[r] = ddot(x + (size_t)r * c, v, c);
  }
  store_signed(p, hw, out);
  rc = 0;
done:
  free(x), free(g), free(v), free(p);
  return rc;
}

/* y = K x for K symmetric, packed lower triangle by rows (row i: K_i0 .. K_ii at i(i+1)/2): each
 * entry is read once for both of its places, half the memory traffic of a full mat-vec. */
typedef struct { const double *p; int n; } packed_op;

static void packed_matvec(void *ctx, const double *x, double *y) {
  const packed_op *op = ctx;
  for (int i = 0; i < op->n; i++) y[i] = 0;
  for (int i = 0; i < op->n; i++) {
    const double *row = op->p + (size_t)i * (i + 1) / 2, xi = x[i];
    for (int j = 0; j < i; j++) y[j] += row[j] * xi;
    y[i] += ddot(row, x, i) + row[i] * xi;
  }
}

int gc_kpca_project(const float *a, int hw, int c, int center_x, float *out) {
  if (hw < 1 || c < 1 || hw > GC_KPCA_MAX) return -1;
  const int n = hw;
  const size_t np = (size_t)n * (n + 1) / 2; /* the kernel, packed lower triangle: 64 MB at n = 4096 */
  double *x = load_x(a, hw, c, center_x), *k = malloc(np * sizeof *k), *full = NULL;
  double *rm = calloc((size_t)n, sizeof *rm), *v = malloc((size_t)n * sizeof *v);
  int rc = -1;
  if (!x || !k || !rm || !v) goto done;
  /* K_ij = tanh(z), z = x_i.x_j / c + 1, as 1 - 2 / (exp(2z) + 1): one exp instead of libm's slower
   * tanh, exact to ~1e-16 absolute (the relative error near z = 0 does not matter next to K's scale) */
  for (int i = 0; i < n; i++) {
    double *row = k + (size_t)i * (i + 1) / 2;
    for (int j = 0; j <= i; j++) row[j] = 1 - 2 / (exp(2 * (ddot(x + (size_t)i * c, x + (size_t)j * c, c) / c + 1)) + 1);
  }
  /* KernelCenterer: Kc_ij = K_ij - mean_i - mean_j + mean (row means = column means, K symmetric) */
  double all = 0;
  for (int i = 0; i < n; i++) {
    const double *row = k + (size_t)i * (i + 1) / 2;
    for (int j = 0; j < i; j++) rm[i] += row[j], rm[j] += row[j];
    rm[i] += row[i];
  }
  for (int i = 0; i < n; i++) all += rm[i], rm[i] /= n;
  all /= (double)n * n;
  for (int i = 0; i < n; i++) {
    double *row = k + (size_t)i * (i + 1) / 2;
    for (int j = 0; j <= i; j++) row[j] += all - rm[i] - rm[j];
  }
  double lam;
  if (n > GC_EIG_DENSE_MAX) {
    packed_op op = {k, n};
    if (gc_sym_top_eig_op(packed_matvec, &op, n, v, &lam)) goto done;
  } else { /* the dense solver reads the lower triangle of a row-major n x n */
    if (!(full = calloc((size_t)n * n, sizeof *full))) goto done;
    for (int i = 0; i < n; i++) memcpy(full + (size_t)i * n, k + (size_t)i * (i + 1) / 2, (size_t)(i + 1) * sizeof *full);
    if (gc_sym_top_eig(full, n, v, &lam)) goto done;
  }
  const double f = sqrt(fmax(lam, 0));
  for (int i = 0; i < n; i++) v[i] *= f;
  store_signed(v, n, out);
  rc = 0;
done:
  free(x), free(k), free(full), free(rm), free(v);
  return rc;
}
