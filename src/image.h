/* image.h: image input: decode, resize to the network's size, normalise.
 *
 * The reference pipeline is torchvision on a PIL image:
 *
 *   Image.open(f).convert("RGB") -> Resize((224, 224)) -> ToTensor() -> Normalize(mean, std)
 *
 * gc_image_decode plays the part of Image.open(...).convert("RGB") (stb_image, not libjpeg: PNG, BMP
 * and GIF decode to identical pixels, baseline/progressive JPEG may differ by a few levels because
 * the IDCT and chroma upsampling are not libjpeg's), gc_image_resize_bilinear_aa reproduces
 * PIL's Image.resize(..., BILINEAR) bit for bit, and gc_image_to_tensor reproduces ToTensor +
 * Normalize in float32.
 *
 * Every function that can fail returns 0 on success, or -1 with a one-line, human-readable reason in
 * err (always NUL-terminated when errlen > 0); on failure *out is left zeroed: nothing to free.
 */
#ifndef GC_IMAGE_H
#define GC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Size limits for any image we create (decoded, from canvas pixels, or resized): a 64 Mpixel RGB
 * image is 192 MiB, already beyond what a browser tab can comfortably hold twice. */
#define GC_IMAGE_MAX_SIDE   16384
#define GC_IMAGE_MAX_PIXELS (64L * 1024 * 1024)

typedef struct gc_image {
  int w, h;
  uint8_t *rgb; /* [h][w][3], RGB, malloc'd, owned; release with gc_image_free */
} gc_image;

/* Decode a PNG, JPEG, BMP or GIF (first frame) held in memory to RGB. Grey, palette, 16-bit and
 * alpha inputs are converted the way PIL's convert("RGB") does (alpha is dropped, not composited).
 * The header is checked against the size limits before any pixel memory is allocated. */
int gc_image_decode(const uint8_t *data, size_t size, gc_image *out, char *err, size_t errlen);

/* Copy canvas pixels ([h][w][4] RGBA, e.g. ImageData.data) to RGB, dropping alpha. */
int gc_image_from_rgba(const uint8_t *rgba, int w, int h, gc_image *out, char *err, size_t errlen);

/* Free img->rgb and zero *img. Safe on a zeroed image. */
void gc_image_free(gc_image *img);

/* Resize to ow x oh exactly like PIL 9.4's Image.resize((ow, oh), Image.BILINEAR), which is what
 * torchvision's transforms.Resize does to a PIL image. Same size gives an identical copy. */
int gc_image_resize_bilinear_aa(const gc_image *in, int ow, int oh, gc_image *out, char *err,
                                size_t errlen);

/* ToTensor + Normalize(mean, std) in float32 (NULL: ImageNet's), channels last:
 *   out[y][x][c] = (rgb[y][x][c] / 255 - mean[c]) / std[c]        out: [img->h][img->w][3] (NHWC) */
void gc_image_to_tensor(const gc_image *img, const float *mean, const float *std, float *out);

/* torchvision's Resize(resize) + CenterCrop((oh, ow)) of a w x h image: the resized size and the crop's
 * top-left corner in it. */
void gc_image_crop_geometry(int w, int h, int resize, int ow, int oh, int *rw, int *rh, int *left, int *top);
/* The w x h rectangle at (x, y) of in (inside it, else -1 with err). */
int gc_image_crop(const gc_image *in, int x, int y, int w, int h, gc_image *out, char *err, size_t errlen);
/* Resize(resize) + CenterCrop((oh, ow)) as torchvision on a PIL image; resize <= 0: Resize((oh, ow)). */
int gc_image_resize_crop(const gc_image *in, int resize, int ow, int oh, gc_image *out, char *err, size_t errlen);

#endif
