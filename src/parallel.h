/* parallel.h: the parallel-for every multi-threaded loop of the C core goes through.
 *
 * run(pool, fn, ctx, n) calls fn(ctx, thread, i) once for every i in [0, n), thread < threads being the
 * index of the thread that runs it, and returns when all are done (pthreadpool_parallelize_1d_with_thread
 * with flags 0 has exactly this shape; forward.c passes it). Kernels and the model loader stay free of any
 * thread library, and a NULL gc_parallel (or one thread) runs the loop in order on the calling thread.
 */
#ifndef GC_PARALLEL_H
#define GC_PARALLEL_H

#include <stddef.h>

typedef void (*gc_task_fn)(void *ctx, size_t thread, size_t i);
typedef struct gc_parallel {
  void (*run)(void *pool, gc_task_fn fn, void *ctx, size_t n);
  void *pool;
  int threads;
} gc_parallel;

/* fn(ctx, thread, i) for every i in [0, n): on par's threads, or in order on the calling thread with
 * thread 0 (par NULL, or one thread). Inline so that model.c needs no other object (the fuzz targets
 * link it alone). */
static inline void gc_parallel_for(const gc_parallel *par, gc_task_fn fn, void *ctx, size_t n) {
  if (par && par->run && par->threads > 1) {
    par->run(par->pool, fn, ctx, n);
  } else {
    for (size_t i = 0; i < n; i++) fn(ctx, 0, i);
  }
}

#endif
