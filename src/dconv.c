/* dconv.c: convolution by im2col + gc_gemm_4x8 (see dconv.h).
 *
 * Work split: the output pixels (row-major) in blocks of at most MB, the output channels in chunks of
 * whole 8-channel panels; a task is one (block, chunk) pair: it lays out its block's patches in its
 * thread's scratch, runs its panels against them, adds the bias (and ReLU). No task writes what another
 * reads, so a pass needs no barrier inside.
 */
#include "dconv.h"
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#define MB 64 /* output pixels per block: a map of up to 64 (layer4 at 224x224) is one block */

int gc_dconv_supported(const gc_conv *c) { return c->oc > 0 && c->oc % 8 == 0 && c->w; }

int gc_dconv_init(gc_dconv *d, const gc_conv *c, int relu) {
  memset(d, 0, sizeof *d);
  const int kd = c->kh * c->kw * c->ic;
  d->p = aligned_alloc(64, ((size_t)c->oc * kd * sizeof(float) + 63) & ~(size_t)63);
  if (!d->p) return -1;
  d->kh = c->kh; d->kw = c->kw; d->stride = c->stride; d->pad = c->pad; d->ic = c->ic; d->oc = c->oc; d->kd = kd;
  d->relu = relu; d->bias = c->b;
  for (int ob = 0; ob < c->oc / 8; ob++) /* panel ob: [kd][8] = columns ob*8 .. +8 of the [oc][kd] weights */
    for (int k = 0; k < kd; k++)
      for (int j = 0; j < 8; j++) d->p[((size_t)ob * kd + k) * 8 + j] = c->w[(size_t)(ob * 8 + j) * kd + k];
  return 0;
}

void gc_dconv_free(gc_dconv *d) {
  free(d->p);
  memset(d, 0, sizeof *d);
}

typedef struct {
  int m, mb, nb;  /* output pixels, pixels per block, blocks */
  int cc, nc;     /* panels per chunk, chunks                */
  size_t per_thread; /* floats of scratch per thread: one block's im2col rows */
} plan;

static plan make_plan(const gc_dconv *d, int oh, int ow, int threads) {
  plan p;
  p.m = oh * ow;
  p.nb = (p.m + MB - 1) / MB;
  if (threads > 1 && p.nb > 1) p.nb = (p.nb + threads - 1) / threads * threads; /* equal shares per thread */
  p.mb = (p.m + p.nb - 1) / p.nb;
  p.mb = (p.mb + 3) & ~3; /* whole 4-row kernel calls, but the last block's */
  p.nb = (p.m + p.mb - 1) / p.mb;
  /* Few blocks (a small map): split the output channels too, until every thread has two tasks. */
  const int panels = d->oc / 8;
  p.nc = 1;
  while (threads > 1 && p.nb * p.nc < 2 * threads && panels % (p.nc * 2) == 0 && panels / (p.nc * 2) >= 4) p.nc *= 2;
  p.cc = panels / p.nc;
  p.per_thread = ((size_t)p.mb * d->kd + 15) & ~(size_t)15;
  return p;
}

size_t gc_dconv_scratch(const gc_dconv *d, int h, int w, int threads) {
  if (threads < 1) threads = 1;
  const plan p = make_plan(d, gc_conv_out(h, d->kh, d->stride, d->pad), gc_conv_out(w, d->kw, d->stride, d->pad), threads);
  return (size_t)threads * p.per_thread;
}

typedef struct {
  const gc_dconv *d;
  plan p;
  const float *x;
  float *y, *scratch;
  int h, w, oh, ow;
} fwd_ctx;

/* A [mb][kd]: the input patch of output pixels m0 .. m0+n, [ky][kx][ic] each, 0 outside the image. */
static void im2col(const fwd_ctx *f, int m0, int n, float *A) {
  const gc_dconv *d = f->d;
  const size_t row = (size_t)d->kw * d->ic;
  for (int i = 0; i < n; i++) {
    const int oy = (m0 + i) / f->ow, ox = (m0 + i) % f->ow;
    float *a = A + (size_t)i * d->kd;
    for (int ky = 0; ky < d->kh; ky++, a += row) {
      const int iy = oy * d->stride - d->pad + ky;
      if (iy < 0 || iy >= f->h) { memset(a, 0, row * sizeof *a); continue; }
      for (int kx = 0; kx < d->kw; kx++) {
        const int ix = ox * d->stride - d->pad + kx;
        float *dst = a + (size_t)kx * d->ic;
        if (ix < 0 || ix >= f->w) memset(dst, 0, (size_t)d->ic * sizeof *dst);
        else memcpy(dst, f->x + ((size_t)iy * f->w + ix) * d->ic, (size_t)d->ic * sizeof *dst);
      }
    }
  }
}

static void fwd_task(void *ctx, size_t thread, size_t t) {
  const fwd_ctx *f = ctx;
  const gc_dconv *d = f->d;
  const plan *p = &f->p;
  const int b = (int)t / p->nc, ob0 = (int)(t % p->nc) * p->cc;
  const int m0 = b * p->mb, n = p->mb < p->m - m0 ? p->mb : p->m - m0;
  float *A = f->scratch + thread * p->per_thread;
  im2col(f, m0, n, A);
  float *y = f->y + (size_t)m0 * d->oc;
  for (int ob = ob0; ob < ob0 + p->cc; ob++) { /* each panel once, against every row of the block */
    const float *panel = d->p + (size_t)ob * d->kd * 8;
    for (int r = 0; r < n; r += 4)
      gc_gemm_4x8(n - r < 4 ? n - r : 4, d->kd, A + (size_t)r * d->kd, d->kd, panel, y + (size_t)r * d->oc + ob * 8,
                  d->oc);
  }
  const int c0 = ob0 * 8, c1 = (ob0 + p->cc) * 8;
  for (int i = 0; i < n; i++) {
    float *yi = y + (size_t)i * d->oc;
    for (int c = c0; c < c1; c++) {
      const float v = yi[c] + d->bias[c];
      yi[c] = d->relu && v < 0.0f ? 0.0f : v;
    }
  }
}

void gc_dconv_forward(const gc_dconv *d, const float *x, int h, int w, float *y, float *scratch, const gc_parallel *par) {
  const int threads = par && par->threads > 1 ? par->threads : 1;
  const int oh = gc_conv_out(h, d->kh, d->stride, d->pad), ow = gc_conv_out(w, d->kw, d->stride, d->pad);
  fwd_ctx f = {d, make_plan(d, oh, ow, threads), x, y, scratch, h, w, oh, ow};
  gc_parallel_for(par, fwd_task, &f, (size_t)f.p.nb * f.p.nc);
}
