/* forward.c: ResNet forward through XNNPACK operators (see forward.h).
 *
 *   x [H][W][3] → conv1+bn (7×7/2) → stem [H1][W1][64] → relu → maxpool 3×3/2 → [H2][W2][64]
 *     → layer1 (64 or 256) → layer2 (/2) → layer3 (/2) → layer4 (/2)
 *     → mean over H,W → feat [512 or 2048] → fc → logits [N]
 *
 * BasicBlock: h1 = relu(conv1(in)); out = relu(conv2(h1) + (down ? down(in) : in)).
 * Bottleneck: h1 = relu(conv1(in)) (1x1); h2 = relu(conv2(h1)) (3x3, the stride);
 *             out = relu(conv3(h2) + (down ? down(in) : in)) (1x1).
 * Every 3x3 stride-1 conv runs as Winograd (winograd.h); a BasicBlock's conv2 with the residual add and
 * ReLU in its output transform. A stride-2 3x3 or downsample with 2 MB of weights or more runs as our
 * im2col GEMM (dconv.h; use_dconv says why). The other stride-2 3x3s, the 1x1 convs (downsamples, a
 * Bottleneck's conv1 and conv3: plain GEMMs, XNNPACK's strength), the stem, the pools and fc are XNNPACK
 * operators. The stem conv keeps its pre-ReLU output because Grad-CAM's `conv1` target needs it (a
 * torchvision hook on model.conv1 sees the value before bn1 and relu).
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


static void pool_run(void *pool, gc_task_fn fn, void *ctx, size_t n) {
  pthreadpool_parallelize_1d_with_thread(pool, fn, ctx, n, 0);
}

gc_parallel gc_pool_parallel(struct pthreadpool *pool) {
  return (gc_parallel){pool_run, pool, pool ? (int)pthreadpool_get_threads_count(pool) : 1};
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
 * read the transformed one, and holding both would take 25/9 of the weights instead of 16/9. */
static int make_wino(gc_wino *k, gc_conv *c) {
  if (gc_wino_init(k, c)) return -1;
  free(c->w);
  c->w = NULL;
  return 0;
}

/* The conv of a block's slot; NULL where the block has none (BasicBlock: conv3; no downsample). */
static gc_conv *slot_conv(gc_block *k, int slot) {
  gc_conv *c = slot == GC_SLOT_CONV1 ? &k->conv1 : slot == GC_SLOT_CONV2 ? &k->conv2 : slot == GC_SLOT_CONV3 ? &k->conv3 : &k->down;
  return c->oc ? c : NULL;
}

/* Our im2col GEMM (dconv.h) where XNNPACK would stream the weights from memory once per few output rows:
 * weights of 2 MB or more (ResNet-18's layer4.0.conv1, 4.7 MB: 3.39 -> 2.60 ms at 1 thread, 1.97 -> 1.44 at
 * 2). Not the smaller ones: no faster (layer3.0.conv1, 1.2 MB, and layer2.0's: the same time; the 1x1
 * downsamples), and a changed rounding is a risk taken only for a gain: on the seeded test net it
 * flipped a ReLU of layer3.0.conv1's near 0 (the relaxed engine; layer2's gradient 6e-3 off PyTorch's).
 * Nor the stem (7x7 over 3 channels: its im2col costs more than it saves, 5.3 -> 7.3 ms), nor a
 * stride-1 1x1 (a plain GEMM, XNNPACK's strength). bench/profile.js, 2026-12-02. */
static int use_dconv(const gc_conv *c) {
  return gc_dconv_supported(c) && (c->kh > 1 || c->stride > 1) && (size_t)c->oc * c->kh * c->kw * c->ic >= (1u << 19);
}

/* The weight-bearing operators are independent: one task each (the stem, then per block its four slots),
 * so a pool makes the Winograd transforms and the XNNPACK convolutions (weight packing) side by side. A
 * task runs on one thread: a pool loop nested in a pool task would not run in parallel. */
typedef struct make_job { gc_net *net; gc_model *m; int rc[1 + GC_MAX_BLOCKS * GC_SLOTS]; } make_job;

static void make_task(void *ctx, size_t thread, size_t i) {
  make_job *j = ctx;
  gc_net *net = j->net;
  gc_model *m = j->m;
  (void)thread;
  if (i == 0) { j->rc[0] = make_conv(&m->conv1, -INFINITY, &net->op_stem); return; }
  const int b = (int)(i - 1) / GC_SLOTS, slot = (int)(i - 1) % GC_SLOTS;
  gc_conv *c = slot_conv(&m->blocks[b], slot);
  if (!c) { j->rc[i] = 0; return; }
  /* ReLU fused into XNNPACK's conv where nothing is added before it: conv1, and a Bottleneck's conv2 */
  const int relu = slot == GC_SLOT_CONV1 || (slot == GC_SLOT_CONV2 && m->bottleneck);
  if (slot <= GC_SLOT_CONV2 && gc_wino_supported(c))
    j->rc[i] = make_wino(&net->wino[b][slot], c);
  else if (use_dconv(c))
    j->rc[i] = gc_dconv_init(&net->dc[b][slot], c, relu);
  else
    j->rc[i] = make_conv(c, relu ? 0.0f : -INFINITY, &net->op[b][slot]);
}

int gc_net_create(gc_net *net, gc_model *m, struct pthreadpool *pool, char *err, size_t errlen) {
  memset(net, 0, sizeof *net);
  net->model = m;
  net->pool = pool;
  net->profile = gc_prof_wanted();
  net->par = gc_pool_parallel(pool);
  if (xnn_initialize(NULL) != xnn_status_success) return ERR("XNNPACK initialisation failed (no wasm SIMD?)");
  int bad = make_clamp(&net->op_relu);
  bad = bad || xnn_create_max_pooling2d_nhwc_f32(1, 1, 1, 1, 3, 3, 2, 2, 1, 1, -INFINITY, INFINITY, 0,
                                                 &net->op_pool) != xnn_status_success;
  if (!bad) {
    make_job *j = calloc(1, sizeof *j);
    if (!j) bad = 1;
    else {
      *j = (make_job){.net = net, .m = m};
      const size_t n = 1 + (size_t)m->n_blocks * GC_SLOTS;
      gc_parallel_for(&net->par, make_task, j, n);
      for (size_t i = 0; i < n; i++) bad |= j->rc[i];
      free(j);
    }
  }
  bad = bad || xnn_create_fully_connected_nc_f32(m->feat, m->num_classes, m->feat, m->num_classes, m->fc_w, m->fc_b,
                                                 -INFINITY, INFINITY, 0, NULL, NULL, &net->op_fc) != xnn_status_success;
  net->logits = malloc(sizeof(float) * m->num_classes);
  if (bad || !net->logits) { gc_net_destroy(net); return ERR("could not create the XNNPACK operators (out of memory?)"); }
  return 0;
}

void gc_net_destroy(gc_net *net) {
  xnn_operator_t *ops[] = {&net->op_stem, &net->op_relu, &net->op_pool, &net->op_gap, &net->op_fc};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) if (*ops[i]) xnn_delete_operator(*ops[i]);
  for (int b = 0; b < GC_MAX_BLOCKS; b++) {
    for (int j = 0; j < GC_SLOTS; j++) if (net->op[b][j]) xnn_delete_operator(net->op[b][j]);
    gc_wino_free(&net->wino[b][0]); gc_wino_free(&net->wino[b][1]);
    for (int j = 0; j < GC_SLOTS; j++) gc_dconv_free(&net->dc[b][j]);
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
  for (int b = 0; b < net->model->n_blocks; b++) {
    net->blk[b].h1.data = carve(base, &off, &net->blk[b].h1);
    net->blk[b].h2.data = net->model->bottleneck ? carve(base, &off, &net->blk[b].h2) : NULL;
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
  int sh = gc_conv_out(h, 7, 2, 3), sw = gc_conv_out(w, 7, 2, 3);
  net->stem = net->stem_relu = (gc_tensor){sh, sw, 64, NULL};
  int ph = gc_conv_out(sh, 3, 2, 1), pw = gc_conv_out(sw, 3, 2, 1);
  net->maxpool = (gc_tensor){ph, pw, 64, NULL};
  for (int b = 0; b < m->n_blocks; b++) {
    const gc_block *k = &m->blocks[b];
    const gc_conv *c[3] = {&k->conv1, &k->conv2, &k->conv3};
    gc_tensor t[3] = {{0}};
    for (int j = 0; j < 2 + m->bottleneck; j++) {
      ph = gc_conv_out(ph, c[j]->kh, c[j]->stride, c[j]->pad); pw = gc_conv_out(pw, c[j]->kw, c[j]->stride, c[j]->pad);
      t[j] = (gc_tensor){ph, pw, c[j]->oc, NULL};
    }
    net->blk[b].h1 = t[0];
    net->blk[b].h2 = m->bottleneck ? t[1] : (gc_tensor){0};
    net->blk[b].out = t[1 + m->bottleneck];
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
  for (int b = 0; b < m->n_blocks && !bad; b++) {
    gc_block_acts *a = &net->blk[b];
    const gc_tensor *ins[GC_SLOTS] = {&a->in, &a->h1, &a->h2, &a->in}; /* each slot's input */
    for (int j = 0; j < GC_SLOTS; j++) bad = bad || reshape_conv(net, net->op[b][j], ins[j], &ws);
    for (int j = 0; j < 2; j++)
      if (net->wino[b][j].u) {
        const gc_tensor *o = j == 0 ? &a->h1 : m->bottleneck ? &a->h2 : &a->out;
        const size_t n = gc_wino_scratch(&net->wino[b][j], o->h, o->w, net->par.threads);
        if (n > wn) wn = n;
      }
    for (int j = 0; j < GC_SLOTS; j++)
      if (net->dc[b][j].p) {
        const size_t n = gc_dconv_scratch(&net->dc[b][j], ins[j]->h, ins[j]->w, net->par.threads);
        if (n > wn) wn = n;
      }
  }
  free(net->wscratch);
  net->wscratch = wn ? aligned_alloc(64, ((wn * sizeof(float)) + 63) & ~(size_t)63) : NULL;
  if (wn && !net->wscratch) return ERR("out of memory for the convolutions' scratch");
  /* Global average pool = an average pool whose window is the whole layer4 map, so the operator is
   * re-created per shape (it holds no weights). XNNPACK's mean reduce is not used: in this version its
   * discontiguous (NHWC, over H and W) path calls a null microkernel on wasm. */
  const gc_tensor *l4 = &net->blk[m->n_blocks - 1].out;
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
  for (int b = 0; b < m->n_blocks && !bad; b++) {
    gc_block_acts *a = &net->blk[b];
    const float *ins[GC_SLOTS] = {a->in.data, a->h1.data, a->h2.data, a->in.data};
    float *outs[GC_SLOTS] = {a->h1.data, m->bottleneck ? a->h2.data : a->out.data, a->out.data, net->d};
    for (int j = 0; j < GC_SLOTS; j++)
      bad = bad || (net->op[b][j] && !XOK(xnn_setup_convolution2d_nhwc_f32(net->op[b][j], wsp, ins[j], outs[j])));
  }
  bad = bad || !XOK(xnn_setup_average_pooling2d_nhwc_f32(net->op_gap, wsp, l4->data, net->feat)) ||
        !XOK(xnn_setup_fully_connected_nc_f32(net->op_fc, net->feat, net->logits));
  if (bad) return ERR("XNNPACK could not set up the network for %dx%d", w, h);
  net->in_h = h; net->in_w = w;
  return 0;
}

/* ---- run ----------------------------------------------------------------------------------------- */

/* Run one operator; with the profile on, record its time under a torchvision-like name. */
static int run(gc_net *net, gc_prof *p, struct xnn_operator *op, const char *fmt, const gc_block *k) {
  int ok = XOK(xnn_run_operator(op, net->pool));
  gc_prof_mark(p, fmt, k ? k->stage : 0, k ? k->index : 0);
  return ok;
}

/* out = relu(out + add): the end of a block whose last conv ran through XNNPACK (a Bottleneck's conv3). A
 * pass over memory (5.5 M floats per resnet50 forward at 224x224), split over the pool in chunks of 64 K
 * floats (clang vectorises the loop); each element is computed alike whatever the split: bit-identical. */
typedef struct add_relu_job { float *out; const float *add; size_t n; } add_relu_job;
#define ADD_RELU_CHUNK 65536

static void add_relu_task(void *ctx, size_t thread, size_t c) {
  const add_relu_job *j = ctx;
  (void)thread;
  float *restrict out = j->out;
  const float *restrict add = j->add;
  const size_t i1 = (c + 1) * ADD_RELU_CHUNK < j->n ? (c + 1) * ADD_RELU_CHUNK : j->n;
  for (size_t i = c * ADD_RELU_CHUNK; i < i1; i++) {
    const float v = out[i] + add[i];
    out[i] = v > 0.0f ? v : 0.0f;
  }
}

static void add_relu(gc_net *net, float *out, const float *add, size_t n) {
  add_relu_job j = {out, add, n};
  gc_parallel_for(&net->par, add_relu_task, &j, (n + ADD_RELU_CHUNK - 1) / ADD_RELU_CHUNK);
}

/* Slot j of block b: XNNPACK's operator (its input and output set at reshape), our im2col GEMM, or the
 * Winograd kernel (add, relu: fused into its output; the others leave them to the caller). */
static int conv_slot(gc_net *net, gc_prof *p, int b, int j, const gc_tensor *in, const float *add, float *out,
                     const char *fmt) {
  const gc_block *k = &net->model->blocks[b];
  if (net->op[b][j]) return run(net, p, net->op[b][j], fmt, k);
  if (net->dc[b][j].p) gc_dconv_forward(&net->dc[b][j], in->data, in->h, in->w, out, net->wscratch, &net->par);
  else gc_wino_forward(&net->wino[b][j], in->data, in->h, in->w, add, 1, out, net->wscratch, &net->par);
  gc_prof_mark(p, fmt, k->stage, k->index);
  return 1;
}
static int has_slot(const gc_net *net, int b, int j) { return net->op[b][j] || net->dc[b][j].p || (j < 2 && net->wino[b][j].u); }

int gc_net_forward_from(gc_net *net, int first_block, char *err, size_t errlen) {
  const gc_model *m = net->model;
  if (!net->in_h) return ERR("network not shaped for an input (gc_net_reshape first)");
  if (first_block < GC_FROM_RELU || first_block > m->n_blocks) return ERR("forward from stage %d: no such stage", first_block);
  gc_prof p;
  gc_prof_begin(&p, "forward", net);
  int bad = (first_block == GC_FROM_INPUT && !run(net, &p, net->op_stem, "conv1", NULL)) ||
            (first_block >= GC_FROM_STEM && first_block < 0 && !run(net, &p, net->op_relu, "relu", NULL)) ||
            (first_block < 0 && !run(net, &p, net->op_pool, "maxpool", NULL));
  for (int b = first_block < 0 ? 0 : first_block; b < m->n_blocks && !bad; b++) {
    gc_block_acts *a = &net->blk[b];
    const int down = has_slot(net, b, GC_SLOT_DOWN);
    const float *shortcut = down ? net->d : a->in.data;
    bad = !conv_slot(net, &p, b, GC_SLOT_CONV1, &a->in, NULL, a->h1.data, "layer%d.%d.conv1") ||
          (down && !conv_slot(net, &p, b, GC_SLOT_DOWN, &a->in, NULL, net->d, "layer%d.%d.downsample"));
    if (bad) break;
    if (m->bottleneck) {
      bad = !conv_slot(net, &p, b, GC_SLOT_CONV2, &a->h1, NULL, a->h2.data, "layer%d.%d.conv2") ||
            !conv_slot(net, &p, b, GC_SLOT_CONV3, &a->h2, NULL, a->out.data, "layer%d.%d.conv3");
      add_relu(net, a->out.data, shortcut, numel(&a->out));
      gc_prof_mark(&p, "layer%d.%d.add+relu", m->blocks[b].stage, m->blocks[b].index);
    } else if (!net->wino[b][GC_SLOT_CONV2].u) { /* channel counts Winograd cannot take */
      bad = !conv_slot(net, &p, b, GC_SLOT_CONV2, &a->h1, NULL, a->out.data, "layer%d.%d.conv2");
      add_relu(net, a->out.data, shortcut, numel(&a->out));
    } else { /* out = relu(conv2(h1) + shortcut) in one pass */
      conv_slot(net, &p, b, GC_SLOT_CONV2, &a->h1, shortcut, a->out.data, "layer%d.%d.conv2+add+relu");
    }
  }
  bad = bad || !run(net, &p, net->op_gap, "avgpool", NULL) || !run(net, &p, net->op_fc, "fc", NULL);
  gc_prof_end(&p);
  return bad ? ERR("XNNPACK failed while running the forward pass") : 0;
}

int gc_net_forward(gc_net *net, char *err, size_t errlen) { return gc_net_forward_from(net, -1, err, errlen); }
