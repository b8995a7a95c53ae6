/* winograd.c: F(2x2, 3x3) convolution, forward and data gradient (math and layout: winograd.h).
 *
 * The code is written once with GCC/clang vector extensions (4 x float, gemm.h, which also holds the
 * GEMM micro-kernel).
 *
 * Work split: the output tiles (2x2 pixels each, row-major over the image) are cut into blocks of
 * at most TB tiles, and the channels the pass produces (K forward, C backward) into chunks; a task
 * is one (block, chunk) pair and does everything for it: transform its tiles' inputs into
 * thread-local scratch, run the 16 small GEMMs, transform back. Tasks share nothing but read-only
 * data, so no barrier is needed inside a pass, and the result does not depend on the split.
 */
#include "winograd.h"
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#define SHUF(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define SHUF(a, b, i, j, k, l) __builtin_shuffle(a, b, (vi){i, j, k, l})
#endif

#define NPOS 16   /* positions of a 4x4 transformed tile */
#define TB_FWD 32 /* tiles per task, forward: 16 x 32 x C floats of transformed input stay in L2 */
#define TB_BWD 64 /* backward: larger, as each task re-packs the weight panels it uses */
#define SKEW 16  /* floats of padding after each transform position's rows in the scratch: with the rows
                    alone a position was often a multiple of 4 KB from the next (32 tiles x 64
                    channels), and the 16 of a tile's transform fell into one L1 set (layer1's input
                    transform: 2.3 -> 0.7 ms a forward) */
#define PG 8      /* backward: weight panels re-packed together (K x 64 floats of scratch) */

static int tmin(int a, int b) { return a < b ? a : b; }
static int tmax(int a, int b) { return a > b ? a : b; }

/* ============================================================================================
 * Weights
 * ============================================================================================ */

int gc_wino_supported(const gc_conv *c) {
  return c->kh == 3 && c->kw == 3 && c->stride == 1 && c->pad == 1 && c->ic % 8 == 0 && c->oc % 8 == 0;
}

typedef struct wino_init_task {
  gc_wino *k;
  const gc_conv *c;
} wino_init_task;

/* U = G g Gᵀ for the 8 output channels of block ob and every input channel, G = [[1, 0, 0], [½, ½, ½],
 * [½, -½, ½], [0, 0, 1]] written out: no products with 0 or 1 (the generic 4x3 products were most of
 * start-up's Winograd time), and in double with one rounding to float at the end, as before, so U is
 * unchanged bit for bit (a product with ½ is exact, so ½a + ½b + ½c = ½((a + b) + c) exactly). */
static void wino_init_block(void *ctx, size_t thread, size_t ob) {
  (void)thread;
  const wino_init_task *t = ctx;
  const int C = t->c->ic, K = t->c->oc;
  const size_t ps = (size_t)(K / 8) * C * 8; /* from one position p of U to the next */
  for (int i = 0; i < C; i++) {
    float out[NPOS][8]; /* U[p][ob][i][0..7]: the 8 channels of the block, stored together below */
    for (int oo = 0; oo < 8; oo++) {
      const float *w = t->c->w + (ob * 8 + oo) * 9 * (size_t)C; /* [3][3][C] (OHWI) */
      double a[4][3];                                             /* G g */
      for (int x = 0; x < 3; x++) {
        const double g0 = w[x * C + i], g1 = w[(3 + x) * C + i], g2 = w[(6 + x) * C + i];
        a[0][x] = g0; a[1][x] = 0.5 * (g0 + g1 + g2); a[2][x] = 0.5 * (g0 - g1 + g2); a[3][x] = g2;
      }
      for (int r = 0; r < 4; r++) { /* (G g) Gᵀ */
        const double t0 = a[r][0], t1 = a[r][1], t2 = a[r][2];
        out[r * 4 + 0][oo] = (float)t0;
        out[r * 4 + 1][oo] = (float)(0.5 * (t0 + t1 + t2));
        out[r * 4 + 2][oo] = (float)(0.5 * (t0 - t1 + t2));
        out[r * 4 + 3][oo] = (float)t2;
      }
    }
    float *u = t->k->u + (ob * C + i) * 8;
    for (int p = 0; p < NPOS; p++) { ST(u + p * ps, LD(out[p])); ST(u + p * ps + 4, LD(out[p] + 4)); }
  }
}

int gc_wino_init(gc_wino *k, const gc_conv *c) {
  memset(k, 0, sizeof *k);
  const int C = c->ic, K = c->oc;
  k->u = aligned_alloc(64, (size_t)NPOS * K * C * sizeof(float));
  if (!k->u) return -1;
  k->ic = C; k->oc = K; k->bias = c->b;
  wino_init_task t = {k, c};
  gc_parallel_for(NULL, wino_init_block, &t, (size_t)K / 8);
  return 0;
}

void gc_wino_free(gc_wino *k) {
  free(k->u);
  memset(k, 0, sizeof *k);
}

/* ============================================================================================
 * 1-D transforms (4 channels at a time); a 2-D transform is one pass down the columns, one along
 * the rows. Output i goes to o[i * s].
 * ============================================================================================ */

static inline void bt_1d(vf i0, vf i1, vf i2, vf i3, vf *o, int s) { /* Bᵀ, 4 -> 4 */
  o[0] = i0 - i2;
  o[s] = i1 + i2;
  o[2 * s] = i2 - i1;
  o[3 * s] = i1 - i3;
}

static inline void b_1d(vf i0, vf i1, vf i2, vf i3, vf *o, int s) { /* B = (Bᵀ)ᵀ, 4 -> 4 */
  o[0] = i0;
  o[s] = i1 - i2 + i3;
  o[2 * s] = i1 + i2 - i0;
  o[3 * s] = -i3;
}

static inline void at_1d(vf m0, vf m1, vf m2, vf m3, vf *o, int s) { /* Aᵀ, 4 -> 2 */
  o[0] = m0 + m1 + m2;
  o[s] = m1 - m2 - m3;
}

static inline void a_1d(vf i0, vf i1, vf *o, int s) { /* A = (Aᵀ)ᵀ, 2 -> 4 */
  o[0] = i0;
  o[s] = i0 + i1;
  o[2 * s] = i0 - i1;
  o[3 * s] = -i1;
}

/* ============================================================================================
 * Work split (identical for the scratch size and the run)
 * ============================================================================================ */
typedef struct {
  int h, w, tw, T;  /* map size, tiles per row, tiles                          */
  int tb, nb;       /* tiles per task block, blocks                            */
  int cc, nc;       /* channels per chunk (the side the pass produces), chunks */
  size_t per_thread; /* floats of thread-local scratch                         */
  size_t shared;     /* floats of shared scratch (backward: the patches dP)    */
} plan;

static plan make_plan(const gc_wino *k, int h, int w, int threads, int backward) {
  plan p;
  p.h = h; p.w = w; p.tw = (w + 1) / 2; p.T = p.tw * ((h + 1) / 2);
  /* A map of at most 64 tiles (layer3-4 at 224x224) is one block: U is then read once per pass, not
   * once per block (layer3's forward: 49 tiles in blocks of <= 32 read its 4 MB twice, 12% slower). */
  const int tbmax = backward ? TB_BWD : p.T <= 64 ? 64 : TB_FWD;
  p.nb = (p.T + tbmax - 1) / tbmax;
  /* Blocks of equal size, as many as a multiple of the threads: no thread idles at the end of a layer
   * (pthreadpool hands out equal shares of the task range). */
  if (threads > 1 && p.nb > 1) p.nb = (p.nb + threads - 1) / threads * threads;
  p.tb = (p.T + p.nb - 1) / p.nb;
  p.nb = (p.T + p.tb - 1) / p.tb;
  /* Few blocks (the small maps of layer3-4): split the produced channels too, until every thread has
   * two tasks. Each chunk then redoes its blocks' input transform (cheap), but every weight is still
   * read once: on layer4, U (16.8 MB a conv) is what bounds a pass. */
  const int n = backward ? k->ic : k->oc;
  p.nc = 1;
  while (threads > 1 && p.nb * p.nc < 2 * threads && n % (p.nc * 16) == 0 && n / (p.nc * 2) >= 32) p.nc *= 2;
  p.cc = n / p.nc;
  const size_t tiles = (size_t)NPOS * p.tb;
  p.per_thread = (backward ? tiles * k->oc + tiles * p.cc + (size_t)k->oc * 8 * PG : tiles * k->ic + tiles * p.cc) +
                 2 * NPOS * SKEW;
  p.per_thread = (p.per_thread + 15) & ~(size_t)15;
  p.shared = backward ? ((size_t)p.T * NPOS * k->ic + 15) & ~(size_t)15 : 0;
  return p;
}

size_t gc_wino_scratch(const gc_wino *k, int h, int w, int threads) {
  if (threads < 1) threads = 1;
  const plan f = make_plan(k, h, w, threads, 0), b = make_plan(k, h, w, threads, 1);
  const size_t nf = f.per_thread * threads, nbk = b.shared + b.per_thread * threads;
  return nf > nbk ? nf : nbk;
}

/* ============================================================================================
 * Forward
 * ============================================================================================ */
typedef struct {
  const gc_wino *k;
  plan p;
  const float *x, *res;
  float *y, *scratch;
  int relu;
} fwd_ctx;

/* V[pos][.][c] = Bᵀ d B for the 4x4 patch of tile (ty, tx), all C channels; pos stride ps. */
static void input_tile(const float *x, int h, int w, int C, int ty, int tx, float *V, size_t ps) {
  const int y0 = 2 * ty - 1, x0 = 2 * tx - 1;
  const int ilo = tmax(0, -y0), ihi = tmin(4, h - y0), jlo = tmax(0, -x0), jhi = tmin(4, w - x0);
  for (int c = 0; c < C; c += 4) {
    vf d[16], t[16], v[16];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++)
        d[i * 4 + j] = i >= ilo && i < ihi && j >= jlo && j < jhi
                           ? LD(x + ((size_t)(y0 + i) * w + x0 + j) * C + c) : (vf){0};
    for (int j = 0; j < 4; j++) bt_1d(d[j], d[4 + j], d[8 + j], d[12 + j], t + j, 4);
    for (int i = 0; i < 4; i++) bt_1d(t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3], v + 4 * i, 1);
    for (int q = 0; q < NPOS; q++) ST(V + q * ps + c, v[q]);
  }
}

/* y tile (ty, tx), channels [k0, k0 + n) = Aᵀ M A + bias (+ res) (ReLU); M[pos][.] pos stride ps. */
static void output_tile(const float *M, size_t ps, int n, const fwd_ctx *f, int ty, int tx, int k0) {
  const int K = f->k->oc, h = f->p.h, w = f->p.w, rows = tmin(2, h - 2 * ty), cols = tmin(2, w - 2 * tx);
  for (int c = 0; c < n; c += 4) {
    vf m[16], t[8], o[4];
    for (int q = 0; q < NPOS; q++) m[q] = LD(M + q * ps + c);
    for (int j = 0; j < 4; j++) at_1d(m[j], m[4 + j], m[8 + j], m[12 + j], t + j, 4);
    for (int r = 0; r < 2; r++) at_1d(t[4 * r], t[4 * r + 1], t[4 * r + 2], t[4 * r + 3], o + 2 * r, 1);
    const vf b = LD(f->k->bias + k0 + c);
    for (int r = 0; r < rows; r++)
      for (int q = 0; q < cols; q++) {
        const size_t at = ((size_t)(2 * ty + r) * w + 2 * tx + q) * K + k0 + c;
        vf v = o[2 * r + q] + b;
        if (f->res) v += LD(f->res + at);
        if (f->relu) v = (vf)((vi)v & (v > (vf){0}));
        ST(f->y + at, v);
      }
  }
}

static void fwd_task(void *ctx, size_t thread, size_t i) {
  const fwd_ctx *f = ctx;
  const plan *p = &f->p;
  const int C = f->k->ic, K8 = f->k->oc / 8, b = (int)i / p->nc, k0 = (int)(i % p->nc) * p->cc;
  const int t0 = b * p->tb, nt = tmin(p->tb, p->T - t0);
  const size_t psv = (size_t)nt * C + SKEW, psm = (size_t)nt * p->cc + SKEW; /* position strides of V, M */
  float *V = f->scratch + thread * p->per_thread, *M = V + NPOS * ((size_t)p->tb * C + SKEW);
  for (int t = 0; t < nt; t++) input_tile(f->x, p->h, p->w, C, (t0 + t) / p->tw, (t0 + t) % p->tw, V + (size_t)t * C, psv);
  for (int q = 0; q < NPOS; q++)
    for (int kb = k0 / 8; kb < (k0 + p->cc) / 8; kb++) {
      const float *panel = f->k->u + ((size_t)q * K8 + kb) * C * 8;
      for (int r = 0; r < nt; r += 4)
        gc_gemm_4x8(tmin(4, nt - r), C, V + q * psv + (size_t)r * C, C, panel, M + q * psm + (size_t)r * p->cc + (kb * 8 - k0),
                 p->cc);
    }
  for (int t = 0; t < nt; t++)
    output_tile(M + (size_t)t * p->cc, psm, p->cc, f, (t0 + t) / p->tw, (t0 + t) % p->tw, k0);
}

void gc_wino_forward(const gc_wino *k, const float *x, int h, int w, const float *res, int relu, float *y,
                     float *scratch, const gc_parallel *par) {
  const int threads = par && par->threads > 1 ? par->threads : 1;
  fwd_ctx f = {k, make_plan(k, h, w, threads, 0), x, res, y, scratch, relu};
  gc_parallel_for(par, fwd_task, &f, (size_t)f.p.nb * f.p.nc);
}

/* ============================================================================================
 * Data gradient
 * ============================================================================================ */
typedef struct {
  const gc_wino *k;
  plan p;
  const float *dy, *add, *relu_out;
  float *dx, *dP, *scratch; /* dP: [T][16][C], every tile's B dV Bᵀ */
} bwd_ctx;

/* dM[pos][.][k] = A dY Aᵀ for tile (ty, tx), all K channels (dY zero past the image); pos stride ps. */
static void grad_tile(const float *dy, int h, int w, int K, int ty, int tx, float *dM, size_t ps) {
  const int rows = tmin(2, h - 2 * ty), cols = tmin(2, w - 2 * tx);
  for (int c = 0; c < K; c += 4) {
    vf g[4], t[8], m[16];
    for (int r = 0; r < 2; r++)
      for (int q = 0; q < 2; q++)
        g[2 * r + q] = r < rows && q < cols ? LD(dy + ((size_t)(2 * ty + r) * w + 2 * tx + q) * K + c) : (vf){0};
    for (int q = 0; q < 2; q++) a_1d(g[q], g[2 + q], t + q, 2); /* t [4][2] */
    for (int r = 0; r < 4; r++) a_1d(t[2 * r], t[2 * r + 1], m + 4 * r, 1);
    for (int q = 0; q < NPOS; q++) ST(dM + q * ps + c, m[q]);
  }
}

/* Transpose an 8x8 block: dst[j][i] = src[i][j], rows ss / ds floats apart. */
static void transpose_8x8(const float *src, size_t ss, float *dst, size_t ds) {
  for (int bi = 0; bi < 8; bi += 4)
    for (int bj = 0; bj < 8; bj += 4) {
      const float *s = src + bi * ss + bj;
      const vf r0 = LD(s), r1 = LD(s + ss), r2 = LD(s + 2 * ss), r3 = LD(s + 3 * ss);
      const vf t0 = SHUF(r0, r1, 0, 4, 1, 5), t1 = SHUF(r2, r3, 0, 4, 1, 5), t2 = SHUF(r0, r1, 2, 6, 3, 7),
               t3 = SHUF(r2, r3, 2, 6, 3, 7);
      float *d = dst + bj * ds + bi;
      ST(d, SHUF(t0, t1, 0, 1, 4, 5)); ST(d + ds, SHUF(t0, t1, 2, 3, 6, 7));
      ST(d + 2 * ds, SHUF(t2, t3, 0, 1, 4, 5)); ST(d + 3 * ds, SHUF(t2, t3, 2, 3, 6, 7));
    }
}

static void bwd_task(void *ctx, size_t thread, size_t i) {
  const bwd_ctx *g = ctx;
  const plan *p = &g->p;
  const int C = g->k->ic, K = g->k->oc, b = (int)i / p->nc, c0 = (int)(i % p->nc) * p->cc;
  const int t0 = b * p->tb, nt = tmin(p->tb, p->T - t0);
  const size_t psm = (size_t)nt * K + SKEW, psv = (size_t)nt * p->cc + SKEW; /* position strides of dM, dV */
  float *dM = g->scratch + thread * p->per_thread, *dV = dM + NPOS * ((size_t)p->tb * K + SKEW),
        *panel = dV + NPOS * ((size_t)p->tb * p->cc + SKEW);
  for (int t = 0; t < nt; t++) grad_tile(g->dy, p->h, p->w, K, (t0 + t) / p->tw, (t0 + t) % p->tw, dM + (size_t)t * K, psm);
  for (int q = 0; q < NPOS; q++)
    for (int g0 = c0 / 8; g0 < (c0 + p->cc) / 8; g0 += PG) {
      /* panel j [K][8] = U[q]ᵀ restricted to channels (g0 + j)*8 .. +8: gemm_4x8's B for dV = dM Uᵀ,
       * PG panels at a time so that U is read in runs of PG*64 floats: one panel at a time read 256 B
       * every 16 KB (on layer4), which kept 2 threads waiting on L3 (the pass scaled 1.4-1.6x). (A
       * dot-product kernel reading U in place, with no copy, was tried: slower on layer1-3, on layer4
       * from 20% slower to 12% faster from run to run. The copy is one read of U per task.) */
      const int ng = tmin(PG, (c0 + p->cc) / 8 - g0);
      for (int kb = 0; kb < K / 8; kb++)
        for (int j = 0; j < ng; j++)
          transpose_8x8(g->k->u + (((size_t)q * (K / 8) + kb) * C + (g0 + j) * 8) * 8, 8,
                        panel + (size_t)j * K * 8 + (size_t)kb * 64, 8);
      for (int j = 0; j < ng; j++)
        for (int r = 0; r < nt; r += 4)
          gc_gemm_4x8(tmin(4, nt - r), K, dM + q * psm + (size_t)r * K, K, panel + (size_t)j * K * 8,
                   dV + q * psv + (size_t)r * p->cc + ((g0 + j) * 8 - c0), p->cc);
    }
  const size_t ps = psv;
  for (int t = 0; t < nt; t++) {
    float *out = g->dP + (size_t)(t0 + t) * NPOS * C + c0;
    for (int c = 0; c < p->cc; c += 4) {
      vf v[16], s[16], d[16];
      for (int q = 0; q < NPOS; q++) v[q] = LD(dV + q * ps + (size_t)t * p->cc + c);
      for (int j = 0; j < 4; j++) b_1d(v[j], v[4 + j], v[8 + j], v[12 + j], s + j, 4);
      for (int r = 0; r < 4; r++) b_1d(s[4 * r], s[4 * r + 1], s[4 * r + 2], s[4 * r + 3], d + 4 * r, 1);
      for (int q = 0; q < NPOS; q++) ST(out + (size_t)q * C + c, d[q]);
    }
  }
}

/* dx row iy: each pixel sums the patches of the <= 2 x 2 tiles whose 4x4 window covers it
 * (tile ty covers rows 2*ty-1 .. 2*ty+2). */
static void gather_row(void *ctx, size_t thread, size_t iy_) {
  (void)thread;
  const bwd_ctx *g = ctx;
  const int C = g->k->ic, iy = (int)iy_, w = g->p.w, th = (g->p.h + 1) / 2;
  const int ty0 = tmax(0, (iy - 1) >> 1), ty1 = tmin(th - 1, (iy + 1) / 2);
  for (int ix = 0; ix < w; ix++) {
    const int tx0 = tmax(0, (ix - 1) >> 1), tx1 = tmin(g->p.tw - 1, (ix + 1) / 2);
    const size_t at = ((size_t)iy * w + ix) * C;
    for (int c = 0; c < C; c += 4) {
      vf s = {0};
      for (int ty = ty0; ty <= ty1; ty++)
        for (int tx = tx0; tx <= tx1; tx++)
          s += LD(g->dP + ((size_t)(ty * g->p.tw + tx) * NPOS + (iy - 2 * ty + 1) * 4 + (ix - 2 * tx + 1)) * C + c);
      if (g->add) s += LD(g->add + at + c);
      if (g->relu_out) s = (vf)((vi)s & (LD(g->relu_out + at + c) > (vf){0}));
      ST(g->dx + at + c, s);
    }
  }
}

void gc_wino_backward_data(const gc_wino *k, const float *dy, int h, int w, const float *add, const float *relu_out,
                           float *dx, float *scratch, const gc_parallel *par) {
  const int threads = par && par->threads > 1 ? par->threads : 1;
  bwd_ctx g = {k, make_plan(k, h, w, threads, 1), dy, add, relu_out, dx, scratch, scratch};
  g.scratch = scratch + g.p.shared;
  gc_parallel_for(par, bwd_task, &g, (size_t)g.p.nb * g.p.nc);
  gc_parallel_for(par, gather_row, &g, (size_t)h);
}
