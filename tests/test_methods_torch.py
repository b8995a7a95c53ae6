"""Every pytorch-grad-cam method of our CLI (`explain --method NAME`) against tests/cam_reference.py, which
reproduces the library with PyTorch hooks on the seeded ResNet-18 (see its docstring for the two chosen
deviations: the SVD sign rule and float64 eigen-solves).

Errors are printed (`pytest -s` shows them). Tolerance: max |ours − reference| ≤ 1e-2 on the final
[224, 224] CAM (both are in [0, 1]). Methods that coincide in theory must also coincide in our output.
The slow cases (Score-CAM: 512 forwards; Ablation-CAM below layer4: 256 whole-model reruns) are one each.
"""
import json
import re

import numpy as np
import pytest

import cam_reference as R
from conftest import load_rgb, run_cli, to_tensor

TOL = 1e-2
SAME = 1e-4   # "coincide in theory": float32 summation order is all that may differ
# Every method that needs one backward pass and no extra forwards (FullGrad has its own test: no layer).
CHEAP = ["gradcam", "hirescam", "gradcam++", "xgradcam", "layercam", "gradcamelementwise", "eigencam",
         "eigengradcam", "segeigencam", "kpcacam", "fem", "shapleycam"]
BLOCKS = ["layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1", "layer2.0", "layer1.1", "layer1.0",
          "maxpool", "relu", "conv1"]
# KernelPCA is an hw × hw eigenproblem: 3136² at layer1, 12544² at the stem; not "cheap" below layer2.
NO_KPCA = {"layer1.1", "layer1.0", "maxpool", "relu", "conv1"}

_ours, _refs, _ctx = {}, {}, {}


@pytest.fixture(scope="module")
def ours(ref_model, inputs, tmp_path_factory):
    """ours(name, method, layer, *flags, cls=...) → (cam, json): one CLI run per distinct request."""
    _, st, _ = ref_model
    d = tmp_path_factory.mktemp("methods")

    def run(name, method, layer, *flags, cls="default"):
        key = (name, method, layer, flags, cls)
        if key not in _ours:
            cam_p = d / f"cam{len(_ours)}.npy"
            c = context(ref_model, inputs, name)[1] if cls == "default" else cls
            args = ["explain", inputs[name], "--model", st, "--layer", layer, "--method", method, *flags,
                    "--cam", cam_p, "--json"]
            if c is not None:
                args += ["--class", c]
            p = run_cli(*args)
            _ours[key] = (np.load(cam_p), json.loads(p.stdout))
        return _ours[key]

    return run


def context(ref_model, inputs, name):
    """(x, argmax class) for an input image, cached."""
    if name not in _ctx:
        x = to_tensor(load_rgb(inputs[name]))
        _ctx[name] = (x, R.class_of(ref_model[0], x))
    return _ctx[name]


def reference(ref_model, inputs, name, method, layer, cls="default", **kw):
    x, c = context(ref_model, inputs, name)
    c = c if cls == "default" else cls
    key = (name, method, layer, c, tuple(sorted(kw.items())))
    if key not in _refs:
        _refs[key] = R.reference_cam(ref_model[0], x, method, layer, c, **kw)
    return _refs[key]


def check(tag, cam, ref, tol=TOL):
    assert cam.shape == (224, 224) and cam.dtype == np.float32, (cam.shape, cam.dtype)
    err = float(np.abs(cam - ref).max())
    print(f"{tag}: max |ours - reference| {err:.1e}")
    assert err <= tol, f"{tag}: {err}"


# ---- every cheap method at layer4 and layer3, two images --------------------------------------------------

@pytest.mark.parametrize("name", ["both", "seeded0"])
@pytest.mark.parametrize("layer", ["layer4", "layer3"])
@pytest.mark.parametrize("method", CHEAP)
def test_method_matches_reference(ref_model, inputs, ours, name, layer, method):
    cam, r = ours(name, method, layer)
    assert r["method"] == method and r["class"] == context(ref_model, inputs, name)[1]
    assert r["eigen_smooth"] is False and r["eigen_smooth_ignored"] is False and r["aug_smooth"] is False
    check(f"{name} {method} {layer}", cam, reference(ref_model, inputs, name, method, layer))


@pytest.mark.parametrize("layer", BLOCKS)
def test_cheap_methods_at_every_block(ref_model, inputs, ours, layer):
    """Each cheap method at every block output, the stem's maxpool/relu/conv1 included, on one image;
    all the errors of a layer are printed before any assertion."""
    errs = {}
    for method in CHEAP:
        if method == "kpcacam" and layer in NO_KPCA:
            continue
        cam, _ = ours("seeded1", method, layer)
        errs[method] = float(np.abs(cam - reference(ref_model, inputs, "seeded1", method, layer)).max())
    print(f"seeded1 {layer}: " + ", ".join(f"{m} {e:.1e}" for m, e in errs.items()))
    assert max(errs.values()) <= TOL, {m: e for m, e in errs.items() if e > TOL}


@pytest.mark.parametrize("name", ["both", "seeded0"])
def test_fullgrad(ref_model, inputs, ours, name):
    """FullGrad ignores --layer (every BatchNorm's bias gradient plus |x·dy/dx|); the JSON says "all"."""
    cam, r = ours(name, "fullgrad", "layer4")
    assert r["layer"] == "all" and r["method"] == "fullgrad"
    check(f"{name} fullgrad", cam, reference(ref_model, inputs, name, "fullgrad", "layer4"))


# ---- the slow ones: one case each ---------------------------------------------------------------------

def test_scorecam_layer4_plain_and_eigen_smooth(ref_model, inputs, ours):
    """Score-CAM at layer4 on both.png (512 masked forwards on each side), with and without eigen_smooth;
    the reference's channel scores are computed once and shared by the two CAMs."""
    model = ref_model[0]
    x, cls = context(ref_model, inputs, "both")
    a = R.capture(model, x, ["layer4"], "scorecam", cls)[0][0]
    w = R.score_cam_weights(model, x, a, cls)
    cam, r = ours("both", "scorecam", "layer4")
    check("both scorecam layer4", cam, R.finish(x, [R.weighted_map(w, a, False)]))
    cam, r = ours("both", "scorecam", "layer4", "--eigen-smooth")
    assert r["eigen_smooth"] is True and r["eigen_smooth_ignored"] is False
    check("both scorecam layer4 eigen_smooth", cam, R.finish(x, [R.weighted_map(w, a, True)]))


@pytest.mark.parametrize("name,layer", [("both", "layer4"), ("seeded0", "layer3")])
def test_ablationcam(ref_model, inputs, ours, name, layer):
    """Ablation-CAM: at layer4 (where it is W_fc·mean(A_k)/y) and once below it (256 whole reruns)."""
    cam, _ = ours(name, "ablationcam", layer)
    check(f"{name} ablationcam {layer}", cam, reference(ref_model, inputs, name, "ablationcam", layer))


# ---- FinerCAM ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", ["layer4", "layer3"])
def test_finercam_without_class(ref_model, inputs, ours, layer):
    """No --class: main = the top-1 class, compared with the 3 classes whose logits are nearest to it."""
    x, top = context(ref_model, inputs, "both")
    main, compared = R.finer_classes(ref_model[0], x)
    cam, r = ours("both", "finercam", layer, cls=None)
    print(f"both finercam {layer}: main {main}, compared {compared}; ours {r['class']}, {r.get('finer_compared')}")
    assert main == top and r["class"] == main and r["finer_compared"] == compared
    check(f"both finercam {layer} (no class)", cam, reference(ref_model, inputs, "both", "finercam", layer, cls=None))


# ---- smoothing -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam", "hirescam", "xgradcam", "fullgrad"])
def test_eigen_smooth(ref_model, inputs, ours, method):
    cam, r = ours("both", method, "layer4", "--eigen-smooth")
    assert r["eigen_smooth"] is True and r["eigen_smooth_ignored"] is False
    check(f"both {method} layer4 eigen_smooth", cam,
          reference(ref_model, inputs, "both", method, "layer4", eigen_smooth=True))


@pytest.mark.parametrize("method", sorted(R.EIGEN_SMOOTH_IGNORED))
def test_eigen_smooth_ignored(ref_model, inputs, ours, method):
    """Methods that never look at eigen_smooth accept the flag, say so, and give their plain CAM."""
    cam, r = ours("both", method, "layer4", "--eigen-smooth")
    assert r["eigen_smooth"] is False and r["eigen_smooth_ignored"] is True
    same(f"both {method} layer4 --eigen-smooth vs without", cam, ours("both", method, "layer4")[0])
    check(f"both {method} layer4 --eigen-smooth", cam, reference(ref_model, inputs, "both", method, "layer4"))


@pytest.mark.parametrize("method,layer", [("gradcam", "layer4"), ("eigencam", "layer3")])
def test_aug_smooth(ref_model, inputs, ours, method, layer):
    """Flip × [0.9, 1, 1.1] on the normalised input, each CAM flipped back, float32 mean (not rescaled)."""
    cam, r = ours("both", method, layer, "--aug-smooth")
    assert r["aug_smooth"] is True
    check(f"both {method} {layer} aug_smooth", cam,
          reference(ref_model, inputs, "both", method, layer, aug_smooth=True))


# ---- what coincides in theory coincides in our output -------------------------------------------------------

def same(tag, a, b):
    err = float(np.abs(a - b).max())
    print(f"{tag}: max |difference| {err:.1e}")
    assert err <= SAME, f"{tag}: {err}"


@pytest.mark.parametrize("name", ["both", "seeded0"])
def test_gradcam_hirescam_xgradcam_coincide_at_layer4(ours, name):
    """After layer4 come only the global average pool and fc: the gradient is constant over h, w."""
    g, _ = ours(name, "gradcam", "layer4")
    same(f"{name} layer4 hirescam vs gradcam", ours(name, "hirescam", "layer4")[0], g)
    same(f"{name} layer4 xgradcam vs gradcam", ours(name, "xgradcam", "layer4")[0], g)


@pytest.mark.parametrize("layer", ["layer4", "layer3", "layer2.0", "relu"])
def test_layercam_equals_elementwise_after_relu(ours, layer):
    """relu(G)·A = relu(G·A) when A ≥ 0: every one of these layers ends in a ReLU."""
    same(f"both {layer} gradcamelementwise vs layercam", ours("both", "gradcamelementwise", layer)[0],
         ours("both", "layercam", layer)[0])


@pytest.mark.parametrize("layer", ["layer4", "layer3"])
def test_shapleycam_and_finercam_with_class_equal_gradcam(ours, layer):
    """ShapleyCAM's Hessian term is 0 for a ReLU net with a logit target; FinerCAM given a class is GradCAM."""
    g, _ = ours("both", "gradcam", layer)
    same(f"both {layer} shapleycam vs gradcam", ours("both", "shapleycam", layer)[0], g)
    same(f"both {layer} finercam --class vs gradcam", ours("both", "finercam", layer)[0], g)


def test_reference_coincidences(ref_model, inputs):
    """The same identities hold in the reference (so a failure above is ours, not the reference's)."""
    for layer in ("layer4", "layer3"):
        g = reference(ref_model, inputs, "both", "gradcam", layer)
        for m in ("shapleycam", "finercam"):
            assert np.abs(reference(ref_model, inputs, "both", m, layer) - g).max() <= SAME, (m, layer)
        assert np.array_equal(reference(ref_model, inputs, "both", "layercam", layer),
                              reference(ref_model, inputs, "both", "gradcamelementwise", layer))
    g = reference(ref_model, inputs, "both", "gradcam", "layer4")
    for m in ("hirescam", "xgradcam"):
        assert np.abs(reference(ref_model, inputs, "both", m, "layer4") - g).max() <= SAME, m


# ---- bad requests ------------------------------------------------------------------------------------------

def test_unknown_method_exits_2_listing_the_valid_ones(ref_model, inputs):
    _, st, _ = ref_model
    p = run_cli("explain", inputs["both"], "--model", st, "--method", "gradcam+++", check=False)
    assert p.returncode == 2, p.stderr
    line = p.stderr.strip()
    assert line.count("\n") == 0, p.stderr
    # each name as a whole token: "gradcam" must be there by itself, not only inside "gradcam++"
    missing = [m for m in R.METHODS if not re.search(r"(?<![\w+])" + re.escape(m) + r"(?![\w+])", line)]
    assert not missing, (missing, line)
