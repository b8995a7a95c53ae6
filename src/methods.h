/* methods.h: the CAM method family, behind one table (pytorch-grad-cam 1.1.x's cam.py names).
 *
 *   gradcam hirescam gradcam++ xgradcam layercam gradcamelementwise eigencam eigengradcam segeigencam
 *   kpcacam fem scorecam ablationcam fullgrad shapleycam finercam
 *
 * A method turns what the network shows at the target layer into a map at that layer's resolution,
 * before the pipeline every method shares (explain.c: ReLU, scale, resize to the input, ReLU, scale):
 *   A = the layer's activation [h][w][c] (what a forward hook sees), G = dScore/dA [h][w][c] (only
 *   for GC_M_GRADS methods), Score = sum_n dlogits[n] * logit[n] (a class logit, or FinerCAM's mix).
 * Three shapes of method:
 *   - channel weights w[c], map = sum_k w_k A_k (eigen_smooth: the first principal component of w ⊙ A);
 *   - an element-wise map E [h][w][c] (HiResCAM, LayerCAM, ...), map = sum_k E_k (eigen: proj(E));
 *   - a map of its own (EigenCAM, KPCA-CAM, FullGrad).
 * Score-CAM and Ablation-CAM run the network again once per channel. That work is cut into units
 * (one network pass each) so that explain.c can report progress and stop between them; a unit may
 * overwrite the network's activations (explain.c re-runs the image afterwards).
 *
 * Where the reference library is ambiguous, our rule (said in the README too): a principal-component
 * projection (EigenCAM, EigenGradCAM, every eigen_smooth) is oriented to agree with the plain map of the
 * same tensor, its channel sum (negated when their dot product is negative; the library leaves the sign
 * to LAPACK, and a smoothed map upside down from the plain one helps nobody). SegEigenCAM has its own
 * rule (|min| > |max| flips it) and KPCA-CAM scikit-learn's svd_flip: both as the library. Shapley-CAM's
 * Hessian term is zero for a ReLU network with a logit target (the second derivative of a
 * piecewise-linear function), so it is
 * Grad-CAM, by construction and by test.
 */
#ifndef GC_METHODS_H
#define GC_METHODS_H

#include <stddef.h>

#include "cam.h"

enum {
  GC_M_GRADS = 1,     /* needs G: a backward pass to the layer                                  */
  GC_M_EIGEN = 2,     /* honours eigen_smooth (the others ignore it, as the library does)       */
  GC_M_FULLGRAD = 4,  /* FullGrad: every BatchNorm and the input, ignores the layer; its map is at
                         the input's size and only scaled                                         */
  GC_M_FINER = 8,     /* FinerCAM: without an explicit class the target mixes the top-1 logit with
                         its three nearest rivals' (explain.c builds dlogits)                      */
};

/* One method at one layer for one pass: what explain.c gives it, and its working state. */
typedef struct gc_method_run {
  gc_net *net;
  gc_grad *gw;
  int layer, eigen;            /* target layer; 1 when eigen_smooth is asked for and honoured     */
  const float *dlogits;        /* [num_classes]: Score = sum_n dlogits[n] * logits[n]              */
  const float *x;              /* [H][W][3] the (augmented) normalised input of this pass          */
  gc_tensor act, grad;         /* A and G; A is a private copy for methods with units              */
  float score;                 /* Score of this pass's unperturbed input                           */
  float *w;                    /* [c] channel weights (scores while units run)                     */
  float *buf;                  /* method scratch (units: a masked input, a saved channel)          */
  float zero_score; int have_zero; /* Score-CAM: the score of an all-zero mask, computed once      */
  int map_w, map_h;            /* size of the map the method writes (the layer's; FullGrad: input) */
} gc_method_run;

typedef struct gc_method {
  const char *name;
  unsigned flags;
  /* Units this run needs (NULL: none). Called after the pass's forward (and backward). */
  int (*units)(const gc_method_run *r);
  int (*unit)(gc_method_run *r, int i, char *err, size_t errlen);
  /* The map, [map_h][map_w] floats, after the units. 0 or -1 with err. */
  int (*map)(gc_method_run *r, float *out, char *err, size_t errlen);
} gc_method;

extern const gc_method gc_methods[];
extern const int gc_method_count;

/* The method called name (exactly as cam.py spells it), or NULL. */
const gc_method *gc_method_find(const char *name);
/* "gradcam, hirescam, ..." for error messages. */
const char *gc_method_names(void);

/* FinerCAM without a class: the three rivals of class top (the logits z [n] closest to z[top]), and
 * dT/dlogits [n] of its target for main class m (methods.c says how). */
int gc_finer_rivals(const float *z, int n, int top, int *out);
void gc_finer_target(const float *z, int n, int m, const int *rivals, int nr, float *dlogits);

/* Prepare r for m (after r->act/grad/score are set): scratch for weights and units. 0 or -1 (memory). */
int gc_method_begin(const gc_method *m, gc_method_run *r);
void gc_method_end(gc_method_run *r);

#endif
