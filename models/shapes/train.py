#!/usr/bin/env python3
"""Train torchvision resnet18(num_classes=8) multi-label on synthetic shapes scenes.

CPU only, 2 threads.  The scenes (see scenes.py; training seeds < 1_000_000) are
pre-generated into memory as uint8 (224 px and a downscaled low-res copy).
Progressive resizing (`--phases`): fractions of the *wall-time* budget are
trained at lower resolutions (scenes downscaled with INTER_AREA), the last one
at 224 (the evaluation resolution).  The LR
schedule (linear warm-up + cosine to 0) is also a function of elapsed wall time
so training ends on time even when the machine is shared; the number of steps
actually done is printed and stored in the checkpoint.

Outputs:
  <ckpt>                                    F32 state dict (+ step info), periodically
  models/shapes/resnet18-shapes.pth         final F32 state dict (NOT committed)
  models/shapes/resnet18-shapes.safetensors F16, torchvision names, no num_batches_tracked
"""
import argparse
import json
import math
import os
import struct
import sys
import time
from multiprocessing import Pool

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # <repo>/models for safetensors.py
import scenes  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
TRAIN_SEED = 1          # scene i of the training set: default_rng([TRAIN_SEED, i])
VAL_SEED = 999_999      # validation during training (still < 1_000_000)

def _gen(args):
    seed, i = args
    img, objs = scenes.generate(np.random.default_rng([seed, i]), n_objects=1 + (i % 2))
    lab = np.zeros(scenes.NUM_CLASSES, np.float32)
    for o in objs:
        lab[o["cls"]] = 1
    return img, lab


def make_dataset(seed, n, workers=2, cache_dir=None):
    """Scene i = generate(default_rng([seed, i]), n_objects=1 + i % 2)  (50/50 one/two objects)."""
    if cache_dir:
        fi = os.path.join(cache_dir, "scenes_%d_%d.npy" % (seed, n))
        fl = os.path.join(cache_dir, "labels_%d_%d.npy" % (seed, n))
        if os.path.exists(fi) and os.path.exists(fl):
            return np.load(fi), np.load(fl)
    hi = np.empty((n, 224, 224, 3), np.uint8)
    lab = np.empty((n, scenes.NUM_CLASSES), np.float32)
    with Pool(workers) as pool:
        for i, (a, c) in enumerate(pool.imap(_gen, [(seed, i) for i in range(n)], chunksize=64)):
            hi[i], lab[i] = a, c
    if cache_dir:
        np.save(fi, hi)
        np.save(fl, lab)
    return hi, lab


def resize_batch(batch, res):
    if res == batch.shape[1]:
        return batch
    return np.stack([cv2.resize(im, (res, res), interpolation=cv2.INTER_AREA) for im in batch])


def to_tensor(batch_u8):
    x = (batch_u8.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def dihedral(batch, rng):
    out = np.empty_like(batch)
    for j in range(len(batch)):
        im = np.rot90(batch[j], int(rng.integers(0, 4)))
        if rng.integers(0, 2):
            im = im[:, ::-1]
        out[j] = im
    return out


@torch.no_grad()
def evaluate_acc(model, imgs, labs, bs=64):
    model.eval()
    logits = torch.cat([model(to_tensor(imgs[i:i + bs])) for i in range(0, len(imgs), bs)])
    model.train()
    n = labs.sum(1).astype(int)
    top = torch.argsort(logits, 1, descending=True).numpy()
    ok1 = [labs[i, top[i, 0]] == 1 for i in range(len(n)) if n[i] == 1]
    ok2 = [set(top[i, :2]) == set(np.nonzero(labs[i])[0]) for i in range(len(n)) if n[i] == 2]
    return float(np.mean(ok1)), float(np.mean(ok2))


def export_state(sd, pth_path, st_path, metadata):
    sd = {k: v.detach().float().cpu() for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, pth_path)
    tensors = {}
    for k, v in sd.items():
        a = v.numpy().astype("<f2")
        tensors[k] = ("F16", list(a.shape), a.tobytes())
    try:
        from safetensors import save  # models/safetensors.py (repo module)
        save(st_path, tensors, metadata)
        how = "models/safetensors.py"
    except Exception as e:  # module not written yet (or broken): fallback
        _save_inline(st_path, tensors, metadata)
        how = "inline fallback writer (%s: %s)" % (type(e).__name__, e)
    return how


def _save_inline(path, tensors, metadata=None):
    """Fallback minimal safetensors writer (same format as models/safetensors.py)."""
    header, off = {}, 0
    for k in sorted(tensors):
        dt, shape, raw = tensors[k]
        header[k] = dict(dtype=dt, shape=list(shape), data_offsets=[off, off + len(raw)])
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for k in sorted(tensors):
            f.write(tensors[k][2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scenes", type=int, default=30000)
    ap.add_argument("--val", type=int, default=256)
    ap.add_argument("--budget-min", type=float, default=90.0, help="wall-time budget of the training loop")
    ap.add_argument("--phases", default="96:0.6,160:0.8,224:1.0",
                    help="res:end_fraction,... progressive resizing as fractions of the time budget")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.03)
    ap.add_argument("--init", default=None, help="start from this checkpoint / state dict (fine-tuning)")
    ap.add_argument("--ckpt", default="/tmp/shapes-train/ckpt.pth")
    ap.add_argument("--ckpt-every-min", type=float, default=6.0)
    ap.add_argument("--out-pth", default=os.path.join(HERE, "resnet18-shapes.pth"))
    ap.add_argument("--out-st", default=os.path.join(HERE, "resnet18-shapes.safetensors"))
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    rng = np.random.default_rng(a.seed)
    torch.set_num_threads(2)
    os.makedirs(os.path.dirname(a.ckpt), exist_ok=True)
    t_start = time.time()
    print("args:", vars(a), flush=True)

    cache = os.path.dirname(a.ckpt)
    hi, lab = make_dataset(TRAIN_SEED, a.scenes, cache_dir=cache)
    vhi, vlab = make_dataset(VAL_SEED, a.val, cache_dir=cache)
    phases = [(int(r), float(e)) for r, e in (p.split(":") for p in a.phases.split(","))]
    print("generated %d train + %d val scenes in %.0f s" % (a.scenes, a.val, time.time() - t_start), flush=True)

    model = torchvision.models.resnet18(num_classes=scenes.NUM_CLASSES).to(memory_format=torch.channels_last)
    if a.init:
        sd = torch.load(a.init, map_location="cpu")
        model.load_state_dict(sd.get("state_dict", sd), strict=False)
        print("initialised from", a.init, flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=a.wd), dict(params=no_decay, weight_decay=0.0)],
                            lr=a.lr)
    model.train()

    budget = a.budget_min * 60.0
    t0 = time.time()
    last_ckpt = t0
    step, seen, lr = 0, 0, 0.0
    win_t, win_n, win_loss = time.time(), 0, []
    phase = None

    def lr_at(p):
        if p < a.warmup:
            return a.lr * p / a.warmup
        q = (p - a.warmup) / (1 - a.warmup)
        return a.lr * 0.5 * (1 + math.cos(math.pi * min(q, 1.0)))

    def save_ckpt(final=False):
        sd = model.state_dict()
        torch.save(dict(state_dict=sd, step=step, seen=seen, elapsed=time.time() - t_start, args=vars(a)), a.ckpt)
        # gradcam.head tells the engine this is a multi-label model: per-class sigmoid probabilities.
        meta = {"gradcam.head": "sigmoid"}
        meta.update(model="torchvision resnet18(num_classes=8)", labels=",".join(scenes.NAMES),
                    input="224x224 RGB, (x/255-mean)/std, mean=0.485,0.456,0.406 std=0.229,0.224,0.225",
                    training="models/shapes/train.py, step %d, %s" % (step, "final" if final else "checkpoint"))
        how = export_state(sd, a.out_pth, a.out_st, meta)
        print("saved checkpoint (step %d) + %s via %s" % (step, a.out_st, how), flush=True)

    while True:
        p = (time.time() - t0) / budget
        if p >= 1.0:
            break
        res = next(r for r, e in phases if p < e)
        if res != phase:
            print("phase: res %d from step %d (t=%.0f s)" % (res, step, time.time() - t0), flush=True)
            phase = res
        lr = lr_at(p)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, len(lab), a.batch)
        xb = resize_batch(dihedral(hi[idx], rng), res)
        x = to_tensor(xb)
        y = torch.from_numpy(lab[idx])
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += a.batch
        win_n += a.batch
        win_loss.append(loss.item())
        if step % 25 == 0:
            now = time.time()
            print("step %5d res %3d lr %.2e loss %.4f  %.1f img/s  elapsed %.1f min  ETA %.1f min" % (
                step, res, lr, np.mean(win_loss), win_n / (now - win_t), (now - t0) / 60,
                (budget - (now - t0)) / 60), flush=True)
            win_t, win_n, win_loss = now, 0, []
        if time.time() - last_ckpt > a.ckpt_every_min * 60:
            a1, a2 = evaluate_acc(model, vhi, vlab)
            print("val@224 step %d: single top1 %.3f  pair top2 %.3f" % (step, a1, a2), flush=True)
            save_ckpt()
            last_ckpt = time.time()
            win_t, win_n = time.time(), 0

    train_time = time.time() - t0
    a1, a2 = evaluate_acc(model, vhi, vlab)
    print("final val@224 (%d scenes): single top1 %.3f  pair top2 %.3f" % (len(vlab), a1, a2), flush=True)
    save_ckpt(final=True)
    print("done: %d steps, %d images seen, training loop %.1f min, total wall %.1f min" % (
        step, seen, train_time / 60, (time.time() - t_start) / 60), flush=True)


if __name__ == "__main__":
    main()
