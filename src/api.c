/* api.c: the gc_ context (gradcam.h) — model, network, backward workspace, results — and the thin
 * exports the page's worker calls through WebAssembly.
 */
#include "gradcam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cam.h"
#include "forward.h"
#include "model.h"
#include "render.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

struct gc_ctx {
  gc_model model;
  gc_net net;
  gc_grad grad;
  int in_w, in_h, multilabel;
  int have_forward;                  /* a forward pass matches net's activations          */
  float *probs, *dlogits;            /* [num_classes]                                      */
  float *cam, *cam_feat;             /* [in_h][in_w], [fh][fw]                             */
  int cam_fw, cam_fh;
  double forward_ms;
};

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---- lifetime ------------------------------------------------------------------------------------ */

gc_ctx *gc_create(const gc_desc *d, char *err, size_t errlen) {
  if (!d || !d->weights || !d->weights_size) { ERR("no weights given"); return NULL; }
  gc_ctx *g = calloc(1, sizeof *g);
  if (!g) { ERR("out of memory"); return NULL; }
  if (gc_model_load(&g->model, d->weights, d->weights_size, err, errlen)) { free(g); return NULL; }
  if (gc_net_create(&g->net, &g->model, NULL, err, errlen)) { gc_model_free(&g->model); free(g); return NULL; }
  int n = g->model.num_classes;
  g->probs = malloc(n * sizeof(float));
  g->dlogits = malloc(n * sizeof(float));
  g->multilabel = d->multilabel;
  if (!g->probs || !g->dlogits || gc_set_input_size(g, d->input_w ? d->input_w : 224, d->input_h ? d->input_h : 224,
                                                    err, errlen)) {
    if (!g->probs || !g->dlogits) ERR("out of memory");
    gc_destroy(g);
    return NULL;
  }
  return g;
}

void gc_destroy(gc_ctx *g) {
  if (!g) return;
  gc_net_destroy(&g->net);
  gc_grad_free(&g->grad);
  gc_model_free(&g->model);
  free(g->probs); free(g->dlogits); free(g->cam); free(g->cam_feat);
  free(g);
}

int gc_num_classes(const gc_ctx *g) { return g->model.num_classes; }
void gc_input_size(const gc_ctx *g, int *w, int *h) { *w = g->in_w; *h = g->in_h; }

int gc_set_input_size(gc_ctx *g, int w, int h, char *err, size_t errlen) {
  if (w < 32 || h < 32 || w > 4096 || h > 4096) return ERR("model input size %dx%d out of range (32..4096 per side)", w, h);
  g->in_w = w; g->in_h = h;
  return 0;
}

/* ---- forward ------------------------------------------------------------------------------------- */

static void compute_probs(gc_ctx *g) {
  int n = g->model.num_classes;
  const float *z = g->net.logits;
  if (g->multilabel) {
    for (int i = 0; i < n; i++) g->probs[i] = 1.0f / (1.0f + expf(-z[i]));
    return;
  }
  float mx = z[0];
  for (int i = 1; i < n; i++) if (z[i] > mx) mx = z[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += exp((double)z[i] - mx);
  for (int i = 0; i < n; i++) g->probs[i] = (float)(exp((double)z[i] - mx) / s);
}

static int shape_for(gc_ctx *g, int w, int h, char *err, size_t errlen) {
  g->have_forward = 0;
  if (gc_net_reshape(&g->net, h, w, err, errlen) || gc_grad_reshape(&g->grad, &g->net, err, errlen)) {
    g->net.in_h = g->net.in_w = 0; /* force a clean reshape next time */
    return -1;
  }
  return 0;
}

static int run_forward(gc_ctx *g, char *err, size_t errlen) {
  double t0 = now_ms();
  if (gc_net_forward(&g->net, err, errlen)) return -1;
  g->forward_ms = now_ms() - t0;
  compute_probs(g);
  g->have_forward = 1;
  return 0;
}

int gc_classify_tensor(gc_ctx *g, const float *x, int w, int h, char *err, size_t errlen) {
  if (!x) return ERR("no input tensor");
  if (shape_for(g, w, h, err, errlen)) return -1;
  memcpy(g->net.x.data, x, sizeof(float) * 3 * (size_t)w * h);
  return run_forward(g, err, errlen);
}

int gc_classify(gc_ctx *g, const gc_image *img, char *err, size_t errlen) {
  if (!img || !img->rgb || img->w < 1 || img->h < 1) return ERR("no image");
  if (shape_for(g, g->in_w, g->in_h, err, errlen)) return -1;
  gc_image r;
  if (gc_image_resize_bilinear_aa(img, g->in_w, g->in_h, &r, err, errlen)) return -1;
  gc_image_to_tensor(&r, g->net.x.data);
  gc_image_free(&r);
  return run_forward(g, err, errlen);
}

const float *gc_logits(const gc_ctx *g) { return g->net.logits; }
const float *gc_probs(const gc_ctx *g) { return g->probs; }

int gc_topk(const gc_ctx *g, int k, int *idx) {
  int n = g->model.num_classes;
  if (k > n) k = n;
  const float *z = g->net.logits;
  for (int j = 0; j < k; j++) { /* k is small: selection, ties to the lower index as torch.topk on CPU */
    int best = -1;
    for (int i = 0; i < n; i++) {
      int taken = 0;
      for (int t = 0; t < j; t++) taken |= idx[t] == i;
      if (!taken && (best < 0 || z[i] > z[best])) best = i;
    }
    idx[j] = best;
  }
  return k;
}

/* ---- explain ------------------------------------------------------------------------------------- */

int gc_explain(gc_ctx *g, const gc_explain_desc *d, gc_explanation *out, char *err, size_t errlen) {
  int n = g->model.num_classes;
  if (!g->have_forward) return ERR("no image classified yet");
  int layer = gc_layer_parse(d && d->layer ? d->layer : "layer4");
  if (layer == -2) return ERR("unknown layer '%s' (conv1, relu, maxpool, layer1..layer4, layerN.M, input)", d->layer);
  int cls = d ? d->class_index : -1;
  if (cls >= n) return ERR("class %d out of range (the model has %d classes: 0..%d)", cls, n, n - 1);
  if (cls < 0 && !(d && d->logit_weights)) gc_topk(g, 1, &cls);
  if (d && d->logit_weights) memcpy(g->dlogits, d->logit_weights, n * sizeof(float));
  else { memset(g->dlogits, 0, n * sizeof(float)); g->dlogits[cls] = 1.0f; }

  double t0 = now_ms();
  gc_tensor act, grad;
  if (gc_backward_to(&g->net, &g->grad, g->dlogits, layer, &act, &grad, err, errlen)) return -1;
  double t1 = now_ms();
  size_t fpx = (size_t)act.h * act.w, px = (size_t)g->net.in_h * g->net.in_w;
  float *cf = realloc(g->cam_feat, fpx * sizeof(float)), *c;
  if (cf) g->cam_feat = cf;
  c = cf ? realloc(g->cam, px * sizeof(float)) : NULL;
  if (!c) return ERR("out of memory for the CAM");
  g->cam = c;
  gc_gradcam(&act, &grad, g->cam_feat);
  g->cam_fw = act.w; g->cam_fh = act.h;
  /* pytorch-grad-cam: scale at feature resolution, resize to the input, then scale again. */
  gc_cam_resize(g->cam_feat, act.h, act.w, g->cam, g->net.in_h, g->net.in_w);
  gc_cam_normalize(g->cam, px);
  double t2 = now_ms();

  *out = (gc_explanation){.class_index = cls, .prob = cls >= 0 ? g->probs[cls] : NAN, .layer = layer,
                          .w = g->net.in_w, .h = g->net.in_h, .cam = g->cam,
                          .fw = act.w, .fh = act.h, .cam_feat = g->cam_feat, .gc = grad.c, .grad = grad.data,
                          .forward_ms = g->forward_ms, .backward_ms = t1 - t0, .cam_ms = t2 - t1};
  return 0;
}

int gc_cam_at(const gc_ctx *g, int w, int h, float *out, char *err, size_t errlen) {
  if (!g->cam_feat || !g->cam_fw) return ERR("nothing explained yet");
  gc_cam_resize(g->cam_feat, g->cam_fh, g->cam_fw, out, h, w);
  gc_cam_normalize(out, (size_t)w * h);
  return 0;
}
