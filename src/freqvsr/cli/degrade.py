"""`freqvsr degrade INPUT -o OUTPUT`: flags map one to one onto :func:`freqvsr.degrade.degrade_video`."""

from __future__ import annotations

import argparse
import json
import sys

from freqvsr.cli._common import check_json_target, json_parser, quiet_parser, write_json


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "degrade",
        parents=[common, quiet_parser(), json_parser()],
        help="make a low-quality input: blur, ×4 down-sampling, noise, real codecs",
        description="Degrade a video or frame folder with the papers' protocols (see --preset).",
    )
    p.add_argument("input", metavar="INPUT", help="video file or folder of images")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="video file (the codec's own stream) or a PNG folder (required)",
    )
    p.add_argument(
        "--preset",
        default="bi",
        help="bi | bd | noise | crf15 | crf25 | crf35 | cqp25 | cbr1500k | "
        "hevc-qp22..37 | real | ftvsr-mix (default: bi)",
    )
    p.add_argument("--scale", type=int, default=4, help="down-sampling factor (default: 4)")
    p.add_argument(
        "--blur",
        type=float,
        default=None,
        metavar="SIGMA",
        help="Gaussian blur sigma in HR pixels (default: the preset's)",
    )
    p.add_argument(
        "--noise",
        type=float,
        default=None,
        metavar="SIGMA",
        help="Gaussian noise sigma on the 0-255 scale (default: the preset's)",
    )
    p.add_argument("--codec", default=None, help="libx264 | libx265 | libvpx-vp9 | libsvtav1 (default: the preset's)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=float, default=None, help="constant rate factor (default: the preset's)")
    rate.add_argument("--qp", type=int, default=None, help="constant QP, libx264/libx265 (default: the preset's)")
    rate.add_argument("--bitrate", default=None, help="constant bitrate, e.g. 1500k (default: the preset's)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the random parameters, presets real and ftvsr-mix (default: 0)"
    )
    p.add_argument(
        "--save-params", default=None, metavar="FILE", help="write the drawn parameters as JSON (default: not written)"
    )
    p.add_argument("--max-frames", type=int, default=None, help="degrade only the first N frames (default: all)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of a frame-folder input (default: 25)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from freqvsr.degrade import degrade_video

    check_json_target(args.json)
    summary = degrade_video(
        args.input,
        args.output,
        preset=args.preset,
        scale=args.scale,
        blur=args.blur,
        noise=args.noise,
        codec=args.codec,
        crf=args.crf,
        qp=args.qp,
        bitrate=args.bitrate,
        seed=args.seed,
        save_params=args.save_params,
        max_frames=args.max_frames,
        fps=args.fps,
    )
    if not args.quiet:
        print(
            f"{summary['output']}: {summary['frames']} frames {summary['hr_size'][0]}x{summary['hr_size'][1]} -> "
            f"{summary['lr_size'][0]}x{summary['lr_size'][1]} in {summary['seconds']:.1f} s; "
            f"params {json.dumps(summary['params'], default=str)}",
            file=sys.stderr,
        )
    write_json(args.json, summary)
    return 0
