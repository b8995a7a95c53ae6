# The threaded variant of the recipe in CMakeLists.txt (scripts/deps --threads → the "-mt" prefix).
#
# scripts/deps passes this file as CMAKE_PROJECT_INCLUDE, so it runs right after that file's project():
# the single-threaded recipe, and the hash that names its cache folder, stay exactly as they are.
#   * everything (XNNPACK and pthreadpool) is compiled with -pthread: atomics + bulk memory, so it can be
#     linked into a wasm module with shared memory;
#   * pthreadpool becomes its real implementation (what its own CMakeLists.txt builds off Emscripten):
#     legacy-api.c + portable-api.c + memory.c + pthreads.c, waiting on futexes (emscripten_futex_wait,
#     i.e. Atomics.wait, after a spin), no x86-only fast path.
add_compile_options(-pthread)

function(gc_threaded_pthreadpool)
  set(p "${GC_SRC}/pthreadpool/src")
  set_property(TARGET pthreadpool PROPERTY SOURCES
               "${p}/legacy-api.c" "${p}/portable-api.c" "${p}/memory.c" "${p}/pthreads.c")
  target_include_directories(pthreadpool PRIVATE "${p}")
  target_compile_definitions(pthreadpool PRIVATE PTHREADPOOL_USE_FUTEX=1 PTHREADPOOL_USE_GCD=0
                             PTHREADPOOL_USE_EVENT=0 PTHREADPOOL_USE_FASTPATH=0 PTHREADPOOL_USE_CPUINFO=0)
  set_property(TARGET pthreadpool PROPERTY C_STANDARD 11)
endfunction()
# The pthreadpool target does not exist yet here: swap its sources once the whole recipe has been read.
cmake_language(DEFER CALL gc_threaded_pthreadpool)
