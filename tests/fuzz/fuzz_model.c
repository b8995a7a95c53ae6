/* fuzz_model.c: libFuzzer target for gc_model_load -- everything gc_create does to the weight bytes
 * before XNNPACK: safetensors parsing, the ResNet-18 name/dtype/shape checks, F16 -> F32 conversion,
 * BatchNorm folding into OHWI weights.
 *
 *   scripts/fuzz model 600      (seeds: gen_model_seeds.c; dictionary: safetensors.dict)
 *
 * Input: a safetensors file whose data section may be shorter than its offsets need (st_fuzz.h).
 * Each input is loaded as it is, then -- if its header names bytes past its data section -- once more
 * expanded to the real file those offsets describe. A ResNet-18 seed is thus ~9 KB instead of 23-46 MB.
 *
 * The custom mutator edits the header as a structure (dtype, shape entries, data_offsets, names,
 * entries, metadata, the 8-byte length) and the data bytes (NaN, inf, negative variances, F16
 * subnormals), mostly keeping offsets consistent with shape x dtype so that mutants get past the
 * container checks into the model checks; a share of mutations is libFuzzer's own byte-level ones.
 */
#include "../../src/model.c"
#include "../../src/safetensors.c"
#include "st_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* The harness is not instrumented for coverage (see st_fuzz.h). */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)

/* ---- the target ---- */

static void load_checked(const uint8_t *data, size_t size) {
  gc_model m;
  char err[128];
  static const gc_model zero;
  if (gc_model_load(&m, data, size, err, sizeof err)) {
    /* A failure must leave a non-empty one-line message and nothing to free. */
    if (!err[0] || strchr(err, '\n') || memcmp(&m, &zero, sizeof m)) {
      fprintf(stderr, "bad failure: \"%s\"\n", err);
      __builtin_trap();
    }
    return;
  }
  /* Success: the architecture gc_net_create will build from it. */
  int ok = m.num_classes >= 1 && m.num_classes <= MD_MAX_CLASSES && m.fc_w && m.fc_b && m.conv1.oc == 64 &&
           m.conv1.ic == 3 && m.conv1.kh == 7 && m.conv1.w && m.conv1.bn_scale && (m.sigmoid_head & ~1) == 0;
  /* every block chains onto the one before (BasicBlock or Bottleneck), with a downsample exactly where the
   * stride or the channel count changes, and fc reads the last block's channels */
  int cin = 64;
  ok = ok && m.n_blocks >= 4 && m.n_blocks <= GC_MAX_BLOCKS && m.feat >= 1 && m.pre.std[0] > 0 && m.pre.std[1] > 0 &&
       m.pre.std[2] > 0 && m.pre.resize >= 0;
  for (int i = 0; ok && i < m.n_blocks; i++) {
    const gc_block *b = &m.blocks[i];
    const gc_conv *last = m.bottleneck ? &b->conv3 : &b->conv2;
    const int stride = m.bottleneck ? b->conv2.stride : b->conv1.stride;
    ok = b->conv1.ic == cin && b->conv2.ic == b->conv1.oc && (!m.bottleneck || b->conv3.ic == b->conv2.oc) &&
         b->conv1.w && b->conv2.b && last->w && (b->down.oc == (stride != 1 || cin != last->oc ? last->oc : 0)) &&
         (!b->down.oc || (b->down.w && b->down.ic == cin));
    cin = last->oc;
  }
  ok = ok && cin == m.feat;
  if (!ok) {
    fprintf(stderr, "loaded model breaks the ResNet-18 invariants\n");
    __builtin_trap();
  }
  gc_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  load_checked(data, size);
  size_t n;
  uint8_t *big = st_expand(data, size, &n);
  if (big) {
    load_checked(big, n);
    free(big);
  }
  return 0;
}

/* ---- the mutator ---- */

static uint64_t g_rng;
static uint32_t rnd(uint32_t n) { /* 0..n-1 (xorshift64*) */
  g_rng ^= g_rng >> 12, g_rng ^= g_rng << 25, g_rng ^= g_rng >> 27;
  return n ? (uint32_t)((g_rng * 0x2545F4914F6CDD1DULL) >> 33) % n : 0;
}
static int chance(uint32_t n) { return rnd(n) == 0; }

static const char *const DTYPES[] = {"F32", "F16", "F16", "F32", "BF16", "F64", "I64", "I32", "U8", "BOOL",
                                     "F8_E5M2", "I16", "U64", "f32", "", "F3", "F320"};
static const uint64_t DIMS[] = {0, 1, 2, 3, 4, 7, 8, 63, 64, 65, 128, 256, 512, 513, 1000, 99999, 100000, 100001,
                                (1ull << 31), (1ull << 32), (1ull << 32) + 1, (1ull << 62), (1ull << 63),
                                UINT64_MAX / 4, UINT64_MAX};
static const char *const NAME_EDITS[] = {".num_batches_tracked", "module.", "\\u00e9", "\\n", "\\ud83d\\ude00",
                                         "\\\"", "\\\\", "\\/", "\\u0041", "\\u4e2d", "x", ".weight", ".bias", "\\u0000",
                                         "\\ud800", "\\udc00", "\\ud800\\u0041", "\\uzzzz", "\\q"};

/* A name the loader expects (or a near miss of one). */
static void expected_name(char *out, size_t cap) {
  static char names[MD_MAX_CONVS * 5 + 2][48];
  static int init, n;
  if (!init) { /* resnet18's names, and resnet50's, whose extra ones (conv3, layer3.5) the mutator may add */
    static gc_model m;
    static md_conv_spec s[MD_MAX_CONVS];
    static const md_arch r50 = {1, {3, 4, 6, 3}, {64, 128, 256, 512}, {256, 512, 1024, 2048}};
    n = md_expected_names(s, md_build(&m, &MD_RESNET18, s), names);
    const int k = md_build(&m, &r50, s);
    n += md_expected_names(s, k, names + n);
    init = 1;
  }
  snprintf(out, cap, "%s", names[rnd((uint32_t)n)]);
}

static void fix_offsets(st_entry *e) { /* end = begin + bytes, when that does not overflow */
  uint64_t b = st_entry_bytes(e);
  e->noff = 2;
  if (b != UINT64_MAX && e->off[0] <= UINT64_MAX - b) e->off[1] = e->off[0] + b;
}

static void mutate_name(st_doc *d, st_entry *e) {
  char buf[ST_DOC_NAME];
  size_t len = strlen(e->name);
  switch (rnd(6)) {
    case 0: expected_name(e->name, sizeof e->name); break;
    case 1: snprintf(e->name, sizeof e->name, "%s", d->e[rnd((uint32_t)d->n)].name); break; /* duplicate */
    case 2: { /* insert an escape or suffix somewhere */
      size_t at = chance(2) ? len : rnd((uint32_t)len + 1);
      while (at > 0 && at < len && e->name[at - 1] == '\\') at--; /* not inside an escape */
      snprintf(buf, sizeof buf, "%.*s%s%s", (int)at, e->name, NAME_EDITS[rnd(sizeof NAME_EDITS / sizeof *NAME_EDITS)],
               e->name + at);
      memcpy(e->name, buf, sizeof buf);
      break;
    }
    case 3: if (len) e->name[rnd((uint32_t)len)] = "0123456789._abcxyzLW"[rnd(20)]; break;
    case 4: if (len) e->name[rnd((uint32_t)len)] = 0; break;
    default: snprintf(e->name, sizeof e->name, "%s", chance(2) ? "__metadata__" : ""); break;
  }
}

static void mutate_entry(st_doc *d, st_entry *e) {
  int consistent = !chance(4);
  switch (rnd(7)) {
    case 0: snprintf(e->dtype, sizeof e->dtype, "%s", DTYPES[rnd(sizeof DTYPES / sizeof *DTYPES)]); break;
    case 1: if (e->ndim) e->shape[rnd((uint32_t)e->ndim)] = DIMS[rnd(sizeof DIMS / sizeof *DIMS)]; break;
    case 2: if (e->ndim) e->shape[rnd((uint32_t)e->ndim)] += chance(2) ? 1 : (uint64_t)-1; break;
    case 3: /* rank: add or drop a dimension */
      if (chance(2) && e->ndim < ST_DOC_DIMS) e->shape[e->ndim++] = DIMS[rnd(10)];
      else if (e->ndim) e->ndim -= chance(3) ? e->ndim : 1;
      break;
    case 4: { /* another tensor's shape (often the one the loader wants there) */
      const st_entry *o = &d->e[rnd((uint32_t)d->n)];
      e->ndim = o->ndim;
      memcpy(e->shape, o->shape, sizeof e->shape);
      break;
    }
    case 5: mutate_name(d, e); consistent = 0; break;
    default: /* offsets */
      consistent = 0;
      switch (rnd(6)) {
        case 0: { uint64_t k = chance(2) ? 1 : 2 * (uint64_t)rnd(8); e->off[0] += k, e->off[1] += k; break; }
        case 1: e->off[0] = rnd((uint32_t)d->blob_size + 8); fix_offsets(e); break;
        case 2: e->off[rnd(2)] += chance(2) ? 1 : (uint64_t)-1; break;
        case 3: e->off[rnd(2)] = DIMS[rnd(sizeof DIMS / sizeof *DIMS)]; break;
        case 4: { uint64_t t = e->off[0]; e->off[0] = e->off[1], e->off[1] = t; break; }
        default: e->noff = (int)rnd(5); break;
      }
  }
  if (consistent) fix_offsets(e);
}

static void mutate_doc(st_doc *d, uint8_t *blob, size_t *blob_size, size_t blob_cap) {
  uint32_t op = rnd(16);
  if (d->n == 0) op = 9;
  st_entry *e = d->n ? &d->e[rnd((uint32_t)d->n)] : NULL;
  if (op < 7) {
    mutate_entry(d, e);
  } else if (op == 7) { /* the class count, fc.weight and fc.bias together */
    uint64_t n = chance(2) ? 1 + rnd(2000) : DIMS[rnd(sizeof DIMS / sizeof *DIMS)];
    for (int i = 0; i < d->n; i++)
      if (!strcmp(d->e[i].name, "fc.weight") || !strcmp(d->e[i].name, "fc.bias")) {
        d->e[i].shape[0] = n;
        if (!chance(8)) fix_offsets(&d->e[i]);
      }
  } else if (op == 8) { /* drop an entry */
    memmove(e, e + 1, (size_t)(d->e + d->n - e - 1) * sizeof *e);
    d->n--;
  } else if (op == 9) { /* add an entry: a copy, a num_batches_tracked, or an expected name */
    if (d->n == ST_DOC_MAX) return;
    st_entry *a = &d->e[d->n++];
    if (e) *a = *e;
    else memset(a, 0, sizeof *a), snprintf(a->dtype, sizeof a->dtype, "F32"), a->noff = 2;
    switch (rnd(3)) {
      case 0: break;
      case 1:
        snprintf(a->name, sizeof a->name, "layer%u.%u.bn%u.num_batches_tracked", 1 + rnd(4), rnd(2), 1 + rnd(2));
        snprintf(a->dtype, sizeof a->dtype, "I64"), a->ndim = 0, a->off[0] = 0, fix_offsets(a);
        break;
      default: expected_name(a->name, sizeof a->name); break;
    }
  } else if (op == 10) { /* metadata */
    static const char *const META[] = {"{}", "{\"gradcam.head\":\"sigmoid\"}", "{\"gradcam.head\":\"softmax\"}",
                                       "{\"format\":\"pt\",\"gradcam.head\":\"sigmoid\"}",
                                       "{\"gradcam.head\":\"sigmoid-but-longer-than-the-buffer\"}",
                                       "{\"gradcam.head\":\"sig\\u006doid\"}", "{\"gradcam.head\":1}",
                                       "{\"a\":{\"b\":\"c\"}}", "{\"gradcam.head\":\"sigmoid\",\"gradcam.head\":\"\"}"};
    d->has_meta = !chance(6);
    d->meta_first = chance(2);
    snprintf(d->meta, sizeof d->meta, "%s", META[rnd(sizeof META / sizeof *META)]);
  } else if (op == 11) { /* entry order / key order */
    if (chance(2)) e->key_order = (int)rnd(6);
    else { st_entry t = *e, *o = &d->e[rnd((uint32_t)d->n)]; *e = *o, *o = t; }
  } else { /* data bytes: special F32/F16 values, or the section's length */
    static const uint32_t F32[] = {0x7fc00000u, 0xffc00000u, 0x7f800000u, 0xff800000u, 0x80000000u, 0xbf800000u,
                                   0x00000001u, 0x7f7fffffu, 0x3f800000u, 0xcf000000u, 0x00800000u, 0x7f800001u};
    static const uint16_t F16[] = {0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x8000, 0xbc00, 0x0001, 0x03ff, 0x7bff, 0x3c00,
                                   0x7c01, 0x8001};
    if (op == 15 || *blob_size < 4) {
      size_t want = chance(3) ? 0 : chance(2) ? *blob_size / 2 : *blob_size + 4 * (1 + rnd(16));
      if (want > blob_cap) want = blob_cap;
      for (size_t i = *blob_size; i < want; i++) blob[i] = (uint8_t)rnd(256);
      *blob_size = want;
    } else if (chance(2)) {
      uint32_t v = F32[rnd(sizeof F32 / sizeof *F32)];
      size_t at = 4 * rnd((uint32_t)(*blob_size / 4));
      memcpy(blob + at, &v, 4);
    } else {
      uint16_t v = F16[rnd(sizeof F16 / sizeof *F16)];
      size_t at = 2 * rnd((uint32_t)(*blob_size / 2));
      memcpy(blob + at, &v, 2);
    }
  }
}

/* Mostly structure-aware; libFuzzer's byte-level mutations (with the dictionary) a quarter of the
 * time and whenever the input is not a header st_doc understands. After a structured edit, the
 * 8-byte header length is now and then made wrong on purpose. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  static st_doc d;
  static uint8_t blob[1 << 16], out[1 << 17];
  g_rng = seed * 0x9E3779B97F4A7C15ULL + 1;
  if (chance(4) || st_doc_parse(&d, data, size) || d.blob_size > sizeof blob)
    return LLVMFuzzerMutate(data, size, max_size);
  size_t blob_size = d.blob_size;
  memcpy(blob, d.blob, blob_size);
  for (int k = 1 + (int)(chance(3) ? rnd(4) : 0); k > 0; k--) mutate_doc(&d, blob, &blob_size, sizeof blob);
  d.blob = blob, d.blob_size = blob_size;
  size_t n = st_doc_write(&d, out, max_size < sizeof out ? max_size : sizeof out);
  if (!n) return LLVMFuzzerMutate(data, size, max_size);
  if (chance(16)) { /* the header length: off by a little, past the end, or huge */
    uint64_t h = st_le64(out);
    static const uint64_t H[] = {0, 1, 7, 8, UINT64_MAX, 1ull << 63, 0xffffffffull, 0x100000000ull};
    switch (rnd(3)) {
      case 0: h += chance(2) ? 1 : (uint64_t)-1; break;
      case 1: h = n - 8 + rnd(3); break;
      default: h = H[rnd(sizeof H / sizeof *H)]; break;
    }
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(h >> (8 * i));
  }
  memcpy(data, out, n);
  return n;
}

#pragma clang attribute pop
