/* Stand-in for <arm_neon.h>: the f32-q{s,u}8-vcvt wasmsimd kernels of this XNNPACK include it by mistake
 * (they use only wasm intrinsics). Found first on the include path of our XNNPACK build only. */
#include <wasm_simd128.h>
