"""pytorch-grad-cam's methods, guided backprop and metrics, reproduced on a torchvision ResNet with hooks.

This is the reference the method tests (and bench/) compare our C core against. It was written from the
library's sources (jacobgil/pytorch-grad-cam: base_cam.py, the per-method files, utils/image.py,
utils/svd_on_activations.py, metrics/*.py, guided_backprop.py), not copied from them, and it does the same
work the library does (Score-CAM: one forward per channel in batches of 16; Ablation-CAM: the whole model
rerun per channel in batches of 32 with the target layer replaced; FullGrad: hooks on every BatchNorm).

`reference_cam(model, x, method, layers, ...)` returns what `METHOD(model, target_layers)(x, targets,
aug_smooth=..., eigen_smooth=...)[0]` returns. Two deliberate deviations, because the library leaves them to
chance:
  * the sign of every SVD projection (EigenCAM, EigenGradCAM, SegEigenCAM, eigen_smooth, FullGrad's
    eigen_smooth) is fixed so that it agrees with the channel sum of the projected tensor (the method's
    plain map): a negative dot product flips it; LAPACK's sign is arbitrary;
  * SVDs and the kernel-PCA eigenproblem are solved in float64 (the library: float32 LAPACK).
Targets: the raw logit of the class (ClassifierOutputTarget) for the CAMs; the softmax probability
(ClassifierOutputSoftmaxTarget) for the metrics, which is what our CLI reports.
"""
import copy

import numpy as np
import torch

from conftest import scale_cam_image

METHODS = ["gradcam", "hirescam", "gradcam++", "xgradcam", "layercam", "gradcamelementwise", "eigencam",
           "eigengradcam", "segeigencam", "kpcacam", "fem", "scorecam", "ablationcam", "fullgrad",
           "shapleycam", "finercam"]
# get_cam_image of these never looks at eigen_smooth.
EIGEN_SMOOTH_IGNORED = {"eigencam", "eigengradcam", "kpcacam", "fem", "segeigencam"}
# uses_gradients=False in the library: a forward pass only (their own extra forwards aside).
NO_BACKWARD = {"scorecam", "ablationcam", "eigencam", "kpcacam", "fem"}
SCORECAM_BATCH = 16    # ScoreCAM's default batch size (cam.py overrides it to 32; results do not depend on it)
ABLATION_BATCH = 32    # AblationCAM's default batch_size


def module_of(model, name):
    return dict(model.named_modules())[name]


# ---- SVD projections ------------------------------------------------------------------------------------

def fix_sign(p):
    """svd_flip's rule (and our fallback): negate p if its largest-|p| entry (the first one, row-major, on
    ties) is negative."""
    flat = p.reshape(-1)
    return -p if flat[int(np.argmax(np.abs(flat)))] < 0 else p


def orient(p, plain):
    """Our sign rule for a principal-component projection p (the library leaves it to LAPACK): p is made to
    agree with the plain map of the same tensor, its channel sum (what the method draws without eigen
    smoothing): negated if their dot product is negative; if it is 0, fix_sign."""
    d = float(np.dot(p.reshape(-1).astype(np.float64), plain.reshape(-1).astype(np.float64)))
    return (-p if d < 0 else p) if d != 0 else fix_sign(p)


def projection(a):
    """get_2d_projection for one map a [C, h, w]: NaN → 0, rows = positions, columns centred, projection on
    the first right singular vector, oriented by our rule (orient). Thin SVD: VT[0] is the same as with
    full_matrices=True, and the full U (hw × hw) the library also computes would be 12544² entries at conv1."""
    c, h, w = a.shape
    raw = np.nan_to_num(a.astype(np.float64), nan=0.0).reshape(c, -1).T
    x = raw - raw.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return orient(x @ vt[0], raw.sum(axis=1)).reshape(h, w).astype(np.float32)


def kpca_projection(a):
    """get_2d_projection_kernel: KernelPCA(n_components=1, kernel='sigmoid', gamma=None).fit_transform on the
    column-centred [hw, C] matrix (NaN → 0). scikit-learn if installed, otherwise the same computation in
    numpy: K = tanh(X Xᵀ / C + 1), double-centred (KernelCenterer), top (largest algebraic) eigenpair,
    svd_flip's sign (largest-|v| entry positive), score = v·√max(λ, 0)."""
    c, h, w = a.shape
    x = np.nan_to_num(a.astype(np.float64), nan=0.0).reshape(c, -1).T
    x = x - x.mean(axis=0)
    try:
        from sklearn.decomposition import KernelPCA
    except ImportError:
        KernelPCA = None
    if KernelPCA is not None:
        p = KernelPCA(n_components=1, kernel="sigmoid", gamma=None).fit_transform(x)[:, 0]
    else:
        k = np.tanh(x @ x.T / c + 1.0)
        col = k.mean(axis=0)
        k = k - col[None, :] - k.mean(axis=1)[:, None] + col.mean()
        lam, vec = np.linalg.eigh(k)             # ascending: the last pair is the largest algebraic one
        v = fix_sign(vec[:, -1])                 # svd_flip (u_based_decision) is this same rule
        p = v * np.sqrt(max(lam[-1], 0.0))       # _check_psd_eigenvalues clips a negative λ to 0
    return p.reshape(h, w).astype(np.float32)


# ---- capturing activations and gradients -----------------------------------------------------------------

def class_of(model, x):
    with torch.no_grad():
        return int(model(x)[0].argmax())


def finer_classes(model, x):
    """FinerCAM with targets=None: classes sorted by |z - z_max| (np.argsort); main = rank 0, compared =
    ranks 1, 2, 3."""
    with torch.no_grad():
        z = model(x)[0].numpy()
    order = np.argsort(np.abs(z - z.max()))
    return int(order[0]), [int(i) for i in order[1:4]]


def finer_target(z, main, compared, alpha=1.0):
    """FinerWeightedTarget on the logits z [K]: Σ p_k (z_main − α z_k) / (Σ p_k + 1e-9), p = softmax(z).
    The p_k are not detached: the gradient also flows through the softmax weights."""
    p = torch.softmax(z, dim=-1)
    num = sum(p[k] * (z[main] - alpha * z[k]) for k in compared)
    return num / (sum(p[k] for k in compared) + 1e-9)


def capture(model, x, layers, method, cls):
    """One forward with a forward hook on each target layer (keeps the output) that puts a tensor hook on
    that output (keeps its gradient), as ActivationsAndGradients does; then the backward of the target if
    the method uses gradients. Returns (activations, gradients, hvps): lists of float32 [C, h, w]
    (gradients/hvps are None for forward-only methods). The outputs are kept without a copy, like the
    library's .detach(): a later in-place op on them (none for our layer choices) would show, as there."""
    acts, grads, hooks = {}, {}, []
    shapley = method == "shapleycam"

    def hook_for(i):
        def fwd(_m, _inp, out):
            acts[i] = out
            if out.requires_grad:
                out.register_hook(lambda g: grads.__setitem__(i, g))
        return fwd

    for i, name in enumerate(layers):
        hooks.append(module_of(model, name).register_forward_hook(hook_for(i)))
    try:
        if method in NO_BACKWARD:
            # the library runs this forward with autograd on (BaseCAM.forward has no no_grad; only the
            # methods' own extra passes do), so the graph is built here too: the same work, the same time
            model(x)
            return [acts[i][0].detach().numpy() for i in range(len(layers))], None, None
        xi = x.clone().requires_grad_(True)
        z = model(xi)
        if method == "finercam" and cls is None:
            order = np.argsort(np.abs(z[0].detach().numpy() - z[0].detach().numpy().max()))
            loss = finer_target(z[0], int(order[0]), [int(i) for i in order[1:4]])
        else:
            loss = z[0, cls]
        if shapley:
            # ShapleyCAM (detach=False): keep the graph of the gradient, then a Hessian-vector product
            # H·A = d(G)/dA · A per layer; for a ReLU net with a logit target it is 0 (or unused: None).
            torch.autograd.grad(loss, xi, retain_graph=True, create_graph=True)
            hvps = []
            for i in range(len(layers)):
                g = grads[i]
                h = None
                if g.requires_grad:
                    h = torch.autograd.grad(g, acts[i], grad_outputs=acts[i], retain_graph=True,
                                            allow_unused=True)[0]
                hvps.append(np.zeros_like(g[0].detach().numpy()) if h is None else h[0].detach().numpy())
        else:
            model.zero_grad(set_to_none=True)
            loss.backward()
            hvps = None
        a = [acts[i][0].detach().numpy() for i in range(len(layers))]
        g = [grads[i][0].detach().numpy() for i in range(len(layers))]
        return a, g, hvps
    finally:
        for h in hooks:
            h.remove()
        model.zero_grad(set_to_none=True)


# ---- per-method low-resolution maps ---------------------------------------------------------------------

def weighted_map(w, a, eigen_smooth):
    """BaseCAM.get_cam_image: Σ_k w_k A_k, or the projection of w ⊙ A with eigen_smooth."""
    wa = w[:, None, None] * a
    return projection(wa) if eigen_smooth else wa.sum(axis=0)


def elementwise_map(e, eigen_smooth):
    return projection(e) if eigen_smooth else e.sum(axis=0)


def score_cam_weights(model, x, a, cls, batch=SCORECAM_BATCH):
    """ScoreCAM: each channel upsampled to the input size (bilinear, align_corners=True, as
    UpsamplingBilinear2d), min-max scaled (eps 1e-8), multiplied into the normalised input; score = the
    class logit of that input; weights = softmax over channels. The library builds all C masked inputs at
    once; here each batch of 16 is built when needed (the same numbers, less memory)."""
    with torch.no_grad():
        up = torch.nn.functional.interpolate(torch.from_numpy(a)[None], size=x.shape[-2:], mode="bilinear",
                                             align_corners=True)[0]
        flat = up.reshape(up.shape[0], -1)
        mins, maxs = flat.min(dim=1)[0][:, None, None], flat.max(dim=1)[0][:, None, None]
        up = (up - mins) / (maxs - mins + 1e-8)
        scores = []
        for i in range(0, up.shape[0], batch):
            masked = x * up[i:i + batch, None]            # [b, 3, H, W]
            scores.extend(float(s) for s in model(masked)[:, cls])
        return torch.softmax(torch.tensor(scores, dtype=torch.float32), dim=-1).numpy()


class _AblationStandIn(torch.nn.Module):
    """Stands in for the target layer, like the library's AblationLayer: ignores its input and returns the
    cached activation repeated once per batch row, row i with channel indices[i] ablated. Ablated = 0 if the
    whole batch tensor's minimum is 0, else (its current minimum − 1e7), re-evaluated row by row as the
    library does (so on a layer with min ≠ 0 the values cascade: min − 1e7, min − 2e7, ...)."""

    def __init__(self, act):
        super().__init__()
        self.act, self.indices = act, []

    def forward(self, _x):
        out = self.act.repeat(len(self.indices), 1, 1, 1)
        for i, k in enumerate(self.indices):
            out[i, k] = 0 if torch.min(out) == 0 else torch.min(out) - 1e7
        return out


def ablation_cam_weights(model, x, layer, cls, batch=ABLATION_BATCH):
    """AblationCAM: w_k = (y − y_k) / y, y_k = the logit with channel k ablated. One more full forward keeps
    the layer's output; the layer is then replaced, and the whole model is rerun on batches of copies of x."""
    mod = module_of(model, layer)
    keep = {}
    h = mod.register_forward_hook(lambda _m, _i, out: keep.__setitem__("a", out))
    with torch.no_grad():
        y = np.float32(model(x)[0, cls])
    h.remove()
    act = keep["a"][0:1]
    parent_name, _, attr = layer.rpartition(".")
    parent = module_of(model, parent_name)
    standin = _AblationStandIn(act)
    parent._modules[attr] = standin
    try:
        scores = []
        with torch.no_grad():
            n = act.shape[1]
            for i in range(0, n, batch):
                standin.indices = list(range(i, min(i + batch, n)))
                xb = x.repeat(len(standin.indices), 1, 1, 1)
                scores.extend(float(s) for s in model(xb)[:, cls])
    finally:
        parent._modules[attr] = mod
    return (y - np.float32(scores)) / y


def layer_map(model, x, method, layer, a, g, hvp, cls, eigen_smooth):
    """The [h, w] map for one target layer, before BaseCAM's ReLU and scaling."""
    if method in ("gradcam", "finercam"):
        return weighted_map(g.mean(axis=(1, 2)), a, eigen_smooth)
    if method == "shapleycam":
        return weighted_map((g - 0.5 * hvp).mean(axis=(1, 2)), a, eigen_smooth)
    if method == "gradcam++":
        g2 = g ** 2
        alpha = g2 / (2 * g2 + a.sum(axis=(1, 2))[:, None, None] * g2 * g + 1e-6)
        alpha = np.where(g != 0, alpha, 0)
        return weighted_map((np.maximum(g, 0) * alpha).sum(axis=(1, 2)), a, eigen_smooth)
    if method == "xgradcam":
        w = (g * a / (a.sum(axis=(1, 2))[:, None, None] + 1e-7)).sum(axis=(1, 2))
        return weighted_map(w, a, eigen_smooth)
    if method == "hirescam":
        return elementwise_map(g * a, eigen_smooth)
    if method == "layercam":
        return elementwise_map(np.maximum(g, 0) * a, eigen_smooth)
    if method == "gradcamelementwise":
        return elementwise_map(np.maximum(g * a, 0), eigen_smooth)
    if method == "eigencam":
        return projection(a)
    if method == "eigengradcam":
        return projection(g * a)
    if method == "segeigencam":
        p = projection(np.abs(g) * a)            # our sign rule first, then the method's own rule
        return -p if abs(p.min()) > abs(p.max()) else p
    if method == "kpcacam":
        return kpca_projection(a)
    if method == "fem":
        th = a.mean(axis=(1, 2)) + 2 * a.std(axis=(1, 2))     # k = 2, population std
        w = (a > th[:, None, None]).mean(axis=(1, 2))
        return (w[:, None, None] * a).sum(axis=0)
    if method == "scorecam":
        return weighted_map(score_cam_weights(model, x, a, cls), a, eigen_smooth)
    if method == "ablationcam":
        return weighted_map(ablation_cam_weights(model, x, layer, cls), a, eigen_smooth)
    raise ValueError(f"unknown method {method!r}")


def scale_channels(maps, size):
    """scale_accross_batch_and_channels for one image: scale_cam_image on each channel."""
    return np.stack([scale_cam_image(m, size) for m in maps])


def fullgrad_cam(model, x, cls, eigen_smooth):
    """FullGrad: target layers = every Conv2d/BatchNorm2d with a bias (torchvision ResNets: the BatchNorms),
    bias = β − μγ/√(σ²+eps); maps |x ⊙ dy/dx| (per input channel) and |b_k · dy/dZ_k| (Z = the BN output; its
    tensor hook sees the gradient before the following in-place ReLU), each channel scaled and resized,
    summed per layer; all maps summed (or, with eigen_smooth, projected at 1/8 size), then scaled. No ReLU."""
    bias_layers = [(n, m) for n, m in model.named_modules()
                   if type(m) in (torch.nn.Conv2d, torch.nn.BatchNorm2d) and m.bias is not None]
    grads, hooks = {}, []

    def hook_for(name):
        def fwd(_m, _i, out):
            out.register_hook(lambda g: grads.__setitem__(name, g))
        return fwd

    for n, m in bias_layers:
        hooks.append(m.register_forward_hook(hook_for(n)))
    xi = x.clone().requires_grad_(True)
    try:
        z = model(xi)
        if cls is None:
            cls = int(z[0].argmax())
        model.zero_grad(set_to_none=True)
        z[0, cls].backward()
    finally:
        for h in hooks:
            h.remove()
        model.zero_grad(set_to_none=True)
    size = (x.shape[3], x.shape[2])
    maps = list(scale_channels(np.abs(xi.grad[0].numpy() * x[0].numpy()), size))
    for n, m in bias_layers:
        with torch.no_grad():
            if isinstance(m, torch.nn.BatchNorm2d):
                b = m.bias - m.running_mean * m.weight / torch.sqrt(m.running_var + m.eps)
            else:
                b = m.bias
        bg = np.abs(b.numpy()[:, None, None] * grads[n][0].numpy())
        maps.append(scale_channels(bg, size).sum(axis=0))
    maps = np.stack(maps)
    if eigen_smooth:
        small = scale_channels(maps, (size[0] // 8, size[1] // 8))
        total = scale_cam_image(projection(small), size)
    else:
        total = maps.sum(axis=0)
    return scale_cam_image(total)


def single_cam(model, x, method, layers, cls, eigen_smooth):
    if method == "fullgrad":
        return fullgrad_cam(model, x, cls, eigen_smooth)
    if cls is None and method != "finercam":
        cls = class_of(model, x)
    acts, grads, hvps = capture(model, x, layers, method, cls)
    if cls is None:  # finercam's weighted target only matters for the gradient; its weights are GradCAM's
        cls = finer_classes(model, x)[0]
    smooth = eigen_smooth and method not in EIGEN_SMOOTH_IGNORED
    maps = [layer_map(model, x, method, layer, acts[i], None if grads is None else grads[i],
                      None if hvps is None else hvps[i], cls, smooth) for i, layer in enumerate(layers)]
    return finish(x, maps)


def finish(x, maps):
    """BaseCAM's common tail: per layer ReLU, scale_cam_image to the input size; then the mean over
    layers (after another ReLU), scaled again."""
    size = (x.shape[3], x.shape[2])
    per_layer = [scale_cam_image(np.maximum(m, 0), size) for m in maps]
    return scale_cam_image(np.mean(np.maximum(np.stack(per_layer), 0), axis=0))


def reference_cam(model, x, method, layer_names, target_class=None, eigen_smooth=False, aug_smooth=False):
    """The final [H, W] float32 CAM: METHOD(model, [layers])(x, targets, aug_smooth, eigen_smooth)[0].
    target_class None = the argmax class (FinerCAM: its weighted comparison target, see finer_classes);
    layer_names: one name or a list (FullGrad ignores it)."""
    layers = [layer_names] if isinstance(layer_names, str) else list(layer_names)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    if not aug_smooth:
        return single_cam(model, x, method, layers, target_class, eigen_smooth)
    # ttach: HorizontalFlip × Multiply([0.9, 1, 1.1]) on the normalised tensor, in itertools.product order;
    # each CAM de-augmented (flipped back) and the float32 mean taken, not renormalised. With no class
    # given, each pass takes its own argmax, as the library's forward does.
    cams = []
    for flip in (False, True):
        for factor in (0.9, 1, 1.1):
            xa = (torch.flip(x, dims=[3]) if flip else x) * factor
            cam = single_cam(model, xa, method, layers, target_class, eigen_smooth)
            cams.append(cam[:, ::-1] if flip else cam)
    return np.mean(np.float32(cams), axis=0)


# ---- guided backprop --------------------------------------------------------------------------------------

class _GuidedReLUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        # Guided rule: pass the gradient only where the input was positive and the gradient is positive.
        return g * (x > 0).to(g.dtype) * (g > 0).to(g.dtype)


class _GuidedReLU(torch.nn.Module):
    def forward(self, x):
        return _GuidedReLUFn.apply(x)


def _replace_relus(module):
    for name, child in module._modules.items():
        if isinstance(child, torch.nn.ReLU):
            module._modules[name] = _GuidedReLU()
        else:
            _replace_relus(child)


def guided_backprop(model, x, cls=None):
    """GuidedBackpropReLUModel(model)(x, target_category=cls): every nn.ReLU module (both uses of each
    BasicBlock's relu included) with the guided backward rule; d output[0, cls] / d x as [H, W, 3]. The
    library swaps the modules in place and back; a deep copy leaves the caller's model alone."""
    gm = copy.deepcopy(model).eval()
    _replace_relus(gm)
    xi = x.clone().requires_grad_(True)
    out = gm(xi)
    if cls is None:
        cls = int(out[0].argmax())
    out[0, cls].backward()
    return xi.grad[0].permute(1, 2, 0).numpy().astype(np.float32)


def deprocess_image(img):
    """utils/image.py deprocess_image: standardise, × 0.1 + 0.5, clip to [0, 1], uint8(· 255) (truncating)."""
    img = img - np.mean(img)
    img = img / (np.std(img) + 1e-5)
    img = np.clip(img * 0.1 + 0.5, 0, 1)
    return np.uint8(img * 255)


# ---- metrics ----------------------------------------------------------------------------------------------

def softmax_score(model, x, cls):
    """ClassifierOutputSoftmaxTarget(cls) on model(x), float32."""
    with torch.no_grad():
        return np.float32(torch.softmax(model(x), dim=-1)[0, cls])


def cam_mult_image_confidence_change(model, x, cam, cls):
    """CamMultImageConfidenceChange: score(x ⊙ cam) − score(x), the CAM broadcast over the RGB channels of
    the normalised input. DropInConfidence = max(−d, 0), IncreaseInConfidence = float(d > 0)."""
    after = softmax_score(model, x * torch.from_numpy(np.ascontiguousarray(cam, dtype=np.float32)), cls)
    return float(np.float32(after - softmax_score(model, x, cls)))


# NoisyLinearImputer's neighbour weights: 1/6 for the 4 edge neighbours, 1/12 for the 4 diagonal ones.
NEIGHBOURS = [((dy, dx), (1 / 12 if dy and dx else 1 / 6))
              for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def _shift(img, dy, dx):
    """out[..., i, j] = img[..., i + dy, j + dx], 0 outside the image."""
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] = \
        img[..., max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    return out


def impute(img, keep):
    """NoisyLinearImputer without its noise: img [C, H, W] float (the normalised input), keep [H, W] (1 =
    known, 0 = imputed). Each imputed pixel = the weighted mean of its in-image neighbours (known values or
    imputed unknowns), i.e. for unknown i: (Σ_valid w) x_i − Σ_unknown w x_j = Σ_known w v_j. One sparse
    solve with all channels as right-hand sides (scipy if available, as the library's spsolve; else
    Jacobi-preconditioned conjugate gradients in float64 to a relative residual of 1e-10: the matrix is a
    symmetric graph Laplacian with Dirichlet boundary, positive definite when any pixel is known)."""
    img = img.astype(np.float64)
    c, h, w = img.shape
    unknown = keep < 0.5
    n = int(unknown.sum())
    out = img.copy()
    if n == 0:
        return out.astype(np.float32)
    if n == h * w:
        # Nothing known (e.g. MoRF at a percentile where the CAM is still 0): the system is singular and
        # the library's spsolve returns garbage (±huge or NaN). Undefined: NaN here; tests avoid it.
        out[:] = np.nan
        return out.astype(np.float32)
    inside = np.ones((h, w))
    diag = sum(wt * _shift(inside, dy, dx) for (dy, dx), wt in NEIGHBOURS)   # Σ of in-image weights
    known_img = np.where(unknown, 0.0, img)
    rhs = sum(wt * _shift(known_img, dy, dx) for (dy, dx), wt in NEIGHBOURS)[:, unknown]    # [C, n]
    try:
        import scipy.sparse as sp
        from scipy.sparse.linalg import spsolve
    except ImportError:
        sp = None
    if sp is not None:
        idx = -np.ones((h, w), dtype=np.int64)
        idx[unknown] = np.arange(n)
        rows, cols, vals = [np.arange(n)], [np.arange(n)], [diag[unknown]]
        for (dy, dx), wt in NEIGHBOURS:
            nb = _shift(idx + 1, dy, dx)[unknown] - 1    # neighbour's unknown index, −1: none
            ok = nb >= 0
            rows.append(np.nonzero(ok)[0]), cols.append(nb[ok]), vals.append(np.full(ok.sum(), -wt))
        a = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        sol = spsolve(a, rhs.T).reshape(n, c).T
    else:
        def matvec(v):
            full = np.zeros((c, h, w))
            full[:, unknown] = v
            nbsum = sum(wt * _shift(full, dy, dx) for (dy, dx), wt in NEIGHBOURS)
            return diag[unknown] * v - nbsum[:, unknown]

        d = diag[unknown]
        sol = np.zeros((c, n))
        r = rhs - matvec(sol)
        zr = r / d
        p = zr.copy()
        rz = (r * zr).sum(axis=1)
        bnorm = np.linalg.norm(rhs, axis=1) + 1e-300
        for _ in range(20 * (h + w) + 1000):
            if np.all(np.linalg.norm(r, axis=1) <= 1e-10 * bnorm):
                break
            ap = matvec(p)
            step = rz / (p * ap).sum(axis=1)
            sol += step[:, None] * p
            r -= step[:, None] * ap
            zr = r / d
            rz_new = (r * zr).sum(axis=1)
            p = zr + (rz_new / rz)[:, None] * p
            rz = rz_new
        else:
            raise RuntimeError("impute: conjugate gradients did not converge")
    out[:, unknown] = sol
    return out.astype(np.float32)


def road(model, x, cam, cls, percentiles, morf=True, noise=0.0, generator=None):
    """ROADMostRelevantFirst(p) (morf) / ROADLeastRelevantFirst(p) for each p: keep the pixels with
    m < percentile(m, p), m = cam (MoRF) or 1 − cam (LeRF), impute the rest (+ noise·N(0, 1)), and return
    score(imputed) − score(x) per percentile (softmax target), float."""
    mask = torch.from_numpy(np.ascontiguousarray(cam, dtype=np.float32))
    if not morf:
        mask = 1 - mask
    base = softmax_score(model, x, cls)
    out = []
    for p in percentiles:
        threshold = np.percentile(mask.numpy(), p)
        # The library compares the torch tensor with the numpy threshold: in float32.
        keep = (mask < threshold).numpy().astype(np.float32)
        img = impute(x[0].numpy(), keep)
        if noise:
            r = torch.randn(img.shape, generator=generator).numpy()
            img = np.where(keep[None] < 0.5, img + noise * r, img).astype(np.float32)
        after = softmax_score(model, torch.from_numpy(img)[None], cls)
        out.append(float(np.float32(after - base)))
    return out


def road_combined(model, x, cam, cls, percentiles=(10, 20, 30, 40, 50, 60, 70, 80, 90), noise=0.0):
    """ROADMostRelevantFirstAverage, ROADLeastRelevantFirstAverage (float32 means) and ROADCombined =
    (mean LeRF − mean MoRF) / 2, as a dict named like our CLI's JSON."""
    morf = road(model, x, cam, cls, percentiles, True, noise)
    lerf = road(model, x, cam, cls, percentiles, False, noise)
    mm, lm = np.mean(np.float32(morf)), np.mean(np.float32(lerf))
    return {"road_percentiles": list(percentiles), "road_morf": morf, "road_lerf": lerf,
            "road_morf_mean": float(mm), "road_lerf_mean": float(lm), "road_combined": float((lm - mm) / 2)}
