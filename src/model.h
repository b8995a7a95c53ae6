/* model.h: torchvision ResNet weights, loaded from safetensors, BatchNorm folded.
 *
 * The C core knows torchvision's ResNet family: BasicBlock networks (resnet18, resnet34) and Bottleneck
 * ones (resnet50, resnet101, resnet152, wide_resnet50_2, wide_resnet101_2; v1.5: the stride on the 3x3),
 * with any number of classes. The architecture is read from the state dict itself: Bottleneck where
 * "layer1.0.conv3.weight" exists, the blocks per stage from the names present, the widths from the
 * shapes (so the wide variants need nothing special); every tensor is then checked against that.
 * Grouped convolutions (ResNeXt) are refused. Weights arrive as a safetensors file (F32 or F16) with torchvision's state-dict names
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

#define GC_MAX_BLOCKS 64  /* blocks over all four stages: resnet152 has 50 */
#define GC_FEAT_MAX 4096  /* channels entering fc: 512 (BasicBlock), 2048 (Bottleneck) */

typedef struct gc_conv {
  int oc, ic, kh, kw, stride, pad; /* oc == 0: absent (a block without downsample) */
  float *w;                        /* [oc][kh][kw][ic] BN-folded weights (OHWI)     */
  float *b;                        /* [oc] BN-folded bias                           */
  float *bn_scale, *bn_shift;      /* [oc] the folded affine: y = conv_raw*scale + shift */
} gc_conv;

/* Output side of a convolution (or pool) of kernel k, stride s, padding p over n input pixels. */
static inline int gc_conv_out(int n, int k, int s, int p) { return (n + 2 * p - k) / s + 1; }

typedef struct gc_block {          /* torchvision BasicBlock, or Bottleneck where conv3.oc != 0      */
  int stage, index;                /* torchvision's layer{stage}.{index}, stage 1..4                */
  char name[24];                   /* "layer3.22"                                                   */
  gc_conv conv1;                   /* Basic: 3x3, stride s      Bottleneck: 1x1 -> width   + bn1, ReLU */
  gc_conv conv2;                   /* Basic: 3x3, stride 1      Bottleneck: 3x3, stride s  + bn2 (ReLU) */
  gc_conv conv3;                   /* Basic: oc==0              Bottleneck: 1x1 -> 4*planes + bn3       */
  gc_conv down;                    /* 1x1, stride s, + bn (downsample.0/.1), or oc==0               */
} gc_block;

/* How an image becomes the network's input (torchvision transforms), from the file's __metadata__
 * (models/convert --mean --std --size --crop --labels), ImageNet's where it says nothing. */
typedef struct gc_preproc {
  float mean[3], std[3];           /* Normalize(mean, std) after ToTensor                          */
  int w, h;                        /* "gradcam.size": the input size the model was trained at, or 0 */
  int resize;                      /* "gradcam.resize" R > 0: Resize(R) + CenterCrop((h, w)); 0: Resize((h, w)) */
  char *labels;                    /* "gradcam.labels": num_classes names, one per line (owned), or NULL */
} gc_preproc;

typedef struct gc_model {
  gc_conv conv1;                   /* 7x7/2, 3->64, + bn1, ReLU                        */
  int bottleneck;                  /* 1: Bottleneck blocks (conv3 present)             */
  int n_blocks;                    /* blocks[0..n_blocks): layer1.0 ... layer4.(last)  */
  int stage_blocks[4];             /* blocks per stage: resnet50 3,4,6,3               */
  int feat;                        /* channels entering fc (the last block's output)   */
  char arch[32];                   /* "resnet50", "wide_resnet50_2", or "resnet (bottleneck 2-2-2-2)" */
  gc_block blocks[GC_MAX_BLOCKS];
  int num_classes;                 /* fc.out_features, read from the file              */
  float *fc_w;                     /* [num_classes][feat]                              */
  float *fc_b;                     /* [num_classes]                                    */
  gc_preproc pre;                  /* the file's preprocessing (ImageNet's by default)  */
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
/* "R,G,B": three finite numbers (positive ones if positive) and nothing else, into out. 0, or -1 (out
 * partly written): a mean or std, from a file's metadata or the CLI's --mean/--std. */
int gc_parse_triple(const char *s, int positive, float out[3]);

#endif
