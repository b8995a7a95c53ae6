/* methods.c: the CAM method family (see methods.h). Each method is a few lines over four shared
 * pieces: channel weights → a weighted sum (or its principal component), an element-wise map → its
 * channel sum (or its principal component), the network re-run per channel (Score-CAM, Ablation-CAM),
 * and the gradient at every BatchNorm (FullGrad).
 *
 * Shapes: A, G [hw][c] (NHWC, hw = h*w positions), maps [hw]. Sums run in double so that the order of
 * summation (ours vs numpy's pairwise) does not show.
 */
#include "methods.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "render.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)
#define OOM() ERR("out of memory for the CAM method")

static size_t npos(const gc_tensor *t) { return (size_t)t->h * t->w; }

/* Score = sum_n dlogits[n] * logits[n] of the net's last forward pass. */
static float net_score(const gc_net *net, const float *dlogits) {
  double s = 0;
  for (int n = 0; n < net->model->num_classes; n++) s += (double)dlogits[n] * net->logits[n];
  return (float)s;
}

/* ---- projections: the first principal component, with our sign rule ------------------------------ */

/* Our sign rule (methods.h): the projection agrees with the plain map of the same tensor, its channel
 * sum e·1 (what the method draws without eigen smoothing): negated if their dot product is negative;
 * where it is 0, the largest-magnitude entry is made positive (gc_project_2d's own rule). */
static int project(const float *e, size_t hw, int c, float *out, char *err, size_t errlen) {
  if (gc_project_2d(e, (int)hw, c, out)) return OOM();
  double dot = 0;
  for (size_t i = 0; i < hw; i++) {
    double s = 0;
    for (int k = 0; k < c; k++) s += isnan(e[i * c + k]) ? 0 : e[i * c + k];
    dot += s * out[i];
  }
  if (dot < 0)
    for (size_t i = 0; i < hw; i++) out[i] = -out[i];
  return 0;
}

/* map = sum_k w_k A_k, or proj(w ⊙ A) with eigen_smooth (the library's get_cam_image). */
static int weighted_map(const gc_method_run *r, const float *w, float *out, char *err, size_t errlen) {
  const gc_tensor *a = &r->act;
  const size_t hw = npos(a);
  const int c = a->c;
  if (r->eigen) {
    float *e = malloc(hw * c * sizeof *e);
    if (!e) return OOM();
    for (size_t i = 0; i < hw; i++)
      for (int k = 0; k < c; k++) e[i * c + k] = w[k] * a->data[i * c + k];
    int rc = project(e, hw, c, out, err, errlen);
    free(e);
    return rc;
  }
  for (size_t i = 0; i < hw; i++) {
    double s = 0;
    for (int k = 0; k < c; k++) s += (double)w[k] * a->data[i * c + k];
    out[i] = (float)s;
  }
  return 0;
}

/* map = sum_k E_k with E = f(A, G) element-wise, or proj(E) with eigen_smooth. */
typedef float (*elem_fn)(float a, float g);
static int elementwise_map(const gc_method_run *r, elem_fn f, int eigen, float *out, char *err, size_t errlen) {
  const size_t hw = npos(&r->act);
  const int c = r->act.c;
  const float *A = r->act.data, *G = r->grad.data;
  if (eigen) {
    float *e = malloc(hw * c * sizeof *e);
    if (!e) return OOM();
    for (size_t i = 0; i < hw * c; i++) e[i] = f(A[i], G[i]);
    int rc = project(e, hw, c, out, err, errlen);
    free(e);
    return rc;
  }
  for (size_t i = 0; i < hw; i++) {
    double s = 0;
    for (int k = 0; k < c; k++) s += f(A[i * c + k], G[i * c + k]);
    out[i] = (float)s;
  }
  return 0;
}

static float e_grad_x_act(float a, float g) { return g * a; }                       /* HiResCAM        */
static float e_relu_grad_x_act(float a, float g) { return (g > 0 ? g : 0) * a; }    /* LayerCAM        */
static float e_relu_of_product(float a, float g) { float p = g * a; return p > 0 ? p : 0; } /* ElementWise */
static float e_absgrad_x_act(float a, float g) { return fabsf(g) * a; }             /* SegEigenCAM     */
static float e_act(float a, float g) { (void)g; return a; }                         /* EigenCAM        */

/* ---- gradient-weighted methods ------------------------------------------------------------------- */

/* Grad-CAM (and Shapley-CAM, FinerCAM): w_k = mean_ij G. */
static int m_gradcam(gc_method_run *r, float *out, char *err, size_t errlen) {
  const size_t hw = npos(&r->grad);
  const int c = r->grad.c;
  for (int k = 0; k < c; k++) {
    double s = 0;
    for (size_t i = 0; i < hw; i++) s += r->grad.data[i * c + k];
    r->w[k] = (float)(s / (double)hw);
  }
  return weighted_map(r, r->w, out, err, errlen);
}

/* Grad-CAM++: alpha = G² / (2G² + sum_ij(A_k)·G³ + 1e-6) (0 where G == 0); w_k = sum_ij relu(G)·alpha. */
static int m_gradcampp(gc_method_run *r, float *out, char *err, size_t errlen) {
  const size_t hw = npos(&r->grad);
  const int c = r->grad.c;
  const float *A = r->act.data, *G = r->grad.data;
  for (int k = 0; k < c; k++) {
    double sa = 0, w = 0;
    for (size_t i = 0; i < hw; i++) sa += A[i * c + k];
    for (size_t i = 0; i < hw; i++) {
      const float g = G[i * c + k], g2 = g * g, g3 = g2 * g;
      if (g == 0) continue;
      const float alpha = g2 / (2 * g2 + (float)sa * g3 + 1e-6f);
      if (g > 0) w += (double)g * alpha;
    }
    r->w[k] = (float)w;
  }
  return weighted_map(r, r->w, out, err, errlen);
}

/* XGrad-CAM: w_k = sum_ij G·A / (sum_ij A + 1e-7). */
static int m_xgradcam(gc_method_run *r, float *out, char *err, size_t errlen) {
  const size_t hw = npos(&r->grad);
  const int c = r->grad.c;
  const float *A = r->act.data, *G = r->grad.data;
  for (int k = 0; k < c; k++) {
    double sa = 0, sga = 0;
    for (size_t i = 0; i < hw; i++) { sa += A[i * c + k]; sga += (double)G[i * c + k] * A[i * c + k]; }
    r->w[k] = (float)(sga / (sa + 1e-7));
  }
  return weighted_map(r, r->w, out, err, errlen);
}

static int m_hirescam(gc_method_run *r, float *out, char *err, size_t errlen) {
  return elementwise_map(r, e_grad_x_act, r->eigen, out, err, errlen);
}
static int m_layercam(gc_method_run *r, float *out, char *err, size_t errlen) {
  return elementwise_map(r, e_relu_grad_x_act, r->eigen, out, err, errlen);
}
static int m_elementwise(gc_method_run *r, float *out, char *err, size_t errlen) {
  return elementwise_map(r, e_relu_of_product, r->eigen, out, err, errlen);
}

/* ---- principal components ------------------------------------------------------------------------- */

static int m_eigencam(gc_method_run *r, float *out, char *err, size_t errlen) {
  return elementwise_map(r, e_act, 1, out, err, errlen);
}
static int m_eigengradcam(gc_method_run *r, float *out, char *err, size_t errlen) {
  return elementwise_map(r, e_grad_x_act, 1, out, err, errlen);
}
/* Seg-Eigen-CAM: proj(|G| ⊙ A), negated if |min| > |max| (its own rule, which decides the sign whatever
 * the projection's: the library's result exactly). */
static int m_segeigencam(gc_method_run *r, float *out, char *err, size_t errlen) {
  if (elementwise_map(r, e_absgrad_x_act, 1, out, err, errlen)) return -1;
  const size_t hw = npos(&r->act);
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (size_t i = 0; i < hw; i++) { if (out[i] < lo) lo = out[i]; if (out[i] > hi) hi = out[i]; }
  if (fabsf(lo) > fabsf(hi))
    for (size_t i = 0; i < hw; i++) out[i] = -out[i];
  return 0;
}

/* KPCA-CAM: scikit-learn's KernelPCA(n_components=1, kernel='sigmoid') on the centred activations. */
static int m_kpcacam(gc_method_run *r, float *out, char *err, size_t errlen) {
  const size_t hw = npos(&r->act);
  if (hw > GC_KPCA_MAX)
    return ERR("kpcacam at %s needs a %zux%zu kernel matrix (at most %d positions): pick a deeper layer",
               gc_layer_name(r->net->model, r->layer), hw, hw, GC_KPCA_MAX);
  return gc_kpca_project(r->act.data, (int)hw, r->act.c, 1, out) ? OOM() : 0;
}

/* FEM (k = 2): w_k = the fraction of positions where A_k > mean_k + 2·std_k (population std). */
static int m_fem(gc_method_run *r, float *out, char *err, size_t errlen) {
  const size_t hw = npos(&r->act);
  const int c = r->act.c;
  const float *A = r->act.data;
  for (int k = 0; k < c; k++) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < hw; i++) s += A[i * c + k];
    const double mean = s / hw;
    for (size_t i = 0; i < hw; i++) { double d = A[i * c + k] - mean; s2 += d * d; }
    const float th = (float)(mean + 2 * sqrt(s2 / hw));
    size_t above = 0;
    for (size_t i = 0; i < hw; i++) above += A[i * c + k] > th;
    r->w[k] = (float)((double)above / hw);
  }
  return weighted_map(r, r->w, out, err, errlen);
}

/* ---- Score-CAM: one forward pass per channel --------------------------------------------------------- *
 * Channel k's map, upsampled to the input with bilinear align_corners=True (torch's
 * UpsamplingBilinear2d) and min-max scaled (eps 1e-8), masks the normalised input; its score is the
 * target's. w = softmax over channels. A channel whose upsampled map is constant (a dead channel:
 * common after a ReLU) masks everything to 0: that one score is computed once for all of them. */

static int units_per_channel(const gc_method_run *r) { return r->act.c; }

static void upsample_align_corners(const float *a, int h, int w, int stride, float *out, int H, int W) {
  const float sy = H > 1 ? (float)(h - 1) / (H - 1) : 0, sx = W > 1 ? (float)(w - 1) / (W - 1) : 0;
  for (int y = 0; y < H; y++) {
    const float fy = y * sy;
    const int y0 = (int)fy, y1 = y0 + (y0 < h - 1);
    const float ly = fy - y0;
    for (int x = 0; x < W; x++) {
      const float fx = x * sx;
      const int x0 = (int)fx, x1 = x0 + (x0 < w - 1);
      const float lx = fx - x0;
      const float *r0 = a + (size_t)y0 * w * stride, *r1 = a + (size_t)y1 * w * stride;
      out[(size_t)y * W + x] = (1 - ly) * ((1 - lx) * r0[x0 * stride] + lx * r0[x1 * stride]) +
                               ly * ((1 - lx) * r1[x0 * stride] + lx * r1[x1 * stride]);
    }
  }
}

static int scorecam_unit(gc_method_run *r, int k, char *err, size_t errlen) {
  gc_net *net = r->net;
  const int H = net->x.h, W = net->x.w;
  const size_t n = (size_t)H * W;
  float *m = r->buf; /* [H][W] */
  upsample_align_corners(r->act.data + k, r->act.h, r->act.w, r->act.c, m, H, W);
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (size_t i = 0; i < n; i++) { if (m[i] < lo) lo = m[i]; if (m[i] > hi) hi = m[i]; }
  if (hi == lo && r->have_zero) { r->w[k] = r->zero_score; return 0; }
  const float d = hi - lo + 1e-8f;
  for (size_t i = 0; i < n; i++) {
    const float s = (m[i] - lo) / d;
    for (int ch = 0; ch < 3; ch++) net->x.data[i * 3 + ch] = r->x[i * 3 + ch] * s;
  }
  if (gc_net_forward(net, err, errlen)) return -1;
  r->w[k] = net_score(net, r->dlogits);
  if (hi == lo) { r->zero_score = r->w[k]; r->have_zero = 1; }
  return 0;
}

static int m_scorecam(gc_method_run *r, float *out, char *err, size_t errlen) {
  const int c = r->act.c;
  float mx = -FLT_MAX;
  for (int k = 0; k < c; k++) if (r->w[k] > mx) mx = r->w[k];
  double s = 0;
  for (int k = 0; k < c; k++) s += exp((double)r->w[k] - mx);
  for (int k = 0; k < c; k++) r->w[k] = (float)(exp((double)r->w[k] - mx) / s);
  return weighted_map(r, r->w, out, err, errlen);
}

/* ---- Ablation-CAM: w_k = (y - y_k) / y, y_k = the score with channel k of A ablated --------------- *
 * Ablated as the library's AblationLayer does: set to 0 where min(A) == 0 (after a ReLU), else to
 * min(A) - 1e7 (the value of the first image of its batch). Only the network above the layer runs
 * again; at the last block (layer4) not even that: the head is global average pool + fc, so
 * y_k = y + sum_n dlogits[n]·W_fc[n][k]·(v - mean(A_k)) exactly. */

typedef struct live { float *data; int stage; const float *scale, *shift; } live;

/* Where the layer's activation lives in the net, and the forward stage that reads it. */
static live live_of(gc_net *net, int layer) {
  if (layer >= GC_LAYER_BLOCK0) return (live){net->blk[layer - GC_LAYER_BLOCK0].out.data, layer - GC_LAYER_BLOCK0 + 1, 0, 0};
  if (layer == GC_LAYER_MAXPOOL) return (live){net->maxpool.data, 0, 0, 0};
  if (layer == GC_LAYER_RELU) return (live){net->stem_relu.data, GC_FROM_RELU, 0, 0};
  if (layer == GC_LAYER_CONV1) /* the hook sees the conv before bn1; the net holds bn1's output */
    return (live){net->stem.data, GC_FROM_STEM, net->model->conv1.bn_scale, net->model->conv1.bn_shift};
  return (live){net->x.data, GC_FROM_INPUT, 0, 0};
}

static float ablation_value(const gc_tensor *a) {
  float lo = FLT_MAX;
  for (size_t i = 0; i < npos(a) * a->c; i++) if (a->data[i] < lo) lo = a->data[i];
  return lo == 0 ? 0 : lo - 1e7f;
}

static int ablation_units(const gc_method_run *r) {
  return r->layer == gc_layer_count(r->net->model) - 1 ? 0 : r->act.c; /* layer4: closed form, no units */
}

static int ablation_unit(gc_method_run *r, int k, char *err, size_t errlen) {
  const size_t hw = npos(&r->act);
  const int c = r->act.c;
  live L = live_of(r->net, r->layer);
  const float v = ablation_value(&r->act), lv = L.scale ? v * L.scale[k] + L.shift[k] : v;
  for (size_t i = 0; i < hw; i++) { r->buf[i] = L.data[i * c + k]; L.data[i * c + k] = lv; }
  int rc = gc_net_forward_from(r->net, L.stage, err, errlen);
  for (size_t i = 0; i < hw; i++) L.data[i * c + k] = r->buf[i];
  if (rc) return -1;
  r->w[k] = net_score(r->net, r->dlogits);
  return 0;
}

static int m_ablationcam(gc_method_run *r, float *out, char *err, size_t errlen) {
  const int c = r->act.c;
  if (r->layer == gc_layer_count(r->net->model) - 1) {
    const gc_model *m = r->net->model;
    const size_t hw = npos(&r->act);
    const float v = ablation_value(&r->act);
    for (int k = 0; k < c; k++) {
      double mean = 0, dw = 0;
      for (size_t i = 0; i < hw; i++) mean += r->act.data[i * c + k];
      mean /= (double)hw;
      for (int n = 0; n < m->num_classes; n++) dw += (double)r->dlogits[n] * m->fc_w[(size_t)n * m->feat + k];
      r->w[k] = (float)(r->score + dw * (v - mean));
    }
  }
  for (int k = 0; k < c; k++) r->w[k] = (r->score - r->w[k]) / r->score;
  return weighted_map(r, r->w, out, err, errlen);
}

/* ---- FullGrad ------------------------------------------------------------------------------------------ *
 * |x ⊙ dx| per input channel and |b_k · dZ_k| per channel of every BatchNorm output Z (b: its bias as
 * folded, dZ before the ReLU), each channel min-max scaled and resized to the input, all summed. The
 * resize is linear, so a layer's channels are summed at its own resolution and resized once. With
 * eigen_smooth the library keeps every map (3 input channels + one per BatchNorm: 20 in resnet18, 53 in
 * resnet50), shrinks each to 1/8 of the input and takes their principal component; so do we. */

typedef struct fullgrad { float *sum, *low, *maps; int n, max, H, W, fail; } fullgrad;

/* 3 input-gradient maps + one per BatchNorm of m. */
static int fullgrad_maps(const gc_model *m) {
  int n = 3 + 1;
  for (int b = 0; b < m->n_blocks; b++) n += 2 + m->bottleneck + (m->blocks[b].down.oc > 0);
  return n;
}

static void scale_channel(const float *v, size_t n, int stride, double *acc) {
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (size_t i = 0; i < n; i++) { float x = v[i * stride]; if (x < lo) lo = x; if (x > hi) hi = x; }
  const float d = 1e-7f + (hi - lo);
  for (size_t i = 0; i < n; i++) acc[i] += (v[i * stride] - lo) / d;
}

/* One layer's [h][w] sum of scaled channels, brought to the input size: into the total, or kept. */
static void fullgrad_add(fullgrad *f, const double *acc, int h, int w) {
  for (size_t i = 0; i < (size_t)h * w; i++) f->low[i] = (float)acc[i];
  float *dst = f->maps ? f->maps + (size_t)f->n * f->H * f->W : f->low + (size_t)h * w;
  gc_cam_resize(f->low, h, w, dst, f->H, f->W);
  if (!f->maps)
    for (size_t i = 0; i < (size_t)f->H * f->W; i++) f->sum[i] += dst[i];
  f->n++;
}

static void fullgrad_bn(void *user, const gc_conv *conv, const gc_tensor *g) {
  fullgrad *f = user;
  const size_t hw = npos(g);
  const int c = g->c;
  double *acc = calloc(hw, sizeof *acc);
  float *v = malloc(hw * sizeof *v);
  if (!acc || !v || f->n >= f->max) { f->fail = 1; free(acc); free(v); return; }
  for (int k = 0; k < c; k++) {
    for (size_t i = 0; i < hw; i++) v[i] = fabsf(conv->b[k] * g->data[i * c + k]);
    scale_channel(v, hw, 1, acc);
  }
  fullgrad_add(f, acc, g->h, g->w);
  free(acc); free(v);
}

static int m_fullgrad(gc_method_run *r, float *out, char *err, size_t errlen) {
  gc_net *net = r->net;
  const int H = net->x.h, W = net->x.w;
  const size_t n = (size_t)H * W, low_n = 2 * n; /* a layer's map (at most the input's size) + its resize */
  fullgrad f = {.sum = out, .H = H, .W = W, .max = fullgrad_maps(net->model)};
  f.low = malloc(low_n * sizeof *f.low);
  f.maps = r->eigen ? malloc((size_t)f.max * n * sizeof *f.maps) : NULL;
  double *acc = calloc(n, sizeof *acc);
  float *v = malloc(n * sizeof *v);
  int rc = 0;
  if (!f.low || (r->eigen && !f.maps) || !acc || !v) { rc = OOM(); goto done; }
  memset(out, 0, n * sizeof *out);
  gc_tensor act, dx;
  if (gc_backward_to(net, r->gw, r->dlogits, GC_LAYER_INPUT, &(gc_backward_opts){.bn_grad = fullgrad_bn, .user = &f},
                     &act, &dx, err, errlen)) { rc = -1; goto done; }
  if (f.fail) { rc = OOM(); goto done; }
  for (int ch = 0; ch < 3; ch++) { /* the input-gradient term: three maps, one per colour channel */
    for (size_t i = 0; i < n; i++) v[i] = fabsf(r->x[i * 3 + ch] * dx.data[i * 3 + ch]);
    memset(acc, 0, n * sizeof *acc);
    scale_channel(v, n, 1, acc);
    fullgrad_add(&f, acc, H, W);
  }
  if (r->eigen) { /* each map scaled, shrunk to 1/8, projected; the result scaled and resized back */
    const int h8 = H / 8 > 0 ? H / 8 : 1, w8 = W / 8 > 0 ? W / 8 : 1;
    const size_t n8 = (size_t)h8 * w8;
    float *small = malloc(n8 * f.n * sizeof *small), *one = malloc(n8 * sizeof *one), *p = malloc(n8 * sizeof *p);
    if (!small || !one || !p) rc = OOM();
    for (int k = 0; k < f.n && !rc; k++) {
      memset(acc, 0, n * sizeof *acc);
      scale_channel(f.maps + (size_t)k * n, n, 1, acc);
      for (size_t i = 0; i < n; i++) v[i] = (float)acc[i];
      gc_cam_resize(v, H, W, one, h8, w8);
      for (size_t i = 0; i < n8; i++) small[i * f.n + k] = one[i];
    }
    if (!rc) rc = project(small, n8, f.n, p, err, errlen);
    if (!rc) {
      gc_cam_normalize(p, n8);
      gc_cam_resize(p, h8, w8, out, H, W);
    }
    free(small); free(one); free(p);
  }
done:
  free(f.low); free(f.maps); free(acc); free(v);
  return rc;
}

/* ---- FinerCAM's target --------------------------------------------------------------------------------- *
 * Without an explicit class: main m = top-1, rivals = the three classes whose logits are closest to it;
 * target T = N / D, N = sum_k p_k (z_m - z_k), D = sum_k p_k + 1e-9, p = softmax(z) (FinerWeightedTarget,
 * alpha 1). p is not detached there, so dT/dz has the softmax's terms too:
 *   dp_k/dz_j = p_k (δ_kj - p_j),  dT/dz_j = (dN/dz_j - T dD/dz_j) / D. */

int gc_finer_rivals(const float *z, int n, int top, int *out) {
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

void gc_finer_target(const float *z, int n, int m, const int *rivals, int nr, float *dlogits) {
  double mx = z[0], s = 0, p[3], D = 1e-9, N = 0;
  for (int i = 1; i < n; i++) if (z[i] > mx) mx = z[i];
  for (int i = 0; i < n; i++) s += exp((double)z[i] - mx);
  for (int k = 0; k < nr; k++) {
    p[k] = exp((double)z[rivals[k]] - mx) / s;
    D += p[k];
    N += p[k] * ((double)z[m] - z[rivals[k]]);
  }
  const double T = N / D, P = D - 1e-9;
  /* class i: dN/dz_i = sum_k p_k(δ_ki - p_i) d_k + sum_k p_k (δ_im - δ_ik); dD/dz_i = sum_k p_k(δ_ki - p_i) */
  for (int i = 0; i < n; i++) {
    const double pi = exp((double)z[i] - mx) / s;
    double dN = -pi * N + (i == m ? P : 0), dD = -pi * P;
    for (int k = 0; k < nr; k++)
      if (rivals[k] == i) { dN += p[k] * ((double)z[m] - z[i]) - p[k]; dD += p[k]; }
    dlogits[i] = (float)((dN - T * dD) / D);
  }
}

/* ---- the table --------------------------------------------------------------------------------------- */

const gc_method gc_methods[] = {
    {"gradcam", GC_M_GRADS | GC_M_EIGEN, NULL, NULL, m_gradcam},
    {"hirescam", GC_M_GRADS | GC_M_EIGEN, NULL, NULL, m_hirescam},
    {"gradcam++", GC_M_GRADS | GC_M_EIGEN, NULL, NULL, m_gradcampp},
    {"xgradcam", GC_M_GRADS | GC_M_EIGEN, NULL, NULL, m_xgradcam},
    {"layercam", GC_M_GRADS | GC_M_EIGEN, NULL, NULL, m_layercam},
    {"gradcamelementwise", GC_M_GRADS | GC_M_EIGEN, NULL, NULL, m_elementwise},
    {"eigencam", 0, NULL, NULL, m_eigencam},
    {"eigengradcam", GC_M_GRADS, NULL, NULL, m_eigengradcam},
    {"segeigencam", GC_M_GRADS, NULL, NULL, m_segeigencam},
    {"kpcacam", 0, NULL, NULL, m_kpcacam},
    {"fem", 0, NULL, NULL, m_fem},
    {"scorecam", GC_M_EIGEN, units_per_channel, scorecam_unit, m_scorecam},
    {"ablationcam", GC_M_EIGEN, ablation_units, ablation_unit, m_ablationcam},
    {"fullgrad", GC_M_FULLGRAD | GC_M_EIGEN, NULL, NULL, m_fullgrad},
    {"shapleycam", GC_M_GRADS | GC_M_EIGEN, NULL, NULL, m_gradcam},
    {"finercam", GC_M_GRADS | GC_M_EIGEN | GC_M_FINER, NULL, NULL, m_gradcam},
};
const int gc_method_count = sizeof gc_methods / sizeof *gc_methods;

const gc_method *gc_method_find(const char *name) {
  for (int i = 0; name && i < gc_method_count; i++)
    if (!strcmp(name, gc_methods[i].name)) return &gc_methods[i];
  return NULL;
}

const char *gc_method_names(void) {
  static char buf[512];
  if (!buf[0])
    for (int i = 0; i < gc_method_count; i++) {
      size_t l = strlen(buf);
      snprintf(buf + l, sizeof buf - l, "%s%s", i ? ", " : "", gc_methods[i].name);
    }
  return buf;
}

int gc_method_begin(const gc_method *m, gc_method_run *r) {
  const gc_net *net = r->net;
  r->w = malloc((size_t)(r->act.c > 0 ? r->act.c : 1) * sizeof *r->w);
  r->have_zero = 0;
  r->buf = NULL;
  const int units = m->units ? m->units(r) : 0;
  if (units) { /* Score-CAM: a mask [H][W]; Ablation-CAM: one saved channel [hw] */
    size_t nb = (size_t)net->x.h * net->x.w;
    if (npos(&r->act) > nb) nb = npos(&r->act);
    r->buf = malloc(nb * sizeof *r->buf);
  }
  if (m->flags & GC_M_FULLGRAD) { r->map_h = net->x.h; r->map_w = net->x.w; }
  else { r->map_h = r->act.h; r->map_w = r->act.w; }
  if (!r->w || (units && !r->buf)) { gc_method_end(r); return -1; }
  return 0;
}

void gc_method_end(gc_method_run *r) {
  free(r->w); free(r->buf);
  r->w = r->buf = NULL;
}
