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
#include "gradcam.h"
#include "render.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>

#define MAX_FILE (512u << 20) /* refuse files larger than this outright */

static int fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("gradcam: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return code;
}

/* ---- files ----------------------------------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *n, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
  uint8_t *buf = NULL;
  size_t cap = 0, len = 0;
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_FILE) { snprintf(err, errlen, "%s: larger than %u MB", path, MAX_FILE >> 20); break; }
      cap = cap ? cap * 2 : 1 << 16;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) { snprintf(err, errlen, "%s: out of memory", path); break; }
      buf = nb;
    }
    size_t r = fread(buf + len, 1, cap - len, f);
    len += r;
    if (r == 0) {
      fclose(f);
      if (len == 0) { snprintf(err, errlen, "%s: empty file", path); free(buf); return NULL; }
      *n = len;
      return buf;
    }
  }
  fclose(f);
  free(buf);
  return NULL;
}

static int write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return fail(2, "%s: %s", path, strerror(errno));
  size_t w = fwrite(data, 1, n, f);
  if (fclose(f) || w != n) return fail(1, "%s: write failed", path);
  return 0;
}

/* A float32 .npy (format 1.0, little-endian, C order). */
static int write_npy(const char *path, const float *a, const int *shape, int ndim) {
  char hdr[128], dims[64] = "";
  size_t n = 1;
  for (int i = 0; i < ndim; i++) {
    size_t l = strlen(dims);
    snprintf(dims + l, sizeof dims - l, ndim == 1 ? "%d," : (i ? " %d" : "%d"), shape[i]);
    if (ndim > 1 && i < ndim - 1) strncat(dims, ",", sizeof dims - strlen(dims) - 1);
    n *= shape[i];
  }
  int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
  int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
  size_t size = (size_t)total + pad + n * 4;
  uint8_t *buf = malloc(size);
  if (!buf) return fail(1, "out of memory");
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  uint16_t len = (uint16_t)(hl + pad + 1);
  buf[8] = len & 0xff; buf[9] = len >> 8;
  memcpy(buf + 10, hdr, hl);
  memset(buf + 10 + hl, ' ', pad);
  buf[10 + hl + pad] = '\n';
  memcpy(buf + total + pad, a, n * 4);
  int rc = write_file(path, buf, size);
  free(buf);
  return rc;
}

static void png_sink(void *ctx, void *data, int size) {
  FILE *f = ctx;
  fwrite(data, 1, size, f);
}

static int write_png(const char *path, const uint8_t *rgb, int w, int h) {
  FILE *f = fopen(path, "wb");
  if (!f) return fail(2, "%s: %s", path, strerror(errno));
  int ok = stbi_write_png_to_func(png_sink, f, w, h, 3, rgb, w * 3);
  if (fclose(f) || !ok) return fail(1, "%s: PNG write failed", path);
  return 0;
}

/* ---- labels ---------------------------------------------------------------------------------------- */

typedef struct labels { char **name; int n; char *buf; } labels;

/* One name per line; a missing file or a count that does not match the model gives "class N". */
static void labels_load(labels *L, const char *path, int n) {
  char err[256];
  size_t size = 0;
  uint8_t *data = path ? read_file(path, &size, err, sizeof err) : NULL;
  L->n = n;
  L->name = calloc(n, sizeof(char *));
  L->buf = malloc(size + 1 + (size_t)n * 16);
  if (!L->name || !L->buf) { fail(1, "out of memory"); exit(1); }
  int count = 0;
  if (data) {
    memcpy(L->buf, data, size);
    L->buf[size] = 0;
    for (char *p = L->buf; *p && count <= n;) {
      char *end = strchr(p, '\n');
      if (end) *end = 0;
      size_t l = strlen(p);
      if (l && p[l - 1] == '\r') p[l - 1] = 0;
      if (count < n) L->name[count] = p;
      count++;
      if (!end) break;
      p = end + 1;
    }
    if (count != n)
      fprintf(stderr, "gradcam: warning: %s has %s%d labels, the model %d classes: using numbers\n", path,
              count > n ? "more than " : "", count > n ? n : count, n);
  }
  if (count != n) {
    char *p = L->buf + size + 1;
    for (int i = 0; i < n; i++, p += 16) { snprintf(p, 16, "class %d", i); L->name[i] = p; }
  }
  free(data);
}

static void labels_free(labels *L) { free(L->name); free(L->buf); }

/* ---- options --------------------------------------------------------------------------------------- */

typedef struct opts {
  const char *cmd, *home, *model, *labels, *cls, *layer, *out, *heatmap, *panel, *cam, *grad, *logits, *out_dir;
  const char **images;               /* the IMAGE arguments, in order (argc slots: any number of them) */
  int n_images, top, json, w, h, multilabel, threads;
  double alpha;
} opts;

static const char usage[] =
    "usage: gradcam classify IMAGE [--model F] [--labels F] [--top K] [--size WxH] [--json] [--logits OUT.npy]\n"
    "       gradcam explain IMAGE... [--model F] [--labels F] [--class N|NAME] [--layer L] [--alpha W]\n"
    "                       [--size WxH] [-o overlay.png] [--heatmap heat.png] [--panel panel.png]\n"
    "                       [--cam cam.npy] [--grad grad.npy] [--json] [--out-dir D]\n"
    "       either command also takes --threads N: threads for the network (default: every core, at\n"
    "         most 8; more than 1 runs the threaded engine)\n"
    "layers: conv1 relu maxpool layer1..layer4 layerN.M (N 1-4, M 0-1) input; default layer4\n"
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

static int parse(int argc, char **argv, opts *o) {
  *o = (opts){.top = 5, .w = 224, .h = 224, .alpha = 0.5, .multilabel = -1};
  if (!(o->images = calloc((size_t)argc, sizeof *o->images))) return fail(2, "out of memory");
  int i = 1;
  if (i + 1 < argc && !strcmp(argv[i], "--home")) { o->home = argv[i + 1]; i += 2; }
  for (; i + 1 < argc && !strcmp(argv[i], "--threads"); i += 2) /* the launcher puts it here too */
    if (parse_threads(argv[i + 1], o)) return 2;
  if (i >= argc || argv[i][0] == '-') return fail(2, "no command (classify or explain)\n%s", usage);
  o->cmd = argv[i++];
  if (strcmp(o->cmd, "classify") && strcmp(o->cmd, "explain")) return fail(2, "unknown command '%s'\n%s", o->cmd, usage);
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
  int single_outputs = o->out || o->heatmap || o->panel || o->cam || o->grad || o->logits;
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

static int explain_one(gc_ctx *g, const opts *o, const labels *L, int cls, int i) {
  char err[512], pb[1024];
  gc_image img;
  if (load_image(o->images[i], &img)) return 2;
  int rc = 0;
  gc_explanation e;
  uint8_t *pix = NULL;
  float *mask = NULL;
  if (gc_classify(g, &img, err, sizeof err) ||
      gc_explain(g, &(gc_explain_desc){.class_index = cls, .layer = o->layer}, &e, err, sizeof err)) {
    rc = fail(2, "%s: %s", o->images[i], err);
    goto done;
  }
  const char *layer = gc_layer_name(e.layer);
  const char *p;
  if ((p = out_path(pb, sizeof pb, o, o->cam, i, "cam.npy")) && (rc = write_npy(p, e.cam, (int[]){e.h, e.w}, 2))) goto done;
  if ((p = out_path(pb, sizeof pb, o, o->grad, i, "grad.npy")) &&
      (rc = write_npy(p, e.grad, (int[]){e.fh, e.fw, e.gc}, 3))) goto done;
  /* Pictures are drawn at the image's own size: the CAM is brought there from the layer's resolution. */
  int w = img.w, h = img.h, pw, ph;
  char caption[GC_CAPTION_MAX];
  gc_render_caption(caption, sizeof caption, L->name[e.class_index], e.prob, layer);
  gc_render_panel_size(w, h, caption, &pw, &ph);
  mask = malloc(sizeof(float) * w * h);
  pix = malloc((size_t)3 * (pw * ph > w * h ? pw * ph : w * h));
  if (!mask || !pix) { rc = fail(1, "out of memory"); goto done; }
  gc_cam_at(g, w, h, mask, err, sizeof err);
  if ((p = out_path(pb, sizeof pb, o, o->out, i, "overlay.png"))) {
    gc_render_overlay(&img, mask, o->alpha, pix, 3);
    if ((rc = write_png(p, pix, w, h))) goto done;
  }
  if ((p = out_path(pb, sizeof pb, o, o->heatmap, i, "heatmap.png"))) {
    gc_render_heatmap(mask, w, h, pix, 3);
    if ((rc = write_png(p, pix, w, h))) goto done;
  }
  if ((p = out_path(pb, sizeof pb, o, o->panel, i, "panel.png"))) {
    gc_render_panel(&img, mask, caption, pix, 3);
    if ((rc = write_png(p, pix, pw, ph))) goto done;
  }
  if (o->json) {
    printf("{\"image\": "); json_str(o->images[i]);
    printf(", \"class\": %d, \"label\": ", e.class_index); json_str(L->name[e.class_index]);
    printf(", \"prob\": %.6g, \"layer\": \"%s\", \"cam_size\": [%d, %d], \"feature_size\": [%d, %d]", e.prob, layer,
           e.h, e.w, e.fh, e.fw);
    printf(", \"ms\": {\"forward\": %.2f, \"backward\": %.2f, \"cam\": %.2f}}\n", e.forward_ms, e.backward_ms, e.cam_ms);
  } else {
    printf("%s: %d %s (%.2f%%) at %s  [forward %.1f ms, backward %.1f ms, cam %.1f ms]\n", o->images[i], e.class_index,
           L->name[e.class_index], 100.0 * e.prob, layer, e.forward_ms, e.backward_ms, e.cam_ms);
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
