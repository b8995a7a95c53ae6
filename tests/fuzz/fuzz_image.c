/* fuzz_image.c: libFuzzer target for gc_image_decode (our header and completeness checks, then
 * stb_image's PNG/JPEG/BMP/GIF decoders), the PIL-style resize of whatever decodes (down and up, to
 * sizes taken from the input) and the ImageNet normalisation.
 *
 *   scripts/fuzz image 600         (seeds: gen_image_seeds.c; dictionary: image.dict)
 *
 * image.c is compiled into this file with GC_IMAGE_FUZZ_LIMITS: 1024 px per side and 64 Kpx in total
 * instead of 16384 / 64 Mpx, so that no input costs more than a millisecond or so.
 */
#define GC_IMAGE_FUZZ_LIMITS 1
#include "../../src/image.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(int rc, const char *err, const gc_image *img) {
  /* A failure must leave a non-empty one-line message and nothing to free. */
  if (rc && (!err[0] || strchr(err, '\n') || img->rgb || img->w || img->h)) {
    fprintf(stderr, "bad failure: \"%s\"\n", err);
    __builtin_trap();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gc_image img, small, big;
  char err[128];
  int rc = gc_image_decode(data, size, &img, err, sizeof err);
  check_failure(rc, err, &img);
  if (rc) return 0;
  if (img.w < 1 || img.h < 1 || (long)img.w * img.h > GC_IMAGE_MAX_PIXELS) __builtin_trap();
  /* Output sizes from the input length: shrinking, stretching one axis, and enlarging all get tried. */
  int ow = 1 + (int)(size % 61), oh = 1 + (int)(size / 61 % 59);
  rc = gc_image_resize_bilinear_aa(&img, ow, oh, &small, err, sizeof err);
  check_failure(rc, err, &small);
  if (rc == 0) {
    float *t = malloc((size_t)ow * oh * 3 * sizeof *t);
    if (t) gc_image_to_tensor(&small, NULL, NULL, t);
    free(t);
    gc_image_free(&small);
  }
  if (rc == 0 && img.w <= 48 && img.h <= 48) { /* enlarging, kept small: 224x224 cost 20 ms an input */
    rc = gc_image_resize_bilinear_aa(&img, img.w + 1 + (int)(size % 17), 2 * img.h, &big, err, sizeof err);
    check_failure(rc, err, &big);
    gc_image_free(&big);
  }
  gc_image_free(&img);
  return 0;
}
