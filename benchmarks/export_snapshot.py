"""Write a checkpoint from a training run that is still going (or was stopped): its last saved state.

    python benchmarks/export_snapshot.py RUN_DIR OUT.safetensors [--raw] [--note "..."]

``freqvsr train`` writes ``final.safetensors`` only at the end and ``best.safetensors`` at
validations; a run that spans several sittings can be scored (and shipped) from its resumable
``training_state.pt`` in between. The exported weights are the EMA average (``--raw``: the
optimiser's weights); the header records the iteration, the accumulated wall time, the hardware
of this machine, the run's config (as last resumed) and ``--note``, so the checkpoint describes
itself like one written by the training loop.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from freqvsr.models import create_model, save_checkpoint
from freqvsr.train.config import config_from_dict
from freqvsr.train.loop import STATE_FILE, hardware


def export_snapshot(run: Path, out: Path, *, raw: bool = False, note: str = "") -> dict:
    state = torch.load(run / STATE_FILE, map_location="cpu", weights_only=False)
    cfg = config_from_dict(state["config"])
    model = create_model(cfg.model.name, weights=None, **dict(cfg.model.args))
    weights = state["model"] if raw or state.get("ema") is None else state["ema"]
    model.load_state_dict(weights)
    c = cfg.to_dict()
    training = {
        "recipe": cfg.name,
        "iterations": state["iteration"],
        "wall_time_s": round(state["wall_time_s"], 1),
        "hardware": hardware(torch.device("cpu"), 1),
        "data": c["data"],
        "degradation": c["degradation"],
        "seed": cfg.train.seed,
        "ema": not raw and state.get("ema") is not None,
        "config": c,
        "snapshot_of": str(run),
    }
    if note:
        training["note"] = note
    save_checkpoint(model, out, training=training)
    return training


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--raw", action="store_true", help="the optimiser's weights instead of the EMA")
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    t = export_snapshot(args.run, args.out, raw=args.raw, note=args.note)
    print(f"{args.out}: iteration {t['iterations']}, {t['wall_time_s']:.0f} s of training", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
