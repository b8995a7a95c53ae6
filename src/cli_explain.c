/* cli_explain.c: `gradcam explain`: one image's explanation, its files (CAM and gradient .npy with a
 * sidecar that says what they hold, overlay/heatmap/panel PNGs in the chosen style, guided backprop),
 * its JSON line, and the --compare grid. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cam.h"
#include "cli.h"
#include "render.h"

const char *out_path(char *buf, size_t n, const opts *o, const char *explicit_path, int i, const char *suffix) {
  static const char *const always[] = {"overlay.png", "heatmap.png", "panel.png", "cam.npy"};
  int by_default = 0;
  for (size_t k = 0; k < sizeof always / sizeof *always; k++) by_default |= !strcmp(suffix, always[k]);
  if (!o->out_dir || (!explicit_path && !by_default)) return explicit_path;
  const char *base = strrchr(o->images[i], '/');
  base = base ? base + 1 : o->images[i];
  const char *dot = strrchr(base, '.');
  int bl = dot ? (int)(dot - base) : (int)strlen(base);
  snprintf(buf, n, "%s/%.*s.%s", o->out_dir, bl, base, suffix);
  return buf;
}

static int show_progress(void *user, double f) {
  fprintf(stderr, "\rgradcam: %s %3.0f%%", (const char *)user, 100 * f);
  return 0;
}

static void json_metrics(const gc_metrics *m, int multilabel) {
  printf(", \"metrics\": {\"target\": \"%s\", \"score\": %.7g, \"cam_mult_image_confidence_change\": %.7g", multilabel ? "sigmoid" : "softmax",
         m->score, m->cam_mult_change);
  printf(", \"drop_in_confidence\": %.7g, \"increase_in_confidence\": %.1f, \"road_percentiles\": [", m->drop, m->increase);
  for (int k = 0; k < m->n_road; k++) printf("%s%d", k ? ", " : "", m->road_percentiles[k]);
  printf("], \"road_morf\": [");
  for (int k = 0; k < m->n_road; k++) printf("%s%.7g", k ? ", " : "", m->road_morf[k]);
  printf("], \"road_lerf\": [");
  for (int k = 0; k < m->n_road; k++) printf("%s%.7g", k ? ", " : "", m->road_lerf[k]);
  printf("], \"road_morf_mean\": %.7g, \"road_lerf_mean\": %.7g, \"road_combined\": %.7g}", m->road_morf_mean,
         m->road_lerf_mean, m->road_combined);
}

/* Guided backprop and Guided Grad-CAM (after the CAM: it reuses the backward buffers). */
static int guided_outputs(gc_ctx *g, const opts *o, const gc_explanation *e, int i) {
  char err[512], pb[1024];
  const char *pn = out_path(pb, sizeof pb, o, o->gb_npy, i, "gb.npy");
  if (!o->gb_npy && !o->gb && !o->cam_gb) return 0;
  const size_t n = (size_t)e->w * e->h * 3;
  float *gb = malloc(n * sizeof *gb), *cg = malloc(n * sizeof *cg);
  uint8_t *pix = malloc(n);
  int rc = 0;
  if (!gb || !cg || !pix) { rc = fail(1, "out of memory"); goto done; }
  if (gc_guided_backprop(g, e->class_index, gb, err, sizeof err)) { rc = fail(2, "%s: %s", o->images[i], err); goto done; }
  if (pn && (rc = write_npy(pn, gb, (int[]){e->h, e->w, 3}, 3))) goto done;
  if ((pn = out_path(pb, sizeof pb, o, o->gb, i, "gb.png"))) {
    gc_render_deprocess(gb, n, pix);
    if ((rc = write_png(pn, pix, e->w, e->h, 3))) goto done;
  }
  if ((pn = out_path(pb, sizeof pb, o, o->cam_gb, i, "cam_gb.png"))) {
    for (size_t k = 0; k < n; k++) cg[k] = e->cam[k / 3] * gb[k];
    gc_render_deprocess(cg, n, pix);
    rc = write_png(pn, pix, e->w, e->h, 3);
  }
done:
  free(gb); free(cg); free(pix);
  return rc;
}



/* Beside every .npy, F.npy.json says what it holds (an .npy header has no room for it). */
static int write_npy_described(const char *path, const float *a, const int *shape, int ndim, const char *what,
                               const gc_explanation *e) {
  int rc = write_npy(path, a, shape, ndim);
  if (rc) return rc;
  char meta[1024], layers[128], legend[96];
  gc_legend_text(e, legend, sizeof legend);
  snprintf(meta, sizeof meta,
           "{\"holds\": \"%s\", \"method\": \"%s\", \"layer\": \"%s\", \"class\": %d, \"sign\": \"%s\", "
           "\"scale\": \"%s\", \"interp\": \"%s\", \"eigen_smooth\": %s, \"aug_smooth\": %s, \"range\": [%.7g, %.7g], "
           "\"legend\": \"%s\"}\n",
           what, e->method, gc_layers_text(e, layers, sizeof layers), e->class_index, gc_sign_name(e->sign),
           e->raw ? "raw" : "normalised", e->nearest ? "nearest" : "linear", e->eigen_smooth ? "true" : "false",
           e->aug_smooth ? "true" : "false", e->cam_min, e->cam_max, legend);
  char mp[1100];
  snprintf(mp, sizeof mp, "%s.json", path);
  return write_file(mp, meta, strlen(meta));
}

static gc_explain_desc desc_of(const opts *o, int cls, const char *method, const char *layer) {
  return (gc_explain_desc){.class_index = cls, .layer = layer, .method = method, .eigen_smooth = o->eigen_smooth,
                           .aug_smooth = o->aug_smooth, .sign = o->sign, .raw = o->raw, .nearest = o->nearest,
                           .metrics = o->metrics, .road_percentiles = o->n_road ? o->road : NULL,
                           .n_road_percentiles = o->n_road, .road_noise = o->road_noise,
                           .progress = o->progress ? show_progress : NULL, .user = (void *)method};
}

static gc_style style_of(const opts *o) {
  const gc_colormap *cm = o->colormap ? o->colormap : gc_colormap_find(o->sign == GC_SIGN_ALL ? "rdwhgn" : "jet");
  return (gc_style){.lut = cm->lut, .mode = o->mode, .grey = o->grey, .image_weight = o->alpha};
}

/* --compare: one explanation per tile (top-K classes, layers or methods), drawn at the model input size
 * in the chosen style and labelled, in one grid PNG. */
static int compare_grid(gc_ctx *g, const opts *o, const labels *L, const gc_image *img, int cls, int i) {
  char err[512], pb[1024], names[16][64], labels_[16][96];
  const char *p = out_path(pb, sizeof pb, o, o->grid, i, "grid.png");
  int n = 0, W, H, rc = 0;
  if (!p) return 0;
  gc_input_size(g, &W, &H);
  if (o->compare == CMP_CLASSES) {
    int idx[16];
    n = gc_topk(g, o->compare_k, idx);
    for (int k = 0; k < n; k++) snprintf(names[k], sizeof names[k], "%d", idx[k]);
  } else {
    for (const char *s = o->compare_list; *s && n < 16; n++) {
      const char *c = strchr(s, ',');
      size_t l = c ? (size_t)(c - s) : strlen(s);
      snprintf(names[n], sizeof names[n], "%.*s", (int)(l < 63 ? l : 63), s);
      s = c ? c + 1 : s + l;
    }
  }
  gc_image base;
  if (img->w == W && img->h == H) base = *img;
  else if (gc_image_resize_bilinear_aa(img, W, H, &base, err, sizeof err)) return fail(2, "%s: %s", o->images[i], err);
  uint8_t *tiles = malloc((size_t)n * W * H * 3), *out = NULL;
  float *mask = malloc(sizeof(float) * W * H);
  const uint8_t *tp[16];
  const char *lp[16];
  gc_style st = style_of(o);
  if (st.mode == GC_MODE_ALPHA) st.mode = GC_MODE_MASKED; /* the grid is opaque */
  if (!tiles || !mask) { rc = fail(1, "out of memory"); goto done; }
  for (int k = 0; k < n; k++) {
    const int c = o->compare == CMP_CLASSES ? atoi(names[k]) : cls;
    const char *method = o->compare == CMP_METHODS ? names[k] : (o->method ? o->method : "gradcam");
    const char *layer = o->compare == CMP_LAYERS ? names[k] : o->layer;
    gc_explain_desc d = desc_of(o, c, method, layer);
    d.metrics = 0;
    gc_explanation e;
    if (gc_explain(g, &d, &e, err, sizeof err)) { rc = fail(2, "%s: compare %s: %s", o->images[i], names[k], err); goto done; }
    gc_cam_at(g, W, H, mask, err, sizeof err);
    gc_render(&base, mask, &st, tiles + (size_t)k * W * H * 3, 3);
    char ls[128];
    snprintf(labels_[k], sizeof labels_[k], "%s %.1f%% %s %s", L->name[e.class_index], 100.0 * e.prob, e.method,
             gc_layers_text(&e, ls, sizeof ls));
    tp[k] = tiles + (size_t)k * W * H * 3;
    lp[k] = labels_[k];
  }
  int gw, gh, cols = n <= 5 ? n : (n + 1) / 2;
  gc_render_grid_size(n, cols, W, H, &gw, &gh);
  if (!(out = malloc((size_t)gw * gh * 3))) { rc = fail(1, "out of memory"); goto done; }
  gc_render_grid(tp, lp, n, cols, W, H, out);
  rc = write_png(p, out, gw, gh, 3);
done:
  if (base.rgb != img->rgb) gc_image_free(&base);
  free(tiles); free(mask); free(out);
  return rc;
}

int explain_one(gc_ctx *g, const opts *o, const labels *L, int cls, int i) {
  char err[512], pb[1024], layers[128], legend[96];
  gc_image img;
  if (load_image(o->images[i], &img)) return 2;
  int rc = 0;
  gc_explanation e;
  uint8_t *pix = NULL;
  float *mask = NULL;
  const char *method = o->method ? o->method : "gradcam";
  gc_explain_desc d = desc_of(o, cls, method, o->layer);
  if (gc_classify(g, &img, err, sizeof err) || gc_explain(g, &d, &e, err, sizeof err)) {
    if (o->progress) fputc('\n', stderr);
    rc = fail(2, "%s: %s", o->images[i], err);
    goto done;
  }
  if (o->progress) fputc('\n', stderr);
  /* a centre crop (--crop): the pictures show the part the model saw */
  if (gc_view_image(g, &img, err, sizeof err)) { rc = fail(2, "%s: %s", o->images[i], err); goto done; }
  const char *layer = gc_layers_text(&e, layers, sizeof layers);
  gc_legend_text(&e, legend, sizeof legend);
  const char *p;
  if ((p = out_path(pb, sizeof pb, o, o->cam, i, "cam.npy")) &&
      (rc = write_npy_described(p, e.cam, (int[]){e.h, e.w}, 2, "cam", &e))) goto done;
  if ((p = out_path(pb, sizeof pb, o, o->grad, i, "grad.npy"))) {
    if (!e.grad) { rc = fail(2, "--grad: %s computes no gradient at a layer", e.method); goto done; }
    if ((rc = write_npy_described(p, e.grad, (int[]){e.fh, e.fw, e.gc}, 3, "grad", &e))) goto done;
  }
  /* Pictures are drawn at the image's own size: the CAM is brought there from the layer's resolution. */
  int w = img.w, h = img.h, pw, ph;
  char caption[GC_CAPTION_MAX], where[160];
  snprintf(where, sizeof where, "%s %s", method, layer);
  gc_render_caption(caption, sizeof caption, L->name[e.class_index], e.prob, where);
  const gc_legend lg = {legend};
  gc_render_panel_size(w, h, caption, &lg, &pw, &ph);
  const gc_style st = style_of(o);
  const int ch = st.mode == GC_MODE_ALPHA ? 4 : 3; /* alpha_scaling keeps its alpha in the PNG */
  mask = malloc(sizeof(float) * w * h);
  pix = malloc((size_t)4 * (pw * ph > w * h ? pw * ph : w * h));
  if (!mask || !pix) { rc = fail(1, "out of memory"); goto done; }
  gc_cam_at(g, w, h, mask, err, sizeof err);
  if ((p = out_path(pb, sizeof pb, o, o->out, i, "overlay.png"))) {
    gc_render(&img, mask, &st, pix, ch);
    if ((rc = write_png(p, pix, w, h, ch))) goto done;
  }
  if ((p = out_path(pb, sizeof pb, o, o->heatmap, i, "heatmap.png"))) {
    gc_render(&img, mask, &(gc_style){.lut = st.lut, .mode = GC_MODE_HEAT}, pix, 3);
    if ((rc = write_png(p, pix, w, h, 3))) goto done;
  }
  if ((p = out_path(pb, sizeof pb, o, o->panel, i, "panel.png"))) {
    gc_render_panel(&img, mask, caption, &st, &lg, pix, 3);
    if ((rc = write_png(p, pix, pw, ph, 3))) goto done;
  }
  if ((rc = guided_outputs(g, o, &e, i))) goto done;
  if (o->json) {
    printf("{\"image\": "); json_str(o->images[i]);
    printf(", \"class\": %d, \"label\": ", e.class_index); json_str(L->name[e.class_index]);
    printf(", \"prob\": %.6g, \"layer\": \"%s\", \"method\": \"%s\", \"eigen_smooth\": %s, \"eigen_smooth_ignored\": %s",
           e.prob, layer, e.method, e.eigen_smooth ? "true" : "false", e.eigen_ignored ? "true" : "false");
    printf(", \"aug_smooth\": %s, \"sign\": \"%s\", \"scale\": \"%s\", \"interp\": \"%s\", \"cam_range\": [%.7g, %.7g]",
           e.aug_smooth ? "true" : "false", gc_sign_name(e.sign), e.raw ? "raw" : "normalised",
           e.nearest ? "nearest" : "linear", e.cam_min, e.cam_max);
    printf(", \"legend\": "); json_str(legend);
    if (e.n_compared) printf(", \"finer_compared\": [%d, %d, %d]", e.compared[0], e.compared[1], e.compared[2]);
    printf(", \"cam_size\": [%d, %d], \"feature_size\": [%d, %d]", e.h, e.w, e.fh, e.fw);
    if (e.metrics) json_metrics(e.metrics, gc_multilabel(g));
    printf(", \"ms\": {\"forward\": %.2f, \"backward\": %.2f, \"cam\": %.2f}}\n", e.forward_ms, e.backward_ms, e.cam_ms);
  } else {
    printf("%s: %d %s (%.2f%%) %s at %s  [forward %.1f ms, backward %.1f ms, cam %.1f ms]\n", o->images[i],
           e.class_index, L->name[e.class_index], 100.0 * e.prob, e.method, layer, e.forward_ms, e.backward_ms, e.cam_ms);
    if (e.metrics)
      printf("  metrics: confidence change %+.4f, ROAD MoRF %.4f, LeRF %.4f, combined %.4f\n", e.metrics->cam_mult_change,
             e.metrics->road_morf_mean, e.metrics->road_lerf_mean, e.metrics->road_combined);
  }
  if (o->compare) {
    if (o->json) fflush(stdout);
    rc = compare_grid(g, o, L, &img, cls, i);
  }
done:
  free(mask); free(pix);
  gc_image_free(&img);
  return rc;
}
