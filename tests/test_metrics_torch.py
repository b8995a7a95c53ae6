"""Guided backprop (--gb-npy, --gb, --cam-gb) and the CAM metrics (--metrics) against tests/cam_reference.py.

Guided backprop: ≤ 1e-3 of its max; the two PNGs (deprocess_image of it, and of CAM × it) within ±1.
Metrics are computed by the reference on OUR final CAM (read back from --cam), so that only the metric is
compared: confidence change ≤ 1e-2, ROAD with noise 0 ≤ 2e-2. Score = the class's softmax probability
(ClassifierOutputSoftmaxTarget), as the CLI reports.
"""
import json

import numpy as np
import pytest

import cam_reference as R
from conftest import load_rgb, run_cli, to_tensor


@pytest.mark.parametrize("name", ["both", "seeded0"])
def test_guided_backprop(ref_model, inputs, tmp_path, torch_mod, name):
    model, st, _ = ref_model
    x = to_tensor(load_rgb(inputs[name]))
    cls = R.class_of(model, x)
    gb_p, png_p, cgb_p, cam_p = (tmp_path / f for f in ("gb.npy", "gb.png", "cam_gb.png", "cam.npy"))
    run_cli("explain", inputs[name], "--model", st, "--class", cls, "--layer", "layer4", "--cam", cam_p,
            "--gb-npy", gb_p, "--gb", png_p, "--cam-gb", cgb_p)
    gb, ref = np.load(gb_p), R.guided_backprop(model, x, cls)
    assert gb.shape == (224, 224, 3) and gb.dtype == np.float32
    err = np.abs(gb - ref).max() / np.abs(ref).max()
    cam_ref = R.reference_cam(model, x, "gradcam", "layer4", cls)
    png, cgb = load_rgb(png_p).astype(int), load_rgb(cgb_p).astype(int)
    d_png = np.abs(png - R.deprocess_image(ref)).max()
    d_cgb = np.abs(cgb - R.deprocess_image(cam_ref[..., None] * ref)).max()
    # and the formula on our own arrays (apart from the reference's small differences)
    d_own = max(np.abs(png - R.deprocess_image(gb)).max(),
                np.abs(cgb - R.deprocess_image(np.load(cam_p)[..., None] * gb)).max())
    print(f"{name} guided backprop: err/max {err:.1e}; PNG vs reference ±{d_png}, Guided Grad-CAM PNG ±{d_cgb}, "
          f"PNGs vs deprocess(our arrays) ±{d_own}")
    assert err <= 1e-3
    assert d_png <= 1 and d_cgb <= 1 and d_own <= 1


def metrics_run(ref_model, inputs, tmp_path, name, method, layer, *flags):
    model, st, _ = ref_model
    x = to_tensor(load_rgb(inputs[name]))
    cls = R.class_of(model, x)
    cam_p = tmp_path / "cam.npy"
    p = run_cli("explain", inputs[name], "--model", st, "--class", cls, "--layer", layer, "--method", method,
                "--cam", cam_p, "--metrics", "--json", *flags)
    return model, x, cls, np.load(cam_p), json.loads(p.stdout)["metrics"]


@pytest.mark.parametrize("name,method,layer", [("both", "gradcam", "layer4"), ("seeded0", "layercam", "layer3")])
def test_metrics_match_reference(ref_model, inputs, tmp_path, name, method, layer):
    model, x, cls, cam, m = metrics_run(ref_model, inputs, tmp_path, name, method, layer,
                                        "--road-percentiles", "20,80", "--road-noise", "0")
    score = float(R.softmax_score(model, x, cls))
    d = R.cam_mult_image_confidence_change(model, x, cam, cls)
    road = R.road_combined(model, x, cam, cls, (20, 80), noise=0.0)
    print(f"{name} {method} {layer}: score {m['score']:.6f} vs {score:.6f}; confidence change "
          f"{m['cam_mult_image_confidence_change']:+.5f} vs {d:+.5f}")
    print(f"  ROAD MoRF {m['road_morf']} vs {road['road_morf']}, LeRF {m['road_lerf']} vs {road['road_lerf']}, "
          f"combined {m['road_combined']:+.5f} vs {road['road_combined']:+.5f}")
    assert m["target"] == "softmax" and m["road_percentiles"] == [20, 80]
    assert abs(m["score"] - score) <= 1e-4
    assert abs(m["cam_mult_image_confidence_change"] - d) <= 1e-2
    # Drop/Increase follow from our own change exactly as the library derives them from its change.
    ours_d = m["cam_mult_image_confidence_change"]
    assert m["drop_in_confidence"] == pytest.approx(max(-ours_d, 0.0), abs=1e-7)
    assert m["increase_in_confidence"] == (1.0 if ours_d > 0 else 0.0)
    for key in ("road_morf", "road_lerf"):
        assert len(m[key]) == 2 and np.abs(np.subtract(m[key], road[key])).max() <= 2e-2, key
    for key in ("road_morf_mean", "road_lerf_mean", "road_combined"):
        assert abs(m[key] - road[key]) <= 2e-2, key


def test_metrics_defaults_are_consistent(ref_model, inputs, tmp_path):
    """Default percentiles 10..90 and the default noise (0.01, random, so no reference values): the means
    and ROADCombined must follow from the per-percentile lists."""
    _, _, _, _, m = metrics_run(ref_model, inputs, tmp_path, "both", "gradcam", "layer4")
    print(f"both gradcam layer4 defaults: MoRF {m['road_morf']}, LeRF {m['road_lerf']}, combined {m['road_combined']}")
    assert m["road_percentiles"] == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert len(m["road_morf"]) == 9 and len(m["road_lerf"]) == 9
    assert m["road_morf_mean"] == pytest.approx(np.mean(m["road_morf"]), abs=1e-6)
    assert m["road_lerf_mean"] == pytest.approx(np.mean(m["road_lerf"]), abs=1e-6)
    assert m["road_combined"] == pytest.approx((m["road_lerf_mean"] - m["road_morf_mean"]) / 2, abs=1e-6)
