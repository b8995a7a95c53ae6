/* explain.c: from a classified image to its CAM, for every method of methods.h (gradcam.h's
 * gc_explain and its stepwise form), plus the metrics and guided backprop.
 *
 * The pipeline, as pytorch-grad-cam's BaseCAM runs it for one target layer:
 *   a pass:   forward (skipped for the classified image itself), backward to the layer if the method
 *             needs G, the method's units (Score-CAM, Ablation-CAM: one network pass each), its map;
 *             cam = S(relu(R(S(relu(map)))))   S(m) = (m - min) / (1e-7 + max(m - min)),
 *                                              R = OpenCV INTER_LINEAR resize to the input size
 *             (FullGrad: cam = S(map), its map is already at the input size and non-negative)
 *   aug_smooth: six passes over the normalised input × {0.9, 1.1, 1} with and without a horizontal
 *             flip, each CAM flipped back, their mean (not rescaled). The unflipped ×1 pass runs last,
 *             so the network ends on the image itself.
 *   metrics:  network passes on perturbed copies of the input (metrics.c).
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

enum { PH_PASS, PH_UNITS, PH_MAP, PH_METRICS, PH_RESTORE, PH_DONE };

/* Passes of aug_smooth (ttach's HorizontalFlip × Multiply([0.9, 1, 1.1])), the identity last. */
static const struct { int flip; float factor; } aug_passes[6] = {{0, 0.9f}, {0, 1.1f}, {1, 0.9f}, {1, 1.0f}, {1, 1.1f}, {0, 1.0f}};

struct gc_job {
  const gc_method *m;
  int layer, cls, eigen, eigen_ignored, aug, n_compared, compared[3];
  int pass, npass, unit, nunit, phase, touched;
  int metrics, n_metric_units, metric_unit;
  gc_metrics_desc md;
  float *x0;                 /* [H][W][3] the classified input                         */
  float *act;                /* private copy of A for methods with units               */
  float *map;                /* one pass's map [map_h][map_w]                          */
  double *acc;               /* [H][W] sum of the passes' CAMs                         */
  float *last;               /* [H][W] the last pass's CAM                             */
  gc_method_run run;
  int work_done, work_total; /* for progress                                           */
  double backward_ms, t0;
};

/* ---- helpers --------------------------------------------------------------------------------------- */

static void relu(float *m, size_t n) { for (size_t i = 0; i < n; i++) if (!(m[i] > 0)) m[i] = 0; }

/* The context's target for a pass, as dScore/dlogits: one-hot, the caller's logit weights, or the
 * gradient of FinerCAM's target (pytorch-grad-cam's FinerWeightedTarget, alpha 1):
 *   T = N / D,  N = sum_k p_k (z_m - z_k),  D = sum_k p_k + 1e-9,  p = softmax(z)
 * over the three rivals k, main m. p is not detached there, so dT/dz has the softmax's terms too:
 *   dp_k/dz_j = p_k (δ_kj - p_j),  dT/dz_j = (dN/dz_j - T dD/dz_j) / D. */
static void target(gc_ctx *g, gc_job *j, const gc_explain_desc *d) {
  const int n = g->model.num_classes, m = j->cls;
  const float *z = g->net.logits;
  if (d && d->logit_weights) { memcpy(g->dlogits, d->logit_weights, n * sizeof(float)); return; }
  memset(g->dlogits, 0, n * sizeof(float));
  if (!(j->m->flags & GC_M_FINER) || j->n_compared == 0) { g->dlogits[m] = 1.0f; return; }
  double mx = z[0], s = 0, p[3], D = 1e-9, N = 0, sum_pd = 0;
  for (int i = 1; i < n; i++) if (z[i] > mx) mx = z[i];
  for (int i = 0; i < n; i++) s += exp((double)z[i] - mx);
  for (int k = 0; k < j->n_compared; k++) {
    const int c = j->compared[k];
    p[k] = exp((double)z[c] - mx) / s;
    D += p[k];
    N += p[k] * ((double)z[m] - z[c]);
  }
  const double T = N / D, P = D - 1e-9;
  for (int k = 0; k < j->n_compared; k++) sum_pd += p[k] * ((double)z[m] - z[j->compared[k]]);
  /* every class j: dN/dz_j = sum_k p_k(δ_kj - p_j) d_k + sum_k p_k (δ_jm - δ_jk); dD/dz_j = sum_k p_k(δ_kj - p_j) */
  for (int i = 0; i < n; i++) {
    const double pi = exp((double)z[i] - mx) / s;
    double dN = -pi * sum_pd + (i == m ? P : 0), dD = -pi * P;
    for (int k = 0; k < j->n_compared; k++)
      if (j->compared[k] == i) { dN += p[k] * ((double)z[m] - z[i]) - p[k]; dD += p[k]; }
    g->dlogits[i] = (float)((dN - T * dD) / D);
  }
}

/* FinerCAM's rivals: classes sorted by |z - z_max| (stable, as numpy's argsort on ties is not, but
 * ties of float logits do not happen in practice); index 0 is the top-1 itself, 1..3 are compared. */
static int finer_rivals(const float *z, int n, int top, int *out) {
  int m = 0;
  for (int r = 0; r < 3 && r < n - 1; r++) {
    int best = -1;
    for (int i = 0; i < n; i++) {
      int taken = i == top;
      for (int t = 0; t < m; t++) taken |= out[t] == i;
      if (!taken && (best < 0 || fabsf(z[i] - z[top]) < fabsf(z[best] - z[top]))) best = i;
    }
    out[m++] = best;
  }
  return m;
}

static void job_free(gc_job *j) {
  if (!j) return;
  gc_method_end(&j->run);
  free(j->x0); free(j->act); free(j->map); free(j->acc); free(j->last);
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
  const int n = g->model.num_classes;
  if (!g->have_forward) return ERR("no image classified yet");
  const char *mname = d && d->method ? d->method : "gradcam";
  const gc_method *m = gc_method_find(mname);
  if (!m) return ERR("unknown method '%s' (%s)", mname, gc_method_names());
  int layer = gc_layer_parse(d && d->layer ? d->layer : "layer4");
  if (layer == -2) return ERR("unknown layer '%s' (conv1, relu, maxpool, layer1..layer4, layerN.M, input)", d->layer);
  int cls = d ? d->class_index : -1;
  if (cls >= n || cls < -1) return ERR("class %d out of range (the model has %d classes: 0..%d)", cls, n, n - 1);
  if (d && d->metrics && d->logit_weights) return ERR("metrics need a class, not logit weights");

  gc_job *j = calloc(1, sizeof *j);
  if (!j) return ERR("out of memory");
  const int H = g->net.x.h, W = g->net.x.w;
  const size_t px = (size_t)H * W;
  j->m = m;
  j->layer = m->flags & GC_M_FULLGRAD ? GC_LAYER_INPUT : layer;
  j->eigen = d && d->eigen_smooth && (m->flags & GC_M_EIGEN);
  j->eigen_ignored = d && d->eigen_smooth && !(m->flags & GC_M_EIGEN);
  j->aug = d && d->aug_smooth;
  j->npass = j->aug ? 6 : 1;
  if (cls < 0 && !(d && d->logit_weights)) {
    gc_topk(g, 1, &cls);
    if (m->flags & GC_M_FINER) j->n_compared = finer_rivals(g->net.logits, n, cls, j->compared);
  }
  j->cls = cls;
  j->x0 = malloc(px * 3 * sizeof *j->x0);
  j->acc = calloc(px, sizeof *j->acc);
  j->last = malloc(px * sizeof *j->last);
  if (!j->x0 || !j->acc || !j->last) { job_free(j); return ERR("out of memory for the explanation"); }
  memcpy(j->x0, g->net.x.data, px * 3 * sizeof *j->x0);
  target(g, j, d);

  /* How much work: per pass a forward/backward, its units, the map; the metrics; the restore. */
  gc_tensor a;
  gc_layer_act(&g->net, &g->grad, j->layer, &a);
  gc_method_run probe = {.net = &g->net, .layer = j->layer, .act = a};
  const int units = m->units ? m->units(&probe) : 0;
  if (d && d->metrics) {
    if (gc_metrics_setup(&j->md, d, err, errlen)) { job_free(j); return -1; }
    j->metrics = 1;
    j->n_metric_units = 1 + 2 * j->md.n;
  }
  j->work_total = j->npass * (2 + units) + j->n_metric_units + 1;
  j->phase = PH_PASS;
  j->t0 = gc_now_ms();
  g->job = j;
  g->cam_w = g->cam_h = g->cam_fw = g->cam_fh = 0; /* until this job's maps are whole */
  return 0;
}

/* ---- one pass ---------------------------------------------------------------------------------------- */

/* x [H][W][C] flipped left-right in place (ttach's HorizontalFlip, and its de-augmentation). */
static void flip_lr(float *x, int H, int W, int C) {
  for (int y = 0; y < H; y++)
    for (int a = 0, b = W - 1; a < b; a++, b--)
      for (int c = 0; c < C; c++) {
        float *p = x + ((size_t)y * W + a) * C + c, *q = x + ((size_t)y * W + b) * C + c, t = *p;
        *p = *q; *q = t;
      }
}

static int pass_begin(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  gc_net *net = &g->net;
  const int H = net->x.h, W = net->x.w, identity = !aug_passes[j->aug ? j->pass : 5].flip &&
                                                   aug_passes[j->aug ? j->pass : 5].factor == 1.0f;
  const size_t n3 = (size_t)H * W * 3;
  if (!identity || j->touched) {
    memcpy(net->x.data, j->x0, n3 * sizeof(float));
    if (!identity) {
      const float f = aug_passes[j->pass].factor;
      for (size_t i = 0; i < n3; i++) net->x.data[i] *= f;
      if (aug_passes[j->pass].flip) flip_lr(net->x.data, H, W, 3);
    }
    if (gc_net_forward(net, err, errlen)) return -1;
    j->touched = !identity;
  }
  gc_method_end(&j->run);
  gc_method_run *r = &j->run;
  *r = (gc_method_run){.net = net, .gw = &g->grad, .layer = j->layer, .eigen = j->eigen, .dlogits = g->dlogits,
                       .x = net->x.data};
  r->score = 0;
  for (int i = 0; i < g->model.num_classes; i++) r->score += g->dlogits[i] * net->logits[i];
  if ((j->m->flags & GC_M_GRADS)) {
    double t = gc_now_ms();
    if (gc_backward_to(net, &g->grad, g->dlogits, j->layer, NULL, &r->act, &r->grad, err, errlen)) return -1;
    j->backward_ms += gc_now_ms() - t;
  } else {
    gc_layer_act(net, &g->grad, j->layer, &r->act);
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
  j->map = realloc(j->map, (size_t)r->map_w * r->map_h * sizeof *j->map);
  if (!j->map) return ERR("out of memory for the CAM");
  return 0;
}

/* The pass's map → its CAM at the input size (flipped back), added to the sum. */
static int pass_end(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  gc_method_run *r = &j->run;
  const int H = g->net.x.h, W = g->net.x.w;
  const size_t fpx = (size_t)r->map_w * r->map_h, px = (size_t)H * W;
  if (j->m->map(r, j->map, err, errlen)) return -1;
  if (j->m->flags & GC_M_FULLGRAD) {
    memcpy(j->last, j->map, px * sizeof *j->last);
  } else {
    relu(j->map, fpx);
    gc_cam_normalize(j->map, fpx);
    gc_cam_resize(j->map, r->map_h, r->map_w, j->last, H, W);
    relu(j->last, px);
  }
  gc_cam_normalize(j->last, px);
  if (j->aug && aug_passes[j->pass].flip) flip_lr(j->last, H, W, 1);
  for (size_t i = 0; i < px; i++) j->acc[i] += j->last[i];
  return 0;
}

/* ---- the end: the maps the context keeps ----------------------------------------------------------- */

static int finish(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  const int H = g->net.x.h, W = g->net.x.w;
  const size_t px = (size_t)H * W;
  const gc_method_run *r = &j->run;
  /* cam_feat: the map gc_cam_at resizes for display. One pass of a layer method: S(relu(map)) at the
   * layer's size, as the pipeline has it. Otherwise the CAM itself, at the input size. */
  const int low = !j->aug && !(j->m->flags & GC_M_FULLGRAD);
  const int fw = low ? r->map_w : W, fh = low ? r->map_h : H;
  float *cf = realloc(g->cam_feat, (size_t)fw * fh * sizeof *cf), *c;
  if (cf) g->cam_feat = cf;
  c = cf ? realloc(g->cam, px * sizeof *c) : NULL;
  if (!c) return ERR("out of memory for the CAM");
  g->cam = c;
  for (size_t i = 0; i < px; i++) c[i] = (float)(j->acc[i] / j->npass); /* aug: the mean, not rescaled */
  memcpy(cf, low ? j->map : c, (size_t)fw * fh * sizeof *cf);
  g->cam_w = W; g->cam_h = H; g->cam_fw = fw; g->cam_fh = fh;
  return 0;
}

static void explanation(gc_ctx *g, gc_job *j, gc_explanation *out) {
  const gc_method_run *r = &j->run;
  const int grads = (j->m->flags & GC_M_GRADS) && !(j->m->flags & GC_M_FULLGRAD);
  *out = (gc_explanation){.class_index = j->cls, .prob = j->cls >= 0 ? g->probs[j->cls] : NAN,
                          .layer = j->m->flags & GC_M_FULLGRAD ? -2 : j->layer, .method = j->m->name,
                          .eigen_smooth = j->eigen, .eigen_ignored = j->eigen_ignored, .aug_smooth = j->aug,
                          .n_compared = j->n_compared, .w = g->cam_w, .h = g->cam_h, .cam = g->cam,
                          .fw = g->cam_fw, .fh = g->cam_fh, .cam_feat = g->cam_feat,
                          .gc = grads ? r->grad.c : 0, .grad = grads ? r->grad.data : NULL,
                          .metrics = j->metrics ? &g->metrics : NULL, .forward_ms = g->forward_ms,
                          .backward_ms = j->backward_ms, .cam_ms = gc_now_ms() - j->t0 - j->backward_ms};
  memcpy(out->compared, j->compared, sizeof out->compared);
}

/* ---- steps ------------------------------------------------------------------------------------------ */

/* One unit of work of the job's current phase. 0 or -1 with err. */
static int step_one(gc_ctx *g, gc_job *j, char *err, size_t errlen) {
  switch (j->phase) {
  case PH_PASS:
    if (pass_begin(g, j, err, errlen)) return -1;
    j->phase = j->nunit ? PH_UNITS : PH_MAP;
    return 0;
  case PH_UNITS:
    j->touched = 1; /* units run the network on other inputs */
    if (j->m->unit(&j->run, j->unit++, err, errlen)) return -1;
    if (j->unit == j->nunit) j->phase = PH_MAP;
    return 0;
  case PH_MAP:
    if (pass_end(g, j, err, errlen)) return -1;
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
  for (;;) {
    const int stepwise = d && d->progress;
    int rc = gc_explain_step(g, stepwise ? 0 : INFINITY, out, err, errlen);
    if (rc) return rc < 0 ? -1 : 0;
    if (stepwise && d->progress(d->user, gc_explain_progress(g))) {
      gc_explain_abort(g);
      g->cam_w = g->cam_h = g->cam_fw = g->cam_fh = 0;
      return ERR("cancelled");
    }
  }
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
