/* impute.c: ROAD's noisy linear imputation (see impute.h).
 *
 * The system, per channel, on the n unknown pixels (numbered row-major):
 *   A x = b,  (A x)_i = s_i x_i - sum_{unknown j ~ i} w_ij x_j,  b_i = sum_{known j ~ i} w_ij img_j
 * (A is the reference's -A and b its -b.)
 *
 * Layout. A level is a grid with some cells unknown. Vectors that a stencil reads (x) live on the grid,
 * padded by one zero cell all round and kept at 0 on every cell that is not an unknown, so a stencil
 * reads its 8 neighbours at fixed offsets with no test and no index list. Vectors only ever visited
 * per unknown (b, r) are compact, [n][c]. Level 0's stencil is the same for every pixel (-w_ij; known
 * neighbours read as the 0 they hold), only its centre s_i varies; coarse levels keep 9 per unknown.
 *
 * Multigrid preconditioner (unsmoothed aggregation on the grid): level l+1's cell (Y, X) is the 2x2
 * block (2Y.., 2X..) of level l, an unknown if the block holds one. P (prolongation) copies a block's
 * value to its unknowns, P^T sums them, and the coarse matrix P^T A P is again a 3x3 stencil (a block's
 * neighbours lie in the 8 blocks around it). One V-cycle for z = B r: forward Gauss-Seidel, restrict
 * the residual, recurse, add P x_coarse (times OVERCORRECT), backward Gauss-Seidel. B is symmetric
 * positive definite (symmetric smoothing, 0 < OVERCORRECT < 2), so plain preconditioned CG applies.
 */
#include "impute.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVELS 16
#define COARSEST_N 256   /* the dense Cholesky level: at most 256 unknowns (a 16x16 grid)     */
#define OVERCORRECT 1.7  /* scale of the coarse correction                                  */
#define CG_TOL 1e-9      /* stop when |r| <= CG_TOL |b| in every channel                     */
#define CG_MAXIT 300

static int impute_iters; /* CG iterations of the last solve (read by the tests) */

typedef struct {
  int n, gh, gw, pitch; /* unknowns; grid; pitch = gw + 2 (the padded row)               */
  int *map;             /* [gh][gw] cell -> unknown, or -1                               */
  int *gpos;            /* [n] padded grid index (y + 1) * pitch + x + 1                 */
  const double *a;      /* stencil of unknown k: a + k * astride, 9 entries (centre unused) */
  int astride;          /* 0 on level 0 (one shared stencil), 9 on coarse levels         */
  double *own_a;        /* coarse levels: [n][9]                                         */
  double *diag;         /* [n] stencil centre                                            */
  int *agg;             /* [n] the unknown of the next level this one belongs to         */
  double *x;            /* padded grid, [(gh + 2) * pitch][c]                            */
  double *b, *r;        /* [n][c]                                                        */
  double *chol;         /* coarsest level: [n][n] Cholesky factor (lower)                */
  int off[9];           /* neighbour offsets on the padded grid                          */
} level;

static const double fine_stencil[9] = {-1.0 / 12, -1.0 / 6, -1.0 / 12, -1.0 / 6, 0, -1.0 / 6, -1.0 / 12, -1.0 / 6, -1.0 / 12};

static void level_free(level *L) {
  free(L->map), free(L->gpos), free(L->own_a), free(L->diag), free(L->agg), free(L->x), free(L->b), free(L->r), free(L->chol);
  memset(L, 0, sizeof *L);
}

/* Numbers the unknowns of L->map (already marked >= 0) row-major and allocates the level. Level 0
 * (coarse 0) has the shared constant stencil and borrows x and b from CG. */
static int level_init(level *L, int gh, int gw, int c, int coarse) {
  int n = 0;
  for (int i = 0; i < gh * gw; i++)
    if (L->map[i] >= 0) L->map[i] = n++;
  L->n = n, L->gh = gh, L->gw = gw, L->pitch = gw + 2;
  for (int d = 0; d < 9; d++) L->off[d] = (d / 3 - 1) * L->pitch + d % 3 - 1;
  L->gpos = malloc((size_t)n * sizeof *L->gpos);
  L->diag = calloc((size_t)n, sizeof *L->diag);
  L->r = malloc((size_t)n * c * sizeof *L->r);
  if (coarse) {
    L->a = L->own_a = calloc((size_t)n * 9, sizeof *L->own_a), L->astride = 9;
    L->x = calloc((size_t)(gh + 2) * L->pitch * c, sizeof *L->x);
    L->b = malloc((size_t)n * c * sizeof *L->b);
  } else {
    L->a = fine_stencil, L->astride = 0;
  }
  if (!L->gpos || !L->diag || !L->r || (coarse && (!L->own_a || !L->x || !L->b))) return -1;
  for (int i = 0; i < gh * gw; i++)
    if (L->map[i] >= 0) L->gpos[L->map[i]] = (i / gw + 1) * L->pitch + i % gw + 1;
  return 0;
}

/* Level 0: the centres s_i, and b (the known neighbours' weighted values) into rhs [n][c]. */
static int build_fine(level *L, const float *img, const uint8_t *keep, int h, int w, int c, double **rhs) {
  if (!(L->map = malloc((size_t)h * w * sizeof *L->map))) return -1;
  for (int i = 0; i < h * w; i++) L->map[i] = keep[i] ? -1 : 0;
  if (level_init(L, h, w, c, 0) || !(*rhs = calloc((size_t)L->n * c, sizeof **rhs))) return -1;
  for (int k = 0; k < L->n; k++) {
    const int y = L->gpos[k] / L->pitch - 1, x = L->gpos[k] % L->pitch - 1;
    double s = 0, *bk = *rhs + (size_t)k * c;
    for (int d = 0; d < 9; d++) {
      const int yy = y + d / 3 - 1, xx = x + d % 3 - 1;
      if (d == 4 || yy < 0 || yy >= h || xx < 0 || xx >= w) continue; /* outside: dropped from s too */
      s -= fine_stencil[d];
      if (keep[yy * w + xx]) {
        const float *v = img + ((size_t)yy * w + xx) * c;
        for (int ch = 0; ch < c; ch++) bk[ch] -= fine_stencil[d] * v[ch];
      }
    }
    L->diag[k] = s;
  }
  return 0;
}

/* Level l+1 (g) from level l (f): the 2x2 aggregates and P^T A P. */
static int build_coarse(level *f, level *g, int c) {
  const int gh = (f->gh + 1) / 2, gw = (f->gw + 1) / 2;
  if (!(g->map = malloc((size_t)gh * gw * sizeof *g->map)) || !(f->agg = malloc((size_t)f->n * sizeof *f->agg))) return -1;
  for (int i = 0; i < gh * gw; i++) g->map[i] = -1;
  for (int i = 0; i < f->gh * f->gw; i++)
    if (f->map[i] >= 0) g->map[(i / f->gw / 2) * gw + (i % f->gw) / 2] = 0;
  if (level_init(g, gh, gw, c, 1)) return -1;
  for (int i = 0; i < f->gh * f->gw; i++) {
    const int k = f->map[i];
    if (k < 0) continue;
    const int y = i / f->gw, x = i % f->gw, K = f->agg[k] = g->map[(y / 2) * gw + x / 2];
    const double *ak = f->a + (size_t)k * f->astride;
    double *aK = g->own_a + (size_t)K * 9;
    g->diag[K] += f->diag[k];
    for (int d = 0; d < 9; d++) {
      const int yy = y + d / 3 - 1, xx = x + d % 3 - 1;
      if (d == 4 || yy < 0 || yy >= f->gh || xx < 0 || xx >= f->gw || f->map[yy * f->gw + xx] < 0) continue;
      const int D = (yy / 2 - y / 2 + 1) * 3 + (xx / 2 - x / 2 + 1);
      if (D == 4) g->diag[K] += ak[d];
      else aK[D] += ak[d];
    }
  }
  return 0;
}

/* Dense Cholesky of the coarsest level's matrix (SPD). */
static int build_chol(level *L) {
  const int n = L->n;
  double *m = L->chol = calloc((size_t)n * n, sizeof *m);
  if (!m) return -1;
  for (int i = 0; i < L->gh * L->gw; i++) {
    const int k = L->map[i];
    if (k < 0) continue;
    m[(size_t)k * n + k] = L->diag[k];
    for (int d = 0; d < 9; d++) {
      const int yy = i / L->gw + d / 3 - 1, xx = i % L->gw + d % 3 - 1;
      if (d == 4 || yy < 0 || yy >= L->gh || xx < 0 || xx >= L->gw || L->map[yy * L->gw + xx] < 0) continue;
      m[(size_t)k * n + L->map[yy * L->gw + xx]] = L->a[(size_t)k * L->astride + d];
    }
  }
  for (int j = 0; j < n; j++) {
    double s = m[(size_t)j * n + j];
    for (int k = 0; k < j; k++) s -= m[(size_t)j * n + k] * m[(size_t)j * n + k];
    if (!(s > 0)) return -1;
    const double djj = m[(size_t)j * n + j] = sqrt(s);
    for (int i = j + 1; i < n; i++) {
      double t = m[(size_t)i * n + j];
      for (int k = 0; k < j; k++) t -= m[(size_t)i * n + k] * m[(size_t)j * n + k];
      m[(size_t)i * n + j] = t / djj;
    }
  }
  return 0;
}

/* ---- kernels (all channels per pass) ----------------------------------------------------------- */

/* The stencil kernels are written once for a channel count C and instantiated (inlined with a
 * constant C) for C = 1 and 3, so that the channel loop unrolls; other C run the generic copy.
 * Level 0 (astride 0) uses its constant weights directly: -(edges)/6 - (corners)/12. */
#if defined(__GNUC__)
#define KERNEL static inline __attribute__((always_inline))
#else
#define KERNEL static inline
#endif
#define DISPATCH(f, c, ...) ((c) == 3 ? f(3, __VA_ARGS__) : (c) == 1 ? f(1, __VA_ARGS__) : f(c, __VA_ARGS__))

/* sum over the 8 neighbours of the stencil times x at xk (channel ch) */
KERNEL double offsum(const level *L, const int *o, int k, const double *xk, int ch) {
  if (L->astride == 0)
    return -(xk[o[1] + ch] + xk[o[3] + ch] + xk[o[5] + ch] + xk[o[7] + ch]) * (1.0 / 6) -
           (xk[o[0] + ch] + xk[o[2] + ch] + xk[o[6] + ch] + xk[o[8] + ch]) * (1.0 / 12);
  const double *a = L->a + (size_t)k * 9;
  return a[0] * xk[o[0] + ch] + a[1] * xk[o[1] + ch] + a[2] * xk[o[2] + ch] + a[3] * xk[o[3] + ch] +
         a[5] * xk[o[5] + ch] + a[6] * xk[o[6] + ch] + a[7] * xk[o[7] + ch] + a[8] * xk[o[8] + ch];
}

/* y = A x; x on the padded grid, y compact */
KERNEL void apply_c(int C, const level *L, const double *x, double *y) {
  int o[9];
  for (int d = 0; d < 9; d++) o[d] = L->off[d] * C;
  for (int k = 0; k < L->n; k++) {
    const double *xk = x + (size_t)L->gpos[k] * C, dk = L->diag[k];
    for (int ch = 0; ch < C; ch++) y[(size_t)k * C + ch] = dk * xk[ch] + offsum(L, o, k, xk, ch);
  }
}

/* One Gauss-Seidel sweep, forward (dir 1) or backward: x_k = (b_k - offsum) / centre */
KERNEL void gs_c(int C, const level *L, const double *b, double *x, int dir) {
  int o[9];
  for (int d = 0; d < 9; d++) o[d] = L->off[d] * C;
  for (int i = 0; i < L->n; i++) {
    const int k = dir > 0 ? i : L->n - 1 - i;
    double *xk = x + (size_t)L->gpos[k] * C;
    const double inv = 1 / L->diag[k];
    for (int ch = 0; ch < C; ch++) xk[ch] = (b[(size_t)k * C + ch] - offsum(L, o, k, xk, ch)) * inv;
  }
}

/* r = b - A x right after a forward sweep from x = 0: each x_k was solved with its earlier neighbours
 * (above, left) final and its later ones (right, below) still 0, so only the later ones' terms remain:
 * r_k = -(stencil over d = 5..8) x. Half the cost of apply. */
KERNEL void resid_after_fwd_c(int C, const level *L, const double *x, double *r) {
  int o[9];
  for (int d = 0; d < 9; d++) o[d] = L->off[d] * C;
  for (int k = 0; k < L->n; k++) {
    const double *xk = x + (size_t)L->gpos[k] * C, *a = L->a + (size_t)k * L->astride;
    for (int ch = 0; ch < C; ch++)
      r[(size_t)k * C + ch] = L->astride == 0
          ? (xk[o[5] + ch] + xk[o[7] + ch]) * (1.0 / 6) + (xk[o[6] + ch] + xk[o[8] + ch]) * (1.0 / 12)
          : -(a[5] * xk[o[5] + ch] + a[6] * xk[o[6] + ch] + a[7] * xk[o[7] + ch] + a[8] * xk[o[8] + ch]);
  }
}

static void apply(const level *L, int c, const double *x, double *y) { DISPATCH(apply_c, c, L, x, y); }
static void resid_after_fwd(const level *L, int c, const double *x, double *r) { DISPATCH(resid_after_fwd_c, c, L, x, r); }
static void gs(const level *L, int c, const double *b, double *x, int dir) { DISPATCH(gs_c, c, L, b, x, dir); }

static void chol_solve(const level *L, int c, const double *b, double *x) {
  const int n = L->n;
  const double *m = L->chol;
  double *y = L->r; /* free at this level */
  for (int ch = 0; ch < c; ch++) {
    for (int i = 0; i < n; i++) { /* L y = b */
      double s = b[(size_t)i * c + ch];
      for (int k = 0; k < i; k++) s -= m[(size_t)i * n + k] * y[(size_t)k * c + ch];
      y[(size_t)i * c + ch] = s / m[(size_t)i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) { /* L^T x = y, in place in y */
      double s = y[(size_t)i * c + ch];
      for (int k = i + 1; k < n; k++) s -= m[(size_t)k * n + i] * y[(size_t)k * c + ch];
      y[(size_t)i * c + ch] = s / m[(size_t)i * n + i];
    }
  }
  for (int k = 0; k < n; k++)
    for (int ch = 0; ch < c; ch++) x[(size_t)L->gpos[k] * c + ch] = y[(size_t)k * c + ch];
}

/* x = B b: one V-cycle from level l down (x on the grid, overwritten on the unknowns; b untouched) */
static void vcycle(level *L, int l, int nl, int c, const double *b, double *x) {
  level *f = L + l;
  if (l == nl - 1) {
    chol_solve(f, c, b, x);
    return;
  }
  const int n = f->n;
  for (int k = 0; k < n; k++)
    for (int ch = 0; ch < c; ch++) x[(size_t)f->gpos[k] * c + ch] = 0;
  gs(f, c, b, x, 1);
  resid_after_fwd(f, c, x, f->r);
  level *g = f + 1;
  memset(g->b, 0, (size_t)g->n * c * sizeof *g->b);
  for (int k = 0; k < n; k++)
    for (int ch = 0; ch < c; ch++) g->b[(size_t)f->agg[k] * c + ch] += f->r[(size_t)k * c + ch];
  vcycle(L, l + 1, nl, c, g->b, g->x);
  for (int k = 0; k < n; k++) {
    const double *xc = g->x + (size_t)g->gpos[f->agg[k]] * c;
    double *xk = x + (size_t)f->gpos[k] * c;
    for (int ch = 0; ch < c; ch++) xk[ch] += OVERCORRECT * xc[ch];
  }
  gs(f, c, b, x, -1);
}

/* ---- noise ------------------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* N(0, 1) by Box-Muller; the pair's second value is kept for the next call. */
typedef struct { uint64_t s; double spare; int has_spare; } gauss_rng;
static double gauss(gauss_rng *g) {
  if (g->has_spare) return g->has_spare = 0, g->spare;
  const double u1 = ((splitmix64(&g->s) >> 11) + 1) * 0x1.0p-53; /* (0, 1]: log is finite */
  const double u2 = (splitmix64(&g->s) >> 11) * 0x1.0p-53, r = sqrt(-2 * log(u1)), t = 6.283185307179586 * u2;
  g->spare = r * sin(t), g->has_spare = 1;
  return r * cos(t);
}

/* ---- driver ------------------------------------------------------------------------------------ */

/* sum over the unknowns of u_k * v_k per channel (u, v each compact or on the grid) */
static void dots(const level *L, int c, const double *u, int ugrid, const double *v, int vgrid, double *out) {
  for (int ch = 0; ch < c; ch++) out[ch] = 0;
  for (int k = 0; k < L->n; k++) {
    const double *uk = u + (size_t)(ugrid ? L->gpos[k] : k) * c, *vk = v + (size_t)(vgrid ? L->gpos[k] : k) * c;
    for (int ch = 0; ch < c; ch++) out[ch] += uk[ch] * vk[ch];
  }
}

int gc_impute_linear(float *img, const uint8_t *keep, int h, int w, int c, double noise, uint64_t seed) {
  if (h < 1 || w < 1 || c < 1) return GC_IMPUTE_SINGULAR;
  int n = 0;
  for (int i = 0; i < h * w; i++) n += !keep[i];
  if (n == 0) return GC_IMPUTE_OK;
  if (n == h * w) return GC_IMPUTE_SINGULAR;
  level L[MAX_LEVELS] = {{0}};
  int nl = 1, rc = GC_IMPUTE_NOMEM;
  /* PCG vectors: r, q compact [n][c]; x (the solution), z, p on level 0's padded grid */
  const size_t ng = (size_t)(h + 2) * (w + 2) * c;
  double *r = NULL, *q = malloc((size_t)n * c * sizeof *q), *grid = calloc(3 * ng, sizeof *grid);
  double *sc = malloc((size_t)c * 4 * sizeof *sc); /* per-channel scalars */
  uint8_t *done = calloc((size_t)c, 1);
  if (!q || !grid || !sc || !done) goto out;
  double *x = grid, *z = grid + ng, *p = grid + 2 * ng, *bn = sc, *rz = sc + c, *t = sc + 2 * c, *al = sc + 3 * c;
  if (build_fine(&L[0], img, keep, h, w, c, &r)) goto out;
  while (L[nl - 1].n > COARSEST_N && nl < MAX_LEVELS) {
    if (build_coarse(&L[nl - 1], &L[nl], c)) goto out;
    nl++;
  }
  if (build_chol(&L[nl - 1])) { rc = GC_IMPUTE_NOCONV; goto out; }

  /* PCG from x = 0 (r = b). Channel ch is done, its x and r frozen, once |r| <= CG_TOL |b|. */
  dots(&L[0], c, r, 0, r, 0, bn);
  for (int ch = 0; ch < c; ch++) {
    bn[ch] = sqrt(bn[ch]);
    if (!isfinite(bn[ch])) { rc = GC_IMPUTE_NOCONV; goto out; } /* a NaN/inf known pixel next to a hole */
  }
  vcycle(L, 0, nl, c, r, z);
  memcpy(p, z, ng * sizeof *p);
  dots(&L[0], c, r, 0, z, 1, rz);
  rc = GC_IMPUTE_NOCONV;
  int it = 0;
  for (;; it++) {
    dots(&L[0], c, r, 0, r, 0, t);
    int all = 1;
    for (int ch = 0; ch < c; ch++) all &= done[ch] |= sqrt(t[ch]) <= CG_TOL * bn[ch];
    if (all) { rc = GC_IMPUTE_OK; break; }
    if (it == CG_MAXIT) break;
    apply(&L[0], c, p, q);
    dots(&L[0], c, p, 1, q, 0, t);
    for (int ch = 0; ch < c; ch++) al[ch] = done[ch] || !(t[ch] > 0) ? 0 : rz[ch] / t[ch]; /* 0 freezes a channel */
    for (int k = 0; k < n; k++) {
      const size_t g = (size_t)L[0].gpos[k] * c, i = (size_t)k * c;
      for (int ch = 0; ch < c; ch++) x[g + ch] += al[ch] * p[g + ch], r[i + ch] -= al[ch] * q[i + ch];
    }
    vcycle(L, 0, nl, c, r, z);
    dots(&L[0], c, r, 0, z, 1, t);
    for (int ch = 0; ch < c; ch++) { /* beta = rz_new / rz */
      const double rzn = t[ch];
      t[ch] = rz[ch] > 0 ? rzn / rz[ch] : 0, rz[ch] = rzn;
    }
    for (int k = 0; k < n; k++) {
      const size_t g = (size_t)L[0].gpos[k] * c;
      for (int ch = 0; ch < c; ch++) p[g + ch] = z[g + ch] + t[ch] * p[g + ch];
    }
  }
  impute_iters = it;
  if (rc == GC_IMPUTE_OK) {
    gauss_rng g = {seed, 0, 0};
    for (int k = 0; k < n; k++)
      for (int ch = 0; ch < c; ch++)
        img[(size_t)(L[0].gpos[k] / (w + 2) - 1) * w * c + (size_t)(L[0].gpos[k] % (w + 2) - 1) * c + ch] =
            (float)(x[(size_t)L[0].gpos[k] * c + ch] + (noise != 0 ? noise * gauss(&g) : 0));
  }
out:
  for (int l = 0; l <= nl && l < MAX_LEVELS; l++) level_free(&L[l]);
  free(r), free(q), free(grid), free(sc), free(done);
  return rc;
}
