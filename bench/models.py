#!/usr/bin/python3
"""bench/models.py OUT_DIR: the benchmark's inputs, made here (nothing is downloaded), once per version.

  seeded.pth           the seeded torchvision ResNet-18 of the tests (tests/conftest.py seeded_resnet18:
                       1000 classes, randomised BatchNorm statistics), torch.save'd
  seeded.safetensors   the same through models/convert (what our engine loads)
  seeded.onnx          the same through Debian torch's torch.onnx.export, opset 13 (what ONNX Runtime loads)
  input224.png         both.png resized to 224x224 (so no side resizes: every engine gets the model input)
  input224.npy         that image normalised as the tests do, [1, 3, 224, 224] float32 (ONNX Runtime's input)

The folder is keyed by the hash of tests/conftest.py, models/convert and this file; run with /usr/bin/python3
(Debian's torch 1.13), not a pyenv python.
"""
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))


def main(out):
    os.makedirs(out, exist_ok=True)
    done = os.path.join(out, "done")
    if os.path.exists(done):
        return
    import cv2
    import torch
    from conftest import seeded_resnet18, to_tensor

    torch.set_num_threads(2)
    m = seeded_resnet18()
    torch.save(m.state_dict(), os.path.join(out, "seeded.pth"))
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert"), os.path.join(out, "seeded.pth"),
                    os.path.join(out, "seeded.safetensors")], check=True, stdout=subprocess.DEVNULL)
    x = torch.zeros(1, 3, 224, 224)
    torch.onnx.export(m, x, os.path.join(out, "seeded.onnx"), opset_version=13, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True)
    shared = os.path.join(os.path.dirname(ROOT), "shared", "images", "both.png")
    src = shared if os.path.exists(shared) else os.path.join(ROOT, "web", "samples", "both.png")
    from PIL import Image

    img = Image.open(src).convert("RGB").resize((224, 224), Image.BILINEAR)
    img.save(os.path.join(out, "input224.png"))
    rgb = np.asarray(img)
    np.save(os.path.join(out, "input224.npy"), to_tensor(rgb).numpy().astype(np.float32))
    with torch.no_grad():
        np.save(os.path.join(out, "logits_torch.npy"), m(to_tensor(rgb)).numpy()[0])
    open(done, "w").write("ok\n")


if __name__ == "__main__":
    main(sys.argv[1])
