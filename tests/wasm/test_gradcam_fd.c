/* test_gradcam_fd.c: the whole backward pass (cam.c over backward.c) against finite differences of
 * the real forward pass (XNNPACK), end to end, on a small random ResNet-18 and a small input.
 *
 * For a target layer L and class c, gc_backward_to gives dlogit_c/dA_L. Each checked element of A_L
 * is nudged by ±eps in place and the network re-run from L on (gc_net_forward_from): the central
 * difference of logit c must match. The network is piecewise linear (ReLU, max pool), so away from a
 * kink the difference is exact but for float32 rounding of the whole forward pass: ~1e-6 in a logit,
 * i.e. ~1e-2 of the largest gradient at eps = 3e-3. The tolerance, 5e-2 of the largest gradient, sits
 * above that floor and far below what a wrong kernel gives (errors of the order of the gradient).
 * A nudge that flips a downstream ReLU or max-pool choice is a genuine outlier: one per layer may.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cam.h"
#include "../unit/check.h"

static unsigned seed = 12345;
static float frand(void) { seed = seed * 1664525u + 1013904223u; return ((seed >> 8) / 16777216.0f) * 2 - 1; }

static void conv_init(gc_conv *c, int oc, int ic, int k, int s, int p) {
  size_t n = (size_t)oc * k * k * ic;
  float scale = sqrtf(2.0f / (k * k * ic));
  *c = (gc_conv){oc, ic, k, k, s, p, malloc(n * 4), malloc(oc * 4), malloc(oc * 4), malloc(oc * 4)};
  for (size_t i = 0; i < n; i++) c->w[i] = frand() * scale * 1.2f;
  for (int i = 0; i < oc; i++) { c->b[i] = 0.1f * frand(); c->bn_scale[i] = 1.0f + 0.2f * frand(); c->bn_shift[i] = c->b[i]; }
}

static void model_init(gc_model *m, int classes) {
  memset(m, 0, sizeof *m);
  conv_init(&m->conv1, 64, 3, 7, 2, 3);
  int cin = 64;
  for (int b = 0; b < 8; b++) {
    int c = 64 << (b / 2), s = (b % 2 == 0 && b > 0) ? 2 : 1;
    conv_init(&m->blocks[b].conv1, c, cin, 3, s, 1);
    conv_init(&m->blocks[b].conv2, c, c, 3, 1, 1);
    if (s == 2) conv_init(&m->blocks[b].down, c, cin, 1, 2, 0);
    cin = c;
  }
  m->num_classes = classes;
  m->fc_w = malloc(sizeof(float) * classes * GC_FEAT);
  m->fc_b = malloc(sizeof(float) * classes);
  for (int i = 0; i < classes * GC_FEAT; i++) m->fc_w[i] = 0.1f * frand();
  for (int i = 0; i < classes; i++) m->fc_b[i] = frand();
}

/* The tensor a target layer's gradient refers to, and the block to re-run from after nudging it. */
static float *target(gc_net *net, int layer, int *from) {
  if (layer == GC_LAYER_INPUT) { *from = -1; return net->x.data; }
  if (layer == GC_LAYER_MAXPOOL) { *from = 0; return net->maxpool.data; }
  *from = layer - GC_LAYER_BLOCK0 + 1; /* 8 after layer4.1: only avg pool and fc */
  return net->blk[layer - GC_LAYER_BLOCK0].out.data;
}

static void check_layer(gc_net *net, gc_grad *g, int layer, int cls, int classes) {
  char err[256];
  float *dl = calloc(classes, sizeof(float));
  dl[cls] = 1;
  gc_tensor act, grad;
  CHECK(gc_net_forward(net, err, sizeof err) == 0, "forward: %s", err);
  CHECK(gc_backward_to(net, g, dl, layer, NULL, &act, &grad, err, sizeof err) == 0, "backward: %s", err);
  size_t n = (size_t)grad.h * grad.w * grad.c;
  float *gcopy = malloc(n * 4), gmax = 0;
  memcpy(gcopy, grad.data, n * 4);
  for (size_t i = 0; i < n; i++) gmax = fmaxf(gmax, fabsf(gcopy[i]));
  int from, miss = 0, samples = 24;
  float *a = target(net, layer, &from), worst = 0;
  for (int s = 0; s < samples; s++) {
    /* half the samples where the gradient is largest in magnitude, half at random */
    size_t i = 0;
    if (s < samples / 2) {
      float best = -1;
      for (size_t k = (size_t)s * 7919 % n, t = 0; t < n / 4 + 1; t++, k = (k + 104729) % n)
        if (fabsf(gcopy[k]) > best) { best = fabsf(gcopy[k]); i = k; }
    } else {
      i = (size_t)(fabsf(frand()) * (n - 1));
    }
    const float eps = 3e-3f, keep = a[i];
    a[i] = keep + eps;
    gc_net_forward_from(net, from, err, sizeof err);
    float up = net->logits[cls];
    a[i] = keep - eps;
    gc_net_forward_from(net, from, err, sizeof err);
    float down = net->logits[cls];
    a[i] = keep;
    float fd = (up - down) / (2 * eps), e = fabsf(fd - gcopy[i]) / (gmax + 1e-12f);
    if (e > 5e-2f) miss++;
    if (e > worst) worst = e;
  }
  printf("%-9s grad max %.3e, %d samples, worst |fd - grad| / max %.2e, %d over 5e-2\n", gc_layer_name(layer),
         gmax, samples, worst, miss);
  CHECK(gmax > 0, "%s: zero gradient", gc_layer_name(layer));
  CHECK(miss <= 1, "%s: %d of %d finite differences disagree (worst %.2e)", gc_layer_name(layer), miss, samples, worst);
  free(dl); free(gcopy);
}

int main(void) {
  char err[256];
  gc_model m;
  model_init(&m, 5);
  gc_net net;
  gc_grad g = {0};
  CHECK(gc_net_create(&net, &m, NULL, err, sizeof err) == 0, "create: %s", err);
  CHECK(gc_net_reshape(&net, 40, 36, err, sizeof err) == 0, "reshape: %s", err);
  CHECK(gc_grad_reshape(&g, &net, err, sizeof err) == 0, "grad reshape: %s", err);
  for (size_t i = 0; i < (size_t)40 * 36 * 3; i++) net.x.data[i] = 1.5f * frand();
  int layers[] = {GC_LAYER_BLOCK0 + 7, GC_LAYER_BLOCK0 + 5, GC_LAYER_BLOCK0 + 2, GC_LAYER_BLOCK0, GC_LAYER_MAXPOOL,
                  GC_LAYER_INPUT};
  for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) check_layer(&net, &g, layers[i], 3, 5);
  gc_grad_free(&g);
  gc_net_destroy(&net);
  gc_model_free(&m);
  return check_report();
}
