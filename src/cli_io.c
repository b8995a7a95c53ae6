/* cli_io.c: files for the command line (see cli_io.h). */
#include "cli_io.h"

#include "image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>

#define MAX_FILE (512u << 20) /* refuse files larger than this outright */

int fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("gradcam: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return code;
}

/* ---- files ----------------------------------------------------------------------------------------- */

uint8_t *read_file(const char *path, size_t *n, char *err, size_t errlen) {
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

int write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return fail(2, "%s: %s", path, strerror(errno));
  size_t w = fwrite(data, 1, n, f);
  if (fclose(f) || w != n) return fail(1, "%s: write failed", path);
  return 0;
}

/* A float32 .npy (format 1.0, little-endian, C order). */
int write_npy(const char *path, const float *a, const int *shape, int ndim) {
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

int write_png(const char *path, const uint8_t *rgb, int w, int h, int channels) {
  FILE *f = fopen(path, "wb");
  if (!f) return fail(2, "%s: %s", path, strerror(errno));
  int ok = stbi_write_png_to_func(png_sink, f, w, h, channels, rgb, w * channels);
  if (fclose(f) || !ok) return fail(1, "%s: PNG write failed", path);
  return 0;
}

/* ---- labels ---------------------------------------------------------------------------------------- */


void labels_load(labels *L, const char *path, const char *text, int n) {
  char err[256];
  size_t size = 0;
  uint8_t *data = path ? read_file(path, &size, err, sizeof err) : NULL;
  if (!path && text) { /* the model's own names (the engine checked their count) */
    size = strlen(text);
    if (!(data = malloc(size + 1))) { fail(1, "out of memory"); exit(1); }
    memcpy(data, text, size + 1);
    path = "the model's gradcam.labels";
  }
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

void labels_free(labels *L) { free(L->name); free(L->buf); }


void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  putchar('"');
}

int load_image(const char *path, gc_image *img) {
  char err[512];
  size_t n;
  uint8_t *data = read_file(path, &n, err, sizeof err);
  if (!data) return fail(2, "%s", err);
  int rc = gc_image_decode(data, n, img, err, sizeof err);
  free(data);
  return rc ? fail(2, "%s: %s", path, err) : 0;
}
