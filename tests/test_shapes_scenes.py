"""Invariants of the synthetic shapes scene generator (models/shapes/scenes.py)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models", "shapes"))
import scenes  # noqa: E402

SEED = 20261127 + 4242  # an evaluation-range seed
N = 200


@pytest.fixture(scope="module")
def generated():
    out = []
    for i in range(N):
        img, objs, info = scenes.generate(np.random.default_rng([SEED, i]), return_info=True)
        out.append((img, objs, info))
    return out


def test_labels_file():
    with open(os.path.join(ROOT, "models", "shapes", "labels.txt")) as f:
        text = f.read()
    assert text.endswith("\n")
    assert text.splitlines() == ["circle", "square", "triangle", "star", "cross", "ring", "hexagon", "crescent"]
    assert text.splitlines() == scenes.NAMES


def test_image_format(generated):
    for img, _, _ in generated:
        assert img.shape == (224, 224, 3) and img.dtype == np.uint8


def test_objects_count_and_classes(generated):
    counts = set()
    seen = set()
    for _, objs, _ in generated:
        assert 1 <= len(objs) <= 2
        classes = [o["cls"] for o in objs]
        assert len(set(classes)) == len(classes)
        for o in objs:
            assert 0 <= o["cls"] < 8 and o["name"] == scenes.NAMES[o["cls"]]
            seen.add(o["cls"])
        counts.add(len(objs))
    assert counts == {1, 2}
    assert seen == set(range(8))


def test_bbox_size_and_inside(generated):
    for _, objs, _ in generated:
        for o in objs:
            x0, y0, x1, y1 = o["bbox"]
            assert 0 <= x0 < x1 <= 224 and 0 <= y0 < y1 <= 224
            assert 48 <= max(x1 - x0, y1 - y0) <= 96


def test_no_overlap(generated):
    for _, objs, _ in generated:
        if len(objs) == 2:
            a, b = objs[0]["bbox"], objs[1]["bbox"]
            separated = (a[2] + scenes.MARGIN <= b[0] or b[2] + scenes.MARGIN <= a[0]
                         or a[3] + scenes.MARGIN <= b[1] or b[3] + scenes.MARGIN <= a[1])
            assert separated, (a, b)


def test_contrast_criterion(generated):
    for _, objs, info in generated:
        for o, col in zip(objs, info["colours"]):
            assert scenes.min_contrast(col, info["background"], o["bbox"]) >= scenes.MIN_CONTRAST


def test_drawn_pixels_differ_from_background(generated):
    fill = {c: [] for c in range(8)}
    for img, objs, info in generated:
        bg = info["background"]
        for o, col in zip(objs, info["colours"]):
            x0, y0, x1, y1 = o["bbox"]
            patch = img[y0:y1, x0:x1].astype(float)
            d_obj = np.sqrt(((patch - col) ** 2).sum(-1))
            d_bg = np.sqrt(((patch - bg[y0:y1, x0:x1]) ** 2).sum(-1))
            drawn = (d_obj < 40) & (d_bg > 40)
            frac = drawn.mean()
            fill[o["cls"]].append(frac)
            assert frac > 0.2, (o, frac)
            # the box is tight: every border row/column of the box holds object pixels
            assert drawn[0].any() and drawn[-1].any() and drawn[:, 0].any() and drawn[:, -1].any(), o
    # mean fill ratios are plausible per shape (circle ~ pi/4, triangle ~ 0.4-0.5, ring < circle)
    m = {c: float(np.mean(v)) for c, v in fill.items() if v}
    assert 0.7 < m[0] < 0.85
    assert m[5] < m[0]
    assert m[1] > 0.8


def test_determinism():
    a = list(scenes.generate_set(123, 5))
    b = list(scenes.generate_set(123, 5))
    c = list(scenes.generate_set(124, 5))
    for (ia, oa), (ib, ob) in zip(a, b):
        assert np.array_equal(ia, ib) and oa == ob
    assert not all(np.array_equal(ia, ic) for (ia, _), (ic, _) in zip(a, c))
    img1, o1 = scenes.generate(7)
    img2, o2 = scenes.generate(np.random.default_rng(7))
    assert np.array_equal(img1, img2) and o1 == o2


def test_n_objects_forced():
    for n in (1, 2):
        for _, objs in scenes.generate_set(99, 10, n_objects=n):
            assert len(objs) == n


def test_cli(tmp_path):
    out = tmp_path / "s"
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "shapes", "scenes.py"),
                    "--seed", "20261127", "--count", "3", "--out", str(out)], check=True)
    meta = json.loads((out / "scenes.json").read_text())
    assert len(meta["scenes"]) == 3
    ref = list(scenes.generate_set(20261127, 3))
    import cv2
    for s, (img, objs) in zip(meta["scenes"], ref):
        png = cv2.imread(str(out / s["file"]))[:, :, ::-1]
        assert np.array_equal(png, img)
        assert [(o["cls"], o["name"], tuple(o["bbox"])) for o in s["objects"]] == \
            [(o["cls"], o["name"], tuple(o["bbox"])) for o in objs]
