"""Peak memory of `freqvsr upscale` against video length (it must not grow with length).

Usage: python benchmarks/bench_upscale_memory.py [--frames 100 400 1600] [--size 160x90] [--model bicubic]

Each run is a fresh process (`freqvsr upscale ... --json`), so its peak RSS is its own. Prints a
Markdown table: frames, seconds, fps, peak RSS (MiB), and the ratio of peak RSS to the shortest run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def synthetic_clip(path: Path, frames: int, width: int, height: int) -> Path:
    """A moving gradient with noise, encoded with libx264 (ultrafast) — cheap to make, not trivial to upscale."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"preset": "ultrafast", "crf": "23"}
        for i in range(frames):
            r = (x / width + 0.01 * i) % 1.0
            g = (y / height + 0.005 * i) % 1.0
            b = 0.5 + 0.5 * np.sin((x + y + i) / 9.0)
            img = np.stack([r, g, b], -1) * 255 + rng.normal(0, 4, (height, width, 3))
            frame = av.VideoFrame.from_ndarray(img.clip(0, 255).astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, nargs="+", default=[100, 400, 1600])
    ap.add_argument("--size", default="160x90")
    ap.add_argument("--model", default="bicubic")
    ap.add_argument("--chunk", type=int, default=None)
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.frames:
            src = synthetic_clip(Path(tmp) / f"src_{n}.mp4", n, w, h)
            out, rep = Path(tmp) / f"out_{n}.mp4", Path(tmp) / f"rep_{n}.json"
            cmd = [
                sys.executable,
                "-m",
                "freqvsr.cli.main",
                "upscale",
                str(src),
                "-o",
                str(out),
                "--model",
                args.model,
                "--device",
                "cpu",
                "--quiet",
                "--json",
                str(rep),
            ]
            if args.chunk:
                cmd += ["--chunk", str(args.chunk)]
            subprocess.run(cmd, check=True)
            r = json.loads(rep.read_text())[0]
            rows.append((n, r["seconds"], r["fps"], r["peak_memory_bytes"] / 2**20))
    base = rows[0][3]
    print(f"model {args.model}, LR {w}x{h} -> x4, CPU\n")
    print("| frames | seconds | fps | peak RSS (MiB) | vs shortest |")
    print("|---|---|---|---|---|")
    for n, s, fps, mem in rows:
        print(f"| {n} | {s:.1f} | {fps:.1f} | {mem:.0f} | {mem / base:.2f}x |")


if __name__ == "__main__":
    main()
