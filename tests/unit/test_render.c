/* test_render.c: unit tests for src/render.c (JET table, heatmap, overlay, CAM resize, panel).
 *
 * Self-contained: one translation unit that includes the implementation (llama2.c style), no Python
 * at run time. Reference values were produced once with Debian's python3-opencv 4.6 / numpy and
 * pasted; tests/test_render_reference.py does the same comparisons at scale (all 256 JET entries,
 * full-size maps and photos).
 *
 *   gcc -std=c11 -O1 -g -Wall -Wextra -I src -isystem /usr/include/stb tests/unit/test_render.c -lm
 *   NODE_PATH=/usr/share/nodejs emcc -O2 -msimd128 -I src -isystem /usr/include/stb \
 *       tests/unit/test_render.c -o test_render.js && node test_render.js
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/image.c"
#include "../../src/render.c"
#include "../../src/colormaps.c"

/* ---------------------------------------------------------------------------------------------
 * Harness
 * --------------------------------------------------------------------------------------------- */

#include "check.h"
#include "fake_pool.h"

/* ---------------------------------------------------------------------------------------------
 * JET and heatmap
 * --------------------------------------------------------------------------------------------- */

static void test_jet(void) {
  /* cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0, ::-1] */
  static const struct { int v; uint8_t rgb[3]; } known[] = {
      {0, {0, 0, 128}},      {1, {0, 0, 132}},      {31, {0, 0, 252}},    {32, {0, 0, 255}},
      {63, {0, 124, 255}},   {64, {0, 128, 255}},   {95, {0, 252, 255}},  {96, {2, 255, 254}},
      {127, {126, 255, 130}}, {128, {130, 255, 126}}, {159, {254, 255, 1}}, {160, {255, 252, 0}},
      {191, {255, 128, 0}},  {192, {255, 124, 0}},  {223, {255, 0, 0}},   {224, {252, 0, 0}},
      {254, {132, 0, 0}},    {255, {128, 0, 0}}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    const uint8_t *got = gc_jet_lut[known[i].v];
    CHECK(!memcmp(got, known[i].rgb, 3), "jet[%d] = %d,%d,%d, cv2 says %d,%d,%d", known[i].v, got[0],
          got[1], got[2], known[i].rgb[0], known[i].rgb[1], known[i].rgb[2]);
  }
}

static void test_heatmap(void) {
  /* np.uint8(255 * np.float32(m)) truncates: 0.5 -> 127, 0.999 -> 254, 1/255 -> 1, 0.1 -> 25;
   * out-of-range and NaN are clamped (numpy would wrap or be undefined there) */
  const float mask[] = {0.0f, 0.5f, 1.0f, 0.999f, 1.0f / 255.0f, 0.1f, -0.5f, 2.0f, NAN};
  const int idx[] = {0, 127, 255, 254, 1, 25, 0, 255, 0};
  uint8_t rgb[9 * 3], rgba[9 * 4];
  gc_render_heatmap(mask, 9, 1, rgb, 3);
  gc_render_heatmap(mask, 9, 1, rgba, 4);
  for (int i = 0; i < 9; i++) {
    CHECK(!memcmp(rgb + 3 * i, gc_jet_lut[idx[i]], 3), "heatmap(%g) is jet[%d]", mask[i], idx[i]);
    CHECK(!memcmp(rgba + 4 * i, gc_jet_lut[idx[i]], 3) && rgba[4 * i + 3] == 255,
          "heatmap RGBA (%g) is jet[%d], alpha 255", mask[i], idx[i]);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Overlay
 * --------------------------------------------------------------------------------------------- */

static void test_overlay(void) {
  /* white under mask 1 (jet[255] = 128,0,0), black under mask 0 (jet[0] = 0,0,128), weight 0.5:
   *   white: 0.5*128/255 + 0.5 = 0.75098, 0.5, 0.5     black: 0, 0, 0.5*128/255 = 0.25098
   *   max 0.75098 -> uint8(255 * v / max): 255, 169 (169.78), 169 | 0, 0, 85 (85.22)
   * numpy's show_cam_on_image gives [[255, 169, 169], [0, 0, 85]] too. */
  uint8_t px[] = {255, 255, 255, 0, 0, 0};
  const float mask[] = {1.0f, 0.0f};
  const uint8_t want[] = {255, 169, 169, 0, 0, 85};
  gc_image img = {2, 1, px};
  uint8_t rgb[6], rgba[8];
  CHECK(gc_render_overlay(&img, mask, 0.5, rgb, 3) == 0 && !memcmp(rgb, want, 6),
        "overlay: %d %d %d | %d %d %d", rgb[0], rgb[1], rgb[2], rgb[3], rgb[4], rgb[5]);
  CHECK(gc_render_overlay(&img, mask, 0.5, rgba, 4) == 0 && !memcmp(rgba, want, 3) &&
            !memcmp(rgba + 4, want + 3, 3) && rgba[3] == 255 && rgba[7] == 255,
        "overlay RGBA: same colours, alpha 255");

  /* image_weight 0: the heatmap alone, rescaled so that its max channel (128) becomes 255 */
  CHECK(gc_render_overlay(&img, mask, 0.0, rgb, 3) == 0 && rgb[0] == 255 && rgb[5] == 255 &&
            rgb[1] == 0, "overlay weight 0: heatmap normalised by its max");
  /* image_weight 1: the image alone (white stays 255, black 0) */
  CHECK(gc_render_overlay(&img, mask, 1.0, rgb, 3) == 0 && rgb[0] == 255 && rgb[2] == 255 &&
            rgb[3] == 0, "overlay weight 1: the image");
  /* all black and weight 1: 0/0 in numpy, 0 here */
  memset(px, 0, sizeof px);
  CHECK(gc_render_overlay(&img, mask, 1.0, rgb, 3) == 0 && !memcmp(rgb, "\0\0\0\0\0\0", 6),
        "overlay of a black image with weight 1 is black");

  memset(rgb, 7, sizeof rgb);
  CHECK(gc_render_overlay(&img, mask, 1.5, rgb, 3) == -1 && rgb[0] == 7, "weight 1.5 refused");
  CHECK(gc_render_overlay(&img, mask, -0.1, rgb, 3) == -1 && rgb[0] == 7, "weight -0.1 refused");
}

/* ---------------------------------------------------------------------------------------------
 * CAM resize
 * --------------------------------------------------------------------------------------------- */

static int close_all(const float *a, const float *b, int n, float tol) {
  for (int i = 0; i < n; i++)
    if (!(fabsf(a[i] - b[i]) <= tol)) return 0;
  return 1;
}

static void test_cam_resize(void) {
  /* cv2.resize(np.float32([[0, 1], [2, 3]]), (4, 4)) */
  const float c22[] = {0, 1, 2, 3};
  const float w44[] = {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f,
                       1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3};
  float out[20];
  gc_cam_resize(c22, 2, 2, out, 4, 4);
  CHECK(close_all(out, w44, 16, 0.0f), "2x2 -> 4x4 equals cv2");

  /* cv2.resize(np.float32([[.1, .9, .3], [.7, .2, .5]]), (5, 4)), printed with %.9g */
  const float c32[] = {0.1f, 0.9f, 0.3f, 0.7f, 0.2f, 0.5f};
  const float w54[] = {0.100000001f, 0.419999987f, 0.899999976f, 0.539999962f, 0.300000012f,
                       0.25f,        0.439999998f, 0.724999964f, 0.49999997f,  0.350000024f,
                       0.549999952f, 0.479999989f, 0.375f,       0.419999987f, 0.449999988f,
                       0.699999988f, 0.5f,         0.200000003f, 0.379999995f, 0.5f};
  gc_cam_resize(c32, 2, 3, out, 4, 5);
  CHECK(close_all(out, w54, 20, 0.0f), "3x2 -> 5x4 equals cv2 bit for bit");

  gc_cam_resize(c32, 2, 3, out, 2, 3);
  CHECK(!memcmp(out, c32, sizeof c32), "same size copies");
  const float one = 0.625f;
  gc_cam_resize(&one, 1, 1, out, 3, 3);
  int flat = 1;
  for (int i = 0; i < 9; i++) flat &= out[i] == one;
  CHECK(flat, "1x1 -> 3x3 is constant");
  gc_cam_resize(c22, 2, 2, out, 1, 1); /* an exact 2x reduction: the average, 1.5 */
  CHECK(fabsf(out[0] - 1.5f) <= 1e-6f, "2x2 -> 1x1 averages: %g", out[0]);
}

/* ---------------------------------------------------------------------------------------------
 * Caption and panel
 * --------------------------------------------------------------------------------------------- */

static void test_caption(void) {
  char buf[64];
  gc_render_caption(buf, sizeof buf, "tiger cat", 0.821f, "layer4");
  CHECK(!strcmp(buf, "tiger cat  82.1%  layer4"), "caption \"%s\"", buf);
  gc_render_caption(buf, sizeof buf, "boxer", 0.0504f, NULL);
  CHECK(!strcmp(buf, "boxer  5.0%"), "caption without layer \"%s\"", buf);
  gc_render_caption(buf, 5, "tiger cat", 0.821f, "layer4");
  CHECK(!strcmp(buf, "tige"), "caption truncated to the buffer \"%s\"", buf);
}

/* Black pixels in rows [y0, ph) of a panel: the caption's ink (images sit above y0). */
static int ink(const uint8_t *p, int pw, int ph, int ch, int y0) {
  int n = 0;
  for (int y = y0; y < ph; y++)
    for (int x = 0; x < pw; x++) {
      const uint8_t *q = p + ((size_t)y * pw + x) * ch;
      n += !q[0] && !q[1] && !q[2];
    }
  return n;
}

/* Ink the font should put down for s (ASCII only): every set bit is a TEXT_SCALE^2 square. */
static int glyph_ink(const char *s) {
  int n = 0;
  for (; *s; s++)
    for (int r = 0; r < FONT_H; r++)
      for (int b = 0; b < FONT_W; b++) n += (font5x7[*s - 32][r] >> b & 1) * TEXT_SCALE * TEXT_SCALE;
  return n;
}

/* Render a panel of img with caption; caller frees. */
static uint8_t *panel(const gc_image *img, const float *mask, const char *caption, int ch, int *pw,
                      int *ph) {
  gc_render_panel_size(img->w, img->h, caption, NULL, pw, ph);
  uint8_t *p = malloc((size_t)*pw * *ph * ch);
  if (p) gc_render_panel(img, mask, caption, NULL, NULL, p, ch);
  return p;
}

static void test_panel(void) {
  int pw, ph;
  gc_render_panel_size(224, 224, "tiger cat  82.1%  layer4", NULL, &pw, &ph);
  CHECK(pw == 8 + 3 * 224 + 2 * 8 + 8 && ph == 8 + 224 + 8 + 18 + 8, "224x224 panel is %dx%d", pw, ph);
  char longcap[101];
  memset(longcap, 'x', 100), longcap[100] = 0;
  gc_render_panel_size(224, 224, longcap, NULL, &pw, &ph);
  CHECK(ph == 266 + 18, "100 characters wrap to 2 lines at 57 per line (%dx%d)", pw, ph);

  /* a 4x3 image: panel 44 px wide, 2 characters per line */
  uint8_t px[4 * 3 * 3];
  float mask[12];
  for (int i = 0; i < 36; i++) px[i] = (uint8_t)(40 + 5 * i);
  for (int i = 0; i < 12; i++) mask[i] = (float)i / 11.0f;
  gc_image img = {4, 3, px};
  uint8_t *p = panel(&img, mask, "Ab", 3, &pw, &ph);
  CHECK(p && pw == 44 && ph == 8 + 3 + 8 + 18 + 8, "4x3 panel is %dx%d", pw, ph);
  if (!p) return;
  uint8_t heat[36], over[36];
  gc_render_heatmap(mask, 4, 3, heat, 3);
  gc_render_overlay(&img, mask, 0.5, over, 3);
  int ok_img = 1, ok_heat = 1, ok_over = 1;
  for (int y = 0; y < 3; y++) {
    const uint8_t *row = p + ((size_t)(8 + y) * pw) * 3;
    ok_img &= !memcmp(row + 8 * 3, px + y * 12, 12);
    ok_heat &= !memcmp(row + (8 + 4 + 8) * 3, heat + y * 12, 12);
    ok_over &= !memcmp(row + (8 + 2 * (4 + 8)) * 3, over + y * 12, 12);
  }
  CHECK(ok_img && ok_heat && ok_over, "panel holds image %d, heatmap %d, overlay %d", ok_img, ok_heat,
        ok_over);
  CHECK(!memcmp(p, "\377\377\377", 3) && !memcmp(p + (8 * pw + 13) * 3, "\377\377\377", 3),
        "margin and gap are white");
  int text_y = 8 + 3 + 8;
  CHECK(ink(p, pw, ph, 3, text_y) == glyph_ink("Ab") && glyph_ink("Ab") > 0,
        "caption ink: %d pixels, font says %d", ink(p, pw, ph, 3, text_y), glyph_ink("Ab"));
  free(p);

  p = panel(&img, mask, "abcde", 4, &pw, &ph); /* 3 lines of at most 2 */
  int alpha = 1;
  for (int i = 0; p && i < pw * ph; i++) alpha &= p[4 * i + 3] == 255;
  CHECK(p && ph == 8 + 3 + 8 + 3 * 18 + 8 && ink(p, pw, ph, 4, text_y) == glyph_ink("abcde") && alpha,
        "RGBA panel, wrapped caption, opaque");
  free(p);

  p = panel(&img, mask, "caf\xc3\xa9\x01", 3, &pw, &ph); /* é (2 bytes) and a control byte */
  CHECK(p && ink(p, pw, ph, 3, text_y) == glyph_ink("caf??"), "non-ASCII: one '?' per character");
  free(p);
  p = panel(&img, mask, NULL, 3, &pw, &ph);
  CHECK(p && ph == 8 + 3 + 8 + 18 + 8 && ink(p, pw, ph, 3, text_y) == 0, "no caption, no ink");
  free(p);
}

/* The overlay in bands of rows on 2 and 3 fake threads: the same bytes as on one, grey and colour, maps
 * with repeated and with every colormap entry, a NaN and values outside [0, 1], heights below and above
 * the band count. */
static void test_overlay_bands(void) {
  const int sizes[][2] = {{1, 1}, {5, 3}, {37, 29}, {224, 224}};
  unsigned r = 12345;
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    const int w = sizes[si][0], h = sizes[si][1];
    const size_t n = (size_t)w * h;
    uint8_t *rgb = malloc(3 * n), *want = malloc(4 * n), *got = malloc(4 * n);
    float *mask = malloc(n * sizeof *mask);
    for (size_t i = 0; i < 3 * n; i++) rgb[i] = (uint8_t)((r = r * 1103515245u + 12345u) >> 16);
    for (size_t i = 0; i < n; i++) mask[i] = (float)(((r = r * 1103515245u + 12345u) >> 16) % 1200) / 1000.0f - 0.1f;
    if (n > 7) mask[7] = NAN;
    const gc_image img = {w, h, rgb};
    for (int grey = 0; grey < 2; grey++)
      for (int t = 2; t <= 3; t++) {
        const gc_parallel par = FAKE_POOL(t);
        const gc_style st = {.image_weight = 0.4, .grey = grey};
        int rc = gc_render(&img, mask, &st, want, 4) | gc_render_par(&img, mask, &st, got, 4, &par);
        CHECK(!rc && !memcmp(want, got, 4 * n), "overlay %dx%d grey %d on %d threads: bytes differ", w, h, grey, t);
      }
    free(rgb); free(want); free(got); free(mask);
  }
}

int main(void) {
  test_overlay_bands();
  test_jet();
  test_heatmap();
  test_overlay();
  test_cam_resize();
  test_caption();
  test_panel();
  return check_report();
}
