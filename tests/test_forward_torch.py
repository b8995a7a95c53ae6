"""Forward pass and classification against PyTorch, through build/gradcam (the shipped .wasm)."""
import json

import numpy as np
import pytest

from conftest import load_rgb, run_cli, to_tensor


@pytest.mark.parametrize("name", ["both", "seeded0", "seeded1"])
def test_logits_match_torch(ref_model, inputs, tmp_path, torch_mod, name):
    model, st, _ = ref_model
    out = tmp_path / "z.npy"
    run_cli("classify", inputs[name], "--model", st, "--softmax", "--logits", out)
    z = np.load(out)
    with torch_mod.no_grad():
        ref = model(to_tensor(load_rgb(inputs[name])))[0].numpy()
    assert z.shape == (1000,) and z.dtype == np.float32
    err = np.abs(z - ref).max()
    print(f"{name}: max |logit - torch| = {err:.2e}")
    assert err <= 1e-3


def test_top5_and_softmax_match_torch(ref_model, inputs, torch_mod):
    model, st, _ = ref_model
    p = run_cli("classify", inputs["both"], "--model", st, "--softmax", "--top", "5", "--json")
    top = json.loads(p.stdout)["top"]
    with torch_mod.no_grad():
        prob = torch_mod.softmax(model(to_tensor(load_rgb(inputs["both"]))), 1)[0].numpy()
    assert [t["index"] for t in top] == list(np.argsort(-prob)[:5])
    for t in top:
        assert abs(t["prob"] - prob[t["index"]]) < 1e-5


@pytest.mark.parametrize("w,h", [(32, 32), (97, 131), (320, 200)])
def test_any_input_size(ref_model, tmp_path, torch_mod, w, h):
    """Any size ≥ 32: an image of exactly the model input size (--size), so neither side resizes."""
    import cv2

    model, st, _ = ref_model
    rgb = np.random.default_rng(w * h).integers(0, 256, (h, w, 3), dtype=np.uint8)
    img = tmp_path / "in.png"
    cv2.imwrite(str(img), rgb[:, :, ::-1])
    out = tmp_path / "z.npy"
    run_cli("classify", img, "--model", st, "--size", f"{w}x{h}", "--logits", out)
    with torch_mod.no_grad():
        ref = model(to_tensor(rgb))[0].numpy()
    assert np.abs(np.load(out) - ref).max() <= 1e-3


def test_f16_weights_match_torch_f16_rounded(ref_model, inputs, tmp_path, torch_mod):
    import subprocess
    import sys

    from conftest import ROOT, seeded_resnet18

    model, _, pth = ref_model
    st16 = tmp_path / "r18-f16.safetensors"
    subprocess.run([sys.executable, f"{ROOT}/models/convert", str(pth), str(st16), "--f16"], check=True)
    out = tmp_path / "z.npy"
    run_cli("classify", inputs["both"], "--model", st16, "--logits", out)
    m16 = seeded_resnet18()
    with torch_mod.no_grad():
        for t in m16.state_dict().values():
            if t.dtype == torch_mod.float32:
                t.copy_(t.half().float())
        ref = m16(to_tensor(load_rgb(inputs["both"])))[0].numpy()
    assert np.abs(np.load(out) - ref).max() <= 1e-3


def test_pil_resize_path_matches_torchvision(ref_model, torch_mod, tmp_path):
    """A non-224 photo goes through Resize((224, 224)) on both sides (PIL bilinear, antialiased)."""
    import torchvision.transforms as T
    from PIL import Image

    from conftest import MEAN, SHARED, STD

    model, st, _ = ref_model
    path = f"{SHARED}/images/dogs.png"
    out = tmp_path / "z.npy"
    run_cli("classify", path, "--model", st, "--logits", out)
    tf = T.Compose([T.Resize((224, 224)), T.ToTensor(), T.Normalize(MEAN, STD)])
    with torch_mod.no_grad():
        ref = model(tf(Image.open(path).convert("RGB"))[None])[0].numpy()
    err = np.abs(np.load(out) - ref).max()
    print(f"dogs.png 347x342 → 224: max |logit - torch| = {err:.2e}")
    assert err <= 2e-2  # PIL resize is reproduced to ±1 level; logits move by that much at most


@pytest.mark.parametrize("threads", [1, 2])
def test_stdout_into_a_slow_pipe_loses_nothing(ref_model, inputs, threads):
    """`gradcam classify ... --json | consumer` with a consumer slower than the CLI: every line arrives whole.
    (The threaded engine's worker threads make Node switch stdout to non-blocking; a full pipe then gave
    EAGAIN and C's stdio dropped the buffer: 51 KB of these 464 KB arrived, exit status 0.)"""
    import subprocess
    import time

    from conftest import GRADCAM

    _, st, _ = ref_model
    n = 6  # ~77 KB of JSON per image (1000 classes): far more than a pipe holds
    p = subprocess.Popen([GRADCAM, "classify", *[inputs["both"]] * n, "--model", st, "--top", "1000", "--json",
                          "--threads", str(threads)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3)  # let the pipe fill while nobody reads
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    lines = out.decode().splitlines()
    assert len(lines) == n and all(len(json.loads(s)["top"]) == 1000 for s in lines)
