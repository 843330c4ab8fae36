"""`freqvsr bench`: params, FLOPs per output frame, frames/s and peak memory per model."""

from __future__ import annotations

import argparse

from freqvsr.cli._common import check_json_target, device_parser, json_parser, quiet_parser, write_json
from freqvsr.errors import UsageError


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "bench",
        parents=[common, quiet_parser(), json_parser(), device_parser()],
        help="params, FLOPs, speed and memory of models",
        description="Each model runs in its own process; FLOPs (not MACs) per output frame via "
        "torch.utils.flop_counter at the stated LR size; speed is the median of --repeat forwards.",
    )
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help="model name, repeat for several (default: bicubic and basicvsr.small; with --quality: "
        "every model with shipped weights)",
    )
    p.add_argument("--size", default="64x64", help="LR size HxW, e.g. 180x320 for REDS-sized frames (default: 64x64)")
    p.add_argument("--frames", type=int, default=5, help="frames per forward (default: 5)")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "fp16", "bf16"],
        help="arithmetic precision, as for `freqvsr upscale` (default: auto)",
    )
    p.add_argument("--repeat", type=int, default=3, help="timed forwards; the median is reported (default: 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed forwards before timing (default: 1)")
    p.add_argument(
        "--no-flops",
        action="store_true",
        help="skip FLOP counting, which runs one extra forward on CPU (default: counted)",
    )
    q = p.add_argument_group("quality", "--quality: PSNR/SSIM of models on the public evaluation set")
    q.add_argument(
        "--quality",
        action="store_true",
        help="score models on the evaluation set instead of timing them (default: off)",
    )
    q.add_argument(
        "--evalset", default="evalset", help="folder made by `freqvsr data build-evalset` (default: ./evalset)"
    )
    q.add_argument("--presets", default=None, help="comma-separated presets (default: all in the set)")
    q.add_argument("--clips", default=None, help="comma-separated clips (default: all)")
    q.add_argument(
        "--max-frames", type=int, default=None, help="score only the first N frames of each clip (default: all)"
    )
    q.add_argument("--crop-border", type=int, default=0, help="pixels ignored on each side (default: 0)")
    q.add_argument(
        "--niqe",
        action="store_true",
        help="also NIQE (no reference, lower is better) of SR and GT frames, on clips with at least two "
        "96x96 blocks (default: off)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from freqvsr.bench import markdown, run_isolated

    check_json_target(args.json)
    if args.quality:
        return run_quality(args)
    try:
        h, w = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {args.size!r}: expected HxW, e.g. 180x320") from None
    names = args.model or ["bicubic", "basicvsr.small"]
    rows = [
        run_isolated(
            n,
            height=h,
            width=w,
            frames=args.frames,
            device=args.device,
            precision=args.precision,
            warmup=args.warmup,
            repeat=args.repeat,
            flops=not args.no_flops,
        )
        for n in names
    ]
    if not args.quiet and args.json != "-":
        print(markdown(rows))
    write_json(args.json, rows)
    return 0


def run_quality(args: argparse.Namespace) -> int:
    from freqvsr.bench.quality import quality_markdown, quality_table
    from freqvsr.models import list_models

    models = args.model or [m for m in list_models() if _shipped(m)]
    split = lambda v: v.split(",") if v else None  # noqa: E731
    rows = quality_table(
        args.evalset,
        models,
        presets=split(args.presets),
        clips=split(args.clips),
        max_frames=args.max_frames,
        device=args.device,
        crop_border=args.crop_border,
        niqe=args.niqe,
    )
    if not args.quiet and args.json != "-":
        print(quality_markdown(rows))
    write_json(args.json, rows)
    return 0


def _shipped(name: str) -> bool:
    from freqvsr.models import get_spec

    return get_spec(name).weights is not None
