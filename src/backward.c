/* backward.c: backward (input-gradient) kernels, plain C references and the wasm SIMD conv.
 * Shapes and semantics are documented in backward.h; this file explains how. */
#include "backward.h"
#include "simd_fma.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

/* ============================================================================================
 * Convolution data gradient: plain C reference
 * ============================================================================================
 * Scatter form, straight from the definition: every dy[oy][ox][:] is spread over the kh*kw input
 * pixels its forward window read, dx[iy][ix][:] += dy[oy][ox][oc] * w[oc][ky][kx][:]. The inner
 * loop runs over ic, contiguous in both dx and w. */
void gc_conv2d_backward_data_ref(const float *dy, int oh, int ow, int oc,
                                 const float *w, int kh, int kw, int ic, int stride, int pad,
                                 float *dx, int h, int w_, float *scratch) {
  (void)scratch;
  memset(dx, 0, (size_t)h * w_ * ic * sizeof *dx);
  for (int oy = 0; oy < oh; oy++)
    for (int ox = 0; ox < ow; ox++) {
      const float *g = dy + ((size_t)oy * ow + ox) * oc;                 /* [oc] */
      for (int ky = 0; ky < kh; ky++) {
        const int iy = oy * stride + ky - pad;
        if (iy < 0 || iy >= h) continue;
        for (int kx = 0; kx < kw; kx++) {
          const int ix = ox * stride + kx - pad;
          if (ix < 0 || ix >= w_) continue;
          float *d = dx + ((size_t)iy * w_ + ix) * ic;                   /* [ic] */
          for (int o = 0; o < oc; o++) {
            const float go = g[o];
            const float *wr = w + (((size_t)o * kh + ky) * kw + kx) * ic;  /* [ic] */
            for (int i = 0; i < ic; i++) d[i] += go * wr[i];
          }
        }
      }
    }
}

#ifndef __wasm_simd128__

/* Without wasm SIMD the reference is the kernel (on the calling thread). */
void gc_conv2d_backward_data_par(const float *dy, int oh, int ow, int oc,
                                 const float *w, int kh, int kw, int ic, int stride, int pad,
                                 float *dx, int h, int w_, float *scratch, const gc_parallel *par) {
  (void)par;
  gc_conv2d_backward_data_ref(dy, oh, ow, oc, w, kh, kw, ic, stride, pad, dx, h, w_, scratch);
}

void gc_conv2d_backward_data(const float *dy, int oh, int ow, int oc,
                             const float *w, int kh, int kw, int ic, int stride, int pad,
                             float *dx, int h, int w_, float *scratch) {
  gc_conv2d_backward_data_ref(dy, oh, ow, oc, w, kh, kw, ic, stride, pad, dx, h, w_, scratch);
}

size_t gc_conv2d_backward_data_scratch(int oh, int ow, int oc, int kh, int kw, int ic,
                                       int stride, int pad, int h, int w_) {
  (void)oh, (void)ow, (void)oc, (void)kh, (void)kw, (void)ic, (void)stride, (void)pad, (void)h,
      (void)w_;
  return 0;
}

size_t gc_conv2d_backward_data_scratch_par(int oh, int ow, int oc, int kh, int kw, int ic,
                                           int stride, int pad, int h, int w_, int threads) {
  (void)threads;
  return gc_conv2d_backward_data_scratch(oh, ow, oc, kh, kw, ic, stride, pad, h, w_);
}

#else /* __wasm_simd128__ */

/* ============================================================================================
 * Convolution data gradient: wasm SIMD
 * ============================================================================================
 * Gather form, as a GEMM. For one dx pixel, dx[iy][ix][:] = sum over the taps (ky,kx) that reach
 * it of dy[oy][ox][:] . W_tap, with W_tap[oc][ic] = w[oc][ky][kx][ic]: a row vector (oc) times an
 * oc x ic matrix. Stacking the pixels of a dx row gives (pixels x oc) . (oc x ic); a micro-tile
 * keeps a 4 px x 8 channel block of dx in registers and sums over every tap and every oc before
 * storing it, so dx is written once and never read. SIMD runs over ic, contiguous in dx and in
 * the packed weights; each dy value is a broadcast load.
 *
 * Parity classes (stride s > 1): tap (ky,kx) reaches dx pixel (iy,ix) only if iy + pad - ky and
 * ix + pad - kx are multiples of s (then oy = (iy + pad - ky)/s). So for a dx row, only the taps
 * with ky = (iy + pad) mod s (step s) contribute, and along the row the pixels split into s
 * classes ix = ix0, ix0 + s, ... that all use the same kx taps. Inside a class consecutive pixels
 * read consecutive dy pixels, which is what lets one micro-tile share its weight loads across its
 * pixels. Stride 1 is the single class; no multiply is spent on a tap that cannot contribute.
 *
 * Borders: instead of clipping taps per pixel, dy is copied into a zero-padded buffer large
 * enough that every (pixel, tap) pair of every tile reads memory, zeros where the forward window
 * hung over the image edge. The copy costs one pass over dy. (The 8-pixel tile may also run past
 * a row's end; a right margin of 7 columns covers that, and those pixels are not stored.)
 *
 * Weights: the inner loop over oc wants W_tap's rows for 8 channels contiguous. Rather than a
 * second, re-packed copy of every conv's weights kept for the model's lifetime, the kernel packs
 * one 8-channel slice [kh][kw][oc][8] into scratch at a time (the loop over slices is outermost,
 * so each weight is read once per call) and runs all of dx for that slice. A slice is at most
 * 3*3*512*8*4 = 147 KB (layer4), so it stays in L2 while every dx row streams past it. Packing
 * costs ~1.7 ms of layer4's ~11 ms per 3x3 conv; elsewhere it is noise. (Packing two slices per
 * pass, so each 64-byte line of w is read once instead of twice, measured no faster.) */
#define NR 8          /* channels per weight slice (two v128) */
#define TILE_MAX_PX 8 /* widest micro-tile in pixels: the padded dy's right margin is this - 1 */

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }
static int floordiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Zero-padded dy: [rows][cols][oc], dy[oy][ox] at row oy + top, column ox + left. */
typedef struct {
  int top, left, rows, cols;
} dy_padding;

static dy_padding padding_for(int oh, int ow, int kh, int kw, int s, int pad, int h, int w) {
  dy_padding g;
  /* smallest oy any tap reads: iy = 0, ky = kh - 1; largest: iy = h - 1, ky = 0 */
  g.top = imax(0, -floordiv(pad - (kh - 1), s));
  g.left = imax(0, -floordiv(pad - (kw - 1), s));
  g.rows = g.top + imax(oh, (h - 1 + pad) / s + 1);
  g.cols = g.left + imax(ow, (w - 1 + pad) / s + 1) + TILE_MAX_PX - 1; /* + tile overrun */
  return g;
}

size_t gc_conv2d_backward_data_scratch_par(int oh, int ow, int oc, int kh, int kw, int ic,
                                           int stride, int pad, int h, int w_, int threads) {
  (void)ic;
  const dy_padding g = padding_for(oh, ow, kh, kw, stride, pad, h, w_);
  return (size_t)g.rows * g.cols * oc + (size_t)(threads > 1 ? threads : 1) * kh * kw * oc * NR;
}

size_t gc_conv2d_backward_data_scratch(int oh, int ow, int oc, int kh, int kw, int ic,
                                       int stride, int pad, int h, int w_) {
  return gc_conv2d_backward_data_scratch_par(oh, ow, oc, kh, kw, ic, stride, pad, h, w_, 1);
}

/* One micro-tile: np <= mr pixels (ix0, ix0 + s, ...) x nc <= 4*nv channels of one dx row.
 *   a:  padded dy at the tile's first pixel for tap (ky0,kx0); tap (ky0 + i*s, kx0 + j*s) is at
 *       a - i*arow - j*oc (oy and ox both drop by one per tap step), pixel p at + p*oc.
 *   wt: packed slice at tap (ky0,kx0), [oc][4*nv]; tap (i,j) at wt + i*wty + j*wtx.
 *   d:  dx at the first pixel and channel; pixel p at d + p*dpx.
 * mr and nv are constants in each caller below, so clang unrolls the p/v loops completely and the
 * accumulator array becomes mr*nv SSA values (registers). np < mr only in tile_8x4. */
static inline __attribute__((always_inline)) void
tile_body(const int mr, const int nv, const float *a, size_t arow, int oc, const float *wt,
          size_t wty, size_t wtx, int nty, int ntx, float *d, size_t dpx, int np, int nc) {
  v128_t acc[TILE_MAX_PX][2];
  for (int p = 0; p < mr; p++)
    for (int v = 0; v < nv; v++) acc[p][v] = wasm_f32x4_splat(0.0f);
  for (int i = 0; i < nty; i++)
    for (int j = 0; j < ntx; j++) {
      const float *ap = a - i * arow - (size_t)j * oc;
      const float *wp = wt + i * wty + j * wtx;
      for (int o = 0; o < oc; o++, ap++, wp += 4 * nv) {
        v128_t wv[2];
        for (int v = 0; v < nv; v++) wv[v] = wasm_v128_load(wp + 4 * v);
        for (int p = 0; p < mr; p++) {
          const v128_t x = wasm_v128_load32_splat(ap + (size_t)p * oc);
          for (int v = 0; v < nv; v++)
            acc[p][v] = GC_MADD(x, wv[v], acc[p][v]);
        }
      }
    }
  if (np == mr && nc == 4 * nv) {
    for (int p = 0; p < mr; p++)
      for (int v = 0; v < nv; v++) wasm_v128_store(d + p * dpx + 4 * v, acc[p][v]);
    return;
  }
  float t[TILE_MAX_PX][8]; /* partial tile: spill, then copy the valid part */
  for (int p = 0; p < mr; p++)
    for (int v = 0; v < nv; v++) wasm_v128_store(t[p] + 4 * v, acc[p][v]);
  for (int p = 0; p < np; p++) memcpy(d + p * dpx, t[p], (size_t)nc * sizeof *d);
}

#define TILE_ARGS                                                                               \
  const float *a, size_t arow, int oc, const float *wt, size_t wty, size_t wtx, int nty, int ntx, \
      float *d, size_t dpx, int np, int nc
#define TILE_PASS a, arow, oc, wt, wty, wtx, nty, ntx, d, dpx, np, nc
typedef void (*tile_fn)(TILE_ARGS);

/* 4 px x 8 channels, the main tile: 8 accumulators + 2 weight vectors + 1 broadcast, 11 of V8's
 * 16 xmm registers on x86-64 (6 px spills and is slower); per oc step 2 vector loads + 4
 * load32_splat feed 8 mul+add pairs. 3, 2, 1 px finish a row: a class of n pixels is n/4 tiles of
 * 4 and one of n%4, so no multiply is spent past the row end (layer3/layer4 rows of 7 and 14
 * pixels would otherwise waste 1 in 8; measured 10-15% faster there). */
static void tile_4x8(TILE_ARGS) { tile_body(4, 2, TILE_PASS); }
static void tile_3x8(TILE_ARGS) { tile_body(3, 2, TILE_PASS); }
static void tile_2x8(TILE_ARGS) { tile_body(2, 2, TILE_PASS); }
static void tile_1x8(TILE_ARGS) { tile_body(1, 2, TILE_PASS); }
static const tile_fn tile_x8[5] = {NULL, tile_1x8, tile_2x8, tile_3x8, tile_4x8};

/* 8 px x 4 channels, for a last slice of <= 4 channels: the 4x8 tile would waste 5 of its 8 lanes
 * there, this one 1 of 4 (with 3 channels). ResNet-18 never needs it (the stem's 3 input channels go
 * to the few-channel kernel below); other shapes, such as the tests' odd channel counts, do. */
static void tile_8x4(TILE_ARGS) { tile_body(8, 1, TILE_PASS); }

/* What every task of one call shares; c0/nc/sw/mr/slice describe the channel slice being worked on. */
typedef struct {
  const float *dyp, *w, *slice;
  float *dx, *slices;
  size_t arow, slice_n;
  int s, pad, kh, kw, oc, ic, h, w_, top, left, c0, nc, sw, mr;
} conv_job;

/* Pack channels [c0, c0 + 8) of every tap into dst, [kh][kw][oc][sw]; sets the slice's nc, sw, mr. */
static void pack_slice(conv_job *j, int c0, float *dst) {
  const int kh = j->kh, kw = j->kw, oc = j->oc, ic = j->ic;
  const int nc = imin(NR, ic - c0);
  const int sw = nc > 4 ? 8 : 4; /* slice width: 8, or 4 for a last slice of <= 4 channels */
  j->c0 = c0; j->nc = nc; j->sw = sw; j->mr = 32 / sw; /* pixels per tile, 4 or 8 */
  j->slice = dst;
  for (int ky = 0; ky < kh; ky++)
    for (int kx = 0; kx < kw; kx++)
      for (int o = 0; o < oc; o++) {
        float *d = dst + (((size_t)ky * kw + kx) * oc + o) * sw;
        const float *src = j->w + (((size_t)o * kh + ky) * kw + kx) * ic + c0;
        if (nc == NR) { /* hot path: two vector moves, not a libc call per 32 bytes */
          wasm_v128_store(d, wasm_v128_load(src));
          wasm_v128_store(d + 4, wasm_v128_load(src + 4));
        } else { /* last, partial slice: zero the unused lanes (no garbage, no NaN) */
          for (int i = 0; i < sw; i++) d[i] = i < nc ? src[i] : 0.0f;
        }
      }
}

/* One dx row of the current channel slice. */
static void conv_row(const conv_job *j, int iy) {
  const int s = j->s, pad = j->pad, kh = j->kh, kw = j->kw, oc = j->oc, sw = j->sw, mr = j->mr;
  const int ky0 = (iy + pad) % s, nty = ky0 < kh ? (kh - 1 - ky0) / s + 1 : 0;
  const int oy0 = (iy + pad - ky0) / s;
  for (int ix0 = 0; ix0 < imin(s, j->w_); ix0++) { /* parity class ix0, ix0 + s, ... */
    const int kx0 = (ix0 + pad) % s, ntx = kx0 < kw ? (kw - 1 - kx0) / s + 1 : 0;
    const int npx = (j->w_ - ix0 + s - 1) / s;
    /* a class no tap reaches (e.g. odd pixels of a 1x1/2 conv) still gets its zeros stored */
    const float *wt = nty && ntx ? j->slice + ((size_t)ky0 * kw + kx0) * oc * sw : j->slice;
    const size_t wty = (size_t)s * kw * oc * sw, wtx = (size_t)s * oc * sw;
    for (int t = 0; t < npx; t += mr) {
      const int ix = ix0 + t * s, ox0 = (ix + pad - kx0) / s;
      const float *a = j->dyp + (oy0 + j->top) * j->arow + (size_t)(ox0 + j->left) * oc;
      float *d = j->dx + ((size_t)iy * j->w_ + ix) * j->ic + j->c0;
      const int np = imin(mr, npx - t);
      (sw == 8 ? tile_x8[np] : tile_8x4)(a, j->arow, oc, wt, wty, wtx, nty, ntx, d, (size_t)s * j->ic, np, j->nc);
    }
  }
}

/* ---- few input channels (the stem: RGB) ---------------------------------------------------------- *
 * With ic <= 3 the slices above leave most SIMD lanes idle (tile_8x4 computes 4 channels of which 3
 * are real, 8 broadcasts per 4-lane weight load). Here SIMD runs along oc instead: a dx pixel's
 * channel c is a dot product over (tap, oc) of dy with w[.][ky][kx][c], so with the weights packed
 * [kh][kw][ic][oc] both operands are contiguous vectors. A micro-tile is 3 pixels of one parity class
 * (consecutive dy columns) x 3 channels: 9 accumulators, 3 dy loads and 3 weight loads per 4 oc feed
 * 9 mul+add pairs (1.5x the useful work per instruction of tile_8x4), and one horizontal sum per
 * output at the end. */
#define FEW_IC 3

static void pack_few(conv_job *j, float *dst) { /* dst [kh][kw][ic][oc] */
  for (int ky = 0; ky < j->kh; ky++)
    for (int kx = 0; kx < j->kw; kx++)
      for (int c = 0; c < j->ic; c++)
        for (int o = 0; o < j->oc; o++)
          dst[(((size_t)ky * j->kw + kx) * j->ic + c) * j->oc + o] = j->w[(((size_t)o * j->kh + ky) * j->kw + kx) * j->ic + c];
  j->slice = dst;
}

static float lane_sum(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

static void few_row(const conv_job *j, int iy) {
  const int s = j->s, pad = j->pad, kh = j->kh, kw = j->kw, oc = j->oc, ic = j->ic;
  const int ky0 = (iy + pad) % s, nty = ky0 < kh ? (kh - 1 - ky0) / s + 1 : 0, oy0 = (iy + pad - ky0) / s;
  for (int ix0 = 0; ix0 < imin(s, j->w_); ix0++) { /* parity class ix0, ix0 + s, ... */
    const int kx0 = (ix0 + pad) % s, ntx = kx0 < kw ? (kw - 1 - kx0) / s + 1 : 0;
    const int npx = (j->w_ - ix0 + s - 1) / s;
    for (int t = 0; t < npx; t += 3) {
      const int ix = ix0 + t * s, ox0 = (ix + pad - kx0) / s, np = imin(3, npx - t);
      v128_t acc[3][FEW_IC];
      for (int p = 0; p < 3; p++)
        for (int c = 0; c < FEW_IC; c++) acc[p][c] = wasm_f32x4_splat(0.0f);
      for (int i = 0; i < nty; i++)
        for (int jx = 0; jx < ntx; jx++) {
          const float *a = j->dyp + (oy0 - i + j->top) * j->arow + (size_t)(ox0 - jx + j->left) * oc;
          const float *wt = j->slice + (((size_t)(ky0 + i * s) * kw + kx0 + jx * s) * ic) * oc;
          for (int o = 0; o < oc; o += 4) {
            const v128_t d0 = wasm_v128_load(a + o), d1 = wasm_v128_load(a + oc + o), d2 = wasm_v128_load(a + 2 * oc + o);
            for (int c = 0; c < FEW_IC; c++) {
              const v128_t wv = wasm_v128_load(wt + (size_t)c * oc + o);
              acc[0][c] = GC_MADD(d0, wv, acc[0][c]);
              acc[1][c] = GC_MADD(d1, wv, acc[1][c]);
              acc[2][c] = GC_MADD(d2, wv, acc[2][c]);
            }
          }
        }
      for (int p = 0; p < np; p++)
        for (int c = 0; c < FEW_IC; c++) j->dx[((size_t)iy * j->w_ + ix + p * s) * FEW_IC + c] = lane_sum(acc[p][c]);
    }
  }
}

static void few_task(void *ctx, size_t thread, size_t i) {
  (void)thread;
  few_row(ctx, (int)i);
}

/* Task: row r of the zero-padded copy of dy (dy_padding's rows × cols × oc): a copy, no arithmetic. */
typedef struct { const float *dy; float *dyp; size_t arow; int oh, ow, oc, top, left; } pad_job;
static void pad_task(void *ctx, size_t thread, size_t r) {
  (void)thread;
  const pad_job *p = ctx;
  float *row = p->dyp + r * p->arow;
  const int oy = (int)r - p->top;
  if (oy < 0 || oy >= p->oh) { memset(row, 0, p->arow * sizeof *row); return; }
  const size_t l = (size_t)p->left * p->oc, n = (size_t)p->ow * p->oc;
  memset(row, 0, l * sizeof *row);
  memcpy(row + l, p->dy + (size_t)oy * n, n * sizeof *row);
  memset(row + l + n, 0, (p->arow - l - n) * sizeof *row);
}

/* Task: row i of the current slice (the slice packed beforehand by the calling thread). */
static void row_task(void *ctx, size_t thread, size_t i) {
  (void)thread;
  conv_row(ctx, (int)i);
}

/* Task: all of slice i, packed into the running thread's own slice buffer. */
static void slice_task(void *ctx, size_t thread, size_t i) {
  conv_job j = *(const conv_job *)ctx;
  pack_slice(&j, (int)i * NR, j.slices + thread * j.slice_n);
  for (int iy = 0; iy < j.h; iy++) conv_row(&j, iy);
}

void gc_conv2d_backward_data_par(const float *dy, int oh, int ow, int oc,
                                 const float *w, int kh, int kw, int ic, int stride, int pad,
                                 float *dx, int h, int w_, float *scratch, const gc_parallel *par) {
  const int s = stride, threads = par && par->run && par->threads > 1 ? par->threads : 1;
  const dy_padding g = padding_for(oh, ow, kh, kw, s, pad, h, w_);
  float *owned = NULL;
  if (!scratch) {
    owned = malloc(gc_conv2d_backward_data_scratch_par(oh, ow, oc, kh, kw, ic, s, pad, h, w_, threads) *
                   sizeof *owned);
    if (!owned) {
      gc_conv2d_backward_data_ref(dy, oh, ow, oc, w, kh, kw, ic, s, pad, dx, h, w_, NULL);
      return;
    }
    scratch = owned;
  }
  conv_job j = {.dyp = scratch, .w = w, .dx = dx, .arow = (size_t)g.cols * oc, .slice_n = (size_t)kh * kw * oc * NR,
                .s = s, .pad = pad, .kh = kh, .kw = kw, .oc = oc, .ic = ic, .h = h, .w_ = w_, .top = g.top,
                .left = g.left};
  j.slices = scratch + (size_t)g.rows * j.arow; /* [threads][kh][kw][oc][NR] after the padded dy */

  /* dy zero-padded, [rows][cols][oc], on the threads: at the stem it is 3.5 MB, serial it was ~1 ms */
  pad_job pj = {dy, scratch, j.arow, oh, ow, oc, g.top, g.left};
  gc_parallel_for(par, pad_task, &pj, (size_t)g.rows);

  const int nslices = (ic + NR - 1) / NR;
  if (ic == FEW_IC && oc % 4 == 0) {          /* the stem: SIMD along oc (its weights fit one slice buffer) */
    pack_few(&j, j.slices);
    gc_parallel_for(par, few_task, &j, (size_t)h);
  } else if (threads > 1 && nslices >= 2 * threads) { /* enough slices: whole slices per thread */
    gc_parallel_for(par, slice_task, &j, (size_t)nslices);
  } else {                                     /* few slices: rows per thread */
    for (int c0 = 0; c0 < ic; c0 += NR) {
      pack_slice(&j, c0, j.slices);
      gc_parallel_for(par, row_task, &j, (size_t)h);
    }
  }
  free(owned);
}

void gc_conv2d_backward_data(const float *dy, int oh, int ow, int oc,
                             const float *w, int kh, int kw, int ic, int stride, int pad,
                             float *dx, int h, int w_, float *scratch) {
  gc_conv2d_backward_data_par(dy, oh, ow, oc, w, kh, kw, ic, stride, pad, dx, h, w_, scratch, NULL);
}

#endif /* __wasm_simd128__ */

/* ============================================================================================
 * Max pool
 * ============================================================================================
 * Recompute each window's argmax from the forward input (cheaper to redo than to keep XNNPACK's
 * indices, which it does not expose) with exactly PyTorch's scan, so Grad-CAM maps match torch
 * pixel for pixel even on flat regions (saturated or padded images have many ties).
 *
 * The scan runs over up to 64 channels at once, with the running max and argmax in small arrays
 * and the update written as selects: clang turns the channel loop into wasm SIMD compares and
 * bitselects, where a per-channel scalar scan would branch on the data (and mispredict about
 * every other compare on real activations: 10x slower at ResNet's 112x112x64, 14 ms vs 1.3). */
#define POOL_CHANNELS 64

typedef struct {
  const float *dy, *x;
  float *dx;
  int oh, ow, h, w, c, k, s, p, relu, band; /* band: input rows per task */
} pool_job;

/* One band of input rows [ya, yb) of dx: zeroed, then every window that overlaps it (oy, ox ascending,
 * as a serial scan adds them) adds its gradient where its argmax falls inside the band. A window
 * across two bands is scanned by both; each adds to its own rows only, so every dx element sums its
 * windows in the serial order whatever the banding: bit-identical for any thread count. */
static void pool_band(void *ctx, size_t thread, size_t band) {
  (void)thread;
  const pool_job *j = ctx;
  const int h = j->h, w = j->w, c = j->c, k = j->k, s = j->s, p = j->p;
  const int ya = (int)band * j->band, yb = ya + j->band < h ? ya + j->band : h;
  memset(j->dx + (size_t)ya * w * c, 0, (size_t)(yb - ya) * w * c * sizeof *j->dx);
  const int lo = ya * w, hi = yb * w; /* pixel indices y*w + x inside the band */
  int oy0 = (ya + p - k + 1 + s - 1) / s, oy1 = (yb - 1 + p) / s; /* windows with rows in [ya, yb) */
  if (ya + p - k + 1 < 0) oy0 = 0;
  if (oy1 > j->oh - 1) oy1 = j->oh - 1;
  for (int oy = oy0; oy <= oy1; oy++) {
    const int y0 = oy * s - p, y1 = y0 + k < h ? y0 + k : h, ys = y0 > 0 ? y0 : 0;
    for (int ox = 0; ox < j->ow; ox++) {
      const int x0 = ox * s - p, x1 = x0 + k < w ? x0 + k : w, xs = x0 > 0 ? x0 : 0;
      for (int c0 = 0; c0 < c; c0 += POOL_CHANNELS) {
        const int nc = c - c0 < POOL_CHANNELS ? c - c0 : POOL_CHANNELS;
        float m[POOL_CHANNELS];
        int at[POOL_CHANNELS]; /* pixel index y*w + x of the running max */
        for (int ch = 0; ch < nc; ch++) { /* torch starts at the window's first pixel, -inf */
          m[ch] = -INFINITY;
          at[ch] = ys * w + xs;
        }
        for (int y = ys; y < y1; y++)
          for (int xx = xs; xx < x1; xx++) {
            const int i = y * w + xx;
            const float *v = j->x + (size_t)i * c + c0; /* [nc] */
            for (int ch = 0; ch < nc; ch++) {
              const int take = (v[ch] > m[ch]) | isnan(v[ch]);
              m[ch] = take ? v[ch] : m[ch];
              at[ch] = take ? i : at[ch];
            }
          }
        const float *g = j->dy + ((size_t)oy * j->ow + ox) * c + c0; /* [nc] */
        for (int ch = 0; ch < nc; ch++) /* (relu: m[ch] is x at the argmax; NaN > 0 is false too) */
          if (at[ch] >= lo && at[ch] < hi && (!j->relu || m[ch] > 0)) j->dx[(size_t)at[ch] * c + c0 + ch] += g[ch];
      }
    }
  }
}

void gc_maxpool2d_backward(const float *dy, int oh, int ow, const float *x, int h, int w, int c,
                           int k, int s, int p, int relu, float *dx, const gc_parallel *par) {
  const int threads = par && par->threads > 1 ? par->threads : 1;
  /* 4 bands per thread (pthreadpool balances them); one band, the plain scan, on one thread */
  int band = threads > 1 ? (h + 4 * threads - 1) / (4 * threads) : h;
  if (band < 1) band = 1;
  pool_job j = {dy, x, dx, oh, ow, h, w, c, k, s, p, relu, band};
  gc_parallel_for(par, pool_band, &j, (size_t)((h + band - 1) / band));
}

/* ============================================================================================
 * ReLU, average pool, fc, residual add
 * ============================================================================================
 * One pass each, memory-bound; written as simple loops that clang vectorizes for wasm SIMD. */
void gc_relu_backward(float *g, const float *y, size_t n) {
  for (size_t i = 0; i < n; i++) { /* load g unconditionally: a select, not a branch per element */
    const float gi = g[i];
    g[i] = y[i] > 0.0f ? gi : 0.0f;
  }
}

/* Guided backpropagation's ReLU rule (Springenberg et al.; pytorch-grad-cam's GuidedBackpropReLU):
 * the gradient passes only where the forward input was positive AND the incoming gradient is. */
void gc_relu_backward_guided(float *g, const float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    g[i] = y[i] > 0.0f && gi > 0.0f ? gi : 0.0f;
  }
}

void gc_avgpool_backward(const float *dy, int h, int w, int c, float *dx) {
  const float n = (float)h * (float)w;
  for (int ch = 0; ch < c; ch++) dx[ch] = dy[ch] / n; /* first pixel, then copied */
  for (size_t i = 1; i < (size_t)h * w; i++) memcpy(dx + i * c, dx, (size_t)c * sizeof *dx);
}

/* dx = W^T dlogits as a sum of rows of W, so W (often 1000 x 512) is read once, sequentially. */
void gc_fc_backward(const float *dlogits, const float *W, int n, int k, float *dx) {
  memset(dx, 0, (size_t)k * sizeof *dx);
  for (int r = 0; r < n; r++) {
    const float g = dlogits[r];
    const float *row = W + (size_t)r * k;
    for (int i = 0; i < k; i++) dx[i] += g * row[i];
  }
}

void gc_add_inplace(float *acc, const float *g, size_t n) {
  for (size_t i = 0; i < n; i++) acc[i] += g[i];
}
