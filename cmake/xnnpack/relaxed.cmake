# The relaxed-SIMD variant of the recipe in CMakeLists.txt (scripts/deps --relaxed [--threads] → the "-rx" and
# "-rx-mt" prefixes).
#
# scripts/deps passes this file as CMAKE_PROJECT_INCLUDE, so it runs right after that file's project():
# the SIMD recipe, and the hashes that name its cache folders, stay exactly as they are.
#   * every source is compiled by Debian's clang-19 through emcc (EM_CLANG_ADD_VERSION=19 makes emcc run
#     /usr/bin/clang-19 instead of clang-14, with emscripten's own flags and sysroot): clang 14 only knows
#     the prototype relaxed opcodes, which no engine accepts any more; clang 19 emits the final ones;
#   * -mrelaxed-simd defines __wasm_relaxed_simd__, which makes XNNPACK's common.h say
#     XNN_ARCH_WASMRELAXEDSIMD (and not XNN_ARCH_WASMSIMD): its configs (gemm-config.c, ...) then pick
#     the wasmrelaxedsimd microkernels at compile time (plus a run-time is_x86 test, as for SIMD), so
#     XNNPACK's PROD_WASMRELAXEDSIMD list is compiled in beside the SIMD/scalar ones the configs still use;
#   * clang 19 turns on reference-types and multivalue by default: off, so that the module uses the same
#     features as the SIMD engine, plus relaxed SIMD (and sign-ext, which every engine with it has);
#   * GC_WITH_THREADS=ON: the threaded variant too (threads.cmake).
set(CMAKE_C_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env EM_CLANG_ADD_VERSION=19)
set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env EM_CLANG_ADD_VERSION=19)
add_compile_options(-msimd128 -mrelaxed-simd -mno-reference-types -mno-multivalue)
if(GC_WITH_THREADS)
  include("${CMAKE_CURRENT_LIST_DIR}/threads.cmake")
endif()

function(gc_relaxed_kernels)
  include("${GC_SRC}/xnnpack/cmake/gen/wasmrelaxedsimd_microkernels.cmake")
  list(TRANSFORM PROD_WASMRELAXEDSIMD_MICROKERNEL_SRCS PREPEND "${GC_SRC}/xnnpack/")
  target_sources(xnnpack PRIVATE ${PROD_WASMRELAXEDSIMD_MICROKERNEL_SRCS})
endfunction()
# The xnnpack target does not exist yet here: add the kernels once the whole recipe has been read.
cmake_language(DEFER CALL gc_relaxed_kernels)
