"""VMAF (libvmaf through imageio-ffmpeg's FFmpeg) and `freqvsr eval` on tiny clips."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import torch
from clips import make_video, pattern, write_png

from freqvsr.errors import InputError, MissingDependencyError, UsageError
from freqvsr.metrics import psnr, ssim
from freqvsr.bench.evaluate import evaluate, format_markdown, pair_clips


def _frames(n: int, w: int, h: int, seed: int = 0) -> list[np.ndarray]:
    """Textured moving frames (pattern plus fixed fine noise), so VMAF sees detail to lose."""
    rng = np.random.default_rng(seed)
    tex = rng.normal(0, 18, (h, w, 1))
    return [
        np.clip(pattern(i, w, h).astype(np.float64) + np.roll(tex, 2 * i, axis=1), 0, 255).astype(np.uint8)
        for i in range(n)
    ]


def _blur(frames: list[np.ndarray], sigma: float = 1.5) -> list[np.ndarray]:
    return [
        np.clip(scipy.ndimage.gaussian_filter(f.astype(np.float64), (sigma, sigma, 0)), 0, 255).round().astype(np.uint8)
        for f in frames
    ]


def _folder(path: Path, frames: list[np.ndarray]) -> Path:
    path.mkdir(parents=True)
    for i, f in enumerate(frames):
        write_png(path / f"{i:04d}.png", f)
    return path


# ------------------------------------------------------------------ VMAF
def test_vmaf_self_is_about_100_and_lower_when_degraded() -> None:
    pytest.importorskip("imageio_ffmpeg", reason="VMAF needs imageio-ffmpeg's FFmpeg (libvmaf)")
    from freqvsr.metrics.vmaf import vmaf_frames

    gt = _frames(4, 128, 96)
    same = vmaf_frames(gt, gt)
    blurred = vmaf_frames(_blur(gt), gt)
    assert same["frames"] == 4 and same["model"] == "vmaf_v0.6.1"
    assert same["vmaf"] > 95
    assert blurred["vmaf"] < same["vmaf"] - 10
    assert vmaf_frames(_blur(gt), gt, max_frames=2)["frames"] == 2


def test_vmaf_of_video_files(tmp_path) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="VMAF needs imageio-ffmpeg's FFmpeg (libvmaf)")
    from freqvsr.metrics.vmaf import vmaf

    gt = make_video(tmp_path / "gt.mp4", frames=4, size=(128, 96), options={"qp": "0"})
    bad = make_video(tmp_path / "bad.mp4", frames=4, size=(128, 96), options={"qp": "45"})
    small = make_video(tmp_path / "small.mp4", frames=4, size=(64, 48), options={"qp": "0"})  # scaled to GT size
    assert vmaf(gt, gt)["vmaf"] > 95
    assert vmaf(bad, gt)["vmaf"] < vmaf(gt, gt)["vmaf"] - 5
    assert vmaf(small, gt)["frames"] == 4
    assert vmaf(bad, gt, max_frames=2)["frames"] == 2
    with pytest.raises(InputError, match="nope.mp4"):
        vmaf(tmp_path / "nope.mp4", gt)


def test_vmaf_names_missing_imageio_ffmpeg(monkeypatch, tmp_path) -> None:
    from freqvsr.metrics.vmaf import vmaf

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    f = make_video(tmp_path / "a.mp4", frames=2)
    with pytest.raises(MissingDependencyError, match="imageio-ffmpeg"):
        vmaf(f, f)


# ------------------------------------------------------------------ evaluate / CLI
def _clip_sets(tmp_path: Path) -> tuple[Path, Path, dict]:
    """Two folders of clips: 'a' as frame folders, 'b' as lossless videos; predictions are blurred."""
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    a, b = _frames(3, 48, 40, seed=1), _frames(3, 48, 40, seed=2)
    _folder(gt_root / "a", a)
    _folder(pred_root / "a", _blur(a))
    _folder(gt_root / "b", b)
    _folder(pred_root / "b", _blur(b, 0.8))
    (gt_root / "notes.txt").write_text("ignored")
    return pred_root, gt_root, {"a": (_blur(a), a), "b": (_blur(b, 0.8), b)}


def _direct(pairs, y_channel: bool, crop: int):
    def t(x):
        return torch.from_numpy(x.astype(np.float64) / 255).permute(2, 0, 1)

    p = [float(psnr(t(x), t(y), y_channel=y_channel, crop_border=crop)) for x, y in zip(*pairs)]
    s = [float(ssim(t(x), t(y), y_channel=y_channel, crop_border=crop)) for x, y in zip(*pairs)]
    return float(np.mean(p)), float(np.mean(s))


def test_evaluate_folders_of_clips(tmp_path) -> None:
    pred, gt, data = _clip_sets(tmp_path)
    assert [n for n, _, _ in pair_clips(pred, gt)] == ["a", "b"]
    res = evaluate(pred, gt, metrics=["psnr", "ssim"], y_channel=True, crop_border=2)
    assert [c["name"] for c in res["clips"]] == ["a", "b"] and res["frames"] == 6
    for clip in res["clips"]:
        ref_p, ref_s = _direct(data[clip["name"]], True, 2)
        assert clip["psnr"] == pytest.approx(ref_p, abs=1e-9)
        assert clip["ssim"] == pytest.approx(ref_s, abs=1e-12)
    assert res["average"]["psnr"] == pytest.approx(np.mean([c["psnr"] for c in res["clips"]]))
    assert "Y (BT.601)" in res["protocol"]["psnr"] and "crop 2" in res["protocol"]["ssim"]
    md = format_markdown(res)
    assert "PSNR (dB, Y, crop 2)" in md and "**average** (2 clips)" in md and "| a | 3 |" in md


def test_evaluate_missing_clip_and_bad_arguments(tmp_path) -> None:
    pred, gt, _ = _clip_sets(tmp_path)
    _folder(gt / "c", _frames(2, 48, 40))
    with pytest.raises(InputError, match="c: missing"):
        evaluate(pred, gt)
    with pytest.raises(UsageError, match="lpips"):
        evaluate(pred / "a", gt / "a", metrics=["psnr", "lpips"])
    short = _folder(tmp_path / "short", _frames(2, 48, 40))
    with pytest.raises(InputError, match="fewer frames"):
        evaluate(short, gt / "a")
    other = _folder(tmp_path / "other", _frames(3, 40, 40))
    with pytest.raises(InputError, match="40x40"):
        evaluate(other, gt / "a")


def test_cli_eval_videos_all_metrics_and_json(tmp_path, capsys) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="VMAF needs imageio-ffmpeg's FFmpeg (libvmaf)")
    pytest.importorskip("cv2", reason="tOF uses opencv-python-headless")
    from freqvsr.cli import eval as cli_eval

    gt = make_video(tmp_path / "gt.mp4", frames=4, size=(208, 112), options={"qp": "0"})
    pred = make_video(tmp_path / "pred.mp4", frames=4, size=(208, 112), options={"qp": "40"})
    parser = argparse.ArgumentParser()
    cli_eval.add_parser(parser.add_subparsers(), argparse.ArgumentParser(add_help=False))
    out = tmp_path / "r.json"
    args = parser.parse_args(
        [
            "eval",
            str(pred),
            str(gt),
            "--metrics",
            "psnr,ssim,niqe,vmaf,tof",
            "--y-channel",
            "--crop-border",
            "4",
            "--json",
            str(out),
            "--max-frames",
            "3",
        ]
    )
    assert args.func(args) == 0
    md = capsys.readouterr().out
    assert "| gt | 3 |" in md and "NIQE" in md and "VMAF" in md and "tOF" in md
    res = json.loads(out.read_text())
    clip = res["clips"][0]
    assert clip["frames"] == 3 and set(res["protocol"]) == {"psnr", "ssim", "niqe", "vmaf", "tof"}
    assert 20 < clip["psnr"] < 50 and 0 < clip["ssim"] < 1 and clip["niqe"] > 0
    assert 0 <= clip["vmaf"] < 95 and clip["tof"] > 0
    # identical inputs: PSNR +inf is written as "inf", tOF 0, VMAF ~100
    args = parser.parse_args(["eval", str(gt), str(gt), "--metrics", "psnr,vmaf,tof", "--json", str(out), "--quiet"])
    assert args.func(args) == 0
    same = json.loads(out.read_text())["average"]
    assert same["psnr"] == "inf" and same["tof"] == 0.0 and same["vmaf"] > 95
    assert capsys.readouterr().out == ""


def test_cli_eval_frame_folder_against_video_and_errors(tmp_path, capsys) -> None:
    from freqvsr.cli import eval as cli_eval

    gt = make_video(
        tmp_path / "gt.mkv", frames=3, size=(64, 48), codec="libx264rgb", pix_fmt="rgb24", options={"qp": "0"}
    )
    folder = _folder(tmp_path / "pred", [pattern(i, 64, 48) for i in range(3)])
    parser = argparse.ArgumentParser()
    cli_eval.add_parser(parser.add_subparsers(), argparse.ArgumentParser(add_help=False))
    args = parser.parse_args(["eval", str(folder), str(gt)])
    assert args.func(args) == 0
    assert "| inf | 1.0000 |" in capsys.readouterr().out  # lossless RGB round trip: identical frames
    args = parser.parse_args(["eval", str(folder), str(gt), "--json", str(tmp_path / "no" / "r.json")])
    with pytest.raises(Exception, match="does not exist"):
        args.func(args)
    assert math.isinf(evaluate(folder, gt)["average"]["psnr"])
