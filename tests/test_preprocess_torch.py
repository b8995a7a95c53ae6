"""A fine-tuned model's own preprocessing (issue 16) against torchvision, through build/gradcam.

The model file says how its inputs were made (safetensors __metadata__, written by models/convert
--mean/--std/--size/--crop/--labels): "gradcam.mean", "gradcam.std", "gradcam.size" (W x H),
"gradcam.resize" (torchvision Resize(R) then CenterCrop(size); absent: Resize((h, w))) and
"gradcam.labels"; the CLI's --mean/--std/--size/--crop/--labels override the file. The reference is
what a training script does:

    T.Compose([T.Resize(...), T.CenterCrop(...), T.ToTensor(), T.Normalize(mean, std)])

on Image.open(p).convert("RGB"), through the seeded ResNet-18 in PyTorch.

The pictures are chosen so that torchvision's integer choices are visible: Resize(256) takes the long
side as int(256 * long / short) (dogs.png 347x342 -> 259.74 -> 259, not 260), and CenterCrop's offset is
int(round((side - crop) / 2)) with Python's round, half to even (dogs.png: 17.5 -> 18, not floor's 17;
landscape.png: 385 - 224 -> 80.5 -> 80, not round-half-up's 81; portrait.png: 76.5 -> 76). A pixel of
offset moves the logits by far more than the 1e-3 allowed.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import MEAN, ROOT, SHARED, STD, run_cli
from test_gradcam_torch import torch_gradcam  # the hook-based reference of the Grad-CAM tests

HALF = [0.5, 0.5, 0.5]
DOGS = os.path.join(SHARED, "images", "dogs.png")  # a 347x342 photo: every path below resizes it
TOL_LOGITS = 1e-3
TOL_CAM = 1e-2


def convert(pth, dst, *flags):
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert"), str(pth), str(dst), *map(str, flags)],
                   check=True)
    return dst


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """dogs.png, and two PNGs cut from horses.jpg (decoded by PIL here, so both sides read the same
    pixels): landscape 422x280 (Resize(256) -> 385.83 -> 385x256, crop offset 80.5 -> 80) and portrait
    280x413, the transpose of a 413x280 cut (-> 256x377, crop offset 76.5 -> 76)."""
    from PIL import Image

    d = tmp_path_factory.mktemp("pre-images")
    horses = Image.open(os.path.join(SHARED, "images", "horses.jpg")).convert("RGB")  # 425x280
    out = {"dogs": DOGS, "landscape": str(d / "landscape.png"), "portrait": str(d / "portrait.png")}
    horses.crop((1, 0, 423, 280)).save(out["landscape"])
    horses.crop((6, 0, 419, 280)).transpose(Image.Transpose.TRANSPOSE).save(out["portrait"])
    return out


@pytest.fixture(scope="module")
def meta_models(ref_model, tmp_path_factory):
    """The seeded ResNet-18 converted with preprocessing metadata: name -> safetensors path."""
    _, _, pth = ref_model
    d = tmp_path_factory.mktemp("pre-models")
    labels = d / "labels.txt"
    labels.write_text("".join(f"meta label {i}\n" for i in range(1000)), encoding="utf-8")
    return {
        "half": convert(pth, d / "half.safetensors", "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5"),
        "160x128": convert(pth, d / "160x128.safetensors", "--size", "160x128"),
        "crop256": convert(pth, d / "crop256.safetensors", "--crop", "256"),
        # everything at once, non-square: Resize(176) then CenterCrop((128, 160)); the crop's offsets are
        # 52.5 -> 52 across landscape.png (265x176) and 65.5 -> 66 down portrait.png (176x259)
        "all": convert(pth, d / "all.safetensors", "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5",
                       "--size", "160x128", "--crop", "176"),
        "labels": convert(pth, d / "labels.safetensors", "--labels", labels),
    }


def reference_input(path, mean=MEAN, std=STD, size=(224, 224), crop=0):
    """torchvision's input tensor [1, 3, h, w]: Resize((h, w)), or Resize(crop) + CenterCrop((h, w))."""
    import torchvision.transforms as T
    from PIL import Image

    w, h = size
    resize = [T.Resize(crop), T.CenterCrop((h, w))] if crop else [T.Resize((h, w))]
    tf = T.Compose([*resize, T.ToTensor(), T.Normalize(mean, std)])
    return tf(Image.open(path).convert("RGB"))[None]


def logits_err(torch, model, img, tmp_path, cli_args, **ref):
    out = tmp_path / "z.npy"
    run_cli("classify", img, *cli_args, "--logits", out)
    with torch.no_grad():
        want = model(reference_input(img, **ref))[0].numpy()
    z = np.load(out)
    assert z.shape == want.shape and z.dtype == np.float32
    return float(np.abs(z - want).max())


# (model key, image, reference transform): the file's metadata alone decides the preprocessing
FROM_METADATA = [
    ("half", "dogs", dict(mean=HALF, std=HALF)),                                        # (a)
    ("160x128", "dogs", dict(size=(160, 128))),                                         # (b)
    ("crop256", "dogs", dict(crop=256)),                                                # (c)
    ("crop256", "landscape", dict(crop=256)),
    ("crop256", "portrait", dict(crop=256)),
    ("all", "landscape", dict(mean=HALF, std=HALF, size=(160, 128), crop=176)),
    ("all", "portrait", dict(mean=HALF, std=HALF, size=(160, 128), crop=176)),
]


@pytest.mark.parametrize("key,image,ref", FROM_METADATA, ids=[f"{k}-{i}" for k, i, _ in FROM_METADATA])
def test_metadata_preprocessing_matches_torchvision(ref_model, meta_models, images, tmp_path, torch_mod,
                                                    key, image, ref):
    model, _, _ = ref_model
    err = logits_err(torch_mod, model, images[image], tmp_path, ["--model", meta_models[key]], **ref)
    print(f"metadata {key}, {image}: max |logit - torch| = {err:.2e}")
    assert err <= TOL_LOGITS


# (d) the same through the CLI's options on the plain file (no preprocessing metadata)
FROM_OPTIONS = [
    (["--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5"], "dogs", dict(mean=HALF, std=HALF)),
    (["--size", "160x128"], "dogs", dict(size=(160, 128))),
    (["--crop", "256"], "dogs", dict(crop=256)),
    (["--crop", "256"], "landscape", dict(crop=256)),
    (["--crop", "256"], "portrait", dict(crop=256)),
    (["--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5", "--size", "160x128", "--crop", "176"], "portrait",
     dict(mean=HALF, std=HALF, size=(160, 128), crop=176)),
]


@pytest.mark.parametrize("args,image,ref", FROM_OPTIONS, ids=[f"{'_'.join(a[::2])}-{i}" for a, i, _ in FROM_OPTIONS])
def test_cli_options_match_torchvision(ref_model, images, tmp_path, torch_mod, args, image, ref):
    model, st, _ = ref_model
    err = logits_err(torch_mod, model, images[image], tmp_path, ["--model", st, *args], **ref)
    print(f"options {' '.join(args)}, {image}: max |logit - torch| = {err:.2e}")
    assert err <= TOL_LOGITS


# The options win over the file: each one replaces its key and leaves the others as the file says.
OVERRIDES = [
    (["--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD)), "--crop", "0", "--size", "224x224"],
     dict()),                                                               # back to the ImageNet default
    (["--crop", "0"], dict(mean=HALF, std=HALF, size=(160, 128))),          # plain resize, metadata mean/std/size
    (["--size", "144x112"], dict(mean=HALF, std=HALF, size=(144, 112), crop=176)),  # keeps Resize(176)
    (["--mean", "0.4,0.45,0.5"], dict(mean=[0.4, 0.45, 0.5], std=HALF, size=(160, 128), crop=176)),
]


@pytest.mark.parametrize("args,ref", OVERRIDES, ids=["imagenet", "crop0", "size", "mean"])
def test_cli_options_override_metadata(ref_model, meta_models, images, tmp_path, torch_mod, args, ref):
    model, _, _ = ref_model
    err = logits_err(torch_mod, model, images["landscape"], tmp_path, ["--model", meta_models["all"], *args], **ref)
    print(f"metadata 'all' + {' '.join(args)}: max |logit - torch| = {err:.2e}")
    assert err <= TOL_LOGITS


# (e) labels
def test_labels_from_metadata_and_override(ref_model, meta_models, tmp_path, torch_mod):
    model, _, _ = ref_model
    st = meta_models["labels"]
    with torch_mod.no_grad():
        top = list(np.argsort(-model(reference_input(DOGS))[0].numpy())[:5])
    r = json.loads(run_cli("classify", DOGS, "--model", st, "--top", "5", "--json").stdout)
    assert r.get("model") == "resnet18", r
    assert [t["index"] for t in r["top"]] == top
    assert [t["label"] for t in r["top"]] == [f"meta label {i}" for i in top]
    # a labels file on the command line wins over the file's names
    labels = tmp_path / "mine.txt"
    labels.write_text("".join(f"file label {i}\n" for i in range(1000)), encoding="utf-8")
    r = json.loads(run_cli("classify", DOGS, "--model", st, "--labels", labels, "--top", "5", "--json").stdout)
    assert [t["label"] for t in r["top"]] == [f"file label {i}" for i in top]
    # --class by name finds the file's names
    r = json.loads(run_cli("explain", DOGS, "--model", st, "--class", "meta label 417", "--json").stdout)
    assert r["class"] == 417 and r["label"] == "meta label 417", r


def test_labels_non_ascii_from_metadata(ref_model, tmp_path):
    """Names are UTF-8 in the file's JSON header (json escapes \\uXXXX included): printed back as they are."""
    _, _, pth = ref_model
    names = [f"n{i}" for i in range(1000)]
    names[:3] = ["chat \"tigré\"", "猫", "back\\slash"]
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(names) + "\n", encoding="utf-8")
    st = convert(pth, tmp_path / "l.safetensors", "--labels", labels)
    r = json.loads(run_cli("classify", DOGS, "--model", st, "--top", "1000", "--json").stdout)
    assert {t["index"]: t["label"] for t in r["top"]} == dict(enumerate(names))


# (f) Grad-CAM on the cropped input
GRADCAM = [
    ("crop256", [], "landscape", dict(crop=256)),
    ("crop256", [], "portrait", dict(crop=256)),
    ("all", [], "portrait", dict(mean=HALF, std=HALF, size=(160, 128), crop=176)),
    (None, ["--crop", "256", "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5"], "landscape",
     dict(mean=HALF, std=HALF, crop=256)),
]


@pytest.mark.parametrize("key,args,image,ref", GRADCAM, ids=["meta-landscape", "meta-portrait", "meta-all", "options"])
def test_gradcam_under_crop_matches_torch(ref_model, meta_models, images, tmp_path, torch_mod, key, args, image, ref):
    model, st, _ = ref_model
    x = reference_input(images[image], **ref)
    with torch_mod.no_grad():
        cls = int(model(x)[0].argmax())
    cam_p = tmp_path / "cam.npy"
    run_cli("explain", images[image], "--model", meta_models[key] if key else st, *args, "--class", cls,
            "--cam", cam_p)
    _, _, cam_ref, _ = torch_gradcam(torch_mod, model, x, cls, "layer4")
    cam = np.load(cam_p)
    assert cam.shape == cam_ref.shape == tuple(x.shape[2:])
    err = float(np.abs(cam - cam_ref).max())
    print(f"Grad-CAM {key or ' '.join(args)}, {image} {cam.shape}: max |cam - torch| = {err:.2e}")
    assert err <= TOL_CAM


# Bad values: exit 2 and one line, from the command line and from a file's metadata alike
@pytest.mark.parametrize("args", [
    ["--mean", "0.5,0.5"], ["--mean", "0.5,nan,0.5"], ["--std", "0.5,0,0.5"], ["--std=-1,1,1"],
    ["--crop", "200"], ["--size", "160x128", "--crop", "150"], ["--crop", "x"],
])
def test_bad_cli_values(ref_model, tmp_path, args):
    _, st, _ = ref_model
    p = run_cli("classify", DOGS, "--model", st, *args, check=False)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and p.stderr.strip(), (args, p.returncode, p.stderr)


@pytest.mark.parametrize("meta", [
    {"gradcam.mean": "0.5,0.5"}, {"gradcam.mean": "a,b,c"}, {"gradcam.std": "0.5,0,0.5"},
    {"gradcam.std": "inf,1,1"}, {"gradcam.size": "16x16"}, {"gradcam.size": "x"},
    {"gradcam.resize": "200"}, {"gradcam.resize": "-256"},
])
def test_bad_metadata_refused(ref_model, tmp_path, meta):
    """A file whose preprocessing cannot be right (written by hand, not by models/convert) is refused as
    bad weights are, rather than run with inf or a padded crop."""
    sys.path.insert(0, os.path.join(ROOT, "models"))
    import safetensors

    _, st, _ = ref_model
    tensors, md = safetensors.load(st)
    bad = tmp_path / "bad.safetensors"
    safetensors.save(bad, tensors, metadata={**md, **meta})
    p = run_cli("classify", DOGS, "--model", bad, check=False)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and p.stderr.strip(), (meta, p.returncode, p.stderr)
