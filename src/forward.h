/* forward.h: the ResNet forward pass through XNNPACK operators, keeping what backward needs.
 *
 * A gc_net owns the XNNPACK operators (weights packed once at create time) and every activation
 * buffer for one input size. gc_net_reshape() sizes them for an input H×W (any H, W ≥ 32); it is a
 * no-op when the size is unchanged, so repeated calls on same-sized images do no setup work.
 * Layout is NHWC, batch 1, float32 everywhere.
 *
 * The 3x3 stride-1 convolutions (ResNet-18: 15 of the 20 convs, 83% of the multiply-adds) run as
 * Winograd F(2x2,3x3) (winograd.h: 2.25x fewer multiply-adds, the lever left without wasm FMA); a
 * BasicBlock's conv2 also does the residual add and ReLU in its output transform. Everything else (the
 * stem, the stride-2 and 1x1 convs, pools, fc) runs through XNNPACK; a Bottleneck's conv3 (1x1) is
 * followed by one add + ReLU pass.
 */
#ifndef GC_FORWARD_H
#define GC_FORWARD_H

#include "model.h"
#include "dconv.h"
#include "winograd.h"

struct xnn_operator;
struct pthreadpool;

typedef struct gc_tensor { int h, w, c; float *data; } gc_tensor; /* [h][w][c] */

typedef struct gc_block_acts {
  gc_tensor in;    /* block input (alias of the previous output)                                  */
  gc_tensor h1;    /* relu(bn1(conv1(in)))                                                        */
  gc_tensor h2;    /* Bottleneck: relu(bn2(conv2(h1))); BasicBlock: unused ({0}, data NULL)       */
  gc_tensor out;   /* relu(bn_last(conv_last(...)) + shortcut(in)): conv2 (Basic), conv3 (Bottleneck) */
} gc_block_acts;

/* A block's convolutions, each a Winograd kernel (3x3 stride 1), our im2col GEMM (dconv.h), or an XNNPACK
 * operator (a Bottleneck's stride-1 1x1s: plain GEMMs, XNNPACK's strength). */
enum { GC_SLOT_CONV1, GC_SLOT_CONV2, GC_SLOT_CONV3, GC_SLOT_DOWN, GC_SLOTS };

typedef struct gc_net {
  const gc_model *model;
  struct pthreadpool *pool;        /* NULL: run on the calling thread */
  int profile;                     /* print per-operator times (GC_PROFILE=1, see forward.c) */
  int in_h, in_w;                  /* shape the operators are reshaped for (0: none yet) */
  /* ---- activations, valid after gc_net_forward ---- */
  gc_tensor x;                     /* normalised input                    [H][W][3]     */
  gc_tensor stem;                  /* bn1(conv1(x)), before ReLU           [H/2][W/2][64] */
  gc_tensor stem_relu;             /* relu(stem)                                          */
  gc_tensor maxpool;               /* maxpool 3×3/2 of stem_relu           [H/4][W/4][64] */
  gc_block_acts blk[GC_MAX_BLOCKS]; /* layer1.0 ... the last block of layer4 (model->n_blocks) */
  float feat[GC_FEAT_MAX];         /* global average pool of the last block [model->feat]  */
  float *logits;                   /* [num_classes]                                       */
  /* ---- private ---- */
  struct xnn_operator *op_stem, *op_relu, *op_pool, *op_gap, *op_fc;
  struct xnn_operator *op[GC_MAX_BLOCKS][GC_SLOTS]; /* a block's conv by XNNPACK, or NULL (ours, or none) */
  gc_wino wino[GC_MAX_BLOCKS][2];  /* conv1, conv2 by F(2x2,3x3) (u NULL where not)                   */
  gc_dconv dc[GC_MAX_BLOCKS][GC_SLOTS]; /* convs by im2col + GEMM (dconv.h; p NULL where not)          */
  gc_parallel par;                 /* pool as a parallel-for for the hand-written kernels */
  float *wscratch;                 /* Winograd's and dconv's scratch for this shape and thread count */
  float *d;                        /* scratch: downsample output (largest block)                */
  void *workspace; size_t workspace_size;
  float *arena;                    /* one allocation for every activation of this shape */
} gc_net;

/* Per-operator timing of a pass (GC_PROFILE=1; forward.c, cam.c): begin, a mark after each operator
 * (the time since the previous mark, under the name fmt formatted with two ints), end prints one
 * JSON line to stderr. Every call is a no-op unless net->profile. */
#define GC_PROF_MAX 64
typedef struct gc_prof {
  int on, n, threads, h, w;
  const char *pass;
  double t0, t, ms[GC_PROF_MAX];
  char name[GC_PROF_MAX][24];
} gc_prof;
void gc_prof_begin(gc_prof *p, const char *pass, const gc_net *net);
void gc_prof_mark(gc_prof *p, const char *fmt, int a, int b);
void gc_prof_end(gc_prof *p);
double gc_prof_now(void);
int gc_prof_wanted(void);          /* GC_PROFILE set (Node) or Module.gcProfile (a page) */

/* Create the operators for model m (which must outlive the net). The folded weights (w) of every conv
 * that runs as Winograd are transformed and then freed from m (set to NULL): nothing reads them again.
 * Returns 0 or -1 with err. */
int gc_net_create(gc_net *net, gc_model *m, struct pthreadpool *pool, char *err, size_t errlen);
/* pool (a pthreadpool, or NULL: the calling thread) as a gc_parallel: the net's, and what gc_create
 * hands the model loader. */
gc_parallel gc_pool_parallel(struct pthreadpool *pool);
/* Size activations and operators for an H×W input (H, W in [32, 4096]). 0 or -1 with err. */
int gc_net_reshape(gc_net *net, int h, int w, char *err, size_t errlen);
/* Run the forward pass on net->x.data (filled by the caller). 0 or -1 with err. */
int gc_net_forward(gc_net *net, char *err, size_t errlen);
/* Re-run the forward pass from a stage on, taking the current contents of that stage's input as they
 * are: first_block 0..n_blocks-1 starts at that block (input blk[first_block].in), n_blocks runs only
 * the head (average pool + fc on the last block's out), GC_FROM_INPUT the whole pass from net->x, GC_FROM_STEM
 * from the stem's BN output (net->stem: ReLU, max pool, blocks), GC_FROM_RELU from net->stem_relu.
 * For whatever perturbs an activation and asks what the network then says: the finite-difference test
 * of the backward pass, Ablation-CAM. */
enum { GC_FROM_INPUT = -1, GC_FROM_STEM = -2, GC_FROM_RELU = -3 };
int gc_net_forward_from(gc_net *net, int first_block, char *err, size_t errlen);
void gc_net_destroy(gc_net *net);

#endif
