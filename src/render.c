/* render.c: CAM resize, JET colouring, overlay and the result panel. See render.h. */
#include "render.h"

#include "colormaps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Colormaps (the tables are data: colormaps.c, generated from OpenCV by scripts/gen-colormaps)
 * --------------------------------------------------------------------------------------------- */

const gc_colormap *gc_colormap_find(const char *name) {
  for (int i = 0; name && i < gc_colormap_count; i++)
    if (!strcmp(name, gc_colormaps[i].name)) return &gc_colormaps[i];
  return NULL;
}

const char *gc_colormap_names(void) {
  static char buf[512];
  if (!buf[0])
    for (int i = 0; i < gc_colormap_count; i++) {
      size_t l = strlen(buf);
      snprintf(buf + l, sizeof buf - l, "%s%s", i ? ", " : "", gc_colormaps[i].name);
    }
  return buf;
}

static const char *const mode_names[GC_MODE_COUNT] = {"blended_heat_map", "heat_map", "masked_image", "alpha_scaling"};

int gc_mode_parse(const char *name) {
  for (int i = 0; name && i < GC_MODE_COUNT; i++)
    if (!strcmp(name, mode_names[i])) return i;
  return -1;
}
const char *gc_mode_name(int mode) { return mode >= 0 && mode < GC_MODE_COUNT ? mode_names[mode] : "?"; }

/* ---------------------------------------------------------------------------------------------
 * Font: an original 5x7 bitmap table for ASCII 32..126, drawn for this project (public domain).
 * One byte per row, top row first; bit 4 is the leftmost column.
 * --------------------------------------------------------------------------------------------- */

#define FONT_W 5
#define FONT_H 7

static const uint8_t font5x7[95][FONT_H] = {
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00}, /*   */
    {0x04,0x04,0x04,0x04,0x04,0x00,0x04}, /* ! */
    {0x0a,0x0a,0x00,0x00,0x00,0x00,0x00}, /* " */
    {0x0a,0x0a,0x1f,0x0a,0x1f,0x0a,0x0a}, /* # */
    {0x04,0x0f,0x14,0x0e,0x05,0x1e,0x04}, /* $ */
    {0x18,0x19,0x02,0x04,0x08,0x13,0x03}, /* % */
    {0x0c,0x12,0x14,0x08,0x15,0x12,0x0d}, /* & */
    {0x04,0x04,0x00,0x00,0x00,0x00,0x00}, /* quote */
    {0x02,0x04,0x08,0x08,0x08,0x04,0x02}, /* ( */
    {0x08,0x04,0x02,0x02,0x02,0x04,0x08}, /* ) */
    {0x00,0x04,0x15,0x0e,0x15,0x04,0x00}, /* * */
    {0x00,0x04,0x04,0x1f,0x04,0x04,0x00}, /* + */
    {0x00,0x00,0x00,0x00,0x0c,0x04,0x08}, /* , */
    {0x00,0x00,0x00,0x1f,0x00,0x00,0x00}, /* - */
    {0x00,0x00,0x00,0x00,0x00,0x0c,0x0c}, /* . */
    {0x00,0x01,0x02,0x04,0x08,0x10,0x00}, /* / */
    {0x0e,0x11,0x13,0x15,0x19,0x11,0x0e}, /* 0 */
    {0x04,0x0c,0x04,0x04,0x04,0x04,0x0e}, /* 1 */
    {0x0e,0x11,0x01,0x02,0x04,0x08,0x1f}, /* 2 */
    {0x1e,0x01,0x01,0x0e,0x01,0x01,0x1e}, /* 3 */
    {0x02,0x06,0x0a,0x12,0x1f,0x02,0x02}, /* 4 */
    {0x1f,0x10,0x1e,0x01,0x01,0x11,0x0e}, /* 5 */
    {0x06,0x08,0x10,0x1e,0x11,0x11,0x0e}, /* 6 */
    {0x1f,0x01,0x02,0x04,0x08,0x08,0x08}, /* 7 */
    {0x0e,0x11,0x11,0x0e,0x11,0x11,0x0e}, /* 8 */
    {0x0e,0x11,0x11,0x0f,0x01,0x02,0x0c}, /* 9 */
    {0x00,0x0c,0x0c,0x00,0x0c,0x0c,0x00}, /* : */
    {0x00,0x0c,0x0c,0x00,0x0c,0x04,0x08}, /* ; */
    {0x02,0x04,0x08,0x10,0x08,0x04,0x02}, /* < */
    {0x00,0x00,0x1f,0x00,0x1f,0x00,0x00}, /* = */
    {0x08,0x04,0x02,0x01,0x02,0x04,0x08}, /* > */
    {0x0e,0x11,0x01,0x02,0x04,0x00,0x04}, /* ? */
    {0x0e,0x11,0x17,0x15,0x17,0x10,0x0e}, /* @ */
    {0x0e,0x11,0x11,0x1f,0x11,0x11,0x11}, /* A */
    {0x1e,0x11,0x11,0x1e,0x11,0x11,0x1e}, /* B */
    {0x0e,0x11,0x10,0x10,0x10,0x11,0x0e}, /* C */
    {0x1c,0x12,0x11,0x11,0x11,0x12,0x1c}, /* D */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x1f}, /* E */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x10}, /* F */
    {0x0e,0x11,0x10,0x17,0x11,0x11,0x0f}, /* G */
    {0x11,0x11,0x11,0x1f,0x11,0x11,0x11}, /* H */
    {0x0e,0x04,0x04,0x04,0x04,0x04,0x0e}, /* I */
    {0x07,0x02,0x02,0x02,0x02,0x12,0x0c}, /* J */
    {0x11,0x12,0x14,0x18,0x14,0x12,0x11}, /* K */
    {0x10,0x10,0x10,0x10,0x10,0x10,0x1f}, /* L */
    {0x11,0x1b,0x15,0x15,0x11,0x11,0x11}, /* M */
    {0x11,0x11,0x19,0x15,0x13,0x11,0x11}, /* N */
    {0x0e,0x11,0x11,0x11,0x11,0x11,0x0e}, /* O */
    {0x1e,0x11,0x11,0x1e,0x10,0x10,0x10}, /* P */
    {0x0e,0x11,0x11,0x11,0x15,0x12,0x0d}, /* Q */
    {0x1e,0x11,0x11,0x1e,0x14,0x12,0x11}, /* R */
    {0x0f,0x10,0x10,0x0e,0x01,0x01,0x1e}, /* S */
    {0x1f,0x04,0x04,0x04,0x04,0x04,0x04}, /* T */
    {0x11,0x11,0x11,0x11,0x11,0x11,0x0e}, /* U */
    {0x11,0x11,0x11,0x11,0x11,0x0a,0x04}, /* V */
    {0x11,0x11,0x11,0x15,0x15,0x15,0x0a}, /* W */
    {0x11,0x11,0x0a,0x04,0x0a,0x11,0x11}, /* X */
    {0x11,0x11,0x0a,0x04,0x04,0x04,0x04}, /* Y */
    {0x1f,0x01,0x02,0x04,0x08,0x10,0x1f}, /* Z */
    {0x0e,0x08,0x08,0x08,0x08,0x08,0x0e}, /* [ */
    {0x00,0x10,0x08,0x04,0x02,0x01,0x00}, /* backslash */
    {0x0e,0x02,0x02,0x02,0x02,0x02,0x0e}, /* ] */
    {0x04,0x0a,0x11,0x00,0x00,0x00,0x00}, /* ^ */
    {0x00,0x00,0x00,0x00,0x00,0x00,0x1f}, /* _ */
    {0x08,0x04,0x00,0x00,0x00,0x00,0x00}, /* ` */
    {0x00,0x00,0x0e,0x01,0x0f,0x11,0x0f}, /* a */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x1e}, /* b */
    {0x00,0x00,0x0e,0x10,0x10,0x11,0x0e}, /* c */
    {0x01,0x01,0x0d,0x13,0x11,0x11,0x0f}, /* d */
    {0x00,0x00,0x0e,0x11,0x1f,0x10,0x0e}, /* e */
    {0x06,0x09,0x08,0x1c,0x08,0x08,0x08}, /* f */
    {0x00,0x0f,0x11,0x11,0x0f,0x01,0x0e}, /* g */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x11}, /* h */
    {0x04,0x00,0x0c,0x04,0x04,0x04,0x0e}, /* i */
    {0x02,0x00,0x06,0x02,0x02,0x12,0x0c}, /* j */
    {0x10,0x10,0x12,0x14,0x18,0x14,0x12}, /* k */
    {0x0c,0x04,0x04,0x04,0x04,0x04,0x0e}, /* l */
    {0x00,0x00,0x1a,0x15,0x15,0x11,0x11}, /* m */
    {0x00,0x00,0x16,0x19,0x11,0x11,0x11}, /* n */
    {0x00,0x00,0x0e,0x11,0x11,0x11,0x0e}, /* o */
    {0x00,0x00,0x1e,0x11,0x1e,0x10,0x10}, /* p */
    {0x00,0x00,0x0f,0x11,0x0f,0x01,0x01}, /* q */
    {0x00,0x00,0x16,0x19,0x10,0x10,0x10}, /* r */
    {0x00,0x00,0x0f,0x10,0x0e,0x01,0x1e}, /* s */
    {0x08,0x08,0x1c,0x08,0x08,0x09,0x06}, /* t */
    {0x00,0x00,0x11,0x11,0x11,0x13,0x0d}, /* u */
    {0x00,0x00,0x11,0x11,0x11,0x0a,0x04}, /* v */
    {0x00,0x00,0x11,0x11,0x15,0x15,0x0a}, /* w */
    {0x00,0x00,0x11,0x0a,0x04,0x0a,0x11}, /* x */
    {0x00,0x00,0x11,0x11,0x0f,0x01,0x0e}, /* y */
    {0x00,0x00,0x1f,0x02,0x04,0x08,0x1f}, /* z */
    {0x03,0x04,0x04,0x08,0x04,0x04,0x03}, /* { */
    {0x04,0x04,0x04,0x04,0x04,0x04,0x04}, /* | */
    {0x18,0x04,0x04,0x02,0x04,0x04,0x18}, /* } */
    {0x00,0x00,0x08,0x15,0x02,0x00,0x00}, /* ~ */
};

/* ---------------------------------------------------------------------------------------------
 * cv2.resize INTER_LINEAR on float32
 *
 * OpenCV (imgproc/src/resize.cpp, resizeGeneric_ with HResizeLinear/VResizeLinear) maps destination
 * index d to the source coordinate (d + 0.5) * scale - 0.5 with scale = 1 / (out / in), computed in
 * double and rounded to float, and splits it into floor and float fraction. It interpolates each
 * source row horizontally, then blends two such rows vertically, all in float32. The two axes
 * treat the border differently, and it shows in the last bit: along x the index is pinned and the
 * fraction zeroed (an edge pixel is copied exactly), along y only the row index is clamped and the
 * fraction kept (an edge row r is blended with itself, r*(1-f) + r*f, which can be an ulp off r).
 * We do the same per output pixel; the horizontal values are recomputed rather than buffered:
 * same numbers, no allocation. (For an exact 2x reduction of both axes cv2 switches to INTER_AREA;
 * the result is the same 2x2 average up to summation order, i.e. within an ulp.)
 * --------------------------------------------------------------------------------------------- */

typedef struct cv_tap {
  int i0, i1; /* source indices, both within [0, in)                        */
  float f;    /* weight of i1; i0 gets 1 - f                                */
} cv_tap;

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* pin_edges: the x-axis rule (index and fraction pinned); otherwise the y-axis rule. */
static cv_tap cv_linear_tap(int d, double scale, int in, int pin_edges) {
  float fx = (float)((d + 0.5) * scale - 0.5);
  int sx = (int)floorf(fx);
  fx -= (float)sx;
  if (pin_edges && sx < 0) sx = 0, fx = 0.0f;
  if (pin_edges && sx >= in - 1) sx = in - 1, fx = 0.0f;
  cv_tap t = {clampi(sx, 0, in - 1), clampi(sx + 1, 0, in - 1), fx};
  return t;
}

/* a * (1 - f) + b * f, with each product rounded to float before the sum as OpenCV's (non-FMA) code
 * does; separate statements keep a compiler from contracting it into an fma. */
static float cv_lerp(float a, float b, float f) {
  float pa = a * (1.0f - f);
  float pb = b * f;
  return pa + pb;
}

static float hlerp(const float *row, cv_tap tx) { return cv_lerp(row[tx.i0], row[tx.i1], tx.f); }

/* Each output pixel is lerp(top, bottom) of two horizontal lerps that depend only on its source row
 * and its column: those are made once per source row (h x ow, not oh x ow), so a 7x7 layer4 map
 * blown up to 224x224 costs one lerp per pixel. Same products, same order: the same floats. */
void gc_cam_resize(const float *cam, int h, int w, float *out, int oh, int ow) {
  if (oh == h && ow == w) { /* cv2.resize copies when the size does not change */
    memcpy(out, cam, (size_t)h * w * sizeof *out);
    return;
  }
  double sx = 1.0 / ((double)ow / w), sy = 1.0 / ((double)oh / h);
  float *hr = malloc((size_t)h * ow * sizeof *hr); /* [h][ow]: every source row resized horizontally */
  if (!hr) { /* (then per pixel, as before) */
    for (int y = 0; y < oh; y++) {
      cv_tap ty = cv_linear_tap(y, sy, h, 0);
      const float *r0 = cam + (size_t)ty.i0 * w, *r1 = cam + (size_t)ty.i1 * w;
      for (int x = 0; x < ow; x++) {
        cv_tap tx = cv_linear_tap(x, sx, w, 1);
        out[(size_t)y * ow + x] = cv_lerp(hlerp(r0, tx), hlerp(r1, tx), ty.f);
      }
    }
    return;
  }
  for (int x = 0; x < ow; x++) {
    cv_tap tx = cv_linear_tap(x, sx, w, 1);
    for (int r = 0; r < h; r++) hr[(size_t)r * ow + x] = hlerp(cam + (size_t)r * w, tx);
  }
  for (int y = 0; y < oh; y++) {
    cv_tap ty = cv_linear_tap(y, sy, h, 0);
    const float *top = hr + (size_t)ty.i0 * ow, *bottom = hr + (size_t)ty.i1 * ow;
    float *o = out + (size_t)y * ow;
    for (int x = 0; x < ow; x++) o[x] = cv_lerp(top[x], bottom[x], ty.f);
  }
  free(hr);
}

/* cv2.resize INTER_NEAREST: source index floor(d * (1 / (out / in))) in double, capped at in - 1
 * (OpenCV's resizeNN: no half-pixel shift, unlike INTER_NEAREST_EXACT). */
void gc_cam_resize_nearest(const float *cam, int h, int w, float *out, int oh, int ow) {
  const double ifx = 1.0 / ((double)ow / w), ify = 1.0 / ((double)oh / h);
  for (int y = 0; y < oh; y++) {
    int sy = (int)floor(y * ify);
    const float *row = cam + (size_t)(sy < h - 1 ? sy : h - 1) * w;
    for (int x = 0; x < ow; x++) {
      int sx = (int)floor(x * ifx);
      out[(size_t)y * ow + x] = row[sx < w - 1 ? sx : w - 1];
    }
  }
}

/* ---------------------------------------------------------------------------------------------
 * Heatmap and overlay (pytorch-grad-cam's show_cam_on_image)
 *
 *   heatmap = cv2.applyColorMap(np.uint8(255 * mask), cv2.COLORMAP_JET)   # then BGR -> RGB
 *   heatmap = np.float32(heatmap) / 255
 *   cam = (1 - image_weight) * heatmap + image_weight * img             # img = float32(rgb) / 255
 *   cam = cam / np.max(cam)
 *   return np.uint8(255 * cam)
 *
 * Everything is float32 (numpy casts the Python-float weights to float32), and both conversions
 * to uint8 truncate. The writers below take a row stride so the panel can reuse them in place.
 * --------------------------------------------------------------------------------------------- */

/* np.uint8(255 * m) for m in [0, 1] (float32 product, truncated); clamped so that out-of-range
 * input cannot index outside the LUT. */
static int heat_index(float m) {
  float v = 255.0f * m;
  if (!(v > 0.0f)) return 0; /* also NaN */
  return v >= 255.0f ? 255 : (int)v;
}

static void put_pixel(uint8_t *p, const uint8_t rgb[3], int channels) {
  p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
  if (channels == 4) p[3] = 255;
}

typedef const uint8_t (*lut_t)[3];
static lut_t lut_of(const gc_style *s) { return s && s->lut ? s->lut : gc_jet_lut; }

static void heatmap_into(const float *mask, int w, int h, lut_t lut, uint8_t *dst, size_t stride, int channels) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      put_pixel(dst + y * stride + (size_t)x * channels, lut[heat_index(mask[(size_t)y * w + x])], channels);
}

void gc_render_heatmap(const float *mask, int w, int h, uint8_t *out, int channels) {
  heatmap_into(mask, w, h, gc_jet_lut, out, (size_t)w * channels, channels);
}

/* show_cam_on_image's blend of one channel, (1 - image_weight) * heat + image_weight * img before the
 * max division, is x + y with x = hw * (lut byte / 255.0f), y = iw * (image byte / 255.0f) (grey: iw *
 * Captum's np.mean over RGB / 255, a function of the RGB sum), each product float32 as numpy forms
 * them: tables of x per colormap entry and of y per byte (or sum), made per call. */
typedef struct {
  float x[256][3];   /* per colormap entry                            */
  float y[766];      /* per image byte 0..255, or (grey) RGB sum 0..765 */
} blend_tables;

static void blend_tables_make(blend_tables *t, lut_t lut, int grey, double image_weight) {
  const float iw = (float)image_weight, hw = (float)(1.0 - image_weight); /* Python double -> float32 */
  for (int i = 0; i < 256; i++)
    for (int c = 0; c < 3; c++) t->x[i][c] = hw * ((float)lut[i][c] / 255.0f);
  for (int v = 0; v < (grey ? 766 : 256); v++) t->y[v] = iw * (grey ? (float)v / 3.0f / 255.0f : (float)v / 255.0f);
}

/* Two passes over the image: np.max of the blend, then each channel's np.uint8(255 * (blend / max)); each
 * pass in bands of rows, on par's threads (a pixel's result does not depend on the split). */
typedef struct {
  const gc_image *img;
  const float *mask;
  const blend_tables *t;
  int grey, channels, bands;
  uint8_t *dst;
  size_t stride;
  int (*top)[256][3]; /* per band: per colormap entry, its pixels' largest byte per channel (grey: the
                         RGB sum, in [0]); -1: no pixel */
  float mx;
} overlay_job;

static void band_rows(const overlay_job *o, size_t b, int *y0, int *y1) {
  *y0 = (int)((long long)o->img->h * (long long)b / o->bands);
  *y1 = (int)((long long)o->img->h * (long long)(b + 1) / o->bands);
}

/* The max: a channel's blend rises with the image's byte (grey: the RGB sum) for a given colormap entry,
 * and float rounding keeps that order, so it is the largest over the entries in use of the blend of
 * their brightest pixel: a byte compare per pixel here, 768 blends after. */
static void top_band(void *ctx, size_t thread, size_t b) {
  (void)thread;
  const overlay_job *o = ctx;
  int y0, y1, (*top)[3] = o->top[b];
  band_rows(o, b, &y0, &y1);
  memset(top, 0xff, sizeof o->top[b]);
  for (size_t i = (size_t)y0 * o->img->w; i < (size_t)y1 * o->img->w; i++) {
    const uint8_t *px = o->img->rgb + 3 * i;
    int *tk = top[heat_index(o->mask[i])];
    if (o->grey) {
      const int sum = px[0] + px[1] + px[2];
      if (sum > tk[0]) tk[0] = sum;
    } else {
      for (int c = 0; c < 3; c++) if (px[c] > tk[c]) tk[c] = px[c];
    }
  }
}

/* mx > 0 unless image_weight == 1 and the image is black, where numpy computes 0/0 and its NaN -> uint8
 * conversion gives 0 on the platforms we compare with. Blends go through a buffer of ROW_PX pixels so
 * that the divisions run as SIMD (the division must stay: it is what numpy rounds). */
#define ROW_PX 256
static void blend_band(void *ctx, size_t thread, size_t b) {
  (void)thread;
  const overlay_job *o = ctx;
  const gc_image *img = o->img;
  const blend_tables *t = o->t;
  const float mx = o->mx;
  float v[3 * ROW_PX];
  int y0, y1;
  band_rows(o, b, &y0, &y1);
  for (int y = y0; y < y1; y++)
    for (int x0 = 0; x0 < img->w; x0 += ROW_PX) {
      const int n = img->w - x0 < ROW_PX ? img->w - x0 : ROW_PX;
      const size_t i0 = (size_t)y * img->w + x0;
      for (int x = 0; x < n; x++) {
        const uint8_t *px = img->rgb + 3 * (i0 + x);
        const float *hx = t->x[heat_index(o->mask[i0 + x])];
        for (int c = 0; c < 3; c++) v[3 * x + c] = hx[c] + t->y[o->grey ? px[0] + px[1] + px[2] : px[c]];
      }
      for (int j = 0; j < 3 * n; j++) v[j] = mx > 0.0f ? 255.0f * (v[j] / mx) : 0.0f;
      uint8_t *out = o->dst + y * o->stride + (size_t)x0 * o->channels;
      for (int x = 0; x < n; x++) {
        const uint8_t rgb[3] = {(uint8_t)v[3 * x], (uint8_t)v[3 * x + 1], (uint8_t)v[3 * x + 2]};
        put_pixel(out + (size_t)x * o->channels, rgb, o->channels);
      }
    }
}

#define MAX_BANDS 16 /* their per-entry maxima (3 KB each) on the stack */
static void overlay_into(const gc_image *img, const float *mask, lut_t lut, int grey, double image_weight, uint8_t *dst,
                         size_t stride, int channels, const gc_parallel *par) {
  blend_tables t;
  blend_tables_make(&t, lut, grey, image_weight);
  int top[MAX_BANDS][256][3];
  const int threads = par && par->threads > 1 ? par->threads : 1;
  int bands = threads == 1 ? 1 : 4 * threads;
  if (bands > MAX_BANDS) bands = MAX_BANDS;
  if (bands > img->h) bands = img->h;
  if (bands < 1) bands = 1;
  overlay_job o = {img, mask, &t, grey, channels, bands, dst, stride, top, 0.0f};
  gc_parallel_for(par, top_band, &o, (size_t)o.bands);
  for (int b = 0; b < o.bands; b++)
    for (int k = 0; k < 256; k++)
      for (int c = 0; top[b][k][0] >= 0 && c < 3; c++) {
        const float v = t.x[k][c] + t.y[top[b][k][grey ? 0 : c]];
        o.mx = v > o.mx ? v : o.mx;
      }
  gc_parallel_for(par, blend_band, &o, (size_t)o.bands);
}

int gc_render_overlay(const gc_image *img, const float *mask, double image_weight, uint8_t *out,
                      int channels) {
  return gc_render(img, mask, &(gc_style){.image_weight = image_weight}, out, channels);
}

/* masked_image: the image times the map, np.uint8(np.float32(rgb) * m) (truncated); alpha_scaling: the
 * image with the map as its alpha, np.uint8(255 * m) (Captum's visualize_image_attr modes). */
static void masked_into(const gc_image *img, const float *mask, int alpha, uint8_t *dst, size_t stride, int channels) {
  for (int y = 0; y < img->h; y++)
    for (int x = 0; x < img->w; x++) {
      const size_t i = (size_t)y * img->w + x;
      float m = mask[i];
      m = m > 0 ? (m < 1 ? m : 1) : 0; /* also NaN → 0 */
      const uint8_t *px = img->rgb + 3 * i;
      uint8_t *o = dst + y * stride + (size_t)x * channels;
      for (int c = 0; c < 3; c++) o[c] = alpha ? px[c] : (uint8_t)((float)px[c] * m);
      if (channels == 4) o[3] = alpha ? (uint8_t)(255.0f * m) : 255;
    }
}

static void render_into(const gc_image *img, const float *mask, const gc_style *s, uint8_t *dst, size_t stride,
                        int channels, const gc_parallel *par) {
  switch (s->mode) {
  case GC_MODE_HEAT: heatmap_into(mask, img->w, img->h, lut_of(s), dst, stride, channels); break;
  case GC_MODE_MASKED: masked_into(img, mask, 0, dst, stride, channels); break;
  case GC_MODE_ALPHA: masked_into(img, mask, 1, dst, stride, channels); break;
  default: overlay_into(img, mask, lut_of(s), s->grey, s->image_weight, dst, stride, channels, par);
  }
}

int gc_render_par(const gc_image *img, const float *mask, const gc_style *s, uint8_t *out, int channels,
                  const gc_parallel *par) {
  if (s->mode < 0 || s->mode >= GC_MODE_COUNT) return -1;
  if (s->mode == GC_MODE_BLENDED && !(s->image_weight >= 0.0 && s->image_weight <= 1.0)) return -1;
  render_into(img, mask, s, out, (size_t)img->w * channels, channels, par);
  return 0;
}

int gc_render(const gc_image *img, const float *mask, const gc_style *s, uint8_t *out, int channels) {
  return gc_render_par(img, mask, s, out, channels, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Caption and panel
 *
 *   +--------------------------------------------------+
 *   |  original  |gap|  heatmap  |gap|  overlay  |     margins MARGIN all round
 *   |  caption, wrapped at the panel width            |     TEXT_SCALE x (5x7) glyphs
 *   +--------------------------------------------------+
 * --------------------------------------------------------------------------------------------- */

#define MARGIN     8
#define GAP        8
#define TEXT_SCALE 2
#define ADVANCE    ((FONT_W + 1) * TEXT_SCALE) /* one column of spacing between glyphs */
#define LINE_H     ((FONT_H + 2) * TEXT_SCALE) /* two rows of spacing between lines   */

void gc_render_caption(char *buf, size_t n, const char *label, float prob, const char *layer) {
  if (!n) return;
  if (layer && *layer)
    snprintf(buf, n, "%s  %.1f%%  %s", label ? label : "", 100.0 * prob, layer);
  else
    snprintf(buf, n, "%s  %.1f%%", label ? label : "", 100.0 * prob);
}

/* Next caption character: ASCII 32..126 as is; anything else becomes '?', a whole UTF-8 sequence
 * (lead byte and its continuation bytes) as a single '?'. Returns 0 at the end of the string. */
static int next_char(const char **s) {
  const unsigned char *p = (const unsigned char *)*s;
  int c = *p;
  if (!c) return 0;
  p++;
  if (c >= 0x80)
    while ((*p & 0xC0) == 0x80) p++;
  if (c < 32 || c > 126) c = '?';
  *s = (const char *)p;
  return c;
}

static int caption_chars(const char *caption) {
  int n = 0;
  while (caption && n < GC_CAPTION_MAX && next_char(&caption)) n++;
  return n;
}

/* Glyphs per line for a panel pw wide: the last glyph needs no trailing space column. */
static int chars_per_line(int pw) {
  int cpl = (pw - 2 * MARGIN + TEXT_SCALE) / ADVANCE;
  return cpl > 0 ? cpl : 1;
}

#define BAR_H 12 /* the legend's colour bar */

static int text_lines(const char *text, int cpl) {
  int lines = (caption_chars(text) + cpl - 1) / cpl;
  return lines < 1 ? 1 : lines;
}

void gc_render_panel_size(int w, int h, const char *caption, const gc_legend *lg, int *pw, int *ph) {
  *pw = 2 * MARGIN + 3 * w + 2 * GAP;
  int cpl = chars_per_line(*pw);
  *ph = MARGIN + h + GAP + text_lines(caption, cpl) * LINE_H + MARGIN;
  if (lg) *ph += BAR_H + GAP + text_lines(lg->text, cpl) * LINE_H;
}

/* One glyph with its top-left corner at (x0, y0), drawn at scale sc. It always fits: the narrowest
 * panel (a 1 px image) leaves 19 px for text, and the size functions account for the rest. */
static void draw_glyph(uint8_t *out, int pw, int channels, int x0, int y0, int c, int sc) {
  static const uint8_t ink[3] = {0, 0, 0};
  const uint8_t *rows = font5x7[c - 32];
  for (int r = 0; r < FONT_H * sc; r++)
    for (int col = 0; col < FONT_W * sc; col++)
      if (rows[r / sc] >> (FONT_W - 1 - col / sc) & 1)
        put_pixel(out + ((size_t)(y0 + r) * pw + x0 + col) * channels, ink, channels);
}

/* text wrapped at cpl characters a line, from (x0, y0); returns the y below its last line. */
static int draw_text(uint8_t *out, int pw, int channels, int x0, int y0, const char *text, int cpl, int sc) {
  const int adv = (FONT_W + 1) * sc, line = (FONT_H + 2) * sc, n = caption_chars(text);
  const char *s = text;
  for (int i = 0; i < n; i++) draw_glyph(out, pw, channels, x0 + (i % cpl) * adv, y0 + (i / cpl) * line, next_char(&s), sc);
  return y0 + ((n + cpl - 1) / cpl > 0 ? (n + cpl - 1) / cpl : 1) * line;
}

void gc_render_panel(const gc_image *img, const float *mask, const char *caption, const gc_style *style,
                     const gc_legend *lg, uint8_t *out, int channels) {
  int w = img->w, h = img->h, pw, ph;
  gc_render_panel_size(w, h, caption, lg, &pw, &ph);
  size_t stride = (size_t)pw * channels;
  memset(out, 255, stride * ph); /* white background, opaque */
  gc_style st = style ? *style : (gc_style){.image_weight = 0.5};
  if (st.mode == GC_MODE_ALPHA) st.mode = GC_MODE_MASKED; /* a panel is opaque */

  uint8_t *row0 = out + (size_t)MARGIN * stride;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      put_pixel(row0 + y * stride + (size_t)(MARGIN + x) * channels,
                img->rgb + ((size_t)y * w + x) * 3, channels);
  heatmap_into(mask, w, h, lut_of(&st), row0 + (size_t)(MARGIN + w + GAP) * channels, stride, channels);
  render_into(img, mask, &st, row0 + (size_t)(MARGIN + 2 * (w + GAP)) * channels, stride, channels, NULL);

  const int cpl = chars_per_line(pw);
  int y = MARGIN + h + GAP;
  if (lg) { /* the colour bar under the three pictures, its range and meaning below it */
    const int bw = pw - 2 * MARGIN;
    for (int x = 0; x < bw; x++) {
      const uint8_t *c = lut_of(&st)[bw > 1 ? (int)((long)x * 255 / (bw - 1)) : 0];
      for (int r = 0; r < BAR_H; r++) put_pixel(out + ((size_t)(y + r) * pw + MARGIN + x) * channels, c, channels);
    }
    y = draw_text(out, pw, channels, MARGIN, y + BAR_H + GAP / 2, lg->text, cpl, TEXT_SCALE) + GAP / 2;
  }
  draw_text(out, pw, channels, MARGIN, y, caption, cpl, TEXT_SCALE);
}

/* ---------------------------------------------------------------------------------------------
 * Compare grid: tiles side by side, `cols` a row, each with its label under it (scale-1 text,
 * wrapped at the tile's width, at most TILE_LINES lines), white gaps and margins.
 * --------------------------------------------------------------------------------------------- */

#define TILE_LINES 2
#define TILE_TEXT_H (TILE_LINES * (FONT_H + 2))

void gc_render_grid_size(int n, int cols, int tw, int th, int *gw, int *gh) {
  if (cols > n) cols = n;
  if (cols < 1) cols = 1;
  const int rows = (n + cols - 1) / cols;
  *gw = 2 * MARGIN + cols * tw + (cols - 1) * GAP;
  *gh = 2 * MARGIN + rows * (th + 4 + TILE_TEXT_H) + (rows - 1) * GAP;
}

void gc_render_grid(const uint8_t *const *tiles, const char *const *labels, int n, int cols, int tw, int th, uint8_t *out) {
  int gw, gh;
  gc_render_grid_size(n, cols, tw, th, &gw, &gh);
  if (cols > n) cols = n;
  if (cols < 1) cols = 1;
  memset(out, 255, (size_t)gw * gh * 3);
  const int cpl = tw / (FONT_W + 1) > 0 ? tw / (FONT_W + 1) : 1;
  for (int i = 0; i < n; i++) {
    const int x0 = MARGIN + (i % cols) * (tw + GAP), y0 = MARGIN + (i / cols) * (th + 4 + TILE_TEXT_H + GAP);
    for (int y = 0; y < th; y++) memcpy(out + ((size_t)(y0 + y) * gw + x0) * 3, tiles[i] + (size_t)y * tw * 3, (size_t)tw * 3);
    char label[2 * 64 + 1];
    snprintf(label, sizeof label, "%.*s", cpl * TILE_LINES < 128 ? cpl * TILE_LINES : 128, labels[i] ? labels[i] : "");
    draw_text(out, gw, 3, x0, y0 + th + 4, label, cpl, 1);
  }
}

/* ---------------------------------------------------------------------------------------------
 * deprocess_image: mean and (population) std in double, the rest in float32 as numpy does it.
 * --------------------------------------------------------------------------------------------- */
void gc_render_deprocess(const float *img, size_t n, uint8_t *out) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) s += img[i];
  const double mean = n ? s / n : 0;
  for (size_t i = 0; i < n; i++) s2 += (img[i] - mean) * (img[i] - mean);
  const float m = (float)mean, sd = (float)sqrt(n ? s2 / n : 0) + 1e-5f;
  for (size_t i = 0; i < n; i++) {
    float v = (img[i] - m) / sd * 0.1f + 0.5f;
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    out[i] = (uint8_t)(v * 255);
  }
}
