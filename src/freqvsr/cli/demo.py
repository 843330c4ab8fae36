"""`freqvsr demo`: real clip -> degraded -> upscaled -> compared, in ./freqvsr-demo/."""

from __future__ import annotations

import argparse


def add_parser(sub, common) -> None:
    p = sub.add_parser("demo", parents=[common], help="run the embedded default job on a real sample clip")
    p.add_argument("-o", "--output", default="freqvsr-demo", help="output folder (default ./freqvsr-demo)")
    p.add_argument("--model", default=None, help="model to demonstrate (default: the default model)")
    p.add_argument("--frames", type=int, default=100, help="frames of the sample clip to use")
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from freqvsr.inference import DEFAULT_MODEL
    from freqvsr.report.demo import run_demo

    run_demo(args.output, model=args.model or DEFAULT_MODEL, frames=args.frames, device=args.device, quiet=args.quiet)
    return 0
