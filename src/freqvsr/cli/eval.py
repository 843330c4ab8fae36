"""`freqvsr eval PRED GT`: flags map one to one onto :func:`freqvsr.bench.evaluate.evaluate`."""

from __future__ import annotations

import argparse
import sys

from freqvsr.cli._common import check_json_target, json_parser, quiet_parser, write_json
from freqvsr.errors import UsageError

# The dataset presets of freqvsr.bench.evaluate.DATASETS, spelled out here because importing that
# module (torch, metrics) while building the parser would slow down every `freqvsr` command;
# tests/test_eval_presets.py checks that the two agree.
_PRESETS_HELP = {
    "vid4": "ROOT/GT/<clip>/ frames; default Y, crop 0",
    "reds4": "ROOT/train_sharp/{000,011,015,020}/ frames; default RGB, crop 0",
    "vimeo": "ROOT/sep_testlist.txt + ROOT/sequences/<a>/<b>/im1..7.png; default Y, crop 0",
    "evalset": "a `freqvsr data build-evalset` folder; default RGB, crop 0",
}


def add_parser(sub, common) -> None:
    presets = "; ".join(f"{n}:ROOT ({text})" for n, text in _PRESETS_HELP.items())
    p = sub.add_parser(
        "eval",
        parents=[common, quiet_parser(), json_parser()],
        help="score predictions against ground truth: PSNR, SSIM, NIQE, VMAF, tOF",
        description="Score predicted videos or frame folders against the ground truth with the papers' "
        "protocols. PRED and GT are two videos, two frame folders, or two folders of clips "
        "(paired by name); GT may also be a dataset preset NAME:ROOT, then PRED is a folder "
        "holding one predicted clip (frame folder or video) per GT clip at the clip's name "
        "(Vimeo-90K: its relative path, e.g. 00001/0266) and the dataset's usual protocol "
        f"applies unless --y-channel/--rgb/--crop-border say otherwise. Presets: {presets}. "
        "Prints a per-clip Markdown table with averages.",
    )
    p.add_argument("pred", metavar="PRED", help="predicted video, frame folder, or folder of clips")
    p.add_argument(
        "gt",
        metavar="GT",
        help="ground-truth video, frame folder, folder of clips, or dataset preset "
        f"{', '.join(n + ':ROOT' for n in _PRESETS_HELP)}",
    )
    p.add_argument(
        "--metrics",
        default="psnr,ssim",
        help="comma list of psnr, ssim, niqe, vmaf, tof; niqe needs pip install 'freqvsr[eval]' (default: psnr,ssim)",
    )
    chan = p.add_mutually_exclusive_group()
    chan.add_argument(
        "--y-channel",
        dest="y_channel",
        action="store_const",
        const=True,
        default=None,
        help="PSNR/SSIM on BT.601 Y, the Vid4/Vimeo convention (default: for vid4:, vimeo:)",
    )
    chan.add_argument(
        "--rgb",
        dest="y_channel",
        action="store_const",
        const=False,
        help="PSNR/SSIM on RGB, the REDS convention (default: except for vid4:, vimeo:)",
    )
    p.add_argument(
        "--crop-border",
        type=int,
        default=None,
        metavar="N",
        help="pixels removed on each side before scoring (default: 0, or the dataset preset's)",
    )
    p.add_argument(
        "--max-frames",
        type=int,
        default=None,
        metavar="N",
        help="score only the first N frames of each clip (default: all)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from freqvsr.bench.evaluate import evaluate, format_markdown

    metrics = [m for m in args.metrics.split(",") if m.strip()]
    if not metrics:
        raise UsageError("--metrics is empty; choose from psnr, ssim, niqe, vmaf, tof")
    check_json_target(args.json)
    result = evaluate(
        args.pred,
        args.gt,
        metrics=metrics,
        y_channel=args.y_channel,
        crop_border=args.crop_border,
        max_frames=args.max_frames,
    )
    write_json(args.json, result)  # the full result: per clip, protocols
    if not args.quiet and args.json != "-":
        sys.stdout.write(format_markdown(result))
    return 0
