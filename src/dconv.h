/* dconv.h: a convolution as im2col + the GEMM micro-kernel of gemm.h, forward only (the data gradient is
 * backward.c's). It runs any kernel size and stride; forward.c's use_dconv picks the convolutions it is
 * used for (those with >= 2 MB of weights, which Winograd does not take) and says why not the others.
 *
 * Why not XNNPACK's operator for them, as before: at one thread XNNPACK walks the output pixels in tiles
 * of a few rows and streams all of the weights for each tile. layer4.0.conv1 (3x3/2, 256 -> 512, 7x7
 * out) has 4.7 MB of weights, more than a core's L2, so they came from memory ~9 times per pass (3.2 ms,
 * 56% of what the same GEMM does from cache). Here a task takes a block of up to 64 output pixels, lays
 * out their input patches once (im2col: [pixels][kh*kw*ic]), and runs every 8-channel weight panel of
 * its share against all of them: each weight is read once per block, and a map of <= 64 pixels (layer4
 * at 224x224) is one block.
 *
 * Layout: activations NHWC; the panels [oc/8][kh*kw*ic][8], the OHWI weights' columns side by side (an
 * im2col row [ky][kx][ic] is an OHWI filter's own order). Bias folded; ReLU optional.
 * Determinism: each output is one gc_gemm_4x8 sum over k ascending, then + bias: bit-identical for any
 * split of the work over threads. (Not bit-identical to XNNPACK's, whose sums run in another order.)
 */
#ifndef GC_DCONV_H
#define GC_DCONV_H

#include <stddef.h>

#include "model.h"    /* gc_conv */
#include "parallel.h" /* gc_parallel */

typedef struct gc_dconv {
  int kh, kw, stride, pad, ic, oc, kd; /* kd = kh * kw * ic: one im2col row                  */
  int relu;                            /* max(0, .) after the bias                            */
  float *p;                            /* [oc/8][kd][8] weight panels (owned)                 */
  const float *bias;                   /* [oc], the conv's folded bias (not owned)            */
} gc_dconv;

/* 1 if conv c can run here (output channels a multiple of 8). */
int gc_dconv_supported(const gc_conv *c);
/* Pack c's weights into d (c must outlive d for its bias; c->w stays: the backward reads it).
 * 0, or -1 when out of memory. */
int gc_dconv_init(gc_dconv *d, const gc_conv *c, int relu);
void gc_dconv_free(gc_dconv *d);

/* Floats of scratch gc_dconv_forward needs for an h x w input with `threads` threads. */
size_t gc_dconv_scratch(const gc_dconv *d, int h, int w, int threads);

/* y = conv(x) + bias (then max(0, .) if relu).   x: [h][w][ic]   y: [oh][ow][oc], not aliasing x */
void gc_dconv_forward(const gc_dconv *d, const float *x, int h, int w, float *y, float *scratch, const gc_parallel *par);

#endif
