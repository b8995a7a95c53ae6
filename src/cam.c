/* cam.c: backward through the ResNet graph down to a target layer (see cam.h).
 *
 * Walking back from the logits (shapes for resnet18 and a 224×224 input):
 *   dlogits [N] → fc → dfeat [512] → avg pool → d layer4.1 [7][7][512]
 *   each block, from the last down to the target:
 *     gsum = relu'(out) ⊙ gout                      (the ReLU after the residual add)
 *     BasicBlock:  gh1 = relu'(h1) ⊙ conv2ᵀ(gsum)
 *     Bottleneck:  gh2 = relu'(h2) ⊙ conv3ᵀ(gsum);  gh1 = relu'(h1) ⊙ conv2ᵀ(gh2)
 *     gin  = conv1ᵀ(gh1) + (downsample ? downᵀ(gsum) : gsum)
 *   → d maxpool [56][56][64] → maxpool routing → d relu [112][112][64] → relu' → d stem (post-BN)
 *   → conv1 target: d raw conv = d stem ⊙ bn_scale;  input: conv1ᵀ → d x [224][224][3]
 * Only data gradients; the weights' gradients are never formed.
 */
#include "cam.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backward.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* ---- layer names ----------------------------------------------------------------------------------- */

static const char *const stem_names[GC_LAYER_BLOCK0] = {"conv1", "relu", "maxpool"};

int gc_layer_count(const gc_model *m) { return GC_LAYER_BLOCK0 + m->n_blocks; }

int gc_layer_parse(const gc_model *m, const char *name) {
  if (!name) return -2;
  if (!strcmp(name, "input")) return GC_LAYER_INPUT;
  for (int i = 0; i < GC_LAYER_BLOCK0; i++)
    if (!strcmp(name, stem_names[i])) return i;
  /* layerN (its last block) or layerN.M, digits without sign or leading zeros */
  if (strncmp(name, "layer", 5) || name[5] < '1' || name[5] > '4') return -2;
  const int stage = name[5] - '0';
  int index = -1;
  if (name[6] == '.') {
    const char *p = name + 7;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1])) return -2;
    for (index = 0; *p >= '0' && *p <= '9' && index < GC_MAX_BLOCKS; p++) index = index * 10 + (*p - '0');
    if (*p || index >= GC_MAX_BLOCKS) return -2;
  } else if (name[6]) {
    return -2;
  }
  if (!m) return GC_LAYER_BLOCK0;
  int last = -1;
  for (int b = 0; b < m->n_blocks; b++)
    if (m->blocks[b].stage == stage) {
      if (m->blocks[b].index == index) return GC_LAYER_BLOCK0 + b;
      last = b;
    }
  return index < 0 && last >= 0 ? GC_LAYER_BLOCK0 + last : -2;
}

const char *gc_layer_name(const gc_model *m, int layer) {
  if (layer == GC_LAYER_INPUT) return "input";
  if (layer >= 0 && layer < GC_LAYER_BLOCK0) return stem_names[layer];
  return m && layer < gc_layer_count(m) ? m->blocks[layer - GC_LAYER_BLOCK0].name : "?";
}

/* ---- workspace ------------------------------------------------------------------------------------- */

static size_t numel(const gc_tensor *t) { return (size_t)t->h * t->w * t->c; }

static size_t conv_scratch(const gc_conv *c, const gc_wino *wk, const gc_tensor *in, const gc_tensor *out,
                           int threads) {
  if (wk && wk->u) return gc_wino_scratch(wk, out->h, out->w, threads);
  return gc_conv2d_backward_data_scratch_par(out->h, out->w, c->oc, c->kh, c->kw, c->ic, c->stride, c->pad, in->h,
                                             in->w, threads);
}

void gc_grad_free(gc_grad *g) {
  for (int i = 0; i < 3; i++) free(g->buf[i]);
  free(g->scratch); free(g->acts);
  memset(g, 0, sizeof *g);
}

int gc_grad_reshape(gc_grad *g, const gc_net *net, char *err, size_t errlen) {
  if (g->h == net->in_h && g->w == net->in_w) return 0;
  gc_grad_free(g);
  const int nt = net->par.threads;
  size_t big = numel(&net->stem), sn = conv_scratch(&net->model->conv1, NULL, &net->x, &net->stem, nt);
  if (numel(&net->x) > big) big = numel(&net->x);
  for (int b = 0; b < net->model->n_blocks; b++) {
    const gc_block *k = &net->model->blocks[b];
    const gc_block_acts *a = &net->blk[b];
    /* a Bottleneck's 4x-wide output can outgrow the stem when the sizes round up (33x33: 9*9*256 > 17*17*64) */
    const gc_tensor *t[3] = {&a->h1, &a->h2, &a->out};
    for (int i = 0; i < 3; i++) if (numel(t[i]) > big) big = numel(t[i]);
    const int bt = net->model->bottleneck;
    size_t s[4] = {conv_scratch(&k->conv1, &net->wino[b][0], &a->in, &a->h1, nt),
                   conv_scratch(&k->conv2, &net->wino[b][1], &a->h1, bt ? &a->h2 : &a->out, nt),
                   bt ? conv_scratch(&k->conv3, NULL, &a->h2, &a->out, nt) : 0,
                   k->down.oc ? conv_scratch(&k->down, NULL, &a->in, &a->out, nt) : 0};
    for (int i = 0; i < 4; i++) if (s[i] > sn) sn = s[i];
  }
  for (int i = 0; i < 3; i++) g->buf[i] = malloc(big * sizeof(float));
  g->acts = malloc(numel(&net->stem) * sizeof(float));
  g->scratch = sn ? malloc(sn * sizeof(float)) : NULL;
  g->scratch_n = sn;
  if (!g->buf[0] || !g->buf[1] || !g->buf[2] || !g->acts || (sn && !g->scratch)) {
    gc_grad_free(g);
    return ERR("out of memory for the backward pass (%zu MB)", (4 * big + sn) * sizeof(float) >> 20);
  }
  g->h = net->in_h; g->w = net->in_w;
  return 0;
}

/* ---- backward through the graph ---------------------------------------------------------------- */

/* dx = convᵀ(dy), then + add (if add), then masked by relu'(relu_out) (if relu_out): the input gradient
 * of conv c and the two steps that follow it in a block. By Winograd with the forward's transformed
 * weights where the forward used them (wk: the steps fused into its last pass), else the direct SIMD
 * kernel and the plain loops. */
static void conv_t(const gc_conv *c, const gc_wino *wk, const float *dy, const gc_tensor *out, float *dx,
                   const gc_tensor *in, const float *add, const float *relu_out, int guided, gc_grad *g,
                   const gc_parallel *par) {
  if (guided && relu_out) { /* the guided rule is not fused: the plain pass, then the rule */
    conv_t(c, wk, dy, out, dx, in, add, NULL, 0, g, par);
    gc_relu_backward_guided(dx, relu_out, numel(in));
    return;
  }
  if (wk && wk->u) {
    gc_wino_backward_data(wk, dy, out->h, out->w, add, relu_out, dx, g->scratch, par);
    return;
  }
  gc_conv2d_backward_data_par(dy, out->h, out->w, c->oc, c->w, c->kh, c->kw, c->ic, c->stride, c->pad, dx, in->h,
                              in->w, g->scratch, par);
  if (add) gc_add_inplace(dx, add, numel(in));
  if (relu_out) gc_relu_backward(dx, relu_out, numel(in));
}

void gc_layer_act(gc_net *net, gc_grad *g, int layer, gc_tensor *act) {
  if (layer == GC_LAYER_INPUT) { *act = net->x; return; }
  if (layer >= GC_LAYER_BLOCK0) { *act = net->blk[layer - GC_LAYER_BLOCK0].out; return; }
  if (layer == GC_LAYER_MAXPOOL) { *act = net->maxpool; return; }
  if (layer == GC_LAYER_RELU) { *act = net->stem_relu; return; }
  /* torchvision's conv1 output is before bn1: A = (stem - shift) / scale. */
  const gc_tensor *st = &net->stem;
  const float *sc = net->model->conv1.bn_scale, *sh = net->model->conv1.bn_shift;
  const size_t px = (size_t)st->h * st->w;
  for (size_t i = 0; i < px; i++)
    for (int c = 0; c < 64; c++) g->acts[i * 64 + c] = (st->data[i * 64 + c] - sh[c]) / sc[c];
  *act = (gc_tensor){st->h, st->w, 64, g->acts};
}

int gc_backward_to(gc_net *net, gc_grad *g, const float *dlogits, int layer, const gc_backward_opts *o,
                   gc_tensor *act, gc_tensor *grad, char *err, size_t errlen) {
  if (layer < GC_LAYER_INPUT || layer >= gc_layer_count(net->model)) return ERR("unknown target layer %d", layer);
  if (g->h != net->in_h || g->w != net->in_w) return ERR("backward workspace not shaped for this input");
  const gc_model *m = net->model;
  float *cur = g->buf[0], *nxt = g->buf[1], *tmp = g->buf[2];
  const gc_parallel *par = net->pool ? &net->par : NULL;
  const int guided = o && o->guided;
  void (*relu_bw)(float *, const float *, size_t) = guided ? gc_relu_backward_guided : gc_relu_backward;
#define BN_GRAD(C, T, DATA) do { if (o && o->bn_grad) o->bn_grad(o->user, (C), &(gc_tensor){(T)->h, (T)->w, (T)->c, (DATA)}); } while (0)
  gc_prof p;
  gc_prof_begin(&p, "backward", net);
#define DONE(A, G) do { *act = (A); *grad = (G); gc_prof_end(&p); return 0; } while (0)

  /* logits → feat → layer4.1 output */
  gc_fc_backward(dlogits, m->fc_w, m->num_classes, m->feat, g->dfeat);
  gc_prof_mark(&p, "fc", 0, 0);
  const gc_tensor *l4 = &net->blk[m->n_blocks - 1].out;
  gc_avgpool_backward(g->dfeat, l4->h, l4->w, l4->c, cur);
  gc_prof_mark(&p, "avgpool", 0, 0);

  for (int b = m->n_blocks - 1; b >= 0; b--) {
    gc_block_acts *a = &net->blk[b];
    if (layer == GC_LAYER_BLOCK0 + b) DONE(a->out, ((gc_tensor){a->out.h, a->out.w, a->out.c, cur}));
    const gc_block *k = &m->blocks[b];
    relu_bw(cur, a->out.data, numel(&a->out));                  /* cur = gsum                       */
    BN_GRAD(m->bottleneck ? &k->conv3 : &k->conv2, &a->out, cur); /* = d bn-last out = d downsample bn out */
    if (k->down.oc) BN_GRAD(&k->down, &a->out, cur);
    if (m->bottleneck) {                                         /* nxt = gh2 = relu'(h2) ⊙ conv3ᵀ(gsum) */
      conv_t(&k->conv3, NULL, cur, &a->out, nxt, &a->h2, NULL, a->h2.data, guided, g, par);
      BN_GRAD(&k->conv2, &a->h2, nxt);                           /* tmp = gh1 = relu'(h1) ⊙ conv2ᵀ(gh2) */
      conv_t(&k->conv2, &net->wino[b][1], nxt, &a->h2, tmp, &a->h1, NULL, a->h1.data, guided, g, par);
    } else {                                                     /* tmp = gh1 = relu'(h1) ⊙ conv2ᵀ(gsum) */
      conv_t(&k->conv2, &net->wino[b][1], cur, &a->out, tmp, &a->h1, NULL, a->h1.data, guided, g, par);
    }
    BN_GRAD(&k->conv1, &a->h1, tmp);
    if (k->down.oc) {                                            /* nxt = conv1ᵀ(gh1) + downᵀ(gsum) */
      conv_t(&k->conv1, &net->wino[b][0], tmp, &a->h1, nxt, &a->in, NULL, NULL, 0, g, par);
      conv_t(&k->down, NULL, cur, &a->out, tmp, &a->in, NULL, NULL, 0, g, par);
      gc_add_inplace(nxt, tmp, numel(&a->in));
    } else {                                                     /* nxt = conv1ᵀ(gh1) + gsum        */
      conv_t(&k->conv1, &net->wino[b][0], tmp, &a->h1, nxt, &a->in, cur, NULL, 0, g, par);
    }
    float *s = cur; cur = nxt; nxt = s;                         /* cur = d block input */
    gc_prof_mark(&p, "layer%d.%d", k->stage, k->index);
  }
  if (layer == GC_LAYER_MAXPOOL) DONE(net->maxpool, ((gc_tensor){net->maxpool.h, net->maxpool.w, 64, cur}));
  const gc_tensor *st = &net->stem;
  /* nxt = d relu output (the target) or, fused, d stem (post-BN): the plain ReLU mask in the pool's pass */
  const int fuse = layer != GC_LAYER_RELU && !guided;
  gc_maxpool2d_backward(cur, net->maxpool.h, net->maxpool.w, net->stem_relu.data, st->h, st->w, 64, 3, 2, 1, fuse, nxt,
                        par);
  gc_prof_mark(&p, "maxpool", 0, 0);
  if (layer == GC_LAYER_RELU) DONE(net->stem_relu, ((gc_tensor){st->h, st->w, 64, nxt}));
  if (!fuse) relu_bw(nxt, net->stem_relu.data, numel(st));     /* nxt = d stem (post-BN) */
  BN_GRAD(&m->conv1, st, nxt);
  gc_prof_mark(&p, "relu", 0, 0);
  if (layer == GC_LAYER_CONV1) {
    /* torchvision's conv1 output is before bn1: dA = d stem * scale (A itself: gc_layer_act). */
    const float *sc = m->conv1.bn_scale;
    size_t px = (size_t)st->h * st->w;
    for (size_t i = 0; i < px; i++)
      for (int c = 0; c < 64; c++) nxt[i * 64 + c] *= sc[c];
    gc_tensor a;
    gc_layer_act(net, g, layer, &a);
    DONE(a, ((gc_tensor){st->h, st->w, 64, nxt}));
  }
  conv_t(&m->conv1, NULL, nxt, st, cur, &net->x, NULL, NULL, 0, g, par);         /* cur = d x [H][W][3] */
  gc_prof_mark(&p, "conv1", 0, 0);
  DONE(net->x, ((gc_tensor){net->x.h, net->x.w, 3, cur}));
#undef DONE
#undef BN_GRAD
}

/* ---- the CAM's scaling ------------------------------------------------------------------------- */

void gc_cam_normalize(float *cam, size_t n) {
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (size_t i = 0; i < n; i++) if (cam[i] < lo) lo = cam[i];
  for (size_t i = 0; i < n; i++) { cam[i] -= lo; if (cam[i] > hi) hi = cam[i]; }
  float d = 1e-7f + hi;
  for (size_t i = 0; i < n; i++) cam[i] /= d;
}
