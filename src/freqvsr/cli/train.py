"""`freqvsr train CONFIG.yaml [key=value ...] [--resume] [--out DIR]`: run a training recipe.

The same command under ``torchrun --nproc_per_node N -m freqvsr.cli.main train ...`` trains with
DistributedDataParallel. ``freqvsr train --flow CONFIG.yaml`` is not needed: a recipe whose top
level has ``spynet:`` is a flow-pretraining recipe (see ``configs/spynet_synthetic.yaml``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from freqvsr.cli._common import check_json_target, device_parser, json_parser, quiet_parser, write_json


def add_parser(sub, common) -> None:
    # --device default None: the recipe's train.device (itself auto unless the recipe says otherwise)
    device = device_parser(None, "the recipe's train.device, auto")
    p = sub.add_parser(
        "train",
        parents=[common, quiet_parser(), json_parser(), device],
        help="train a model from a YAML recipe (configs/*.yaml)",
        description="Train a model from a YAML recipe; key=value arguments override the recipe "
        "(e.g. optimizer.lr=1e-4 train.iterations=500). Under torchrun: DDP.",
    )
    p.add_argument("config", metavar="CONFIG.yaml", help="the training recipe")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="typed overrides of recipe fields")
    p.add_argument("--out", default=None, metavar="DIR", help="run folder (default: runs/<recipe name>)")
    p.add_argument("--resume", action="store_true", help="continue from DIR/training_state.pt exactly (default: off)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from freqvsr.errors import UsageError

    config = Path(args.config)
    check_json_target(args.json)
    overrides = list(args.overrides)
    if args.device is not None:
        overrides.append(f"train.device={args.device}")  # after the recipe's and the user's own overrides
    try:
        raw = yaml.safe_load(config.read_text()) if config.is_file() else None
    except yaml.YAMLError:
        raw = None  # load_config reports the YAML error with the file name
    if isinstance(raw, dict) and "spynet" in raw:
        from freqvsr.train.spynet_pretrain import load_flow_config, pretrain_spynet

        if args.device is not None:
            raise UsageError(f"{config}: --device: SPyNet pretraining recipes run on the CPU")
        cfg = load_flow_config(config, args.overrides)
        out = Path(args.out or Path("runs") / cfg.name)
        result = pretrain_spynet(cfg, out, progress=not args.quiet)
        if not args.quiet:
            print(
                f"{result['weights']}: EPE {result['epe']:.3f} px on {result['pairs']} held-out pairs "
                f"(zero flow {result['epe_zero']:.3f} px)",
                file=sys.stderr,
            )
        write_json(args.json, result)
        return 0

    from freqvsr.train.config import load_config
    from freqvsr.train.loop import train
    from freqvsr.train.state import STATE_FILE

    cfg = load_config(config, overrides)
    from freqvsr.errors import ModelError
    from freqvsr.models import get_spec

    try:  # fail before any work, naming the recipe
        get_spec(cfg.model.name)
    except ModelError as exc:
        raise UsageError(f"{config}: model.name: {exc}") from None
    out = Path(args.out or Path("runs") / cfg.name)
    if not args.resume and (out / STATE_FILE).exists():
        raise UsageError(f"{out} already holds a training run; pass --resume to continue it or --out for a new one")
    result = train(cfg, out, resume=args.resume, progress=not args.quiet)
    if not args.quiet and result.final is not None:
        val = f"; {result.val['name']} {result.val['value']:.2f}" if result.val else ""
        print(f"{result.final}: {result.iteration} iterations in {result.wall_time_s:.0f} s{val}", file=sys.stderr)
    write_json(args.json, dataclasses.asdict(result))
    return 0
