/* simd_fma.h: the multiply-add of our 4 x float SIMD kernels (winograd.c's GEMM, backward.c's conv tiles).
 *
 * GC_MADD(a, b, c) = a * b + c, lane by lane, for either vector spelling the kernels use: v128_t
 * (wasm_simd128.h) or a GCC/clang vector-extension float4; the result has c's type.
 *   - relaxed SIMD (-mrelaxed-simd, the *-relaxed engines): f32x4.relaxed_madd, one instruction, fused
 *     (one rounding) where the engine's CPU has FMA, mul + add otherwise: fixed per engine and CPU, so
 *     results stay bit-identical across thread counts.
 *   - otherwise (wasm SIMD, native tests): a product rounded, then a sum, as the kernels always did.
 */
#ifndef GC_SIMD_FMA_H
#define GC_SIMD_FMA_H

typedef float gc_f32x4 __attribute__((vector_size(16)));

#if defined(__wasm_relaxed_simd__)
#include <wasm_simd128.h>
#define GC_MADD(a, b, c) \
  ((__typeof__(c))wasm_f32x4_relaxed_madd((v128_t)(a), (v128_t)(b), (v128_t)(c)))
#else
#define GC_MADD(a, b, c) ((__typeof__(c))((gc_f32x4)(c) + (gc_f32x4)(a) * (gc_f32x4)(b)))
#endif

#endif
