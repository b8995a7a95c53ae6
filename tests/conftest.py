"""Shared fixtures: the built CLI, a seeded torchvision ResNet-18 in both weight formats, and inputs.

Nothing large is committed: the reference model is created here, in a temporary folder, from a fixed
seed (torchvision's resnet18 init, then BatchNorm statistics and affine randomised so that folding
BN into the convolutions is really exercised), saved with torch.save and converted by models/convert.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
# The build the tests run: build/ (GC_BUILD=DIR for another build folder of this tree, as bench/ takes)
BUILD = os.environ.get("GC_BUILD") or os.path.join(ROOT, "build")
GRADCAM = os.path.join(BUILD, "gradcam")
# Which engine the CLI runs, passed on to it in the environment: GC_ENGINE=relaxed runs every test against the
# relaxed-SIMD engines (web/gradcam-engine-relaxed[-mt].wasm), GC_ENGINE=simd against the SIMD ones; unset,
# the CLI picks (relaxed where it was built and Node runs it). The CLI fails rather than fall back when the
# engine named is missing.
ENGINE = os.environ.get("GC_ENGINE", "")
if ENGINE not in ("", "simd", "relaxed"):
    raise pytest.UsageError(f"GC_ENGINE={ENGINE!r}: simd or relaxed")
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def run_cli(*args, check=True):
    """Run build/gradcam; returns the CompletedProcess (text mode)."""
    p = subprocess.run([GRADCAM, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"gradcam {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
    return p


@pytest.fixture(scope="session", autouse=True)
def engine_built():
    """GC_ENGINE=relaxed with no relaxed build: say so once, instead of every test failing in the CLI."""
    if ENGINE == "relaxed" and not os.path.exists(os.path.join(BUILD, "web", "gradcam-engine-relaxed.wasm")):
        pytest.fail(f"GC_ENGINE=relaxed but {BUILD}/web/gradcam-engine-relaxed.wasm is missing (scripts/build makes it)")
    return ENGINE or "the CLI's pick"


def seeded_resnet(arch, num_classes=1000, seed=0, residual_gain=1.0):
    """torchvision.models.<arch>(num_classes) from torch.manual_seed(seed), in eval mode, with every
    BatchNorm's running statistics and affine drawn from a second seeded generator: with torchvision's
    init (mean 0, var 1, gamma 1, beta 0) folding BN would be an identity and go untested.
    residual_gain scales the affine of each residual branch's last BatchNorm (bn2 of a BasicBlock, bn3 of
    a Bottleneck) after that draw: these statistics do not match the activations, so every block adds
    more than it should to the residual stream, and over 23 or 36 blocks it explodes (see FAMILY_GAIN)."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    m = getattr(torchvision.models, arch)(num_classes=num_classes)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                n = mod.num_features
                mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                mod.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                mod.bias.copy_(torch.randn(n, generator=g) * 0.1)
        if residual_gain != 1.0:
            for mod in m.modules():
                if isinstance(mod, torchvision.models.resnet.Bottleneck):
                    mod.bn3.weight.mul_(residual_gain), mod.bn3.bias.mul_(residual_gain)
                elif isinstance(mod, torchvision.models.resnet.BasicBlock):
                    mod.bn2.weight.mul_(residual_gain), mod.bn2.bias.mul_(residual_gain)
    return m.eval()


def seeded_resnet18(num_classes=1000, seed=0):
    return seeded_resnet("resnet18", num_classes, seed)


def to_tensor(rgb):
    """uint8 [H][W][3] → normalised [1][3][H][W], as ToTensor + Normalize."""
    import torch

    x = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)
    return ((x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None])[None]


@pytest.fixture(scope="session")
def torch_mod():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    return torch


@pytest.fixture(scope="session")
def ref_model(tmp_path_factory, torch_mod):
    """(torch model, path to F32 safetensors, path to .pth) for the seeded ImageNet-shaped ResNet-18."""
    d = tmp_path_factory.mktemp("ref")
    m = seeded_resnet18()
    pth = d / "resnet18-seeded.pth"
    torch_mod.save(m.state_dict(), pth)
    st = d / "resnet18-seeded.safetensors"
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert"), str(pth), str(st)], check=True)
    return m, st, pth


# The family's big members are written as F16 (half the file, and models/convert copies F16 storages as
# they are, where F32 -> F16 would go through Python's struct one value at a time).
FAMILY_F16 = {"resnet152", "wide_resnet50_2", "wide_resnet101_2"}
# residual_gain for the deepest members. With seeded_resnet18's recipe unchanged (gain 1) the largest
# |logit| on both.png is 170 (resnet34), 128 (resnet50), 160 (wide_resnet50_2), but 2.4e5 (resnet101) and
# 6e8 (resnet152): no float32 engine can hold 1e-3 there. Damped: 33 (resnet101 at 0.5), 64 (resnet152 at
# 0.4), 7.6 (wide_resnet101_2 at 0.4), the same order as the others. (Measured with PyTorch 1.13.)
FAMILY_GAIN = {"resnet101": 0.5, "resnet152": 0.4, "wide_resnet101_2": 0.4}


@pytest.fixture(scope="session")
def family_model(tmp_path_factory, torch_mod):
    """family_model(arch) -> (torch model, safetensors path, f16): seeded_resnet(arch) (with its FAMILY_GAIN)
    saved with torch.save and converted by models/convert, made once per session. For the FAMILY_F16 archs
    the file holds F16 weights and the returned torch model has its weights rounded to F16 the same way (as
    test_f16_weights_match_torch_f16_rounded does), so comparisons need no extra tolerance."""
    cache = {}

    def make(arch):
        if arch not in cache:
            d = tmp_path_factory.mktemp(arch)
            m = seeded_resnet(arch, residual_gain=FAMILY_GAIN.get(arch, 1.0))
            f16 = arch in FAMILY_F16
            sd = m.state_dict()
            if f16:
                with torch_mod.no_grad():
                    for t in sd.values():
                        if t.dtype == torch_mod.float32:
                            t.copy_(t.half().float())  # in place: the model now holds the rounded weights
                sd = {k: (v.half() if v.dtype == torch_mod.float32 else v) for k, v in sd.items()}
            pth, st = d / f"{arch}-seeded.pth", d / f"{arch}-seeded.safetensors"
            torch_mod.save(sd, pth)
            subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert"), str(pth), str(st),
                            *(["--f16"] if f16 else [])], check=True)
            os.remove(pth)  # up to 240 MB each; only the safetensors file is used
            cache[arch] = (m, st, f16)
        return cache[arch]

    return make


@pytest.fixture(scope="session")
def inputs(tmp_path_factory):
    """224×224 PNG inputs (no resize on either side): both.png and two seeded noise images."""
    import cv2

    d = tmp_path_factory.mktemp("inputs")
    out = {"both": os.path.join(SHARED, "images", "both.png")}
    rng = np.random.default_rng(20261127)
    for i in range(2):
        # smooth-ish random images: noise blurred, so that activations look more like a photo's
        img = cv2.GaussianBlur(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8), (0, 0), 2 + 2 * i)
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)
        p = str(d / f"seeded{i}.png")
        cv2.imwrite(p, img)
        out[f"seeded{i}"] = p
    return out


def load_rgb(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


# ---- pytorch-grad-cam's own post-processing, reproduced (the reference for tests and bench/) -----------

def scale_cam_image(cam, target_size=None):
    """pytorch-grad-cam's scale_cam_image for one map: x - min, / (1e-7 + max), then cv2.resize."""
    import cv2

    img = cam - np.min(cam)
    img = img / (1e-7 + np.max(img))
    if target_size is not None:
        img = cv2.resize(img, target_size)
    return np.float32(img)


def jet_heatmap(mask):
    """applyColorMap(np.uint8(255 * mask), COLORMAP_JET) as RGB uint8 (use_rgb=True)."""
    import cv2

    return cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * mask), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def show_cam_on_image(img, mask, image_weight=0.5):
    """pytorch-grad-cam's show_cam_on_image(img, mask, use_rgb=True, colormap=JET, image_weight);
    img is float32 RGB in [0, 1]."""
    cam = (1 - image_weight) * (np.float32(jet_heatmap(mask)) / 255) + image_weight * img
    return np.uint8(255 * (cam / np.max(cam)))

