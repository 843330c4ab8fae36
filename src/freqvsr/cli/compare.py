"""`freqvsr compare LQ SR [GT] -o report.html|report.png`: crops, DCT spectra, PSNR plot.

Two spellings: positional ``LQ SR [GT]`` (the CLI contract, docs/design.md), or ``LQ [GT] --sr A --sr B`` with one
``--sr PATH`` per output to compare (``--label`` names them in order); ``--gt`` works with either.
The positional paths must be contiguous (argparse does not collect positionals from between
options), so write ``LQ GT --sr A --sr B`` or ``LQ --sr A --sr B --gt GT``.
"""

from __future__ import annotations

import argparse
import sys

from freqvsr.cli._common import check_json_target, json_parser, quiet_parser, write_json
from freqvsr.errors import UsageError


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "compare",
        parents=[common, quiet_parser(), json_parser()],
        help="visual report: zoomed crops, DCT spectra, per-frame PSNR",
        description="Compare super-resolved outputs with their low-quality input (and ground truth): "
        "a self-contained HTML page or a PNG montage.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="LQ SR [GT]",
        help="LQ input, SR output, optional ground truth "
        "(with --sr: LQ [GT], kept together before or after the options)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="report.html (self-contained page) or report.png (required)",
    )
    p.add_argument(
        "--sr",
        action="append",
        default=[],
        metavar="PATH",
        help="an SR output to compare, repeatable (default: the second positional)",
    )
    # dest "labels": the parameter of compare() it sets (messages name it so)
    p.add_argument(
        "--label",
        dest="labels",
        action="append",
        default=[],
        metavar="NAME",
        help="name of each SR, in order, repeatable (default: the file or folder names)",
    )
    p.add_argument("--gt", default=None, metavar="PATH", help="ground truth (default: the third positional, if any)")
    p.add_argument("--frame", type=int, default=None, help="frame index to show (default: the middle one)")
    p.add_argument(
        "--crop",
        default=None,
        metavar="X,Y,W,H",
        help="crop in output pixels (default: auto, where outputs differ most)",
    )
    p.add_argument("--crop-size", type=int, default=96, metavar="N", help="side of the auto crop (default: 96)")
    p.add_argument("--zoom", type=int, default=2, help="nearest-neighbour magnification of the crops (default: 2)")
    p.add_argument("--scale", type=int, default=None, help="SR/LQ size ratio (default: inferred from the sizes)")
    p.add_argument(
        "--max-frames",
        type=int,
        default=None,
        metavar="N",
        help="score only the first N frames against GT (default: all)",
    )
    p.add_argument("--y-channel", action="store_true", help="PSNR/SSIM on BT.601 Y instead of RGB (default: RGB)")
    p.add_argument(
        "--crop-border", type=int, default=0, metavar="N", help="pixels ignored on each side for PSNR/SSIM (default: 0)"
    )
    p.add_argument("--no-bicubic", action="store_true", help="leave out the bicubic-upscaled LQ panel (default: shown)")
    p.set_defaults(func=run)


def split_inputs(inputs: list[str], sr: list[str], gt: str | None) -> tuple[str, list[str], str | None]:
    """(LQ, SRs, GT) from the positional arguments and the ``--sr`` / ``--gt`` options."""
    pos = list(inputs)
    if sr:
        if len(pos) > 2 or (len(pos) == 2 and gt):
            raise UsageError(f"with --sr give only LQ [GT] as positional arguments, got {len(pos)}: {' '.join(pos)}")
        lq, srs, pos_gt = pos[0], list(sr), (pos[1] if len(pos) == 2 else None)
    else:
        if len(pos) < 2:
            raise UsageError("compare needs LQ and SR (positional LQ SR [GT], or LQ --sr SR ...)")
        if len(pos) > 3 or (len(pos) == 3 and gt):
            raise UsageError(f"expected LQ SR [GT] (use --sr for several SR outputs), got {len(pos)} paths")
        lq, srs, pos_gt = pos[0], [pos[1]], (pos[2] if len(pos) == 3 else None)
    return lq, srs, gt or pos_gt


def run(args: argparse.Namespace) -> int:
    from freqvsr.report.compare import compare, format_summary

    lq, srs, gt = split_inputs(args.inputs, args.sr, args.gt)
    check_json_target(args.json)
    result = compare(
        lq,
        srs,
        gt,
        args.output,
        labels=args.labels or None,
        frame=args.frame,
        crop=args.crop,
        crop_size=args.crop_size,
        zoom=args.zoom,
        max_frames=args.max_frames,
        scale=args.scale,
        bicubic=not args.no_bicubic,
        y_channel=args.y_channel,
        crop_border=args.crop_border,
    )
    if not args.quiet:
        print(format_summary(result), file=sys.stderr)
    write_json(args.json, result)
    return 0
