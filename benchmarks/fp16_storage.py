"""Would a shipped checkpoint lose quality if its weights were stored in fp16? (issue 14: ship fp16
only where the PSNR change is below 0.01 dB.)

    python benchmarks/fp16_storage.py --evalset EVALSET [--model NAME ...] [--presets bi,crf25]
        [--max-frames 10] [--limit-db 0.01] [--json out.json] [--write]

For each shipped model (default: every registered model with packaged weights) it writes a copy
of the checkpoint with fp16-stored tensors to a temporary folder (``save_checkpoint(...,
dtype=torch.float16)``: they load back into a float32 model), scores both with ``freqvsr bench
--quality``'s protocol on the same frames, and prints the largest PSNR RGB change over clips and
presets, the file sizes, and whether fp16 storage stays under ``--limit-db``. Inference runs in
fp32 either way; only the stored weights are rounded. Without ``--write`` it changes nothing;
with it, every checked checkpoint that stays under the limit is replaced in the package by its
fp16 copy (same header: the quality rows stay those measured with the fp32 weights, and
``precision.storage_fp16`` records this check, so the header says what the rounding cost).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from freqvsr.bench.quality import quality_table
from freqvsr.models import load_checkpoint, save_checkpoint
from freqvsr.models._checkpoint import read_checkpoint_header, update_checkpoint_header
from freqvsr.models._factory import WEIGHTS_DIR
from freqvsr.models._registry import get_spec, list_models


def check(name: str, evalset: str, presets: list[str], max_frames: int, tmp: Path) -> dict:
    src = WEIGHTS_DIR / get_spec(name).weights
    header = read_checkpoint_header(src)
    half = tmp / f"{src.stem}.fp16.safetensors"
    save_checkpoint(
        load_checkpoint(src),
        half,
        training=header.get("training"),
        metrics=header.get("metrics"),
        notes=header.get("notes"),
        dtype=torch.float16,
    )
    rows = quality_table(evalset, [str(src), str(half)], presets=presets, max_frames=max_frames)
    score = {(r["model"], r["clip"], r["preset"]): r["psnr_rgb"] for r in rows if r["model"] != "bicubic"}
    deltas = {
        f"{clip}/{preset}": value - score[(str(src), clip, preset)]
        for (model, clip, preset), value in score.items()
        if model == str(half)
    }
    worst = max(abs(d) for d in deltas.values())
    return {
        "model": name,
        "package_file": str(src),
        "fp16_file": str(half),
        "presets": presets,
        "max_frames": max_frames,
        "fp32_mib": src.stat().st_size / 2**20,
        "fp16_mib": half.stat().st_size / 2**20,
        "delta_psnr_rgb": deltas,
        "max_abs_delta_db": worst,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evalset", required=True)
    ap.add_argument("--model", action="append", help="a shipped model (repeatable; default: all)")
    ap.add_argument("--presets", default="bi,crf25")
    ap.add_argument("--max-frames", type=int, default=10)
    ap.add_argument("--limit-db", type=float, default=0.01)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--write", action="store_true", help="replace each checkpoint that passes by its fp16 copy")
    args = ap.parse_args()
    names = args.model or [n for n in list_models() if get_spec(n).weights]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if read_checkpoint_header(WEIGHTS_DIR / get_spec(name).weights).get("storage_dtype") == "float16":
                print(f"{name:24} stored in fp16 already (its header records the check)", flush=True)
                continue
            r = check(name, args.evalset, args.presets.split(","), args.max_frames, Path(tmp))
            r["fp16_ok"] = r["max_abs_delta_db"] < args.limit_db
            results.append(r)
            print(
                f"{name:24} fp32 {r['fp32_mib']:5.1f} MiB  fp16 {r['fp16_mib']:5.1f} MiB  "
                f"max |dPSNR| {r['max_abs_delta_db']:.4f} dB  fp16 {'ok' if r['fp16_ok'] else 'NOT ok'}",
                flush=True,
            )
            if args.write and r["fp16_ok"]:
                write_fp16(r, args.limit_db)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def write_fp16(result: dict, limit_db: float) -> None:
    """Replace the package checkpoint by its checked fp16 copy, recording the check in its header.

    The copy is moved in with a rename in the package folder, so the package file is never half
    written."""
    src, half = Path(result["package_file"]), Path(result["fp16_file"])
    precision = dict(read_checkpoint_header(src).get("precision") or {})
    precision["storage_fp16"] = {
        "max_abs_delta_psnr_rgb_db": result["max_abs_delta_db"],
        "delta_psnr_rgb_db": result["delta_psnr_rgb"],
        "limit_db": limit_db,
        "protocol": f"freqvsr bench --quality protocol, presets {','.join(result['presets'])}, "
        f"first {result['max_frames']} frames of each clip, fp32 inference; weights stored in fp16 vs fp32",
        "fp32_mib": round(result["fp32_mib"], 2),
        "date": datetime.date.today().isoformat(),
    }
    update_checkpoint_header(half, {"precision": precision})
    staged = src.with_name(src.name + ".fp16.tmp")
    shutil.copyfile(half, staged)
    os.replace(staged, src)
    print(f"wrote {src} in fp16 ({src.stat().st_size / 2**20:.1f} MiB)", flush=True)


if __name__ == "__main__":
    main()
