/* gemm.h: the GEMM micro-kernel our convolutions share (winograd.c's 16 position GEMMs, dconv.c's
 * im2col GEMM), and the 4 x float vector spelling they are written in.
 *
 * gc_gemm_4x8(rows, kd, a, lda, b, c, ldc):  c[r][0..8) = sum_k a[r][k] * b[k][0..8)  for r < rows <= 4
 *   a: rows of kd floats, lda apart     b: a panel [kd][8] (8 output columns side by side)
 *   c: rows of 8 floats, ldc apart, overwritten (the sum starts from 0, k ascending: every element is
 *      the same sequence of multiply-adds whatever the caller's split of rows and panels)
 * 8 accumulators, 2 panel loads and 1 broadcast per k: what fits the 16 SIMD registers V8 has on
 * x86-64 without spilling (the shape XNNPACK picks for wasm SIMD on x86 too; a 6x8 ran the
 * Winograd GEMMs 1.4x slower). Rows past `rows` re-read the last valid row and are not stored.
 *
 * Written with GCC/clang vector extensions: under Emscripten with -msimd128 they compile to wasm SIMD,
 * natively (the ASan/UBSan unit tests) to SSE, so the tested code is the shipped code. */
#ifndef GC_GEMM_H
#define GC_GEMM_H

#include <stddef.h>

#include "simd_fma.h"

typedef float vf __attribute__((vector_size(16)));
typedef int vi __attribute__((vector_size(16)));
typedef float vfu __attribute__((vector_size(16), aligned(4), may_alias)); /* unaligned access */
#define LD(p) ((vf)(*(const vfu *)(p)))
#define ST(p, v) (*(vfu *)(p) = (v))
#define SPLAT(s) ((vf){(s), (s), (s), (s)})

static inline void gc_gemm_4x8(int rows, int kd, const float *a, size_t lda, const float *b, float *c, size_t ldc) {
  const float *a0 = a, *a1 = a0 + (rows > 1 ? lda : 0), *a2 = a1 + (rows > 2 ? lda : 0),
              *a3 = a2 + (rows > 3 ? lda : 0);
  vf c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
  for (int k = 0; k < kd; k++, b += 8) {
    const vf b0 = LD(b), b1 = LD(b + 4);
    vf x = SPLAT(a0[k]);
    c00 = GC_MADD(x, b0, c00); c01 = GC_MADD(x, b1, c01);
    x = SPLAT(a1[k]);
    c10 = GC_MADD(x, b0, c10); c11 = GC_MADD(x, b1, c11);
    x = SPLAT(a2[k]);
    c20 = GC_MADD(x, b0, c20); c21 = GC_MADD(x, b1, c21);
    x = SPLAT(a3[k]);
    c30 = GC_MADD(x, b0, c30); c31 = GC_MADD(x, b1, c31);
  }
  ST(c, c00); ST(c + 4, c01);
  if (rows > 1) { ST(c + ldc, c10); ST(c + ldc + 4, c11); }
  if (rows > 2) { ST(c + 2 * ldc, c20); ST(c + 2 * ldc + 4, c21); }
  if (rows > 3) { ST(c + 3 * ldc, c30); ST(c + 3 * ldc + 4, c31); }
}

#endif
