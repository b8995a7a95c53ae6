#!/usr/bin/python3
"""bench/methods.py [--methods a,b] [--threads 1,2] [--runs N] [--layer L] [--out F.json]: per CAM method,
our time per image against pytorch-grad-cam's computation on native PyTorch CPU, same weights, same image,
same thread count. Figures only (printed as a Markdown table, written as JSON); no assertion.

Reference side: tests/cam_reference.py, which does the work the library does (hooks, a backward pass that
also forms the weight gradients, Score-CAM's one forward per channel in batches of 16, Ablation-CAM's whole
model rerun per channel in batches of 32, FullGrad's hooks on every BatchNorm and its per-channel resizes),
plus show_cam_on_image. The class is given (as `targets`), so it runs one forward like the library.
Our side: bench/engine-server.js "method NAME LAYER FLAGS": gc_js_classify (RGBA → resize → normalise →
forward) + the explain job + the overlay, in the CLI's Node engine (single-threaded build at 1 thread,
threaded build otherwise; relaxed SIMD where it was built, as the CLI, else SIMD; $GC_ENGINE chooses). Runs alternate (reference, ours, for each thread count) after one warm-up, so
both sides see the same minute of this noisy machine. Rows: every method at --layer, plus Grad-CAM with
aug_smooth and with eigen_smooth. Slow methods (scorecam, ablationcam below layer4) run 1 round.
Run with /usr/bin/python3 (Debian's torch 1.13): `bench/methods.py --runs 3`.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import cam_reference as ref  # noqa: E402
from conftest import load_rgb, seeded_resnet18, show_cam_on_image, to_tensor  # noqa: E402

ROWS = [(m, 0) for m in ref.METHODS] + [("gradcam", 2), ("gradcam", 1)]  # flags: 1 eigen, 2 aug
SLOW = {"scorecam", "ablationcam"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default=",".join(ref.METHODS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--layer", default="layer4")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "methods.json"))
    a = ap.parse_args()
    import tempfile

    import torch

    torch.set_num_interop_threads(1)
    model = seeded_resnet18()
    image = os.path.join(os.path.dirname(ROOT), "shared", "images", "both.png")
    rgb = load_rgb(image)
    with torch.no_grad():
        cls = int(model(to_tensor(rgb))[0].argmax())
    tmp = tempfile.mkdtemp()
    st = os.path.join(tmp, "seeded.safetensors")
    torch.save(model.state_dict(), os.path.join(tmp, "seeded.pth"))
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert"), os.path.join(tmp, "seeded.pth"), st],
                   check=True)
    threads = [int(t) for t in a.threads.split(",")]
    relaxed = os.path.exists(os.path.join(ROOT, "build", "web", "gradcam-engine-relaxed.wasm"))
    env = {**os.environ, "GC_ENGINE": os.environ.get("GC_ENGINE") or ("relaxed" if relaxed else "simd")}
    engines = {}
    for T in threads:
        engines[T] = subprocess.Popen(["node", os.path.join(ROOT, "bench", "engine-server.js"), st, image, str(T)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        r = json.loads(engines[T].stdout.readline())
        if "error" in r:
            raise RuntimeError(r["error"])

    def ours(T, method, flags):
        e = engines[T]
        e.stdin.write(f"method {method} {a.layer} {flags}\n")
        e.stdin.flush()
        r = json.loads(e.stdout.readline())
        if "error" in r:
            raise RuntimeError(f"{method}: {r['error']}")
        return r["wall"]

    def theirs(method, flags):
        t0 = time.perf_counter()
        cam = ref.reference_cam(model, to_tensor(rgb), method, a.layer, target_class=cls,
                                eigen_smooth=bool(flags & 1), aug_smooth=bool(flags & 2))
        show_cam_on_image(np.float32(rgb) / 255, cam, 0.5)
        return (time.perf_counter() - t0) * 1e3

    wanted = set(a.methods.split(","))
    results = []
    for method, flags in ROWS:
        if method not in wanted:
            continue
        slow = method in SLOW and not (method == "ablationcam" and a.layer == "layer4")
        runs = 1 if slow else a.runs
        for T in threads:
            torch.set_num_threads(T)
            t_ref, t_ours = [], []
            for r in range(runs + (0 if slow else 1)):
                time.sleep(0.3)  # let the other side's spinning threads go to sleep
                tr = theirs(method, flags)
                time.sleep(0.3)
                to = ours(T, method, flags)
                if slow or r > 0:
                    t_ref.append(tr)
                    t_ours.append(to)
            row = {"method": method, "eigen_smooth": bool(flags & 1), "aug_smooth": bool(flags & 2), "threads": T,
                   "ours_ms": float(np.median(t_ours)), "reference_ms": float(np.median(t_ref)), "runs": len(t_ours)}
            row["ratio"] = row["ours_ms"] / row["reference_ms"]
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    for e in engines.values():
        e.stdin.write("quit\n")
        e.stdin.flush()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"layer": a.layer, "torch": torch.__version__, "engine": env["GC_ENGINE"], "rows": results}, f, indent=1)
    print(f"ours: the {env['GC_ENGINE']} engine; PyTorch {torch.__version__}")
    print(f"| method ({a.layer}) | threads | ours | pytorch-grad-cam's computation | ratio |")
    print("|---|---|---|---|---|")
    for r in results:
        name = r["method"] + (" + aug_smooth" if r["aug_smooth"] else "") + (" + eigen_smooth" if r["eigen_smooth"] else "")
        print(f"| {name} | {r['threads']} | {r['ours_ms']:.0f} ms | {r['reference_ms']:.0f} ms | {r['ratio']:.2f}× |")


if __name__ == "__main__":
    main()
