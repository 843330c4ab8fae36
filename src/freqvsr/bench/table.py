"""`freqvsr bench`: run :func:`bench_model` for each model in its own process and tabulate."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from freqvsr.errors import FreqVSRError


def run_isolated(name: str, **kwargs: Any) -> dict[str, Any]:
    """Benchmark one model in a fresh Python process (clean peak RSS, no warm caches)."""
    code = (
        "import json, sys; from freqvsr.bench.speed import bench_model; "
        "print(json.dumps(bench_model(**json.loads(sys.argv[1]))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps({"name": name, **kwargs})], capture_output=True, text=True
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise FreqVSRError(f"benchmark of {name} failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | params (M) | GFLOPs / frame | LR size | device | precision | frames/s | peak memory (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gflops = f"{r['flops_per_frame'] / 1e9:.2f}" if r.get("flops_per_frame") is not None else "-"
        lines.append(
            f"| {r['model']} | {r['params'] / 1e6:.2f} | {gflops} | {r['lr_size'][0]}×{r['lr_size'][1]} | "
            f"{r['device']} | {r['precision']} | {r['fps']:.2f} | {r['peak_memory_bytes'] / 2**20:.0f} |"
        )
    return "\n".join(lines)
