/* cli.c: `gradcam`, the command line of the engine. Built into the same .wasm as the page and run by
 * Node with direct file-system access (emscripten NODERAWFS); build/gradcam is the launcher.
 *
 *   gradcam classify IMAGE [--model F] [--labels F] [--top K] [--size WxH] [--json] [--logits OUT.npy]
 *   gradcam explain IMAGE... [--model F] [--labels F] [--class N|NAME] [--layer L] [--alpha W]
 *                   [--size WxH] [-o overlay.png] [--heatmap heat.png] [--panel panel.png]
 *                   [--cam cam.npy] [--grad grad.npy] [--json] [--out-dir D]
 *
 * Exit codes: 0 success, 2 bad input (usage, unreadable or corrupt image or weights, unknown class or
 * layer), 1 anything else. Every error is one line on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cam.h"
#include "methods.h"
#include "gradcam.h"
#include "cli_io.h"
#include "render.h"


/* ---- options --------------------------------------------------------------------------------------- */

typedef struct opts {
  const char *cmd, *home, *model, *labels, *cls, *layer, *out, *heatmap, *panel, *cam, *grad, *logits, *out_dir;
  const char *method, *gb_npy, *gb, *cam_gb;
  const char **images;               /* the IMAGE arguments, in order (argc slots: any number of them) */
  int n_images, top, json, w, h, multilabel, threads, eigen_smooth, aug_smooth, metrics, progress;
  int n_road, road[GC_ROAD_MAX];
  double alpha, road_noise;
} opts;

static const char usage[] =
    "usage: gradcam classify IMAGE [--model F] [--labels F] [--top K] [--size WxH] [--json] [--logits OUT.npy]\n"
    "       gradcam explain IMAGE... [--model F] [--labels F] [--class N|NAME] [--layer L] [--alpha W]\n"
    "                       [--size WxH] [-o overlay.png] [--heatmap heat.png] [--panel panel.png]\n"
    "                       [--cam cam.npy] [--grad grad.npy] [--json] [--out-dir D]\n"
    "                       [--method NAME] [--eigen-smooth] [--aug-smooth] [--progress]\n"
    "                       [--gb-npy gb.npy] [--gb gb.png] [--cam-gb cam_gb.png]\n"
    "                       [--metrics] [--road-percentiles 10,20,...] [--road-noise S]\n"
    "       either command also takes --threads N: threads for the network (default: every core, at\n"
    "         most 8; more than 1 runs the threaded engine)\n"
    "layers: conv1 relu maxpool layer1..layer4 layerN.M (N 1-4, M 0-1) input; default layer4\n"
    "methods (pytorch-grad-cam's names): gradcam (default) hirescam gradcam++ xgradcam layercam\n"
    "  gradcamelementwise eigencam eigengradcam segeigencam kpcacam fem scorecam ablationcam fullgrad\n"
    "  shapleycam finercam\n"
    "--gb-npy/--gb/--cam-gb: guided backprop (raw [H,W,3] float32, deprocessed PNG, Guided Grad-CAM PNG)\n"
    "--metrics: CamMultImageConfidenceChange, Drop/IncreaseInConfidence, ROAD MoRF/LeRF/Combined (with\n"
    "  --json under \"metrics\"; ROAD's imputation noise defaults to 0.01 as in pytorch-grad-cam)\n"
    "probabilities: softmax, or per-class sigmoids for a multi-label model (the file's metadata\n"
    "  \"gradcam.head\" decides; --softmax / --multilabel override)\n"
    "default model: the offline shapes model in build/web/models/shapes/ (see models/fetch-imagenet)\n";

static int parse_threads(const char *v, opts *o) {
  char *e;
  long n = strtol(v, &e, 10);
  if (*e || !*v || n < 1 || n > 256) return fail(2, "--threads wants a number of threads in 1..256, got '%s'", v);
  o->threads = (int)n;
  return 0;
}

/* "10,20,30": 1..99 each, at most GC_ROAD_MAX of them. */
static int parse_percentiles(const char *v, opts *o) {
  o->n_road = 0;
  for (const char *p = v;;) {
    char *e;
    long k = strtol(p, &e, 10);
    if (e == p || k < 1 || k > 99 || o->n_road == GC_ROAD_MAX || (*e && *e != ','))
      return fail(2, "--road-percentiles wants numbers in 1..99 separated by commas, got '%s'", v);
    o->road[o->n_road++] = (int)k;
    if (!*e) return 0;
    p = e + 1;
  }
}

static int parse(int argc, char **argv, opts *o) {
  *o = (opts){.top = 5, .w = 224, .h = 224, .alpha = 0.5, .multilabel = -1, .road_noise = 0.01};
  if (!(o->images = calloc((size_t)argc, sizeof *o->images))) return fail(2, "out of memory");
  int i = 1;
  if (i + 1 < argc && !strcmp(argv[i], "--home")) { o->home = argv[i + 1]; i += 2; }
  for (; i + 1 < argc && !strcmp(argv[i], "--threads"); i += 2) /* the launcher puts it here too */
    if (parse_threads(argv[i + 1], o)) return 2;
  if (i < argc && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help"))) {
    fputs(usage, stdout);
    exit(0);
  }
  if (i >= argc || argv[i][0] == '-') return fail(2, "no command (classify or explain; --help for usage)");
  o->cmd = argv[i++];
  if (strcmp(o->cmd, "classify") && strcmp(o->cmd, "explain")) return fail(2, "unknown command '%s' (classify or explain; --help for usage)", o->cmd);
  for (; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **dst = NULL;
    if (a[0] != '-') {
      o->images[o->n_images++] = a;
      continue;
    }
    if (!strcmp(a, "--json")) { o->json = 1; continue; }
    if (!strcmp(a, "--multilabel")) { o->multilabel = 1; continue; }
    if (!strcmp(a, "--softmax")) { o->multilabel = 0; continue; }
    if (!strcmp(a, "--eigen-smooth")) { o->eigen_smooth = 1; continue; }
    if (!strcmp(a, "--aug-smooth")) { o->aug_smooth = 1; continue; }
    if (!strcmp(a, "--metrics")) { o->metrics = 1; continue; }
    if (!strcmp(a, "--progress")) { o->progress = 1; continue; }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); exit(0); }
    if (!v) return fail(2, "%s needs a value", a);
    i++;
    if (!strcmp(a, "--model")) dst = &o->model;
    else if (!strcmp(a, "--labels")) dst = &o->labels;
    else if (!strcmp(a, "--class")) dst = &o->cls;
    else if (!strcmp(a, "--layer")) dst = &o->layer;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) dst = &o->out;
    else if (!strcmp(a, "--heatmap")) dst = &o->heatmap;
    else if (!strcmp(a, "--panel")) dst = &o->panel;
    else if (!strcmp(a, "--cam")) dst = &o->cam;
    else if (!strcmp(a, "--grad")) dst = &o->grad;
    else if (!strcmp(a, "--logits")) dst = &o->logits;
    else if (!strcmp(a, "--out-dir")) dst = &o->out_dir;
    else if (!strcmp(a, "--method")) dst = &o->method;
    else if (!strcmp(a, "--gb-npy")) dst = &o->gb_npy;
    else if (!strcmp(a, "--gb")) dst = &o->gb;
    else if (!strcmp(a, "--cam-gb")) dst = &o->cam_gb;
    else if (!strcmp(a, "--road-noise")) {
      char *e; o->road_noise = strtod(v, &e);
      if (*e || !(o->road_noise >= 0 && o->road_noise <= 10)) return fail(2, "--road-noise wants a number in [0, 10], got '%s'", v);
    } else if (!strcmp(a, "--road-percentiles")) {
      if (parse_percentiles(v, o)) return 2;
    }
    else if (!strcmp(a, "--top")) {
      char *e; long k = strtol(v, &e, 10);
      if (*e || k < 1 || k > 100000) return fail(2, "--top wants a positive integer, got '%s'", v);
      o->top = (int)k;
    } else if (!strcmp(a, "--threads")) {
      if (parse_threads(v, o)) return 2;
    } else if (!strcmp(a, "--alpha")) {
      char *e; o->alpha = strtod(v, &e);
      if (*e || !(o->alpha >= 0 && o->alpha <= 1)) return fail(2, "--alpha wants a number in [0, 1], got '%s'", v);
    } else if (!strcmp(a, "--size")) {
      if (sscanf(v, "%dx%d", &o->w, &o->h) != 2 || o->w < 32 || o->h < 32 || o->w > 4096 || o->h > 4096)
        return fail(2, "--size wants WxH with each side in 32..4096, got '%s'", v);
    } else return fail(2, "unknown option '%s'\n%s", a, usage);
    if (dst) *dst = v;
  }
  if (!o->n_images) return fail(2, "no image given\n%s", usage);
  if (o->method && !gc_method_find(o->method))
    return fail(2, "unknown method '%s' (%s)", o->method, gc_method_names());
  int single_outputs = o->out || o->heatmap || o->panel || o->cam || o->grad || o->logits || o->gb_npy || o->gb || o->cam_gb;
  if (o->n_images > 1 && single_outputs && !o->out_dir)
    return fail(2, "several images: use --out-dir D instead of per-file outputs");
  return 0;
}

/* ---- model ----------------------------------------------------------------------------------------- */

static char default_model[1024], default_labels[1024];

static gc_ctx *load_model(opts *o, labels *L) {
  char err[512];
  if (!o->model) {
    snprintf(default_model, sizeof default_model, "%s/models/shapes/resnet18-shapes.safetensors", o->home ? o->home : ".");
    FILE *f = fopen(default_model, "rb");
    if (!f) {
      fail(2, "no model: the offline default model is missing (%s); pass --model FILE, or run models/fetch-imagenet",
           default_model);
      return NULL;
    }
    fclose(f);
    o->model = default_model;
  }
  size_t n;
  uint8_t *w = read_file(o->model, &n, err, sizeof err);
  if (!w) { fail(2, "%s", err); return NULL; }
  gc_desc d = {.weights = w, .weights_size = n, .free_weights = 1, .input_w = o->w, .input_h = o->h,
               .multilabel = o->multilabel, .threads = o->threads};
  gc_ctx *g = gc_create(&d, err, sizeof err);
  if (!g) { fail(2, "%s: %s", o->model, err); return NULL; }
  if (!o->labels) { /* labels.txt beside the model */
    const char *slash = strrchr(o->model, '/');
    int dl = slash ? (int)(slash - o->model) : 1;
    snprintf(default_labels, sizeof default_labels, "%.*s/labels.txt", dl, slash ? o->model : ".");
    FILE *f = fopen(default_labels, "rb");
    if (f) { fclose(f); o->labels = default_labels; }
  }
  labels_load(L, o->labels, gc_num_classes(g));
  return g;
}

static int label_contains(const char *name, const char *s) {
  size_t ls = strlen(s);
  for (const char *p = name; *p; p++)
    if (!strncasecmp(p, s, ls)) return 1;
  return 0;
}

/* --class: an index, or a case-insensitive substring of exactly one label (an exact match wins). */
static int resolve_class(const char *s, const labels *L) {
  if (!s) return -1;
  char *e;
  long k = strtol(s, &e, 10);
  if (*s && !*e) {
    if (k < 0 || k >= L->n) return fail(2, "class %s out of range (0..%d)", s, L->n - 1), -2;
    return (int)k;
  }
  for (int i = 0; i < L->n; i++) if (!strcasecmp(L->name[i], s)) return i;
  int found = -1, count = 0;
  char list[1024] = "";
  for (int i = 0; i < L->n; i++) {
    if (!label_contains(L->name[i], s)) continue;
    if (count < 12) {
      size_t l = strlen(list);
      snprintf(list + l, sizeof list - l, "%s%d %s", count ? ", " : "", i, L->name[i]);
    }
    if (!count++) found = i;
  }
  if (count == 1) return found;
  if (!count) return fail(2, "no class matches '%s'", s), -2;
  return fail(2, "class '%s' is ambiguous (%d matches: %s%s)", s, count, list, count > 12 ? ", ..." : ""), -2;
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

/* ---- commands -------------------------------------------------------------------------------------- */

static int load_image(const char *path, gc_image *img) {
  char err[512];
  size_t n;
  uint8_t *data = read_file(path, &n, err, sizeof err);
  if (!data) return fail(2, "%s", err);
  int rc = gc_image_decode(data, n, img, err, sizeof err);
  free(data);
  return rc ? fail(2, "%s: %s", path, err) : 0;
}

static int classify(gc_ctx *g, const opts *o, const labels *L) {
  char err[512];
  int k = o->top < L->n ? o->top : L->n, *idx = malloc(sizeof(int) * k), rc = 0;
  if (!idx) return fail(1, "out of memory");
  for (int i = 0; i < o->n_images && !rc; i++) {
    gc_image img;
    if ((rc = load_image(o->images[i], &img))) break;
    if (gc_classify(g, &img, err, sizeof err)) rc = fail(2, "%s: %s", o->images[i], err);
    gc_image_free(&img);
    if (rc) break;
    gc_topk(g, k, idx);
    const float *p = gc_probs(g);
    if (o->json) {
      printf("{\"image\": "); json_str(o->images[i]); printf(", \"top\": [");
      for (int j = 0; j < k; j++) {
        printf("%s{\"index\": %d, \"label\": ", j ? ", " : "", idx[j]);
        json_str(L->name[idx[j]]);
        printf(", \"prob\": %.6g, \"logit\": %.6g}", p[idx[j]], gc_logits(g)[idx[j]]);
      }
      printf("]}\n");
    } else {
      if (o->n_images > 1) printf("%s\n", o->images[i]);
      for (int j = 0; j < k; j++) printf("%4d  %6.2f%%  %s\n", idx[j], 100.0 * p[idx[j]], L->name[idx[j]]);
    }
    if (o->logits) {
      int shape[1] = {L->n};
      rc = write_npy(o->logits, gc_logits(g), shape, 1);
    }
  }
  free(idx);
  return rc;
}

/* Output path: the explicit option for one image, else D/<image stem>.<suffix> with --out-dir, which
 * writes overlay, heatmap, panel and CAM for every image (the gradient only if --grad was given). */
static const char *out_path(char *buf, size_t n, const opts *o, const char *explicit_path, int i, const char *suffix) {
  if (!o->out_dir || (!explicit_path && !strcmp(suffix, "grad.npy"))) return explicit_path;
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

static int explain_one(gc_ctx *g, const opts *o, const labels *L, int cls, int i) {
  char err[512], pb[1024];
  gc_image img;
  if (load_image(o->images[i], &img)) return 2;
  int rc = 0;
  gc_explanation e;
  uint8_t *pix = NULL;
  float *mask = NULL;
  const char *method = o->method ? o->method : "gradcam";
  gc_explain_desc d = {.class_index = cls, .layer = o->layer, .method = method, .eigen_smooth = o->eigen_smooth,
                       .aug_smooth = o->aug_smooth, .metrics = o->metrics, .road_percentiles = o->n_road ? o->road : NULL,
                       .n_road_percentiles = o->n_road, .road_noise = o->road_noise,
                       .progress = o->progress ? show_progress : NULL, .user = (void *)method};
  if (gc_classify(g, &img, err, sizeof err) || gc_explain(g, &d, &e, err, sizeof err)) {
    if (o->progress) fputc('\n', stderr);
    rc = fail(2, "%s: %s", o->images[i], err);
    goto done;
  }
  if (o->progress) fputc('\n', stderr);
  const char *layer = e.layer == -2 ? "all" : gc_layer_name(e.layer);
  const char *p;
  if ((p = out_path(pb, sizeof pb, o, o->cam, i, "cam.npy")) && (rc = write_npy(p, e.cam, (int[]){e.h, e.w}, 2))) goto done;
  if ((p = out_path(pb, sizeof pb, o, o->grad, i, "grad.npy"))) {
    if (!e.grad) { rc = fail(2, "--grad: %s computes no gradient at a layer", e.method); goto done; }
    if ((rc = write_npy(p, e.grad, (int[]){e.fh, e.fw, e.gc}, 3))) goto done;
  }
  /* Pictures are drawn at the image's own size: the CAM is brought there from the layer's resolution. */
  int w = img.w, h = img.h, pw, ph;
  char caption[GC_CAPTION_MAX], where[64];
  snprintf(where, sizeof where, "%s %s", method, layer);
  gc_render_caption(caption, sizeof caption, L->name[e.class_index], e.prob, where);
  gc_render_panel_size(w, h, caption, &pw, &ph);
  mask = malloc(sizeof(float) * w * h);
  pix = malloc((size_t)3 * (pw * ph > w * h ? pw * ph : w * h));
  if (!mask || !pix) { rc = fail(1, "out of memory"); goto done; }
  gc_cam_at(g, w, h, mask, err, sizeof err);
  if ((p = out_path(pb, sizeof pb, o, o->out, i, "overlay.png"))) {
    gc_render_overlay(&img, mask, o->alpha, pix, 3);
    if ((rc = write_png(p, pix, w, h, 3))) goto done;
  }
  if ((p = out_path(pb, sizeof pb, o, o->heatmap, i, "heatmap.png"))) {
    gc_render_heatmap(mask, w, h, pix, 3);
    if ((rc = write_png(p, pix, w, h, 3))) goto done;
  }
  if ((p = out_path(pb, sizeof pb, o, o->panel, i, "panel.png"))) {
    gc_render_panel(&img, mask, caption, pix, 3);
    if ((rc = write_png(p, pix, pw, ph, 3))) goto done;
  }
  if ((rc = guided_outputs(g, o, &e, i))) goto done;
  if (o->json) {
    printf("{\"image\": "); json_str(o->images[i]);
    printf(", \"class\": %d, \"label\": ", e.class_index); json_str(L->name[e.class_index]);
    printf(", \"prob\": %.6g, \"layer\": \"%s\", \"method\": \"%s\", \"eigen_smooth\": %s, \"eigen_smooth_ignored\": %s",
           e.prob, layer, e.method, e.eigen_smooth ? "true" : "false", e.eigen_ignored ? "true" : "false");
    printf(", \"aug_smooth\": %s", e.aug_smooth ? "true" : "false");
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
done:
  free(mask); free(pix);
  gc_image_free(&img);
  return rc;
}

int main(int argc, char **argv) {
  opts o;
  int rc = parse(argc, argv, &o);
  if (rc) return rc;
  if (o.layer && gc_layer_parse(o.layer) == -2)
    return fail(2, "unknown layer '%s' (conv1, relu, maxpool, layer1..layer4, layerN.M, input)", o.layer);
  labels L = {0};
  gc_ctx *g = load_model(&o, &L);
  if (!g) return 2;
  if (!strcmp(o.cmd, "classify")) {
    rc = classify(g, &o, &L);
  } else {
    int cls = resolve_class(o.cls, &L);
    rc = cls == -2 ? 2 : 0;
    /* one bad image does not stop the others; the exit code reports it */
    for (int i = 0; i < o.n_images && cls != -2; i++) {
      int r = explain_one(g, &o, &L, cls, i);
      if (r > rc) rc = r;
    }
  }
  labels_free(&L);
  gc_destroy(g);
  free(o.images);
  return rc;
}
