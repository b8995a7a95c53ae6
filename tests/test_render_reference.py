"""src/image.c and src/render.c against the Python reference they imitate.

  PIL 9.4      Image.resize((W, H), Image.BILINEAR)            gc_image_resize_bilinear_aa
               Image.open(...).convert("RGB")                  gc_image_decode
  torchvision  ToTensor() + Normalize(ImageNet mean, std)      gc_image_to_tensor
  OpenCV 4.6   cv2.resize(cam, (w, h))  (INTER_LINEAR, f32)    gc_cam_resize
               cv2.applyColorMap(.., COLORMAP_JET)             gc_jet_lut, gc_render_heatmap
  grad-cam     show_cam_on_image(img, mask, use_rgb=True)      gc_render_overlay

The C side is tests/tools/render_probe.c, compiled here with gcc and driven over stdin/stdout.
Run with Debian's interpreter (numpy, PIL, cv2, torch):
    /usr/bin/python3 -m pytest -s tests/test_render_reference.py      (-s shows the measured max diffs)
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
Image = pytest.importorskip("PIL.Image")

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "images"
PHOTO_FILES = sorted(p for p in PHOTOS.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".jfif"))
STB = Path("/usr/include/stb")


@pytest.fixture(scope="session")
def probe(tmp_path_factory):
    if not shutil.which("gcc") or not (STB / "stb_image.h").exists():
        pytest.skip("needs gcc and stb (apt-get install gcc libstb-dev)")
    exe = tmp_path_factory.mktemp("probe") / "render_probe"
    cmd = ["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(REPO / "src"), "-isystem", str(STB),
           str(REPO / "tests/tools/render_probe.c"), str(REPO / "src/image.c"), str(REPO / "src/render.c"),
           str(REPO / "src/colormaps.c"),
           "-lm", "-o", str(exe)]
    subprocess.run(cmd, check=True)

    def run(*args, data=b"", expect_ok=True):
        r = subprocess.run([str(exe), *map(str, args)], input=data, capture_output=True)
        if not expect_ok:
            return r
        assert r.returncode == 0, r.stderr.decode()
        return r.stdout

    return run


def with_header(out):
    """Split "W H\\n" + payload."""
    head, payload = out.split(b"\n", 1)
    w, h = map(int, head.split())
    return w, h, payload


def c_resize(probe, a, ow, oh):
    h, w, _ = a.shape
    out = probe("resize", w, h, ow, oh, data=np.ascontiguousarray(a).tobytes())
    return np.frombuffer(out, np.uint8).reshape(oh, ow, 3)


def pil_resize(a, ow, oh):
    return np.asarray(Image.fromarray(a).resize((ow, oh), Image.BILINEAR))


def max_diff(a, b):
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


def smooth_mask(rng, h, w):
    """A CAM as pytorch-grad-cam's scale_cam_image makes it: 7x7, min-max normalised, cv2-resized."""
    cam = rng.random((7, 7), dtype=np.float32)
    cam = cam - np.min(cam)
    cam = cam / (1e-7 + np.max(cam))
    return np.float32(cv2.resize(cam, (w, h)))


def show_cam_on_image(img, mask, use_rgb=False, colormap=cv2.COLORMAP_JET, image_weight=0.5):
    """pytorch-grad-cam's pytorch_grad_cam/utils/image.py, verbatim minus the argument checks."""
    heatmap = cv2.applyColorMap(np.uint8(255 * mask), colormap)
    if use_rgb:
        heatmap = cv2.cvtColor(heatmap, cv2.COLOR_BGR2RGB)
    heatmap = np.float32(heatmap) / 255
    cam = (1 - image_weight) * heatmap + image_weight * img
    cam = cam / np.max(cam)
    return np.uint8(255 * cam)


# ---- PIL resize --------------------------------------------------------------------------------------

@pytest.mark.parametrize("w,h,ow,oh", [
    (224, 224, 224, 224), (640, 480, 224, 224), (300, 200, 224, 224), (1000, 37, 224, 224),
    (17, 9, 224, 224), (224, 224, 100, 300), (224, 224, 224, 100), (224, 224, 50, 224),
    (5, 5, 1, 1), (3, 1, 7, 2), (4000, 3000, 224, 224),
])
def test_resize_random_vs_pil(probe, w, h, ow, oh):
    a = np.random.default_rng(w * 7919 + h).integers(0, 256, (h, w, 3), dtype=np.uint8)
    d = max_diff(c_resize(probe, a, ow, oh), pil_resize(a, ow, oh))
    print(f"resize {w}x{h} -> {ow}x{oh}: max diff vs PIL {d}")
    assert d <= 1


@pytest.mark.parametrize("photo", PHOTO_FILES, ids=lambda p: p.name)
def test_resize_photos_vs_pil(probe, photo):
    """Resize((224, 224)) of the shared photos, PIL-decoded so only the resize is compared."""
    a = np.asarray(Image.open(photo).convert("RGB"))
    d = max_diff(c_resize(probe, a, 224, 224), pil_resize(a, 224, 224))
    print(f"resize {photo.name} {a.shape[1]}x{a.shape[0]} -> 224x224: max diff vs PIL {d}")
    assert d <= 1


# ---- decoding and the tensor -------------------------------------------------------------------------

@pytest.mark.parametrize("photo", PHOTO_FILES, ids=lambda p: p.name)
def test_decode_vs_pil(probe, photo):
    """PNG decodes to PIL's pixels exactly; JPEG through stb's IDCT/upsampling within a few levels."""
    w, h, px = with_header(probe("decode", data=photo.read_bytes()))
    ours = np.frombuffer(px, np.uint8).reshape(h, w, 3)
    ref = np.asarray(Image.open(photo).convert("RGB"))
    assert ours.shape == ref.shape
    d = max_diff(ours, ref)
    mean = float(np.abs(ours.astype(np.int32) - ref).mean())
    print(f"decode {photo.name}: max diff vs PIL {d}, mean {mean:.3f}")
    assert d <= (0 if photo.suffix == ".png" else 4)
    assert mean < 0.25


@pytest.mark.parametrize("data,words", [
    (b"", "image data is empty"),
    (b"not an image at all", "cannot decode image"),
    (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\xea\x60\0\0\xea\x60\x08\x02\0\0\0", "too large: 60000x60000"),
])
def test_decode_errors(probe, data, words):
    r = probe("decode", data=data, expect_ok=False)
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and words in lines[0], r.stderr


@pytest.mark.parametrize("photo", [p for p in PHOTO_FILES if p.suffix == ".png"], ids=lambda p: p.name)
def test_decode_truncated_png(probe, photo):
    data = photo.read_bytes()
    for n in sorted({1, 8, 33, len(data) // 2, len(data) - 13, len(data) - 5, len(data) - 1}):
        r = probe("decode", data=data[:n], expect_ok=False)
        assert r.returncode == 1, f"{photo.name} cut to {n} of {len(data)} bytes was accepted"


def test_tensor_vs_torchvision(probe):
    torch = pytest.importorskip("torch")
    T = pytest.importorskip("torchvision.transforms")
    a = np.random.default_rng(3).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    a.reshape(-1, 3)[:256] = np.arange(256, dtype=np.uint8)[:, None]  # every value in every channel
    ref = T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])(Image.fromarray(a))
    ref = ref.permute(1, 2, 0).numpy()
    ours = np.frombuffer(probe("tensor", 224, 224, data=a.tobytes()), np.float32).reshape(224, 224, 3)
    print(f"tensor: max abs diff vs torchvision {np.abs(ours - ref).max()}")
    assert torch.equal(torch.from_numpy(ours.copy()), torch.from_numpy(ref.copy()))


# ---- cv2.resize --------------------------------------------------------------------------------------

@pytest.mark.parametrize("h,w,oh,ow", [
    (7, 7, 224, 224), (14, 14, 224, 224), (7, 7, 342, 347), (28, 28, 224, 224), (112, 112, 224, 224),
    (7, 7, 177, 284), (5, 3, 2, 9), (224, 224, 7, 7), (1, 1, 4, 4), (7, 7, 7, 7),
    (14, 14, 7, 7),  # an exact 2x reduction: cv2 switches to INTER_AREA (may differ by an ulp)
])
def test_cam_resize_vs_cv2(probe, h, w, oh, ow):
    cam = np.random.default_rng(h * 31 + ow).random((h, w), dtype=np.float32)
    ref = cv2.resize(cam, (ow, oh), interpolation=cv2.INTER_LINEAR)
    out = probe("camresize", h, w, oh, ow, data=cam.tobytes())
    ours = np.frombuffer(out, np.float32).reshape(oh, ow)
    d = float(np.abs(ours - ref).max())
    print(f"cam_resize {w}x{h} -> {ow}x{oh} (w x h): max abs diff vs cv2 {d:.3g}, {int((ours != ref).sum())} values differ")
    assert d <= 1e-5


# ---- JET, heatmap, overlay ---------------------------------------------------------------------------

def test_jet_lut_vs_cv2(probe):
    ours = np.frombuffer(probe("jet"), np.uint8).reshape(256, 3)
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(256, 1), cv2.COLORMAP_JET)
    ref = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[:, 0]
    assert np.array_equal(ours, ref), np.argwhere((ours != ref).any(axis=1)).ravel()


def both_png_and_mask():
    if not (PHOTOS / "both.png").exists():
        pytest.skip(f"{PHOTOS / 'both.png'} missing")
    img = np.asarray(Image.open(PHOTOS / "both.png").convert("RGB"))
    return img, smooth_mask(np.random.default_rng(5), *img.shape[:2])


def test_heatmap_vs_cv2(probe):
    img, mask = both_png_and_mask()
    h, w = mask.shape
    ours = np.frombuffer(probe("heatmap", w, h, 4, data=mask.tobytes()), np.uint8).reshape(h, w, 4)
    ref = cv2.cvtColor(cv2.applyColorMap(np.uint8(255 * mask), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    assert np.array_equal(ours[..., :3], ref)
    assert (ours[..., 3] == 255).all()


@pytest.mark.parametrize("image_weight", [0.5, 0.3, 0.0, 1.0])
@pytest.mark.parametrize("channels", [3, 4])
def test_overlay_vs_show_cam_on_image(probe, image_weight, channels):
    img, mask = both_png_and_mask()
    h, w = mask.shape
    out = probe("overlay", w, h, image_weight, channels, data=img.tobytes() + mask.tobytes())
    ours = np.frombuffer(out, np.uint8).reshape(h, w, channels)
    ref = show_cam_on_image(np.float32(img) / 255, mask, use_rgb=True, image_weight=image_weight)
    d = max_diff(ours[..., :3], ref)
    print(f"overlay both.png weight {image_weight}: max diff vs show_cam_on_image {d}, "
          f"{int((ours[..., :3] != ref).sum())} values differ")
    assert d <= 1
    if channels == 4:
        assert (ours[..., 3] == 255).all()


def test_panel_layout(probe):
    img, mask = both_png_and_mask()
    h, w = mask.shape
    pw, ph, px = with_header(probe("panel", w, h, "tiger cat  82.1%  layer4", 3, data=img.tobytes() + mask.tobytes()))
    panel = np.frombuffer(px, np.uint8).reshape(ph, pw, 3)
    assert (pw, ph) == (8 + 3 * w + 2 * 8 + 8, 8 + h + 8 + 18 + 8)
    assert np.array_equal(panel[8:8 + h, 8:8 + w], img)
    over = show_cam_on_image(np.float32(img) / 255, mask, use_rgb=True)
    assert np.array_equal(panel[8:8 + h, 8 + 2 * (w + 8):8 + 2 * (w + 8) + w], over)
    strip = panel[8 + h + 8:]
    assert (strip == 0).all(axis=2).sum() > 100  # the caption is drawn in black
