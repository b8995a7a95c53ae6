#!/usr/bin/env bash
# bench-backward.sh: time the conv data-gradient kernel (gc_conv2d_backward_data) in wasm SIMD
# under node, single thread, on ResNet-18's conv shapes at 224x224, and print ms and GFLOP/s.
# FLOPs are counted as for the forward conv, 2*oh*ow*oc*kh*kw*ic, so the numbers compare
# directly with XNNPACK's forward. Times are node's CPU time (not wall time: the machine may be
# shared), best of several runs.
#
#   scripts/bench-backward.sh          # SIMD kernel only
#   scripts/bench-backward.sh --ref    # also time the plain C reference (slow, one run each)
#
# Needs emcc (Emscripten 3.1.x) and node; emcc 3.1.6 emits a loader that node >= 18 breaks by
# trying fetch() on a file path, hence --no-experimental-fetch. Node runs with --no-liftoff so the
# timings are of the optimized code V8 tiers up to (set GC_NODE_FLAGS= to keep the default tiers).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cat >"$out/bench.c" <<'C'
#include "backward.c"
#include <emscripten.h>
#include <stdio.h>

/* CPU time of this node process, not wall time: the machine is shared, and time spent waiting
 * for a core says nothing about the kernel. */
EM_JS(double, now_ms, (void), {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
});

typedef struct { const char *name; int h, ic, oc, k, s, pad, count; } shape;

int main(int argc, char **argv) {
  const int with_ref = argc > 1;
  /* count: how many convs of this shape ResNet-18 has (for the whole-network estimate) */
  static const shape shapes[] = {
      {"conv1 7x7/2 3->64 224", 224, 3, 64, 7, 2, 3, 1},
      {"layer1 3x3/1 64->64 56", 56, 64, 64, 3, 1, 1, 4},
      {"layer2.0 3x3/2 64->128 56", 56, 64, 128, 3, 2, 1, 1},
      {"layer2.0 down 1x1/2 64->128", 56, 64, 128, 1, 2, 0, 1},
      {"layer2 3x3/1 128 28", 28, 128, 128, 3, 1, 1, 3},
      {"layer3.0 3x3/2 128->256 28", 28, 128, 256, 3, 2, 1, 1},
      {"layer3.0 down 1x1/2 128->256", 28, 128, 256, 1, 2, 0, 1},
      {"layer3 3x3/1 256 14", 14, 256, 256, 3, 1, 1, 3},
      {"layer4.0 3x3/2 256->512 14", 14, 256, 512, 3, 2, 1, 1},
      {"layer4.0 down 1x1/2 256->512", 14, 256, 512, 1, 2, 0, 1},
      {"layer4 3x3/1 512 7", 7, 512, 512, 3, 1, 1, 3},
  };
  double total_ms = 0, total_flop = 0;
  printf("%-30s %9s %9s%s\n", "shape (input side)", "ms", "GFLOP/s", with_ref ? "   ref ms  ref GFLOP/s" : "");
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    const shape *c = &shapes[i];
    const int h = c->h, o = (h + 2 * c->pad - c->k) / c->s + 1;
    const size_t ndy = (size_t)o * o * c->oc, nw = (size_t)c->oc * c->k * c->k * c->ic,
                 ndx = (size_t)h * h * c->ic,
                 nsc = gc_conv2d_backward_data_scratch(o, o, c->oc, c->k, c->k, c->ic, c->s, c->pad, h, h);
    float *dy = malloc(ndy * 4), *w = malloc(nw * 4), *dx = malloc(ndx * 4), *sc = malloc(nsc * 4 + 4);
    unsigned r = 12345;
    for (size_t j = 0; j < ndy; j++) dy[j] = (float)((r = r * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    for (size_t j = 0; j < nw; j++) w[j] = (float)((r = r * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    const double flop = 2.0 * o * o * c->oc * c->k * c->k * c->ic;
    double best = 1e30, spent = 0;
    for (int rep = 0; rep < 100 && (rep < 5 || spent < 1000); rep++) {
      const double t0 = now_ms();
      gc_conv2d_backward_data(dy, o, o, c->oc, w, c->k, c->k, c->ic, c->s, c->pad, dx, h, h, sc);
      const double t = now_ms() - t0;
      spent += t;
      if (t < best) best = t;
    }
    printf("%-30s %9.3f %9.2f", c->name, best, flop / best * 1e-6);
    if (with_ref) {
      const double t0 = now_ms();
      gc_conv2d_backward_data_ref(dy, o, o, c->oc, w, c->k, c->k, c->ic, c->s, c->pad, dx, h, h, NULL);
      const double t = now_ms() - t0;
      printf(" %9.3f %9.2f", t, flop / t * 1e-6);
    }
    printf("\n");
    total_ms += c->count * best;
    total_flop += c->count * flop;
    free(dy), free(w), free(dx), free(sc);
  }
  printf("%-30s %9.3f %9.2f\n", "all 20 convs of ResNet-18", total_ms, total_flop / total_ms * 1e-6);

  /* for scale: the max pool backward (memory-bound, plain C vectorized by clang) */
  float *x = malloc(112 * 112 * 64 * 4), *dx = malloc(112 * 112 * 64 * 4), *dy = malloc(56 * 56 * 64 * 4);
  unsigned r = 777;
  for (int j = 0; j < 112 * 112 * 64; j++) x[j] = (float)((r = r * 1664525u + 1013904223u) >> 8) / 16777216.0f;
  for (int j = 0; j < 56 * 56 * 64; j++) dy[j] = 1.0f;
  double best = 1e30;
  for (int rep = 0; rep < 20; rep++) {
    const double t0 = now_ms();
    gc_maxpool2d_backward(dy, 56, 56, x, 112, 112, 64, 3, 2, 1, dx);
    if (now_ms() - t0 < best) best = now_ms() - t0;
  }
  printf("%-30s %9.3f\n", "maxpool 3x3/2 112->56 x64", best);
  return 0;
}
C

NODE_PATH=${NODE_PATH:-/usr/share/nodejs} emcc -std=c11 -O3 -msimd128 -I src -s ALLOW_MEMORY_GROWTH=1 \
  "$out/bench.c" -o "$out/bench.js"
node --no-experimental-fetch ${GC_NODE_FLAGS---no-liftoff} "$out/bench.js" "$@"
