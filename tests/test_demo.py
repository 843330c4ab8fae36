"""`freqvsr demo`: where its zoomed crops land, and what its metrics files hold."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from freqvsr.report.crop_choice import gain_windows
from freqvsr.report.demo import gains_over_bicubic, side_by_side, write_metrics


def _scene(seed: int = 0):
    """A textured 8-bit frame with a flat band, a 'bicubic' that is wrong everywhere (blur + a
    tone shift in the flat band), and a 'model' equal to bicubic except one planted region
    where it is exact, and in the flat band where it is exact too (a large gain, but flat)."""
    rng = np.random.default_rng(seed)
    h, w = 120, 200
    gt = rng.integers(0, 256, (h, w, 3)).astype(np.float64)
    gt[:, 150:] = 128.0  # flat band on the right
    k = np.ones(5) / 5  # 'bicubic': a box blur of the texture, so it is wrong on every textured pixel
    blur = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, gt)
    blur = np.apply_along_axis(lambda c: np.convolve(c, k, mode="same"), 0, blur)
    bicubic = blur.copy()
    bicubic[:, 150:] = 250.0  # flat but badly off: a bigger error than the blur's
    model = bicubic.copy()
    region = (slice(60, 110), slice(70, 120))  # rows 60-109, columns 70-119
    model[region] = gt[region]
    model[:, 150:] = 128.0
    u8 = lambda a: np.clip(np.rint(a), 0, 255).astype(np.uint8)  # noqa: E731
    return u8(gt), u8(bicubic), u8(model), region


def test_picks_the_window_where_the_model_beats_bicubic_never_a_flat_one():
    gt, bicubic, model, (rows, cols) = _scene()
    first, second = gain_windows(bicubic, model, gt, 32, k=2, stride=2)
    assert first.by == "gain" and first.gain > 0
    assert rows.start <= first.y and first.y + 32 <= rows.stop  # wholly inside the planted region
    assert cols.start <= first.x and first.x + 32 <= cols.stop
    for win in (first, second):  # the flat band (columns >= 150) has the largest gain but no detail
        assert win.x + win.size <= 150 + win.size // 2 and win.coverage >= 0.5
    # The flat band's raw gain beats the planted region's: only the flatness rule keeps it out.
    raw = ((bicubic.astype(float) - gt) ** 2 - (model.astype(float) - gt) ** 2).mean(-1)
    assert raw[:, 150:].mean() > 2 * raw[rows, cols].mean()
    # The second window does not overlap the first.
    assert abs(second.y - first.y) >= 32 or abs(second.x - first.x) >= 32
    # Deterministic, and torch tensors / floats in [0, 1] give the same answer.
    assert gain_windows(bicubic, model, gt, 32, k=2, stride=2) == [first, second]
    again = gain_windows(
        torch.from_numpy(bicubic / 255.0),
        torch.from_numpy(model / 255.0),
        torch.from_numpy(gt / 255.0),
        32,
        k=2,
        stride=2,
    )
    assert [(w.y, w.x) for w in again] == [(first.y, first.x), (second.y, second.x)]


def test_ties_fall_back_to_detail():
    rng = np.random.default_rng(1)
    gt = np.full((96, 160, 3), 100, np.uint8)
    gt[10:50, 100:140] = rng.integers(0, 256, (40, 40, 3))  # the only detailed patch
    same = np.clip(gt.astype(int) + 3, 0, 255).astype(np.uint8)  # model == bicubic: gain 0 everywhere
    (win,) = gain_windows(same, same, gt, 32, stride=4)
    assert win.by == "detail" and win.gain == 0
    assert 10 <= win.y and win.y + 32 <= 50 and 100 <= win.x and win.x + 32 <= 140


def test_window_is_clipped_to_the_frame_and_shapes_must_match():
    gt, bicubic, model, _ = _scene()
    (win,) = gain_windows(bicubic, model, gt, 1000)
    assert win.size == 120 and win.y == 0 and 0 <= win.x <= 80
    with pytest.raises(ValueError):
        gain_windows(bicubic[:-1], model, gt, 32)


def test_side_by_side_labels_each_crop_with_its_psnr(tmp_path):
    gt, bicubic, model, _ = _scene()
    lq = np.repeat(np.repeat(gt[::4, ::4], 4, 0), 4, 1)[: gt.shape[0], : gt.shape[1]]
    crops = side_by_side(
        tmp_path / "s.png",
        gt=gt,
        bicubic=bicubic,
        model=("toy", model),
        lq_nearest=lq,
        crop=32,
        rows=2,
        notes=["a note"],
    )
    assert (tmp_path / "s.png").stat().st_size > 0 and len(crops) == 2
    a = crops[0]
    assert set(a["psnr"]) == {"LQ input (nearest x4)", "bicubic", "toy"}
    assert a["psnr"]["toy"] == float("inf") and a["gain_db"] == float("inf")  # exact in the planted region
    from PIL import Image

    assert Image.open(tmp_path / "s.png").width == 4 * 32 * 3 + 3 * 6 + 2 * 8  # LQ, bicubic, model, original


def test_metrics_files_hold_gain_and_fps(tmp_path):
    results = {
        "toy": {
            "psnr_rgb": 30.5,
            "psnr_y": 32.0,
            "ssim_y": 0.91,
            "frames": 4,
            "fps": 2.5,
            "seconds": 1.6,
            "pipeline_fps": 3.0,
        },
        "bicubic": {
            "psnr_rgb": 30.2,
            "psnr_y": 31.6,
            "ssim_y": 0.90,
            "frames": 4,
            "fps": 40.0,
            "seconds": 0.1,
            "pipeline_fps": 50.0,
        },
    }
    table = {
        "clip": "x.mp4",
        "frames": 4,
        "degradation": "d",
        "protocol": "p",
        "results": results,
        "gain_over_bicubic": gains_over_bicubic(results, "toy"),
        "speed": {"device": "cpu", "threads": 1, "timed": "the whole call"},
    }
    md = write_metrics(tmp_path, table)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    g = saved["gain_over_bicubic"]
    assert g["model"] == "toy" and g["psnr_rgb_db"] == pytest.approx(0.3) and g["psnr_y_db"] == pytest.approx(0.4)
    assert all(saved["results"][n]["fps"] > 0 for n in ("toy", "bicubic")) and saved["speed"]["timed"]
    assert "+0.30 dB PSNR RGB" in md and "+0.40 dB PSNR Y" in md and "2.50 frames/s" in md and "40.00 frames/s" in md
    assert (tmp_path / "metrics.md").read_text().strip() == md.strip()
