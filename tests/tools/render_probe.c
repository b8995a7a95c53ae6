/* render_probe.c: exposes image.c/render.c on raw stdin/stdout bytes, for
 * tests/test_render_reference.py (which compiles it natively and compares with PIL/cv2/torch).
 *
 *   decode                         file bytes        -> "W H\n" + [H][W][3] u8
 *   resize  W H OW OH              [H][W][3] u8      -> [OH][OW][3] u8
 *   tensor  W H                    [H][W][3] u8      -> [H][W][3] f32
 *   camresize H W OH OW            [H][W] f32        -> [OH][OW] f32
 *   jet                                              -> [256][3] u8
 *   lut NAME                                         -> [256][3] u8 (colormaps.h), or exit 1 if unknown
 *   nearest H W OH OW              [H][W] f32        -> [OH][OW] f32 (cv2.INTER_NEAREST)
 *   render W H MODE CMAP GREY WEIGHT C   [H][W][3] u8, then [H][W] f32 -> [H][W][C] u8 (gc_render)
 *   heatmap W H C                  [H][W] f32        -> [H][W][C] u8
 *   overlay W H WEIGHT C           [H][W][3] u8, then [H][W] f32 -> [H][W][C] u8
 *   panel   W H CAPTION C          [H][W][3] u8, then [H][W] f32 -> "PW PH\n" + [PH][PW][C] u8
 *
 * Errors go to stderr with exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "render.h"

static void die(const char *msg) {
  fprintf(stderr, "render_probe: %s\n", msg);
  exit(1);
}

/* Read exactly n bytes (n < 0: everything) from stdin into a malloc'd buffer. */
static void *read_in(long n, size_t *got) {
  size_t cap = n >= 0 ? (size_t)n : 1 << 20, len = 0;
  char *buf = malloc(cap ? cap : 1);
  if (!buf) die("out of memory");
  for (;;) {
    if (len == cap) {
      if (n >= 0) break;
      if (!(buf = realloc(buf, cap *= 2))) die("out of memory");
    }
    size_t r = fread(buf + len, 1, cap - len, stdin);
    if (r == 0) break;
    len += r;
  }
  if (n >= 0 && len != (size_t)n) die("short input");
  if (got) *got = len;
  return buf;
}

static void write_out(const void *p, size_t n) {
  if (fwrite(p, 1, n, stdout) != n) die("write failed");
}

static int arg(char **argv, int i) { return atoi(argv[i]); }

int main(int argc, char **argv) {
  if (argc < 2) die("usage: render_probe CMD ...");
  const char *cmd = argv[1];
  char err[256];
  if (!strcmp(cmd, "decode")) {
    size_t n;
    uint8_t *data = read_in(-1, &n);
    gc_image img;
    if (gc_image_decode(data, n, &img, err, sizeof err)) die(err);
    printf("%d %d\n", img.w, img.h);
    write_out(img.rgb, (size_t)img.w * img.h * 3);
    gc_image_free(&img);
    free(data);
  } else if (!strcmp(cmd, "resize") && argc == 6) {
    gc_image in = {arg(argv, 2), arg(argv, 3), NULL}, out;
    in.rgb = read_in((long)in.w * in.h * 3, NULL);
    if (gc_image_resize_bilinear_aa(&in, arg(argv, 4), arg(argv, 5), &out, err, sizeof err)) die(err);
    write_out(out.rgb, (size_t)out.w * out.h * 3);
    gc_image_free(&out);
    gc_image_free(&in);
  } else if (!strcmp(cmd, "tensor") && argc == 4) {
    gc_image in = {arg(argv, 2), arg(argv, 3), NULL};
    size_t n = (size_t)in.w * in.h * 3;
    in.rgb = read_in((long)n, NULL);
    float *t = malloc(n * sizeof *t);
    if (!t) die("out of memory");
    gc_image_to_tensor(&in, NULL, NULL, t);
    write_out(t, n * sizeof *t);
    free(t);
    gc_image_free(&in);
  } else if (!strcmp(cmd, "camresize") && argc == 6) {
    int h = arg(argv, 2), w = arg(argv, 3), oh = arg(argv, 4), ow = arg(argv, 5);
    float *cam = read_in((long)h * w * 4, NULL), *out = malloc((size_t)oh * ow * 4);
    if (!out) die("out of memory");
    gc_cam_resize(cam, h, w, out, oh, ow);
    write_out(out, (size_t)oh * ow * 4);
    free(out);
    free(cam);
  } else if (!strcmp(cmd, "jet")) {
    write_out(gc_jet_lut, 256 * 3);
  } else if (!strcmp(cmd, "lut") && argc == 3) {
    const gc_colormap *m = gc_colormap_find(argv[2]);
    if (!m) die("unknown colormap");
    write_out(m->lut, 256 * 3);
  } else if (!strcmp(cmd, "nearest") && argc == 6) {
    int h = arg(argv, 2), w = arg(argv, 3), oh = arg(argv, 4), ow = arg(argv, 5);
    float *cam = read_in((long)h * w * 4, NULL), *out = malloc((size_t)oh * ow * 4);
    if (!out) die("out of memory");
    gc_cam_resize_nearest(cam, h, w, out, oh, ow);
    write_out(out, (size_t)oh * ow * 4);
    free(out);
    free(cam);
  } else if (!strcmp(cmd, "render") && argc == 9) {
    gc_image img = {arg(argv, 2), arg(argv, 3), NULL};
    const gc_colormap *m = gc_colormap_find(argv[5]);
    gc_style s = {m ? m->lut : NULL, gc_mode_parse(argv[4]), arg(argv, 6), atof(argv[7])};
    int c = arg(argv, 8);
    if (!m) die("unknown colormap");
    img.rgb = read_in((long)img.w * img.h * 3, NULL);
    float *mask = read_in((long)img.w * img.h * 4, NULL);
    uint8_t *out = malloc((size_t)img.w * img.h * c);
    if (!out) die("out of memory");
    if (gc_render(&img, mask, &s, out, c)) die("bad mode or weight");
    write_out(out, (size_t)img.w * img.h * c);
    free(out); free(mask); gc_image_free(&img);
  } else if (!strcmp(cmd, "heatmap") && argc == 5) {
    int w = arg(argv, 2), h = arg(argv, 3), c = arg(argv, 4);
    float *mask = read_in((long)w * h * 4, NULL);
    uint8_t *out = malloc((size_t)w * h * c);
    if (!out) die("out of memory");
    gc_render_heatmap(mask, w, h, out, c);
    write_out(out, (size_t)w * h * c);
    free(out);
    free(mask);
  } else if ((!strcmp(cmd, "overlay") || !strcmp(cmd, "panel")) && argc == 6) {
    gc_image img = {arg(argv, 2), arg(argv, 3), NULL};
    int c = arg(argv, 5);
    img.rgb = read_in((long)img.w * img.h * 3, NULL);
    float *mask = read_in((long)img.w * img.h * 4, NULL);
    int ow = img.w, oh = img.h;
    if (cmd[0] == 'p') gc_render_panel_size(img.w, img.h, argv[4], NULL, &ow, &oh);
    uint8_t *out = malloc((size_t)ow * oh * c);
    if (!out) die("out of memory");
    if (cmd[0] == 'p') {
      gc_render_panel(&img, mask, argv[4], NULL, NULL, out, c);
      printf("%d %d\n", ow, oh);
    } else if (gc_render_overlay(&img, mask, atof(argv[4]), out, c)) {
      die("image_weight outside [0, 1]");
    }
    write_out(out, (size_t)ow * oh * c);
    free(out);
    free(mask);
    gc_image_free(&img);
  } else {
    die("unknown command or wrong argument count");
  }
  return 0;
}
