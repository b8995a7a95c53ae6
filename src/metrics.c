/* metrics.c: the perturbation metrics of a CAM (see metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "impute.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int gc_metrics_setup(gc_metrics_desc *md, const gc_explain_desc *d, char *err, size_t errlen) {
  memset(md, 0, sizeof *md);
  if (d->road_percentiles) {
    if (d->n_road_percentiles < 1 || d->n_road_percentiles > GC_ROAD_MAX)
      return ERR("ROAD percentiles: give 1..%d of them", GC_ROAD_MAX);
    for (int i = 0; i < d->n_road_percentiles; i++) {
      if (d->road_percentiles[i] < 1 || d->road_percentiles[i] > 99)
        return ERR("ROAD percentile %d outside 1..99", d->road_percentiles[i]);
      md->percentiles[i] = d->road_percentiles[i];
    }
    md->n = d->n_road_percentiles;
  } else {
    for (int i = 0; i < 9; i++) md->percentiles[i] = 10 * (i + 1);
    md->n = 9;
  }
  if (!(d->road_noise >= 0 && d->road_noise <= 10)) return ERR("ROAD noise %g outside [0, 10]", d->road_noise);
  md->noise = d->road_noise;
  md->seed = d->road_seed;
  return 0;
}

void gc_metrics_begin(gc_metrics *m, const gc_metrics_desc *md, float score) {
  memset(m, 0, sizeof *m);
  m->score = score;
  m->n_road = md->n;
  memcpy(m->road_percentiles, md->percentiles, sizeof m->road_percentiles);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

float gc_percentile(const float *v, size_t n, double p) {
  float *s = malloc(n * sizeof *s);
  if (!s) return v[0];
  memcpy(s, v, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_float);
  const double pos = p / 100.0 * (double)(n - 1);
  const size_t lo = (size_t)pos, hi = lo + 1 < n ? lo + 1 : lo;
  const float t = (float)(pos - (double)lo), r = s[lo] + (s[hi] - s[lo]) * t;
  free(s);
  return r;
}

int gc_metrics_unit(gc_ctx *g, const gc_metrics_desc *md, int i, const float *x0, const float *cam, int cls,
                    gc_metrics *m, char *err, size_t errlen) {
  gc_net *net = &g->net;
  const int H = net->x.h, W = net->x.w, n = md->n;
  const size_t px = (size_t)H * W;
  float *x = net->x.data;
  if (i == 0) {
    for (size_t k = 0; k < px; k++)
      for (int c = 0; c < 3; c++) x[k * 3 + c] = x0[k * 3 + c] * cam[k];
  } else {
    const int lerf = i > n, p = md->percentiles[(i - 1) % n];
    float *v = malloc(px * sizeof *v);
    uint8_t *keep = malloc(px);
    if (!v || !keep) { free(v); free(keep); return ERR("out of memory for the metrics"); }
    for (size_t k = 0; k < px; k++) v[k] = lerf ? 1.0f - cam[k] : cam[k];
    const float th = gc_percentile(v, px, p);
    for (size_t k = 0; k < px; k++) keep[k] = v[k] < th;
    memcpy(x, x0, px * 3 * sizeof *x);
    int rc = gc_impute_linear(x, keep, H, W, 3, md->noise, md->seed + (uint64_t)i);
    free(v); free(keep);
    /* Every pixel removed: when at least p% of the CAM is exactly 0 (a ReLU's zeros), MoRF's threshold
     * is 0 and `cam < 0` keeps nothing. The reference's sparse solve is singular there and its score
     * NaN; we impute the dataset mean, 0 in normalised space, the only neutral value left. */
    if (rc == GC_IMPUTE_SINGULAR) memset(x, 0, px * 3 * sizeof *x), rc = 0;
    if (rc == GC_IMPUTE_NOMEM) return ERR("out of memory for ROAD's imputation");
    if (rc) return ERR("ROAD at percentile %d: the imputation did not converge", p);
  }
  if (gc_net_forward(net, err, errlen)) return -1;
  float *pr = malloc(sizeof(float) * g->model.num_classes);
  if (!pr) return ERR("out of memory for the metrics");
  gc_ctx_probs(g, net->logits, pr);
  const float diff = pr[cls] - m->score;
  free(pr);
  if (i == 0) {
    m->cam_mult_change = diff;
    m->drop = diff < 0 ? -diff : 0;
    m->increase = diff > 0;
  } else if (i <= n) {
    m->road_morf[i - 1] = diff;
  } else {
    m->road_lerf[i - 1 - n] = diff;
  }
  if (i == 2 * n) {
    double a = 0, b = 0;
    for (int k = 0; k < n; k++) { a += m->road_morf[k]; b += m->road_lerf[k]; }
    m->road_morf_mean = (float)(a / n);
    m->road_lerf_mean = (float)(b / n);
    m->road_combined = (m->road_lerf_mean - m->road_morf_mean) / 2;
  }
  return 0;
}
