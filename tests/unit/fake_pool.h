/* fake_pool.h: a stand-in thread pool for the C tests. FAKE_POOL(t) is a gc_parallel of t "threads"
 * (1 ≤ t ≤ 8) that runs the tasks on the calling thread, backwards, each as thread i % t: a split unlike
 * the serial in-order loop, so a dependence between tasks, on their order, or a task writing outside its
 * own part shows up as a difference from the serial result. */
#ifndef GC_FAKE_POOL_H
#define GC_FAKE_POOL_H

#include <stddef.h>

#include "../../src/parallel.h"

/* the pool argument points at its thread count: an address constant, so FAKE_POOL can initialise statics */
static const int fake_pool_threads[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};

static void fake_pool_run(void *pool, gc_task_fn fn, void *ctx, size_t n) {
  const size_t threads = (size_t)*(const int *)pool;
  for (size_t i = n; i-- > 0;) fn(ctx, i % threads, i);
}

#define FAKE_POOL(t) {fake_pool_run, (void *)&fake_pool_threads[(t)], (t)} /* an initializer */

#endif
