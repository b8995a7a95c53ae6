/* model.c: ResNet-18 weights from safetensors, BatchNorm folded (see model.h). */
#include "model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

#define MD_MAX_CLASSES 100000 /* far above any real head; keeps fc allocations sane */
#define MD_N_CONVS 20         /* conv1 + 8 blocks x 2 + 3 downsamples */
#define MD_N_NAMES (MD_N_CONVS * 5 + 2)
#define MD_BN_EPS 1e-5

/* ---- architecture ---- */

/* One convolution (torch weight [oc][ic][k][k], no bias) and the BatchNorm that follows it. */
typedef struct md_conv_spec {
  char conv[32], bn[32]; /* name prefixes: "layer2.0.downsample.0", "layer2.0.downsample.1" */
  int oc, ic, k, stride, pad;
  gc_conv *dst;
} md_conv_spec;

static const char *const MD_BN_PARAMS[4] = {"weight", "bias", "running_mean", "running_var"};

static void md_spec(md_conv_spec *s, int oc, int ic, int k, int stride, int pad, gc_conv *dst) {
  s->oc = oc, s->ic = ic, s->k = k, s->stride = stride, s->pad = pad, s->dst = dst;
}

/* torchvision resnet18: layerL (L = 1..4) has two BasicBlocks; block 0 of layers 2..4 halves the
 * resolution with its 3x3 conv1 and with a 1x1 downsample on the shortcut. */
static void md_layout(gc_model *m, md_conv_spec s[MD_N_CONVS]) {
  static const int width[4] = {64, 128, 256, 512};
  int n = 0, cin = 64;
  snprintf(s[n].conv, sizeof s[n].conv, "conv1");
  snprintf(s[n].bn, sizeof s[n].bn, "bn1");
  md_spec(&s[n++], 64, 3, 7, 2, 3, &m->conv1);
  for (int l = 0; l < 4; l++) {
    int c = width[l];
    for (int b = 0; b < 2; b++) {
      gc_block *blk = &m->blocks[2 * l + b];
      int stride = l > 0 && b == 0 ? 2 : 1;
      for (int j = 1; j <= 2; j++) {
        snprintf(s[n].conv, sizeof s[n].conv, "layer%d.%d.conv%d", l + 1, b, j);
        snprintf(s[n].bn, sizeof s[n].bn, "layer%d.%d.bn%d", l + 1, b, j);
        if (j == 1)
          md_spec(&s[n++], c, b == 0 ? cin : c, 3, stride, 1, &blk->conv1);
        else
          md_spec(&s[n++], c, c, 3, 1, 1, &blk->conv2);
      }
      if (stride == 2) {
        snprintf(s[n].conv, sizeof s[n].conv, "layer%d.0.downsample.0", l + 1);
        snprintf(s[n].bn, sizeof s[n].bn, "layer%d.0.downsample.1", l + 1);
        md_spec(&s[n++], c, cin, 1, 2, 0, &blk->down);
      }
    }
    cin = c;
  }
}

/* Every tensor name a resnet18 state dict has (num_batches_tracked aside), in state-dict order. */
static void md_expected_names(const md_conv_spec s[MD_N_CONVS], char names[MD_N_NAMES][48]) {
  int n = 0;
  for (int i = 0; i < MD_N_CONVS; i++) {
    snprintf(names[n++], 48, "%s.weight", s[i].conv);
    for (int j = 0; j < 4; j++) snprintf(names[n++], 48, "%s.%s", s[i].bn, MD_BN_PARAMS[j]);
  }
  snprintf(names[n++], 48, "fc.weight");
  snprintf(names[n++], 48, "fc.bias");
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

/* fc.weight [N,512], fc.bias [N]; N comes from the file. */
static int md_load_fc(gc_model *m, const gc_st_file *f, char *err, size_t errlen) {
  const gc_st_tensor *w = gc_st_find(f, "fc.weight"), *b;
  if (md_check_dtype(w, err, errlen)) return -1;
  if (w->ndim != 2 || w->shape[1] != GC_FEAT) {
    md_shape_error(w, "[N,512]", err, errlen);
    return -1;
  }
  uint64_t n = w->shape[0];
  if (n < 1 || n > MD_MAX_CLASSES) {
    gc_st_errorf(err, errlen, "fc.weight: %" PRIu64 " classes, 1..%d supported", n, MD_MAX_CLASSES);
    return -1;
  }
  const uint64_t bshape[1] = {n};
  if (!(b = md_get(f, "fc.bias", bshape, 1, err, errlen))) return -1;
  m->fc_w = malloc((size_t)n * GC_FEAT * sizeof *m->fc_w);
  m->fc_b = malloc((size_t)n * sizeof *m->fc_b);
  if (!m->fc_w || !m->fc_b) return md_out_of_memory(err, errlen);
  m->num_classes = (int)n;
  md_row(w, 0, (size_t)n * GC_FEAT, m->fc_w);
  md_row(b, 0, (size_t)n, m->fc_b);
  return 0;
}

static int md_ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Names first: an unexpected tensor (resnet34's layer1.2.*, DataParallel's "module." prefix) says
 * more about a wrong file than the first missing or misshapen one would. */
static int md_check_names(const gc_st_file *f, char names[MD_N_NAMES][48], char *err, size_t errlen) {
  for (int i = 0; i < f->n; i++) {
    const char *name = f->t[i].name;
    int known = md_ends_with(name, ".num_batches_tracked");
    for (int j = 0; j < MD_N_NAMES && !known; j++) known = strcmp(name, names[j]) == 0;
    if (!known) {
      gc_st_errorf(err, errlen, "%s: unexpected tensor (not a torchvision resnet18 state dict?)", name);
      return -1;
    }
  }
  for (int j = 0; j < MD_N_NAMES; j++)
    if (!gc_st_find(f, names[j])) {
      gc_st_errorf(err, errlen, "%s: missing from the file", names[j]);
      return -1;
    }
  return 0;
}

/* The convolutions are independent (each reads its own tensors, writes its own gc_conv): one task per
 * conv, so a thread pool loads them side by side, bit-identical to one thread. The 20 convs differ in size
 * by 500x (layer4's 3x3 are 2.4 M weights, the downsamples 8-131 K): the pool's work stealing evens that. */
typedef struct md_jobs {
  const gc_st_file *f;
  const md_conv_spec *s;
  char (*names)[48];
  int rc[MD_N_CONVS];
  char err[MD_N_CONVS][192];
} md_jobs;

static void md_conv_task(void *ctx, size_t thread, size_t i) {
  md_jobs *j = ctx;
  (void)thread;
  j->rc[i] = md_load_conv(j->f, &j->s[i], &j->names[5 * i], j->err[i], sizeof j->err[i]);
}

int gc_model_load_par(gc_model *m, const uint8_t *data, size_t size, const gc_parallel *par, char *err,
                      size_t errlen) {
  gc_st_file f;
  md_conv_spec s[MD_N_CONVS];
  char names[MD_N_NAMES][48];
  memset(m, 0, sizeof *m);
  if (gc_st_parse(&f, data, size, err, errlen)) return -1;
  md_layout(m, s);
  md_expected_names(s, names);
  int rc = md_check_names(&f, names, err, errlen) || md_load_fc(m, &f, err, errlen) ? -1 : 0;
  if (rc == 0) {
    md_jobs *j = malloc(sizeof *j);
    if (!j) {
      rc = md_out_of_memory(err, errlen);
    } else {
      *j = (md_jobs){.f = &f, .s = s, .names = names};
      gc_parallel_for(par, md_conv_task, j, MD_N_CONVS);
      for (int i = 0; i < MD_N_CONVS && rc == 0; i++) /* the first failing conv in file order, as before */
        if (j->rc[i]) rc = -1, snprintf(err, errlen, "%s", j->err[i]);
      free(j);
    }
  }
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
  for (int i = 0; i < 8; i++) {
    md_free_conv(&m->blocks[i].conv1);
    md_free_conv(&m->blocks[i].conv2);
    md_free_conv(&m->blocks[i].down);
  }
  free(m->fc_w);
  free(m->fc_b);
  memset(m, 0, sizeof *m);
}
