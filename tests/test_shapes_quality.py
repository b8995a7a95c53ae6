"""The offline shapes model, checked through build/gradcam on scenes it never saw (issue #3).

Scenes come from models/shapes/scenes.py with seeds ≥ 20261127 (training used seeds < 1_000_000):
150 single-object and 150 two-object scenes. Everything runs through the shipped CLI (the same .wasm
as the page), with the committed F16 weights.
"""
import json
import os
import sys

import numpy as np
import pytest

from conftest import ROOT, run_cli

MODEL = os.path.join(ROOT, "models", "shapes", "resnet18-shapes.safetensors")
N_EACH = 150
GROW = 8


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    sys.path.insert(0, os.path.join(ROOT, "models", "shapes"))
    import cv2
    import scenes as gen

    d = tmp_path_factory.mktemp("scenes")
    out = []
    for n_obj, seed in ((1, 20261127), (2, 20261128)):
        for i, (img, objs) in enumerate(gen.generate_set(seed, N_EACH, n_obj)):
            p = str(d / f"s{n_obj}_{i:03d}.png")
            cv2.imwrite(p, img[:, :, ::-1])
            out.append((p, objs))
    return out


def test_model_is_committed_with_sigmoid_head():
    sys.path.insert(0, os.path.join(ROOT, "models"))
    import safetensors as st

    tensors, meta = st.load(MODEL)
    assert tensors["fc.weight"][0] == "F16" and tensors["fc.weight"][1] == [8, 512]
    assert (meta or {}).get("gradcam.head") == "sigmoid"


def test_classification_accuracy(scenes):
    # all 300 scenes in one call: the model loads once, and a call takes any number of images
    p = run_cli("classify", *[s[0] for s in scenes], "--model", MODEL, "--top", "8", "--json")
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(rows) == len(scenes)
    single = pair = 0
    for (path, objs), r in zip(scenes, rows):
        assert r["image"] == path
        ranked = [t["index"] for t in r["top"]]
        present = {o["cls"] for o in objs}
        if len(objs) == 1:
            single += ranked[0] in present
        else:
            pair += set(ranked[:2]) == present
    s, t = single / N_EACH, pair / N_EACH
    print(f"\nshapes model via build/gradcam: single-object top-1 {s:.1%}, two-object top-2 exact {t:.1%}")
    assert s >= 0.98 and t >= 0.95


def localisation(scenes, tmp_path, layer):
    """For every present class: (argmax of its CAM inside bbox+8, mean CAM inside > outside)."""
    by_class = {}
    for path, objs in scenes:
        for o in objs:
            by_class.setdefault(o["cls"], []).append((path, o["bbox"]))
    hits = contrast = total = 0
    for cls, items in sorted(by_class.items()):
        d = tmp_path / f"{layer}_{cls}"
        d.mkdir()
        run_cli("explain", *[p for p, _ in items], "--model", MODEL, "--class", cls, "--layer", layer,
                "--out-dir", d)
        for path, (x0, y0, x1, y1) in items:
            cam = np.load(d / (os.path.splitext(os.path.basename(path))[0] + ".cam.npy"))
            y, x = np.unravel_index(np.argmax(cam), cam.shape)
            hits += (max(0, x0 - GROW) <= x < min(224, x1 + GROW)) and (max(0, y0 - GROW) <= y < min(224, y1 + GROW))
            inside = np.zeros(cam.shape, bool)
            inside[y0:y1, x0:x1] = True
            contrast += cam[inside].mean() > cam[~inside].mean()
            total += 1
    return hits / total, contrast / total, total


def test_localisation_layer4(scenes, tmp_path):
    hit, contrast, n = localisation(scenes, tmp_path, "layer4")
    print(f"\nlayer4 Grad-CAM over {n} objects: argmax in box+{GROW}px {hit:.1%}, mean inside > outside {contrast:.1%}")
    assert hit >= 0.90 and contrast >= 0.95


def test_localisation_layer3_reported(scenes, tmp_path):
    hit, contrast, n = localisation(scenes, tmp_path, "layer3")
    print(f"\nlayer3 Grad-CAM over {n} objects: argmax in box+{GROW}px {hit:.1%}, mean inside > outside {contrast:.1%}")
    assert n == N_EACH * 3  # reported, no threshold yet (issue #3)
