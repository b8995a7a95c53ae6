/* api.c: the gc_ context (gradcam.h) — model, network, backward workspace, results — and the thin
 * exports the page's worker calls through WebAssembly.
 */
#include "gradcam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthreadpool.h>

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
  float *cam, *cam_feat;             /* [cam_h][cam_w] (the input size), [cam_fh][cam_fw]   */
  int cam_w, cam_h, cam_fw, cam_fh;  /* 0: nothing explained                               */
  double forward_ms;
  struct pthreadpool *pool;          /* NULL: everything on the calling thread              */
};

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---- lifetime ------------------------------------------------------------------------------------ */

#ifdef __EMSCRIPTEN_PTHREADS__
#include <emscripten.h>
#include <emscripten/threading.h>
/* How many threads a pool may have: n (0: every core), at most the runtime's idle pre-created workers
 * plus this thread. A worker beyond the pre-created pool would only start once this thread returns to
 * the JS event loop, and pthreadpool_create waits for its workers: that would hang. */
static int pool_threads(int n) {
  int idle = EM_ASM_INT({ return PThread.unusedWorkers.length; });
  if (n <= 0) n = emscripten_num_logical_cores();
  return n > idle + 1 ? idle + 1 : n;
}
#endif

gc_ctx *gc_create(const gc_desc *d, char *err, size_t errlen) {
  if (!d || !d->weights || !d->weights_size) {
    if (d && d->free_weights) free((void *)d->weights);
    ERR("no weights given");
    return NULL;
  }
  gc_ctx *g = calloc(1, sizeof *g);
  const int bad = !g || gc_model_load(&g->model, d->weights, d->weights_size, err, errlen);
  if (d->free_weights) free((void *)d->weights);
  if (bad) {
    if (!g) ERR("out of memory");
    free(g);
    return NULL;
  }
#ifdef __EMSCRIPTEN_PTHREADS__
  int nt = pool_threads(d->threads);
  if (nt > 1 && !(g->pool = pthreadpool_create(nt))) {
    ERR("could not start %d threads", nt);
    gc_model_free(&g->model); free(g);
    return NULL;
  }
#endif
  if (gc_net_create(&g->net, &g->model, g->pool, err, errlen)) {
    pthreadpool_destroy(g->pool); gc_model_free(&g->model); free(g);
    return NULL;
  }
  int n = g->model.num_classes;
  g->probs = malloc(n * sizeof(float));
  g->dlogits = malloc(n * sizeof(float));
  g->multilabel = d->multilabel < 0 ? g->model.sigmoid_head : d->multilabel;
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
  pthreadpool_destroy(g->pool);      /* after the net: its operators run on the pool */
  gc_grad_free(&g->grad);
  gc_model_free(&g->model);
  free(g->probs); free(g->dlogits); free(g->cam); free(g->cam_feat);
  free(g);
}

int gc_num_classes(const gc_ctx *g) { return g->model.num_classes; }
void gc_input_size(const gc_ctx *g, int *w, int *h) { *w = g->in_w; *h = g->in_h; }

int gc_set_input_size(gc_ctx *g, int w, int h, char *err, size_t errlen) {
  if (w < 32 || h < 32 || w > 4096 || h > 4096) return ERR("model input size %dx%d out of range (32..4096 per side)", w, h);
  if (w != g->in_w || h != g->in_h) g->have_forward = 0; /* an explain now would use the old image's pass */
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
  if (img->w == g->in_w && img->h == g->in_h) { /* already the input size: PIL's resize would copy it */
    gc_image_to_tensor(img, g->net.x.data);
    return run_forward(g, err, errlen);
  }
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
  g->cam_w = g->cam_h = g->cam_fw = g->cam_fh = 0; /* until both maps below are whole */
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
  g->cam_w = g->net.in_w; g->cam_h = g->net.in_h;
  double t2 = now_ms();

  *out = (gc_explanation){.class_index = cls, .prob = cls >= 0 ? g->probs[cls] : NAN, .layer = layer,
                          .w = g->net.in_w, .h = g->net.in_h, .cam = g->cam,
                          .fw = act.w, .fh = act.h, .cam_feat = g->cam_feat, .gc = grad.c, .grad = grad.data,
                          .forward_ms = g->forward_ms, .backward_ms = t1 - t0, .cam_ms = t2 - t1};
  return 0;
}

int gc_cam_at(const gc_ctx *g, int w, int h, float *out, char *err, size_t errlen) {
  if (!g->cam_feat || !g->cam_fw) return ERR("nothing explained yet");
  if (w == g->cam_w && h == g->cam_h) { /* the map gc_explain already made, by the same two steps */
    memcpy(out, g->cam, sizeof(float) * w * h);
    return 0;
  }
  gc_cam_resize(g->cam_feat, g->cam_fh, g->cam_fw, out, h, w);
  gc_cam_normalize(out, (size_t)w * h);
  return 0;
}

/* ---- WebAssembly exports (the page's worker) -------------------------------------------------------- *
 * The worker copies canvas pixels (RGBA) into memory it got from malloc, calls these, and reads the
 * results straight out of the wasm heap. Each returns 0 / a pointer on success; on failure -1 / NULL
 * and gc_js_error(ctx) (or gc_js_error(NULL) for gc_js_create) holds the one-line reason. */
#ifdef __EMSCRIPTEN__
#include <emscripten.h>

typedef struct gc_js {                /* what the worker holds: the context plus its outputs */
  gc_ctx *g;
  char err[512];
  int top[5], ntop;
  double timings[4];                  /* forward, backward, cam, render (ms) */
  gc_image img;                       /* the last classified pixels as RGB: every explain draws on them */
  float *mask;                        /* the CAM at the image's size, grown as needed, kept between calls */
  size_t mask_n;
} gc_js;

static char create_err[512];          /* only for gc_js_create failures: there is no context yet */

/* weights: n safetensors bytes the caller got from malloc; the engine takes them and frees them once
 * parsed (gc_desc.free_weights), on failure too. */
EMSCRIPTEN_KEEPALIVE gc_js *gc_js_create(uint8_t *weights, size_t n, int multilabel, int in_w, int in_h) {
  gc_js *j = calloc(1, sizeof *j);
  if (!j) { free(weights); snprintf(create_err, sizeof create_err, "out of memory"); return NULL; }
  gc_desc d = {.weights = weights, .weights_size = n, .free_weights = 1, .multilabel = multilabel, .input_w = in_w,
               .input_h = in_h};
  j->g = gc_create(&d, create_err, sizeof create_err);
  if (!j->g) { free(j); return NULL; }
  return j;
}

EMSCRIPTEN_KEEPALIVE const char *gc_js_error(const gc_js *j) { return j ? j->err : create_err; }
EMSCRIPTEN_KEEPALIVE void gc_js_destroy(gc_js *j) {
  if (!j) return;
  gc_destroy(j->g);
  gc_image_free(&j->img);
  free(j->mask);
  free(j);
}
EMSCRIPTEN_KEEPALIVE int gc_js_num_classes(const gc_js *j) { return gc_num_classes(j->g); }
EMSCRIPTEN_KEEPALIVE const float *gc_js_probs(const gc_js *j) { return gc_probs(j->g); }
EMSCRIPTEN_KEEPALIVE const int *gc_js_top(const gc_js *j) { return j->top; }
EMSCRIPTEN_KEEPALIVE const double *gc_js_timings(const gc_js *j) { return j->timings; }

EMSCRIPTEN_KEEPALIVE int gc_js_set_input_size(gc_js *j, int w, int h) {
  return gc_set_input_size(j->g, w, h, j->err, sizeof j->err);
}

/* Classify canvas pixels rgba [h][w][4]; afterwards gc_js_top (5 best) and gc_js_probs. The pixels are
 * kept (as RGB) for the explains that follow. */
EMSCRIPTEN_KEEPALIVE int gc_js_classify(gc_js *j, const uint8_t *rgba, int w, int h) {
  gc_image_free(&j->img);
  if (gc_image_from_rgba(rgba, w, h, &j->img, j->err, sizeof j->err)) return -1;
  int rc = gc_classify(j->g, &j->img, j->err, sizeof j->err);
  if (!rc) j->ntop = gc_topk(j->g, 5, j->top);
  j->timings[0] = rc ? 0 : j->g->forward_ms;
  return rc;
}

/* Explain the last classified image for class cls (-1: top-1) at layer, and draw at that image's size
 * w×h: overlay_rgba and heat_rgba [h][w][4] (either may be NULL), cam [in_h][in_w] floats (may be
 * NULL). Returns the class explained, or -1. Re-explaining (another class or layer) converts and
 * allocates nothing: the RGB pixels and the mask buffer are kept. */
EMSCRIPTEN_KEEPALIVE int gc_js_explain(gc_js *j, int cls, const char *layer, float image_weight, uint8_t *overlay_rgba,
                                       uint8_t *heat_rgba, float *cam) {
  gc_explanation e;
  if (!j->img.rgb) return snprintf(j->err, sizeof j->err, "no image classified yet"), -1;
  if (gc_explain(j->g, &(gc_explain_desc){.class_index = cls, .layer = layer}, &e, j->err, sizeof j->err)) return -1;
  double t0 = now_ms();
  const int w = j->img.w, h = j->img.h;
  if (cam) memcpy(cam, e.cam, sizeof(float) * e.w * e.h);
  if ((size_t)w * h > j->mask_n) {
    float *m = realloc(j->mask, sizeof(float) * w * h);
    if (!m) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    j->mask = m; j->mask_n = (size_t)w * h;
  }
  if (gc_cam_at(j->g, w, h, j->mask, j->err, sizeof j->err)) return -1;
  if (overlay_rgba && gc_render_overlay(&j->img, j->mask, image_weight, overlay_rgba, 4))
    return snprintf(j->err, sizeof j->err, "overlay opacity %g outside [0, 1]", image_weight), -1;
  if (heat_rgba) gc_render_heatmap(j->mask, w, h, heat_rgba, 4);
  j->timings[1] = e.backward_ms; j->timings[2] = e.cam_ms; j->timings[3] = now_ms() - t0;
  return e.class_index;
}
#endif
