/* gradcam.h: Grad-CAM for a torchvision ResNet-18, computed on the device. The gradcam-wasm C API.
 *
 * One context = one model (any number of classes) + one input size + every buffer it needs; contexts
 * share nothing, so several models can live in one process.
 *
 *   gc_desc d = {.weights = bytes, .weights_size = n};            // safetensors, F32 or F16
 *   gc_ctx *g = gc_create(&d, err, sizeof err);                    // NULL + err on failure
 *   gc_classify(g, &img, err, sizeof err);                         // resize (PIL bilinear), normalise, forward
 *   gc_topk(g, 5, idx);  gc_probs(g)[idx[0]];
 *   gc_explanation e;
 *   gc_explain(g, &(gc_explain_desc){.class_index = -1, .layer = "layer4"}, &e, err, sizeof err);
 *   // e.cam: [e.h][e.w] normalised Grad-CAM at the model input size (pytorch-grad-cam's output)
 *   gc_destroy(g);
 *
 * Errors: every function that can fail returns 0 (or a pointer) on success and -1 (NULL) on failure
 * with one human-readable line in err. A failure leaves the context usable: the next call works.
 * Pixels are RGB uint8 (gc_image, see image.h); rendering is in render.h.
 */
#ifndef GC_GRADCAM_H
#define GC_GRADCAM_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

typedef struct gc_ctx gc_ctx;

typedef struct gc_desc {
  const uint8_t *weights; size_t weights_size; /* safetensors bytes; parsed and copied by gc_create   */
  int free_weights;                            /* 1: weights came from malloc and gc_create frees them
                                                  once parsed, before it builds the network (success or
                                                  not), so the file's bytes are never held together with
                                                  the network's weights: a peak lower by the file size  */
  int input_w, input_h;                        /* model input size; 0 → the file's "gradcam.size", else
                                                  224×224                                             */
  const float *mean, *std;                     /* [3] Normalize's; NULL → the file's "gradcam.mean" /
                                                  "gradcam.std", else ImageNet's                      */
  int crop;                                    /* R > 0: Resize(R) + CenterCrop(input size); -1: plain
                                                  Resize(input size); 0 → the file's "gradcam.resize"
                                                  (default: plain)                                    */
  int multilabel;                              /* 1: per-class sigmoid probabilities (a multi-label
                                                  model, like the shapes model); 0: softmax; -1: as
                                                  the file's metadata "gradcam.head" says (default
                                                  softmax)                                            */
  int threads;                                 /* threads for the network passes: 0 → every core
                                                  (as many as the worker pool allows: cmake/threads-pre.js),
                                                  1 → the calling thread only, n → n (capped at the
                                                  runtime's worker pool + 1). Only the threaded build
                                                  (-pthread) has more than one; the single-threaded
                                                  build always runs on the calling thread.            */
} gc_desc;

gc_ctx *gc_create(const gc_desc *desc, char *err, size_t errlen);
void gc_destroy(gc_ctx *g);
int gc_num_classes(const gc_ctx *g);
int gc_multilabel(const gc_ctx *g);               /* 1: probabilities are per-class sigmoids */
/* The file's class names ("gradcam.labels", one per line), or NULL. */
const char *gc_labels(const gc_ctx *g);
/* The part of a w×h image the network sees: all of it, or the centre crop's rectangle mapped back to the
 * image (x, y, width, height). Draw a CAM over that part: it explains that part only. */
void gc_view_rect(const gc_ctx *g, int w, int h, int rect[4]);
/* Replace *img (the image just classified) by that part, in place; on an error *img is unchanged. */
int gc_view_image(const gc_ctx *g, gc_image *img, char *err, size_t errlen);
const char *gc_arch(const gc_ctx *g);             /* "resnet18", "resnet50", "wide_resnet50_2", ...  */
/* The model's target layers, comma-separated, in network order with each stage's alias before its
 * blocks: "input,conv1,relu,maxpool,layer1,layer1.0,...". Returns buf (truncated to n bytes). */
const char *gc_layer_names(const gc_ctx *g, char *buf, size_t n);
void gc_input_size(const gc_ctx *g, int *w, int *h);
/* Change the model input size (each side 32..4096). Buffers are re-planned on the next call. */
int gc_set_input_size(gc_ctx *g, int w, int h, char *err, size_t errlen);

/* Resize img to the input size (exactly as torchvision's Resize on a PIL image), normalise with the
 * ImageNet mean/std, run the forward pass. The image is kept (by copy) for gc_explain. */
int gc_classify(gc_ctx *g, const gc_image *img, char *err, size_t errlen);
/* Forward pass on an already-normalised tensor x: [h][w][3] (NHWC), at any size. */
int gc_classify_tensor(gc_ctx *g, const float *x, int w, int h, char *err, size_t errlen);
const float *gc_logits(const gc_ctx *g);          /* [num_classes], valid after a classify        */
const float *gc_probs(const gc_ctx *g);           /* [num_classes]: softmax, or sigmoids          */
int gc_topk(const gc_ctx *g, int k, int *idx);    /* the k best classes, best first; returns k'   */

enum { GC_SIGN_POSITIVE, GC_SIGN_NEGATIVE, GC_SIGN_ALL };

typedef struct gc_explain_desc {
  int class_index;          /* target class; -1: the top-1 class                                    */
  const float *logit_weights; /* optional [num_classes]: explain sum_n w[n]*logit[n] instead         */
  const char *layer;        /* torchvision name ("layer4", "layer3.0", "conv1", ...); NULL: layer4.
                               Several, comma-separated ("layer3,layer4"): pytorch-grad-cam's
                               target_layers, the mean of the layers' CAMs                           */
  const char *method;       /* pytorch-grad-cam's name (methods.h): "gradcam" (NULL), "scorecam", ... */
  int eigen_smooth;         /* 1: the first principal component instead of the weighted sum, for the
                               methods that honour it (the others ignore it and say so)             */
  int aug_smooth;           /* 1: the mean CAM of 6 passes: input × {0.9, 1, 1.1}, flipped or not    */
  int sign;                 /* GC_SIGN_POSITIVE (pytorch-grad-cam's ReLU), _NEGATIVE (the evidence
                               against the class: -map), _ALL (no ReLU, scaled into [-1, 1])         */
  int raw;                  /* 1: no min-max scaling anywhere: the CAM in the map's own units         */
  int nearest;              /* 1: resize with INTER_NEAREST (the layer's grid) instead of LINEAR      */
  int metrics;              /* 1: also the faithfulness metrics of the result (gc_metrics)           */
  const int *road_percentiles; int n_road_percentiles; /* NULL: 10, 20, ..., 90 (at most 99 of them) */
  double road_noise;        /* ROAD's imputation noise (the library's default is 0.01; 0: none)      */
  unsigned long long road_seed; /* seed of that noise                                                */
  /* Optional, for gc_explain: called between units of work with the fraction done; a nonzero return
   * stops the explanation ("cancelled"), leaving the context as it was before. */
  int (*progress)(void *user, double fraction);
  void *user;
} gc_explain_desc;

#define GC_ROAD_MAX 99
typedef struct gc_metrics {   /* pytorch-grad-cam's metrics on the final CAM, scores = class probability */
  float score;                /* probability of the class on the image (softmax, or the sigmoid head)  */
  float cam_mult_change;      /* CamMultImageConfidenceChange: score(x * cam) - score(x)               */
  float drop, increase;       /* DropInConfidence = max(-change, 0), IncreaseInConfidence = change > 0 */
  int n_road, road_percentiles[GC_ROAD_MAX];
  float road_morf[GC_ROAD_MAX], road_lerf[GC_ROAD_MAX]; /* score(imputed) - score(x) per percentile     */
  float road_morf_mean, road_lerf_mean, road_combined;   /* ROADCombined = (mean LeRF - mean MoRF) / 2  */
} gc_metrics;

typedef struct gc_explanation {
  int class_index; float prob; int layer;  /* layer: the last target layer; -2 for FullGrad (every BN) */
  int n_layers, layers[8];                 /* the target layers (the first 8)                        */
  char layer_names[8][24];                 /* their names, e.g. "layer3.5"                           */
  const char *method;
  int eigen_smooth, eigen_ignored, aug_smooth; /* what was applied; eigen_ignored: asked, not honoured */
  int sign, raw, nearest;                  /* as asked                                               */
  float cam_min, cam_max;                  /* range of cam (raw: in the map's units)                 */
  int n_compared, compared[3];           /* FinerCAM without a class: the three rivals it compared     */
  int w, h; const float *cam;            /* [h][w] the CAM at the model input size (positive: [0, 1];
                                            sign all: [-1, 1]; raw: its own units)                     */
  int fw, fh; const float *cam_feat;     /* [fh][fw] normalised CAM at the layer's resolution (FullGrad,
                                            aug-smooth: the CAM itself at the input size)               */
  int gc; const float *grad;             /* [fh][fw][gc] dScore/dA at the layer (NHWC), or NULL        */
  const gc_metrics *metrics;             /* NULL unless asked for                                      */
  double forward_ms, backward_ms, cam_ms;
} gc_explanation;

/* Explain the image of the last gc_classify/gc_classify_tensor. Pointers stay valid until the
 * next call on g. */
int gc_explain(gc_ctx *g, const gc_explain_desc *d, gc_explanation *out, char *err, size_t errlen);

/* The same in steps, for a caller with an event loop (the page's worker): begin, then step until it
 * returns 1 (done: out filled) or -1 (failed: err). Each step runs units of work (one network pass
 * each) for about budget_ms, at least one. gc_explain_abort stops a job between steps. Whatever way a
 * job ends, the context is left as it was (the image's forward pass restored): the next call works.
 * One job per context: beginning another aborts the one running. */
int gc_explain_begin(gc_ctx *g, const gc_explain_desc *d, char *err, size_t errlen);
int gc_explain_step(gc_ctx *g, double budget_ms, gc_explanation *out, char *err, size_t errlen);
double gc_explain_progress(const gc_ctx *g);   /* 0..1 of the running job                          */
void gc_explain_abort(gc_ctx *g);

/* A finished explanation kept aside and made current again later, so that one context can serve
 * several callers (the page's worker: every viewer of a model shares one context) and a change of
 * style still only redraws. gc_cam_save copies the maps (not the gradient: the restored explanation's
 * grad is NULL) and the metrics; gc_cam_restore needs the same image classified (gc_classify) again
 * first, which is the caller's to ensure, and refills out. NULL / -1 on failure (out of memory). */
typedef struct gc_saved_cam gc_saved_cam;
gc_saved_cam *gc_cam_save(const gc_ctx *g, const gc_explanation *e);
int gc_cam_restore(gc_ctx *g, const gc_saved_cam *s, gc_explanation *out, char *err, size_t errlen);
void gc_cam_saved_free(gc_saved_cam *s);

/* What the CAM's numbers mean, for a legend: "normalised, positive: 0 .. 1", "raw, all: -1.61 .. 1.61"
 * (the two ends of the colour bar gc_cam_at's display map is drawn with). */
void gc_legend_text(const gc_explanation *e, char *buf, size_t n);
const char *gc_sign_name(int sign);   /* "positive", "negative", "all" */
/* The explanation's target layers, canonical and comma-separated ("layer3.1,layer4.1"; "all" for
 * FullGrad), in buf; returns buf. */
const char *gc_layers_text(const gc_explanation *e, char *buf, size_t n);

/* Guided backpropagation of the class score to the input (pytorch-grad-cam's GuidedBackpropReLUModel):
 * out [h][w][3] at the model input size, for the image of the last classify. */
int gc_guided_backprop(gc_ctx *g, int class_index, float *out, char *err, size_t errlen);

/* The explained CAM brought to another size for display (e.g. the original image's): the layer's map
 * resized as the explanation was (OpenCV's INTER_LINEAR, or NEAREST) and rescaled into [0, 1], the
 * range the renderers take: min-max, as pytorch-grad-cam does (also for a raw map: its units are the
 * legend's business), or for a signed map (v / max|v| + 1) / 2, so that 0 is the colormap's middle.
 * At the model input size it is the explanation's own CAM. out: [h][w]. After a successful explain. */
int gc_cam_at(const gc_ctx *g, int w, int h, float *out, char *err, size_t errlen);

#endif
