"""Learning curves of training runs as one PNG: validation PSNR and (smoothed) training loss
against iterations, read from each run's ``metrics.jsonl``.

    python benchmarks/learning_curves.py RUN[=LABEL] ... --out docs/learning_curves.png

A run that continued shipped weights can be shifted to its place in the lineage with
``RUN=LABEL@OFFSET`` (iterations already done before it). The validation set is the run's own
(see its config's ``val``); the horizontal line is bicubic on it, one line per distinct set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

from freqvsr.report.plots import LINE_COLOURS, pil_lines


def _read(run: Path) -> list[dict]:
    with open(run / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _smooth(values: list[float], window: int = 10) -> list[float]:
    out, acc = [], []
    for v in values:
        acc.append(v)
        acc = acc[-window:]
        out.append(sum(acc) / len(acc))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="RUN, RUN=LABEL or RUN=LABEL@OFFSET")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--width", type=int, default=900)
    args = ap.parse_args()
    val: dict[str, tuple[list[float], list[float]]] = {}
    loss: dict[str, tuple[list[float], list[float]]] = {}
    bicubic_levels: dict[float, str] = {}
    for spec in args.runs:
        path, _, rest = spec.partition("=")
        label, _, offset = (rest or Path(path).name).partition("@")
        shift = int(offset or 0)
        rows = _read(Path(path))
        v = [r for r in rows if r.get("kind") == "val"]
        t = [r for r in rows if r.get("kind") == "train"]
        if v:
            val[label] = ([r["iter"] + shift for r in v], [r["psnr"] for r in v])
            if "psnr_bicubic" in v[0]:
                # one bicubic line per validation set: runs whose recipes validate on other clips
                # (e.g. 7-frame windows) get their own, named after the first such run
                level = round(v[0]["psnr_bicubic"], 4)
                if level not in bicubic_levels:
                    name = "bicubic" if not bicubic_levels else f"bicubic ({label})"
                    bicubic_levels[level] = name
                    val[name] = ([r["iter"] + shift for r in v], [r["psnr_bicubic"] for r in v])
        if t:
            loss[label] = ([r["iter"] + shift for r in t], _smooth([r["loss"] for r in t]))
        last = v[-1] if v else None
        print(
            f"{label}: {len(t)} training rows, {len(v)} validation rows"
            + (f", last val PSNR {last['psnr']:.3f} dB at {last['iter'] + shift}" if last else "")
        )
    # one colour per run in both panels
    labels = list(dict.fromkeys([*val, *loss]))
    colours = {label: LINE_COLOURS[i % len(LINE_COLOURS)] for i, label in enumerate(labels)}
    h = 320
    panels = [
        pil_lines(
            series,
            xlabel="iteration",
            ylabel=ylabel,
            width=args.width,
            height=h,
            title=title,
            colours=colours,
            integer_x=True,
        )
        for series, ylabel, title in (
            (val, "val PSNR (dB)", "validation PSNR"),
            (loss, "loss", "training loss (mean of 10 logs)"),
        )
    ]
    img = Image.new("RGB", (args.width, len(panels) * h), "white")
    for i, panel in enumerate(panels):
        img.paste(panel, (0, i * h))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    img.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
