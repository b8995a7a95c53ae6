/* explain.c: from a classified image to its CAM, for every method of methods.h (gradcam.h's
 * gc_explain and its stepwise form), plus guided backprop and the display map.
 *
 * The pipeline, as pytorch-grad-cam's BaseCAM runs it:
 *   a pass    forward (skipped for the classified image itself); then for every target layer: the
 *             backward pass to it if the method needs G, the method's units (Score-CAM, Ablation-CAM: one
 *             network pass each), its map, and the layer's CAM at the input size
 *               per layer  relu(R(S(relu(map))))      S(m) = (m - min) / (1e-7 + max(m - min)),
 *                                                     R = OpenCV resize (INTER_LINEAR, or NEAREST)
 *               the pass   S(relu(mean over layers))  (FullGrad: S(map), no layers, no ReLU)
 *   aug_smooth six passes over the normalised input × {0.9, 1.1, 1}, with and without a horizontal flip,
 *             each CAM flipped back, their mean (not rescaled). The unflipped ×1 pass runs last, so the
 *             network ends on the image itself.
 *   metrics   network passes on perturbed copies of the input (metrics.c).
 * Our display options change the two scalings: sign "negative" uses -map (the evidence against the
 * class), "all" keeps the sign and scales by the largest magnitude, N(m) = m / (1e-7 + max|m|), no
 * ReLU; scale "raw" skips every scaling (the CAM in the map's own units; layers are averaged).
 * Whatever ran the network on anything else than the image (units, aug passes, metrics) leaves
 * `touched`; the job then ends with one more forward pass of the image, so that the context is as
 * gc_classify left it (a re-explain for another class needs no new classify).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "methods.h"
#include "metrics.h"
#include "render.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define MAX_LAYERS 16

enum { PH_PASS, PH_LAYER, PH_UNITS, PH_MAP, PH_METRICS, PH_RESTORE, PH_DONE };

/* Passes of aug_smooth (ttach's HorizontalFlip × Multiply([0.9, 1, 1.1])), the identity last. */
static const struct { int flip; float factor; } aug_passes[6] = {{0, 0.9f}, {0, 1.1f}, {1, 0.9f}, {1, 1.0f}, {1, 1.1f}, {0, 1.0f}};

struct gc_job {
  const gc_method *m;
  int layers[MAX_LAYERS], nl, li;  /* target layers, the one being worked on                     */
  int cls, eigen, eigen_ignored, aug, sign, raw, nearest, n_compared, compared[3];
  int pass, npass, unit, nunit, phase;
  int touched;               /* the net no longer holds the image's own forward pass           */
  int dirty;                 /* ... nor this pass's: units ran since its forward               */
  int metrics, n_metric_units, metric_unit;
  gc_metrics_desc md;
  float *x0;                 /* [H][W][3] the classified input                                 */
  float *act;                /* private copy of A (and of the pass input) for methods with units */
  float *map;                /* one layer's map [map_h][map_w]                                 */
  float *layer_cam;          /* [H][W] one layer's CAM at the input size                       */
  double *pass_sum, *acc;    /* [H][W] sum over layers of a pass; sum over passes              */
  gc_method_run run;
  int work_done, work_total; /* for progress                                                   */
  double backward_ms, t0;
};

/* ---- helpers --------------------------------------------------------------------------------------- */

static void relu(float *m, size_t n) { for (size_t i = 0; i < n; i++) if (!(m[i] > 0)) m[i] = 0; }

/* N(m) = m / (1e-7 + max|m|): a signed map scaled into [-1, 1], 0 kept at 0. */
static void scale_signed(float *m, size_t n) {
  float mx = 0;
  for (size_t i = 0; i < n; i++) if (fabsf(m[i]) > mx) mx = fabsf(m[i]);
  const float d = 1e-7f + mx;
  for (size_t i = 0; i < n; i++) m[i] /= d;
}

/* The scaling of a map by the job's options: S after a ReLU, N for signed maps, nothing when raw. */
static void scale_map(const gc_job *j, float *m, size_t n) {
  if (j->raw) return;
  if (j->sign == GC_SIGN_ALL) scale_signed(m, n);
  else gc_cam_normalize(m, n);
}
static void relu_unless_all(const gc_job *j, float *m, size_t n) { if (j->sign != GC_SIGN_ALL) relu(m, n); }

static void resize(int nearest, const float *in, int h, int w, float *out, int oh, int ow) {
  if (nearest) gc_cam_resize_nearest(in, h, w, out, oh, ow);
  else gc_cam_resize(in, h, w, out, oh, ow);
}

/* x [H][W][C] flipped left-right in place (ttach's HorizontalFlip, and its de-augmentation). */
static void flip_lr(float *x, int H, int W, int C) {
  for (int y = 0; y < H; y++)
    for (int a = 0, b = W - 1; a < b; a++, b--)
      for (int c = 0; c < C; c++) {
        float *p = x + ((size_t)y * W + a) * C + c, *q = x + ((size_t)y * W + b) * C + c, t = *p;
        *p = *q; *q = t;
      }
}

/* "layer3,layer4" → layer ids; -1 with err for an unknown name or too many. */
static int parse_layers(const gc_model *model, const char *spec, int *out, int *n, char *err, size_t errlen) {
  char name[64];
  *n = 0;
  for (const char *p = spec;;) {
    const char *e = strchr(p, ',');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l >= sizeof name || *n == MAX_LAYERS) return ERR("too many or too long layer names in '%s'", spec);
    memcpy(name, p, l);
    name[l] = 0;
    int id = gc_layer_parse(model, name);
    if (id == -2) {
      if (gc_layer_parse(NULL, name) == -2)
        return ERR("unknown layer '%s' (conv1, relu, maxpool, layer1..layer4, layerN.M, input)", name);
      const gc_block *last = &model->blocks[model->n_blocks - 1];
      return ERR("%s has no layer '%s' (its blocks: layer1.0 .. %s; layer1..layer4 are each stage's last)", model->arch,
                 name, last->name);
    }
    out[(*n)++] = id;
    if (!e) return 0;
    p = e + 1;
  }
}

static void job_free(gc_job *j) {
  if (!j) return;
  gc_method_end(&j->run);
  free(j->x0); free(j->act); free(j->map); free(j->layer_cam); free(j->pass_sum); free(j->acc);
  free(j);
}

/* End the job; when it ran the network on anything else, run the image again (best effort: if that
 * fails the context forgets its forward pass, and the next explain asks for a classify). */
static void job_end(gc_ctx *g) {
  gc_job *j = g->job;
  if (!j) return;
  if (j->touched) {
    char e[256];
    memcpy(g->net.x.data, j->x0, sizeof(float) * 3 * g->net.x.h * g->net.x.w);
    if (gc_net_forward(&g->net, e, sizeof e)) g->have_forward = 0;
  }
  job_free(j);
  g->job = NULL;
}

void gc_explain_abort(gc_ctx *g) { job_end(g); }

double gc_explain_progress(const gc_ctx *g) {
  const gc_job *j = g->job;
  if (!j || !j->work_total) return 0;
  return (double)j->work_done / j->work_total;
}

/* ---- begin ---------------------------------------------------------------------------------------- */

int gc_explain_begin(gc_ctx *g, const gc_explain_desc *d, char *err, size_t errlen) {
  job_end(g);
  const gc_explain_desc none = {.class_index = -1};
  if (!d) d = &none;
  const int n = g->model.num_classes;
  if (!g->have_forward) return ERR("no image classified yet");
  const char *mname = d->method ? d->method : "gradcam";
  const gc_method *m = gc_method_find(mname);
  if (!m) return ERR("unknown method '%s' (%s)", mname, gc_method_names());
  int layers[MAX_LAYERS], nl;
  if (parse_layers(&g->model, d->layer ? d->layer : "layer4", layers, &nl, err, errlen)) return -1;
  int cls = d->class_index;
  if (cls >= n || cls < -1) return ERR("class %d out of range (the model has %d classes: 0..%d)", cls, n, n - 1);
  if (d->metrics && d->logit_weights) return ERR("metrics need a class, not logit weights");
  if (d->sign < GC_SIGN_POSITIVE || d->sign > GC_SIGN_ALL) return ERR("unknown sign %d", d->sign);
  if ((m->flags & GC_M_FULLGRAD) && d->sign != GC_SIGN_POSITIVE)
    return ERR("fullgrad's map has no sign (it sums absolute values): use sign positive");
  if (d->metrics && (d->sign != GC_SIGN_POSITIVE || d->raw))
    return ERR("metrics take the normalised positive CAM (as pytorch-grad-cam's)");

  gc_job *j = calloc(1, sizeof *j);
  if (!j) return ERR("out of memory");
  const int H = g->net.x.h, W = g->net.x.w;
  const size_t px = (size_t)H * W;
  j->m = m;
  if (m->flags & GC_M_FULLGRAD) { j->layers[0] = GC_LAYER_INPUT; j->nl = 1; }
  else { memcpy(j->layers, layers, sizeof layers); j->nl = nl; }
  j->eigen = d->eigen_smooth && (m->flags & GC_M_EIGEN);
  j->eigen_ignored = d->eigen_smooth && !(m->flags & GC_M_EIGEN);
  j->aug = d->aug_smooth;
  j->npass = j->aug ? 6 : 1;
  j->sign = d->sign; j->raw = d->raw; j->nearest = d->nearest;
  if (cls < 0 && !d->logit_weights) {
    gc_topk(g, 1, &cls);
    if (m->flags & GC_M_FINER) j->n_compared = gc_finer_rivals(g->net.logits, n, cls, j->compared);
  }
  j->cls = cls;
  j->x0 = malloc(px * 3 * sizeof *j->x0);
  j->layer_cam = malloc(px * sizeof *j->layer_cam);
  j->pass_sum = malloc(px * sizeof *j->pass_sum);
  j->acc = calloc(px, sizeof *j->acc);
  if (!j->x0 || !j->layer_cam || !j->pass_sum || !j->acc) { job_free(j); return ERR("out of memory for the explanation"); }
  memcpy(j->x0, g->net.x.data, px * 3 * sizeof *j->x0);
  /* the target, as dScore/dlogits: one-hot, the caller's weights, or FinerCAM's comparison */
  if (d->logit_weights) memcpy(g->dlogits, d->logit_weights, n * sizeof(float));
  else if (j->n_compared) gc_finer_target(g->net.logits, n, cls, j->compared, j->n_compared, g->dlogits);
  else { memset(g->dlogits, 0, n * sizeof(float)); g->dlogits[cls] = 1.0f; }

  /* How much work: per pass a forward, per layer a backward, its units and its map; the metrics; the
   * restore. (A layer after one with units re-runs the pass's forward: not counted.) */
  j->work_total = 1;
  for (int l = 0; l < j->nl; l++) {
    gc_tensor a;
    gc_layer_act(&g->net, &g->grad, j->layers[l], &a);
    gc_method_run probe = {.net = &g->net, .layer = j->layers[l], .act = a};
    j->work_total += 2 + (m->units ? m->units(&probe) : 0);
  }
  j->work_total *= j->npass;
  if (d->metrics) {
    if (gc_metrics_setup(&j->md, d, err, errlen)) { job_free(j); return -1; }
    j->metrics = 1;
    j->n_metric_units = 1 + 2 * j->md.n;
  }
  j->work_total += j->n_metric_units + 1;
  j->phase = PH_PASS;
  j->t0 = gc_now_ms();
  g->job = j;
  g->cam_w = g->cam_h = g->cam_fw = g->cam_fh = 0; /* until this job's maps are whole */
  return 0;
}

/* ---- a pass, a layer ------------------------------------------------------------------------------- */

static int pass_identity(const gc_job *j) { return !j->aug || j->pass == 5; }

/* The pass's input into the net and forward, unless the net already holds it. */
static int pass_forward(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  gc_net *net = &g->net;
  const int H = net->x.h, W = net->x.w, identity = pass_identity(j);
  const size_t n3 = (size_t)H * W * 3;
  if (identity && !j->touched) return 0;
  memcpy(net->x.data, j->x0, n3 * sizeof(float));
  if (!identity) {
    const float f = aug_passes[j->pass].factor;
    for (size_t i = 0; i < n3; i++) net->x.data[i] *= f;
    if (aug_passes[j->pass].flip) flip_lr(net->x.data, H, W, 3);
  }
  if (gc_net_forward(net, err, errlen)) return -1;
  j->touched = !identity;
  j->dirty = 0;
  return 0;
}

static int layer_begin(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  gc_net *net = &g->net;
  if (j->dirty && pass_forward(g, j, err, errlen)) return -1; /* the units of the layer before moved the net */
  const int layer = j->layers[j->li];
  const size_t n3 = (size_t)net->x.h * net->x.w * 3;
  gc_method_end(&j->run);
  gc_method_run *r = &j->run;
  *r = (gc_method_run){.net = net, .gw = &g->grad, .layer = layer, .eigen = j->eigen, .dlogits = g->dlogits,
                       .x = net->x.data};
  double s = 0;
  for (int i = 0; i < g->model.num_classes; i++) s += (double)g->dlogits[i] * net->logits[i];
  r->score = (float)s;
  if ((j->m->flags & GC_M_GRADS)) {
    double t = gc_now_ms();
    if (gc_backward_to(net, &g->grad, g->dlogits, layer, NULL, &r->act, &r->grad, err, errlen)) return -1;
    j->backward_ms += gc_now_ms() - t;
  } else {
    gc_layer_act(net, &g->grad, layer, &r->act);
  }
  if (j->m->units && j->m->units(r)) {
    /* units run the network again: they need their own copies of A and of the pass's input */
    const size_t na = (size_t)r->act.h * r->act.w * r->act.c;
    float *a = realloc(j->act, (na + n3) * sizeof *a);
    if (!a) return ERR("out of memory for the explanation");
    j->act = a;
    memcpy(a, r->act.data, na * sizeof *a);
    memcpy(a + na, net->x.data, n3 * sizeof *a);
    r->act.data = a;
    r->x = a + na;
  }
  if (gc_method_begin(j->m, r)) return ERR("out of memory for the CAM method");
  j->nunit = j->m->units ? j->m->units(r) : 0;
  j->unit = 0;
  float *mp = realloc(j->map, (size_t)r->map_w * r->map_h * sizeof *mp);
  if (!mp) return ERR("out of memory for the CAM");
  j->map = mp;
  return 0;
}

/* The layer's map → its CAM at the input size, into the pass's sum; after the last layer, the pass's
 * CAM (flipped back) into the sum over passes. */
static int layer_end(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  gc_method_run *r = &j->run;
  const int H = g->net.x.h, W = g->net.x.w;
  const size_t fpx = (size_t)r->map_w * r->map_h, px = (size_t)H * W;
  if (j->m->map(r, j->map, err, errlen)) return -1;
  float *c = j->layer_cam;
  if (j->m->flags & GC_M_FULLGRAD) {
    memcpy(c, j->map, px * sizeof *c);
  } else {
    if (j->sign == GC_SIGN_NEGATIVE) for (size_t i = 0; i < fpx; i++) j->map[i] = -j->map[i];
    relu_unless_all(j, j->map, fpx);
    scale_map(j, j->map, fpx);
    resize(j->nearest, j->map, r->map_h, r->map_w, c, H, W);
    relu_unless_all(j, c, px);
  }
  /* The sums in double, over layers and over passes; of one term each they are that term (0 + c, / 1:
   * exact), so the usual job, one layer and one pass, skips them (three serial passes over the map). */
  if (j->nl > 1) {
    if (j->li == 0) memset(j->pass_sum, 0, px * sizeof *j->pass_sum);
    for (size_t i = 0; i < px; i++) j->pass_sum[i] += c[i];
  }
  if (++j->li < j->nl) return 0;
  if (j->nl > 1) for (size_t i = 0; i < px; i++) c[i] = (float)(j->pass_sum[i] / j->nl);
  scale_map(j, c, px); /* (a ReLU first would change nothing: every layer's CAM is non-negative) */
  if (j->aug && aug_passes[j->pass].flip) flip_lr(c, H, W, 1);
  if (j->npass > 1) for (size_t i = 0; i < px; i++) j->acc[i] += c[i];
  return 0;
}

/* ---- the end: the maps the context keeps ----------------------------------------------------------- */

static int finish(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  const int H = g->net.x.h, W = g->net.x.w;
  const size_t px = (size_t)H * W;
  const gc_method_run *r = &j->run;
  /* cam_feat: the map gc_cam_at resizes for display. One pass at one layer: the layer's scaled map,
   * as the pipeline has it. Otherwise the CAM itself, at the input size. */
  const int low = !j->aug && j->nl == 1 && !(j->m->flags & GC_M_FULLGRAD);
  const int fw = low ? r->map_w : W, fh = low ? r->map_h : H;
  float *cf = realloc(g->cam_feat, (size_t)fw * fh * sizeof *cf), *c;
  if (cf) g->cam_feat = cf;
  c = cf ? realloc(g->cam, px * sizeof *c) : NULL;
  if (!c) return ERR("out of memory for the CAM");
  g->cam = c;
  if (j->npass > 1) for (size_t i = 0; i < px; i++) c[i] = (float)(j->acc[i] / j->npass); /* aug: the mean, not rescaled */
  else memcpy(c, j->layer_cam, px * sizeof *c);
  memcpy(cf, low ? j->map : c, (size_t)fw * fh * sizeof *cf);
  g->cam_w = W; g->cam_h = H; g->cam_fw = fw; g->cam_fh = fh;
  g->cam_signed = j->sign == GC_SIGN_ALL; g->cam_nearest = j->nearest; g->cam_raw = j->raw;
  return 0;
}

static void explanation(gc_ctx *g, gc_job *j, gc_explanation *out) {
  const gc_method_run *r = &j->run;
  const int grads = (j->m->flags & GC_M_GRADS) && !(j->m->flags & GC_M_FULLGRAD);
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (size_t i = 0; i < (size_t)g->cam_w * g->cam_h; i++) {
    if (g->cam[i] < lo) lo = g->cam[i];
    if (g->cam[i] > hi) hi = g->cam[i];
  }
  *out = (gc_explanation){.class_index = j->cls, .prob = j->cls >= 0 ? g->probs[j->cls] : NAN,
                          .layer = j->m->flags & GC_M_FULLGRAD ? -2 : j->layers[j->nl - 1], .n_layers = j->nl,
                          .method = j->m->name, .eigen_smooth = j->eigen, .eigen_ignored = j->eigen_ignored,
                          .aug_smooth = j->aug, .sign = j->sign, .raw = j->raw, .nearest = j->nearest,
                          .cam_min = lo, .cam_max = hi, .n_compared = j->n_compared, .w = g->cam_w, .h = g->cam_h,
                          .cam = g->cam, .fw = g->cam_fw, .fh = g->cam_fh, .cam_feat = g->cam_feat,
                          .gc = grads ? r->grad.c : 0, .grad = grads ? r->grad.data : NULL,
                          .metrics = j->metrics ? &g->metrics : NULL, .forward_ms = g->forward_ms,
                          .backward_ms = j->backward_ms, .cam_ms = gc_now_ms() - j->t0 - j->backward_ms};
  memcpy(out->layers, j->layers, sizeof out->layers < sizeof j->layers ? sizeof out->layers : sizeof j->layers);
  for (int k = 0; k < j->nl && k < 8; k++)
    snprintf(out->layer_names[k], sizeof out->layer_names[k], "%s", gc_layer_name(&g->model, j->layers[k]));
  memcpy(out->compared, j->compared, sizeof out->compared);
}

/* ---- steps ------------------------------------------------------------------------------------------ */

/* One unit of work of the job's current phase. 0 or -1 with err. */
static int step_one(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  switch (j->phase) {
  case PH_PASS:
    if (pass_forward(g, j, err, errlen)) return -1;
    j->li = 0;
    j->phase = PH_LAYER;
    return 0;
  case PH_LAYER:
    if (layer_begin(g, j, err, errlen)) return -1;
    j->phase = j->nunit ? PH_UNITS : PH_MAP;
    return 0;
  case PH_UNITS:
    j->touched = j->dirty = 1; /* units run the network on other inputs */
    if (j->m->unit(&j->run, j->unit++, err, errlen)) return -1;
    if (j->unit == j->nunit) j->phase = PH_MAP;
    return 0;
  case PH_MAP:
    if (layer_end(g, j, err, errlen)) return -1;
    if (j->li < j->nl) { j->phase = PH_LAYER; return 0; }
    if (++j->pass < j->npass) { j->phase = PH_PASS; return 0; }
    if (finish(g, j, err, errlen)) return -1;
    j->phase = j->metrics ? PH_METRICS : PH_RESTORE;
    if (j->metrics) gc_metrics_begin(&g->metrics, &j->md, g->probs[j->cls]);
    return 0;
  case PH_METRICS:
    j->touched = 1;
    if (gc_metrics_unit(g, &j->md, j->metric_unit++, j->x0, g->cam, j->cls, &g->metrics, err, errlen)) return -1;
    if (j->metric_unit == j->n_metric_units) j->phase = PH_RESTORE;
    return 0;
  case PH_RESTORE:
    if (j->touched) {
      memcpy(g->net.x.data, j->x0, sizeof(float) * 3 * g->net.x.h * g->net.x.w);
      if (gc_net_forward(&g->net, err, errlen)) return -1;
      j->touched = 0;
    }
    j->phase = PH_DONE;
    return 0;
  }
  return 0;
}

int gc_explain_step(gc_ctx *g, double budget_ms, gc_explanation *out, char *err, size_t errlen) {
  gc_job *j = g->job;
  if (!j) return ERR("no explanation running");
  const double t0 = gc_now_ms();
  do {
    if (step_one(g, j, err, errlen)) {
      g->cam_w = g->cam_h = g->cam_fw = g->cam_fh = 0; /* nothing half-made stays */
      job_end(g);
      return -1;
    }
    j->work_done++;
  } while (j->phase != PH_DONE && gc_now_ms() - t0 < budget_ms);
  if (j->phase != PH_DONE) return 0;
  explanation(g, j, out);
  g->job = NULL;
  job_free(j);
  return 1;
}

int gc_explain(gc_ctx *g, const gc_explain_desc *d, gc_explanation *out, char *err, size_t errlen) {
  if (gc_explain_begin(g, d, err, errlen)) return -1;
  const int stepwise = d && d->progress;
  for (;;) {
    int rc = gc_explain_step(g, stepwise ? 0 : INFINITY, out, err, errlen);
    if (rc) return rc < 0 ? -1 : 0;
    if (stepwise && d->progress(d->user, gc_explain_progress(g))) {
      gc_explain_abort(g);
      g->cam_w = g->cam_h = g->cam_fw = g->cam_fh = 0;
      return ERR("cancelled");
    }
  }
}

/* ---- display ---------------------------------------------------------------------------------------- */

int gc_cam_at(const gc_ctx *g, int w, int h, float *out, char *err, size_t errlen) {
  if (!g->cam_feat || !g->cam_fw) return ERR("nothing explained yet");
  const int same = w == g->cam_w && h == g->cam_h;
  if (same) memcpy(out, g->cam, sizeof(float) * w * h); /* gc_explain's own map */
  else resize(g->cam_nearest, g->cam_feat, g->cam_fh, g->cam_fw, out, h, w);
  const size_t n = (size_t)w * h;
  if (g->cam_signed) { /* [-1, 1] with 0 at the centre of the colormap */
    scale_signed(out, n);
    for (size_t i = 0; i < n; i++) out[i] = (out[i] + 1) * 0.5f;
  } else if (!same || g->cam_raw) {
    gc_cam_normalize(out, n); /* (a raw map is drawn min..max; the legend gives its units) */
  }
  return 0;
}

struct gc_saved_cam {
  gc_explanation e;
  float *cam, *cam_feat;
  int cam_signed, cam_raw, cam_nearest;
  gc_metrics metrics;
};

gc_saved_cam *gc_cam_save(const gc_ctx *g, const gc_explanation *e) {
  if (!g->cam_fw || g->job) return NULL;
  gc_saved_cam *s = calloc(1, sizeof *s);
  const size_t n = (size_t)g->cam_w * g->cam_h, nf = (size_t)g->cam_fw * g->cam_fh;
  if (!s || !(s->cam = malloc(n * sizeof(float))) || !(s->cam_feat = malloc(nf * sizeof(float)))) {
    gc_cam_saved_free(s);
    return NULL;
  }
  memcpy(s->cam, g->cam, n * sizeof(float));
  memcpy(s->cam_feat, g->cam_feat, nf * sizeof(float));
  s->e = *e;
  s->e.cam = s->e.cam_feat = s->e.grad = NULL; s->e.gc = 0;
  s->cam_signed = g->cam_signed; s->cam_raw = g->cam_raw; s->cam_nearest = g->cam_nearest;
  if (e->metrics) s->metrics = *e->metrics;
  return s;
}

int gc_cam_restore(gc_ctx *g, const gc_saved_cam *s, gc_explanation *out, char *err, size_t errlen) {
  if (!g->have_forward || g->job) return ERR("no image classified yet");
  if (s->e.w != g->net.x.w || s->e.h != g->net.x.h) return ERR("the saved explanation is for another input size");
  const size_t n = (size_t)s->e.w * s->e.h, nf = (size_t)s->e.fw * s->e.fh;
  float *c = realloc(g->cam, n * sizeof *c);
  if (c) g->cam = c;
  float *cf = c ? realloc(g->cam_feat, nf * sizeof *cf) : NULL;
  if (!cf) return ERR("out of memory for the CAM");
  g->cam_feat = cf;
  memcpy(c, s->cam, n * sizeof *c);
  memcpy(cf, s->cam_feat, nf * sizeof *cf);
  g->cam_w = s->e.w; g->cam_h = s->e.h; g->cam_fw = s->e.fw; g->cam_fh = s->e.fh;
  g->cam_signed = s->cam_signed; g->cam_raw = s->cam_raw; g->cam_nearest = s->cam_nearest;
  *out = s->e;
  out->cam = c; out->cam_feat = cf;
  if (s->e.metrics) { g->metrics = s->metrics; out->metrics = &g->metrics; }
  return 0;
}

void gc_cam_saved_free(gc_saved_cam *s) {
  if (!s) return;
  free(s->cam); free(s->cam_feat); free(s);
}

const char *gc_layers_text(const gc_explanation *e, char *buf, size_t n) {
  if (!n) return buf;
  buf[0] = 0;
  if (e->layer == -2) return snprintf(buf, n, "all"), buf;
  for (int k = 0; k < e->n_layers && k < 8; k++) {
    size_t l = strlen(buf);
    snprintf(buf + l, n - l, "%s%s", k ? "," : "", e->layer_names[k]);
  }
  return buf;
}

const char *gc_sign_name(int sign) {
  static const char *const names[] = {"positive", "negative", "all"};
  return sign >= 0 && sign <= GC_SIGN_ALL ? names[sign] : "?";
}

void gc_legend_text(const gc_explanation *e, char *buf, size_t n) {
  double lo = e->sign == GC_SIGN_ALL ? -1 : 0, hi = 1;
  if (e->raw) {
    const double m = fabs(e->cam_min) > fabs(e->cam_max) ? fabs(e->cam_min) : fabs(e->cam_max);
    lo = e->sign == GC_SIGN_ALL ? -m : e->cam_min;
    hi = e->sign == GC_SIGN_ALL ? m : e->cam_max;
  }
  snprintf(buf, n, "%s, %s: %.3g .. %.3g", e->raw ? "raw" : "normalised", gc_sign_name(e->sign), lo, hi);
}

/* ---- guided backprop --------------------------------------------------------------------------------- */

int gc_guided_backprop(gc_ctx *g, int cls, float *out, char *err, size_t errlen) {
  const int n = g->model.num_classes;
  if (!g->have_forward || g->job) return ERR("no image classified yet");
  if (cls >= n || cls < -1) return ERR("class %d out of range (the model has %d classes: 0..%d)", cls, n, n - 1);
  if (cls < 0) gc_topk(g, 1, &cls);
  memset(g->dlogits, 0, n * sizeof(float));
  g->dlogits[cls] = 1.0f;
  gc_tensor a, dx;
  if (gc_backward_to(&g->net, &g->grad, g->dlogits, GC_LAYER_INPUT, &(gc_backward_opts){.guided = 1}, &a, &dx, err,
                     errlen))
    return -1;
  memcpy(out, dx.data, sizeof(float) * 3 * dx.h * dx.w);
  return 0;
}
