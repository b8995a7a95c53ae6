/* render.h: turning a Grad-CAM map into pictures.
 *
 * The reference is pytorch-grad-cam: the CAM (after its min-max normalisation) is brought to the
 * image's size with cv2.resize(cam, (w, h)) (INTER_LINEAR) and drawn with
 * show_cam_on_image(img, mask, use_rgb=True, colormap=cv2.COLORMAP_JET, image_weight=0.5).
 * gc_cam_resize and gc_render_overlay reproduce those two in float32; gc_jet_lut is OpenCV's JET.
 *
 * Output pixels are written with `channels` bytes per pixel: 3 (RGB, for PNG writing) or 4 (RGBA
 * with alpha 255, for a canvas ImageData). Nothing here touches files.
 */
#ifndef GC_RENDER_H
#define GC_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* OpenCV's COLORMAP_JET as RGB: gc_jet_lut[v] == cv2.applyColorMap(v, JET)[..., ::-1]. */
extern const uint8_t gc_jet_lut[256][3];

/* cv2.resize(cam, (ow, oh), interpolation=cv2.INTER_LINEAR) for a float32 map
 * (half-pixel centres, edge clamping).                          cam: [h][w]   out: [oh][ow] */
void gc_cam_resize(const float *cam, int h, int w, float *out, int oh, int ow);

/* applyColorMap(np.uint8(255 * mask), JET) as RGB(A).          mask: [h][w]  out: [h][w][channels]
 * mask is expected in [0, 1]; values outside are clamped, NaN counts as 0. */
void gc_render_heatmap(const float *mask, int w, int h, uint8_t *out, int channels);

/* show_cam_on_image(img / 255, mask, use_rgb=True, image_weight) as RGB(A), bit-exact.
 * mask: [img->h][img->w] in [0, 1]; out: [img->h][img->w][channels].
 * Returns -1 (out untouched) if image_weight is outside [0, 1], as pytorch-grad-cam raises. */
int gc_render_overlay(const gc_image *img, const float *mask, double image_weight, uint8_t *out,
                      int channels);

/* pytorch-grad-cam's deprocess_image (for guided backprop): x = (x - mean) / (std + 1e-5) * 0.1 + 0.5 over
 * all n values, clipped to [0, 1], then uint8(255 x) (truncating).         img: [n]   out: [n] */
void gc_render_deprocess(const float *img, size_t n, uint8_t *out);

/* Caption text for the panel: "<label>  <prob as %.1f>%  <layer>", e.g. "tiger cat  82.1%  layer4"
 * (prob in [0, 1]; layer may be NULL or "" to omit it). Truncated to fit n bytes. */
void gc_render_caption(char *buf, size_t n, const char *label, float prob, const char *layer);

/* The panel: original | heatmap | overlay (image_weight 0.5) side by side on white, 8 px gaps and
 * margins, and below them the caption in a built-in 5x7 font drawn at scale 2 (black, wrapped at
 * the panel's width; bytes outside printable ASCII show as '?', one per UTF-8 character; at most
 * GC_CAPTION_MAX characters). gc_render_panel_size gives the size for a w x h image and caption;
 * gc_render_panel fills out: [ph][pw][channels]. caption may be NULL (an empty strip). */
#define GC_CAPTION_MAX 256
void gc_render_panel_size(int w, int h, const char *caption, int *pw, int *ph);
void gc_render_panel(const gc_image *img, const float *mask, const char *caption, uint8_t *out,
                     int channels);

#endif
