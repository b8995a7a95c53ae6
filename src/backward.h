/* backward.h: hand-written backward (input-gradient) kernels for Grad-CAM on ResNet-18.
 *
 * The forward pass runs through XNNPACK; these kernels push the gradient of one class score back
 * through it. Only data gradients are computed (Grad-CAM never needs weight gradients).
 *
 * Layout: batch 1, NHWC (XNNPACK's). An activation is float[H][W][C]; conv weights are OHWI,
 * w[oc][kh][kw][ic], BN already folded (the input gradient of a conv does not depend on its bias).
 * Output size of conv / pool: oh = (h + 2*pad - k)/stride + 1, same for ow.
 *
 * Every kernel OVERWRITES its output unless it says "in place" / "acc +=".
 *
 * Speed: the conv data gradient is the hot kernel (as many FLOPs as the forward conv). It has a
 * plain C reference, gc_conv2d_backward_data_ref, and gc_conv2d_backward_data, which is the wasm
 * SIMD GEMM kernel when compiled with -msimd128 and the reference otherwise. Both take the same
 * arguments: weights in OHWI, no pre-packing step (the SIMD kernel packs one 8-channel slice of
 * the weights at a time into its scratch, which costs one read of the weights per call).
 * The other kernels are memory-bound one-pass loops, plain C only.
 */
#ifndef GC_BACKWARD_H
#define GC_BACKWARD_H

#include <stddef.h>

#include "parallel.h"

/* ---- convolution, data gradient ----------------------------------------------------------- */

/* dx[iy][ix][ic] = sum over (oy,ox,oc,ky,kx) with iy = oy*stride + ky - pad and
 * ix = ox*stride + kx - pad of dy[oy][ox][oc] * w[oc][ky][kx][ic]: the transposed convolution,
 * i.e. the input gradient of a convolution without dilation/groups.
 *   dy: [oh][ow][oc]   w: [oc][kh][kw][ic] (OHWI)   dx: [h][w_][ic], overwritten
 * scratch: gc_conv2d_backward_data_scratch(...) floats, or NULL (then the kernel mallocs and frees
 * that much itself; if that malloc fails it falls back to the reference, which needs none).
 * Preconditions: all sizes >= 1, pad >= 0, oh == (h + 2*pad - kh)/stride + 1 (same for ow). */
void gc_conv2d_backward_data(const float *dy, int oh, int ow, int oc,
                             const float *w, int kh, int kw, int ic, int stride, int pad,
                             float *dx, int h, int w_, float *scratch);

/* Parallel loops go through gc_parallel_for (parallel.h): par NULL or one thread runs them in order. */

/* gc_conv2d_backward_data spread over par's threads (par NULL: the calling thread, the same as
 * gc_conv2d_backward_data). Channel slices go to the threads when there are enough of them (each thread
 * packs its own slices), else the dx rows of each slice. scratch: gc_conv2d_backward_data_scratch_par
 * floats (one packed slice per thread), or NULL. Every dx element is computed by one task in the same
 * order as on one thread, so the result is bit-identical whatever the number of threads. */
void gc_conv2d_backward_data_par(const float *dy, int oh, int ow, int oc,
                                 const float *w, int kh, int kw, int ic, int stride, int pad,
                                 float *dx, int h, int w_, float *scratch, const gc_parallel *par);
size_t gc_conv2d_backward_data_scratch_par(int oh, int ow, int oc, int kh, int kw, int ic,
                                           int stride, int pad, int h, int w_, int threads);

/* Number of floats of scratch gc_conv2d_backward_data wants for these shapes (0 in builds without
 * wasm SIMD): the zero-padded dy, [oh + ~k/s][ow + ~k/s + 7][oc], plus one packed weight slice,
 * kh*kw*oc*8. One buffer of the largest size serves every conv of a backward pass. At 224x224:
 * conv1 938,240 floats (3.7 MB); layer1 245,888 (the largest after conv1); layer2 151,296;
 * layer3 112,640; layer4 110,592. */
size_t gc_conv2d_backward_data_scratch(int oh, int ow, int oc, int kh, int kw, int ic,
                                       int stride, int pad, int h, int w_);

/* Plain C reference of gc_conv2d_backward_data (same arguments; scratch is ignored). */
void gc_conv2d_backward_data_ref(const float *dy, int oh, int ow, int oc,
                                 const float *w, int kh, int kw, int ic, int stride, int pad,
                                 float *dx, int h, int w_, float *scratch);

/* ---- pooling, activation, fc, residual ----------------------------------------------------- */

/* Max pool k x k, stride s, pad p (padding acts as -inf), backward.
 *   dy: [oh][ow][c]   x: [h][w][c], the pool's forward INPUT   dx: [h][w][c], overwritten
 * Each dy[oy][ox][ch] goes to its window's argmax in x (accumulated where windows overlap), with
 * PyTorch's CPU rule: scan the window in row-major order and take a value if it is > the running
 * max or is NaN. So among equal maxima the FIRST wins, a NaN beats any number, and among several
 * NaNs the LAST wins. Requires p <= k/2 (as PyTorch), so no window is all padding. Bands of rows run
 * on par's threads; every element sums its windows in the same order: bit-identical for any count.
 * relu: x is a ReLU's output and dx is wanted before that ReLU: a window whose max is not > 0 adds
 * nothing, which is gc_relu_backward(dx, x) bit for bit, without its serial pass over dx (the stem's
 * 112x112x64). */
void gc_maxpool2d_backward(const float *dy, int oh, int ow, const float *x, int h, int w, int c,
                           int k, int s, int p, int relu, float *dx, const gc_parallel *par);

/* ReLU backward, in place: g[i] = y[i] > 0 ? g[i] : 0, y = the ReLU OUTPUT kept from the forward
 * (y > 0 exactly where the input was > 0, so this is the usual mask, with 0 at the kink). */
void gc_relu_backward(float *g, const float *y, size_t n);

/* Guided backprop's ReLU rule, in place: g[i] = (y[i] > 0 && g[i] > 0) ? g[i] : 0. Not a gradient
 * (so no finite-difference check): the rule pytorch-grad-cam's GuidedBackpropReLUModel applies. */
void gc_relu_backward_guided(float *g, const float *y, size_t n);

/* Global average pool backward: dx[h][w][c] = dy[c] / (h*w).   dy: [c]   dx: [h][w][c] */
void gc_avgpool_backward(const float *dy, int h, int w, int c, float *dx);

/* Fully connected backward, data only: dx[k] = sum_n dlogits[n] * W[n][k].
 *   dlogits: [n]   W: [n][k] row-major (torch's fc.weight)   dx: [k], overwritten */
void gc_fc_backward(const float *dlogits, const float *W, int n, int k, float *dx);

/* acc[i] += g[i]: residual add backward (the gradient of a + b goes unchanged to both inputs;
 * use it where the shortcut and the block's branch meet again on the way back). */
void gc_add_inplace(float *acc, const float *g, size_t n);

#endif
