"""Grad-CAM against PyTorch on the seeded ResNet-18: the gradient at a layer, and the CAM.

The reference is written here with hooks, as pytorch-grad-cam does it (a forward hook keeps the
layer's output, a tensor hook on it keeps the gradient of the class logit), and its CAM reproduces
pytorch-grad-cam's GradCAM exactly: channel weights = mean of the gradient over H, W; ReLU of the
weighted sum; scale_cam_image at feature resolution (x - min, / (1e-7 + max)); cv2.resize to the
input size; scale_cam_image again (aggregate_multi_layers).
"""
import json

import numpy as np
import pytest

from conftest import jet_heatmap, load_rgb, run_cli, scale_cam_image, show_cam_on_image, to_tensor

LAYERS = ["layer4", "layer3", "layer2.0", "layer1", "maxpool", "relu", "conv1"]


def module_of(model, name):
    for n, m in model.named_modules():
        if n == name:
            return m
    raise KeyError(name)


def torch_gradcam(torch, model, x, cls, layer):
    """Returns (activation [C,H,W], gradient [C,H,W], cam [H_in, W_in]) like pytorch-grad-cam."""
    store = {}

    def fwd(_m, _i, out):
        store["a"] = out.detach().clone()

        def keep(g):
            store["g"] = g.detach().clone()

        out.register_hook(keep)

    h = module_of(model, layer).register_forward_hook(fwd)
    x = x.clone().requires_grad_(True)
    try:
        z = model(x)
        model.zero_grad()
        z[0, cls].backward()
    finally:
        h.remove()
    a, g = store["a"][0].numpy(), store["g"][0].numpy()
    w = g.mean(axis=(1, 2))
    cam = np.maximum((w[:, None, None] * a).sum(axis=0), 0)
    cam = scale_cam_image(cam, (x.shape[3], x.shape[2]))
    return a, g, scale_cam_image(cam), x


@pytest.mark.parametrize("name", ["both", "seeded0"])
@pytest.mark.parametrize("layer", LAYERS)
def test_gradient_and_cam_match_torch(ref_model, inputs, tmp_path, torch_mod, name, layer):
    model, st, _ = ref_model
    x = to_tensor(load_rgb(inputs[name]))
    with torch_mod.no_grad():
        cls = int(model(x)[0].argmax())
    cam_p, grad_p = tmp_path / "cam.npy", tmp_path / "grad.npy"
    run_cli("explain", inputs[name], "--model", st, "--layer", layer, "--class", cls, "--cam", cam_p, "--grad", grad_p)
    a, g, cam_ref, _ = torch_gradcam(torch_mod, model, x, cls, layer)
    grad = np.load(grad_p).transpose(2, 0, 1)  # ours is NHWC
    assert grad.shape == g.shape
    gerr = np.abs(grad - g).max() / np.abs(g).max()
    cam = np.load(cam_p)
    cerr = np.abs(cam - cam_ref).max()
    print(f"{name} {layer}: grad err/max {gerr:.1e}, cam max err {cerr:.1e}")
    assert gerr <= 1e-3
    assert cam.shape == (224, 224) and cerr <= 1e-2


def test_gradient_to_pixels_matches_torch(ref_model, inputs, tmp_path, torch_mod):
    model, st, _ = ref_model
    x = to_tensor(load_rgb(inputs["both"])).requires_grad_(True)
    z = model(x)
    cls = int(z[0].argmax())
    z[0, cls].backward()
    ref = x.grad[0].numpy()
    grad_p = tmp_path / "grad.npy"
    run_cli("explain", inputs["both"], "--model", st, "--layer", "input", "--grad", grad_p)
    grad = np.load(grad_p).transpose(2, 0, 1)
    err = np.abs(grad - ref).max() / np.abs(ref).max()
    print(f"both input pixels: grad err/max {err:.1e}")
    assert err <= 1e-3


def test_class_by_name_and_json(ref_model, inputs, tmp_path):
    _, st, _ = ref_model
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"thing {i}\n" for i in range(999)) + "tiger cat\n")
    p = run_cli("explain", inputs["both"], "--model", st, "--labels", labels, "--class", "TIGER", "--json")
    r = json.loads(p.stdout)
    assert r["class"] == 999 and r["label"] == "tiger cat" and r["layer"] == "layer4.1"
    assert r["feature_size"] == [7, 7] and r["cam_size"] == [224, 224]


@pytest.mark.parametrize(
    "args,msg",
    [
        (["--layer", "layer5"], "unknown layer"),
        (["--layer", "fc"], "unknown layer"),
        (["--class", "1000"], "out of range"),
        (["--class", "-3"], "out of range"),
        (["--class", "hing 1"], "ambiguous"),
        (["--class", "zebra"], "no class matches"),
        (["--alpha", "1.5"], "--alpha"),
        (["--size", "16x16"], "--size"),
    ],
)
def test_bad_requests_exit_2_with_one_line(ref_model, inputs, tmp_path, args, msg):
    _, st, _ = ref_model
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"thing {i}\n" for i in range(1000)))
    p = run_cli("explain", inputs["both"], "--model", st, "--labels", labels, *args, check=False)
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr and p.stderr.strip().count("\n") == 0, p.stderr


def read_rgb(path):
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_overlay_png_matches_show_cam_on_image(ref_model, inputs, tmp_path, torch_mod):
    """The overlay PNG for both.png equals show_cam_on_image (OpenCV's JET, image_weight 0.5) on the
    reference CAM, ±2 per channel. (A CAM value 1e-6 away from a multiple of 1/255 moves one JET
    step, up to 4 levels before blending: ±2 is what the 0.5 blend leaves of it.)"""
    model, st, _ = ref_model
    rgb = load_rgb(inputs["both"])
    x = to_tensor(rgb)
    with torch_mod.no_grad():
        cls = int(model(x)[0].argmax())
    _, _, cam_ref, _ = torch_gradcam(torch_mod, model, x, cls, "layer4")
    out, heat_p, cam_p = tmp_path / "overlay.png", tmp_path / "heat.png", tmp_path / "cam.npy"
    run_cli("explain", inputs["both"], "--model", st, "--class", cls, "-o", out, "--heatmap", heat_p, "--cam", cam_p)
    ref = show_cam_on_image(np.float32(rgb) / 255, cam_ref, 0.5)
    diff = np.abs(read_rgb(out).astype(int) - ref.astype(int)).max()
    print(f"overlay: max |ours - show_cam_on_image(reference CAM)| = {diff}")
    assert diff <= 2
    # On our own CAM the formula is reproduced exactly, at any opacity.
    cam = np.load(cam_p)
    for alpha in (0.5, 0.3, 0.0, 1.0):
        run_cli("explain", inputs["both"], "--model", st, "--class", cls, "--alpha", alpha, "-o", out)
        ref = show_cam_on_image(np.float32(rgb) / 255, cam, alpha)
        assert np.abs(read_rgb(out).astype(int) - ref.astype(int)).max() <= 1, alpha
    assert np.array_equal(read_rgb(heat_p), jet_heatmap(cam))
