/* st_fuzz.h: a safetensors file as an editable structure, for fuzz_model.c's custom mutator and the
 * seed generator gen_model_seeds.c (a header-only helper: both include it once).
 *
 * The input format of fuzz_model is a safetensors file whose data section may be shorter than its
 * data_offsets need: a ResNet-18 is 23 MB of F16 at least, and no fuzzer gets depth out of mutating
 * 23 MB inputs. st_expand() makes the real file the loader sees: the header as is, the data section
 * repeated (cyclically) up to the largest end offset the header names. Tensors may share bytes (the
 * format allows overlapping offsets), so a seed of a few kilobytes stands for a complete, valid
 * ResNet-18 of any dtype mix, and the few data bytes the fuzzer mutates reach every tensor.
 *
 * st_doc_parse is deliberately tolerant and partial (it understands what st_doc_write writes plus any
 * whitespace); it is not the parser under test, only the mutator's way of finding fields.
 */
#ifndef ST_FUZZ_H
#define ST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not instrumented for coverage: libFuzzer's edge counts (cov) then measure model.c and safetensors.c
 * alone, comparable across harness versions. */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)

#define ST_DOC_MAX 320     /* entries (a ResNet-18 has 102, 122 with num_batches_tracked) */
#define ST_DOC_NAME 256    /* raw (still JSON-escaped) name bytes */
#define ST_DOC_DIMS 12
#define ST_DOC_META 512
#define ST_EXPAND_MAX (48u << 20) /* largest data section st_expand builds (F32 ResNet-18: 9 MB) */

typedef struct st_entry {
  char name[ST_DOC_NAME]; /* raw JSON string contents, escapes kept */
  char dtype[24];
  int ndim, noff;
  uint64_t shape[ST_DOC_DIMS], off[4];
  int key_order; /* 0..5: permutation of dtype/shape/data_offsets when written */
} st_entry;

typedef struct st_doc {
  int n;
  st_entry e[ST_DOC_MAX];
  int has_meta, meta_first;
  char meta[ST_DOC_META]; /* the raw __metadata__ object text */
  const uint8_t *blob;
  size_t blob_size;
} st_doc;

static uint64_t st_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* ---- tolerant parse ---- */

typedef struct st_pc { const char *p, *end; } st_pc;

static int st_ws(st_pc *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
  return c->p < c->end ? (unsigned char)*c->p : -1;
}
static int st_eat(st_pc *c, char ch) {
  if (st_ws(c) != (unsigned char)ch) return -1;
  c->p++;
  return 0;
}
static int st_raw_string(st_pc *c, char *out, size_t cap) { /* contents between quotes, escapes kept */
  if (st_eat(c, '"')) return -1;
  size_t n = 0;
  while (c->p < c->end && *c->p != '"') {
    if (*c->p == '\\' && c->p + 1 < c->end) {
      if (n + 2 >= cap) return -1;
      out[n++] = *c->p++;
    }
    if (n + 1 >= cap) return -1;
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return -1;
  c->p++;
  out[n] = 0;
  return 0;
}
static int st_uints(st_pc *c, uint64_t *v, int max, int *n) {
  *n = 0;
  if (st_eat(c, '[')) return -1;
  if (st_ws(c) == ']') return c->p++, 0;
  for (;;) {
    if (*n == max || st_ws(c) < '0' || st_ws(c) > '9') return -1;
    uint64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      if (x > (UINT64_MAX - 9) / 10) return -1;
      x = x * 10 + (uint64_t)(*c->p++ - '0');
    }
    v[(*n)++] = x;
    if (st_ws(c) == ']') return c->p++, 0;
    if (st_eat(c, ',')) return -1;
  }
}
static int st_skip_object(st_pc *c, char *out, size_t cap) { /* a balanced {...}, copied raw */
  const char *b = c->p;
  int depth = 0, in_str = 0;
  if (st_ws(c) != '{') return -1;
  b = c->p;
  for (; c->p < c->end; c->p++) {
    char ch = *c->p;
    if (in_str) {
      if (ch == '\\') c->p++;
      else if (ch == '"') in_str = 0;
    } else if (ch == '"') in_str = 1;
    else if (ch == '{') depth++;
    else if (ch == '}' && --depth == 0) {
      c->p++;
      size_t n = (size_t)(c->p - b);
      if (n + 1 > cap) return -1;
      memcpy(out, b, n), out[n] = 0;
      return 0;
    }
  }
  return -1;
}

/* 0 if data is a safetensors file st_doc understands; doc->blob points into data. */
static int st_doc_parse(st_doc *d, const uint8_t *data, size_t size) {
  memset(d, 0, offsetof(st_doc, e));
  d->has_meta = d->meta_first = 0, d->meta[0] = 0;
  if (size < 8) return -1;
  uint64_t hlen = st_le64(data);
  if (hlen > size - 8) return -1;
  st_pc c = {(const char *)data + 8, (const char *)data + 8 + hlen};
  d->blob = data + 8 + hlen, d->blob_size = size - 8 - (size_t)hlen;
  if (st_eat(&c, '{')) return -1;
  if (st_ws(&c) == '}') return c.p++, 0;
  for (;;) {
    char key[ST_DOC_NAME];
    if (st_raw_string(&c, key, sizeof key) || st_eat(&c, ':')) return -1;
    if (!strcmp(key, "__metadata__")) {
      if (d->has_meta || st_skip_object(&c, d->meta, sizeof d->meta)) return -1;
      d->has_meta = 1, d->meta_first = d->n == 0;
    } else {
      if (d->n == ST_DOC_MAX) return -1;
      st_entry *e = &d->e[d->n++];
      memset(e, 0, sizeof *e);
      memcpy(e->name, key, sizeof key);
      if (st_eat(&c, '{')) return -1;
      for (int k = 0; k < 3; k++) {
        char f[32];
        if (st_raw_string(&c, f, sizeof f) || st_eat(&c, ':')) return -1;
        if (!strcmp(f, "dtype")) {
          if (st_raw_string(&c, e->dtype, sizeof e->dtype)) return -1;
        } else if (!strcmp(f, "shape")) {
          if (st_uints(&c, e->shape, ST_DOC_DIMS, &e->ndim)) return -1;
        } else if (!strcmp(f, "data_offsets")) {
          if (st_uints(&c, e->off, 4, &e->noff)) return -1;
        } else {
          return -1;
        }
        if (k < 2 && st_eat(&c, ',')) return -1;
      }
      if (st_eat(&c, '}')) return -1;
    }
    if (st_ws(&c) == '}') return c.p++, 0;
    if (st_eat(&c, ',')) return -1;
  }
}

/* ---- write ---- */

typedef struct st_out { uint8_t *p; size_t n, cap; int overflow; } st_out;

static void st_put(st_out *o, const char *s, size_t n) {
  if (o->n + n > o->cap) { o->overflow = 1; return; }
  memcpy(o->p + o->n, s, n);
  o->n += n;
}
static void st_puts(st_out *o, const char *s) { st_put(o, s, strlen(s)); }
static void st_putu(st_out *o, uint64_t v) {
  char b[24];
  st_put(o, b, (size_t)snprintf(b, sizeof b, "%llu", (unsigned long long)v));
}
static void st_put_uints(st_out *o, const uint64_t *v, int n) {
  st_puts(o, "[");
  for (int i = 0; i < n; i++) {
    if (i) st_puts(o, ",");
    st_putu(o, v[i]);
  }
  st_puts(o, "]");
}

/* The whole file: u64 header length, header JSON, data section. Returns its size, 0 if over cap. */
static size_t st_doc_write(const st_doc *d, uint8_t *out, size_t cap) {
  static const char order[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  if (cap < 8) return 0;
  st_out o = {out, 8, cap, 0};
  st_puts(&o, "{");
  int first = 1;
  if (d->has_meta && d->meta_first) st_puts(&o, "\"__metadata__\":"), st_puts(&o, d->meta), first = 0;
  for (int i = 0; i < d->n; i++) {
    const st_entry *e = &d->e[i];
    if (!first) st_puts(&o, ",");
    first = 0;
    st_puts(&o, "\""), st_puts(&o, e->name), st_puts(&o, "\":{");
    for (int k = 0; k < 3; k++) {
      if (k) st_puts(&o, ",");
      switch (order[e->key_order % 6][k]) {
        case 0: st_puts(&o, "\"dtype\":\""), st_puts(&o, e->dtype), st_puts(&o, "\""); break;
        case 1: st_puts(&o, "\"shape\":"), st_put_uints(&o, e->shape, e->ndim); break;
        default: st_puts(&o, "\"data_offsets\":"), st_put_uints(&o, e->off, e->noff); break;
      }
    }
    st_puts(&o, "}");
  }
  if (d->has_meta && !d->meta_first) st_puts(&o, first ? "" : ","), st_puts(&o, "\"__metadata__\":"), st_puts(&o, d->meta);
  st_puts(&o, "}");
  uint64_t hlen = o.n - 8;
  st_put(&o, (const char *)d->blob, d->blob_size);
  if (o.overflow) return 0;
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(hlen >> (8 * i));
  return o.n;
}

/* ---- expansion ---- */

static size_t st_dtype_bytes(const char *dt) {
  static const char *const one[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3"}, *const two[] = {"I16", "U16", "F16", "BF16"},
                           *const four[] = {"I32", "U32", "F32"}, *const eight[] = {"I64", "U64", "F64"};
  for (int i = 0; i < 5; i++) if (!strcmp(dt, one[i])) return 1;
  for (int i = 0; i < 4; i++) if (!strcmp(dt, two[i])) return 2;
  for (int i = 0; i < 3; i++) if (!strcmp(dt, four[i])) return 4;
  for (int i = 0; i < 3; i++) if (!strcmp(dt, eight[i])) return 8;
  return 0;
}

/* Bytes an entry's shape and dtype call for, saturating at UINT64_MAX (0 for an unknown dtype). */
static uint64_t st_entry_bytes(const st_entry *e) {
  uint64_t n = st_dtype_bytes(e->dtype);
  for (int i = 0; i < e->ndim; i++) {
    if (e->shape[i] && n > UINT64_MAX / e->shape[i]) return UINT64_MAX;
    n *= e->shape[i];
  }
  return n;
}

/* The file the loader should see for input data: NULL when the input is fine as it is (it parses,
 * nothing lies past its data section, or what does is beyond ST_EXPAND_MAX); else a malloc'd copy
 * with the data section repeated up to the largest end offset (zeros if the section is empty). */
static uint8_t *st_expand(const uint8_t *data, size_t size, size_t *out_size) {
  static st_doc d; /* large; fuzzing is single-threaded */
  if (st_doc_parse(&d, data, size)) return NULL;
  uint64_t need = 0;
  for (int i = 0; i < d.n; i++)
    if (d.e[i].noff == 2 && d.e[i].off[1] > need && d.e[i].off[1] <= ST_EXPAND_MAX) need = d.e[i].off[1];
  if (need <= d.blob_size) return NULL;
  size_t head = size - d.blob_size, total = head + (size_t)need;
  uint8_t *f = malloc(total);
  if (!f) return NULL;
  memcpy(f, data, size);
  if (d.blob_size == 0) memset(f + head, 0, (size_t)need);
  else
    for (size_t have = d.blob_size; have < need;) { /* doubling copies of the pattern */
      size_t k = have < need - have ? have : (size_t)need - have;
      memcpy(f + head + have, f + head, k);
      have += k;
    }
  *out_size = total;
  return f;
}

#pragma clang attribute pop
#endif
