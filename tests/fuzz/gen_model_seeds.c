/* gen_model_seeds.c: seed inputs for fuzz_model: complete ResNet-18 safetensors files (and one narrow
 * Bottleneck network, resnet50's block: the other loader path) in the fuzz
 * input format (st_fuzz.h: tensors share a short, repeated data section), so that fuzzing starts
 * deep inside gc_model_load -- past the header, at the tensor table, shape checks, F16 conversion and
 * BatchNorm folding -- instead of at byte 0.
 *
 *   gen_model_seeds OUT_DIR          (scripts/fuzz builds and runs it)
 *
 * Names and shapes come from model.c's own md_build/md_expected_names, so the seeds follow the
 * loader's checks by construction; each seed is then loaded (expanded) and must pass or fail as
 * intended, so a change in model.c that breaks the seeds is reported here and not silently fuzzed.
 */
#include "../../src/model.c"
#include "../../src/safetensors.c"
#include "st_fuzz.h"

typedef struct seed {
  const char *file;
  const char *conv_dt, *bn_dt, *fc_dt; /* NULL bn_dt: no BatchNorm tensors (the loader refuses) */
  int classes, nbt, stagger;           /* nbt: add num_batches_tracked (I64 scalars)           */
  const char *meta;                    /* raw __metadata__ object or NULL                       */
  int meta_first, empty_blob, expect_ok;
  int bottleneck;                      /* 1: NARROW_BOTTLENECK instead of resnet18               */
} seed;

/* Bottleneck blocks 1-1-1-1, middle widths 8..64, outputs 32..256: every Bottleneck tensor kind, small. */
static const md_arch NARROW_BOTTLENECK = {1, {1, 1, 1, 1}, {8, 16, 32, 64}, {32, 64, 128, 256}};

static const seed SEEDS[] = {
    {"f32.st", "F32", "F32", "F32", 1000, 0, 0, NULL, 0, 0, 1, 0},
    {"f16-nbt.st", "F16", "F16", "F16", 1000, 1, 0, "{\"format\":\"pt\"}", 0, 0, 1, 0},
    {"mixed-sigmoid.st", "F16", "F32", "F32", 5, 0, 1, "{\"gradcam.head\":\"sigmoid\"}", 1, 0, 1, 0},
    {"f32-stagger-1class.st", "F32", "F32", "F32", 1, 1, 1, NULL, 0, 0, 1, 0},
    {"f16-zeros.st", "F16", "F16", "F16", 10, 0, 0, "{\"gradcam.head\":\"softmax\"}", 0, 1, 1, 0},
    {"bf16.st", "BF16", "F32", "F32", 10, 0, 0, NULL, 0, 0, 0, 0},
    {"no-bn.st", "F32", NULL, "F32", 10, 0, 0, NULL, 0, 0, 0, 0},
    {"bottleneck-f16-meta.st", "F16", "F16", "F32", 6, 1, 1,
     "{\"gradcam.mean\":\"0.5,0.5,0.5\",\"gradcam.std\":\"0.5,0.5,0.5\",\"gradcam.size\":\"160x128\",\"gradcam.resize\":\"256\",\"gradcam.labels\":\"a\\nb\\nc\\nd\\ne\\nf\"}",
     0, 0, 1, 1},
};

/* Floats whose low 16 bits are 0: positive as F32 and as either F16 half, so every tensor view
 * of the shared bytes is a valid variance. */
static const float PATTERN[16] = {1.0f, 0.5f, 0.25f, 0.125f, 2.0f, 0.75f, 1.5f, 0.0625f,
                                  0.375f, 3.0f, 0.875f, 1.25f, 0.1875f, 0.625f, 1.75f, 0.03125f};

static void add(st_doc *d, const char *name, const char *dt, const uint64_t *shape, int ndim, uint64_t base) {
  st_entry *e = &d->e[d->n];
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s", name);
  snprintf(e->dtype, sizeof e->dtype, "%s", dt);
  e->ndim = ndim;
  if (ndim) memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
  e->noff = 2, e->off[0] = base, e->off[1] = base + st_entry_bytes(e);
  e->key_order = d->n % 6 == 5 ? 4 : 0; /* a few entries with their keys in another order */
  d->n++;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: gen_model_seeds OUT_DIR\n");
    return 2;
  }
  static st_doc d;
  static uint8_t out[1 << 16];
  gc_model m;
  static md_conv_spec s[MD_MAX_CONVS];
  static char names[MD_MAX_CONVS * 5 + 2][48];
  char nbt[64];
  int bad = 0, written = 0;
  for (size_t k = 0; k < sizeof SEEDS / sizeof SEEDS[0]; k++) {
    const seed *sd = &SEEDS[k];
    memset(&m, 0, sizeof m);
    const int nconv = md_build(&m, sd->bottleneck ? &NARROW_BOTTLENECK : &MD_RESNET18, s);
    md_expected_names(s, nconv, names);
    memset(&d, 0, sizeof d);
    int idx = 0;
    for (int i = 0; i < nconv; i++) {
      const uint64_t w[4] = {(uint64_t)s[i].oc, (uint64_t)s[i].ic, (uint64_t)s[i].k, (uint64_t)s[i].k};
      const uint64_t c[1] = {(uint64_t)s[i].oc};
      add(&d, names[5 * i], sd->conv_dt, w, 4, sd->stagger ? 4u * (idx++ % 8) : 0);
      for (int j = 0; sd->bn_dt && j < 4; j++)
        add(&d, names[5 * i + 1 + j], sd->bn_dt, c, 1, sd->stagger ? 4u * (idx++ % 8) : 0);
      if (sd->bn_dt && sd->nbt) {
        snprintf(nbt, sizeof nbt, "%s.num_batches_tracked", s[i].bn);
        add(&d, nbt, "I64", NULL, 0, 8);
      }
    }
    const uint64_t fw[2] = {(uint64_t)sd->classes, (uint64_t)m.feat}, fb[1] = {(uint64_t)sd->classes};
    add(&d, "fc.weight", sd->fc_dt, fw, 2, 0);
    add(&d, "fc.bias", sd->fc_dt, fb, 1, sd->stagger ? 12 : 0);
    if (sd->meta) d.has_meta = 1, d.meta_first = sd->meta_first, snprintf(d.meta, sizeof d.meta, "%s", sd->meta);
    d.blob = (const uint8_t *)PATTERN, d.blob_size = sd->empty_blob ? 0 : sizeof PATTERN;
    size_t n = st_doc_write(&d, out, sizeof out), big_n = 0;
    if (!n) {
      fprintf(stderr, "gen_model_seeds: %s does not fit 64 KiB\n", sd->file);
      return 1;
    }
    uint8_t *big = st_expand(out, n, &big_n);
    char err[256];
    int ok = gc_model_load(&m, big ? big : out, big ? big_n : n, err, sizeof err) == 0;
    if (ok) gc_model_free(&m);
    if (ok != sd->expect_ok) {
      fprintf(stderr, "gen_model_seeds: %s %s: %s\n", sd->file, ok ? "loads but should not" : "does not load",
              ok ? "" : err);
      bad = 1;
    }
    free(big);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], sd->file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(out, 1, n, f) != n || fclose(f)) {
      fprintf(stderr, "gen_model_seeds: cannot write %s\n", path);
      return 1;
    }
    written++;
  }
  printf("gen_model_seeds: %d seeds in %s\n", written, argv[1]);
  return bad;
}
