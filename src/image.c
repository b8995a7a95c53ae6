/* image.c: decode (stb_image), PIL-exact bilinear resize, ImageNet normalisation. See image.h. */
#include "image.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * stb_image, compiled here and only here.
 *
 * Only the four formats we promise are compiled in (less attack surface, smaller wasm). No stdio:
 * callers hand us bytes (the CLI reads the file, the page gets an ArrayBuffer). STBI_MAX_DIMENSIONS
 * stays at stb's default (2^24): lowering it to our limit would make stbi_info fail with a generic
 * "unknown type, or corrupt" instead of letting gc_image_decode say "too large".
 * STBI_MALLOC/REALLOC/FREE are left to stb's defaults (malloc/realloc/free) unless the includer
 * defines them (the unit test does, to measure allocations): the decoded buffer becomes
 * gc_image.rgb as is and is released with free().
 * --------------------------------------------------------------------------------------------- */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_FAILURE_USERMSG
#include <stb_image.h>

/* Fuzz builds (tests/fuzz/fuzz_image.c defines GC_IMAGE_FUZZ_LIMITS before including this file) lower
 * the limits so that a header claiming a large image costs microseconds, not a 192 MiB allocation and
 * a full-size resize: the fuzzer then spends its time on parsing, where the bugs are. Every check
 * still runs; only the numbers shrink. */
#ifdef GC_IMAGE_FUZZ_LIMITS
#undef GC_IMAGE_MAX_SIDE
#undef GC_IMAGE_MAX_PIXELS
#define GC_IMAGE_MAX_SIDE   1024
#define GC_IMAGE_MAX_PIXELS (64L * 1024)
#endif

/* ---------------------------------------------------------------------------------------------
 * Errors and limits
 * --------------------------------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The one place the size limits are enforced (decode, canvas input and resize all pass here). */
static int check_size(long long w, long long h, char *err, size_t errlen) {
  if (w <= 0 || h <= 0) return fail(err, errlen, "image has no pixels (%lldx%lld)", w, h);
  if (w > GC_IMAGE_MAX_SIDE || h > GC_IMAGE_MAX_SIDE || w * h > GC_IMAGE_MAX_PIXELS)
    return fail(err, errlen, "image too large: %lldx%lld (limit %d px per side, %ld px in total)",
                w, h, GC_IMAGE_MAX_SIDE, GC_IMAGE_MAX_PIXELS);
  return 0;
}

static int alloc_image(gc_image *out, int w, int h, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (check_size(w, h, err, errlen)) return -1;
  out->rgb = malloc((size_t)w * h * 3);
  if (!out->rgb) return fail(err, errlen, "out of memory for a %dx%d image", w, h);
  out->w = w;
  out->h = h;
  return 0;
}

void gc_image_free(gc_image *img) {
  if (!img) return;
  free(img->rgb);
  memset(img, 0, sizeof *img);
}

/* ---------------------------------------------------------------------------------------------
 * Checks before stb decodes
 *
 * Truncation: stb_image reads past the end of its buffer as zeros. JPEG survives that (stb insists
 * on the EOI marker), but a BMP cut short decodes with black rows, a GIF cut anywhere after its
 * descriptor decodes to a blank frame, and a PNG cut inside IEND's CRC decodes because stb stops at
 * IEND without reading it. A truncated upload should be an error, not a plausible picture, so for
 * these three formats we check that the bytes the decoder will consume are all there.
 *
 * A JPEG bug: stb_image 2.27 (Debian's libstb-dev) trusts the 16 code counts of a DHT table; when
 * a corrupt file makes them sum to more than 256, stbi__build_huffman writes past its size[257]
 * and values[256] arrays (upstream added the missing check in 2.28). jpeg_check refuses such a
 * table first, walking the markers the way stb's decoder reaches them.
 *
 * Another (found by fuzz_image): stb keeps its Huffman and quantisation tables in a malloc'd,
 * uninitialised struct and never checks that a scan's tables were defined. A scan naming, say, AC
 * table 3 decodes with whatever the heap held: pixels that differ from run to run, and with the right
 * garbage a negative bit count (UB: "shift exponent 38 is too large", stbi__grow_buffer_unsafe).
 * libjpeg (PIL) refuses such files ("Huffman table 0x13 was not defined"); so does jpeg_check, for
 * exactly the tables the scan will read.
 * --------------------------------------------------------------------------------------------- */

static uint32_t le16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }
static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }

/* Every chunk, up to and including IEND and its CRC, is present. */
static int png_complete(const uint8_t *d, size_t n) {
  for (size_t p = 8; p + 12 <= n;) {
    uint64_t end = p + 12 + (uint64_t)be32(d + p);
    if (end > n) return 0;
    if (!memcmp(d + p + 4, "IEND", 4)) return 1;
    p = (size_t)end;
  }
  return 0;
}

/* GIF data sub-blocks (length byte, bytes; a 0 length ends them) starting at *p. */
static int gif_skip_blocks(const uint8_t *d, size_t n, size_t *p) {
  while (*p < n) {
    uint8_t len = d[(*p)++];
    if (!len) return 1;
    *p += len;
  }
  return 0;
}

/* Header, colour tables, extensions and the first image's LZW data (the frame stb decodes) are
 * present. Later frames and the trailer are not needed. */
static int gif_complete(const uint8_t *d, size_t n) {
  if (n < 13) return 0;
  size_t p = 13 + (d[10] & 0x80 ? 3u << ((d[10] & 7) + 1) : 0); /* global colour table */
  while (p < n) {
    uint8_t tag = d[p++];
    if (tag == 0x21) { /* extension: label, then sub-blocks */
      p++;
      if (!gif_skip_blocks(d, n, &p)) return 0;
    } else if (tag == 0x2C) { /* image descriptor, local colour table, LZW code size, data */
      if (p + 9 > n) return 0;
      uint8_t flags = d[p + 8];
      p += 9 + (flags & 0x80 ? 3u << ((flags & 7) + 1) : 0) + 1;
      return gif_skip_blocks(d, n, &p);
    } else {
      return 0; /* trailer before any image, or junk */
    }
  }
  return 0;
}

/* The pixel array (rows padded to 4 bytes, from the header's data offset) is present. w and h
 * come from stbi_info and are already known to be within limits. */
static int bmp_complete(const uint8_t *d, size_t n, int w, int h) {
  if (n < 18) return 0;
  uint32_t hsz = le32(d + 14), bpp_at = hsz == 12 ? 24 : 28; /* OS/2 core header or Windows */
  if (n < 14 + (uint64_t)hsz || n < bpp_at + 2) return 0;
  uint64_t start = le32(d + 10), row = ((uint64_t)w * le16(d + bpp_at) + 31) / 32 * 4;
  if (start < 14 + (uint64_t)hsz) start = 14 + (uint64_t)hsz;
  return start + row * h <= n;
}

/* Segments are skipped by their length; between them (entropy-coded data, fill bytes, stuffed 0xFF
 * 0x00, RSTn) bytes are skipped one at a time until the next real marker, which is also where stb's
 * bit reader stops. DHT and DQT are walked exactly as stb reads them: tables follow each other while
 * the segment length is not used up, even past its end, and bytes past the buffer read as 0. Returns
 * NULL, or what is wrong. */
static uint8_t at0(const uint8_t *d, size_t n, size_t i) { return i < n ? d[i] : 0; }

/* Where a JPEG's markers start (after SOI), or 0 if d is no JPEG to stb: its marker reader skips
 * any run of 0xFF fill bytes, so "FF FF D8" opens a JPEG as well as "FF D8" (found by fuzz_image:
 * a check keyed on "FF D8" let a DHT overflow through). */
static size_t jpeg_start(const uint8_t *d, size_t n) {
  if (n < 2 || d[0] != 0xFF) return 0;
  size_t p = 1;
  while (p < n && d[p] == 0xFF) p++;
  return p < n && d[p] == 0xD8 ? p + 1 : 0;
}

static const char *jpeg_check(const uint8_t *d, size_t n, size_t start) {
  unsigned huff = 0, quant = 0; /* defined so far: bit tc*4+th (DC 0-3, AC 4-7); bit tq */
  uint8_t comp_id[4] = {0}, comp_tq[4] = {0};
  int ncomp = 0, progressive = 0;
  for (size_t p = start; p + 4 <= n;) {
    uint8_t m = d[p + 1];
    if (d[p] != 0xFF || m == 0xFF || m == 0x00 || (m >= 0xD0 && m <= 0xD7)) {
      p++;
      continue;
    }
    if (m == 0xD9) return NULL; /* EOI */
    size_t len = be16(d + p + 2), q = p + 4;
    long left = (long)len - 2;
    if (m == 0xC4) {
      while (left > 0) {
        long count = 0;
        for (size_t i = q + 1; i < q + 17; i++) count += at0(d, n, i);
        if (count > 256) return "Huffman table with more than 256 codes";
        uint8_t tcth = at0(d, n, q);
        if (tcth >> 4 <= 1 && (tcth & 15) <= 3) huff |= 1u << ((tcth >> 4) * 4 + (tcth & 15));
        q += 17 + (size_t)count;
        left -= 17 + count;
      }
    } else if (m == 0xDB) {
      while (left > 0) {
        uint8_t pq = at0(d, n, q);
        if ((pq & 15) <= 3) quant |= 1u << (pq & 15);
        q += pq >> 4 ? 129 : 65;
        left -= pq >> 4 ? 129 : 65;
      }
    } else if (m >= 0xC0 && m <= 0xC2) { /* the frames stb decodes: baseline, extended, progressive */
      progressive = m == 0xC2;
      ncomp = at0(d, n, q + 5) <= 4 ? at0(d, n, q + 5) : 0;
      for (int c = 0; c < ncomp; c++)
        comp_id[c] = at0(d, n, q + 6 + 3 * (size_t)c), comp_tq[c] = at0(d, n, q + 8 + 3 * (size_t)c);
    } else if (m == 0xDA) {
      size_t ns = at0(d, n, q), tail = q + 1 + 2 * ns;
      uint8_t ss = at0(d, n, tail), se = at0(d, n, tail + 1), ah = at0(d, n, tail + 2) >> 4;
      for (size_t k = 0; k < ns && k < 4; k++) {
        uint8_t id = at0(d, n, q + 1 + 2 * k), t = at0(d, n, q + 2 + 2 * k);
        int c = 0;
        while (c < ncomp && comp_id[c] != id) c++;
        if (c == ncomp) continue; /* stb refuses the scan itself */
        if (comp_tq[c] > 3 || !(quant >> comp_tq[c] & 1)) return "scan uses an undefined quantization table";
        /* baseline scans always use both (stb forces Ss 0, Se 63); a DC refinement scan uses neither */
        int dc = !progressive || (ss == 0 && !ah), ac = !progressive || ss > 0 || se > 0;
        int td = t >> 4, ta = t & 15;
        if ((dc && (td > 3 || !(huff >> td & 1))) || (ac && (ta > 3 || !(huff >> (4 + ta) & 1))))
          return "scan uses an undefined Huffman table";
      }
    }
    p += 2 + len;
  }
  return NULL;
}

static int is_png(const uint8_t *d, size_t n) {
  return n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8);
}

static int check_complete(const uint8_t *d, size_t n, int w, int h, char *err, size_t errlen) {
  if (is_png(d, n) && !png_complete(d, n))
    return fail(err, errlen, "truncated PNG (no complete IEND chunk)");
  if (n >= 4 && !memcmp(d, "GIF8", 4) && !gif_complete(d, n))
    return fail(err, errlen, "truncated or corrupt GIF (first frame incomplete)");
  if (n >= 2 && !memcmp(d, "BM", 2) && !bmp_complete(d, n, w, h))
    return fail(err, errlen, "truncated BMP (pixel data incomplete)");
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Decoding
 * --------------------------------------------------------------------------------------------- */

int gc_image_decode(const uint8_t *data, size_t size, gc_image *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!data || size == 0) return fail(err, errlen, "image data is empty");
  if (size > INT32_MAX) return fail(err, errlen, "image file too large (%zu bytes)", size);

  /* Header only: a 100-byte file may claim 60000x60000, and must be refused before stb allocates
   * the 10 GB it would need. stb's PNG header scan refuses images over 1 GB itself, but with a
   * generic "unknown type, or corrupt" (as it does for 0x0), so IHDR's size is read here first.
   * stbi_info already builds a JPEG's Huffman tables, so the JPEG checks come before it too. */
  if (is_png(data, size) && size >= 24 && !memcmp(data + 12, "IHDR", 4) &&
      check_size(be32(data + 16), be32(data + 20), err, errlen))
    return -1;
  const size_t jpeg_at = jpeg_start(data, size);
  const char *bad_jpeg = jpeg_at ? jpeg_check(data, size, jpeg_at) : NULL;
  if (bad_jpeg) return fail(err, errlen, "corrupt JPEG (%s)", bad_jpeg);
  int w = 0, h = 0, n = 0;
  if (!stbi_info_from_memory(data, (int)size, &w, &h, &n))
    return fail(err, errlen, "cannot decode image: %s (PNG, JPEG, BMP or GIF expected)",
                stbi_failure_reason());
  /* stbi_info gives a top-down BMP's height as stored, negative; stb's loader flips it and decodes
   * abs(h) rows. PIL opens such files (Windows writes them), so they must not read as "no pixels". */
  if (size >= 2 && !memcmp(data, "BM", 2) && h < 0 && h != INT_MIN) h = -h;
  if (check_size(w, h, err, errlen) || check_complete(data, size, w, h, err, errlen)) return -1;

  int dw = 0, dh = 0;
  uint8_t *rgb = stbi_load_from_memory(data, (int)size, &dw, &dh, &n, 3);
  if (!rgb) return fail(err, errlen, "cannot decode image: %s", stbi_failure_reason());
  if (dw != w || dh != h) { /* no known format does this; never trust a size we did not check */
    stbi_image_free(rgb);
    return fail(err, errlen, "corrupt image: header says %dx%d, data decodes to %dx%d", w, h, dw, dh);
  }
  out->w = w;
  out->h = h;
  out->rgb = rgb;
  return 0;
}

int gc_image_from_rgba(const uint8_t *rgba, int w, int h, gc_image *out, char *err, size_t errlen) {
  if (alloc_image(out, w, h, err, errlen)) return -1;
  size_t npix = (size_t)w * h;
  for (size_t i = 0; i < npix; i++) memcpy(out->rgb + 3 * i, rgba + 4 * i, 3);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * PIL-exact bilinear resize
 *
 * PIL's ImagingResample (libImaging/Resample.c) is a separable convolution. For each output index
 * a window of input indices gets triangle-filter weights whose support is stretched by the
 * downscale factor (so a 4x reduction averages ~8 taps: antialiasing, unlike OpenCV's INTER_LINEAR).
 * For 8-bit images the double weights are normalised to sum 1, then turned into fixed point with
 * PRECISION_BITS = 32-8-2 = 22 fractional bits so that the inner loop is integer: 255 * 2^22 plus
 * rounding still fits an int32. Each pass rounds (+2^21, >>22) and clamps to uint8, and the
 * vertical pass reads the rounded 8-bit output of the horizontal one. Reproducing that arithmetic
 * (doubles for the weights, the same rounding, the same pass order) gives PIL's bytes exactly;
 * a float implementation would be off by one on a few percent of pixels.
 * --------------------------------------------------------------------------------------------- */

#define PIL_PRECISION_BITS 22

typedef struct pil_coeffs {
  int ksize;     /* taps reserved per output index                       */
  int *bounds;   /* [n][2]: first input index, number of taps            */
  int32_t *k;    /* [n][ksize]: fixed-point weights (Q22)                */
} pil_coeffs;

/* PIL's bilinear_filter: the triangle, support 1. */
static double triangle(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* precompute_coeffs + normalize_coeffs_8bpc for the whole axis (box = [0, in_size]). */
static int pil_coeffs_init(pil_coeffs *c, int in_size, int out_size) {
  double scale = (double)in_size / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  c->ksize = (int)ceil(support) * 2 + 1;
  c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds);
  c->k = calloc((size_t)out_size * c->ksize, sizeof *c->k);
  double *w = malloc((size_t)c->ksize * sizeof *w);
  if (!c->bounds || !c->k || !w) {
    free(w);
    return -1;
  }
  for (int xx = 0; xx < out_size; xx++) {
    double center = (xx + 0.5) * scale;
    double ss = 1.0 / filterscale;
    int xmin = (int)(center - support + 0.5); /* truncation, as PIL's "round" does */
    if (xmin < 0) xmin = 0;
    int xmax = (int)(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; x++) {
      w[x] = triangle((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    int32_t *k = c->k + (size_t)xx * c->ksize;
    /* ww > 0: the window always holds the tap nearest the centre. The triangle has no negative
     * lobe, so PIL's round-half-away-from-zero is simply +0.5 and truncate. */
    for (int x = 0; x < xmax; x++)
      k[x] = (int32_t)(0.5 + w[x] / ww * (1 << PIL_PRECISION_BITS));
    c->bounds[2 * xx + 0] = xmin;
    c->bounds[2 * xx + 1] = xmax;
  }
  free(w);
  return 0;
}

static void pil_coeffs_free(pil_coeffs *c) {
  free(c->bounds);
  free(c->k);
}

/* PIL's clip8: drop the 22 fraction bits (floor) and clamp to a byte. */
static uint8_t clip8(int32_t v) {
  v >>= PIL_PRECISION_BITS;
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One pass along x: src rows [row0, row0 + nrows) of a [..][sw][3] image -> dst [nrows][ow][3]. */
static void pil_pass_h(const uint8_t *src, int sw, int row0, int nrows, const pil_coeffs *c,
                       uint8_t *dst, int ow) {
  for (int y = 0; y < nrows; y++) {
    const uint8_t *s = src + (size_t)(row0 + y) * sw * 3;
    for (int xx = 0; xx < ow; xx++) {
      int xmin = c->bounds[2 * xx], n = c->bounds[2 * xx + 1];
      const int32_t *k = c->k + (size_t)xx * c->ksize;
      int32_t acc[3] = {1 << (PIL_PRECISION_BITS - 1), 1 << (PIL_PRECISION_BITS - 1),
                        1 << (PIL_PRECISION_BITS - 1)};
      for (int x = 0; x < n; x++)
        for (int ch = 0; ch < 3; ch++) acc[ch] += s[(xmin + x) * 3 + ch] * k[x];
      uint8_t *d = dst + ((size_t)y * ow + xx) * 3;
      for (int ch = 0; ch < 3; ch++) d[ch] = clip8(acc[ch]);
    }
  }
}

/* One pass along y: src [..][w][3] with row indices relative to row0 -> dst [oh][w][3]. */
static void pil_pass_v(const uint8_t *src, int w, int row0, const pil_coeffs *c, uint8_t *dst,
                       int oh) {
  for (int yy = 0; yy < oh; yy++) {
    int ymin = c->bounds[2 * yy] - row0, n = c->bounds[2 * yy + 1];
    const int32_t *k = c->k + (size_t)yy * c->ksize;
    for (int x = 0; x < w * 3; x++) {
      int32_t acc = 1 << (PIL_PRECISION_BITS - 1);
      for (int y = 0; y < n; y++) acc += src[(size_t)(ymin + y) * w * 3 + x] * k[y];
      dst[(size_t)yy * w * 3 + x] = clip8(acc);
    }
  }
}

/* Both passes, with coefficients ready. Like ImagingResampleInner: the horizontal pass runs first
 * and only over the rows the vertical pass will read ([first, last)); a pass along an axis whose
 * size does not change is skipped (for such an axis the window is the identity, first = 0 and
 * last = h, so the horizontal pass then writes straight into out). */
static int pil_resize(const gc_image *in, const pil_coeffs *cx, const pil_coeffs *cy, gc_image *out) {
  int w = in->w, h = in->h, ow = out->w, oh = out->h;
  const uint8_t *src = in->rgb;
  uint8_t *tmp = NULL;
  int row0 = 0;
  if (ow != w) {
    int first = cy->bounds[0];
    int last = cy->bounds[2 * (oh - 1)] + cy->bounds[2 * (oh - 1) + 1];
    uint8_t *dst = out->rgb;
    if (oh != h && !(dst = tmp = malloc((size_t)(last - first) * ow * 3))) return -1;
    pil_pass_h(in->rgb, w, first, last - first, cx, dst, ow);
    src = dst;
    row0 = first;
  }
  if (oh != h) pil_pass_v(src, ow, row0, cy, out->rgb, oh);
  free(tmp);
  return 0;
}

int gc_image_resize_bilinear_aa(const gc_image *in, int ow, int oh, gc_image *out, char *err,
                                size_t errlen) {
  if (alloc_image(out, ow, oh, err, errlen)) return -1;
  if (ow == in->w && oh == in->h) { /* PIL returns a copy; so do we */
    memcpy(out->rgb, in->rgb, (size_t)ow * oh * 3);
    return 0;
  }
  pil_coeffs cx = {0}, cy = {0};
  int rc = pil_coeffs_init(&cx, in->w, ow) || pil_coeffs_init(&cy, in->h, oh) ||
           pil_resize(in, &cx, &cy, out);
  pil_coeffs_free(&cx);
  pil_coeffs_free(&cy);
  if (rc) {
    gc_image_free(out);
    return fail(err, errlen, "out of memory resizing %dx%d to %dx%d", in->w, in->h, ow, oh);
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * ToTensor + Normalize
 *
 * torchvision does img.float().div(255), then tensor.sub_(mean).div_(std) with mean/std as float32
 * tensors: three float32 roundings (divide, subtract, divide). Multiplying by a precomputed 1/std
 * would be faster but not bit-identical, and the model output is compared to PyTorch's.
 * --------------------------------------------------------------------------------------------- */

void gc_image_to_tensor(const gc_image *img, const float *mean, const float *std, float *out) {
  static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
  static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
  if (!mean) mean = imagenet_mean;
  if (!std) std = imagenet_std;
  size_t n = (size_t)img->w * img->h * 3;
  for (size_t i = 0; i < n; i++) {
    float x = (float)img->rgb[i] / 255.0f;
    x = x - mean[i % 3];
    out[i] = x / std[i % 3];
  }
}

/* ---------------------------------------------------------------------------------------------
 * Resize(R) + CenterCrop((oh, ow)), torchvision's arithmetic
 *
 * Resize(R) on a w x h image: the shorter side becomes R, the longer int(R * long / short) (Python's
 * true division, then truncation); CenterCrop: top = int(round((h' - oh) / 2.0)), Python's round, i.e.
 * half to even (rint in the default rounding mode).
 * --------------------------------------------------------------------------------------------- */

void gc_image_crop_geometry(int w, int h, int resize, int ow, int oh, int *rw, int *rh, int *left, int *top) {
  const int portrait = w <= h, s = portrait ? w : h, l = portrait ? h : w;
  const int nl = (int)((double)resize * l / s);
  *rw = portrait ? resize : nl;
  *rh = portrait ? nl : resize;
  *left = (int)rint((*rw - ow) / 2.0);
  *top = (int)rint((*rh - oh) / 2.0);
}

int gc_image_crop(const gc_image *in, int x, int y, int w, int h, gc_image *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > in->w || y + h > in->h)
    return fail(err, errlen, "crop %dx%d at (%d, %d) outside the %dx%d image", w, h, x, y, in->w, in->h);
  if (!(out->rgb = malloc((size_t)w * h * 3))) return fail(err, errlen, "out of memory cropping to %dx%d", w, h);
  out->w = w, out->h = h;
  for (int r = 0; r < h; r++) memcpy(out->rgb + (size_t)r * w * 3, in->rgb + ((size_t)(y + r) * in->w + x) * 3, (size_t)w * 3);
  return 0;
}

int gc_image_resize_crop(const gc_image *in, int resize, int ow, int oh, gc_image *out, char *err, size_t errlen) {
  int rw, rh, left, top;
  if (resize <= 0) return gc_image_resize_bilinear_aa(in, ow, oh, out, err, errlen);
  gc_image_crop_geometry(in->w, in->h, resize, ow, oh, &rw, &rh, &left, &top);
  if (rw < ow || rh < oh)
    return fail(err, errlen, "Resize(%d) of a %dx%d image gives %dx%d, smaller than the %dx%d crop", resize, in->w,
                in->h, rw, rh, ow, oh);
  gc_image r;
  if (gc_image_resize_bilinear_aa(in, rw, rh, &r, err, errlen)) return -1;
  const int rc = gc_image_crop(&r, left, top, ow, oh, out, err, errlen);
  gc_image_free(&r);
  return rc;
}
