"""The papers' ablations rerun at small scale with equal budgets (issue 14): train each variant of
a study with the same recipe, seed and number of iterations, then score every one on the public
evaluation set against bicubic.

    python benchmarks/ablations.py STUDY [STUDY ...] --store STORE --evalset EVALSET --runs RUNS
        [--iterations 1500] [--presets bi,crf25,crf35] [--max-frames 30] [--threads 1] [--dry-run]

Studies (``--list`` prints them with their variants):

``domain``     FTVSR++ small, frequency vs pixel tokens (FTVSR Table 7)
``attention``  FTVSR++ small, LFA vs GFA vs DFA (Table 8)
``scheme``     FTVSR++ small, Λ_S / Λ_T / Λ_T×S / Λ_TS / Λ_ST (Table 9)
``fc-loss``    FCVSR-S with and without the frequency-aware contrastive loss
``hsa``        the default online net (fastrealvsr.lite) with and without hidden state attention
``seed``       the FTVSR++ reference again with other seeds (initial weights and data order): how
               far apart two runs of one variant land, the yardstick for the other studies

Runs are resumable and shared between studies (the FTVSR++ reference variant, DFA + Λ_ST in the
frequency domain, is trained once): a variant whose ``final.safetensors`` exists is not trained
again, one with a ``training_state.pt`` resumes, so the command can be stopped and rerun over
several sittings. Each variant's scores are kept in ``RUNS/LABEL/quality.json``. The table gives
PSNR RGB per preset (mean of the clips) and the gain over bicubic, plus the variant's training
wall time; read it as what holds at this scale, not as the papers' numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Variant:
    label: str  # also the run folder's name
    config: str  # a recipe in configs/
    overrides: tuple[str, ...] = ()
    note: str = ""


_FTVSR = "configs/ftvsrpp_small_mix_cpu.yaml"
_FT_REF = Variant("ftvsrpp-small-dfa-st", _FTVSR, (), "reference: frequency domain, DFA, space then time")
_FCVSR = "configs/fcvsr_small_cpu.yaml"
_FC_DATA = ("model.name=fcvsr-s", "degradation.preset=ftvsr-mix")
_ONLINE = "configs/default_online_cpu.yaml"


def _fc_loss(weight: float, temperature: float = 1.0) -> str:
    """A ``loss=`` override: Charbonnier plus the FC term at ``weight`` and ``temperature``."""
    fc = f"{{name: fc, weight: {weight}, args: {{temperature: {temperature}}}}}"
    return f"loss=[{{name: charbonnier, weight: 1.0}}, {fc}]"


STUDIES: dict[str, list[Variant]] = {
    "domain": [
        _FT_REF,
        Variant("ftvsrpp-small-pixel", _FTVSR, ("model.args.domain=pixel",), "pixel tokens instead of DCT"),
    ],
    "attention": [
        Variant("ftvsrpp-small-lfa", _FTVSR, ("model.args.attention=lfa",), "local frequency attention"),
        Variant("ftvsrpp-small-gfa", _FTVSR, ("model.args.attention=gfa",), "global frequency attention"),
        _FT_REF,
    ],
    "scheme": [
        Variant("ftvsrpp-small-s", _FTVSR, ("model.args.scheme=s",), "space-frequency attention only"),
        Variant("ftvsrpp-small-t", _FTVSR, ("model.args.scheme=t",), "time-frequency attention only"),
        Variant("ftvsrpp-small-txs", _FTVSR, ("model.args.scheme=txs",), "joint space-time attention"),
        Variant("ftvsrpp-small-ts", _FTVSR, ("model.args.scheme=ts",), "divided, time first"),
        _FT_REF,
    ],
    "fc-loss": [
        Variant("fcvsr-s-fc", _FCVSR, _FC_DATA, "Charbonnier + FC loss (the paper's)"),
        Variant("fcvsr-s-nofc", _FCVSR, (*_FC_DATA, "loss=[{name: charbonnier, weight: 1.0}]"), "Charbonnier only"),
        # The paper's weight (1) hurts at this scale. At temperature 1 the logits (mean L1 distances,
        # ~0.001 apart in the detail bands) leave the softmax flat, so the loss acts linearly: a
        # pull to HR, a push from every UP detail band that never saturates, and, in the low group,
        # a push of SR's LL band away from UP's near-zero detail bands, which brightens the output.
        # A lower weight, or a low temperature with the weight scaled alike (the softmax then
        # saturates once SR is nearer HR than UP, as if the paper's L1 were a sum over pixels,
        # while the unsaturated gradient keeps its size), are the two ways to tame it.
        Variant("fcvsr-s-fc0.1", _FCVSR, (*_FC_DATA, _fc_loss(0.1)), "Charbonnier + 0.1 FC"),
        Variant("fcvsr-s-fc0.01", _FCVSR, (*_FC_DATA, _fc_loss(0.01)), "Charbonnier + 0.01 FC"),
        Variant(
            "fcvsr-s-fc-t0.001",
            _FCVSR,
            (*_FC_DATA, _fc_loss(0.001, 0.001)),
            "Charbonnier + 0.001 FC at temperature 0.001",
        ),
    ],
    "hsa": [
        Variant("lite-nohsa", _ONLINE, (), "no HSA (the default's form)"),
        Variant("lite-hsa", _ONLINE, ("model.args.hsa=true",), "with hidden state attention"),
    ],
    "seed": [
        _FT_REF,
        Variant("ftvsrpp-small-dfa-st-seed1", _FTVSR, ("train.seed=1",), "reference, seed 1"),
    ],
}


def _train(v: Variant, args: argparse.Namespace) -> Path:
    out = Path(args.runs) / v.label
    final = out / "final.safetensors"
    if final.exists():
        return final
    cmd = [sys.executable, "-m", "freqvsr", "train", str(ROOT / v.config), *v.overrides]
    cmd += ["data.kind=store", f"data.root={args.store}", "data.args={crop_candidates: 4}"]
    cmd += [f"train.iterations={args.iterations}"]
    cmd += ["--out", str(out)] + (["--resume"] if (out / "training_state.pt").exists() else [])
    print("$", " ".join(cmd), flush=True)
    if not args.dry_run:
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    return final


def _score(v: Variant, ckpt: Path, args: argparse.Namespace) -> dict:
    cache = ckpt.parent / "quality.json"
    key = {"presets": args.presets, "max_frames": args.max_frames, "evalset": str(Path(args.evalset).resolve())}
    if cache.exists():
        kept = json.loads(cache.read_text())
        if kept.get("key") == key:
            return kept
    from freqvsr.bench.quality import quality_table
    from freqvsr.models._checkpoint import read_checkpoint_header

    rows = quality_table(args.evalset, [str(ckpt)], presets=args.presets.split(","), max_frames=args.max_frames)
    training = read_checkpoint_header(str(ckpt)).get("training") or {}
    result = {
        "key": key,
        "rows": rows,
        "wall_time_s": training.get("wall_time_s"),
        "iterations": training.get("iterations"),
    }
    cache.write_text(json.dumps(result, indent=1))
    return result


def _table(study: str, scored: list[tuple[Variant, dict]], presets: list[str]) -> str:
    def mean(rows, who, preset):
        vals = [
            r["psnr_rgb"] for r in rows if r["preset"] == preset and (r["model"] == "bicubic") == (who == "bicubic")
        ]
        return sum(vals) / len(vals)

    head = "| variant | " + " | ".join(f"{p} PSNR (gain)" for p in presets) + " | iterations | train s |"
    lines = [f"### {study}", "", head, "|" + "---|" * (len(presets) + 3)]
    for v, res in scored:
        rows = res["rows"]
        cells = [
            f"{mean(rows, 'model', p):.3f} ({mean(rows, 'model', p) - mean(rows, 'bicubic', p):+.2f})" for p in presets
        ]
        lines.append(
            f"| {v.label}: {v.note} | " + " | ".join(cells) + f" | {res['iterations']} | {res['wall_time_s']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="*", help=", ".join(STUDIES))
    ap.add_argument("--list", action="store_true", help="print the studies and their variants")
    ap.add_argument("--store", help="frame store (`freqvsr data build-store`)")
    ap.add_argument("--evalset", help="evaluation set (`freqvsr data build-evalset`)")
    ap.add_argument("--runs", help="folder of the runs (outside the repository)")
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--presets", default="bi,crf25,crf35")
    ap.add_argument("--max-frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per training run")
    ap.add_argument("--dry-run", action="store_true", help="print the training commands only")
    args = ap.parse_args()
    if args.list or not args.studies:
        for name, variants in STUDIES.items():
            print(name)
            for v in variants:
                print(f"  {v.label:24s} {v.config} {' '.join(v.overrides)}  # {v.note}")
        return
    unknown = [s for s in args.studies if s not in STUDIES]
    if unknown or not (args.store and args.evalset and args.runs):
        ap.error(f"unknown study {unknown}" if unknown else "--store, --evalset and --runs are required")
    for study in args.studies:
        scored = []
        for v in STUDIES[study]:
            ckpt = _train(v, args)
            if not args.dry_run:
                scored.append((v, _score(v, ckpt, args)))
        if scored:
            print(_table(study, scored, args.presets.split(",")) + "\n", flush=True)


if __name__ == "__main__":
    main()
