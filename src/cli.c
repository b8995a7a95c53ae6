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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cam.h"
#include "cli.h"
#include "methods.h"
#include "render.h"


/* ---- options --------------------------------------------------------------------------------------- */



static const char usage[] =
    "usage: gradcam classify IMAGE [--model F] [--labels F] [--top K] [--size WxH] [--json] [--logits OUT.npy]\n"
    "       gradcam explain IMAGE... [--model F] [--labels F] [--class N|NAME] [--layer L] [--alpha W]\n"
    "                       [--size WxH] [-o overlay.png] [--heatmap heat.png] [--panel panel.png]\n"
    "                       [--cam cam.npy] [--grad grad.npy] [--json] [--out-dir D]\n"
    "                       [--method NAME] [--eigen-smooth] [--aug-smooth] [--progress]\n"
    "                       [--gb-npy gb.npy] [--gb gb.png] [--cam-gb cam_gb.png]\n"
    "                       [--metrics] [--road-percentiles 10,20,...] [--road-noise S]\n"
    "                       [--colormap NAME] [--mode MODE] [--grey] [--sign positive|negative|all]\n"
    "                       [--scale normalised|raw] [--interp linear|nearest]\n"
    "       either command: [--mean R,G,B] [--std R,G,B] [--crop R] (Resize(R) + CenterCrop(--size), 0: a\n"
    "         plain resize); default: the model file's metadata (models/convert --mean ...), else ImageNet's\n"
    "         mean/std and a plain resize to 224x224\n"
    "                       [--compare classes:K|layers:L1,L2,..|methods:M1,M2,..] [--grid grid.png]\n"
    "       either command also takes --threads N: threads for the network (default: every core, at\n"
    "         most 8; more than 1 runs the threaded engine)\n"
    "models: any torchvision ResNet (resnet18/34/50/101/152, wide_resnet50_2/101_2), read from the file\n"
    "layers: conv1 relu maxpool layer1..layer4 layerN.M (N 1-4, M a block of the model: resnet18 0-1,\n"
    "  resnet50 layer3.0-5) input; default layer4 (each stage's name: its last block); several,\n"
    "  comma-separated (layer3,layer4), average their CAMs as pytorch-grad-cam's target_layers=[...]\n"
    "methods (pytorch-grad-cam's names): gradcam (default) hirescam gradcam++ xgradcam layercam\n"
    "  gradcamelementwise eigencam eigengradcam segeigencam kpcacam fem scorecam ablationcam fullgrad\n"
    "  shapleycam finercam\n"
    "--gb-npy/--gb/--cam-gb: guided backprop (raw [H,W,3] float32, deprocessed PNG, Guided Grad-CAM PNG)\n"
    "--metrics: CamMultImageConfidenceChange, Drop/IncreaseInConfidence, ROAD MoRF/LeRF/Combined (with\n"
    "  --json under \"metrics\"; ROAD's imputation noise defaults to 0.01 as in pytorch-grad-cam)\n"
    "display: --colormap (OpenCV's names, lower-case: jet turbo viridis inferno magma plasma cividis hot\n"
    "  bone parula ..., and rdwhgn, the default for --sign all); --mode blended_heat_map (default, over a\n"
    "  greyscale copy with --grey) heat_map masked_image alpha_scaling (RGBA PNG); --scale raw keeps the\n"
    "  CAM's own units; --sign negative shows the evidence against the class, all both (centred on 0)\n"
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

/* A comma-separated list whose every name passes ok(); 0 or fail's code. */
static int check_list(const char *list, const char *what, int (*ok)(const char *), const char *valid) {
  char name[64];
  int n = 0;
  for (const char *s = list;; n++) {
    const char *c = strchr(s, ',');
    size_t l = c ? (size_t)(c - s) : strlen(s);
    if (!l || l >= sizeof name || n == 16) return fail(2, "bad %s list '%s' (1..16 names, comma-separated)", what, list);
    memcpy(name, s, l);
    name[l] = 0;
    if (!ok(name)) return fail(2, "unknown %s '%s' (%s)", what, name, valid);
    if (!c) return 0;
    s = c + 1;
  }
}
static int layer_ok(const char *n) { return gc_layer_parse(NULL, n) != -2; } /* the model checks it again */
static int method_ok(const char *n) { return gc_method_find(n) != NULL; }
static const char layer_names[] = "conv1, relu, maxpool, layer1..layer4, layerN.M, input";

/* --compare classes:K | layers:a,b,.. | methods:a,b,.. */
static int parse_compare(const char *v, opts *o) {
  static const char valid[] = "classes:K (1..16), layers:L1,L2,.. or methods:M1,M2,..";
  if (!strncmp(v, "classes:", 8)) {
    char *e;
    long k = strtol(v + 8, &e, 10);
    if (*e || e == v + 8 || k < 1 || k > 16) return fail(2, "bad --compare '%s' (%s)", v, valid);
    o->compare = CMP_CLASSES, o->compare_k = (int)k;
    return 0;
  }
  if (!strncmp(v, "layers:", 7)) {
    o->compare = CMP_LAYERS, o->compare_list = v + 7;
    return check_list(v + 7, "layer", layer_ok, layer_names);
  }
  if (!strncmp(v, "methods:", 8)) {
    o->compare = CMP_METHODS, o->compare_list = v + 8;
    return check_list(v + 8, "method", method_ok, gc_method_names());
  }
  return fail(2, "bad --compare '%s' (%s)", v, valid);
}

static int parse(int argc, char **argv, opts *o) {
  *o = (opts){.top = 5, .alpha = 0.5, .multilabel = -1, .road_noise = 0.01}; /* w, h 0: the model's size */
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
    if (!strcmp(a, "--grey") || !strcmp(a, "--gray")) { o->grey = 1; continue; }
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
    else if (!strcmp(a, "--grid")) dst = &o->grid;
    else if (!strcmp(a, "--colormap")) {
      if (!(o->colormap = gc_colormap_find(v))) return fail(2, "unknown colormap '%s' (%s)", v, gc_colormap_names());
    } else if (!strcmp(a, "--mode")) {
      if ((o->mode = gc_mode_parse(v)) < 0)
        return fail(2, "unknown mode '%s' (blended_heat_map, heat_map, masked_image, alpha_scaling)", v);
    } else if (!strcmp(a, "--sign")) {
      if (!strcmp(v, "positive")) o->sign = GC_SIGN_POSITIVE;
      else if (!strcmp(v, "negative")) o->sign = GC_SIGN_NEGATIVE;
      else if (!strcmp(v, "all")) o->sign = GC_SIGN_ALL;
      else return fail(2, "unknown sign '%s' (positive, negative, all)", v);
    } else if (!strcmp(a, "--scale")) {
      if (!strcmp(v, "raw")) o->raw = 1;
      else if (!strcmp(v, "normalised") || !strcmp(v, "normalized")) o->raw = 0;
      else return fail(2, "unknown scale '%s' (normalised, raw)", v);
    } else if (!strcmp(a, "--interp")) {
      if (!strcmp(v, "nearest")) o->nearest = 1;
      else if (!strcmp(v, "linear")) o->nearest = 0;
      else return fail(2, "unknown interp '%s' (linear, nearest)", v);
    } else if (!strcmp(a, "--compare")) {
      if (parse_compare(v, o)) return 2;
    } else if (!strcmp(a, "--road-noise")) {
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
    } else if (!strcmp(a, "--mean") || !strcmp(a, "--std")) {
      const int is_std = a[2] == 's';
      if (gc_parse_triple(v, is_std, is_std ? o->std : o->mean))
        return fail(2, "%s wants three %s numbers separated by commas, got '%s'", a, is_std ? "positive" : "finite", v);
      if (is_std) o->has_std = 1; else o->has_mean = 1;
    } else if (!strcmp(a, "--crop")) {
      char *e; long r = strtol(v, &e, 10);
      if (*e || !(r == 0 || (r >= 32 && r <= 8192))) return fail(2, "--crop wants a size in 32..8192 (0: a plain resize), got '%s'", v);
      o->crop = r ? (int)r : -1;
    } else if (!strcmp(a, "--size")) {
      char junk;
      if (sscanf(v, "%dx%d%c", &o->w, &o->h, &junk) != 2 || o->w < 32 || o->h < 32 || o->w > 4096 || o->h > 4096)
        return fail(2, "--size wants WxH with each side in 32..4096, got '%s'", v);
    } else return fail(2, "unknown option '%s'\n%s", a, usage);
    if (dst) *dst = v;
  }
  if (!o->n_images) return fail(2, "no image given\n%s", usage);
  if (o->layer && check_list(o->layer, "layer", layer_ok, layer_names)) return 2;
  if (o->compare && !o->grid && !o->out_dir) return fail(2, "--compare draws a grid: give --grid FILE (or --out-dir D)");
  if (o->method && !gc_method_find(o->method))
    return fail(2, "unknown method '%s' (%s)", o->method, gc_method_names());
  int single_outputs = o->out || o->heatmap || o->panel || o->cam || o->grad || o->logits || o->gb_npy || o->gb ||
                       o->cam_gb || o->grid;
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
               .multilabel = o->multilabel, .threads = o->threads, .mean = o->has_mean ? o->mean : NULL,
               .std = o->has_std ? o->std : NULL, .crop = o->crop};
  gc_ctx *g = gc_create(&d, err, sizeof err);
  if (!g) { fail(2, "%s: %s", o->model, err); return NULL; }
  if (!o->labels && !gc_labels(g)) { /* labels.txt beside the model, unless the model names its classes */
    const char *slash = strrchr(o->model, '/');
    int dl = slash ? (int)(slash - o->model) : 1;
    snprintf(default_labels, sizeof default_labels, "%.*s/labels.txt", dl, slash ? o->model : ".");
    FILE *f = fopen(default_labels, "rb");
    if (f) { fclose(f); o->labels = default_labels; }
  }
  labels_load(L, o->labels, gc_labels(g), gc_num_classes(g));
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


/* ---- commands -------------------------------------------------------------------------------------- */


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
      printf("{\"image\": "); json_str(o->images[i]); printf(", \"model\": \"%s\", \"top\": [", gc_arch(g));
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
int main(int argc, char **argv) {
  opts o;
  int rc = parse(argc, argv, &o);
  if (rc) return rc;
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
