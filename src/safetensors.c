/* safetensors.c: strict parser for the safetensors container (see safetensors.h). */
#include "safetensors.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

/* Messages may quote names from the file: a "\n" escape in a name must not break the one-line rule. */
void gc_st_errorf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  for (char *p = err; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
}

/* ---- dtypes ---- */

static const struct {
  const char *name;
  size_t size;
} ST_DTYPES[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
    {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8},
};

static size_t st_dtype_size(const char *name) {
  for (size_t i = 0; i < sizeof ST_DTYPES / sizeof ST_DTYPES[0]; i++)
    if (strcmp(ST_DTYPES[i].name, name) == 0) return ST_DTYPES[i].size;
  return 0;
}

/* ---- JSON cursor ---- */

typedef struct st_jcur {
  const char *p, *beg, *end;
  char *pool;       /* decoded strings; sized header length + 1, which no decoding can exceed */
  size_t pool_used; /* bytes of pool holding kept strings (tensor names)                     */
  char *err;
  size_t errlen;
} st_jcur;

static int st_fail(st_jcur *c, const char *what) {
  gc_st_errorf(c->err, c->errlen, "safetensors header: %s at byte %zu", what, (size_t)(c->p - c->beg));
  return -1;
}

static int st_peek(st_jcur *c) { /* next non-blank character, or -1 at the end */
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
  return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int st_expect(st_jcur *c, char ch) {
  if (st_peek(c) != (unsigned char)ch) {
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", ch);
    return st_fail(c, what);
  }
  c->p++;
  return 0;
}

/* An opening bracket: returns 1 if elements follow, 0 if the closing bracket follows at once (consumed). */
static int st_open(st_jcur *c, char open, char close) {
  if (st_expect(c, open)) return -1;
  if (st_peek(c) != (unsigned char)close) return 1;
  c->p++;
  return 0;
}

/* After an element: ',' (returns 1, more follow) or the closing bracket (returns 0). */
static int st_next_or_close(st_jcur *c, char close) {
  int ch = st_peek(c);
  if (ch == ',' || ch == close) {
    c->p++;
    return ch == ',';
  }
  char what[32];
  snprintf(what, sizeof what, "expected ',' or '%c'", close);
  return st_fail(c, what);
}

/* ---- JSON values ---- */

static int st_hexval(char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

static int st_hex4(st_jcur *c, unsigned *v) {
  if (c->end - c->p < 4) return st_fail(c, "truncated \\u escape");
  *v = 0;
  for (int i = 0; i < 4; i++, c->p++) {
    int d = st_hexval(*c->p);
    if (d < 0) return st_fail(c, "bad hex digit in \\u escape");
    *v = *v << 4 | (unsigned)d;
  }
  return 0;
}

static char *st_put_utf8(char *o, unsigned u) {
  if (u < 0x80) {
    *o++ = (char)u;
  } else if (u < 0x800) {
    *o++ = (char)(0xc0 | u >> 6);
    *o++ = (char)(0x80 | (u & 0x3f));
  } else if (u < 0x10000) {
    *o++ = (char)(0xe0 | u >> 12);
    *o++ = (char)(0x80 | (u >> 6 & 0x3f));
    *o++ = (char)(0x80 | (u & 0x3f));
  } else {
    *o++ = (char)(0xf0 | u >> 18);
    *o++ = (char)(0x80 | (u >> 12 & 0x3f));
    *o++ = (char)(0x80 | (u >> 6 & 0x3f));
    *o++ = (char)(0x80 | (u & 0x3f));
  }
  return o;
}

static int st_parse_escape(st_jcur *c, char **o) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  if (c->p >= c->end) return st_fail(c, "unterminated string");
  char e = *c->p++;
  const char *k = e ? strchr(from, e) : NULL;
  if (k) {
    *(*o)++ = to[k - from];
    return 0;
  }
  if (e != 'u') return st_fail(c, "bad escape in string");
  unsigned u, lo;
  if (st_hex4(c, &u)) return -1;
  if (u >= 0xdc00 && u <= 0xdfff) return st_fail(c, "lone low surrogate in string");
  if (u >= 0xd800 && u <= 0xdbff) { /* UTF-16 pair: must be followed by \uDC00..\uDFFF */
    if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
      return st_fail(c, "lone high surrogate in string");
    c->p += 2;
    if (st_hex4(c, &lo)) return -1;
    if (lo < 0xdc00 || lo > 0xdfff) return st_fail(c, "bad surrogate pair in string");
    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
  }
  if (u == 0) return st_fail(c, "\\u0000 in string"); /* names are C strings */
  *o = st_put_utf8(*o, u);
  return 0;
}

/* Decodes a string into the pool after the kept strings; *len excludes the NUL. The caller keeps it
 * (pool_used += len + 1) or lets the next string overwrite it. */
static int st_parse_string(st_jcur *c, char **s, size_t *len) {
  if (st_expect(c, '"')) return -1;
  char *o = c->pool + c->pool_used;
  *s = o;
  for (;;) {
    if (c->p >= c->end) return st_fail(c, "unterminated string");
    unsigned char ch = (unsigned char)*c->p++;
    if (ch == '"') break;
    if (ch < 0x20) return st_fail(c, "control character in string");
    if (ch != '\\')
      *o++ = (char)ch;
    else if (st_parse_escape(c, &o))
      return -1;
  }
  *o = 0;
  *len = (size_t)(o - *s);
  return 0;
}

static int st_parse_uint(st_jcur *c, uint64_t *v) {
  int ch = st_peek(c);
  if (ch < '0' || ch > '9') return st_fail(c, "expected a non-negative integer");
  if (ch == '0' && c->end - c->p > 1 && c->p[1] >= '0' && c->p[1] <= '9')
    return st_fail(c, "leading zero in number");
  for (*v = 0; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++) {
    unsigned d = (unsigned)(*c->p - '0');
    if (*v > (UINT64_MAX - d) / 10) return st_fail(c, "integer too large");
    *v = *v * 10 + d;
  }
  return 0;
}

/* [u, u, ...] with at most max elements. */
static int st_parse_uint_array(st_jcur *c, uint64_t *v, int max, int *n) {
  int more = st_open(c, '[', ']');
  for (*n = 0; more > 0;) {
    if (*n == max) return st_fail(c, "too many array elements");
    if (st_parse_uint(c, &v[(*n)++])) return -1;
    more = st_next_or_close(c, ']');
  }
  return more;
}

/* ---- header entries ---- */

/* {"key": "value", ...}: free-form strings; only the "gradcam.*" keys of safetensors.h are kept. A kept
 * value longer than its field is refused rather than cut (a cut "0.5,0.5,0.5" could still parse). */
#define ST_MAX_LABELS (16 << 20)
static int st_parse_metadata(gc_st_file *f, st_jcur *c) {
  char *k, *v;
  size_t klen, vlen;
  int more = st_open(c, '{', '}');
  while (more > 0) {
    if (st_parse_string(c, &k, &klen) || st_expect(c, ':')) return -1;
    /* k lives in the scratch pool: compare before the value reuses it */
    const struct { const char *key; char *dst; size_t cap; } kept[] = {
        {"gradcam.head", f->head, sizeof f->head},   {"gradcam.mean", f->mean, sizeof f->mean},
        {"gradcam.std", f->std, sizeof f->std},      {"gradcam.size", f->size, sizeof f->size},
        {"gradcam.resize", f->resize, sizeof f->resize}};
    char *dst = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
      if (!strcmp(k, kept[i].key)) dst = kept[i].dst, cap = kept[i].cap;
    const int labels = !strcmp(k, "gradcam.labels");
    if (st_parse_string(c, &v, &vlen)) return -1;
    if (dst) {
      if (vlen >= cap) return st_fail(c, "a gradcam.* metadata value too long");
      memcpy(dst, v, vlen + 1);
    } else if (labels) {
      if (vlen > ST_MAX_LABELS) return st_fail(c, "gradcam.labels over 16 MiB");
      free(f->labels);
      if (!(f->labels = malloc(vlen + 1))) return st_fail(c, "out of memory for gradcam.labels");
      memcpy(f->labels, v, vlen + 1);
    }
    more = st_next_or_close(c, '}');
  }
  return more;
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, each key exactly once. */
static int st_parse_entry(st_jcur *c, gc_st_tensor *t, uint64_t off[2]) {
  int seen_dtype = 0, seen_shape = 0, seen_off = 0, n;
  char *key;
  size_t len;
  int more = st_open(c, '{', '}');
  while (more > 0) {
    if (st_parse_string(c, &key, &len) || st_expect(c, ':')) return -1;
    if (strcmp(key, "dtype") == 0 && !seen_dtype++) {
      char *dt;
      if (st_parse_string(c, &dt, &len)) return -1;
      if (!(t->dtype_size = st_dtype_size(dt))) return st_fail(c, "unknown dtype");
      memcpy(t->dtype, dt, len + 1); /* known dtypes fit */
    } else if (strcmp(key, "shape") == 0 && !seen_shape++) {
      if (st_parse_uint_array(c, t->shape, GC_ST_MAX_DIMS, &t->ndim)) return -1;
    } else if (strcmp(key, "data_offsets") == 0 && !seen_off++) {
      if (st_parse_uint_array(c, off, 2, &n)) return -1;
      if (n != 2) return st_fail(c, "data_offsets needs 2 elements");
    } else {
      return st_fail(c, "unknown or repeated key in tensor entry");
    }
    more = st_next_or_close(c, '}');
  }
  if (more < 0) return -1;
  if (!seen_dtype || !seen_shape || !seen_off)
    return st_fail(c, "tensor entry lacks dtype, shape or data_offsets");
  return 0;
}

/* numel and byte size must not overflow, and the bytes must lie inside the blob. */
static int st_check_extent(gc_st_tensor *t, const uint64_t off[2], const uint8_t *blob, uint64_t blob_size,
                           char *err, size_t errlen) {
  uint64_t numel = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (t->shape[i] && numel > UINT64_MAX / t->shape[i]) {
      gc_st_errorf(err, errlen, "%s: element count overflows", t->name);
      return -1;
    }
    numel *= t->shape[i];
  }
  if (off[0] > off[1] || numel > UINT64_MAX / t->dtype_size || numel * t->dtype_size != off[1] - off[0]) {
    gc_st_errorf(err, errlen,
                 "%s: data_offsets [%" PRIu64 ",%" PRIu64 "] do not match %s x %" PRIu64 " elements", t->name,
                 off[0], off[1], t->dtype, numel);
    return -1;
  }
  if (off[1] > blob_size) {
    gc_st_errorf(err, errlen,
                 "%s: data_offsets [%" PRIu64 ",%" PRIu64 "] run past the %" PRIu64 "-byte data section",
                 t->name, off[0], off[1], blob_size);
    return -1;
  }
  t->numel = numel;
  t->data = blob + off[0];
  return 0;
}

/* ---- whole file ---- */

static int st_cmp_by_name(const void *a, const void *b) {
  return strcmp((*(gc_st_tensor *const *)a)->name, (*(gc_st_tensor *const *)b)->name);
}

static int st_cmp_key(const void *key, const void *elem) {
  return strcmp((const char *)key, (*(gc_st_tensor *const *)elem)->name);
}

#define ST_STR_(x) #x
#define ST_STR(x) ST_STR_(x)

/* Top-level object: tensor entries and at most one "__metadata__"; only blanks may follow it. */
static int st_parse_header(gc_st_file *f, st_jcur *c, const uint8_t *blob, uint64_t blob_size) {
  size_t cap = 0, len;
  int seen_meta = 0;
  char *key;
  int more = st_open(c, '{', '}');
  while (more > 0) {
    if (st_parse_string(c, &key, &len) || st_expect(c, ':')) return -1;
    if (strcmp(key, "__metadata__") == 0) {
      if (seen_meta++) return st_fail(c, "repeated __metadata__");
      if (st_parse_metadata(f, c)) return -1;
    } else {
      c->pool_used += len + 1;
      if (f->n == GC_ST_MAX_TENSORS) /* before 10^6 tiny entries cost seconds and 100s of MB */
        return st_fail(c, "more than " ST_STR(GC_ST_MAX_TENSORS) " tensors (a ResNet has under 1,000)");
      if ((size_t)f->n == cap) {
        cap = cap ? 2 * cap : 256;
        gc_st_tensor *t = realloc(f->t, cap * sizeof *t);
        if (!t) return st_fail(c, "out of memory");
        f->t = t;
      }
      gc_st_tensor *t = &f->t[f->n++];
      uint64_t off[2];
      memset(t, 0, sizeof *t);
      t->name = key;
      if (st_parse_entry(c, t, off) || st_check_extent(t, off, blob, blob_size, c->err, c->errlen)) return -1;
    }
    more = st_next_or_close(c, '}');
  }
  if (more < 0) return -1;
  if (st_peek(c) != -1) return st_fail(c, "unexpected data after the header object");
  return 0;
}

static int st_index_names(gc_st_file *f, char *err, size_t errlen) {
  if (f->n == 0) return 0;
  if (!(f->by_name = malloc((size_t)f->n * sizeof *f->by_name))) {
    gc_st_errorf(err, errlen, "out of memory");
    return -1;
  }
  for (int i = 0; i < f->n; i++) f->by_name[i] = &f->t[i];
  qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, st_cmp_by_name);
  for (int i = 1; i < f->n; i++)
    if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
      gc_st_errorf(err, errlen, "%s: tensor name appears twice in the header", f->by_name[i]->name);
      return -1;
    }
  return 0;
}

int gc_st_parse(gc_st_file *f, const uint8_t *data, size_t size, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  if (size < 8) {
    gc_st_errorf(err, errlen, "file too short for a safetensors header (%zu bytes)", size);
    return -1;
  }
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
  if (hlen > size - 8) { /* checked before any allocation sized by it */
    gc_st_errorf(err, errlen, "safetensors header length %" PRIu64 " exceeds the file size (%zu bytes)", hlen,
                 size);
    return -1;
  }
  if (hlen > GC_ST_MAX_HEADER) { /* the format's own limit (safetensors refuses more than 100 MB) */
    gc_st_errorf(err, errlen, "safetensors header length %" PRIu64 " is over the format's limit of %d bytes", hlen,
                 GC_ST_MAX_HEADER);
    return -1;
  }
  st_jcur c = {
      (const char *)data + 8, (const char *)data + 8, (const char *)data + 8 + hlen, NULL, 0, err, errlen};
  if (!(c.pool = f->names = malloc((size_t)hlen + 1))) {
    gc_st_errorf(err, errlen, "out of memory");
    return -1;
  }
  if (st_parse_header(f, &c, data + 8 + hlen, size - 8 - hlen) || st_index_names(f, err, errlen)) {
    gc_st_free(f);
    return -1;
  }
  return 0;
}

const gc_st_tensor *gc_st_find(const gc_st_file *f, const char *name) {
  if (f->n == 0) return NULL;
  gc_st_tensor *const *hit = bsearch(name, f->by_name, (size_t)f->n, sizeof *f->by_name, st_cmp_key);
  return hit ? *hit : NULL;
}

void gc_st_free(gc_st_file *f) {
  free(f->labels);
  free(f->t);
  free(f->by_name);
  free(f->names);
  memset(f, 0, sizeof *f);
}
