/* model.h: ResNet-18 weights, loaded from safetensors, BatchNorm folded.
 *
 * The C core knows exactly one architecture: torchvision's resnet18 with any number of classes.
 * Weights arrive as a safetensors file (F32 or F16) with torchvision's state-dict names
 * ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
 * "layer2.0.downsample.1.bias", "fc.weight", ...). gc_model_load checks every tensor's name, dtype
 * and shape, then folds each BatchNorm (eval mode, eps 1e-5) into the convolution before it:
 *
 *   scale = gamma / sqrt(var + eps)      w'[o] = w[o] * scale[o]      b'[o] = beta[o] - mean[o] * scale[o]
 *
 * and stores conv weights as OHWI ([out][kh][kw][in]): XNNPACK's layout, and the layout in which
 * the hand-written backward kernels read them. The BN scale/shift of each conv is kept too, so that
 * Grad-CAM can target the raw (pre-BN) output of `conv1` exactly as a torchvision hook would see it.
 */
#ifndef GC_MODEL_H
#define GC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "parallel.h"

#define GC_FEAT 512 /* channels entering fc */

typedef struct gc_conv {
  int oc, ic, kh, kw, stride, pad; /* oc == 0: absent (a block without downsample) */
  float *w;                        /* [oc][kh][kw][ic] BN-folded weights (OHWI)     */
  float *b;                        /* [oc] BN-folded bias                           */
  float *bn_scale, *bn_shift;      /* [oc] the folded affine: y = conv_raw*scale + shift */
} gc_conv;

typedef struct gc_block {          /* torchvision BasicBlock                          */
  gc_conv conv1;                   /* 3x3, stride s, + bn1, ReLU                      */
  gc_conv conv2;                   /* 3x3, stride 1, + bn2                            */
  gc_conv down;                    /* 1x1, stride s, + bn (downsample.0/.1), or oc==0 */
} gc_block;

typedef struct gc_model {
  gc_conv conv1;                   /* 7x7/2, 3->64, + bn1, ReLU                        */
  gc_block blocks[8];              /* layer1.0, layer1.1, layer2.0, ..., layer4.1      */
  int num_classes;                 /* fc.out_features, read from the file              */
  float *fc_w;                     /* [num_classes][512]                               */
  float *fc_b;                     /* [num_classes]                                    */
  int sigmoid_head;                /* the file's __metadata__ says "gradcam.head": "sigmoid": a
                                      multi-label model, probabilities are per-class sigmoids  */
} gc_model;

/* Parse a safetensors buffer into *m (all arrays malloc'd, owned by m). Returns 0 on success, or -1
 * with a one-line, human-readable reason in err (e.g. "layer3.1.conv2.weight: shape [256,256,3,3]
 * expected, file has [256,128,3,3]"). On failure *m is left zeroed: nothing to free. */
int gc_model_load(gc_model *m, const uint8_t *data, size_t size, char *err, size_t errlen);
/* The same, the convolutions loaded side by side on par's threads (NULL: the calling thread); the result
 * is bit-identical, and a failure reports the same (first, in file order) reason. */
int gc_model_load_par(gc_model *m, const uint8_t *data, size_t size, const gc_parallel *par, char *err,
                      size_t errlen);
void gc_model_free(gc_model *m);

#endif
