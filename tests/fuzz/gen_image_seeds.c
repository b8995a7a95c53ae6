/* gen_image_seeds.c: small seed images for fuzz_image, in every variant our decoder path handles.
 *
 *   gen_image_seeds OUT_DIR PHOTO...      (scripts/fuzz builds and runs it on ../shared/images)
 *
 * Each photo is decoded (stb_image), shrunk to 24x18 (our PIL resize) and written as: PNG RGB, grey,
 * grey+alpha, RGBA (stb_image_write), PNG 16-bit, palette 8/4/1-bit with tRNS, grey 2-bit, Adam7
 * interlaced (built here), BMP 24/32-bit (stb) and 8/4/1-bit palette, 16-bit BI_BITFIELDS, top-down
 * and OS/2-header BMPs, GIF (global/local table, interlaced, transparency, two frames), baseline
 * JPEG colour/grey, progressive JPEG grey/colour (built here), and the JPEG photos themselves where
 * they fit the fuzz limits. Small seeds keep
 * the fuzzer fast.
 */
#define GC_IMAGE_FUZZ_LIMITS 1
#include "../../src/image.c"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>

#define W 24
#define H 18

static const char *g_dir;
static int g_n;

static void put(const char *name, const void *d, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(d, 1, n, f) != n || fclose(f)) {
    fprintf(stderr, "gen_image_seeds: cannot write %s\n", path);
    exit(1);
  }
  gc_image im; /* a seed our decoder refuses would only exercise the error paths */
  char err[256];
  if (gc_image_decode(d, n, &im, err, sizeof err)) {
    fprintf(stderr, "gen_image_seeds: %s does not decode: %s\n", name, err);
    exit(1);
  }
  gc_image_free(&im);
  g_n++;
}

typedef struct buf { uint8_t *d; size_t n, cap; } buf;
static void bput(buf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    if (!(b->d = realloc(b->d, b->cap))) exit(1);
  }
  memcpy(b->d + b->n, p, n);
  b->n += n;
}
static void b8(buf *b, unsigned v) { uint8_t c = (uint8_t)v; bput(b, &c, 1); }
static void b16le(buf *b, unsigned v) { b8(b, v & 255); b8(b, v >> 8 & 255); }
static void b32le(buf *b, uint32_t v) { b16le(b, v & 0xffff); b16le(b, v >> 16); }
static void b32be(buf *b, uint32_t v) { b8(b, v >> 24); b8(b, v >> 16 & 255); b8(b, v >> 8 & 255); b8(b, v & 255); }
static void stbw(void *ctx, void *data, int size) { bput(ctx, data, (size_t)size); }

/* ---- PNG by hand (the variants stb_image_write cannot make) ---- */

static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c >> 1 ^ (0xedb88320u & -(c & 1));
  }
  return ~c;
}
static void png_chunk(buf *b, const char *type, const uint8_t *d, size_t n) {
  b32be(b, (uint32_t)n);
  size_t at = b->n;
  bput(b, type, 4);
  if (n) bput(b, d, n);
  b32be(b, crc32(b->d + at, n + 4));
}

/* px(x, y, out): the sample bytes of one pixel (already packed per depth by pack_row). */
typedef struct png_spec { int depth, ctype, interlace, nplte, trns; } png_spec;

static int png_channels(int ctype) { return ctype == 0 ? 1 : ctype == 2 ? 3 : ctype == 3 ? 1 : ctype == 4 ? 2 : 4; }

/* value of channel c of pixel (x, y) at the given depth, from the RGB photo */
static unsigned sample(const gc_image *im, const png_spec *s, int x, int y, int c) {
  const uint8_t *p = im->rgb + ((size_t)y * im->w + x) * 3;
  unsigned grey = (p[0] * 77u + p[1] * 150u + p[2] * 29u) >> 8;
  unsigned v;
  if (s->ctype == 3) v = (p[0] >> 5 << 5 | p[1] >> 5 << 2 | p[2] >> 6) % (unsigned)s->nplte;
  else if (s->ctype == 0 || s->ctype == 4) v = c == 0 ? grey : (unsigned)(x * 10);
  else v = c < 3 ? p[c] : (unsigned)(y * 14);
  if (s->ctype == 3) return v;
  if (s->depth == 16) return v * 257;
  return v >> (8 - s->depth);
}

static void png_row(buf *raw, const gc_image *im, const png_spec *s, int y, int x0, int dx) {
  int ch = png_channels(s->ctype);
  b8(raw, 0); /* filter: none */
  unsigned acc = 0, bits = 0;
  for (int x = x0; x < im->w; x += dx)
    for (int c = 0; c < ch; c++) {
      unsigned v = sample(im, s, x, y, c);
      if (s->depth == 16) { b8(raw, v >> 8); b8(raw, v & 255); continue; }
      acc = acc << s->depth | v;
      bits += (unsigned)s->depth;
      if (bits == 8) { b8(raw, acc); acc = bits = 0; }
    }
  if (bits) b8(raw, acc << (8 - bits));
}

static void png_hand(const char *name, const gc_image *im, png_spec s) {
  static const int a7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
  buf raw = {0}, out = {0};
  if (!s.interlace)
    for (int y = 0; y < im->h; y++) png_row(&raw, im, &s, y, 0, 1);
  else
    for (int p = 0; p < 7; p++)
      if (a7[p][0] < im->w)
        for (int y = a7[p][1]; y < im->h; y += a7[p][3]) png_row(&raw, im, &s, y, a7[p][0], a7[p][2]);
  int zn;
  uint8_t *z = stbi_zlib_compress(raw.d, (int)raw.n, &zn, 8);
  uint8_t ihdr[13];
  const uint32_t w = (uint32_t)im->w, h = (uint32_t)im->h;
  ihdr[0] = w >> 24, ihdr[1] = w >> 16, ihdr[2] = w >> 8, ihdr[3] = (uint8_t)w;
  ihdr[4] = h >> 24, ihdr[5] = h >> 16, ihdr[6] = h >> 8, ihdr[7] = (uint8_t)h;
  ihdr[8] = (uint8_t)s.depth, ihdr[9] = (uint8_t)s.ctype, ihdr[10] = ihdr[11] = 0, ihdr[12] = (uint8_t)s.interlace;
  bput(&out, "\x89PNG\r\n\x1a\n", 8);
  png_chunk(&out, "IHDR", ihdr, 13);
  if (s.ctype == 3) {
    uint8_t plte[768], trns[256];
    for (int i = 0; i < s.nplte; i++) {
      plte[3 * i] = (uint8_t)(i * 37), plte[3 * i + 1] = (uint8_t)(i * 91), plte[3 * i + 2] = (uint8_t)(255 - i);
      trns[i] = (uint8_t)(255 - i * 3);
    }
    png_chunk(&out, "PLTE", plte, 3 * (size_t)s.nplte);
    if (s.trns) png_chunk(&out, "tRNS", trns, (size_t)(s.nplte < 16 ? s.nplte : 16));
  } else if (s.trns && s.ctype == 2) {
    const uint8_t t[6] = {0, 10, 0, 20, 0, 30};
    png_chunk(&out, "tRNS", t, 6);
  } else if (s.trns && s.ctype == 0) {
    const uint8_t t[2] = {0, 1};
    png_chunk(&out, "tRNS", t, 2);
  }
  png_chunk(&out, "IDAT", z, (size_t)zn);
  png_chunk(&out, "IEND", NULL, 0);
  put(name, out.d, out.n);
  free(z), free(raw.d), free(out.d);
}

/* ---- BMP by hand: palette 1/4/8-bit, 16-bit 5-6-5 bitfields, top-down, OS/2 core header ---- */

static void bmp_hand(const char *name, const gc_image *im, int bpp, int topdown, int os2) {
  buf b = {0};
  int ncol = bpp <= 8 ? 1 << bpp : 0, hsz = os2 ? 12 : 40, masks = bpp == 16 ? 12 : 0;
  size_t row = ((size_t)im->w * bpp + 31) / 32 * 4, pal = (size_t)ncol * (os2 ? 3 : 4);
  uint32_t off = (uint32_t)(14 + hsz + masks + pal);
  bput(&b, "BM", 2), b32le(&b, off + (uint32_t)(row * im->h)), b32le(&b, 0), b32le(&b, off);
  b32le(&b, (uint32_t)hsz);
  if (os2) {
    b16le(&b, (unsigned)im->w), b16le(&b, (unsigned)im->h), b16le(&b, 1), b16le(&b, (unsigned)bpp);
  } else {
    b32le(&b, (uint32_t)im->w), b32le(&b, topdown ? (uint32_t)-im->h : (uint32_t)im->h), b16le(&b, 1);
    b16le(&b, (unsigned)bpp), b32le(&b, bpp == 16 ? 3 : 0), b32le(&b, (uint32_t)(row * im->h));
    b32le(&b, 2835), b32le(&b, 2835), b32le(&b, (uint32_t)ncol), b32le(&b, 0);
    if (bpp == 16) b32le(&b, 0xf800), b32le(&b, 0x07e0), b32le(&b, 0x001f);
  }
  for (int i = 0; i < ncol; i++) {
    b8(&b, (unsigned)(i * 255 / (ncol - 1))), b8(&b, (unsigned)(i * 97)), b8(&b, (unsigned)(255 - i * 255 / (ncol - 1)));
    if (!os2) b8(&b, 0);
  }
  for (int r = 0; r < im->h; r++) {
    int y = topdown ? r : im->h - 1 - r;
    size_t start = b.n;
    unsigned acc = 0, bits = 0;
    for (int x = 0; x < im->w; x++) {
      const uint8_t *p = im->rgb + ((size_t)y * im->w + x) * 3;
      if (bpp == 16) { b16le(&b, (unsigned)(p[0] >> 3 << 11 | p[1] >> 2 << 5 | p[2] >> 3)); continue; }
      acc = acc << bpp | (unsigned)(p[0] >> (8 - bpp));
      bits += (unsigned)bpp;
      if (bits == 8) { b8(&b, acc); acc = bits = 0; }
    }
    if (bits) b8(&b, acc << (8 - bits));
    while (b.n - start < row) b8(&b, 0);
  }
  put(name, b.d, b.n);
  free(b.d);
}

/* ---- GIF by hand: "uncompressed" LZW (a clear code before the table would grow) ---- */

static void gif_lzw(buf *b, const uint8_t *idx, size_t n, int mincode) {
  buf sub = {0};
  unsigned acc = 0, bits = 0, clear = 1u << mincode, size = (unsigned)mincode + 1;
  unsigned run = 0, maxrun = (1u << size) - clear - 3; /* codes before the decoder widens */
  b8(b, (unsigned)mincode);
#define EMIT(code) do { acc |= (unsigned)(code) << bits; bits += size; while (bits >= 8) { b8(&sub, acc & 255); acc >>= 8; bits -= 8; } } while (0)
  EMIT(clear);
  for (size_t i = 0; i < n; i++) {
    if (run == maxrun) { EMIT(clear); run = 0; }
    EMIT(idx[i]);
    run++;
  }
  EMIT(clear + 1);
  if (bits) b8(&sub, acc);
#undef EMIT
  for (size_t at = 0; at < sub.n; at += 255) {
    size_t k = sub.n - at < 255 ? sub.n - at : 255;
    b8(b, (unsigned)k), bput(b, sub.d + at, k);
  }
  b8(b, 0);
  free(sub.d);
}

static void gif_hand(const char *name, const gc_image *im, int local, int interlace, int trans, int frames) {
  buf b = {0};
  uint8_t *idx = malloc((size_t)im->w * im->h);
  for (int y = 0; y < im->h; y++)
    for (int x = 0; x < im->w; x++) {
      const uint8_t *p = im->rgb + ((size_t)y * im->w + x) * 3;
      idx[(size_t)y * im->w + x] = (uint8_t)(p[0] >> 6 << 4 | p[1] >> 6 << 2 | p[2] >> 6); /* 64 colours */
    }
  bput(&b, "GIF89a", 6), b16le(&b, (unsigned)im->w), b16le(&b, (unsigned)im->h);
  b8(&b, local ? 0x00 : 0xF5), b8(&b, 0), b8(&b, 0); /* global table of 64 entries unless local */
  for (int i = 0; !local && i < 64; i++) b8(&b, (unsigned)(i >> 4) * 85), b8(&b, (unsigned)(i >> 2 & 3) * 85), b8(&b, (unsigned)(i & 3) * 85);
  for (int f = 0; f < frames; f++) {
    if (trans) bput(&b, "\x21\xF9\x04\x05\x0A\x00\x03\x00", 8); /* GCE: transparent index 3 */
    if (f == 0 && frames > 1) bput(&b, "\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00", 19);
    b8(&b, 0x2C), b16le(&b, 0), b16le(&b, 0), b16le(&b, (unsigned)im->w), b16le(&b, (unsigned)im->h);
    b8(&b, (local ? 0x85 : 0) | (interlace ? 0x40 : 0));
    for (int i = 0; local && i < 64; i++) b8(&b, (unsigned)i * 4), b8(&b, 255 - (unsigned)i * 4), b8(&b, (unsigned)i);
    gif_lzw(&b, idx, (size_t)im->w * im->h, 6);
  }
  b8(&b, 0x3B);
  put(name, b.d, b.n);
  free(b.d), free(idx);
}

/* ---- progressive JPEG by hand ----
 * stb_image_write only writes baseline JPEG, and the one progressive photo is too large for the fuzz
 * limits, so this writes a small one: per 8x8 block only the DC coefficient (the block mean), sent in
 * the four kinds of progressive scan -- DC first (Al 1), AC first (one end-of-band run over all
 * blocks), DC refinement (one bit a block), AC refinement (again one run) -- interleaved DC scans
 * for colour, one AC scan per component. The picture is an 8x8 mosaic; the scans are all real. */

typedef struct bitw { buf *b; uint32_t acc; int n; } bitw;
static void bits(bitw *w, uint32_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    w->acc = w->acc << 1 | (v >> i & 1);
    if (++w->n == 8) {
      b8(w->b, w->acc & 255);
      if ((w->acc & 255) == 0xFF) b8(w->b, 0); /* byte stuffing */
      w->acc = 0, w->n = 0;
    }
  }
}
static void bits_flush(bitw *w) { if (w->n) bits(w, 0x7f, 8 - w->n); } /* pad with ones */

/* Standard luminance DC table (categories 0-11), canonical codes. */
static const uint8_t DC_COUNTS[16] = {0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
static void dc_code(int cat, uint32_t *code, int *len) {
  uint32_t c = 0;
  int k = 0;
  for (int l = 1; l <= 16; l++, c <<= 1)
    for (int i = 0; i < DC_COUNTS[l - 1]; i++, c++, k++)
      if (k == cat) { *code = c, *len = l; return; }
}
static void put_dc(bitw *w, int diff) {
  int cat = 0, a = diff < 0 ? -diff : diff;
  while (a >> cat) cat++;
  uint32_t code;
  int len;
  dc_code(cat, &code, &len);
  bits(w, code, len);
  if (cat) bits(w, (uint32_t)(diff < 0 ? diff - 1 : diff) & ((1u << cat) - 1), cat);
}

static void seg(buf *b, unsigned marker, const uint8_t *d, size_t n) {
  b8(b, 0xFF), b8(b, marker), b8(b, (unsigned)(n + 2) >> 8), b8(b, (unsigned)(n + 2) & 255), bput(b, d, n);
}

static void jpeg_progressive(const char *name, const gc_image *im, int ncomp) {
  enum { BW = (W + 7) / 8, BH = (H + 7) / 8 };
  int dc[3][BH][BW];
  for (int c = 0; c < ncomp; c++) /* DC = 8 x (block mean - 128) of Y, Cb, Cr */
    for (int by = 0; by < BH; by++)
      for (int bx = 0; bx < BW; bx++) {
        int sum = 0;
        for (int y = 0; y < 8; y++)
          for (int x = 0; x < 8; x++) {
            int yy = by * 8 + y < H ? by * 8 + y : H - 1, xx = bx * 8 + x < W ? bx * 8 + x : W - 1;
            const uint8_t *p = im->rgb + ((size_t)yy * W + xx) * 3;
            const double ycc[3] = {0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2],
                                   128 - 0.168736 * p[0] - 0.331264 * p[1] + 0.5 * p[2],
                                   128 + 0.5 * p[0] - 0.418688 * p[1] - 0.081312 * p[2]};
            sum += (int)(ycc[c] + 0.5);
          }
        dc[c][by][bx] = sum / 8 - 8 * 128;
      }
  buf b = {0};
  bitw w = {&b, 0, 0};
  b8(&b, 0xFF), b8(&b, 0xD8);
  uint8_t dqt[65] = {0};
  for (int i = 1; i < 65; i++) dqt[i] = 1;
  seg(&b, 0xDB, dqt, 65);
  const uint8_t sof[] = {8, 0, H, 0, W, (uint8_t)ncomp, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0};
  seg(&b, 0xC2, sof, 6 + 3 * (size_t)ncomp);
  uint8_t dht[1 + 16 + 12] = {0x00};
  memcpy(dht + 1, DC_COUNTS, 16);
  for (int i = 0; i < 12; i++) dht[17 + i] = (uint8_t)i;
  seg(&b, 0xC4, dht, sizeof dht);
  uint8_t aht[1 + 16 + 1] = {0x10, 1}; /* AC table 0: one code, "0" = EOB3 (symbol 0x30) */
  aht[17] = 0x30;
  seg(&b, 0xC4, aht, sizeof aht);
  for (int pass = 0; pass < 4; pass++) { /* DC first, AC first, DC refine, AC refine */
    int is_dc = pass % 2 == 0, refine = pass >= 2;
    for (int c = 0; c < (is_dc ? 1 : ncomp); c++) {
      uint8_t sos[1 + 6 + 3];
      int ns = is_dc ? ncomp : 1, k = 0;
      sos[k++] = (uint8_t)ns;
      for (int i = 0; i < ns; i++) sos[k++] = (uint8_t)(1 + (is_dc ? i : c)), sos[k++] = 0x00;
      sos[k++] = is_dc ? 0 : 1, sos[k++] = is_dc ? 0 : 63, sos[k++] = refine ? 0x10 : 0x01;
      seg(&b, 0xDA, sos, (size_t)k);
      int pred[3] = {0, 0, 0};
      if (is_dc) {
        for (int by = 0; by < BH; by++)
          for (int bx = 0; bx < BW; bx++)
            for (int i = 0; i < ncomp; i++) {
              int v = dc[i][by][bx];
              if (refine) bits(&w, (uint32_t)v & 1, 1);
              else put_dc(&w, (v >> 1) - pred[i]), pred[i] = v >> 1;
            }
      } else {
        bits(&w, 0, 1), bits(&w, BW * BH - 8, 3); /* EOB3: 8 + extra blocks end their band at once */
      }
      bits_flush(&w);
    }
  }
  b8(&b, 0xFF), b8(&b, 0xD9);
  put(name, b.d, b.n);
  free(b.d);
}

/* ---- JPEG photos ---- */

static int decodes(const uint8_t *d, size_t n) {
  gc_image im;
  char err[256];
  int ok = gc_image_decode(d, n, &im, err, sizeof err) == 0;
  gc_image_free(&im);
  return ok;
}

/* The photo as it is, if it fits the fuzz limits. (Shrinking a progressive JPEG by its frame size
 * does not work: stb then skips the surplus entropy data and trips over its stuffed 0xFF 0x00 bytes,
 * and cutting the data short makes it read zeros that are no valid Huffman code. So horses.jpg,
 * 280x425 progressive, is left out; the dictionary's SOF2 marker is the fuzzer's way there.) */
static void jpeg_photo(const char *name, const uint8_t *d, size_t n) {
  if (decodes(d, n)) put(name, d, n);
  else fprintf(stderr, "gen_image_seeds: %s left out (too large for the fuzz limits)\n", name);
}

/* Every format variant, once, from one small image. */
static void all_variants(const gc_image *im) {
  uint8_t grey[W * H], ga[W * H * 2], rgba[W * H * 4];
  for (int k = 0; k < W * H; k++) {
    const uint8_t *p = im->rgb + 3 * k;
    grey[k] = ga[2 * k] = (uint8_t)((p[0] * 77u + p[1] * 150u + p[2] * 29u) >> 8);
    ga[2 * k + 1] = rgba[4 * k + 3] = (uint8_t)(k * 7);
    memcpy(rgba + 4 * k, p, 3);
  }
  buf b = {0};
  struct { const char *name; int comp; const void *px; } stb[] = {
      {"grey.png", 1, grey}, {"ga.png", 2, ga}, {"rgba.png", 4, rgba}};
  for (size_t k = 0; k < sizeof stb / sizeof stb[0]; k++) {
    b.n = 0;
    stbi_write_png_to_func(stbw, &b, W, H, stb[k].comp, stb[k].px, W * stb[k].comp);
    put(stb[k].name, b.d, b.n);
  }
  b.n = 0, stbi_write_bmp_to_func(stbw, &b, W, H, 4, rgba), put("rgba32.bmp", b.d, b.n);
  b.n = 0, stbi_write_jpg_to_func(stbw, &b, W, H, 1, grey, 90), put("grey.jpg", b.d, b.n);
  free(b.d);
  png_hand("rgb16.png", im, (png_spec){16, 2, 0, 0, 1});
  png_hand("rgba16.png", im, (png_spec){16, 6, 0, 0, 0});
  png_hand("grey16.png", im, (png_spec){16, 0, 0, 0, 0});
  png_hand("grey2.png", im, (png_spec){2, 0, 0, 0, 1});
  png_hand("pal8.png", im, (png_spec){8, 3, 0, 256, 1});
  png_hand("pal4.png", im, (png_spec){4, 3, 0, 16, 1});
  png_hand("pal1.png", im, (png_spec){1, 3, 0, 2, 0});
  png_hand("interlaced.png", im, (png_spec){8, 2, 1, 0, 0});
  png_hand("interlaced-pal2.png", im, (png_spec){2, 3, 1, 4, 1});
  bmp_hand("pal8.bmp", im, 8, 0, 0);
  bmp_hand("pal4.bmp", im, 4, 1, 0);
  bmp_hand("pal1.bmp", im, 1, 0, 0);
  bmp_hand("rgb565.bmp", im, 16, 0, 0);
  bmp_hand("os2-pal8.bmp", im, 8, 0, 1);
  gif_hand("global.gif", im, 0, 0, 0, 1);
  gif_hand("local-interlaced.gif", im, 1, 1, 0, 1);
  gif_hand("transparent-2frames.gif", im, 0, 0, 1, 2);
  jpeg_progressive("progressive-grey.jpg", im, 1);
  jpeg_progressive("progressive-colour.jpg", im, 3);
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *d = malloc((size_t)len + 1);
  *n = fread(d, 1, (size_t)len, f);
  fclose(f);
  return d;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gen_image_seeds OUT_DIR [PHOTO...]\n");
    return 2;
  }
  g_dir = argv[1];
  int did_variants = 0;
  for (int i = 2; i < argc; i++) {
    size_t n;
    uint8_t *d = slurp(argv[i], &n);
    char err[256], name[64];
    int w, h, c;
    uint8_t *rgb = d ? stbi_load_from_memory(d, (int)n, &w, &h, &c, 3) : NULL;
    if (!rgb) {
      fprintf(stderr, "gen_image_seeds: skipping %s\n", argv[i]);
      free(d);
      continue;
    }
    gc_image full = {w, h, rgb}, im;
    if (gc_image_resize_bilinear_aa(&full, W, H, &im, err, sizeof err)) {
      fprintf(stderr, "gen_image_seeds: %s\n", err);
      return 1;
    }
    if (n >= 2 && d[0] == 0xFF && d[1] == 0xD8) {
      snprintf(name, sizeof name, "p%d-photo.jpg", i);
      jpeg_photo(name, d, n);
    }
    if (!did_variants) all_variants(&im), did_variants = 1;
    buf b = {0};
    snprintf(name, sizeof name, "p%d.png", i);
    stbi_write_png_to_func(stbw, &b, W, H, 3, im.rgb, W * 3), put(name, b.d, b.n);
    snprintf(name, sizeof name, "p%d.bmp", i);
    b.n = 0, stbi_write_bmp_to_func(stbw, &b, W, H, 3, im.rgb), put(name, b.d, b.n);
    snprintf(name, sizeof name, "p%d.jpg", i);
    b.n = 0, stbi_write_jpg_to_func(stbw, &b, W, H, 3, im.rgb, 85), put(name, b.d, b.n);
    free(b.d);
    gc_image_free(&im);
    stbi_image_free(rgb);
    free(d);
  }
  if (!did_variants) { /* no photo at hand: a synthetic gradient still gives every variant */
    static uint8_t px[W * H * 3];
    for (int k = 0; k < W * H * 3; k++) px[k] = (uint8_t)(k * 7 + k / (W * 3) * 40);
    gc_image im = {W, H, px};
    all_variants(&im);
  }
  printf("gen_image_seeds: %d seeds in %s\n", g_n, g_dir);
  return g_n ? 0 : 1;
}
