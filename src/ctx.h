/* ctx.h: the inside of a gc_ctx (gradcam.h), shared by api.c (lifetime, classify, the WebAssembly
 * exports) and explain.c (the CAM methods' pipeline, metrics, guided backprop). Not a public header.
 */
#ifndef GC_CTX_H
#define GC_CTX_H

#include "cam.h"
#include "forward.h"
#include "gradcam.h"
#include "model.h"

typedef struct gc_job gc_job;

struct gc_ctx {
  gc_model model;
  gc_net net;
  gc_grad grad;
  int in_w, in_h, multilabel;
  float mean[3], std[3];             /* Normalize's                                         */
  int resize;                        /* > 0: Resize(resize) + CenterCrop(in size); 0: plain  */
  int have_forward;                  /* a forward pass matches net's activations          */
  float *probs, *dlogits;            /* [num_classes]                                      */
  float *cam, *cam_feat;             /* [cam_h][cam_w] (the input size), [cam_fh][cam_fw]   */
  int cam_w, cam_h, cam_fw, cam_fh;  /* 0: nothing explained                               */
  int cam_signed, cam_raw, cam_nearest; /* how the CAM was made: how to display it (gc_cam_at) */
  gc_metrics metrics;                /* of the last explanation that asked for them         */
  double forward_ms;
  gc_job *job;                       /* the explanation running in steps, or NULL           */
  struct pthreadpool *pool;          /* NULL: everything on the calling thread              */
};

double gc_now_ms(void);
/* Probabilities of logits z [n] by the context's head (softmax, or per-class sigmoids). */
void gc_ctx_probs(const gc_ctx *g, const float *z, float *p);

#endif
