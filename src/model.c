/* model.c: torchvision ResNet weights from safetensors, BatchNorm folded (see model.h). */
#include "model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

#define MD_MAX_CLASSES 100000 /* far above any real head; keeps fc allocations sane */
#define MD_MAX_CONVS (1 + 3 * GC_MAX_BLOCKS + 4) /* stem, 3 per Bottleneck, a downsample per stage */
#define MD_MAX_WIDTH 4096     /* channels of any conv (wide_resnet101_2's widest: 2048) */
#define MD_BN_EPS 1e-5

/* ---- architecture ---- */

/* One convolution (torch weight [oc][ic][k][k], no bias) and the BatchNorm that follows it. */
typedef struct md_conv_spec {
  char conv[32], bn[32]; /* name prefixes: "layer2.0.downsample.0", "layer2.0.downsample.1" */
  int oc, ic, k, stride, pad;
  gc_conv *dst;
} md_conv_spec;

static const char *const MD_BN_PARAMS[4] = {"weight", "bias", "running_mean", "running_var"};

static void md_spec(md_conv_spec *s, const char *conv, const char *bn, int oc, int ic, int k, int stride, int pad,
                    gc_conv *dst) {
  snprintf(s->conv, sizeof s->conv, "%s", conv);
  snprintf(s->bn, sizeof s->bn, "%s", bn);
  s->oc = oc, s->ic = ic, s->k = k, s->stride = stride, s->pad = pad, s->dst = dst;
}

/* dim 0 of a 4-D tensor `name` (a conv's output channels) when the file has one in range, else dflt: the
 * widths come from the file (wide variants), and a missing or misshapen tensor is reported by the checks
 * that follow, against the torchvision default. */
static int md_width(const gc_st_file *f, const char *name, int dflt) {
  const gc_st_tensor *t = gc_st_find(f, name);
  return t && t->ndim == 4 && t->shape[0] >= 1 && t->shape[0] <= MD_MAX_WIDTH ? (int)t->shape[0] : dflt;
}

/* torchvision's name for a block layout, or a description of an unusual one. */
static void md_arch_name(gc_model *m, int width1) {
  static const struct { int bottleneck, n[4]; const char *name; } known[] = {
      {0, {2, 2, 2, 2}, "resnet18"}, {0, {3, 4, 6, 3}, "resnet34"}, {1, {3, 4, 6, 3}, "resnet50"},
      {1, {3, 4, 23, 3}, "resnet101"}, {1, {3, 8, 36, 3}, "resnet152"}};
  const int *n = m->stage_blocks;
  for (size_t i = 0; i < sizeof known / sizeof *known; i++)
    if (known[i].bottleneck == m->bottleneck && !memcmp(known[i].n, n, sizeof known[i].n)) {
      if (m->bottleneck && width1 == 128 && i != 4) /* wide_resnet: the Bottleneck's middle width doubled */
        snprintf(m->arch, sizeof m->arch, "wide_%s_2", known[i].name);
      else
        snprintf(m->arch, sizeof m->arch, "%s", known[i].name);
      return;
    }
  snprintf(m->arch, sizeof m->arch, "resnet (%s %d-%d-%d-%d)", m->bottleneck ? "bottleneck" : "basic", n[0], n[1],
           n[2], n[3]);
}

/* A ResNet's shape: block type, blocks per stage, each stage's middle width and output channels (equal
 * in a BasicBlock). */
typedef struct md_arch { int bottleneck, blocks[4], width[4], cout[4]; } md_arch;
/* resnet18's (the fuzz targets build their expected names from it) */
__attribute__((unused)) static const md_arch MD_RESNET18 = {0, {2, 2, 2, 2}, {64, 128, 256, 512}, {64, 128, 256, 512}};

/* The convolutions of arch a, in state-dict order, into s; m's block table and feat. Block 0 of stages
 * 2..4 halves the resolution (BasicBlock: on conv1; Bottleneck: on conv2, torchvision v1.5), and a block
 * has a 1x1 downsample on its shortcut exactly when its stride or its channel count changes. Returns the
 * number of convolutions (a->blocks must sum to at most GC_MAX_BLOCKS). */
static int md_build(gc_model *m, const md_arch *a, md_conv_spec *s) {
  char c1[48], c2[48];
  int n = 0, cin = 64;
  m->bottleneck = a->bottleneck;
  m->n_blocks = 0;
  md_spec(&s[n++], "conv1", "bn1", 64, 3, 7, 2, 3, &m->conv1);
  for (int l = 0; l < 4; l++) {
    const int width = a->width[l], cout = a->bottleneck ? a->cout[l] : width;
    m->stage_blocks[l] = a->blocks[l];
    for (int k = 0; k < a->blocks[l]; k++) {
      gc_block *blk = &m->blocks[m->n_blocks++];
      const int stride = l > 0 && k == 0 ? 2 : 1;
      blk->stage = l + 1, blk->index = k;
      snprintf(blk->name, sizeof blk->name, "layer%d.%d", l + 1, k);
      for (int j = 1; j <= 2 + a->bottleneck; j++) {
        snprintf(c1, sizeof c1, "%s.conv%d", blk->name, j);
        snprintf(c2, sizeof c2, "%s.bn%d", blk->name, j);
        gc_conv *dst = j == 1 ? &blk->conv1 : j == 2 ? &blk->conv2 : &blk->conv3;
        if (!a->bottleneck)
          md_spec(&s[n++], c1, c2, width, j == 1 ? cin : width, 3, j == 1 ? stride : 1, 1, dst);
        else if (j == 2)
          md_spec(&s[n++], c1, c2, width, width, 3, stride, 1, dst);
        else
          md_spec(&s[n++], c1, c2, j == 1 ? width : cout, j == 1 ? cin : width, 1, 1, 0, dst);
      }
      if (stride != 1 || cin != cout) {
        snprintf(c1, sizeof c1, "%s.downsample.0", blk->name);
        snprintf(c2, sizeof c2, "%s.downsample.1", blk->name);
        md_spec(&s[n++], c1, c2, cout, cin, 1, stride, 0, &blk->down);
      }
      cin = cout;
    }
  }
  m->feat = cin;
  md_arch_name(m, a->width[0]);
  return n;
}

/* The layout of a torchvision ResNet as this file describes it: Bottleneck if layer1.0.conv3 exists, the
 * blocks of each stage counted from the names, the widths from the shapes (then md_build). Fills
 * s[0..*n) and m's block table; -1 with err when this is no ResNet we can run. */
static int md_layout(gc_model *m, const gc_st_file *f, md_conv_spec *s, int *n_specs, char *err, size_t errlen) {
  char a[48], b[48];
  md_arch arch = {0};
  if (!gc_st_find(f, "conv1.weight") || !gc_st_find(f, "layer1.0.conv1.weight")) {
    /* a foreign name ("module.conv1.weight": DataParallel; another network) says more than what is missing */
    for (int i = 0; i < f->n; i++) {
      const char *t = f->t[i].name;
      if (strncmp(t, "conv1.", 6) && strncmp(t, "bn1.", 4) && strncmp(t, "layer", 5) && strncmp(t, "fc.", 3))
        return gc_st_errorf(err, errlen, "%s: unexpected tensor (not a torchvision ResNet state dict?)", t), -1;
    }
    return gc_st_errorf(err, errlen, "%s: missing from the file (not a torchvision ResNet state dict?)",
                        gc_st_find(f, "conv1.weight") ? "layer1.0.conv1.weight" : "conv1.weight"), -1;
  }
  arch.bottleneck = gc_st_find(f, "layer1.0.conv3.weight") != NULL;
  const gc_st_tensor *g = gc_st_find(f, "layer1.0.conv2.weight");
  if (arch.bottleneck && g && g->ndim == 4 && g->shape[1] && g->shape[1] < g->shape[0] && g->shape[0] % g->shape[1] == 0)
    return gc_st_errorf(err, errlen, "layer1.0.conv2.weight: a grouped convolution (%" PRIu64 " groups: ResNeXt?), not supported",
                        g->shape[0] / g->shape[1]), -1;
  for (int l = 0, total = 0; l < 4; l++) {
    int k = 0;
    for (; k <= GC_MAX_BLOCKS; k++) {
      snprintf(a, sizeof a, "layer%d.%d.conv1.weight", l + 1, k);
      if (!gc_st_find(f, a)) break;
    }
    if (!k) return gc_st_errorf(err, errlen, "layer%d.0.conv1.weight: missing from the file", l + 1), -1;
    snprintf(a, sizeof a, "layer%d.%d.conv1.weight", l + 1, k + 1);
    if (k < GC_MAX_BLOCKS && gc_st_find(f, a)) /* a block taken out of the middle: name the gap */
      return gc_st_errorf(err, errlen, "layer%d.%d: missing from the file (layer%d.%d follows it)", l + 1, k, l + 1, k + 1), -1;
    arch.blocks[l] = k;
    if ((total += k) > GC_MAX_BLOCKS)
      return gc_st_errorf(err, errlen, "more than %d residual blocks (resnet152 has 50): not a torchvision ResNet",
                          GC_MAX_BLOCKS), -1;
    snprintf(a, sizeof a, "layer%d.0.conv1.weight", l + 1);
    snprintf(b, sizeof b, "layer%d.0.conv3.weight", l + 1);
    arch.width[l] = md_width(f, a, 64 << l);
    arch.cout[l] = arch.bottleneck ? md_width(f, b, 256 << l) : arch.width[l];
  }
  *n_specs = md_build(m, &arch, s);
  return 0;
}

/* Every tensor name the state dict has (num_batches_tracked aside), in state-dict order. */
static int md_expected_names(const md_conv_spec *s, int n_specs, char (*names)[48]) {
  int n = 0;
  for (int i = 0; i < n_specs; i++) {
    snprintf(names[n++], 48, "%s.weight", s[i].conv);
    for (int j = 0; j < 4; j++) snprintf(names[n++], 48, "%s.%s", s[i].bn, MD_BN_PARAMS[j]);
  }
  snprintf(names[n++], 48, "fc.weight");
  snprintf(names[n++], 48, "fc.bias");
  return n;
}

/* ---- tensor access ---- */

/* IEEE binary16 -> binary32; exact for every input (NaN payloads kept, subnormals normalized). */
static float md_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, man = h & 0x3ff, bits;
  float f;
  if (exp == 0) { /* zero or subnormal: man * 2^-24, exactly representable as a normal float */
    f = (float)man * 0x1p-24f;
    return sign ? -f : f;
  }
  bits = exp == 0x1f ? sign | 0x7f800000u | man << 13 : sign | (exp + 112) << 23 | man << 13;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Four halves at p (little-endian) -> four floats, exactly as md_half_to_float, with 4-wide vector
 * arithmetic (wasm SIMD; SSE natively): a normal half is its bits moved up with the exponent rebased;
 * inf/NaN get the rest of the rebase; zero/subnormal m * 2^-24 comes out of one exact float
 * subtraction, (2^-14 (1 + m/1024)) - 2^-14 (F. Giesen's method). test_model checks all 65536. */
typedef uint16_t md_h4 __attribute__((vector_size(8)));
typedef uint32_t md_u4 __attribute__((vector_size(16)));
typedef float md_f4 __attribute__((vector_size(16)));
static void md_half4(const uint8_t *p, float *out) {
  md_h4 h;
  memcpy(&h, p, sizeof h);
  const md_u4 x = __builtin_convertvector(h, md_u4);
  md_u4 u = (x & 0x7fff) << 13;
  const md_u4 e = u & 0x0f800000u;
  u += 112u << 23;                                /* exponent 15 -> 127 */
  u += (md_u4)(e == 0x0f800000u) & (112u << 23);  /* inf/NaN: all ones  */
  const md_u4 zero = (md_u4)(e == 0);
  const md_f4 magic = (md_f4)((md_u4){0, 0, 0, 0} + (113u << 23)); /* 2^-14 */
  const md_f4 sub = (md_f4)(u + (1u << 23)) - magic;
  u = (u & ~zero) | ((md_u4)sub & zero);
  u |= (x & 0x8000) << 16;
  memcpy(out, &u, sizeof u);
}

/* Elements [i0, i0 + n) (row-major) of an F32 or F16 tensor into out; little-endian, unaligned-safe.
 * One pass over contiguous bytes: the per-element path (md_elem) made loading the weights the
 * largest part of start-up. noinline, like md_fold_row: called once per output channel (4,800 times for
 * ResNet-18), it reaches V8's optimising tier after a few calls, where one call per conv would run
 * whole layers in the baseline compiler's code (wasm has no on-stack replacement). */
__attribute__((noinline)) static void md_row(const gc_st_tensor *t, size_t i0, size_t n, float *out) {
  const uint8_t *p = t->data + i0 * t->dtype_size;
  if (t->dtype_size == 2) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) md_half4(p + 2 * i, out + i);
    for (; i < n; i++) out[i] = md_half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
  } else {
    memcpy(out, p, n * sizeof(float)); /* wasm and every target we build for are little-endian */
  }
}

/* Element i (row-major) of an F32 or F16 tensor; little-endian, unaligned-safe. */
static double md_elem(const gc_st_tensor *t, size_t i) {
  const uint8_t *p = t->data + i * t->dtype_size;
  if (t->dtype_size == 2) return md_half_to_float((uint16_t)(p[0] | p[1] << 8));
  uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static void md_fmt_shape(char *buf, size_t cap, const uint64_t *d, int n) {
  size_t used = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < n && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%" PRIu64, i ? "," : "", d[i]);
  if (used < cap) snprintf(buf + used, cap - used, "]");
}

static int md_check_dtype(const gc_st_tensor *t, char *err, size_t errlen) {
  if (strcmp(t->dtype, "F32") == 0 || strcmp(t->dtype, "F16") == 0) return 0;
  gc_st_errorf(err, errlen, "%s: dtype %s not supported (F32 or F16 expected)", t->name, t->dtype);
  return -1;
}

static void md_shape_error(const gc_st_tensor *t, const char *want, char *err, size_t errlen) {
  char have[96];
  md_fmt_shape(have, sizeof have, t->shape, t->ndim);
  gc_st_errorf(err, errlen, "%s: shape %s expected, file has %s", t->name, want, have);
}

/* The tensor named `name`, checked to be F32/F16 with the given shape. Presence was checked earlier. */
static const gc_st_tensor *md_get(const gc_st_file *f, const char *name, const uint64_t *shape, int ndim,
                                  char *err, size_t errlen) {
  const gc_st_tensor *t = gc_st_find(f, name);
  if (md_check_dtype(t, err, errlen)) return NULL;
  if (t->ndim != ndim || memcmp(t->shape, shape, (size_t)ndim * sizeof *shape) != 0) {
    char want[96];
    md_fmt_shape(want, sizeof want, shape, ndim);
    md_shape_error(t, want, err, errlen);
    return NULL;
  }
  return t;
}

/* ---- loading ---- */

static int md_out_of_memory(char *err, size_t errlen) {
  gc_st_errorf(err, errlen, "out of memory");
  return -1;
}

/* One output channel: dst [k*k][ic] = row [ic][k*k] * scale (OIHW -> OHWI, BN folded, in double). */
__attribute__((noinline)) static void md_fold_row(float *dst, const float *row, double scale, size_t ic, size_t kk) {
  for (size_t yx = 0; yx < kk; yx++) /* contiguous stores; the reads stay in the row (L1) */
    for (size_t i = 0; i < ic; i++) dst[yx * ic + i] = (float)(row[i * kk + yx] * scale);
}

/* Conv + BN -> gc_conv: w' = w * scale (OIHW -> OHWI), b' = beta - mean * scale, in double.
 * names: the conv weight, then the 4 BN tensors, as md_expected_names lists them. */
static int md_load_conv(const gc_st_file *f, const md_conv_spec *s, char names[5][48], char *err,
                        size_t errlen) {
  const uint64_t wshape[4] = {(uint64_t)s->oc, (uint64_t)s->ic, (uint64_t)s->k, (uint64_t)s->k};
  const uint64_t bnshape[1] = {(uint64_t)s->oc};
  const gc_st_tensor *w, *bn[4];
  if (!(w = md_get(f, names[0], wshape, 4, err, errlen))) return -1;
  for (int j = 0; j < 4; j++)
    if (!(bn[j] = md_get(f, names[1 + j], bnshape, 1, err, errlen))) return -1;
  gc_conv *c = s->dst;
  size_t oc = (size_t)s->oc, ic = (size_t)s->ic, k = (size_t)s->k;
  c->oc = s->oc, c->ic = s->ic, c->kh = c->kw = s->k, c->stride = s->stride, c->pad = s->pad;
  c->w = malloc(oc * k * k * ic * sizeof *c->w);
  c->b = malloc(oc * sizeof *c->b);
  c->bn_scale = malloc(oc * sizeof *c->bn_scale);
  c->bn_shift = malloc(oc * sizeof *c->bn_shift);
  float *row = malloc(ic * k * k * sizeof *row); /* one output channel's weights, [ic][k][k] as in the file */
  if (!c->w || !c->b || !c->bn_scale || !c->bn_shift || !row) { free(row); return md_out_of_memory(err, errlen); }
  for (size_t o = 0; o < oc; o++) {
    double gamma = md_elem(bn[0], o), beta = md_elem(bn[1], o), mean = md_elem(bn[2], o),
           var = md_elem(bn[3], o);
    if (!(var >= 0)) { /* sqrt would yield NaN for the whole channel */
      gc_st_errorf(err, errlen, "%s.running_var[%zu]: %g is not a valid variance", s->bn, o, var);
      free(row);
      return -1;
    }
    double scale = gamma / sqrt(var + MD_BN_EPS), shift = beta - mean * scale;
    if (!isfinite(scale) || !isfinite(shift)) { /* an inf/NaN gamma, beta or mean: NaN weights, a blank CAM */
      gc_st_errorf(err, errlen, "%s[%zu]: BatchNorm gives a non-finite scale or shift (gamma %g, beta %g, mean %g)",
                   s->bn, o, gamma, beta, mean);
      free(row);
      return -1;
    }
    c->bn_scale[o] = (float)scale;
    c->bn_shift[o] = c->b[o] = (float)shift;
    md_row(w, o * ic * k * k, ic * k * k, row);
    md_fold_row(c->w + o * k * k * ic, row, scale, ic, k * k);
  }
  free(row);
  return 0;
}

/* fc.weight [N,feat], fc.bias [N]; N comes from the file. */
static int md_load_fc(gc_model *m, const gc_st_file *f, char *err, size_t errlen) {
  const gc_st_tensor *w = gc_st_find(f, "fc.weight"), *b;
  if (md_check_dtype(w, err, errlen)) return -1;
  if (w->ndim != 2 || w->shape[1] != (uint64_t)m->feat) {
    char want[24];
    snprintf(want, sizeof want, "[N,%d]", m->feat);
    md_shape_error(w, want, err, errlen);
    return -1;
  }
  uint64_t n = w->shape[0];
  if (n < 1 || n > MD_MAX_CLASSES) {
    gc_st_errorf(err, errlen, "fc.weight: %" PRIu64 " classes, 1..%d supported", n, MD_MAX_CLASSES);
    return -1;
  }
  const uint64_t bshape[1] = {n};
  if (!(b = md_get(f, "fc.bias", bshape, 1, err, errlen))) return -1;
  m->fc_w = malloc((size_t)n * m->feat * sizeof *m->fc_w);
  m->fc_b = malloc((size_t)n * sizeof *m->fc_b);
  if (!m->fc_w || !m->fc_b) return md_out_of_memory(err, errlen);
  m->num_classes = (int)n;
  md_row(w, 0, (size_t)n * m->feat, m->fc_w);
  md_row(b, 0, (size_t)n, m->fc_b);
  return 0;
}

static int md_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Names first: an unexpected tensor (a ResNeXt's extra, DataParallel's "module." prefix) says more about a
 * wrong file than the first missing or misshapen one would. A file with more tensors than the layout
 * can have (each BatchNorm may add num_batches_tracked) is refused before the quadratic name check. */
static int md_check_names(const gc_st_file *f, const gc_model *m, char (*names)[48], int n_names, char *err,
                          size_t errlen) {
  if (f->n > 2 * n_names) {
    gc_st_errorf(err, errlen, "%d tensors: more than a torchvision %s has (%d, %d with num_batches_tracked)", f->n,
                 m->arch, n_names, n_names + (n_names - 2) / 5);
    return -1;
  }
  for (int i = 0; i < f->n; i++) {
    const char *name = f->t[i].name;
    int known = md_ends_with(name, ".num_batches_tracked");
    for (int j = 0; j < n_names && !known; j++) known = strcmp(name, names[j]) == 0;
    if (!known) {
      gc_st_errorf(err, errlen, "%s: unexpected tensor (not a torchvision %s state dict?)", name, m->arch);
      return -1;
    }
  }
  for (int j = 0; j < n_names; j++)
    if (!gc_st_find(f, names[j])) {
      gc_st_errorf(err, errlen, "%s: missing from the file", names[j]);
      return -1;
    }
  return 0;
}

/* The convolutions are independent (each reads its own tensors, writes its own gc_conv): one task per
 * conv, so a thread pool loads them side by side, bit-identical to one thread. ResNet-18's 20 convs differ
 * in size by 500x (layer4's 3x3 are 2.4 M weights, the downsamples 8-131 K): the pool's work stealing
 * evens that. */
typedef struct md_jobs {
  const gc_st_file *f;
  const md_conv_spec *s;
  char (*names)[48];
  int rc[MD_MAX_CONVS];
  char err[MD_MAX_CONVS][192];
} md_jobs;

static void md_conv_task(void *ctx, size_t thread, size_t i) {
  md_jobs *j = ctx;
  (void)thread;
  j->rc[i] = md_load_conv(j->f, &j->s[i], &j->names[5 * i], j->err[i], sizeof j->err[i]);
}

/* ---- preprocessing (the file's metadata) ---- */

/* "a,b,c": exactly three finite numbers (positive for a std). */
int gc_parse_triple(const char *s, int positive, float out[3]) {
  const char *p = s;
  for (int i = 0; i < 3; i++) {
    char *e;
    const float x = strtof(p, &e); /* skips leading blanks; trailing ones too, as the JS parseTriple does */
    if (e != p) while (*e == ' ' || *e == '\t') e++;
    if (e == p || !isfinite(x) || (positive && !(x > 0)) || *e != (i < 2 ? ',' : 0)) return -1;
    out[i] = x;
    p = e + 1;
  }
  return 0;
}

static int md_triple(const char *key, const char *v, int positive, float out[3], char *err, size_t errlen) {
  if (!gc_parse_triple(v, positive, out)) return 0;
  gc_st_errorf(err, errlen, "%s: '%s' is not three %s numbers separated by commas", key, v,
               positive ? "positive" : "finite");
  return -1;
}

/* A whole decimal number in [lo, hi], or -1. */
static long md_int(const char *p, const char **end, long lo, long hi) {
  long v = 0;
  if (*p < '0' || *p > '9') return -1;
  for (; *p >= '0' && *p <= '9' && v <= hi; p++) v = v * 10 + (*p - '0');
  *end = p;
  return v >= lo && v <= hi ? v : -1;
}

static int md_preproc(gc_model *m, const gc_st_file *f, char *err, size_t errlen) {
  gc_preproc *pp = &m->pre;
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  memcpy(pp->mean, mean, sizeof mean);
  memcpy(pp->std, std, sizeof std);
  if (*f->mean && md_triple("gradcam.mean", f->mean, 0, pp->mean, err, errlen)) return -1;
  if (*f->std && md_triple("gradcam.std", f->std, 1, pp->std, err, errlen)) return -1;
  if (*f->size) { /* "WxH" or "N" (square) */
    const char *e = f->size;
    long w = md_int(e, &e, 32, 4096), h = w;
    if (w > 0 && *e == 'x') h = md_int(e + 1, &e, 32, 4096);
    if (w < 0 || h < 0 || *e) {
      gc_st_errorf(err, errlen, "gradcam.size: '%s' is not WxH with sides in 32..4096", f->size);
      return -1;
    }
    pp->w = (int)w, pp->h = (int)h;
  }
  if (*f->resize) {
    const char *e = f->resize;
    const long r = md_int(e, &e, 32, 8192);
    if (r < 0 || *e) {
      gc_st_errorf(err, errlen, "gradcam.resize: '%s' is not a size in 32..8192", f->resize);
      return -1;
    }
    pp->resize = (int)r;
  }
  if (f->labels) {
    const size_t len = strlen(f->labels);
    int n = len > 0;
    for (size_t i = 0; i + 1 < len; i++) n += f->labels[i] == '\n'; /* a trailing newline ends the last name */
    if (n != m->num_classes) {
      gc_st_errorf(err, errlen, "gradcam.labels: %d names for %d classes", n, m->num_classes);
      return -1;
    }
    if (!(pp->labels = malloc(len + 1))) return md_out_of_memory(err, errlen);
    memcpy(pp->labels, f->labels, len + 1);
  }
  return 0;
}

int gc_model_load_par(gc_model *m, const uint8_t *data, size_t size, const gc_parallel *par, char *err,
                      size_t errlen) {
  gc_st_file f;
  int n_specs = 0, n_names = 0;
  memset(m, 0, sizeof *m);
  if (gc_st_parse(&f, data, size, err, errlen)) return -1;
  md_conv_spec *s = malloc(MD_MAX_CONVS * sizeof *s);
  char(*names)[48] = malloc((MD_MAX_CONVS * 5 + 2) * sizeof *names);
  md_jobs *j = malloc(sizeof *j);
  int rc = !s || !names || !j ? md_out_of_memory(err, errlen) : md_layout(m, &f, s, &n_specs, err, errlen);
  if (rc == 0) {
    n_names = md_expected_names(s, n_specs, names);
    rc = md_check_names(&f, m, names, n_names, err, errlen) || md_load_fc(m, &f, err, errlen) ||
                 md_preproc(m, &f, err, errlen) ? -1 : 0;
  }
  if (rc == 0) {
    *j = (md_jobs){.f = &f, .s = s, .names = names};
    gc_parallel_for(par, md_conv_task, j, (size_t)n_specs);
    for (int i = 0; i < n_specs && rc == 0; i++) /* the first failing conv in file order, as before */
      if (j->rc[i]) rc = -1, snprintf(err, errlen, "%s", j->err[i]);
  }
  free(j); free(names); free(s);
  m->sigmoid_head = strcmp(f.head, "sigmoid") == 0;
  gc_st_free(&f);
  if (rc) gc_model_free(m);
  return rc;
}

int gc_model_load(gc_model *m, const uint8_t *data, size_t size, char *err, size_t errlen) {
  return gc_model_load_par(m, data, size, NULL, err, errlen);
}

/* ---- freeing ---- */

static void md_free_conv(gc_conv *c) {
  free(c->w);
  free(c->b);
  free(c->bn_scale);
  free(c->bn_shift);
}

void gc_model_free(gc_model *m) {
  md_free_conv(&m->conv1);
  for (int i = 0; i < GC_MAX_BLOCKS; i++) {
    md_free_conv(&m->blocks[i].conv1);
    md_free_conv(&m->blocks[i].conv2);
    md_free_conv(&m->blocks[i].conv3);
    md_free_conv(&m->blocks[i].down);
  }
  free(m->fc_w);
  free(m->fc_b);
  free(m->pre.labels);
  memset(m, 0, sizeof *m);
}
