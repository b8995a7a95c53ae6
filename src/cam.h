/* cam.h: target layers, the gradient of a class score w.r.t. a layer (through the hand-written
 * backward kernels), and the CAM's min-max scaling. The CAM methods themselves are methods.h's.
 *
 * Layers use torchvision's module names: "conv1" (the raw conv output, before bn1, as a hook on
 * model.conv1 sees it), "relu", "maxpool", "layer1.0" ... "layer4.2" (block outputs; as many as the
 * model has: resnet152's layer3 runs to layer3.35), and "layer1" ... "layer4" as aliases of their last
 * block. "input" is the normalised input image
 * (gradient to the pixels). The backward pass stops at the target layer: nothing below it runs.
 */
#ifndef GC_CAM_H
#define GC_CAM_H

#include "forward.h"

enum { GC_LAYER_INPUT = -1, GC_LAYER_CONV1 = 0, GC_LAYER_RELU = 1, GC_LAYER_MAXPOOL = 2,
       GC_LAYER_BLOCK0 = 3 /* block b (model->blocks[b], e.g. layer3.5) is GC_LAYER_BLOCK0 + b */ };

/* Layers of model m: GC_LAYER_INPUT .. gc_layer_count(m) - 1. */
int gc_layer_count(const gc_model *m);
/* Parse a layer name (case-sensitive, torchvision spelling) of model m. Returns the layer or -2 if
 * unknown. m NULL: only whether some torchvision ResNet has such a layer (-2 or GC_LAYER_BLOCK0 for a
 * well-formed block name), for checking arguments before a model is loaded. */
int gc_layer_parse(const gc_model *m, const char *name);
/* Canonical name ("layer4.1" for resnet18's GC_LAYER_BLOCK0 + 7, "input" for GC_LAYER_INPUT). */
const char *gc_layer_name(const gc_model *m, int layer);

/* Workspace of the backward pass for one network shape (allocated by gc_grad_reshape). */
typedef struct gc_grad {
  int h, w;                      /* input shape it is sized for                          */
  float *buf[3];                 /* ping-pong gradients + shortcut, each of the largest activation */
  float *scratch; size_t scratch_n; /* conv-backward scratch                              */
  float *acts;                   /* conv1 target: the pre-BN activation, recovered       */
  float dfeat[GC_FEAT_MAX];
} gc_grad;

int gc_grad_reshape(gc_grad *g, const gc_net *net, char *err, size_t errlen);
void gc_grad_free(gc_grad *g);

/* What a backward pass may do besides the plain data gradient (NULL: nothing). */
typedef struct gc_backward_opts {
  int guided;       /* every ReLU by guided backprop's rule (gc_relu_backward_guided): GuidedBackprop */
  /* Called on the way down with the gradient at the output of every BatchNorm (folded into conv c),
   * before the ReLU that follows it: [h][w][c->oc]. FullGrad reads its bias-gradients here. */
  void (*bn_grad)(void *user, const gc_conv *c, const gc_tensor *grad);
  void *user;
} gc_backward_opts;

/* Backward from dlogits [num_classes] (e.g. one-hot for a class score) to `layer`, after
 * gc_net_forward. On return *act and *grad describe the layer's activation A and dScore/dA, both
 * [h][w][c] (pointers into net/g, valid until the next call). Returns 0 or -1 with err. */
int gc_backward_to(gc_net *net, gc_grad *g, const float *dlogits, int layer, const gc_backward_opts *o,
                   gc_tensor *act, gc_tensor *grad, char *err, size_t errlen);

/* The activation A a forward hook on `layer` sees, [h][w][c], after gc_net_forward: a view of the net's
 * buffer, except conv1 (before bn1), which is recovered from the BN output into g->acts. */
void gc_layer_act(gc_net *net, gc_grad *g, int layer, gc_tensor *act);

/* pytorch-grad-cam's scale_cam_image in place: x -= min(x); x /= (1e-7 + max(x)). */
void gc_cam_normalize(float *cam, size_t n);

#endif
