/* render.h: turning a Grad-CAM map into pictures.
 *
 * The reference is pytorch-grad-cam: the CAM (after its min-max normalisation) is brought to the
 * image's size with cv2.resize(cam, (w, h)) (INTER_LINEAR) and drawn with
 * show_cam_on_image(img, mask, use_rgb=True, colormap=cv2.COLORMAP_JET, image_weight=0.5).
 * gc_cam_resize and gc_render_overlay reproduce those two in float32, with any colormap of colormaps.h.
 *
 * Output pixels are written with `channels` bytes per pixel: 3 (RGB, for PNG writing) or 4 (RGBA
 * with alpha 255, for a canvas ImageData). Nothing here touches files.
 */
#ifndef GC_RENDER_H
#define GC_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "colormaps.h"
#include "image.h"
#include "parallel.h"

/* How a CAM is drawn. The mask handed to the renderers is always in [0, 1] (explain.c's display map:
 * a signed map is mapped to (v + 1) / 2, a raw one divided by its largest magnitude).
 * Modes are Captum's visualize_image_attr names. */
enum { GC_MODE_BLENDED, GC_MODE_HEAT, GC_MODE_MASKED, GC_MODE_ALPHA, GC_MODE_COUNT };
int gc_mode_parse(const char *name);     /* "blended_heat_map", "heat_map", "masked_image", "alpha_scaling"; -1 */
const char *gc_mode_name(int mode);

typedef struct gc_style {
  const uint8_t (*lut)[3]; /* colormap (colormaps.h); NULL: jet                                        */
  int mode;                /* GC_MODE_*: blended_heat_map = show_cam_on_image (default); heat_map = the
                              colormap alone; masked_image = image × mask; alpha_scaling = the image
                              with the mask as alpha (needs 4 channels to show it)                    */
  int grey;                /* blended over a greyscale copy (the mean of R, G, B, as Captum shows it)  */
  double image_weight;     /* blended: the image's weight, show_cam_on_image's image_weight            */
} gc_style;

/* The legend a panel draws: a colour bar of the style's colormap and a line of text saying what its
 * two ends mean (e.g. "normalised, positive: 0 .. 1", or a raw map's true range). */
typedef struct gc_legend { const char *text; } gc_legend;

/* cv2.resize(cam, (ow, oh), interpolation=cv2.INTER_LINEAR) for a float32 map
 * (half-pixel centres, edge clamping).                          cam: [h][w]   out: [oh][ow] */
void gc_cam_resize(const float *cam, int h, int w, float *out, int oh, int ow);
/* The same with cv2.INTER_NEAREST: every output pixel is one input pixel (the layer's own grid). */
void gc_cam_resize_nearest(const float *cam, int h, int w, float *out, int oh, int ow);

/* Draw mask [img->h][img->w] (in [0, 1]) over img as style s says: out [h][w][channels] (3: RGB, 4: RGBA).
 * Returns -1 (out untouched) for an unknown mode or a blend weight outside [0, 1]. */
int gc_render(const gc_image *img, const float *mask, const gc_style *s, uint8_t *out, int channels);
/* The same on par's threads (the blended overlay's two passes in bands of rows; par NULL: this thread),
 * with the same bytes for any thread count. */
int gc_render_par(const gc_image *img, const float *mask, const gc_style *s, uint8_t *out, int channels,
                  const gc_parallel *par);

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
/* With a style (NULL: jet, blended at 0.5) the heatmap uses its colormap and the third picture its mode
 * (alpha_scaling shows as masked_image: a panel is opaque); with a legend (NULL: none) a colour bar and
 * its text sit between the pictures and the caption. */
void gc_render_panel_size(int w, int h, const char *caption, const gc_legend *lg, int *pw, int *ph);
void gc_render_panel(const gc_image *img, const float *mask, const char *caption, const gc_style *style,
                     const gc_legend *lg, uint8_t *out, int channels);

/* A compare grid: n tiles of tw x th RGB pixels, `cols` a row, each labelled under it (a 5x7 font at
 * scale 1, two lines at most) on white. out: [gh][gw][3] from gc_render_grid_size. */
void gc_render_grid_size(int n, int cols, int tw, int th, int *gw, int *gh);
void gc_render_grid(const uint8_t *const *tiles, const char *const *labels, int n, int cols, int tw, int th, uint8_t *out);

#endif
