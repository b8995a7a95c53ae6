/* test_xnnpack_kernels.c: prove that the convolutions of our forward pass run XNNPACK's wasm SIMD
 * GEMM microkernels (not the scalar fallbacks), and that they compute the right thing.
 *
 * For each convolution shape forward.c gives XNNPACK (the stem, the stride-2 3x3 and the 1x1 convs;
 * the 3x3 stride-1 ones run as Winograd, tested in tests/unit/test_winograd.c), create the operator
 * exactly as forward.c does, read the microkernel XNNPACK selected out of the operator (its internal
 * struct), compare the function pointer with the wasmsimd kernels' addresses, run it, and check it
 * against a naive convolution.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xnnpack.h>
#include <xnnpack/gemm.h>
#include <xnnpack/igemm.h>
#include <xnnpack/operator.h>

#include "../unit/check.h"

typedef struct { const char *name; const void *fn; } kernel;
#define K(f) {#f, (const void *)f}
#if defined(__wasm_relaxed_simd__)
/* The relaxed-SIMD build (XNNPACK compiled with -mrelaxed-simd: XNN_ARCH_WASMRELAXEDSIMD) must pick its FMA
 * kernels (gemm-config.c: loadsplat 1x8/4x8 on x86, splat 1x8/6x8 elsewhere), never the SIMD ones. */
#define RX(mr, v) K(xnn_f32_gemm_ukernel_##mr##__wasmrelaxedsimd_fma_##v), K(xnn_f32_igemm_ukernel_##mr##__wasmrelaxedsimd_fma_##v), \
  K(xnn_f32_gemm_minmax_ukernel_##mr##__wasmrelaxedsimd_fma_##v), K(xnn_f32_igemm_minmax_ukernel_##mr##__wasmrelaxedsimd_fma_##v), \
  K(xnn_f32_gemm_relu_ukernel_##mr##__wasmrelaxedsimd_fma_##v), K(xnn_f32_igemm_relu_ukernel_##mr##__wasmrelaxedsimd_fma_##v)
static const kernel simd_kernels[] = {RX(1x8, loadsplat), RX(4x8, loadsplat), RX(1x8, splat), RX(6x8, splat)};
#else
/* Every f32 GEMM/IGEMM kernel gemm-config.c can pick for plain wasm SIMD (x86 and arm flavours;
 * the set built from XNNPACK's PROD_WASMSIMD_MICROKERNEL_SRCS). */
static const kernel simd_kernels[] = {
  K(xnn_f32_igemm_minmax_ukernel_1x8__wasmsimd_x86_splat), K(xnn_f32_igemm_minmax_ukernel_1x8__wasmsimd_x86_loadsplat),
  K(xnn_f32_igemm_minmax_ukernel_1x8__wasmsimd_arm_splat), K(xnn_f32_igemm_minmax_ukernel_4x8__wasmsimd_x86_splat),
  K(xnn_f32_igemm_minmax_ukernel_4x8__wasmsimd_x86_loadsplat),
  K(xnn_f32_igemm_minmax_ukernel_5x8__wasmsimd_arm_splat), K(xnn_f32_igemm_relu_ukernel_1x8__wasmsimd_splat),
  K(xnn_f32_igemm_relu_ukernel_1x8__wasmsimd_loadsplat), K(xnn_f32_igemm_relu_ukernel_4x8__wasmsimd_splat),
  K(xnn_f32_igemm_relu_ukernel_4x8__wasmsimd_loadsplat), K(xnn_f32_igemm_relu_ukernel_5x8__wasmsimd_splat),
  K(xnn_f32_igemm_ukernel_1x8__wasmsimd_splat), K(xnn_f32_igemm_ukernel_1x8__wasmsimd_loadsplat),
  K(xnn_f32_igemm_ukernel_4x8__wasmsimd_splat), K(xnn_f32_igemm_ukernel_4x8__wasmsimd_loadsplat),
  K(xnn_f32_igemm_ukernel_5x8__wasmsimd_splat), K(xnn_f32_gemm_minmax_ukernel_1x8__wasmsimd_x86_splat),
  K(xnn_f32_gemm_minmax_ukernel_1x8__wasmsimd_x86_loadsplat), K(xnn_f32_gemm_minmax_ukernel_1x8__wasmsimd_arm_splat),
  K(xnn_f32_gemm_minmax_ukernel_4x8__wasmsimd_x86_splat), K(xnn_f32_gemm_minmax_ukernel_4x8__wasmsimd_x86_loadsplat),
  K(xnn_f32_gemm_minmax_ukernel_5x8__wasmsimd_arm_splat),
  K(xnn_f32_gemm_relu_ukernel_1x8__wasmsimd_splat), K(xnn_f32_gemm_relu_ukernel_1x8__wasmsimd_loadsplat),
  K(xnn_f32_gemm_relu_ukernel_4x8__wasmsimd_splat), K(xnn_f32_gemm_relu_ukernel_4x8__wasmsimd_loadsplat),
  K(xnn_f32_gemm_relu_ukernel_5x8__wasmsimd_splat), K(xnn_f32_gemm_ukernel_1x8__wasmsimd_splat),
  K(xnn_f32_gemm_ukernel_1x8__wasmsimd_loadsplat), K(xnn_f32_gemm_ukernel_4x8__wasmsimd_splat),
  K(xnn_f32_gemm_ukernel_4x8__wasmsimd_loadsplat), K(xnn_f32_gemm_ukernel_5x8__wasmsimd_splat),
};
#endif

static const char *simd_name(const void *fn) {
  for (size_t i = 0; i < sizeof simd_kernels / sizeof *simd_kernels; i++)
    if (simd_kernels[i].fn == fn) return simd_kernels[i].name;
  return NULL;
}

static float frand(unsigned *s) { *s = *s * 1664525u + 1013904223u; return ((*s >> 8) / 16777216.0f) * 2 - 1; }

/* naive NHWC conv, OHWI weights, for checking the operator's output */
static void conv_ref(const float *x, int h, int w, int ic, const float *wt, const float *b, int oc, int k, int s, int p,
                     float lo, float *y, int oh, int ow) {
  for (int oy = 0; oy < oh; oy++)
    for (int ox = 0; ox < ow; ox++)
      for (int o = 0; o < oc; o++) {
        double acc = b[o];
        for (int ky = 0; ky < k; ky++)
          for (int kx = 0; kx < k; kx++) {
            int iy = oy * s + ky - p, ix = ox * s + kx - p;
            if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
            for (int c = 0; c < ic; c++) acc += (double)x[(iy * w + ix) * ic + c] * wt[((o * k + ky) * k + kx) * ic + c];
          }
        y[(oy * ow + ox) * oc + o] = acc < lo ? lo : (float)acc;
      }
}

static void check_conv(const char *what, int h, int ic, int oc, int k, int s, int p, int relu) {
  unsigned seed = (unsigned)(h * 131 + ic * 7 + oc + k);
  size_t nw = (size_t)oc * k * k * ic;
  float *wt = malloc(nw * 4), *b = malloc(oc * 4);
  for (size_t i = 0; i < nw; i++) wt[i] = frand(&seed) * 0.1f;
  for (int i = 0; i < oc; i++) b[i] = frand(&seed);
  xnn_operator_t op = NULL;
  float lo = relu ? 0.0f : -INFINITY;
  CHECK(xnn_create_convolution2d_nhwc_f32(p, p, p, p, k, k, s, s, 1, 1, 1, ic, oc, ic, oc, wt, b, lo, INFINITY, 0,
                                          NULL, NULL, &op) == xnn_status_success, "%s: create", what);
  if (!op) return;
  size_t ws = 0, al = 0, oh, ow;
  CHECK(xnn_reshape_convolution2d_nhwc_f32(op, 1, h, h, &ws, &al, &oh, &ow, NULL) == xnn_status_success, "%s: reshape", what);
  /* Which microkernel did XNNPACK pick for this operator? */
  const void *fn = NULL;
  const struct xnn_ukernel *u = &op->ukernel;
  if (u->type == xnn_microkernel_type_igemm) fn = (const void *)u->igemm.igemm_cases[u->igemm.mr - 1].function[0];
  else if (u->type == xnn_microkernel_type_gemm) fn = (const void *)u->gemm.gemm_cases[u->gemm.mr - 1].function[0];
  const char *name = simd_name(fn);
  CHECK(name != NULL, "%s: microkernel type %d is not one of the wasmsimd GEMM kernels", what, (int)u->type);
  printf("%-28s → %s (mr %d, nr %d)\n", what, name ? name : "?", u->type == xnn_microkernel_type_igemm ? u->igemm.mr : u->gemm.mr,
         u->type == xnn_microkernel_type_igemm ? u->igemm.nr : u->gemm.nr);

  float *x = malloc((size_t)h * h * ic * 4), *y = malloc(oh * ow * oc * 4), *r = malloc(oh * ow * oc * 4);
  void *wsp = ws ? aligned_alloc(64, (ws + 63) & ~(size_t)63) : NULL;
  for (size_t i = 0; i < (size_t)h * h * ic; i++) x[i] = frand(&seed);
  CHECK(xnn_setup_convolution2d_nhwc_f32(op, wsp, x, y) == xnn_status_success, "%s: setup", what);
  CHECK(xnn_run_operator(op, NULL) == xnn_status_success, "%s: run", what);
  conv_ref(x, h, h, ic, wt, b, oc, k, s, p, lo, r, (int)oh, (int)ow);
  double err = 0;
  for (size_t i = 0; i < oh * ow * oc; i++) err = fmax(err, fabs(y[i] - r[i]));
  CHECK(err < 1e-4, "%s: max |xnnpack - naive| = %g", what, err);
  xnn_delete_operator(op);
  free(wt); free(b); free(x); free(y); free(r); free(wsp);
}

int main(void) {
  CHECK(xnn_initialize(NULL) == xnn_status_success, "xnn_initialize");
  /* ResNet-18's convolutions (spatial sizes reduced where it does not change the kernel choice). */
  check_conv("conv1 7x7/2 3->64", 64, 3, 64, 7, 2, 3, 0);
  check_conv("layer2.0 3x3/2 64->128", 28, 64, 128, 3, 2, 1, 1);
  check_conv("layer2.0 down 1x1/2", 28, 64, 128, 1, 2, 0, 0);
  check_conv("layer4.0 3x3/2 256->512", 14, 256, 512, 3, 2, 1, 1);
  check_conv("layer3.0 down 1x1/2", 14, 128, 256, 1, 2, 0, 0);
  return check_report();
}
