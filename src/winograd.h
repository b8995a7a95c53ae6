/* winograd.h: the 3x3, stride-1 convolutions of ResNet-18 by Winograd's minimal filtering F(2x2, 3x3),
 * forward and data gradient, with one transformed copy of the weights serving both directions.
 *
 * Why: a direct 3x3 convolution spends 9 multiply-adds per output pixel per (in, out) channel pair.
 * F(2x2, 3x3) produces a 2x2 output tile from a 4x4 input tile with 16 products per channel pair,
 * 4 per output pixel: 2.25x less arithmetic. Wasm SIMD has no fused multiply-add with Debian's
 * clang 14, and XNNPACK's direct IGEMM kernels ran the whole forward at ~9 GMAC/s on one core here
 * (a mul and an add per lane per multiply-add), so doing less arithmetic is what was left.
 *
 * Why not F(4x4, 3x3) (4x less arithmetic; about 1.2x faster per conv here): its transforms
 * (coefficients up to 8) leave 3e-6 to 6e-6 of relative error per layer, 16-19x F(2x2)'s, and on
 * the seeded test ResNet that flips a handful of ReLU decisions whose pre-activation lies within
 * 1e-4 of zero; each flip moves a 3x3 neighbourhood of the gradient below it, so the layer2 and
 * layer1 gradients missed PyTorch's by 6% of their maximum. F(2x2)'s transforms only add and halve:
 * 1.6e-7 to 3.8e-7 of the range (tests/unit/test_winograd.c), and every gradient matches PyTorch's
 * to 1.4e-6 of its maximum, as with XNNPACK's direct convolution before.
 *
 * Math (Lavin & Gray 2015, interpolation points 0, 1, -1, inf), per input channel c, output channel
 * k and tile (d: its 4x4 input patch, rows 2*ty-1 .. 2*ty+2, zero outside the image):
 *   U[k][c] = G g[k][c] Gᵀ (4x4, once, in double)      V[c] = Bᵀ d[c] B (4x4)
 *   M[k] = sum_c U[k][c] ⊙ V[c]      y tile [2][2] = Aᵀ M[k] A (+ bias, + residual, ReLU)
 * Summing over c is, for each of the 16 positions, a GEMM: M[pos] (tiles x K) = V[pos] (tiles x C)
 * . U[pos] (C x K). The data gradient is the adjoint of the same linear map, with the same U:
 *   dM[k] = A dY[k] Aᵀ (dY zero where the tile hangs past the image)
 *   dV[pos] (tiles x C) = dM[pos] (tiles x K) . U[pos]ᵀ      dD[c] = B dV[c] Bᵀ
 * and neighbouring 4x4 patches overlap by 2 pixels, so each dx pixel sums the <= 4 patches covering it.
 *
 * Layout: activations NHWC float[H][W][C]; U is [16][K/8][C][8]: for each position, 8-column panels,
 * the layout the GEMM micro-kernel streams (the backward transposes one panel at a time).
 * Memory: U holds 16/9 of the conv's weights (replacing XNNPACK's packed copy of them).
 * Determinism: every output element is computed by one task in a fixed order; the split of the work
 * over threads never changes a result bit.
 */
#ifndef GC_WINOGRAD_H
#define GC_WINOGRAD_H

#include <stddef.h>

#include "backward.h" /* gc_parallel */
#include "model.h"    /* gc_conv */

typedef struct gc_wino {
  int ic, oc;        /* C, K: both multiples of 8                       */
  float *u;          /* [16][oc/8][ic][8] transformed weights (owned)  */
  const float *bias; /* [oc], the conv's folded bias (not owned)       */
} gc_wino;

/* 1 if conv c can run here: 3x3, stride 1, pad 1, channel counts multiples of 8. */
int gc_wino_supported(const gc_conv *c);
/* Transform c's weights into k (c must outlive k for its bias), on the calling thread (the net makes
 * its transforms side by side, one task each). 0, or -1 when out of memory. */
int gc_wino_init(gc_wino *k, const gc_conv *c);
void gc_wino_free(gc_wino *k);

/* Floats of scratch either direction needs for an h x w map with par's thread count (1 for NULL). */
size_t gc_wino_scratch(const gc_wino *k, int h, int w, int threads);

/* y = conv(x) + bias (+ res if res) (then max(0, .) if relu).   x: [h][w][C]   res, y: [h][w][K]
 * y must not alias x (it may alias res: each element of res is read once, right before the store). */
void gc_wino_forward(const gc_wino *k, const float *x, int h, int w, const float *res, int relu, float *y,
                     float *scratch, const gc_parallel *par);

/* dx = the input gradient of the conv given dy (bias and ReLU of its own output are not its business:
 * mask dy first), then + add[i] if add, then 0 wherever relu_out[i] <= 0 if relu_out: the two steps a
 * ResNet block's backward takes next (the shortcut's gradient; the ReLU that made the conv's input),
 * done in the same parallel pass instead of two serial ones over dx.
 *   dy: [h][w][K]   add, relu_out, dx: [h][w][C] (add and relu_out may be NULL; dx aliases neither) */
void gc_wino_backward_data(const gc_wino *k, const float *dy, int h, int w, const float *add, const float *relu_out,
                           float *dx, float *scratch, const gc_parallel *par);

#endif
