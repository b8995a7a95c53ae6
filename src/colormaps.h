/* colormaps.h: the colormaps a heatmap can be drawn with, as OpenCV 4.6 draws them.
 *
 * Each is 256 RGB colours: gc_colormaps[i].lut[v] == cv2.applyColorMap(v, cv2.COLORMAP_<NAME>)[..., ::-1]
 * (the RGB order show_cam_on_image(use_rgb=True) uses). Names are OpenCV's, lower-case: jet (the
 * default, first), turbo, viridis, inferno, magma, plasma, cividis, hot, bone, parula, autumn, winter,
 * rainbow, ocean, summer, spring, cool, hsv, pink, twilight, twilight_shifted, deepgreen; and rdwhgn,
 * Captum's red-white-green diverging map for signed CAMs (not in OpenCV). The tables are generated data
 * (scripts/gen-colormaps → colormaps.c), checked against cv2 by tests/test_colormaps.py.
 */
#ifndef GC_COLORMAPS_H
#define GC_COLORMAPS_H

#include <stdint.h>

typedef struct gc_colormap {
  const char *name;
  const uint8_t (*lut)[3];
} gc_colormap;

extern const gc_colormap gc_colormaps[];
extern const int gc_colormap_count;

/* The map called name (exact, lower-case), or NULL. */
const gc_colormap *gc_colormap_find(const char *name);
/* "jet, turbo, ..." for error messages. */
const char *gc_colormap_names(void);

/* OpenCV's COLORMAP_JET: the default. */
#define gc_jet_lut (gc_colormaps[0].lut)

#endif
