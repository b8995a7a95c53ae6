/* forward.c: ResNet-18 forward through XNNPACK operators (see forward.h).
 *
 *   x [H][W][3] → conv1+bn (7×7/2) → stem [H1][W1][64] → relu → maxpool 3×3/2 → [H2][W2][64]
 *     → layer1 (2 blocks, 64) → layer2 (128, /2) → layer3 (256, /2) → layer4 (512, /2)
 *     → mean over H,W → feat [512] → fc → logits [N]
 *
 * BasicBlock: h1 = relu(conv1(in)); out = relu(conv2(h1) + (down ? down(in) : in)).
 * Every 3x3 stride-1 conv runs as Winograd (winograd.h): each block's conv2, with the residual add and
 * ReLU in its output transform, and conv1 except where it has stride 2 (layer2-4.0: XNNPACK, ReLU
 * fused). The downsample 1x1 convs, the stem, the pools and fc are XNNPACK operators. The stem conv
 * keeps its pre-ReLU output because Grad-CAM's `conv1` target needs it (a torchvision hook on
 * model.conv1 sees the value before bn1 and relu).
 */
#include "forward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthreadpool.h>
#include <xnnpack.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* ---- profile ------------------------------------------------------------------------------------- *
 * With GC_PROFILE=1 in the environment (Node: process.env; a page: Module.gcProfile = 1 before the
 * module starts), every forward pass prints one JSON line to stderr with each operator's time in ms:
 *   {"gc_profile": "forward", "size": [224, 224], "threads": 2, "ms": {"conv1": 9.81, ...}}
 * (cam.c does the same for the backward pass.) Off, it costs one branch per operator. */
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
double gc_prof_now(void) { return emscripten_get_now(); }
int gc_prof_wanted(void) {
  return EM_ASM_INT({
    if (typeof Module === 'object' && Module['gcProfile']) return 1;
    return typeof process === 'object' && process.env && process.env['GC_PROFILE'] && process.env['GC_PROFILE'] !== '0' ? 1 : 0;
  });
}
#else
#include <time.h>
double gc_prof_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
int gc_prof_wanted(void) { const char *e = getenv("GC_PROFILE"); return e && *e && strcmp(e, "0"); }
#endif

void gc_prof_begin(gc_prof *p, const char *pass, const gc_net *net) {
  p->on = net->profile;
  if (!p->on) return;
  p->n = 0; p->pass = pass; p->h = net->in_h; p->w = net->in_w;
  p->threads = net->pool ? (int)pthreadpool_get_threads_count(net->pool) : 1;
  p->t0 = p->t = gc_prof_now();
}

void gc_prof_mark(gc_prof *p, const char *fmt, int a, int b) {
  if (!p->on || p->n == GC_PROF_MAX) return;
  double t = gc_prof_now();
  snprintf(p->name[p->n], sizeof p->name[0], fmt, a, b);
  p->ms[p->n++] = t - p->t;
  p->t = t;
}

void gc_prof_end(gc_prof *p) {
  if (!p->on) return;
  fprintf(stderr, "{\"gc_profile\": \"%s\", \"size\": [%d, %d], \"threads\": %d, \"ms\": {", p->pass, p->w, p->h,
          p->threads);
  for (int i = 0; i < p->n; i++) fprintf(stderr, "%s\"%s\": %.3f", i ? ", " : "", p->name[i], p->ms[i]);
  fprintf(stderr, "}, \"total\": %.3f}\n", gc_prof_now() - p->t0);
}

static int conv_out(int n, int k, int s, int p) { return (n + 2 * p - k) / s + 1; }

void gc_pool_run(void *pool, gc_task_fn fn, void *ctx, size_t n) {
  pthreadpool_parallelize_1d_with_thread(pool, fn, ctx, n, 0);
}


/* ---- operator creation (once per model) ---------------------------------------------------------- */

static int make_conv(const gc_conv *c, float lo, xnn_operator_t *op) {
  return xnn_create_convolution2d_nhwc_f32(c->pad, c->pad, c->pad, c->pad, c->kh, c->kw, c->stride,
                                           c->stride, 1, 1, 1, c->ic, c->oc, c->ic, c->oc, c->w, c->b,
                                           lo, INFINITY, 0, NULL, NULL, op) == xnn_status_success ? 0 : -1;
}

static int make_clamp(xnn_operator_t *op) {
  union xnn_unary_params p = {.clamp = {.min = 0.0f, .max = INFINITY}};
  return xnn_create_unary_elementwise_nc(xnn_unary_clamp, xnn_datatype_fp32, xnn_datatype_fp32, &p, NULL,
                                         NULL, 0, op) == xnn_status_success ? 0 : -1;
}

/* Transform c's weights for Winograd, then free the folded copy: the forward and the backward both
 * read the transformed one, and holding both would take 25/9 of the weights instead of 16/9. Every
 * 3x3 stride-1 conv of ResNet-18 qualifies (15 of the 20: 1.5 of 1.8 GMAC at 224x224). */
static int make_wino(gc_wino *k, gc_conv *c) {
  if (!gc_wino_supported(c) || gc_wino_init(k, c, NULL)) return -1;
  free(c->w);
  c->w = NULL;
  return 0;
}

/* The weight-bearing operators are independent: one task each (the stem, then per block conv1, conv2,
 * downsample), so a pool makes the 15 Winograd transforms and the 7 XNNPACK convolutions (weight packing)
 * side by side. A task runs on one thread: a pool loop nested in a pool task would not run in parallel. */
typedef struct make_job { gc_net *net; gc_model *m; int rc[1 + 8 * 3]; } make_job;

static void make_task(void *ctx, size_t thread, size_t i) {
  make_job *j = ctx;
  gc_net *net = j->net;
  gc_model *m = j->m;
  (void)thread;
  if (i == 0) { j->rc[0] = make_conv(&m->conv1, -INFINITY, &net->op_stem); return; }
  const int b = (int)(i - 1) / 3, which = (int)(i - 1) % 3;
  gc_block *k = &m->blocks[b];
  if (which == 0)
    j->rc[i] = k->conv1.stride == 1 ? make_wino(&net->wino[b][0], &k->conv1) : make_conv(&k->conv1, 0.0f, &net->op_conv1[b]);
  else if (which == 1)
    j->rc[i] = make_wino(&net->wino[b][1], &k->conv2);
  else
    j->rc[i] = k->down.oc ? make_conv(&k->down, -INFINITY, &net->op_down[b]) : 0;
}

int gc_net_create(gc_net *net, gc_model *m, struct pthreadpool *pool, char *err, size_t errlen) {
  memset(net, 0, sizeof *net);
  net->model = m;
  net->pool = pool;
  net->profile = gc_prof_wanted();
  net->par = (gc_parallel){gc_pool_run, pool, pool ? (int)pthreadpool_get_threads_count(pool) : 1};
  if (xnn_initialize(NULL) != xnn_status_success) return ERR("XNNPACK initialisation failed (no wasm SIMD?)");
  int bad = make_clamp(&net->op_relu);
  bad = bad || xnn_create_max_pooling2d_nhwc_f32(1, 1, 1, 1, 3, 3, 2, 2, 1, 1, -INFINITY, INFINITY, 0,
                                                 &net->op_pool) != xnn_status_success;
  if (!bad) {
    make_job j = {.net = net, .m = m};
    gc_parallel_for(&net->par, make_task, &j, sizeof j.rc / sizeof *j.rc);
    for (size_t i = 0; i < sizeof j.rc / sizeof *j.rc; i++) bad |= j.rc[i];
  }
  bad = bad || xnn_create_fully_connected_nc_f32(GC_FEAT, m->num_classes, GC_FEAT, m->num_classes, m->fc_w, m->fc_b,
                                                 -INFINITY, INFINITY, 0, NULL, NULL, &net->op_fc) != xnn_status_success;
  net->logits = malloc(sizeof(float) * m->num_classes);
  if (bad || !net->logits) { gc_net_destroy(net); return ERR("could not create the XNNPACK operators (out of memory?)"); }
  return 0;
}

void gc_net_destroy(gc_net *net) {
  xnn_operator_t *ops[] = {&net->op_stem, &net->op_relu, &net->op_pool, &net->op_gap, &net->op_fc};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) if (*ops[i]) xnn_delete_operator(*ops[i]);
  for (int b = 0; b < 8; b++) {
    if (net->op_conv1[b]) xnn_delete_operator(net->op_conv1[b]);
    if (net->op_down[b]) xnn_delete_operator(net->op_down[b]);
    gc_wino_free(&net->wino[b][0]); gc_wino_free(&net->wino[b][1]);
  }
  free(net->wscratch); free(net->arena); free(net->workspace); free(net->logits);
  memset(net, 0, sizeof *net);
}

/* ---- reshape (once per input size) --------------------------------------------------------------- */

static size_t numel(const gc_tensor *t) { return (size_t)t->h * t->w * t->c; }

/* Carve tensors out of one arena: first pass (base == NULL) only counts floats. */
static float *carve(float *base, size_t *off, gc_tensor *t) {
  float *p = base ? base + *off : NULL;
  *off += (numel(t) + 15) & ~(size_t)15; /* 64-byte steps keep every tensor SIMD-aligned */
  return p;
}

static void layout(gc_net *net, float *base, size_t *total) {
  size_t off = 0, big = 0;
  net->x.data = carve(base, &off, &net->x);
  net->stem.data = carve(base, &off, &net->stem);
  net->stem_relu.data = carve(base, &off, &net->stem_relu);
  net->maxpool.data = carve(base, &off, &net->maxpool);
  for (int b = 0; b < 8; b++) {
    net->blk[b].h1.data = carve(base, &off, &net->blk[b].h1);
    net->blk[b].out.data = carve(base, &off, &net->blk[b].out);
    net->blk[b].in = b ? net->blk[b - 1].out : net->maxpool;
    if (numel(&net->blk[b].out) > big) big = numel(&net->blk[b].out);
  }
  gc_tensor scratch = {1, 1, (int)big, NULL};
  net->d = carve(base, &off, &scratch);
  *total = off;
}

#define XOK(call) ((call) == xnn_status_success)

static int reshape_conv(gc_net *net, xnn_operator_t op, const gc_tensor *in, size_t *ws) {
  size_t w = 0, align = 0, oh, ow;
  if (!op) return 0; /* Winograd's */
  if (!XOK(xnn_reshape_convolution2d_nhwc_f32(op, 1, in->h, in->w, &w, &align, &oh, &ow, net->pool))) return -1;
  if (w > *ws) *ws = w;
  return 0;
}

int gc_net_reshape(gc_net *net, int h, int w, char *err, size_t errlen) {
  if (h == net->in_h && w == net->in_w) return 0;
  if (h < 32 || w < 32 || h > 4096 || w > 4096) return ERR("input size %dx%d out of range (32..4096 per side)", w, h);
  const gc_model *m = net->model;
  net->in_h = net->in_w = 0; /* until this succeeds */
  net->x = (gc_tensor){h, w, 3, NULL};
  int sh = conv_out(h, 7, 2, 3), sw = conv_out(w, 7, 2, 3);
  net->stem = net->stem_relu = (gc_tensor){sh, sw, 64, NULL};
  int ph = conv_out(sh, 3, 2, 1), pw = conv_out(sw, 3, 2, 1);
  net->maxpool = (gc_tensor){ph, pw, 64, NULL};
  for (int b = 0; b < 8; b++) {
    const gc_conv *c = &m->blocks[b].conv1;
    ph = conv_out(ph, 3, c->stride, 1); pw = conv_out(pw, 3, c->stride, 1);
    net->blk[b].h1 = net->blk[b].out = (gc_tensor){ph, pw, c->oc, NULL};
  }
  size_t total;
  layout(net, NULL, &total);
  free(net->arena);
  net->arena = aligned_alloc(64, total * sizeof(float));
  if (!net->arena) return ERR("out of memory for %dx%d activations (%zu MB)", w, h, total * 4 >> 20);
  layout(net, net->arena, &total);

  size_t ws = 0, wn = 0;
  int bad = reshape_conv(net, net->op_stem, &net->x, &ws) ||
            !XOK(xnn_reshape_unary_elementwise_nc(net->op_relu, numel(&net->stem) / 64, 64, 64, 64, net->pool)) ||
            !XOK(xnn_reshape_max_pooling2d_nhwc_f32(net->op_pool, 1, sh, sw, 64, 64, 64, &(size_t){0}, &(size_t){0}, net->pool));
  for (int b = 0; b < 8 && !bad; b++) {
    gc_block_acts *a = &net->blk[b];
    bad = reshape_conv(net, net->op_conv1[b], &a->in, &ws) || reshape_conv(net, net->op_down[b], &a->in, &ws);
    for (int j = 0; j < 2; j++)
      if (net->wino[b][j].u) {
        const size_t n = gc_wino_scratch(&net->wino[b][j], a->out.h, a->out.w, net->par.threads);
        if (n > wn) wn = n;
      }
  }
  free(net->wscratch);
  net->wscratch = wn ? aligned_alloc(64, ((wn * sizeof(float)) + 63) & ~(size_t)63) : NULL;
  if (wn && !net->wscratch) return ERR("out of memory for the Winograd scratch");
  /* Global average pool = an average pool whose window is the whole layer4 map, so the operator is
   * re-created per shape (it holds no weights). XNNPACK's mean reduce is not used: in this version its
   * discontiguous (NHWC, over H and W) path calls a null microkernel on wasm. */
  const gc_tensor *l4 = &net->blk[7].out;
  size_t gws = 0, galign = 0;
  if (net->op_gap) xnn_delete_operator(net->op_gap);
  net->op_gap = NULL;
  bad = bad || !XOK(xnn_create_average_pooling2d_nhwc_f32(0, 0, 0, 0, l4->h, l4->w, 1, 1, -INFINITY, INFINITY, 0, &net->op_gap)) ||
        !XOK(xnn_reshape_average_pooling2d_nhwc_f32(net->op_gap, 1, l4->h, l4->w, l4->c, l4->c, l4->c, &gws, &galign,
                                                   &(size_t){0}, &(size_t){0}, net->pool)) ||
        !XOK(xnn_reshape_fully_connected_nc_f32(net->op_fc, 1, net->pool));
  if (gws > ws) ws = gws;
  if (bad) return ERR("XNNPACK could not reshape the network for %dx%d", w, h);
  if (ws > net->workspace_size) {
    free(net->workspace);
    net->workspace = aligned_alloc(64, (ws + 63) & ~(size_t)63);
    net->workspace_size = net->workspace ? ws : 0;
    if (!net->workspace) return ERR("out of memory for the XNNPACK workspace");
  }

  /* Every pointer is fixed for this shape, so setup happens here once, not per forward. */
  void *wsp = net->workspace;
  bad = !XOK(xnn_setup_convolution2d_nhwc_f32(net->op_stem, wsp, net->x.data, net->stem.data)) ||
        !XOK(xnn_setup_unary_elementwise_nc(net->op_relu, net->stem.data, net->stem_relu.data)) ||
        !XOK(xnn_setup_max_pooling2d_nhwc_f32(net->op_pool, net->stem_relu.data, net->maxpool.data));
  for (int b = 0; b < 8 && !bad; b++) {
    gc_block_acts *a = &net->blk[b];
    bad = (net->op_conv1[b] && !XOK(xnn_setup_convolution2d_nhwc_f32(net->op_conv1[b], wsp, a->in.data, a->h1.data))) ||
          (net->op_down[b] && !XOK(xnn_setup_convolution2d_nhwc_f32(net->op_down[b], wsp, a->in.data, net->d)));
  }
  bad = bad || !XOK(xnn_setup_average_pooling2d_nhwc_f32(net->op_gap, wsp, l4->data, net->feat)) ||
        !XOK(xnn_setup_fully_connected_nc_f32(net->op_fc, net->feat, net->logits));
  if (bad) return ERR("XNNPACK could not set up the network for %dx%d", w, h);
  net->in_h = h; net->in_w = w;
  return 0;
}

/* ---- run ----------------------------------------------------------------------------------------- */

/* Run one operator; with the profile on, record its time under a torchvision-like name. */
static int run(gc_net *net, gc_prof *p, struct xnn_operator *op, const char *fmt, int b) {
  int ok = XOK(xnn_run_operator(op, net->pool));
  gc_prof_mark(p, fmt, b / 2 + 1, b % 2); /* block b is torchvision's layer{b/2+1}.{b%2} */
  return ok;
}

int gc_net_forward_from(gc_net *net, int first_block, char *err, size_t errlen) {
  if (!net->in_h) return ERR("network not shaped for an input (gc_net_reshape first)");
  if (first_block < GC_FROM_RELU || first_block > 8) return ERR("forward from stage %d: no such stage", first_block);
  gc_prof p;
  gc_prof_begin(&p, "forward", net);
  int bad = (first_block == GC_FROM_INPUT && !run(net, &p, net->op_stem, "conv1", 0)) ||
            (first_block >= GC_FROM_STEM && first_block < 0 && !run(net, &p, net->op_relu, "relu", 0)) ||
            (first_block < 0 && !run(net, &p, net->op_pool, "maxpool", 0));
  for (int b = first_block < 0 ? 0 : first_block; b < 8 && !bad; b++) {
    gc_block_acts *a = &net->blk[b];
    if (net->op_conv1[b]) {
      bad = !run(net, &p, net->op_conv1[b], "layer%d.%d.conv1", b);
    } else {
      gc_wino_forward(&net->wino[b][0], a->in.data, a->in.h, a->in.w, NULL, 1, a->h1.data, net->wscratch, &net->par);
      gc_prof_mark(&p, "layer%d.%d.conv1", b / 2 + 1, b % 2);
    }
    bad = bad || (net->op_down[b] && !run(net, &p, net->op_down[b], "layer%d.%d.downsample", b));
    if (bad) break;
    /* out = relu(conv2(h1) + shortcut) in one pass */
    gc_wino_forward(&net->wino[b][1], a->h1.data, a->h1.h, a->h1.w, net->op_down[b] ? net->d : a->in.data, 1,
                    a->out.data, net->wscratch, &net->par);
    gc_prof_mark(&p, "layer%d.%d.conv2+add+relu", b / 2 + 1, b % 2);
  }
  bad = bad || !run(net, &p, net->op_gap, "avgpool", 0) || !run(net, &p, net->op_fc, "fc", 0);
  gc_prof_end(&p);
  return bad ? ERR("XNNPACK failed while running the forward pass") : 0;
}

int gc_net_forward(gc_net *net, char *err, size_t errlen) { return gc_net_forward_from(net, -1, err, errlen); }
