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

#include "ctx.h"
#include "render.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)


double gc_now_ms(void) {
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
  /* GC_PROFILE: where start-up goes, one JSON line like the forward pass's (bench/startup.js) */
  gc_prof p = {.on = gc_prof_wanted(), .pass = "create", .h = d->input_h, .w = d->input_w, .threads = 1};
  if (p.on) p.t0 = p.t = gc_prof_now();
  /* The thread pool first: the weights load on it (one conv per task). */
  gc_ctx *g = calloc(1, sizeof *g);
  if (!g) {
    if (d->free_weights) free((void *)d->weights);
    ERR("out of memory");
    return NULL;
  }
#ifdef __EMSCRIPTEN_PTHREADS__
  int nt = pool_threads(d->threads);
  if (nt > 1 && !(g->pool = pthreadpool_create(nt))) {
    if (d->free_weights) free((void *)d->weights);
    ERR("could not start %d threads", nt);
    free(g);
    return NULL;
  }
  p.threads = g->pool ? (int)pthreadpool_get_threads_count(g->pool) : 1;
#endif
  gc_prof_mark(&p, "threads", 0, 0);
  const gc_parallel par = gc_pool_parallel(g->pool);
  const int bad = gc_model_load_par(&g->model, d->weights, d->weights_size, &par, err, errlen);
  gc_prof_mark(&p, "weights", 0, 0); /* parse, check, F16 → F32, fold BatchNorm, OHWI */
  if (d->free_weights) free((void *)d->weights);
  if (bad) {
    pthreadpool_destroy(g->pool);
    free(g);
    return NULL;
  }
  if (gc_net_create(&g->net, &g->model, g->pool, err, errlen)) {
    pthreadpool_destroy(g->pool); gc_model_free(&g->model); free(g);
    return NULL;
  }
  gc_prof_mark(&p, "operators", 0, 0); /* XNNPACK operators (weight packing) and Winograd transforms, side by side */
  int n = g->model.num_classes;
  g->probs = malloc(n * sizeof(float));
  g->dlogits = malloc(n * sizeof(float));
  g->multilabel = d->multilabel < 0 ? g->model.sigmoid_head : d->multilabel;
  const gc_preproc *pp = &g->model.pre;
  memcpy(g->mean, d->mean ? d->mean : pp->mean, sizeof g->mean);
  memcpy(g->std, d->std ? d->std : pp->std, sizeof g->std);
  g->resize = d->crop > 0 ? d->crop : d->crop < 0 ? 0 : pp->resize;
  const int iw = d->input_w ? d->input_w : pp->w ? pp->w : 224, ih = d->input_h ? d->input_h : pp->h ? pp->h : 224;
  if (!g->probs || !g->dlogits || gc_set_input_size(g, iw, ih, err, errlen)) {
    if (!g->probs || !g->dlogits) ERR("out of memory");
    gc_destroy(g);
    return NULL;
  }
  gc_prof_end(&p);
  return g;
}

void gc_destroy(gc_ctx *g) {
  if (!g) return;
  gc_explain_abort(g);
  gc_net_destroy(&g->net);
  pthreadpool_destroy(g->pool);      /* after the net: its operators run on the pool */
  gc_grad_free(&g->grad);
  gc_model_free(&g->model);
  free(g->probs); free(g->dlogits); free(g->cam); free(g->cam_feat);
  free(g);
}

int gc_num_classes(const gc_ctx *g) { return g->model.num_classes; }
const char *gc_arch(const gc_ctx *g) { return g->model.arch; }
const char *gc_labels(const gc_ctx *g) { return g->model.pre.labels; }

void gc_view_rect(const gc_ctx *g, int w, int h, int rect[4]) {
  rect[0] = rect[1] = 0, rect[2] = w, rect[3] = h;
  if (g->resize <= 0) return;
  int rw, rh, left, top;
  gc_image_crop_geometry(w, h, g->resize, g->in_w, g->in_h, &rw, &rh, &left, &top);
  if (rw < g->in_w || rh < g->in_h) return; /* classify refuses such an image */
  /* the crop's corners in the resized image, back to the image's pixels (rounded to the nearest) */
  const int x0 = (int)lround((double)left * w / rw), x1 = (int)lround((double)(left + g->in_w) * w / rw);
  const int y0 = (int)lround((double)top * h / rh), y1 = (int)lround((double)(top + g->in_h) * h / rh);
  rect[0] = x0, rect[1] = y0, rect[2] = x1 - x0 > 0 ? x1 - x0 : 1, rect[3] = y1 - y0 > 0 ? y1 - y0 : 1;
}

int gc_view_image(const gc_ctx *g, gc_image *img, char *err, size_t errlen) {
  int r[4];
  gc_view_rect(g, img->w, img->h, r);
  if (r[2] == img->w && r[3] == img->h) return 0;
  gc_image view;
  if (gc_image_crop(img, r[0], r[1], r[2], r[3], &view, err, errlen)) return -1;
  gc_image_free(img);
  *img = view;
  return 0;
}

const char *gc_layer_names(const gc_ctx *g, char *buf, size_t n) {
  const gc_model *m = &g->model;
  size_t l = 0;
  if (!n) return buf;
  buf[0] = 0;
#define ADD(...) (l += (size_t)snprintf(buf + l, l < n ? n - l : 0, __VA_ARGS__), l = l < n ? l : n - 1)
  ADD("input,conv1,relu,maxpool");
  for (int b = 0; b < m->n_blocks; b++) {
    if (m->blocks[b].index == 0) ADD(",layer%d", m->blocks[b].stage);
    ADD(",%s", m->blocks[b].name);
  }
#undef ADD
  return buf;
}
int gc_multilabel(const gc_ctx *g) { return g->multilabel; }
void gc_input_size(const gc_ctx *g, int *w, int *h) { *w = g->in_w; *h = g->in_h; }

int gc_set_input_size(gc_ctx *g, int w, int h, char *err, size_t errlen) {
  if (w < 32 || h < 32 || w > 4096 || h > 4096) return ERR("model input size %dx%d out of range (32..4096 per side)", w, h);
  gc_explain_abort(g);
  if (w != g->in_w || h != g->in_h) g->have_forward = 0; /* an explain now would use the old image's pass */
  g->in_w = w; g->in_h = h;
  return 0;
}

/* ---- forward ------------------------------------------------------------------------------------- */

void gc_ctx_probs(const gc_ctx *g, const float *z, float *p) {
  int n = g->model.num_classes;
  if (g->multilabel) {
    for (int i = 0; i < n; i++) p[i] = 1.0f / (1.0f + expf(-z[i]));
    return;
  }
  float mx = z[0];
  for (int i = 1; i < n; i++) if (z[i] > mx) mx = z[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += exp((double)z[i] - mx);
  for (int i = 0; i < n; i++) p[i] = (float)(exp((double)z[i] - mx) / s);
}

static int shape_for(gc_ctx *g, int w, int h, char *err, size_t errlen) {
  gc_explain_abort(g);
  g->have_forward = 0;
  gc_prof p;
  gc_prof_begin(&p, "reshape", &g->net);
  if (gc_net_reshape(&g->net, h, w, err, errlen) || gc_grad_reshape(&g->grad, &g->net, err, errlen)) {
    g->net.in_h = g->net.in_w = 0; /* force a clean reshape next time */
    return -1;
  }
  p.h = h; p.w = w;
  gc_prof_mark(&p, "reshape", 0, 0); /* XNNPACK reshapes + the activation arena */
  gc_prof_end(&p);
  return 0;
}

static int run_forward(gc_ctx *g, char *err, size_t errlen) {
  double t0 = gc_now_ms();
  if (gc_net_forward(&g->net, err, errlen)) return -1;
  g->forward_ms = gc_now_ms() - t0;
  gc_ctx_probs(g, g->net.logits, g->probs);
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
  if (!g->resize && img->w == g->in_w && img->h == g->in_h) { /* already the input size: PIL's resize would copy it */
    gc_image_to_tensor(img, g->mean, g->std, g->net.x.data);
    return run_forward(g, err, errlen);
  }
  gc_image r;
  if (gc_image_resize_crop(img, g->resize, g->in_w, g->in_h, &r, err, errlen)) return -1;
  gc_image_to_tensor(&r, g->mean, g->std, g->net.x.data);
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

/* ---- WebAssembly exports (the page's worker) -------------------------------------------------------- *
 * The worker copies canvas pixels (RGBA) into memory it got from malloc, calls these, and reads the
 * results straight out of the wasm heap. Each returns 0 / a pointer on success; on failure -1 / NULL
 * and gc_js_error(ctx) (or gc_js_error(NULL) for gc_js_create) holds the one-line reason. */
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#include <malloc.h>

typedef struct gc_js {                /* what the worker holds: the context plus its outputs */
  gc_ctx *g;
  char err[512];
  int top[5], ntop;
  double timings[4];                  /* forward, backward, cam, render (ms) */
  gc_image img;                       /* the last classified pixels as RGB: every explain draws on them */
  float *mask;                        /* the CAM at the image's size, grown as needed, kept between calls */
  size_t mask_n;
  gc_explanation e; int have_e;       /* the last finished explanation                        */
  const gc_colormap *cmap; int mode, grey; /* the overlay's style (cmap NULL: by the sign)      */
  char legend[128];
  int info[13], size[2];
  double mbuf[8 + 3 * GC_ROAD_MAX];
} gc_js;

static char create_err[512];          /* only for gc_js_create failures: there is no context yet */

/* weights: n safetensors bytes the caller got from malloc; the engine takes them and frees them once
 * parsed (gc_desc.free_weights), on failure too. */
/* mean, std: [3] or 0 (the file's); crop: gc_desc's. */
EMSCRIPTEN_KEEPALIVE gc_js *gc_js_create(uint8_t *weights, size_t n, int multilabel, int in_w, int in_h, const float *mean,
                                         const float *std, int crop) {
  gc_js *j = calloc(1, sizeof *j);
  if (!j) { free(weights); snprintf(create_err, sizeof create_err, "out of memory"); return NULL; }
  gc_desc d = {.weights = weights, .weights_size = n, .free_weights = 1, .multilabel = multilabel, .input_w = in_w,
               .input_h = in_h, .mean = mean, .std = std, .crop = crop};
  j->g = gc_create(&d, create_err, sizeof create_err);
  if (!j->g) { free(j); return NULL; }
  return j;
}

EMSCRIPTEN_KEEPALIVE const char *gc_js_error(const gc_js *j) { return j ? j->err : create_err; }
/* Bytes malloc holds now: the soak tests' leak check (the WebAssembly memory itself only grows in 8 MB steps). */
EMSCRIPTEN_KEEPALIVE size_t gc_js_heap_used(void) { return mallinfo().uordblks; }
EMSCRIPTEN_KEEPALIVE void gc_js_destroy(gc_js *j) {
  if (!j) return;
  gc_destroy(j->g);
  gc_image_free(&j->img);
  free(j->mask);
  free(j);
}
EMSCRIPTEN_KEEPALIVE int gc_js_num_classes(const gc_js *j) { return gc_num_classes(j->g); }
EMSCRIPTEN_KEEPALIVE const char *gc_js_arch(const gc_js *j) { return gc_arch(j->g); }
EMSCRIPTEN_KEEPALIVE const char *gc_js_labels(const gc_js *j) { return gc_labels(j->g); }
/* the size of the part of the last image the explains are drawn over (gc_view_rect) */
EMSCRIPTEN_KEEPALIVE const int *gc_js_view(gc_js *j) { j->size[0] = j->img.w; j->size[1] = j->img.h; return j->size; }
EMSCRIPTEN_KEEPALIVE const int *gc_js_input_size(gc_js *j) { gc_input_size(j->g, &j->size[0], &j->size[1]); return j->size; }
/* the model's layers (gc_layer_names); resnet152 has 50 blocks: ~550 bytes */
EMSCRIPTEN_KEEPALIVE const char *gc_js_model_layers(const gc_js *j) {
  static char buf[2048];
  return gc_layer_names(j->g, buf, sizeof buf);
}
EMSCRIPTEN_KEEPALIVE const float *gc_js_probs(const gc_js *j) { return gc_probs(j->g); }
EMSCRIPTEN_KEEPALIVE const int *gc_js_top(const gc_js *j) { return j->top; }
EMSCRIPTEN_KEEPALIVE const double *gc_js_timings(const gc_js *j) { return j->timings; }

EMSCRIPTEN_KEEPALIVE int gc_js_set_input_size(gc_js *j, int w, int h) {
  return gc_set_input_size(j->g, w, h, j->err, sizeof j->err);
}

/* Classify canvas pixels rgba [h][w][4]; afterwards gc_js_top (5 best) and gc_js_probs. The pixels are
 * kept (as RGB) for the explains that follow. */
EMSCRIPTEN_KEEPALIVE int gc_js_classify(gc_js *j, const uint8_t *rgba, int w, int h) {
  j->have_e = 0;
  gc_image_free(&j->img);
  if (gc_image_from_rgba(rgba, w, h, &j->img, j->err, sizeof j->err)) return -1;
  int rc = gc_classify(j->g, &j->img, j->err, sizeof j->err);
  if (!rc) j->ntop = gc_topk(j->g, 5, j->top);
  if (!rc) rc = gc_view_image(j->g, &j->img, j->err, sizeof j->err); /* the explains are drawn over what it saw */
  j->timings[0] = rc ? 0 : j->g->forward_ms;
  return rc;
}

/* Explaining is a job run in steps, so that the worker can report progress and take a Cancel between
 * them (gradcam.h's gc_explain_begin/_step):
 *   gc_js_explain_begin(j, cls, layer, method, flags, percentiles, n_percentiles, road_noise)  0 / -1
 *     cls -1: top-1; layer may list several ("layer3,layer4"); flags: 1 eigen_smooth, 2 aug_smooth,
 *     4 metrics, 8 raw scale, 16 nearest interpolation, sign << 5 (0 positive, 1 negative, 2 all);
 *     percentiles NULL: 10..90
 *   gc_js_step(j, budget_ms)  1 done, 0 more to do (gc_js_progress(j) says how far), -1 failed
 *   gc_js_render(j, image_weight, overlay_rgba, heat_rgba, cam)  draws the finished explanation at the
 *     image's size w×h: overlay and heat [h][w][4] (either may be NULL), cam [in_h][in_w] floats (may
 *     be NULL). Returns the class explained, or -1. Re-explaining converts and allocates nothing: the
 *     RGB pixels and the mask buffer are kept. The overlay is drawn in the style of
 *   gc_js_set_style(j, colormap, mode, grey)  colormap name (NULL: jet, or rdwhgn for a signed map),
 *     mode 0 blended_heat_map, 1 heat_map, 2 masked_image, 3 alpha_scaling; 0 / -1 (unknown name)
 *   gc_js_legend(j): the finished explanation's legend text ("normalised, positive: 0 .. 1")
 *   gc_js_colormap(name): the 256 RGB bytes of a colormap (for a page's own legend), or NULL
 *   gc_js_render_input(j, image_weight, overlay_rgba): the overlay at the model input size [in_h][in_w][4]
 *     on the image resized as for the network (PIL's bilinear): what the CLI's compare-grid tiles show
 *   gc_js_layer_names(j): the finished explanation's layers, canonical ("layer3.1,layer4.1"; "all")
 *   gc_js_colormap_names(): "jet, turbo, ..." 
 *   gc_js_info(j): ints {class, eigen_smooth, eigen_ignored, aug_smooth, n_compared, compared[3], fw, fh,
 *     sign, raw, nearest}
 *   gc_js_metrics(j): doubles {score, change, drop, increase, n, morf_mean, lerf_mean, combined,
 *     percentiles[n], morf[n], lerf[n]}, or NULL without metrics
 * gc_js_explain is the three in one call for Grad-CAM-like callers that need no steps. */
EMSCRIPTEN_KEEPALIVE int gc_js_explain_begin(gc_js *j, int cls, const char *layer, const char *method, int flags,
                                             const int *percentiles, int n_percentiles, double road_noise) {
  j->have_e = 0;
  if (!j->img.rgb) return snprintf(j->err, sizeof j->err, "no image classified yet"), -1;
  gc_explain_desc d = {.class_index = cls, .layer = layer, .method = method, .eigen_smooth = flags & 1,
                       .aug_smooth = (flags >> 1) & 1, .metrics = (flags >> 2) & 1, .raw = (flags >> 3) & 1,
                       .nearest = (flags >> 4) & 1, .sign = (flags >> 5) & 3, .road_percentiles = percentiles,
                       .n_road_percentiles = n_percentiles, .road_noise = road_noise};
  return gc_explain_begin(j->g, &d, j->err, sizeof j->err);
}

EMSCRIPTEN_KEEPALIVE int gc_js_step(gc_js *j, double budget_ms) {
  int rc = gc_explain_step(j->g, budget_ms, &j->e, j->err, sizeof j->err);
  j->have_e = rc == 1;
  return rc;
}

EMSCRIPTEN_KEEPALIVE double gc_js_progress(const gc_js *j) { return gc_explain_progress(j->g); }

/* The finished explanation, kept aside (gc_cam_save: a viewer's, while other viewers use the context),
 * and made current again after its image is classified again; NULL / -1 (err) on failure. */
EMSCRIPTEN_KEEPALIVE gc_saved_cam *gc_js_save(gc_js *j) { return j->have_e ? gc_cam_save(j->g, &j->e) : NULL; }
EMSCRIPTEN_KEEPALIVE int gc_js_restore(gc_js *j, const gc_saved_cam *s) {
  j->have_e = s && !gc_cam_restore(j->g, s, &j->e, j->err, sizeof j->err);
  return j->have_e ? 0 : -1;
}
EMSCRIPTEN_KEEPALIVE void gc_js_saved_free(gc_saved_cam *s) { gc_cam_saved_free(s); }
EMSCRIPTEN_KEEPALIVE void gc_js_cancel(gc_js *j) { gc_explain_abort(j->g); j->have_e = 0; }

EMSCRIPTEN_KEEPALIVE const int *gc_js_info(gc_js *j) {
  const gc_explanation *e = &j->e;
  int v[13] = {e->class_index, e->eigen_smooth, e->eigen_ignored, e->aug_smooth, e->n_compared,
               e->compared[0], e->compared[1], e->compared[2], e->fw, e->fh, e->sign, e->raw, e->nearest};
  memcpy(j->info, v, sizeof v);
  return j->info;
}

EMSCRIPTEN_KEEPALIVE const double *gc_js_metrics(gc_js *j) {
  const gc_metrics *m = j->have_e ? j->e.metrics : NULL;
  if (!m) return NULL;
  double *o = j->mbuf;
  const int n = m->n_road;
  double head[8] = {m->score, m->cam_mult_change, m->drop, m->increase, n, m->road_morf_mean, m->road_lerf_mean,
                    m->road_combined};
  memcpy(o, head, sizeof head);
  for (int i = 0; i < n; i++) {
    o[8 + i] = m->road_percentiles[i]; o[8 + n + i] = m->road_morf[i]; o[8 + 2 * n + i] = m->road_lerf[i];
  }
  return o;
}

EMSCRIPTEN_KEEPALIVE int gc_js_set_style(gc_js *j, const char *colormap, int mode, int grey) {
  const gc_colormap *c = colormap && *colormap ? gc_colormap_find(colormap) : NULL;
  if (colormap && *colormap && !c)
    return snprintf(j->err, sizeof j->err, "unknown colormap '%s' (%s)", colormap, gc_colormap_names()), -1;
  if (mode < 0 || mode >= GC_MODE_COUNT) return snprintf(j->err, sizeof j->err, "unknown display mode %d", mode), -1;
  j->cmap = c; j->mode = mode; j->grey = grey;
  return 0;
}

EMSCRIPTEN_KEEPALIVE const char *gc_js_legend(gc_js *j) {
  if (!j->have_e) return "";
  gc_legend_text(&j->e, j->legend, sizeof j->legend);
  return j->legend;
}

EMSCRIPTEN_KEEPALIVE const uint8_t *gc_js_colormap(const char *name) {
  const gc_colormap *c = gc_colormap_find(name);
  return c ? &c->lut[0][0] : NULL;
}

EMSCRIPTEN_KEEPALIVE const char *gc_js_colormap_names(void) { return gc_colormap_names(); }

EMSCRIPTEN_KEEPALIVE const char *gc_js_layer_names(gc_js *j) {
  j->legend[0] = 0;
  return j->have_e ? gc_layers_text(&j->e, j->legend, sizeof j->legend) : j->legend;
}

static const gc_style *js_style(gc_js *j, float image_weight, gc_style *st) {
  const gc_colormap *cm = j->cmap ? j->cmap : gc_colormap_find(j->e.sign == GC_SIGN_ALL ? "rdwhgn" : "jet");
  *st = (gc_style){.lut = cm->lut, .mode = j->mode, .grey = j->grey, .image_weight = image_weight};
  return st;
}

EMSCRIPTEN_KEEPALIVE int gc_js_render_input(gc_js *j, float image_weight, uint8_t *overlay_rgba) {
  if (!j->have_e) return snprintf(j->err, sizeof j->err, "nothing explained yet"), -1;
  int w, h;
  gc_input_size(j->g, &w, &h);
  gc_image small = j->img;
  float *mask = malloc(sizeof(float) * w * h);
  int rc = mask ? 0 : (snprintf(j->err, sizeof j->err, "out of memory"), -1);
  if (!rc && (j->img.w != w || j->img.h != h))
    rc = gc_image_resize_bilinear_aa(&j->img, w, h, &small, j->err, sizeof j->err);
  gc_style st;
  if (!rc) rc = gc_cam_at(j->g, w, h, mask, j->err, sizeof j->err);
  if (!rc && gc_render(&small, mask, js_style(j, image_weight, &st), overlay_rgba, 4))
    rc = (snprintf(j->err, sizeof j->err, "overlay opacity %g outside [0, 1]", image_weight), -1);
  if (small.rgb != j->img.rgb) gc_image_free(&small);
  free(mask);
  return rc ? -1 : j->e.class_index;
}

EMSCRIPTEN_KEEPALIVE int gc_js_render(gc_js *j, float image_weight, uint8_t *overlay_rgba, uint8_t *heat_rgba, float *cam) {
  if (!j->have_e) return snprintf(j->err, sizeof j->err, "nothing explained yet"), -1;
  const gc_explanation *e = &j->e;
  double t0 = gc_now_ms();
  const int w = j->img.w, h = j->img.h;
  if (cam) memcpy(cam, e->cam, sizeof(float) * e->w * e->h);
  if ((size_t)w * h > j->mask_n) {
    float *m = realloc(j->mask, sizeof(float) * w * h);
    if (!m) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    j->mask = m; j->mask_n = (size_t)w * h;
  }
  if (gc_cam_at(j->g, w, h, j->mask, j->err, sizeof j->err)) return -1;
  gc_style st;
  js_style(j, image_weight, &st);
  if (overlay_rgba && gc_render_par(&j->img, j->mask, &st, overlay_rgba, 4, &j->g->net.par))
    return snprintf(j->err, sizeof j->err, "overlay opacity %g outside [0, 1]", image_weight), -1;
  if (heat_rgba) gc_render(&j->img, j->mask, &(gc_style){.lut = st.lut, .mode = GC_MODE_HEAT}, heat_rgba, 4);
  j->timings[1] = e->backward_ms; j->timings[2] = e->cam_ms; j->timings[3] = gc_now_ms() - t0;
  return e->class_index;
}

EMSCRIPTEN_KEEPALIVE int gc_js_explain(gc_js *j, int cls, const char *layer, float image_weight, uint8_t *overlay_rgba,
                                       uint8_t *heat_rgba, float *cam) {
  if (gc_js_explain_begin(j, cls, layer, "gradcam", 0, NULL, 0, 0) || gc_js_step(j, INFINITY) != 1) return -1;
  return gc_js_render(j, image_weight, overlay_rgba, heat_rgba, cam);
}
#endif
