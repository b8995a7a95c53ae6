#!/usr/bin/python3
"""models/shapes/methods_table.py [--scenes N] [--road-scenes M] [--slow-scenes K] [--slow-from S] [--methods a,b]
                                  [--layers l,m] [--threads T] [--out F.json]
models/shapes/methods_table.py --merge A.json B.json ...

Which CAM methods localise? Every method of the family, through build/gradcam (the same .wasm as the
page), on fresh scenes of the offline shapes model whose objects' boxes are known (seeds >= 20261127,
as tests/test_shapes_quality.py: never used in training; N/2 single-object and N/2 two-object scenes):
  pointing game   the CAM's argmax lies inside the object's box grown by 8 px (clipped)
  in > out        the CAM's mean inside the box is larger than outside it
  ROADCombined    pytorch-grad-cam's (mean LeRF - mean MoRF) / 2 at percentiles 10..90, noise 0.01,
                  on the first M scenes' objects (19 network passes per object: the costly column)
One row per method and layer, every present object of every scene explained for its own class.
Score-CAM, and Ablation-CAM below layer4, run one network pass per channel; they use K scenes from scene S
(default 0; said in the row). Prints a Markdown table (the README's) and writes the numbers to --out as JSON.
The scenes are the same on every run (fixed seeds), so a slow row can be measured in parts that another run
adds up: e.g. `--methods scorecam --slow-from 0 --slow-scenes 100` with ROAD, then `--slow-from 100
--slow-scenes 100 --road-scenes 0`, ...; `--merge` sums the parts' counts per method and layer (refusing
overlapping parts) and prints the table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import scenes as gen  # noqa: E402
from evaluate import loc_metrics  # noqa: E402  (the pointing game and in > out, as the model's own evaluation)

GRADCAM = os.path.join(ROOT, "build", "gradcam")
MODEL = os.path.join(ROOT, "models", "shapes", "resnet18-shapes.safetensors")
METHODS = ["gradcam", "hirescam", "gradcam++", "xgradcam", "layercam", "gradcamelementwise", "eigencam",
           "eigengradcam", "segeigencam", "kpcacam", "fem", "scorecam", "ablationcam", "fullgrad", "shapleycam",
           "finercam"]


def make_scenes(d, n):
    import cv2

    out = []
    for n_obj, seed in ((1, 20261127), (2, 20261128)):
        for i, (img, objs) in enumerate(gen.generate_set(seed, n // 2, n_obj)):
            p = os.path.join(d, f"s{n_obj}_{i:03d}.png")
            cv2.imwrite(p, img[:, :, ::-1])
            out.append((p, objs))
    # interleave single and pair scenes so that "the first K" has both kinds
    half = len(out) // 2
    return [s for pair in zip(out[:half], out[half:]) for s in pair]


def explain(images, cls, method, layer, d, threads, metrics=False):
    """threads: the CLI's --threads (0: its default, every core)"""
    args = [GRADCAM, "explain", *images, "--model", MODEL, "--class", str(cls), "--layer", layer, "--method", method,
            "--out-dir", d, "--json", *(["--threads", str(threads)] if threads else [])]
    if metrics:
        args.append("--metrics")
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{method} {layer}: {p.stderr.strip()}")
    return [json.loads(line) for line in p.stdout.splitlines()]


def row(scenes, method, layer, road_n, tmp, threads):
    by_class = {}
    for i, (path, objs) in enumerate(scenes):
        for o in objs:
            by_class.setdefault(o["cls"], []).append((i, path, o["bbox"]))
    hits = contrast = total = 0
    road = []
    t0 = time.time()
    for cls, items in sorted(by_class.items()):
        d = tempfile.mkdtemp(dir=tmp)
        rows = explain([p for _, p, _ in items], cls, method, layer, d, threads)
        with_road = [(i, p) for i, p, _ in items if i < road_n]
        if with_road:
            dr = tempfile.mkdtemp(dir=tmp)
            road += [r["metrics"]["road_combined"] for r in explain([p for _, p in with_road], cls, method, layer, dr, threads, True)]
        for (_, path, bbox), r in zip(items, rows):
            cam = np.load(os.path.join(d, os.path.splitext(os.path.basename(path))[0] + ".cam.npy"))
            hit, more_inside = loc_metrics(cam, bbox)
            hits += int(hit)
            contrast += int(more_inside)
            total += 1
    return {"method": method, "layer": layer, "objects": total, "scenes": len(scenes), "pointing": hits / total,
            "in_gt_out": contrast / total, "hits": hits, "contrast": contrast,
            "road_combined": float(np.mean(road)) if road else None, "road_objects": len(road),
            "seconds": time.time() - t0}


def merge(files):
    """The rows of several runs' JSON, one per method and layer: counts summed, ROAD weighted by objects."""
    parts = {}
    for f in files:
        with open(f) as fh:
            for r in json.load(fh):
                parts.setdefault((r["method"], r["layer"]), []).append(r)
    out = []
    for (method, layer), rs in parts.items():
        spans = sorted((r.get("first_scene", 0), r.get("first_scene", 0) + r["scenes"]) for r in rs)
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
            raise SystemExit(f"methods_table: --merge: {method} {layer}: parts overlap: {spans}")
        count = lambda k, frac: sum(r.get(k, round(r[frac] * r["objects"])) for r in rs)  # noqa: E731
        objects, road_n = sum(r["objects"] for r in rs), sum(r["road_objects"] for r in rs)
        road = sum(r["road_combined"] * r["road_objects"] for r in rs if r["road_objects"])
        out.append({"method": method, "layer": layer, "objects": objects, "scenes": sum(r["scenes"] for r in rs),
                    "pointing": count("hits", "pointing") / objects, "in_gt_out": count("contrast", "in_gt_out") / objects,
                    "road_combined": road / road_n if road_n else None, "road_objects": road_n})
    return out


def table(results):
    print("| method | layer | scenes (objects) | pointing game (argmax in box+8) | mean in > out | ROADCombined (objects) |")
    print("|---|---|---|---|---|---|")
    for r in results:
        road = f"{r['road_combined']:+.4f} ({r['road_objects']})" if r["road_combined"] is not None else "–"
        print(f"| {r['method']} | {r['layer']} | {r['scenes']} ({r['objects']}) | {r['pointing']:.1%} | "
              f"{r['in_gt_out']:.1%} | {road} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=300)
    ap.add_argument("--road-scenes", type=int, default=30)
    ap.add_argument("--slow-scenes", type=int, default=20)
    ap.add_argument("--slow-from", type=int, default=0, help="the slow methods' first scene")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="add up earlier runs' rows and print the table")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--layers", default="layer4,layer3")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "methods_table.json"))
    ap.add_argument("--threads", type=int, default=0, help="the CLI's --threads (0: its default, every core)")
    a = ap.parse_args()
    if a.merge:
        return table(merge(a.merge))
    if a.slow_from + a.slow_scenes > a.scenes:
        ap.error("--slow-from + --slow-scenes must not exceed --scenes")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        all_scenes = make_scenes(tmp, a.scenes)
        for layer in a.layers.split(","):
            for m in a.methods.split(","):
                slow = m == "scorecam" or (m == "ablationcam" and layer != "layer4")  # layer4: a closed form
                first = a.slow_from if slow else 0
                sc = all_scenes[first:first + a.slow_scenes] if slow else all_scenes
                r = {**row(sc, m, layer, min(a.road_scenes, len(sc)), tmp, a.threads), "first_scene": first}
                results.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
                with open(a.out, "w") as f:
                    json.dump(results, f, indent=1)
    table(results)


if __name__ == "__main__":
    main()
