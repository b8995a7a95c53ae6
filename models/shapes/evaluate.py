#!/usr/bin/env python3
"""PyTorch-side evaluation of the shapes ResNet-18 (F32 .pth and F16 .safetensors).

Fresh scenes (seed >= 20261127, never used in training): N/2 single-object
scenes = generate_set(seed, N/2, n_objects=1), N/2 two-object scenes =
generate_set(seed + 1, N/2, n_objects=2).  All at 224x224.

Metrics
  single top-1   : argmax of the 8 logits is the present class
  pair top-2     : the two highest logits are exactly the two present classes
  CAM argmax-in  : for every present class, argmax of its Grad-CAM (upsampled to
                   224) lies inside the object's bbox grown by 8 px (clipped)
  CAM in > out   : mean CAM inside the (tight) bbox > mean CAM outside it

Grad-CAM follows pytorch-grad-cam (GradCAM + ClassifierOutputTarget): forward
hook stores the target layer's activations A, a tensor hook its gradient dY_c/dA;
w_k = mean_{h,w} grad; cam = ReLU(sum_k w_k A_k); cam -= min; cam /= (max + 1e-7);
cv2.resize(cam, (224, 224)) (INTER_LINEAR).  Layers: model.layer4 and model.layer3.
"""
import argparse
import json
import os
import struct
import sys
import time

import cv2
import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scenes  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
GROW = 8


def to_tensor(batch_u8):
    x = (batch_u8.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def load_safetensors(path):
    """Minimal reader (F16/F32) -> dict of float32 torch tensors."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        dt = {"F16": "<f2", "F32": "<f4"}[v["dtype"]]
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"]).astype(np.float32)
        out[k] = torch.from_numpy(arr.copy())
    return out, header.get("__metadata__", {})


def make_model(sd):
    m = torchvision.models.resnet18(num_classes=8)
    missing, unexpected = m.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    return m.eval()


class GradCAM:
    def __init__(self, model, layers):
        self.model, self.acts, self.grads = model, {}, {}
        for name in layers:
            getattr(model, name).register_forward_hook(self._hook(name))

    def _hook(self, name):
        def fwd(module, inp, out):
            self.acts[name] = out

            def bwd(g):
                self.grads[name] = g
            out.register_hook(bwd)
        return fwd

    def __call__(self, x, classes_per_image):
        """classes_per_image: list (per image) of lists of class ids (same length k for all).
        Returns logits [B,8] and cams[layer] -> array [k, B, 224, 224]."""
        logits = self.model(x)
        k = len(classes_per_image[0])
        cams = {n: [] for n in self.acts}
        for j in range(k):
            self.model.zero_grad(set_to_none=True)
            idx = torch.tensor([c[j] for c in classes_per_image])
            target = logits[torch.arange(len(idx)), idx].sum()
            target.backward(retain_graph=j + 1 < k)
            for n in self.acts:
                A = self.acts[n].detach().numpy()
                G = self.grads[n].detach().numpy()
                w = G.mean(axis=(2, 3))
                cam = np.maximum((w[:, :, None, None] * A).sum(1), 0)
                res = []
                for c in cam:
                    c = c - c.min()
                    c = c / (1e-7 + c.max())
                    res.append(cv2.resize(c.astype(np.float32), (224, 224)))
                cams[n].append(np.stack(res))
        return logits.detach(), {n: np.stack(v) for n, v in cams.items()}


def loc_metrics(cam, bbox):
    x0, y0, x1, y1 = bbox
    gx0, gy0 = max(0, x0 - GROW), max(0, y0 - GROW)
    gx1, gy1 = min(224, x1 + GROW), min(224, y1 + GROW)
    yy, xx = np.unravel_index(int(np.argmax(cam)), cam.shape)
    arg_in = gx0 <= xx < gx1 and gy0 <= yy < gy1
    inside = np.zeros(cam.shape, bool)
    inside[y0:y1, x0:x1] = True
    return arg_in, float(cam[inside].mean()) > float(cam[~inside].mean())


def evaluate(model, data, layers=("layer4", "layer3"), bs=16):
    gc = GradCAM(model, layers)
    r = dict(single=[], pair=[], **{n: dict(argmax=[], inout=[]) for n in layers})
    all_logits = []
    for kind, imgs, objs in data:
        for s in range(0, len(imgs), bs):
            x = to_tensor(imgs[s:s + bs])
            ob = objs[s:s + bs]
            logits, cams = gc(x, [[o["cls"] for o in oo] for oo in ob])
            all_logits.append(logits)
            top = torch.argsort(logits, 1, descending=True).numpy()
            for i, oo in enumerate(ob):
                present = {o["cls"] for o in oo}
                if kind == "single":
                    r["single"].append(top[i, 0] in present)
                else:
                    r["pair"].append(set(top[i, :2]) == present)
                for j, o in enumerate(oo):
                    for n in layers:
                        a, io = loc_metrics(cams[n][j, i], o["bbox"])
                        r[n]["argmax"].append(a)
                        r[n]["inout"].append(io)
    return r, torch.cat(all_logits)


def summary(r, layers):
    s = dict(single_top1=float(np.mean(r["single"])), pair_top2=float(np.mean(r["pair"])),
             n_single=len(r["single"]), n_pair=len(r["pair"]))
    for n in layers:
        s[n + "_argmax_in_box"] = float(np.mean(r[n]["argmax"]))
        s[n + "_mean_in_gt_out"] = float(np.mean(r[n]["inout"]))
        s["n_cams"] = len(r[n]["argmax"])
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pth", default=os.path.join(HERE, "resnet18-shapes.pth"))
    ap.add_argument("--st", default=os.path.join(HERE, "resnet18-shapes.safetensors"))
    ap.add_argument("--seed", type=int, default=scenes.EVAL_SEED_BASE)
    ap.add_argument("--count", type=int, default=400, help="total scenes (half 1-object, half 2-object)")
    ap.add_argument("--json", default=None, help="write the results here")
    a = ap.parse_args()
    assert a.seed >= scenes.EVAL_SEED_BASE, "evaluation seeds must be >= %d" % scenes.EVAL_SEED_BASE
    torch.set_num_threads(2)
    t0 = time.time()
    half = a.count // 2
    data = []
    for kind, seed, n in (("single", a.seed, 1), ("pair", a.seed + 1, 2)):
        g = list(scenes.generate_set(seed, half, n_objects=n))
        data.append((kind, np.stack([im for im, _ in g]), [o for _, o in g]))

    layers = ("layer4", "layer3")
    results, logits = {}, {}
    variants = []
    if os.path.exists(a.pth):
        sd = torch.load(a.pth, map_location="cpu")
        if "state_dict" in sd:
            sd = sd["state_dict"]
        variants.append(("F32 (.pth)", sd))
    if os.path.exists(a.st):
        sd16, meta = load_safetensors(a.st)
        variants.append(("F16 (.safetensors)", sd16))
    for name, sd in variants:
        r, lg = evaluate(make_model(sd), data, layers)
        results[name] = summary(r, layers)
        logits[name] = lg
    print("evaluated %d scenes (seeds %d/%d) in %.0f s" % (2 * half, a.seed, a.seed + 1, time.time() - t0))
    cols = ["single_top1", "pair_top2", "layer4_argmax_in_box", "layer4_mean_in_gt_out",
            "layer3_argmax_in_box", "layer3_mean_in_gt_out"]
    goal = {"single_top1": 0.98, "pair_top2": 0.95, "layer4_argmax_in_box": 0.90, "layer4_mean_in_gt_out": 0.95}
    print("%-24s" % "metric" + "".join("%20s" % k for k in results) + "%8s" % "goal")
    for c in cols:
        print("%-24s" % c + "".join("%20.4f" % results[k][c] for k in results)
              + ("%8s" % (">=%.2f" % goal[c]) if c in goal else ""))
    if len(logits) == 2:
        l32, l16 = logits.values()
        d = (l32 - l16).abs()
        print("F16 vs F32 logits: max |diff| %.4g, mean |diff| %.4g, argmax agreement %.4f" % (
            d.max().item(), d.mean().item(), (l32.argmax(1) == l16.argmax(1)).float().mean().item()))
        results["f16_vs_f32_logit_max_abs_diff"] = d.max().item()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
