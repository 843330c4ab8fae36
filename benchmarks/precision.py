"""fp32 vs bf16 autocast on this CPU: PSNR on the public evaluation clips and frames/s.

Usage:
    python benchmarks/precision.py [--model NAME|CHECKPOINT] [--evalset /work/data/evalset]
        [--presets bi,crf25] [--clips bikes,carphone] [--max-frames 16] [--record] [--json FILE]

For every (clip, preset) item of a built evaluation set (``freqvsr data build-evalset DIR``) the
model upscales the LQ frames once in fp32 and once under bf16 autocast (same chunk, whole
frames, alternating which precision goes first so a busy machine slows both alike); SR frames
are rounded to 8 bits and scored against GT (PSNR RGB and Y, BasicSR definitions, the
protocol of :mod:`freqvsr.bench.quality`). The record is

    psnr_delta_db     mean over items of PSNR_RGB(bf16) - PSNR_RGB(fp32)  (negative = bf16 loses)
    psnr_y_delta_db   the same on Y;  worst_item_delta_db: the most negative item
    fp32_fps, bf16_fps, speedup       frames / model seconds on this CPU
    cpu, native_bf16, torch, clips, presets, frames, date

``--record`` (or :func:`record_bf16`) writes it into the checkpoint's header as
``precision.cpu_bf16``; ``--precision auto`` then picks bf16 on CPUs with native bf16 when
``psnr_delta_db`` > -0.05 (see ``freqvsr.inference.precision``). Also measured here, for the
record's notes: channels_last weights (``--channels-last``), kept off unless faster.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_bf16(
    model: str | os.PathLike,
    evalset_dir: str | os.PathLike,
    *,
    presets: list[str] | None = None,
    clips: list[str] | None = None,
    max_frames: int | None = 16,
    log=print,
) -> dict[str, Any]:
    """fp32 vs bf16 PSNR and speed of ``model`` (registry name or checkpoint) on the evalset."""
    from freqvsr.data.evalset import EvalSetDataset
    from freqvsr.inference import Upscaler
    from freqvsr.inference.precision import cpu_has_native_bf16
    from freqvsr.metrics.psnr_ssim import psnr

    ds = EvalSetDataset(evalset_dir, presets=presets, clips=clips, max_frames=max_frames)
    engines = {p: Upscaler(str(model), device="cpu", precision=p, tile=0) for p in ("fp32", "bf16")}
    engines["bf16"].model = engines["fp32"].model  # one set of weights
    seconds = {"fp32": 0.0, "bf16": 0.0}
    frames = 0
    items = []
    for n, item in enumerate(ds):
        lq, gt = item["lq"], item["gt"]
        order = ("fp32", "bf16") if n % 2 == 0 else ("bf16", "fp32")
        scores = {}
        for p in order:
            up = engines[p]
            up.chunk_request = len(lq)  # one chunk: the comparison is precision only
            t0 = time.perf_counter()
            sr = up.upscale_clip(lq)
            seconds[p] += time.perf_counter() - t0
            sr = torch.round(sr * 255.0) / 255.0
            scores[p] = (float(psnr(sr, gt).mean()), float(psnr(sr, gt, y_channel=True).mean()))
        frames += len(lq)
        row = {
            "clip": item["clip"],
            "preset": item["preset"],
            "frames": len(lq),
            "fp32_psnr": scores["fp32"][0],
            "bf16_psnr": scores["bf16"][0],
            "delta_db": scores["bf16"][0] - scores["fp32"][0],
            "delta_y_db": scores["bf16"][1] - scores["fp32"][1],
        }
        items.append(row)
        log(f"{item['key']}: fp32 {row['fp32_psnr']:.3f} dB, bf16 {row['bf16_psnr']:.3f} dB ({row['delta_db']:+.4f})")
    mean = lambda k: sum(r[k] for r in items) / len(items)  # noqa: E731
    return {
        "psnr_delta_db": round(mean("delta_db"), 4),
        "psnr_y_delta_db": round(mean("delta_y_db"), 4),
        "worst_item_delta_db": round(min(r["delta_db"] for r in items), 4),
        "fp32_psnr_db": round(mean("fp32_psnr"), 3),
        "bf16_psnr_db": round(mean("bf16_psnr"), 3),
        "fp32_fps": round(frames / seconds["fp32"], 4),
        "bf16_fps": round(frames / seconds["bf16"], 4),
        "speedup": round(seconds["fp32"] / seconds["bf16"], 3),
        "protocol": "evalset LQ -> x4 in one chunk, whole frames; SR rounded to 8 bits; PSNR RGB (and Y) vs GT, "
        "mean over (clip, preset) items",
        "clips": sorted({r["clip"] for r in items}),
        "presets": sorted({r["preset"] for r in items}),
        "frames_per_item": max_frames,
        "items": len(items),
        "cpu": cpu_name(),
        "native_bf16": cpu_has_native_bf16(),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        "per_item": items,
    }


def record_bf16(checkpoint_path: str | os.PathLike, evalset_dir: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
    """Measure ``checkpoint_path`` (a freqvsr ``.safetensors``) and write the record into its
    header as ``precision.cpu_bf16`` (tensors untouched). Returns the record."""
    from freqvsr.models._checkpoint import read_checkpoint_header, update_checkpoint_header

    record = measure_bf16(checkpoint_path, evalset_dir, **kwargs)
    precision = dict(read_checkpoint_header(checkpoint_path).get("precision") or {})
    precision["cpu_bf16"] = record
    update_checkpoint_header(checkpoint_path, {"precision": precision})
    return record


def channels_last_speed(
    model: str, size: tuple[int, int] = (180, 320), frames: int = 4, rounds: int = 2
) -> dict[str, float]:
    """Seconds per frame of the bare model with default vs channels_last weights (alternated)."""
    from freqvsr.models import create_model

    m = create_model(model).eval()
    x = torch.rand(1, frames, 3, *size)
    out: dict[str, list[float]] = {"default": [], "channels_last": []}
    with torch.no_grad():
        m(x[:, :2])
        for _ in range(rounds):
            for fmt in ("default", "channels_last"):
                m = m.to(memory_format=torch.channels_last if fmt == "channels_last" else torch.contiguous_format)
                t0 = time.perf_counter()
                m(x)
                out[fmt].append((time.perf_counter() - t0) / frames)
    return {k: round(min(v), 3) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="basicvsr.small.mix", help="registry name or freqvsr checkpoint")
    ap.add_argument("--evalset", default="/work/data/evalset")
    ap.add_argument("--presets", default=None, help="comma-separated (default: all)")
    ap.add_argument("--clips", default=None, help="comma-separated (default: all)")
    ap.add_argument("--max-frames", type=int, default=16)
    ap.add_argument("--record", action="store_true", help="write the record into --model's checkpoint header")
    ap.add_argument("--channels-last", action="store_true", help="also time channels_last weights")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    kw = {
        "presets": args.presets.split(",") if args.presets else None,
        "clips": args.clips.split(",") if args.clips else None,
        "max_frames": args.max_frames,
    }
    if args.record:
        record = record_bf16(args.model, args.evalset, **kw)
    else:
        record = measure_bf16(args.model, args.evalset, **kw)
    if args.channels_last:
        record["channels_last_s_per_frame"] = channels_last_speed(args.model)
    summary = {k: v for k, v in record.items() if k != "per_item"}
    print(json.dumps(summary, indent=1))
    print(
        f"\nbf16 vs fp32 on {record['items']} items: {record['psnr_delta_db']:+.4f} dB RGB, "
        f"{record['psnr_y_delta_db']:+.4f} dB Y (worst item {record['worst_item_delta_db']:+.4f}); "
        f"{record['fp32_fps']:.3f} -> {record['bf16_fps']:.3f} frames/s (x{record['speedup']:.2f}) on {record['cpu']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
