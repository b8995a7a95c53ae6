#!/usr/bin/env python3
"""Synthetic "shapes" scenes for the gradcam-wasm demo model.

A scene is a 224x224 RGB uint8 image:

* Background: a linear gradient between two random colours (random direction),
  0-3 thin random lines (1-2 px, random colour) as clutter, drawn under the
  objects.
* 1 or 2 objects of *different* classes, each filled with one solid random
  colour.  Class index order (also ``labels.txt``):

      0 circle, 1 square (rotated at most +-15 deg), 2 triangle (equilateral,
      any rotation), 3 star (five points, any rotation), 4 cross (plus sign,
      equal arms, rotated at most +-15 deg), 5 ring (annulus, inner radius
      40-60 % of outer), 6 hexagon (regular, any rotation), 7 crescent (disc
      minus an offset disc, any rotation).

* Every object's tight bounding box (box of its drawn pixels) has size
  max(w, h) in [48, 96], lies fully inside the image, and bounding boxes of
  different objects are separated by at least ``MARGIN`` pixels (no overlap).
* Contrast rule: the object colour has RGB Euclidean distance >= ``MIN_CONTRAST``
  (80) from every (noise-free) gradient background pixel under its bounding
  box.  Colours are resampled until this holds.
* Finally Gaussian pixel noise (sigma = 8/255, i.e. 8 grey levels) is added to
  the whole image, which is then rounded and clipped to uint8.

Shapes are rasterised without anti-aliasing (pixel-centre tests / cv2.fillPoly
with LINE_8), so a scene is a deterministic function of its seed.

SEED RULE: training uses seeds < 1_000_000 only; evaluation / tests of the C
tool use seed 20261127 and above (never seen in training).
``generate_set(seed, count)`` draws scene i from ``numpy.random.default_rng([seed, i])``.

API
---
``generate(rng_or_seed, n_objects=None) -> (image uint8 [224,224,3], objects)``
where ``objects`` is a list of ``dict(cls=int, name=str, bbox=(x0, y0, x1, y1))``
with an inclusive-exclusive pixel box (x1 = last column + 1).

CLI: ``python3 models/shapes/scenes.py --seed S --count N --out DIR [--objects 1|2]``
writes ``DIR/scene_00000.png ...`` and ``DIR/scenes.json``.
"""
import argparse
import json
import math
import os

import cv2
import numpy as np

SIZE = 224
NAMES = ["circle", "square", "triangle", "star", "cross", "ring", "hexagon", "crescent"]
NUM_CLASSES = len(NAMES)
MIN_BOX, MAX_BOX = 48, 96
MARGIN = 4
MIN_CONTRAST = 80.0
NOISE_SIGMA = 8.0  # in 0..255 units
TRAIN_SEED_LIMIT = 1_000_000
EVAL_SEED_BASE = 20261127

_SHIFT = 4  # fillPoly sub-pixel bits


def _rng(rng_or_seed):
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


# ---------------------------------------------------------------- shapes ----
def _regular(n, r, rot):
    a = rot + np.arange(n) * 2 * math.pi / n
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


def _rotate(pts, rot):
    c, s = math.cos(rot), math.sin(rot)
    return pts @ np.array([[c, s], [-s, c]])


def _shape_spec(cls, rng):
    """Shape in unit coordinates (roughly radius 1): ('poly', pts) or ('implicit', fn)."""
    deg = math.pi / 180
    if cls == 0:  # circle
        return ("implicit", lambda x, y: x * x + y * y <= 1.0)
    if cls == 1:  # square, +-15 deg
        rot = rng.uniform(-15, 15) * deg
        return ("poly", _rotate(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float), rot))
    if cls == 2:  # equilateral triangle, any rotation
        return ("poly", _regular(3, 1.0, rng.uniform(0, 2 * math.pi)))
    if cls == 3:  # five-pointed star
        rot = rng.uniform(0, 2 * math.pi)
        inner = rng.uniform(0.40, 0.50)
        a = rot + np.arange(10) * math.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, inner)
        return ("poly", np.stack([r * np.cos(a), r * np.sin(a)], 1))
    if cls == 4:  # plus sign, equal arms, +-15 deg
        rot = rng.uniform(-15, 15) * deg
        w = rng.uniform(0.30, 0.40)  # half arm width (arm length from centre = 1)
        p = np.array([[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1],
                      [-w, w], [-1, w], [-1, -w], [-w, -w]], float)
        return ("poly", _rotate(p, rot))
    if cls == 5:  # ring
        q = rng.uniform(0.40, 0.60)
        return ("implicit", lambda x, y, q=q: (x * x + y * y <= 1.0) & (x * x + y * y >= q * q))
    if cls == 6:  # regular hexagon
        return ("poly", _regular(6, 1.0, rng.uniform(0, 2 * math.pi)))
    if cls == 7:  # crescent: unit disc minus disc of radius r2 offset by d
        phi = rng.uniform(0, 2 * math.pi)
        r2 = rng.uniform(0.80, 0.95)
        d = rng.uniform(0.40, 0.60)
        ox, oy = d * math.cos(phi), d * math.sin(phi)
        return ("implicit", lambda x, y: (x * x + y * y <= 1.0)
                & ((x - ox) ** 2 + (y - oy) ** 2 > r2 * r2))
    raise ValueError(cls)


def _rasterise(spec, scale):
    """Boolean mask cropped to the tight box of the shape drawn at `scale` px per unit."""
    n = int(math.ceil(2 * scale)) + 6
    c = n / 2.0
    kind, obj = spec
    if kind == "poly":
        m = np.zeros((n, n), np.uint8)
        # pixel centres are at integer+0.5 in continuous coords -> shift by -0.5
        pts = np.round((obj * scale + c - 0.5) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(m, [pts], 1, lineType=cv2.LINE_8, shift=_SHIFT)
        m = m.astype(bool)
    else:
        coords = (np.arange(n) + 0.5 - c) / scale
        m = obj(coords[None, :], coords[:, None])
    ys, xs = np.nonzero(m)
    return m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _make_mask(cls, rng):
    for _ in range(100):
        target = rng.integers(MIN_BOX, MAX_BOX + 1)
        spec = _shape_spec(cls, rng)
        scale = target / 2.0
        m = _rasterise(spec, scale)
        for _ in range(3):
            ext = max(m.shape)
            if ext == target:
                break
            scale *= target / ext
            m = _rasterise(spec, scale)
        if MIN_BOX <= max(m.shape) <= MAX_BOX:
            return m
    raise RuntimeError("could not make shape mask")


# ------------------------------------------------------------ background ----
_YS, _XS = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5


def _gradient(rng):
    c0 = rng.uniform(0, 255, 3)
    c1 = rng.uniform(0, 255, 3)
    ang = rng.uniform(0, 2 * math.pi)
    p = _XS * math.cos(ang) + _YS * math.sin(ang)
    t = (p - p.min()) / (p.max() - p.min())
    return c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]


def _boxes_overlap(a, b, margin=MARGIN):
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0]
                or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def min_contrast(colour, bg, bbox):
    """Minimum RGB distance between `colour` and the background under bbox."""
    x0, y0, x1, y1 = bbox
    region = bg[y0:y1, x0:x1].reshape(-1, 3)
    return float(np.sqrt(((region - np.asarray(colour, float)) ** 2).sum(1)).min())


def generate(rng_or_seed, n_objects=None, return_info=False):
    rng = _rng(rng_or_seed)
    while True:
        if n_objects is None:
            n = int(rng.integers(1, 3))
        else:
            n = int(n_objects)
        assert n in (1, 2)
        classes = [int(c) for c in rng.choice(NUM_CLASSES, n, replace=False)]
        bg = _gradient(rng)
        img = bg.copy()
        for _ in range(int(rng.integers(0, 4))):
            p0 = tuple(int(v) for v in rng.integers(0, SIZE, 2))
            p1 = tuple(int(v) for v in rng.integers(0, SIZE, 2))
            col = tuple(float(v) for v in rng.uniform(0, 255, 3))
            cv2.line(img, p0, p1, col, int(rng.integers(1, 3)), lineType=cv2.LINE_8)
        objects, colours, ok = [], [], True
        for cls in classes:
            mask = _make_mask(cls, rng)
            h, w = mask.shape
            placed = None
            for _ in range(200):
                x0 = int(rng.integers(0, SIZE - w + 1))
                y0 = int(rng.integers(0, SIZE - h + 1))
                box = (x0, y0, x0 + w, y0 + h)
                if not any(_boxes_overlap(box, o["bbox"]) for o in objects):
                    placed = box
                    break
            if placed is None:
                ok = False
                break
            for _ in range(1000):
                col = rng.uniform(0, 255, 3)
                if min_contrast(col, bg, placed) >= MIN_CONTRAST:
                    break
            else:
                ok = False
                break
            col = np.round(col)
            x0, y0, x1, y1 = placed
            img[y0:y1, x0:x1][mask] = col
            objects.append(dict(cls=cls, name=NAMES[cls], bbox=placed))
            colours.append(col)
        if ok:
            break
    img = img + rng.normal(0.0, NOISE_SIGMA, img.shape)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    if return_info:
        return img, objects, dict(background=bg, colours=colours)
    return img, objects


def generate_set(seed, count, n_objects=None):
    """Yields (image, objects) for scenes i = 0..count-1 (scene i uses rng [seed, i])."""
    for i in range(count):
        yield generate(np.random.default_rng([seed, i]), n_objects)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--objects", type=int, choices=[1, 2], default=None,
                    help="objects per scene (default: random 1 or 2)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    meta = dict(seed=a.seed, count=a.count, size=SIZE, labels=NAMES, scenes=[])
    for i, (img, objs) in enumerate(generate_set(a.seed, a.count, a.objects)):
        fn = "scene_%05d.png" % i
        cv2.imwrite(os.path.join(a.out, fn), img[:, :, ::-1])
        meta["scenes"].append(dict(file=fn, objects=[
            dict(cls=o["cls"], name=o["name"], bbox=list(o["bbox"])) for o in objs]))
    with open(os.path.join(a.out, "scenes.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
