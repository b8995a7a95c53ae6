/* test_model.c: the safetensors parser and the ResNet-18 loader (BN folding, OHWI, error paths).
 *
 * Synthetic state dicts are built here from random binary16 values, so that the same numbers can be
 * written as F32 (exactly) or F16 and checked against a reference computed independently of model.c.
 */
#include "../../src/model.c"
#include "../../src/safetensors.c"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_pool.h"

/* ---- reference data ---- */

/* torchvision resnet18, written out by hand (not taken from model.c's layout). */
static const struct {
  const char *conv, *bn;
  int oc, ic, k, stride, pad, block, slot; /* block -1: the stem; slot 0 conv1, 1 conv2, 2 downsample */
} CONVS[20] = {
    {"conv1", "bn1", 64, 3, 7, 2, 3, -1, 0},
    {"layer1.0.conv1", "layer1.0.bn1", 64, 64, 3, 1, 1, 0, 0},
    {"layer1.0.conv2", "layer1.0.bn2", 64, 64, 3, 1, 1, 0, 1},
    {"layer1.1.conv1", "layer1.1.bn1", 64, 64, 3, 1, 1, 1, 0},
    {"layer1.1.conv2", "layer1.1.bn2", 64, 64, 3, 1, 1, 1, 1},
    {"layer2.0.conv1", "layer2.0.bn1", 128, 64, 3, 2, 1, 2, 0},
    {"layer2.0.conv2", "layer2.0.bn2", 128, 128, 3, 1, 1, 2, 1},
    {"layer2.0.downsample.0", "layer2.0.downsample.1", 128, 64, 1, 2, 0, 2, 2},
    {"layer2.1.conv1", "layer2.1.bn1", 128, 128, 3, 1, 1, 3, 0},
    {"layer2.1.conv2", "layer2.1.bn2", 128, 128, 3, 1, 1, 3, 1},
    {"layer3.0.conv1", "layer3.0.bn1", 256, 128, 3, 2, 1, 4, 0},
    {"layer3.0.conv2", "layer3.0.bn2", 256, 256, 3, 1, 1, 4, 1},
    {"layer3.0.downsample.0", "layer3.0.downsample.1", 256, 128, 1, 2, 0, 4, 2},
    {"layer3.1.conv1", "layer3.1.bn1", 256, 256, 3, 1, 1, 5, 0},
    {"layer3.1.conv2", "layer3.1.bn2", 256, 256, 3, 1, 1, 5, 1},
    {"layer4.0.conv1", "layer4.0.bn1", 512, 256, 3, 2, 1, 6, 0},
    {"layer4.0.conv2", "layer4.0.bn2", 512, 512, 3, 1, 1, 6, 1},
    {"layer4.0.downsample.0", "layer4.0.downsample.1", 512, 256, 1, 2, 0, 6, 2},
    {"layer4.1.conv1", "layer4.1.bn1", 512, 512, 3, 1, 1, 7, 0},
    {"layer4.1.conv2", "layer4.1.bn2", 512, 512, 3, 1, 1, 7, 1},
};

static uint32_t rng = 0x2545f491;
static uint32_t rnd(void) { /* xorshift32: deterministic across native and wasm */
  rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
  return rng;
}

/* Random half with exponent field in [emin, emax]; emin 0 allows subnormals. */
static uint16_t rand_half(int emin, int emax, int signed_) {
  uint16_t sign = signed_ && (rnd() & 1) ? 0x8000 : 0;
  return (uint16_t)(sign | (uint16_t)(emin + (int)(rnd() % (uint32_t)(emax - emin + 1))) << 10 |
                    (rnd() & 0x3ff));
}

/* Straight from the binary16 definition, independent of model.c's bit manipulation. */
static double ref_half(uint16_t h) {
  int e = h >> 10 & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
  return h & 0x8000 ? -v : v;
}

/* ---- synthetic state dicts ---- */

#define MAXT 256
typedef struct tt {
  char name[64], dtype[8];
  int ndim;
  uint64_t shape[4];
  uint16_t *h; /* source values (binary16); elements past hn are written as 0 */
  size_t hn;
} tt;
typedef struct tset {
  tt t[MAXT];
  int n;
} tset; /* copies share the h arrays of the original */

static tt *add(tset *s, const char *name, const char *dtype, int ndim, uint64_t d0, uint64_t d1, uint64_t d2,
               uint64_t d3) {
  tt *t = &s->t[s->n++];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
  t->ndim = ndim;
  t->shape[0] = d0, t->shape[1] = d1, t->shape[2] = d2, t->shape[3] = d3;
  return t;
}

static void fill(tt *t, size_t n, int emin, int emax, int signed_) {
  t->h = malloc(n * sizeof *t->h);
  t->hn = n;
  for (size_t i = 0; i < n; i++) t->h[i] = rand_half(emin, emax, signed_);
}

/* A resnet18 state dict in torchvision's order; with_nbt adds the I64 num_batches_tracked scalars. */
static tset make_set(int classes, const char *dtype, int with_nbt) {
  tset s = {.n = 0};
  char name[64];
  for (int i = 0; i < 20; i++) {
    size_t oc = (size_t)CONVS[i].oc, k = (size_t)CONVS[i].k;
    snprintf(name, sizeof name, "%s.weight", CONVS[i].conv);
    fill(add(&s, name, dtype, 4, oc, (uint64_t)CONVS[i].ic, k, k), oc * (size_t)CONVS[i].ic * k * k, 9, 14,
         1);
    static const char *bn[4] = {"weight", "bias", "running_mean", "running_var"};
    static const int lo[4] = {13, 9, 9, 11}, hi[4] = {15, 14, 14, 16}, sg[4] = {0, 1, 1, 0};
    for (int j = 0; j < 4; j++) {
      snprintf(name, sizeof name, "%s.%s", CONVS[i].bn, bn[j]);
      fill(add(&s, name, dtype, 1, oc, 0, 0, 0), oc, lo[j], hi[j], sg[j]);
    }
    snprintf(name, sizeof name, "%s.num_batches_tracked", CONVS[i].bn);
    if (with_nbt) add(&s, name, "I64", 0, 0, 0, 0, 0);
  }
  tt *w = add(&s, "fc.weight", dtype, 2, (uint64_t)classes, 512, 0, 0);
  fill(w, (size_t)classes * 512, 9, 14, 1);
  for (size_t i = 0; i < w->hn; i += 97) w->h[i] = rand_half(0, 0, 1); /* subnormals */
  fill(add(&s, "fc.bias", dtype, 1, (uint64_t)classes, 0, 0, 0), (size_t)classes, 9, 14, 1);
  return s;
}

static void free_set(tset *s) {
  for (int i = 0; i < s->n; i++) free(s->t[i].h);
}

static tt *find(tset *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
  return NULL;
}

static double val(const tt *t, size_t i) { return ref_half(i < t->hn ? t->h[i] : 0); }

static size_t elsize(const char *dtype) {
  return strcmp(dtype, "F16") == 0 || strcmp(dtype, "BF16") == 0 ? 2 : strcmp(dtype, "I64") == 0 ? 8 : 4;
}

typedef struct sb {
  char *p;
  size_t n, cap;
} sb;
static void sbf(sb *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (b->n + (size_t)k + 1 > b->cap) {
    b->cap = 2 * (b->n + (size_t)k + 1);
    b->p = realloc(b->p, b->cap);
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)k;
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i);
}

/* 8-byte length + json + blob (zeros if blob is NULL). */
static uint8_t *pack(const char *json, size_t jn, const uint8_t *blob, size_t bn, size_t *size) {
  uint8_t *b = calloc(8 + jn + bn + 1, 1); /* +1: never malloc(0) */
  put_u64(b, jn);
  memcpy(b + 8, json, jn);
  if (blob) memcpy(b + 8 + jn, blob, bn);
  *size = 8 + jn + bn;
  return b;
}

static uint8_t *build(const tset *s, size_t *size, size_t *json_len) {
  sb j = {0};
  uint64_t off = 0;
  sbf(&j, "{");
  for (int i = 0; i < s->n; i++) {
    const tt *t = &s->t[i];
    uint64_t numel = 1;
    sbf(&j, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name, t->dtype);
    for (int d = 0; d < t->ndim; d++)
      sbf(&j, "%s%llu", d ? "," : "", (unsigned long long)t->shape[d]), numel *= t->shape[d];
    sbf(&j, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
        (unsigned long long)(off + numel * elsize(t->dtype)));
    off += numel * elsize(t->dtype);
  }
  sbf(&j, "%s\"__metadata__\":{\"format\":\"pt\"}}", s->n ? "," : "");
  uint8_t *blob = calloc((size_t)off + 1, 1), *p = blob;
  for (int i = 0; i < s->n; i++) {
    const tt *t = &s->t[i];
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
    for (size_t k = 0; k < numel; k++) {
      uint16_t h = k < t->hn ? t->h[k] : 0;
      if (strcmp(t->dtype, "F16") == 0) {
        *p++ = (uint8_t)h, *p++ = (uint8_t)(h >> 8);
      } else if (strcmp(t->dtype, "F32") == 0) {
        float f = (float)ref_half(h);
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int b = 0; b < 4; b++) *p++ = (uint8_t)(u >> 8 * b);
      } else {
        p += elsize(t->dtype);
      }
    }
  }
  uint8_t *out = pack(j.p, j.n, blob, (size_t)off, size);
  if (json_len) *json_len = j.n;
  free(j.p);
  free(blob);
  return out;
}

/* ---- helpers ---- */

static int all_zero(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

/* gc_model_load must fail with a one-line message containing want, leaving *m zeroed. */
static void expect_fail(const char *what, const uint8_t *buf, size_t size, const char *want) {
  gc_model m;
  char err[256] = "";
  memset(&m, 0xab, sizeof m);
  int rc = gc_model_load(&m, buf, size, err, sizeof err);
  int ok = rc == -1 && err[0] && !strchr(err, '\n') && all_zero(&m, sizeof m) && (!want || strstr(err, want));
  CHECK(ok, "%s: rc=%d err=\"%s\", want \"%s\"", what, rc, err, want ? want : "");
  if (ok) printf("ok   %-34s %s\n", what, err);
  if (rc == 0) gc_model_free(&m);
}

static void expect_fail_set(const char *what, const tset *s, const char *want) {
  size_t size;
  uint8_t *buf = build(s, &size, NULL);
  expect_fail(what, buf, size, want);
  free(buf);
}

static void expect_fail_json(const char *what, const char *json, size_t blob, const char *want) {
  size_t size;
  uint8_t *buf = pack(json, strlen(json), NULL, blob, &size);
  expect_fail(what, buf, size, want);
  free(buf);
}

static gc_conv *conv_of(gc_model *m, int i) {
  if (CONVS[i].block < 0) return &m->conv1;
  gc_block *b = &m->blocks[CONVS[i].block];
  return CONVS[i].slot == 0 ? &b->conv1 : CONVS[i].slot == 1 ? &b->conv2 : &b->down;
}

/* ---- tests: binary16 ---- */

static void test_half(void) {
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000; h++) {
    float got = md_half_to_float((uint16_t)h);
    double want = ref_half((uint16_t)h);
    uint32_t bits;
    memcpy(&bits, &got, 4);
    if (isnan(want))
      bad += bits != ((h & 0x8000u) << 16 | 0x7f800000u | (h & 0x3ffu) << 13);
    else
      bad += (double)got != want || !signbit(got) != !signbit(want);
  }
  CHECK(bad == 0, "half_to_float: %d of 65536 values wrong", bad);
  /* the vector path (md_row, 4 at a time, tail 1 at a time) gives the same bits for every half */
  static uint8_t bytes[2 * 0x10001];
  static float row[0x10001];
  for (uint32_t h = 0; h <= 0x10000; h++) bytes[2 * h] = (uint8_t)h, bytes[2 * h + 1] = (uint8_t)(h >> 8);
  gc_st_tensor t = {.dtype_size = 2, .data = bytes};
  md_row(&t, 0, 0x10001, row); /* 65537: the last one goes through the scalar tail */
  int vbad = 0;
  for (uint32_t h = 0; h <= 0x10000; h++) {
    float want = md_half_to_float((uint16_t)h);
    vbad += memcmp(&row[h], &want, 4) != 0;
  }
  CHECK(vbad == 0, "md_row F16: %d of 65537 values differ from md_half_to_float", vbad);
  CHECK(md_half_to_float(0x0001) == 0x1p-24f && md_half_to_float(0x7bff) == 65504.0f,
        "half_to_float extremes");
}

/* ---- tests: successful loads ---- */

/* Folded weights, OHWI order and fields, elementwise against the formula in model.h. */
static void check_convs(gc_model *m, tset *s) {
  char name[64];
  for (int i = 0; i < 20; i++) {
    gc_conv *c = conv_of(m, i);
    int oc = CONVS[i].oc, ic = CONVS[i].ic, k = CONVS[i].k, bad = 0;
    CHECK(c->oc == oc && c->ic == ic && c->kh == k && c->kw == k && c->stride == CONVS[i].stride &&
              c->pad == CONVS[i].pad && c->w && c->b && c->bn_scale && c->bn_shift,
          "%s: fields oc=%d ic=%d k=%dx%d stride=%d pad=%d", CONVS[i].conv, c->oc, c->ic, c->kh, c->kw,
          c->stride, c->pad);
    if (!c->w) continue;
    snprintf(name, sizeof name, "%s.weight", CONVS[i].conv);
    tt *w = find(s, name), *bn[4];
    static const char *p[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int j = 0; j < 4; j++)
      snprintf(name, sizeof name, "%s.%s", CONVS[i].bn, p[j]), bn[j] = find(s, name);
    for (int o = 0; o < oc; o++) {
      double scale = val(bn[0], (size_t)o) / sqrt(val(bn[3], (size_t)o) + 1e-5);
      double shift = val(bn[1], (size_t)o) - val(bn[2], (size_t)o) * scale;
      double tol = 1e-6 * (fabs(val(bn[1], (size_t)o)) + fabs(val(bn[2], (size_t)o) * scale)) + 1e-30;
      bad += fabs(c->bn_scale[o] - scale) > 1e-6 * fabs(scale) || fabs(c->b[o] - shift) > tol ||
             fabs(c->bn_shift[o] - shift) > tol;
      for (int ci = 0; ci < ic; ci++)
        for (int y = 0; y < k; y++)
          for (int x = 0; x < k; x++) {
            double want = val(w, (size_t)(((o * ic + ci) * k + y) * k + x)) * scale;
            bad += fabs(c->w[((o * k + y) * k + x) * ic + ci] - want) > 1e-6 * fabs(want) + 1e-30;
          }
    }
    CHECK(bad == 0, "%s: %d folded values differ from w*gamma/sqrt(var+eps), beta-mean*scale", CONVS[i].conv,
          bad);
  }
  for (int b = 0; b < 8; b++)
    if (b == 0 || b % 2 == 1)
      CHECK(m->blocks[b].down.oc == 0 && !m->blocks[b].down.w, "block %d has no downsample", b);
}

/* conv + BN evaluated the unfused way on one random patch equals the folded conv, per channel. */
static void check_fused_equals_unfused(gc_model *m, tset *s, int i) {
  char name[64];
  int oc = CONVS[i].oc, ic = CONVS[i].ic, k = CONVS[i].k, bad = 0;
  gc_conv *c = conv_of(m, i);
  double *x = malloc(sizeof *x * (size_t)(k * k * ic)); /* patch, [y][x][ci] */
  for (int j = 0; j < k * k * ic; j++) x[j] = ref_half(rand_half(12, 15, 1));
  snprintf(name, sizeof name, "%s.weight", CONVS[i].conv);
  tt *w = find(s, name), *bn[4];
  static const char *p[4] = {"weight", "bias", "running_mean", "running_var"};
  for (int j = 0; j < 4; j++) snprintf(name, sizeof name, "%s.%s", CONVS[i].bn, p[j]), bn[j] = find(s, name);
  for (int o = 0; o < oc; o++) {
    double raw = 0, fused = c->b[o], mag = 0;
    for (int ci = 0; ci < ic; ci++)
      for (int y = 0; y < k; y++)
        for (int xx = 0; xx < k; xx++) {
          double v = x[(y * k + xx) * ic + ci];
          raw += val(w, (size_t)(((o * ic + ci) * k + y) * k + xx)) * v;
          fused += c->w[((o * k + y) * k + xx) * ic + ci] * v;
          mag += fabs(c->w[((o * k + y) * k + xx) * ic + ci] * v);
        }
    double bn_out =
        val(bn[0], (size_t)o) * (raw - val(bn[2], (size_t)o)) / sqrt(val(bn[3], (size_t)o) + 1e-5) +
        val(bn[1], (size_t)o);
    double tol = 1e-5 * (mag + fabs(bn_out)) + 1e-6;
    bad += fabs(fused - bn_out) > tol || fabs(raw * c->bn_scale[o] + c->bn_shift[o] - bn_out) > tol;
  }
  CHECK(bad == 0, "%s: folded conv differs from conv->BN on %d channels", CONVS[i].conv, bad);
  free(x);
}

static void test_load(const char *what, int classes, const char *dtype, int with_nbt, int mixed) {
  tset s = make_set(classes, dtype, with_nbt);
  if (mixed)
    for (int i = 0; i < s.n; i += 2)
      if (strcmp(s.t[i].dtype, "I64") != 0) strcpy(s.t[i].dtype, "F32");
  size_t size;
  uint8_t *buf = build(&s, &size, NULL);
  gc_model m;
  char err[256] = "";
  int rc = gc_model_load(&m, buf, size, err, sizeof err);
  CHECK(rc == 0, "%s: load failed: %s", what, err);
  if (rc == 0) {
    printf("ok   load %s\n", what);
    CHECK(m.num_classes == classes, "%s: num_classes %d, want %d", what, m.num_classes, classes);
    int bad = 0;
    tt *fw = find(&s, "fc.weight"), *fb = find(&s, "fc.bias");
    for (size_t i = 0; i < (size_t)classes * 512; i++) bad += m.fc_w[i] != (float)val(fw, i);
    for (size_t i = 0; i < (size_t)classes; i++) bad += m.fc_b[i] != (float)val(fb, i);
    CHECK(bad == 0, "%s: %d fc values differ", what, bad);
    check_convs(&m, &s);
    check_fused_equals_unfused(&m, &s, 0);
    check_fused_equals_unfused(&m, &s, 12);
    check_fused_equals_unfused(&m, &s, 19);
    gc_model_free(&m);
    CHECK(all_zero(&m, sizeof m), "gc_model_free zeroes the struct");
    gc_model_free(&m); /* a second free is harmless */
  }
  free(buf);
  free_set(&s);
}

/* ---- tests: malformed models ---- */

static void remove_tensor(tset *s, const char *name) {
  tt *t = find(s, name);
  memmove(t, t + 1, (size_t)(s->t + s->n - (t + 1)) * sizeof *t);
  s->n--;
}

static void test_model_errors(void) {
  tset base = make_set(8, "F16", 1), s;
  tt *t;

  s = base, remove_tensor(&s, "layer3.1.bn2.running_var");
  expect_fail_set("missing tensor", &s, "layer3.1.bn2.running_var: missing");
  s = base, remove_tensor(&s, "fc.bias");
  expect_fail_set("missing fc.bias", &s, "fc.bias: missing");
  s = base, t = find(&s, "layer3.1.conv2.weight"), t->shape[1] = 128;
  expect_fail_set("wrong shape", &s,
                  "layer3.1.conv2.weight: shape [256,256,3,3] expected, file has [256,128,3,3]");
  s = base, t = find(&s, "bn1.weight"), t->ndim = 2, t->shape[1] = 1;
  expect_fail_set("wrong rank", &s, "bn1.weight: shape [64] expected, file has [64,1]");
  s = base, strcpy(find(&s, "conv1.weight")->dtype, "I64");
  expect_fail_set("I64 weight", &s, "conv1.weight: dtype I64 not supported");
  s = base, strcpy(find(&s, "fc.bias")->dtype, "BF16");
  expect_fail_set("BF16 bias", &s, "fc.bias: dtype BF16");
  s = base, add(&s, "layer1.1.conv3.weight", "F16", 4, 64, 64, 1, 1);
  expect_fail_set("extra tensor", &s, "layer1.1.conv3.weight: unexpected tensor");
  s = base, add(&s, "layer1.2.conv1.weight", "F16", 4, 64, 64, 3, 3); /* a third block: the rest of it missing */
  expect_fail_set("half a block", &s, "layer1.2.bn1.weight: missing");
  s = base; /* 65 blocks in layer1: refused by count, before any of them is read */
  for (int b = 2; b < 67; b++) {
    char nm[64];
    snprintf(nm, sizeof nm, "layer1.%d.conv1.weight", b);
    add(&s, nm, "F16", 4, 64, 64, 3, 3);
  }
  expect_fail_set("65 blocks", &s, "more than 64 residual blocks");
  s = base, add(&s, "layer1.0.conv3.weight", "F16", 4, 256, 64, 1, 1); /* Bottleneck from here on */
  t = find(&s, "layer1.0.conv2.weight"), t->shape[1] = 2;                /* [64, 2, 3, 3]: 32 groups */
  expect_fail_set("grouped conv2 (ResNeXt)", &s, "layer1.0.conv2.weight: a grouped convolution (32 groups");
  s = base, add(&s, "conv1.bias", "F16", 1, 64, 0, 0, 0);
  expect_fail_set("conv bias", &s, "conv1.bias: unexpected tensor");
  s = base;
  for (int i = 0; i < s.n; i++) {
    size_t l = strlen(s.t[i].name); /* every torchvision name is < 56 chars: "module." fits */
    memmove(s.t[i].name + 7, s.t[i].name, l + 1);
    memcpy(s.t[i].name, "module.", 7);
  }
  expect_fail_set("DataParallel prefix", &s, "module.conv1.weight: unexpected tensor");
  s = base, s.t[s.n] = *find(&s, "bn1.bias"), s.n++;
  expect_fail_set("duplicate name", &s, "bn1.bias: tensor name appears twice");
  s = base, find(&s, "fc.bias")->shape[0] = 10;
  expect_fail_set("fc.weight/fc.bias mismatch", &s, "fc.bias: shape [8] expected, file has [10]");
  s = base, find(&s, "fc.weight")->shape[1] = 256;
  expect_fail_set("fc.weight features", &s, "fc.weight: shape [N,512] expected, file has [8,256]");
  s = base, find(&s, "fc.weight")->shape[0] = 0, find(&s, "fc.bias")->shape[0] = 0;
  expect_fail_set("zero classes", &s, "fc.weight: 0 classes");

  uint16_t *var = find(&base, "layer2.1.bn1.running_var")->h, keep = var[5];
  var[5] = 0xbc00; /* -1.0 */
  expect_fail_set("negative running_var", &base, "layer2.1.bn1.running_var[5]: -1 is not a valid variance");
  var[5] = 0x7e00; /* NaN */
  expect_fail_set("NaN running_var", &base, "is not a valid variance");
  var[5] = keep;
  uint16_t *mean = find(&base, "layer3.0.bn2.running_mean")->h, keep_mean = mean[2];
  mean[2] = 0x7c00; /* +inf */
  expect_fail_set("infinite running_mean", &base, "layer3.0.bn2[2]: BatchNorm gives a non-finite scale or shift");
  mean[2] = keep_mean;
  uint16_t *gamma = find(&base, "bn1.weight")->h, keep_gamma = gamma[0];
  gamma[0] = 0x7e00; /* NaN */
  expect_fail_set("NaN gamma", &base, "bn1[0]: BatchNorm gives a non-finite");
  gamma[0] = keep_gamma;

  /* 65,537 tensors: refused by the parser at the limit, not after parsing them all. */
  {
    size_t cap = 65537 * 64 + 64, n = 0;
    char *json = malloc(cap);
    n += (size_t)snprintf(json + n, cap - n, "{");
    for (int i = 0; i <= GC_ST_MAX_TENSORS; i++)
      n += (size_t)snprintf(json + n, cap - n, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}",
                            i ? "," : "", i);
    n += (size_t)snprintf(json + n, cap - n, "}");
    expect_fail_json("65,537 tensors", json, 4, "more than 65536 tensors");
    free(json);
  }

  /* Truncations: everything from an empty file to one byte short must fail cleanly. */
  size_t size, jn;
  uint8_t *buf = build(&base, &size, &jn);
  gc_model m;
  char err[256];
  int bad = 0, cuts = 0;
  for (size_t cut = 0; cut < size; cut += cut < 8 + jn + 64 ? 1 : size / 997, cuts++) {
    err[0] = 0;
    bad += gc_model_load(&m, buf, cut, err, sizeof err) != -1 || !err[0] || !all_zero(&m, sizeof m);
  }
  bad += gc_model_load(&m, buf, size - 1, err, sizeof err) != -1;
  CHECK(bad == 0, "truncation: %d of %d cut points not rejected", bad, cuts + 1);
  printf("ok   truncated at %d cut points\n", cuts + 1);

  /* Every proper prefix of the JSON, with the header length fixed up to match, is invalid JSON. */
  bad = 0;
  for (size_t k = 0; k < jn; k++) {
    size_t n;
    uint8_t *p = pack((const char *)buf + 8, k, NULL, 0, &n);
    err[0] = 0;
    bad += gc_model_load(&m, p, n, err, sizeof err) != -1 || !err[0] || strchr(err, '\n') != NULL;
    free(p);
  }
  CHECK(bad == 0, "JSON prefixes: %d of %zu not rejected", bad, jn);
  printf("ok   %zu JSON prefixes rejected\n", jn);

  put_u64(buf, size - 7);
  expect_fail("header length > file", buf, size, "exceeds the file size");
  put_u64(buf, UINT64_MAX);
  expect_fail("header length 2^64-1", buf, size, "exceeds the file size");
  put_u64(buf, (uint64_t)1 << 63);
  expect_fail("header length 2^63", buf, 16, "exceeds the file size");
  expect_fail("empty buffer (NULL)", NULL, 0, "too short");
  expect_fail("7-byte buffer", buf, 7, "too short");
  free(buf);
  free_set(&base);
}

/* ---- tests: malformed headers ---- */

#define T1 "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"

static void test_header_errors(void) {
  static const struct {
    const char *what, *json, *want;
  } cases[] = {
      {"empty header", "", "expected '{'"},
      {"lone brace", "{", "expected '\"'"},
      {"array", "[]", "expected '{'"},
      {"null", "null", "expected '{'"},
      {"key without value", "{\"a\"}", "expected ':'"},
      {"missing value", "{\"a\":}", "expected '{'"},
      {"number as entry", "{\"a\":1}", "expected '{'"},
      {"empty entry", "{\"a\":{}}", "lacks dtype"},
      {"entry missing keys", "{\"a\":{\"dtype\":\"F32\"}}", "lacks dtype"},
      {"trailing garbage", "{\"a\":" T1 "} x", "unexpected data after"},
      {"trailing comma", "{\"a\":" T1 ",}", "expected '\"'"},
      {"single quotes", "{'a':" T1 "}", "expected '\"'"},
      {"missing colon", "{\"a\" " T1 "}", "expected ':'"},
      {"unterminated string", "{\"a", "unterminated string"},
      {"bad escape", "{\"a\\q\":" T1 "}", "bad escape"},
      {"control char", "{\"a\tb\":" T1 "}", "control character"},
      {"NUL escape", "{\"a\\u0000\":" T1 "}", "\\u0000"},
      {"lone surrogate", "{\"a\\ud800\":" T1 "}", "lone high surrogate"},
      {"bad hex", "{\"a\\u12g4\":" T1 "}", "bad hex digit"},
      {"leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", "leading zero"},
      {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
       "non-negative integer"},
      {"float dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}",
       "expected ',' or ']'"},
      {"exponent dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e2],\"data_offsets\":[0,4]}}",
       "expected ',' or ']'"},
      {"huge integer", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}",
       "integer too large"},
      {"9 dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
       "too many"},
      {"numel overflow",
       "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
       "\"data_offsets\":[0,4]}}",
       "element count overflows"},
      {"unknown dtype", "{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", "unknown dtype"},
      {"unknown key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}",
       "unknown or repeated"},
      {"repeated key", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
       "unknown or repeated"},
      {"3 offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "too many"},
      {"1 offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", "needs 2"},
      {"offsets past blob", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "run past"},
      {"offsets reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",
       "do not match"},
      {"offsets vs numel", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
       "do not match"},
      {"offsets wrap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551615,3]}}",
       "do not match"},
      {"duplicate", "{\"a\":" T1 ",\"a\":" T1 "}", "a: tensor name appears twice"},
      {"metadata value", "{\"__metadata__\":{\"k\":1}}", "expected '\"'"},
      {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", "repeated __metadata__"},
      {"newline in name", "{\"x\\ny\":{\"dtype\":\"F32\",\"shape\":[9],\"data_offsets\":[0,36]}}", "x?y"},
      {"valid but empty", "{}", "conv1.weight: missing"},
      {"valid, one tensor", "{\"a\":" T1 "}", "a: unexpected tensor"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_fail_json(cases[i].what, cases[i].json, 8, cases[i].want);
}

/* ---- tests: parser details ---- */

static void test_parser_ok(void) {
  const char *json =
      " {\"a\\u00e9\\ud83d\\ude00\\n\\\"\" : {\"shape\": [], \"data_offsets\": [4, 8], \"dtype\": \"F32\"},"
      "\"z\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
      "\"__metadata__\": {\"format\": \"pt\", \"k\\t\": \"v\"}}   ";
  size_t size;
  uint8_t *buf = pack(json, strlen(json), NULL, 8, &size);
  gc_st_file f;
  char err[128] = "";
  int rc = gc_st_parse(&f, buf, size, err, sizeof err);
  CHECK(rc == 0, "parser: valid header rejected: %s", err);
  if (rc == 0) {
    const gc_st_tensor *a = gc_st_find(&f, "a\xc3\xa9\xf0\x9f\x98\x80\n\""), *z = gc_st_find(&f, "z");
    CHECK(f.n == 2 && a && a->ndim == 0 && a->numel == 1 && a->data == buf + 8 + strlen(json) + 4,
          "parser: escapes/scalar");
    CHECK(z && z->numel == 0 && z->dtype_size == 8 && z->ndim == 2 && !gc_st_find(&f, "__metadata__"),
          "parser: empty tensor");
    gc_st_free(&f);
  }
  /* Errors with no room for a message, or very little, must not crash or overflow. */
  put_u64(buf, 1000);
  CHECK(gc_st_parse(&f, buf, size, NULL, 0) == -1 && gc_st_parse(&f, buf, size, err, 1) == -1 && err[0] == 0,
        "parser: err NULL / errlen 1");
  CHECK(gc_st_parse(&f, buf, size, err, 8) == -1 && strlen(err) == 7, "parser: message truncated to errlen");
  free(buf);
}

/* ---- tests: the parallel loader ---- */

static int same_conv(const gc_conv *a, const gc_conv *b) {
  size_t w = (size_t)a->oc * a->kh * a->kw * a->ic, o = (size_t)a->oc;
  return a->oc == b->oc && a->ic == b->ic && a->kh == b->kh && a->stride == b->stride && a->pad == b->pad &&
         !memcmp(a->w, b->w, w * sizeof *a->w) && !memcmp(a->b, b->b, o * sizeof *a->b) &&
         !memcmp(a->bn_scale, b->bn_scale, o * sizeof *a->b) && !memcmp(a->bn_shift, b->bn_shift, o * sizeof *a->b);
}

static void test_parallel_load(void) {
  const gc_parallel par = FAKE_POOL(3); /* tasks backwards: any dependence between conv tasks shows */
  tset s = make_set(8, "F16", 1);
  size_t size;
  uint8_t *buf = build(&s, &size, NULL);
  gc_model a, b;
  char err[256] = "";
  int rc = gc_model_load(&a, buf, size, err, sizeof err) | gc_model_load_par(&b, buf, size, &par, err, sizeof err);
  CHECK(rc == 0, "parallel load: %s", err);
  if (rc == 0) {
    int bad = a.num_classes != b.num_classes || memcmp(a.fc_w, b.fc_w, 8 * 512 * sizeof *a.fc_w);
    for (size_t i = 0; i < sizeof CONVS / sizeof *CONVS; i++) bad += !same_conv(conv_of(&a, (int)i), conv_of(&b, (int)i));
    CHECK(bad == 0, "parallel load differs from the serial one in %d arrays", bad);
    printf("ok   parallel load (tasks in reverse order) equals the serial one, byte for byte\n");
  }
  gc_model_free(&a);
  gc_model_free(&b);
  free(buf);
  /* Two broken convs: the error is the first in file order (what the serial loader reports), whatever
   * order the tasks ran in, and nothing is left allocated. */
  uint16_t *v1 = find(&s, "layer1.0.bn1.running_var")->h, *v4 = find(&s, "layer4.1.bn2.running_var")->h;
  v1[3] = 0xbc00, v4[7] = 0xbc00; /* -1.0 */
  buf = build(&s, &size, NULL);
  err[0] = 0;
  rc = gc_model_load_par(&b, buf, size, &par, err, sizeof err);
  CHECK(rc == -1 && strstr(err, "layer1.0.bn1.running_var[3]") && all_zero(&b, sizeof b),
        "parallel load, two bad convs: rc %d, '%s' (want the first in file order, layer1.0.bn1)", rc, err);
  printf("ok   parallel load reports the first bad conv in file order: %s\n", err);
  free(buf);
  free_set(&s);
}

/* gc_parse_triple: what the metadata's mean/std and the CLI's --mean/--std accept (as the JS parseTriple). */
static void test_parse_triple(void) {
  static const char *good[] = {"0.485,0.456,0.406", " 1 , 2 ,3 ", "1e-1,-2,3.5\t"};
  static const float want[][3] = {{0.485f, 0.456f, 0.406f}, {1, 2, 3}, {0.1f, -2, 3.5f}};
  for (int i = 0; i < 3; i++) {
    float v[3] = {0};
    CHECK(!gc_parse_triple(good[i], 0, v) && !memcmp(v, want[i], sizeof v), "'%s' accepted", good[i]);
  }
  static const char *bad[] = {"", "1,2", "1,2,3,", "1,,3", "1 2,3,4", "1,2,3x", "inf,1,2", "nan,1,2", "1;2;3"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    float v[3];
    CHECK(gc_parse_triple(bad[i], 0, v) == -1, "'%s' refused", bad[i]);
  }
  float v[3];
  CHECK(gc_parse_triple("0.2,0,0.2", 1, v) == -1 && !gc_parse_triple("0.2,0,0.2", 0, v), "0 is not a positive std");
}

int main(void) {
  test_parse_triple();
  test_half();
  test_parser_ok();
  test_header_errors();
  test_model_errors();
  test_load("F32, 8 classes, with num_batches_tracked", 8, "F32", 1, 0);
  test_load("F16, 1000 classes", 1000, "F16", 0, 0);
  test_load("mixed F32/F16, 8 classes", 8, "F16", 1, 1);
  test_parallel_load();
  return check_report();
}
