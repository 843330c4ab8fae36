"""The README's results table, from the JSON that `freqvsr bench` writes (nothing is measured here).

    freqvsr bench --quality --evalset evalset --presets bi,bd,noise,crf15,crf25,crf35,cqp25,cbr1500k \
        --max-frames 30 --json quality.json
    freqvsr bench --model bicubic --model fastrealvsr.lite.mix ... --size 180x320 --frames 5 --json speed.json
    python benchmarks/results_table.py quality.json [more.json ...] [--speed speed.json [more.json ...]]

Prints one table per colour space (RGB, then BT.601 Y) with a row per model and a column per
preset, each cell "PSNR / SSIM" as the mean over the clips (each clip counts once, the papers'
convention); a model's PSNR is marked with ↑ where it beats bicubic on that preset and ↓ where it
does not. Several quality files are merged (a model added later is scored in its own run; bicubic,
in every run, is taken from the first). With --speed, a third table gives parameters, GFLOPs per
frame and frames/s (several speed files are listed one after another).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

BASELINE = "bicubic"


def _means(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """(model, preset) -> mean over clips of each score."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["preset"]), []).append(r)
    keys = ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y")
    return {k: {s: sum(r[s] for r in g) / len(g) for s in keys} for k, g in groups.items()}


def quality_tables(rows: list[dict[str, Any]]) -> str:
    means = _means(rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    clips = sorted({r["clip"] for r in rows})
    frames = sorted({r["frames"] for r in rows})
    out = [
        f"Mean over clips ({', '.join(clips)}; {'/'.join(map(str, frames))} frames each), PSNR dB / SSIM; "
        "↑ / ↓: PSNR above / not above bicubic's on that preset."
    ]
    for space in ("rgb", "y"):
        out += ["", f"| {space.upper()} | " + " | ".join(presets) + " |", "|---" * (len(presets) + 1) + "|"]
        for m in models:
            cells = []
            for p in presets:
                s = means.get((m, p))
                if s is None:
                    cells.append("-")
                    continue
                mark = ""
                if m != BASELINE and (BASELINE, p) in means:
                    mark = " ↑" if s[f"psnr_{space}"] > means[(BASELINE, p)][f"psnr_{space}"] else " ↓"
                cells.append(f"{s[f'psnr_{space}']:.2f}{mark} / {s[f'ssim_{space}']:.4f}")
            out.append(f"| `{m}` | " + " | ".join(cells) + " |")
    return "\n".join(out)


def speed_table(rows: list[dict[str, Any]]) -> str:
    size = {tuple(r["lr_size"]) for r in rows}
    lines = [
        "| model | parameters | GFLOPs / frame | frames/s | precision |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        gflops = f"{r['flops_per_frame'] / 1e9:.1f}" if r.get("flops_per_frame") is not None else "-"
        lines.append(f"| `{r['model']}` | {r['params'] / 1e6:.2f} M | {gflops} | {r['fps']:.2f} | {r['precision']} |")
    sizes = ", ".join(f"{h}×{w}" for h, w in sorted(size))
    return f"LR input {sizes}, device {rows[0]['device']}:\n\n" + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("quality", type=Path, nargs="+", help="JSON of `freqvsr bench --quality --json`")
    ap.add_argument("--speed", type=Path, nargs="+", help="JSON of `freqvsr bench --json`")
    args = ap.parse_args()
    rows, seen = [], set()
    for path in args.quality:
        for r in json.loads(path.read_text()):
            key = (r["model"], r["clip"], r["preset"])
            if key not in seen:
                seen.add(key)
                rows.append(r)
    print(quality_tables(rows))
    if args.speed:
        print()
        print(speed_table([r for path in args.speed for r in json.loads(path.read_text())]))


if __name__ == "__main__":
    main()
