"""`freqvsr eval PRED GT`: flags map one to one onto :func:`freqvsr.report.evaluate.evaluate`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from freqvsr.errors import OutputError, UsageError


def add_parser(sub, common) -> None:
    p = sub.add_parser("eval", parents=[common], help="score predictions against ground truth: PSNR, SSIM, NIQE, VMAF, tOF",
                       description="Score predicted videos or frame folders against the ground truth with the papers' "
                                   "protocols. PRED and GT are two videos, two frame folders, or two folders of clips "
                                   "(paired by name); prints a per-clip Markdown table with averages.")
    p.add_argument("pred", metavar="PRED", help="predicted video, frame folder, or folder of clips")
    p.add_argument("gt", metavar="GT", help="ground-truth video, frame folder, or folder of clips")
    p.add_argument("--metrics", default="psnr,ssim", help="comma list of psnr, ssim, niqe, vmaf, tof (default psnr,ssim)")
    p.add_argument("--y-channel", action="store_true", help="PSNR/SSIM on BT.601 Y (Vid4 convention) instead of RGB")
    p.add_argument("--crop-border", type=int, default=0, metavar="N", help="pixels removed on each side before scoring")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the full result (per clip, protocols) as JSON")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="score only the first N frames of each clip")
    p.add_argument("--quiet", action="store_true", help="print nothing (use with --json)")
    p.set_defaults(func=run)


def _jsonable(obj):
    # JSON has no inf/nan: identical clips give PSNR +inf, which we write as the string "inf".
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else None)
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    return obj


def run(args: argparse.Namespace) -> int:
    from freqvsr.report.evaluate import evaluate, format_markdown

    metrics = [m for m in args.metrics.split(",") if m.strip()]
    if not metrics:
        raise UsageError("--metrics is empty; choose from psnr, ssim, niqe, vmaf, tof")
    if args.json is not None:
        out = Path(args.json)
        if not out.parent.is_dir():
            raise OutputError(f"{out}: folder {out.parent} does not exist")
    result = evaluate(args.pred, args.gt, metrics=metrics, y_channel=args.y_channel,
                      crop_border=args.crop_border, max_frames=args.max_frames)
    if args.json is not None:
        try:
            Path(args.json).write_text(json.dumps(_jsonable(result), indent=2, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise OutputError(f"{args.json}: cannot write ({exc.strerror or exc})") from exc
    if not args.quiet:
        sys.stdout.write(format_markdown(result))
    return 0
