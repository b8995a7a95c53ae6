"""models/convert and models/safetensors.py against real torch checkpoints.

Run with Debian's interpreter (it has torch and torchvision):  /usr/bin/python3 -m pytest tests/test_convert.py
"""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

REPO = Path(__file__).resolve().parents[1]
CONVERT = REPO / "models" / "convert"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

sys.path.insert(0, str(REPO / "models"))
import safetensors  # noqa: E402  (models/safetensors.py)


def run_convert(src, dst, *flags):
    return subprocess.run([PYTHON, str(CONVERT), str(src), str(dst), *flags], capture_output=True, text=True)


def expect_rejected(src, tmp_path, *words):
    """convert exits 2 with one stderr line containing all words, and writes nothing."""
    out = tmp_path / "out.safetensors"
    r = run_convert(src, out)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert not out.exists()
    return lines[0]


def seeded_resnet18(num_classes=1000):
    """resnet18 with random weights and non-trivial BatchNorm statistics (so BN folding is exercised)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=num_classes)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    return model


def assert_matches(sd, path, dtype):
    """Every floating tensor of sd is in the safetensors file, bit for bit after a cast to dtype."""
    tensors, metadata = safetensors.load(path)
    want = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert list(tensors) == list(want)  # names and state-dict order kept
    torch_dtype = {"F32": torch.float32, "F16": torch.float16}[dtype]
    for name, t in want.items():
        got_dtype, shape, data = tensors[name]
        assert got_dtype == dtype and shape == list(t.shape), name
        assert data == t.detach().to(torch_dtype).contiguous().numpy().tobytes(), name
    assert metadata == {"format": "pt"}


# ---- real models ----

@pytest.mark.parametrize("num_classes", [1000, 8])
@pytest.mark.parametrize("flag,dtype", [((), "F32"), (("--f16",), "F16")])
def test_resnet18(tmp_path, num_classes, flag, dtype):
    sd = seeded_resnet18(num_classes).state_dict()
    src, dst = tmp_path / "resnet18.pth", tmp_path / "resnet18.safetensors"
    torch.save(sd, src)
    r = run_convert(src, dst, *flag)
    assert r.returncode == 0, r.stderr
    assert_matches(sd, dst, dtype)
    assert len(safetensors.load(dst)[0]) == 102  # 122 state-dict entries less 20 num_batches_tracked


@pytest.mark.parametrize("wrap", ["state_dict", "model"])
def test_checkpoint_wrapper(tmp_path, wrap):
    sd = seeded_resnet18(8).state_dict()
    torch.save({wrap: sd, "epoch": 3, "best_acc": 0.9}, tmp_path / "ckpt.pth")
    r = run_convert(tmp_path / "ckpt.pth", tmp_path / "out.safetensors")
    assert r.returncode == 0, r.stderr
    assert_matches(sd, tmp_path / "out.safetensors", "F32")


def test_parameters_kept_as_vars(tmp_path):
    model = torch.nn.Linear(4, 3)
    sd = model.state_dict(keep_vars=True)  # nn.Parameter values: pickled via _rebuild_parameter
    torch.save(sd, tmp_path / "p.pth")
    assert run_convert(tmp_path / "p.pth", tmp_path / "p.safetensors").returncode == 0
    assert_matches(sd, tmp_path / "p.safetensors", "F32")


@pytest.mark.parametrize("flag,dtype", [((), "F32"), (("--f16",), "F16")])
def test_views_and_dtypes(tmp_path, flag, dtype):
    torch.manual_seed(1)
    base = torch.randn(10, 6)
    sd = {
        "transposed": base.t(),                       # non-contiguous strides
        "offset": base[3:7],                          # storage offset into a shared storage
        "column": base[:, 2],                         # stride 6, offset 2
        "expanded": torch.randn(4, 1).expand(4, 3),   # zero stride
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "half": torch.randn(5).half(),
        "bfloat16": torch.randn(5).bfloat16(),
        "double": torch.randn(3, 3, dtype=torch.float64) * 1e5,  # overflows F16 to inf, as in torch
        "bn.num_batches_tracked": torch.tensor(3),
    }
    torch.save(sd, tmp_path / "v.pth")
    r = run_convert(tmp_path / "v.pth", tmp_path / "v.safetensors", *flag)
    assert r.returncode == 0, r.stderr
    assert_matches(sd, tmp_path / "v.safetensors", dtype)


# ---- rejected inputs ----

def test_legacy_format(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pth", _use_new_zipfile_serialization=False)
    expect_rejected(tmp_path / "old.pth", tmp_path, "legacy")


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.99, -1])
def test_truncated(tmp_path, keep):
    torch.save(seeded_resnet18(8).state_dict(), tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    cut = len(data) - 1 if keep == -1 else int(len(data) * keep)
    (tmp_path / "cut.pth").write_bytes(data[:cut])
    expect_rejected(tmp_path / "cut.pth", tmp_path)


def test_corrupt_storage(tmp_path):
    torch.save({"w": torch.ones(1000)}, tmp_path / "c.pth")
    data = bytearray((tmp_path / "c.pth").read_bytes())
    with zipfile.ZipFile(tmp_path / "c.pth") as z:
        info = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
    data[info.header_offset + 200] ^= 0xFF  # inside the stored (uncompressed) storage bytes
    (tmp_path / "c.pth").write_bytes(bytes(data))
    expect_rejected(tmp_path / "c.pth", tmp_path, "w")


class _RunsShell:
    """Unpickling this calls os.system (module posix): the classic pickle exploit."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_disallowed_global_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    sd = {"conv1.weight": torch.ones(2), "fc.weight": _RunsShell(f"touch {marker}")}
    torch.save(sd, tmp_path / "evil.pth")
    expect_rejected(tmp_path / "evil.pth", tmp_path, "system", "not allowed")
    assert not marker.exists()


@pytest.mark.parametrize("obj,words", [
    ([1, 2, 3], ("not a state dict", "list")),
    ({"a": 1}, ("not a state dict", "'a' is a int")),
    ({}, ("not a state dict", "empty dict")),
    ({"idx": torch.arange(3)}, ("idx", "I64")),
    (torch.ones(3), ("not a state dict", "a tensor")),
])
def test_not_a_state_dict(tmp_path, obj, words):
    torch.save(obj, tmp_path / "x.pth")
    expect_rejected(tmp_path / "x.pth", tmp_path, *words)


def test_huge_expanded_tensor(tmp_path):
    torch.save({"w": torch.zeros(1).expand(2**31)}, tmp_path / "big.pth")  # 4 bytes on disk, 8 GB expanded
    expect_rejected(tmp_path / "big.pth", tmp_path, "w", "elements")


def test_whole_module_pickle(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pth")  # needs torch.nn classes to unpickle
    expect_rejected(tmp_path / "module.pth", tmp_path, "torch.nn.modules.linear.Linear", "not allowed")


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.pth").write_text("hello\n")
    expect_rejected(tmp_path / "notes.pth", tmp_path, "not a torch checkpoint")
    expect_rejected(tmp_path / "missing.pth", tmp_path, "cannot read")


# ---- models/safetensors.py ----

def test_safetensors_roundtrip(tmp_path):
    tensors = {"a": ("F32", [2], b"\x00\x00\x80?\x00\x00\x00@"), "b.c": ("F16", [1, 1], b"\x00<"),
               "s": ("I64", [], bytes(8)), "e": ("F32", [0, 4], b"")}
    safetensors.save(tmp_path / "t.safetensors", tensors, metadata={"k": "v"})
    raw = (tmp_path / "t.safetensors").read_bytes()
    assert int.from_bytes(raw[:8], "little") % 8 == 0  # data section 8-byte aligned
    assert safetensors.load(tmp_path / "t.safetensors") == (tensors, {"k": "v"})


def test_safetensors_rejects(tmp_path):
    with pytest.raises(ValueError, match="bytes"):
        safetensors.save(tmp_path / "x", {"a": ("F32", [3], bytes(8))})
    with pytest.raises(ValueError, match="dtype"):
        safetensors.save(tmp_path / "x", {"a": ("F31", [1], bytes(4))})
    assert not (tmp_path / "x").exists()
    (tmp_path / "bad").write_bytes((10**6).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="exceeds"):
        safetensors.load(tmp_path / "bad")
    hdr = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    (tmp_path / "dup").write_bytes(len(hdr).to_bytes(8, "little") + hdr + bytes(4))
    with pytest.raises(ValueError, match="duplicate"):
        safetensors.load(tmp_path / "dup")


# ---- preprocessing metadata (--mean, --std, --size, --crop, --labels, --multilabel) ----

@pytest.fixture(scope="module")
def small_pth(tmp_path_factory):
    """An 8-class resnet18 checkpoint (fc.weight [8, 512]) for the option tests."""
    p = tmp_path_factory.mktemp("opts") / "r18-8.pth"
    torch.save(seeded_resnet18(8).state_dict(), p)
    return p


def write_labels(path, text):
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("flags,meta", [
    (("--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5"), {"gradcam.mean": "0.5,0.5,0.5", "gradcam.std": "0.5,0.5,0.5"}),
    (("--mean=-0.25, 0 ,1e-1", "--std", ".25,2,3.5E0"),
     {"gradcam.mean": "-0.25,0.0,0.1", "gradcam.std": "0.25,2.0,3.5"}),
    (("--size", "160x128"), {"gradcam.size": "160x128"}),
    (("--size", "96"), {"gradcam.size": "96x96"}),
    (("--size", "32x4096", "--crop", "4096"), {"gradcam.size": "32x4096", "gradcam.resize": "4096"}),
    (("--crop", "8192"), {"gradcam.resize": "8192"}),
    (("--crop", "256"), {"gradcam.resize": "256"}),
    (("--crop", "224"), {"gradcam.resize": "224"}),
    (("--size", "160x128", "--crop", "160"), {"gradcam.size": "160x128", "gradcam.resize": "160"}),
    (("--crop", "0"), {}),  # 0 is the plain resize, the engine's default: nothing to write
    (("--multilabel",), {"gradcam.head": "sigmoid"}),
    (("--f16", "--mean", "0,0,0", "--std", "1,1,1", "--crop", "256", "--multilabel"),
     {"gradcam.mean": "0.0,0.0,0.0", "gradcam.std": "1.0,1.0,1.0", "gradcam.resize": "256", "gradcam.head": "sigmoid"}),
])
def test_options_write_metadata(small_pth, tmp_path, flags, meta):
    dst = tmp_path / "out.safetensors"
    r = run_convert(small_pth, dst, *flags)
    assert r.returncode == 0 and not r.stderr, r.stderr
    tensors, metadata = safetensors.load(dst)
    assert metadata == {"format": "pt", **meta}
    # the weights are written as without the options
    plain = tmp_path / "plain.safetensors"
    assert run_convert(small_pth, plain, *(("--f16",) if "--f16" in flags else ())).returncode == 0
    assert tensors == safetensors.load(plain)[0]


@pytest.mark.parametrize("text,names", [
    ("".join(f"class {i}\n" for i in range(8)), [f"class {i}" for i in range(8)]),
    ("".join(f"c{i}\r\n" for i in range(7)) + "c7", [f"c{i}" for i in range(8)]),  # CR LF, no final newline
    ("\ufeffchat\nchien\nvögel\n猫\nnaïve one\nsix\nseven\n eight, with spaces \n",  # BOM dropped
     ["chat", "chien", "vögel", "猫", "naïve one", "six", "seven", " eight, with spaces "]),
])
def test_labels_metadata(small_pth, tmp_path, text, names):
    labels = write_labels(tmp_path / "labels.txt", text)
    dst = tmp_path / "out.safetensors"
    r = run_convert(small_pth, dst, "--labels", labels)
    assert r.returncode == 0, r.stderr
    meta = safetensors.load(dst)[1]
    assert meta["gradcam.labels"].split("\n") == names and set(meta) == {"format", "gradcam.labels"}


def test_labels_without_fc_not_counted(tmp_path):
    """A state dict with no fc.weight has no class count to check the names against: written as they are."""
    torch.save({"w": torch.ones(3)}, tmp_path / "nofc.pth")
    labels = write_labels(tmp_path / "labels.txt", "a\nb\n")
    r = run_convert(tmp_path / "nofc.pth", tmp_path / "out.safetensors", "--labels", labels)
    assert r.returncode == 0, r.stderr
    assert safetensors.load(tmp_path / "out.safetensors")[1]["gradcam.labels"] == "a\nb"


def expect_option_rejected(src, tmp_path, flags, *words):
    """convert with flags exits 2 with one stderr line holding all words, and writes nothing."""
    out = tmp_path / "out.safetensors"
    r = run_convert(src, out, *flags)
    assert r.returncode == 2, (flags, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("convert: "), lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    assert not out.exists()
    return lines[0]


@pytest.mark.parametrize("flags,words", [
    (("--mean", "0.5,0.5"), ("--mean", "3 comma-separated")),
    (("--mean", "0.5,0.5,0.5,0.5"), ("--mean", "3 comma-separated")),
    (("--mean", "0.5,nan,0.5"), ("--mean", "nan")),
    (("--mean", "inf,0,0"), ("--mean", "inf")),
    (("--mean", "0,1e39,0"), ("--mean", "1e39", "finite")),  # beyond float32
    (("--mean", "0,x,0"), ("--mean", "'x'", "not a number")),
    (("--mean", "0,,0"), ("--mean", "not a number")),
    (("--mean", "1_0,0,0"), ("--mean", "1_0")),  # Python's float() takes it, the engine would not
    (("--std", "0.5,0,0.5"), ("--std", "> 0")),
    (("--std=-0.5,0.5,0.5",), ("--std", "> 0")),
    (("--std", "0.5,0.5,inf"), ("--std", "inf")),
    (("--std", "0.5,0.5"), ("--std", "3 comma-separated")),
    (("--size", "31x224"), ("--size", "32..4096")),
    (("--size", "224x4097"), ("--size", "32..4096")),
    (("--size", "0"), ("--size", "32..4096")),
    (("--size", "224x"), ("--size", "WxH")),
    (("--size", "-224"), ("--size", "WxH")),
    (("--size", "2e2"), ("--size", "WxH")),
    (("--crop", "223"), ("--crop 223", "224")),  # below the default 224x224 input: CenterCrop would pad
    (("--size", "160x128", "--crop", "159"), ("--crop 159", "160")),
    (("--size", "128x160", "--crop", "128"), ("--crop 128", "160")),
    (("--crop", "8193"), ("--crop 8193", "8192")),
    (("--crop", "-256"), ("--crop", "whole number")),
    (("--crop", "256.5"), ("--crop", "whole number")),
    (("--crop", "big"), ("--crop", "whole number")),
])
def test_bad_option_values(small_pth, tmp_path, flags, words):
    expect_option_rejected(small_pth, tmp_path, flags, *words)


@pytest.mark.parametrize("content,words", [
    ("a\nb\nc\n", ("--labels", "3 names", "8 classes")),                               # too few
    ("".join(f"c{i}\n" for i in range(9)), ("--labels", "9 names", "8 classes")),      # too many
    ("".join(f"c{i}\n" for i in range(8)) + "\n", ("--labels", "line 9", "empty")),    # a blank line at the end
    ("a\nb\n\nc\nd\ne\nf\ng\n", ("--labels", "line 3", "empty")),
    ("a\nb\n   \nc\nd\ne\nf\ng\n", ("--labels", "line 3", "empty")),
    ("", ("--labels", "empty")),
    ("\n", ("--labels", "empty")),
    (b"a\nb\nc\nd\ne\nf\ng\n\xff\xfeh\n", ("--labels", "not UTF-8")),
    ("a\nb\nc\nd\ne\nf\ng\nh\0i\n", ("--labels", "NUL")),
])
def test_bad_labels(small_pth, tmp_path, content, words):
    labels = write_labels(tmp_path / "labels.txt", content)
    expect_option_rejected(small_pth, tmp_path, ("--labels", labels), *words)


def test_labels_missing_file(small_pth, tmp_path):
    expect_option_rejected(small_pth, tmp_path, ("--labels", tmp_path / "nope.txt"), "--labels", "cannot read")


def test_option_errors_before_reading_the_checkpoint(tmp_path):
    """A bad option is reported as such, even with an unusable checkpoint (options are checked first)."""
    (tmp_path / "notes.pth").write_text("hello\n")
    expect_option_rejected(tmp_path / "notes.pth", tmp_path, ("--std", "0,1,1"), "--std", "> 0")
    line = expect_option_rejected(tmp_path / "notes.pth", tmp_path, ("--std", "1,1,1"), "not a torch checkpoint")
    assert "--std" not in line
