/* render.c: CAM resize, JET colouring, overlay and the result panel. See render.h. */
#include "render.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * OpenCV's COLORMAP_JET
 *
 * Data, not a formula: OpenCV 4.6 builds this LUT by linearly interpolating a few dozen control
 * points in float and rounding, and matching that rounding by re-derivation is fragile. The table
 * was generated once with Debian's python3-opencv 4.6.0 and pasted here:
 *
 *   g = np.arange(256, dtype=np.uint8).reshape(256, 1)
 *   lut = cv2.applyColorMap(g, cv2.COLORMAP_JET)[:, 0, ::-1]   # BGR -> RGB, as use_rgb=True does
 *
 * tests/test_render_reference.py re-checks all 256 entries against cv2.
 * --------------------------------------------------------------------------------------------- */

const uint8_t gc_jet_lut[256][3] = {
    {0,0,128}, {0,0,132}, {0,0,136}, {0,0,140}, {0,0,144}, {0,0,148}, {0,0,152}, {0,0,156},
    {0,0,160}, {0,0,164}, {0,0,168}, {0,0,172}, {0,0,176}, {0,0,180}, {0,0,184}, {0,0,188},
    {0,0,192}, {0,0,196}, {0,0,200}, {0,0,204}, {0,0,208}, {0,0,212}, {0,0,216}, {0,0,220},
    {0,0,224}, {0,0,228}, {0,0,232}, {0,0,236}, {0,0,240}, {0,0,244}, {0,0,248}, {0,0,252},
    {0,0,255}, {0,4,255}, {0,8,255}, {0,12,255}, {0,16,255}, {0,20,255}, {0,24,255}, {0,28,255},
    {0,32,255}, {0,36,255}, {0,40,255}, {0,44,255}, {0,48,255}, {0,52,255}, {0,56,255}, {0,60,255},
    {0,64,255}, {0,68,255}, {0,72,255}, {0,76,255}, {0,80,255}, {0,84,255}, {0,88,255}, {0,92,255},
    {0,96,255}, {0,100,255}, {0,104,255}, {0,108,255}, {0,112,255}, {0,116,255}, {0,120,255}, {0,124,255},
    {0,128,255}, {0,132,255}, {0,136,255}, {0,140,255}, {0,144,255}, {0,148,255}, {0,152,255}, {0,156,255},
    {0,160,255}, {0,164,255}, {0,168,255}, {0,172,255}, {0,176,255}, {0,180,255}, {0,184,255}, {0,188,255},
    {0,192,255}, {0,196,255}, {0,200,255}, {0,204,255}, {0,208,255}, {0,212,255}, {0,216,255}, {0,220,255},
    {0,224,255}, {0,228,255}, {0,232,255}, {0,236,255}, {0,240,255}, {0,244,255}, {0,248,255}, {0,252,255},
    {2,255,254}, {6,255,250}, {10,255,246}, {14,255,242}, {18,255,238}, {22,255,234}, {26,255,230}, {30,255,226},
    {34,255,222}, {38,255,218}, {42,255,214}, {46,255,210}, {50,255,206}, {54,255,202}, {58,255,198}, {62,255,194},
    {66,255,190}, {70,255,186}, {74,255,182}, {78,255,178}, {82,255,174}, {86,255,170}, {90,255,166}, {94,255,162},
    {98,255,158}, {102,255,154}, {106,255,150}, {110,255,146}, {114,255,142}, {118,255,138}, {122,255,134}, {126,255,130},
    {130,255,126}, {134,255,122}, {138,255,118}, {142,255,114}, {146,255,110}, {150,255,106}, {154,255,102}, {158,255,98},
    {162,255,94}, {166,255,90}, {170,255,86}, {174,255,82}, {178,255,78}, {182,255,74}, {186,255,70}, {190,255,66},
    {194,255,62}, {198,255,58}, {202,255,54}, {206,255,50}, {210,255,46}, {214,255,42}, {218,255,38}, {222,255,34},
    {226,255,30}, {230,255,26}, {234,255,22}, {238,255,18}, {242,255,14}, {246,255,10}, {250,255,6}, {254,255,1},
    {255,252,0}, {255,248,0}, {255,244,0}, {255,240,0}, {255,236,0}, {255,232,0}, {255,228,0}, {255,224,0},
    {255,220,0}, {255,216,0}, {255,212,0}, {255,208,0}, {255,204,0}, {255,200,0}, {255,196,0}, {255,192,0},
    {255,188,0}, {255,184,0}, {255,180,0}, {255,176,0}, {255,172,0}, {255,168,0}, {255,164,0}, {255,160,0},
    {255,156,0}, {255,152,0}, {255,148,0}, {255,144,0}, {255,140,0}, {255,136,0}, {255,132,0}, {255,128,0},
    {255,124,0}, {255,120,0}, {255,116,0}, {255,112,0}, {255,108,0}, {255,104,0}, {255,100,0}, {255,96,0},
    {255,92,0}, {255,88,0}, {255,84,0}, {255,80,0}, {255,76,0}, {255,72,0}, {255,68,0}, {255,64,0},
    {255,60,0}, {255,56,0}, {255,52,0}, {255,48,0}, {255,44,0}, {255,40,0}, {255,36,0}, {255,32,0},
    {255,28,0}, {255,24,0}, {255,20,0}, {255,16,0}, {255,12,0}, {255,8,0}, {255,4,0}, {255,0,0},
    {252,0,0}, {248,0,0}, {244,0,0}, {240,0,0}, {236,0,0}, {232,0,0}, {228,0,0}, {224,0,0},
    {220,0,0}, {216,0,0}, {212,0,0}, {208,0,0}, {204,0,0}, {200,0,0}, {196,0,0}, {192,0,0},
    {188,0,0}, {184,0,0}, {180,0,0}, {176,0,0}, {172,0,0}, {168,0,0}, {164,0,0}, {160,0,0},
    {156,0,0}, {152,0,0}, {148,0,0}, {144,0,0}, {140,0,0}, {136,0,0}, {132,0,0}, {128,0,0},
};

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

void gc_cam_resize(const float *cam, int h, int w, float *out, int oh, int ow) {
  if (oh == h && ow == w) { /* cv2.resize copies when the size does not change */
    memcpy(out, cam, (size_t)h * w * sizeof *out);
    return;
  }
  double sx = 1.0 / ((double)ow / w), sy = 1.0 / ((double)oh / h);
  for (int y = 0; y < oh; y++) {
    cv_tap ty = cv_linear_tap(y, sy, h, 0);
    const float *r0 = cam + (size_t)ty.i0 * w, *r1 = cam + (size_t)ty.i1 * w;
    for (int x = 0; x < ow; x++) {
      cv_tap tx = cv_linear_tap(x, sx, w, 1);
      float top = cv_lerp(r0[tx.i0], r0[tx.i1], tx.f);
      float bottom = cv_lerp(r1[tx.i0], r1[tx.i1], tx.f);
      out[(size_t)y * ow + x] = cv_lerp(top, bottom, ty.f);
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

static void heatmap_into(const float *mask, int w, int h, uint8_t *dst, size_t stride,
                         int channels) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const uint8_t *rgb = gc_jet_lut[heat_index(mask[(size_t)y * w + x])];
      put_pixel(dst + y * stride + (size_t)x * channels, rgb, channels);
    }
}

void gc_render_heatmap(const float *mask, int w, int h, uint8_t *out, int channels) {
  heatmap_into(mask, w, h, out, (size_t)w * channels, channels);
}

/* u8 / 255.0f for every byte value and for every JET colour: the same float32 quotients numpy forms,
 * looked up instead of divided twice per channel per pixel. */
static float unit_lut[256], jet_unit_lut[256][3];
static pthread_once_t unit_luts_once = PTHREAD_ONCE_INIT;

static void unit_luts_fill(void) {
  for (int i = 0; i < 256; i++) {
    for (int c = 0; c < 3; c++) jet_unit_lut[i][c] = (float)gc_jet_lut[i][c] / 255.0f;
    unit_lut[i] = (float)i / 255.0f;
  }
}

/* One pixel of (1 - image_weight) * heatmap + image_weight * img, before the max division. */
static void blend(float m, const uint8_t *px, float hw, float iw, float v[3]) {
  const float *heat = jet_unit_lut[heat_index(m)];
  for (int c = 0; c < 3; c++) {
    float a = hw * heat[c];
    float b = iw * unit_lut[px[c]];
    v[c] = a + b;
  }
}

/* Two passes over the image (max, then scale) recomputing the blend, rather than a float buffer. */
static void overlay_into(const gc_image *img, const float *mask, double image_weight, uint8_t *dst,
                         size_t stride, int channels) {
  float iw = (float)image_weight, hw = (float)(1.0 - image_weight); /* Python double -> float32 */
  pthread_once(&unit_luts_once, unit_luts_fill);
  size_t n = (size_t)img->w * img->h;
  float mx = 0.0f, v[3];
  for (size_t i = 0; i < n; i++) {
    blend(mask[i], img->rgb + 3 * i, hw, iw, v);
    for (int c = 0; c < 3; c++) mx = v[c] > mx ? v[c] : mx;
  }
  /* mx > 0 unless image_weight == 1 and the image is black, where numpy computes 0/0 and its
   * NaN -> uint8 conversion gives 0 on the platforms we compare with. */
  for (int y = 0; y < img->h; y++)
    for (int x = 0; x < img->w; x++) {
      size_t i = (size_t)y * img->w + x;
      uint8_t rgb[3];
      blend(mask[i], img->rgb + 3 * i, hw, iw, v);
      for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)(mx > 0.0f ? 255.0f * (v[c] / mx) : 0.0f);
      put_pixel(dst + y * stride + (size_t)x * channels, rgb, channels);
    }
}

int gc_render_overlay(const gc_image *img, const float *mask, double image_weight, uint8_t *out,
                      int channels) {
  if (!(image_weight >= 0.0 && image_weight <= 1.0)) return -1;
  overlay_into(img, mask, image_weight, out, (size_t)img->w * channels, channels);
  return 0;
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

void gc_render_panel_size(int w, int h, const char *caption, int *pw, int *ph) {
  *pw = 2 * MARGIN + 3 * w + 2 * GAP;
  int cpl = chars_per_line(*pw);
  int lines = (caption_chars(caption) + cpl - 1) / cpl;
  if (lines < 1) lines = 1;
  *ph = MARGIN + h + GAP + lines * LINE_H + MARGIN;
}

/* One glyph with its top-left corner at (x0, y0). It always fits: the narrowest panel (a 1 px
 * image) leaves 19 px for text, and chars_per_line/gc_render_panel_size account for the rest. */
static void draw_glyph(uint8_t *out, int pw, int channels, int x0, int y0, int c) {
  static const uint8_t ink[3] = {0, 0, 0};
  const uint8_t *rows = font5x7[c - 32];
  for (int r = 0; r < FONT_H * TEXT_SCALE; r++)
    for (int col = 0; col < FONT_W * TEXT_SCALE; col++)
      if (rows[r / TEXT_SCALE] >> (FONT_W - 1 - col / TEXT_SCALE) & 1)
        put_pixel(out + ((size_t)(y0 + r) * pw + x0 + col) * channels, ink, channels);
}

void gc_render_panel(const gc_image *img, const float *mask, const char *caption, uint8_t *out,
                     int channels) {
  int w = img->w, h = img->h, pw, ph;
  gc_render_panel_size(w, h, caption, &pw, &ph);
  size_t stride = (size_t)pw * channels;
  memset(out, 255, stride * ph); /* white background, opaque */

  uint8_t *row0 = out + (size_t)MARGIN * stride;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      put_pixel(row0 + y * stride + (size_t)(MARGIN + x) * channels,
                img->rgb + ((size_t)y * w + x) * 3, channels);
  heatmap_into(mask, w, h, row0 + (size_t)(MARGIN + w + GAP) * channels, stride, channels);
  overlay_into(img, mask, 0.5, row0 + (size_t)(MARGIN + 2 * (w + GAP)) * channels, stride,
               channels);

  int cpl = chars_per_line(pw), n = caption_chars(caption);
  const char *s = caption;
  for (int i = 0; i < n; i++) {
    int x = MARGIN + (i % cpl) * ADVANCE, y = MARGIN + h + GAP + (i / cpl) * LINE_H;
    draw_glyph(out, pw, channels, x, y, next_char(&s));
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
