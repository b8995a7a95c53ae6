/* cli.h: what the parts of the command line share: its options, and the explain command (cli_explain.c).
 * cli.c parses the options and runs classify; cli_io.c reads and writes files. */
#ifndef GC_CLI_H
#define GC_CLI_H

#include "cli_io.h"
#include "colormaps.h"
#include "gradcam.h"

enum { CMP_NONE, CMP_CLASSES, CMP_LAYERS, CMP_METHODS };

typedef struct opts {
  const char *cmd, *home, *model, *labels, *cls, *layer, *out, *heatmap, *panel, *cam, *grad, *logits, *out_dir;
  const char *method, *gb_npy, *gb, *cam_gb, *grid;
  const char **images;               /* the IMAGE arguments, in order (argc slots: any number of them) */
  int n_images, top, json, w, h, multilabel, threads, eigen_smooth, aug_smooth, metrics, progress;
  int n_road, road[GC_ROAD_MAX];
  double alpha, road_noise;
  float mean[3], std[3]; int has_mean, has_std, crop; /* preprocessing overrides (crop -1: plain resize) */
  /* display */
  const gc_colormap *colormap;       /* NULL: jet (rdwhgn for sign all)                              */
  int mode, grey, sign, raw, nearest;
  int compare, compare_k;            /* CMP_*; classes:K                                              */
  const char *compare_list;          /* layers:a,b / methods:a,b: the comma-separated names           */
} opts;

/* The output path for image i: the explicit option for one image, else D/<image stem>.<suffix> with
 * --out-dir D (which writes overlay, heatmap, panel and CAM for every image, the rest if asked). */
const char *out_path(char *buf, size_t n, const opts *o, const char *explicit_path, int i, const char *suffix);

/* `gradcam explain` for image i (class cls, -1: top-1): 0 or an exit code. */
int explain_one(gc_ctx *g, const opts *o, const labels *L, int cls, int i);

#endif
