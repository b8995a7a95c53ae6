#!/usr/bin/python3
"""bench/torch_vs_engine.py MODELS_DIR OUT.json [--runs N] [--threads 1,2] [--arch A]: PyTorch CPU against our
engine, on the seeded ResNet (--arch, default resnet18) bench/models.py made in MODELS_DIR.

For each thread count T: PyTorch with torch.set_num_threads(T), and our engine in a Node process
(bench/engine-server.js: the single-threaded build for T = 1, the threaded one with T threads otherwise),
model loaded once on both sides, the same 224x224 image. Runs alternate (PyTorch round, engine round, for
each thread count in turn) after 2 warm-up rounds each, so every side and thread count sees the same machine. A round times, per side:
  forward   uint8 image → normalised tensor → logits (PyTorch under no_grad)
  gradcam   the same + Grad-CAM at layer4 as pytorch-grad-cam computes it: a forward hook keeps the
            activation, a tensor hook its gradient; backward of the top class's logit; channel means of the
            gradient; ReLU of the weighted sum; scale_cam_image; cv2.resize to 224; scale_cam_image;
            show_cam_on_image overlay (image_weight 0.5). Ours: gc_js_classify + gc_js_explain with the overlay.
  pixels    forward + backward of the top logit to the input pixels
Writes {"torch": {T: {row: [ms...]}}, "engine": {T: {...}}, "memory": ...} to OUT.json. Figures only.
Run with /usr/bin/python3 (Debian's torch 1.13).
"""
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from conftest import scale_cam_image, show_cam_on_image  # noqa: E402  (the tests' reference)


class TorchGradCAM:
    """pytorch-grad-cam's GradCAM on one target layer, without the package: its hooks, its CAM."""

    def __init__(self, torch, model, layer):
        self.torch, self.model, self.store = torch, model, {}

        def fwd(_m, _i, out):
            if not out.requires_grad:  # as pytorch-grad-cam: nothing to keep without autograd
                return
            self.store["a"] = out.cpu().detach()

            def keep(g):
                self.store["g"] = g.cpu().detach()

            out.register_hook(keep)

        layer.register_forward_hook(fwd)

    def __call__(self, x):
        z = self.model(x)
        cls = int(z[0].argmax())
        self.model.zero_grad()
        z[0, cls].backward(retain_graph=True)
        a, g = self.store["a"].numpy()[0], self.store["g"].numpy()[0]
        w = np.mean(g, axis=(1, 2))
        cam = np.maximum((w[:, None, None] * a).sum(axis=0), 0)
        cam = scale_cam_image(cam, (x.shape[3], x.shape[2]))
        return scale_cam_image(cam), cls


def blas_in_use():
    """The BLAS library this process mapped. Debian's libblas3 (the default alternative) is netlib's reference
    BLAS, which PyTorch's GEMM paths (1x1 convolutions, the weight gradients) fall back to: ~4x slower than
    OpenBLAS on ResNet-50 here. LD_LIBRARY_PATH=<libopenblas0-openmp's openblas-openmp dir> swaps it."""
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1]}
    return ", ".join(sorted(os.path.realpath(x) for x in libs)) or "none mapped"


def main():
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("models")
    ap.add_argument("out")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--arch", default="resnet18")
    a = ap.parse_args()

    import cv2
    import torch
    import torchvision
    from conftest import to_tensor

    torch.set_num_interop_threads(1)
    # the architecture from torchvision, the weights from the file both sides load (bench/models.py)
    model = getattr(torchvision.models, a.arch)(num_classes=1000)
    model.load_state_dict(torch.load(os.path.join(a.models, "seeded.pth")))
    model.eval()
    image = os.path.join(a.models, "input224.png")
    rgb = cv2.cvtColor(cv2.imread(image), cv2.COLOR_BGR2RGB)
    cammer = TorchGradCAM(torch, model, model.layer4)

    def torch_round():
        # process_time: CPU time of every thread of this process, as the engine side's process.cpuUsage()
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            model(to_tensor(rgb))
        t1, c1 = time.perf_counter(), time.process_time()
        cam, _ = cammer(to_tensor(rgb))
        show_cam_on_image(np.float32(rgb) / 255, cam, 0.5)
        t2, c2 = time.perf_counter(), time.process_time()
        x = to_tensor(rgb).requires_grad_(True)
        z = model(x)
        model.zero_grad()
        z[0, int(z[0].argmax())].backward()
        _ = x.grad.numpy()
        t3, c3 = time.perf_counter(), time.process_time()
        return {"forward": (t1 - t0) * 1e3, "gradcam": (t2 - t1) * 1e3, "pixels": (t3 - t2) * 1e3,
                "forward_cpu": (c1 - c0) * 1e3, "gradcam_cpu": (c2 - c1) * 1e3, "pixels_cpu": (c3 - c2) * 1e3}

    out = {"torch": {}, "engine": {}, "engine_split": {}, "memory": {}, "runs": a.runs,
           "torch_version": torch.__version__, "arch": a.arch, "blas": blas_in_use()}
    node = os.environ.get("NODE", "node")
    threads = [int(t) for t in a.threads.split(",")]
    engines = {}
    for T in threads:
        engines[T] = subprocess.Popen([node, os.path.join(ROOT, "bench", "engine-server.js"),
                                       os.path.join(a.models, "seeded.safetensors"), image, str(T)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = json.loads(engines[T].stdout.readline())
        if "error" in ready:
            raise RuntimeError(f"engine ({T} threads): {ready['error']}")

    def ask(T, cmd):
        eng = engines[T]
        eng.stdin.write(cmd + "\n")
        eng.stdin.flush()
        r = json.loads(eng.stdout.readline())
        if "error" in r:
            raise RuntimeError(f"engine: {r['error']}")
        return r

    tr = {T: {k: [] for k in ("forward", "gradcam", "pixels", "forward_cpu", "gradcam_cpu", "pixels_cpu")}
          for T in threads}
    er = {T: {} for T in threads}
    # One round runs every thread count, PyTorch then ours, so that every figure, and the speed-up from
    # 1 to N threads too, pairs runs from the same minute (this machine's speed drifts by up to 1.7x).
    for r in range(a.runs + 2):
        for T in threads:
            torch.set_num_threads(T)
            # a pause before each side: idle threads of the other one (OpenMP's, pthreadpool's) spin for a
            # while after their last task before they sleep, and must not steal a core from this side
            time.sleep(0.3)
            t = torch_round()
            time.sleep(0.3)
            e = ask(T, "round")
            if r < 2:
                continue  # warm-up
            for k in tr[T]:
                tr[T][k].append(t[k])
            for k, v in e.items():
                er[T].setdefault(k, []).append(v)
    for T in threads:
        out["torch"][T] = tr[T]
        out["engine"][T] = er[T]
        out["memory"][f"engine_{T}"] = ask(T, "memory")
        engines[T].stdin.write("quit\n")
        engines[T].stdin.close()
        engines[T].wait(timeout=30)
    print(f"torch_vs_engine: {', '.join(map(str, threads))} thread(s) done", file=sys.stderr)
    out["memory"]["torch_max_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
