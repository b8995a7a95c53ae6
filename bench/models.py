#!/usr/bin/python3
"""bench/models.py OUT_DIR [--arch ARCH] [--f16] [--no-onnx]: the benchmark's inputs, made here (nothing is
downloaded), once per version.

  seeded.pth               the seeded torchvision ARCH of the tests (default resnet18: tests/conftest.py
                           seeded_resnet18, 1000 classes, randomised BatchNorm statistics; another member of
                           the family: seeded_resnet(ARCH) with the tests' FAMILY_GAIN), torch.save'd
  seeded.safetensors       the same through models/convert, F32 (what our engine loads)
  seeded-f16.safetensors   (--f16) the same weights rounded to F16 and written as F16 (bench/heap.js)
  seeded.onnx              the same through Debian torch's torch.onnx.export, opset 13 (what ONNX Runtime
                           loads; --no-onnx skips it: bench/heap.js needs none)
  input224.png             both.png resized to 224x224 (so no side resizes: every engine gets the model input)
  input224.npy             that image normalised as the tests do, [1, 3, 224, 224] float32 (ONNX Runtime's input)

The folder is keyed by bench/run (hash of tests/conftest.py, models/convert and this file; the arch in the
name when it is not resnet18). Each file is made only when missing, so a later --f16 or ONNX run adds to
a folder. Run with /usr/bin/python3 (Debian's torch 1.13), not a pyenv python.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2", "wide_resnet101_2")


def seeded_model(arch):
    """The tests' seeded model of that arch (the same weights test_*_torch.py compare against)."""
    import conftest

    if arch == "resnet18":
        return conftest.seeded_resnet18()
    if not hasattr(conftest, "seeded_resnet"):
        sys.exit(f"bench/models.py: tests/conftest.py has no seeded_resnet(arch): only resnet18 here")
    # the deep members need the tests' damping, or their logits reach 1e5..1e8 (see FAMILY_GAIN)
    return conftest.seeded_resnet(arch, residual_gain=getattr(conftest, "FAMILY_GAIN", {}).get(arch, 1.0))


def convert(pth, st, f16=False):
    tmp = st + ".tmp"
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert"), pth, tmp, *(["--f16"] if f16 else [])],
                   check=True, stdout=subprocess.DEVNULL)
    os.replace(tmp, st)  # a killed run leaves no half file that a later run would take for done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--arch", default="resnet18", choices=ARCHS)
    ap.add_argument("--f16", action="store_true")
    ap.add_argument("--no-onnx", action="store_true")
    a = ap.parse_args()
    out = a.out
    os.makedirs(out, exist_ok=True)
    p = lambda f: os.path.join(out, f)  # noqa: E731
    want = ["seeded.pth", "seeded.safetensors", "input224.png", "input224.npy", "logits_torch.npy"]
    want += ["seeded-f16.safetensors"] if a.f16 else []
    want += [] if a.no_onnx else ["seeded.onnx"]
    if all(os.path.exists(p(f)) for f in want):
        return
    import torch
    from conftest import to_tensor

    torch.set_num_threads(2)
    m = seeded_model(a.arch)
    if not os.path.exists(p("seeded.safetensors")):
        torch.save(m.state_dict(), p("seeded.pth"))
        convert(p("seeded.pth"), p("seeded.safetensors"))
    if a.f16 and not os.path.exists(p("seeded-f16.safetensors")):
        # saved as half and converted with --f16: models/convert copies F16 storages as they are (F32 -> F16
        # in convert goes through struct one value at a time, minutes for resnet152)
        sd = {k: (v.half() if v.dtype == torch.float32 else v) for k, v in m.state_dict().items()}
        torch.save(sd, p("seeded-f16.pth"))
        convert(p("seeded-f16.pth"), p("seeded-f16.safetensors"), f16=True)
        os.remove(p("seeded-f16.pth"))
    if not a.no_onnx and not os.path.exists(p("seeded.onnx")):
        x = torch.zeros(1, 3, 224, 224)
        torch.onnx.export(m, x, p("seeded.onnx.tmp"), opset_version=13, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True)
        os.replace(p("seeded.onnx.tmp"), p("seeded.onnx"))
    shared = os.path.join(os.path.dirname(ROOT), "shared", "images", "both.png")
    src = shared if os.path.exists(shared) else os.path.join(ROOT, "web", "samples", "both.png")
    from PIL import Image

    img = Image.open(src).convert("RGB").resize((224, 224), Image.BILINEAR)
    img.save(p("input224.png"))
    rgb = np.asarray(img)
    np.save(p("input224.npy"), to_tensor(rgb).numpy().astype(np.float32))
    with torch.no_grad():
        np.save(p("logits_torch.npy"), m(to_tensor(rgb)).numpy()[0])
    if not os.path.exists(p("seeded.pth")):
        torch.save(m.state_dict(), p("seeded.pth"))  # torch_vs_engine.py loads it


if __name__ == "__main__":
    main()
