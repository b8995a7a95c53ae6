/* test_gradcam_fd.c: the whole backward pass (cam.c over backward.c) against finite differences of
 * the real forward pass (XNNPACK), end to end, on small random ResNets and a small input: ResNet-18
 * (BasicBlock) and a narrow Bottleneck net (2-2-2-1 blocks: strided 3x3 conv2s, 1x1 conv1/conv3, both
 * kinds of shortcut), so every path of both block types is under the check.
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
#include <stdio.h>
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

/* bottleneck 0: resnet18's layout and widths; 1: Bottleneck blocks n[], middle width 8<<l, output 32<<l. */
static void model_init(gc_model *m, int classes, int bottleneck, const int n[4]) {
  memset(m, 0, sizeof *m);
  conv_init(&m->conv1, 64, 3, 7, 2, 3);
  m->bottleneck = bottleneck;
  int cin = 64, b = 0;
  for (int l = 0; l < 4; l++)
    for (int i = 0; i < n[l]; i++, b++) {
      gc_block *k = &m->blocks[b];
      const int s = (i == 0 && l > 0) ? 2 : 1, w = bottleneck ? 8 << l : 64 << l, c = bottleneck ? 32 << l : w;
      k->stage = l + 1, k->index = i;
      snprintf(k->name, sizeof k->name, "layer%d.%d", l + 1, i);
      if (bottleneck) {
        conv_init(&k->conv1, w, cin, 1, 1, 0);
        conv_init(&k->conv2, w, w, 3, s, 1);
        conv_init(&k->conv3, c, w, 1, 1, 0);
      } else {
        conv_init(&k->conv1, c, cin, 3, s, 1);
        conv_init(&k->conv2, c, c, 3, 1, 1);
      }
      if (s == 2 || cin != c) conv_init(&k->down, c, cin, 1, s, 0);
      cin = c;
    }
  m->n_blocks = b;
  m->feat = cin;
  memcpy(m->stage_blocks, n, sizeof m->stage_blocks);
  m->num_classes = classes;
  m->fc_w = malloc(sizeof(float) * classes * m->feat);
  m->fc_b = malloc(sizeof(float) * classes);
  for (int i = 0; i < classes * m->feat; i++) m->fc_w[i] = 0.1f * frand();
  for (int i = 0; i < classes; i++) m->fc_b[i] = frand();
}

/* The tensor a target layer's gradient refers to, and the block to re-run from after nudging it. */
static float *target(gc_net *net, int layer, int *from) {
  if (layer == GC_LAYER_INPUT) { *from = -1; return net->x.data; }
  if (layer == GC_LAYER_MAXPOOL) { *from = 0; return net->maxpool.data; }
  *from = layer - GC_LAYER_BLOCK0 + 1; /* n_blocks after the last block: only avg pool and fc */
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
  printf("%-9s grad max %.3e, %d samples, worst |fd - grad| / max %.2e, %d over 5e-2\n", gc_layer_name(net->model, layer),
         gmax, samples, worst, miss);
  CHECK(gmax > 0, "%s: zero gradient", gc_layer_name(net->model, layer));
  CHECK(miss <= 1, "%s: %d of %d finite differences disagree (worst %.2e)", gc_layer_name(net->model, layer), miss, samples, worst);
  free(dl); free(gcopy);
}

static void check_model(int bottleneck, const int n[4]) {
  char err[256];
  gc_model m;
  model_init(&m, 5, bottleneck, n);
  printf("%s blocks %d-%d-%d-%d\n", bottleneck ? "Bottleneck" : "BasicBlock", n[0], n[1], n[2], n[3]);
  gc_net net;
  gc_grad g = {0};
  CHECK(gc_net_create(&net, &m, NULL, err, sizeof err) == 0, "create: %s", err);
  CHECK(gc_net_reshape(&net, 40, 36, err, sizeof err) == 0, "reshape: %s", err);
  CHECK(gc_grad_reshape(&g, &net, err, sizeof err) == 0, "grad reshape: %s", err);
  for (size_t i = 0; i < (size_t)40 * 36 * 3; i++) net.x.data[i] = 1.5f * frand();
  const int last = GC_LAYER_BLOCK0 + m.n_blocks - 1;
  /* the last block (head only above it), an inner one of each deeper stage, layer1.0, maxpool, the input */
  int layers[] = {last, last - 2, last - 4, GC_LAYER_BLOCK0 + 1, GC_LAYER_BLOCK0, GC_LAYER_MAXPOOL, GC_LAYER_INPUT};
  for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) check_layer(&net, &g, layers[i], 3, 5);
  gc_grad_free(&g);
  gc_net_destroy(&net);
  gc_model_free(&m);
}

int main(void) {
  check_model(0, (const int[4]){2, 2, 2, 2});
  check_model(1, (const int[4]){2, 2, 2, 1});
  return check_report();
}
