"""Display options (colormaps, modes, sign, scale, interpolation, several layers, compare grids) against
OpenCV, NumPy and the PyTorch reference.

  OpenCV 4.6   cv2.applyColorMap(.., COLORMAP_X) for every map     colormaps.c (render_probe lut X)
               cv2.resize(.., INTER_NEAREST)                      gc_cam_resize_nearest
  grad-cam     show_cam_on_image(img, cam, use_rgb=True, colormap=X) the CLI's overlay PNG
               target_layers=[layer3, layer4]                     --layer layer3,layer4
  NumPy        Captum's masked_image / alpha_scaling / grey blend   --mode, --grey
  PyTorch      the weighted sum before any scaling                 --scale raw, --sign negative|all
Run with Debian's interpreter: /usr/bin/python3 -m pytest -s tests/test_display.py
"""
import json

import numpy as np
import pytest

from cam_reference import reference_cam
from conftest import load_rgb, run_cli, to_tensor
from test_render_reference import probe  # noqa: F401  (the compiled render_probe fixture)
from test_gradcam_torch import torch_gradcam

cv2 = pytest.importorskip("cv2")

OPENCV_MAPS = ["jet", "turbo", "viridis", "inferno", "magma", "plasma", "cividis", "hot", "bone", "parula", "autumn",
               "winter", "rainbow", "ocean", "summer", "spring", "cool", "hsv", "pink", "twilight", "twilight_shifted",
               "deepgreen"]


def read_png(path, flags=cv2.IMREAD_COLOR):
    a = cv2.imread(str(path), flags)
    return cv2.cvtColor(a, cv2.COLOR_BGRA2RGBA if a.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def show_cam(img, mask, colormap, image_weight=0.5):
    """pytorch-grad-cam's show_cam_on_image(img, mask, use_rgb=True, colormap, image_weight)."""
    heat = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * mask), colormap), cv2.COLOR_BGR2RGB)
    cam = (1 - image_weight) * (np.float32(heat) / 255) + image_weight * img
    return np.uint8(255 * (cam / np.max(cam)))


def diff(a, b):
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


# ---- colormaps -----------------------------------------------------------------------------------------

def test_every_colormap_lut_equals_opencv(probe):  # noqa: F811
    g = np.arange(256, dtype=np.uint8).reshape(256, 1)
    for name in OPENCV_MAPS:
        ref = cv2.applyColorMap(g, getattr(cv2, "COLORMAP_" + name.upper()))[:, 0, ::-1]
        ours = np.frombuffer(probe("lut", name), np.uint8).reshape(256, 3)
        assert np.array_equal(ours, ref), name
    assert probe("lut", "nope", expect_ok=False).returncode == 1


@pytest.mark.parametrize("name", ["viridis", "turbo", "inferno", "cividis", "parula"])
def test_overlay_equals_show_cam_on_image_with_colormap(ref_model, inputs, tmp_path, name):
    _, st, _ = ref_model
    out, cam_p = tmp_path / "o.png", tmp_path / "cam.npy"
    run_cli("explain", inputs["both"], "--model", st, "--colormap", name, "-o", out, "--cam", cam_p)
    rgb = load_rgb(inputs["both"])
    ref = show_cam(np.float32(rgb) / 255, np.load(cam_p), getattr(cv2, "COLORMAP_" + name.upper()))
    assert diff(read_png(out), ref) <= 1, name


# ---- modes ------------------------------------------------------------------------------------------------

def test_modes_against_numpy(ref_model, inputs, tmp_path):
    _, st, _ = ref_model
    rgb = load_rgb(inputs["both"])
    cam_p = tmp_path / "cam.npy"
    run_cli("explain", inputs["both"], "--model", st, "--cam", cam_p)
    cam = np.load(cam_p)
    outs = {}
    for mode in ["heat_map", "masked_image", "alpha_scaling"]:
        outs[mode] = tmp_path / f"{mode}.png"
        run_cli("explain", inputs["both"], "--model", st, "--mode", mode, "--colormap", "magma", "-o", outs[mode])
    heat = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * cam), cv2.COLORMAP_MAGMA), cv2.COLOR_BGR2RGB)
    assert diff(read_png(outs["heat_map"]), heat) <= 1
    assert diff(read_png(outs["masked_image"]), np.uint8(np.float32(rgb) * cam[..., None])) <= 1
    rgba = read_png(outs["alpha_scaling"], cv2.IMREAD_UNCHANGED)
    assert rgba.shape[2] == 4, "alpha_scaling keeps its alpha"
    assert np.array_equal(rgba[..., :3], rgb) and diff(rgba[..., 3], np.uint8(255 * cam)) <= 1
    grey_p = tmp_path / "grey.png"
    run_cli("explain", inputs["both"], "--model", st, "--grey", "-o", grey_p)
    grey = np.repeat(np.float32(rgb).mean(axis=2, keepdims=True), 3, axis=2) / 255
    assert diff(read_png(grey_p), show_cam(grey, cam, cv2.COLORMAP_JET)) <= 1


# ---- sign, scale, interpolation ---------------------------------------------------------------------------

def weighted_sum(torch_mod, model, x, cls, layer):
    a, g, _, _ = torch_gradcam(torch_mod, model, x, cls, layer)
    return (g.mean(axis=(1, 2))[:, None, None] * a).sum(axis=0)


@pytest.mark.parametrize("layer,which", [("layer4", "top"), ("layer3", "top"), ("layer4", "bottom")])
def test_raw_and_signed_maps_are_the_weighted_sum(ref_model, inputs, tmp_path, torch_mod, layer, which):
    """For the top class and for the least likely one (whose map is mostly evidence against it)."""
    model, st, _ = ref_model
    x = to_tensor(load_rgb(inputs["seeded0"]))
    with torch_mod.no_grad():
        z = model(x)[0]
        cls = int(z.argmax() if which == "top" else z.argmin())
    m = weighted_sum(torch_mod, model, x, cls, layer)
    up = lambda v: cv2.resize(np.float32(v), (224, 224))  # noqa: E731
    cases = {("positive", "raw"): up(np.maximum(m, 0)), ("negative", "raw"): up(np.maximum(-m, 0)),
             ("all", "raw"): up(m), ("all", "normalised"): None}
    for (sign, scale), ref in cases.items():
        p = tmp_path / f"{sign}-{scale}.npy"
        r = json.loads(run_cli("explain", inputs["seeded0"], "--model", st, "--class", cls, "--layer", layer,
                               "--sign", sign, "--scale", scale, "--cam", p, "--json").stdout)
        cam, meta = np.load(p), json.loads(open(f"{p}.json").read())
        assert meta["sign"] == sign and meta["scale"] == scale and r["sign"] == sign and r["scale"] == scale
        if ref is None:  # N(R(N(m))) with N(v) = v / (1e-7 + max|v|): signed, in [-1, 1]
            n = m / (1e-7 + np.abs(m).max())
            ref = up(n) / (1e-7 + np.abs(up(n)).max())
        err = np.abs(cam - ref).max() / max(np.abs(ref).max(), 1e-12)
        print(f"{layer} class {cls} sign {sign} scale {scale}: max err / max {err:.1e} (max |ref| {np.abs(ref).max():.2g})")
        assert err <= 1e-3, (sign, scale)
    # the signed map of class c is the negated signed map of -score_c: for Grad-CAM that is w -> -w, so
    # the positive part of one is the negative part of the other
    pos, neg = np.load(tmp_path / "positive-raw.npy"), np.load(tmp_path / "negative-raw.npy")
    allm = np.load(tmp_path / "all-raw.npy")
    assert np.allclose(np.maximum(allm, 0), up(np.maximum(m, 0)), atol=1e-5 * np.abs(m).max())
    assert pos.min() >= 0 and neg.min() >= 0
    if which == "bottom":  # a class the image argues against: its negative part is not empty
        assert neg.max() > 0.1 * np.abs(m).max()


def test_nearest_resize_equals_opencv(probe):  # noqa: F811
    rng = np.random.default_rng(5)
    for (h, w), (oh, ow) in [((7, 7), (224, 224)), ((14, 14), (224, 224)), ((7, 9), (300, 451)), ((28, 28), (97, 13))]:
        cam = rng.random((h, w), dtype=np.float32)
        ours = np.frombuffer(probe("nearest", h, w, oh, ow, data=cam.tobytes()), np.float32).reshape(oh, ow)
        assert np.array_equal(ours, cv2.resize(cam, (ow, oh), interpolation=cv2.INTER_NEAREST)), (h, w, oh, ow)


def test_nearest_cam_shows_the_layer_grid(ref_model, inputs, tmp_path):
    _, st, _ = ref_model
    p = tmp_path / "n.npy"
    run_cli("explain", inputs["both"], "--model", st, "--interp", "nearest", "--cam", p)
    cam = np.load(p)
    assert len(np.unique(cam)) <= 49  # a 7x7 grid, blown up


# ---- several layers, compare grids --------------------------------------------------------------------------

@pytest.mark.parametrize("layers", [["layer3", "layer4"], ["layer2", "layer3.0", "layer4"]])
def test_multi_layer_cam_equals_target_layers(ref_model, inputs, tmp_path, torch_mod, layers):
    model, st, _ = ref_model
    x = to_tensor(load_rgb(inputs["both"]))
    with torch_mod.no_grad():
        cls = int(model(x)[0].argmax())
    p = tmp_path / "cam.npy"
    r = json.loads(run_cli("explain", inputs["both"], "--model", st, "--class", cls, "--layer", ",".join(layers),
                           "--cam", p, "--json").stdout)
    ref = reference_cam(model, x, "gradcam", layers, target_class=cls)
    err = np.abs(np.load(p) - ref).max()
    print(f"target_layers={layers}: max |ours - reference| {err:.1e}")
    assert err <= 1e-2 and len(r["layer"].split(",")) == len(layers)


def test_compare_grid_tiles_are_the_overlays(ref_model, inputs, tmp_path):
    _, st, _ = ref_model
    grid_p, o_p = tmp_path / "grid.png", tmp_path / "o.png"
    run_cli("explain", inputs["both"], "--model", st, "--compare", "layers:layer3,layer4", "--grid", grid_p,
            "--colormap", "viridis")
    grid = read_png(grid_p)
    for k, layer in enumerate(["layer3", "layer4"]):
        run_cli("explain", inputs["both"], "--model", st, "--layer", layer, "--colormap", "viridis", "-o", o_p)
        x0 = 8 + k * (224 + 8)
        assert diff(grid[8:8 + 224, x0:x0 + 224], read_png(o_p)) == 0, layer


@pytest.mark.parametrize("args,msg", [
    (["--colormap", "jett"], "unknown colormap 'jett' (jet, turbo"),
    (["--mode", "blend"], "unknown mode 'blend' (blended_heat_map"),
    (["--sign", "both"], "unknown sign 'both' (positive, negative, all)"),
    (["--scale", "log"], "unknown scale 'log'"),
    (["--interp", "cubic"], "unknown interp 'cubic' (linear, nearest)"),
    (["--compare", "classes:0", "--grid", "g.png"], "bad --compare"),
    (["--compare", "methods:gradcam,nope", "--grid", "g.png"], "unknown method 'nope' (gradcam, hirescam"),
    (["--compare", "layers:layer9", "--grid", "g.png"], "unknown layer 'layer9'"),
    (["--compare", "classes:3"], "--grid"),
    (["--layer", "layer3,layer5"], "unknown layer 'layer5'"),
])
def test_bad_display_options_exit_2_listing_valid_ones(ref_model, inputs, args, msg):
    _, st, _ = ref_model
    p = run_cli("explain", inputs["both"], "--model", st, *args, check=False)
    assert p.returncode == 2 and msg in p.stderr and p.stderr.strip().count("\n") == 0, p.stderr
