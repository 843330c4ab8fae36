"""Scale-out on one CPU: 2 processes x 1 thread against 1 process x 2 threads.

Two workloads, each run both ways as separate commands, timed end to end (interpreter start,
model load, decode, compute, encode, remux: what a user waits for):

* a folder of inputs: ``freqvsr upscale FOLDER -o OUT`` with ``OMP_NUM_THREADS=2`` (1 process,
  2 threads) against the same with ``--jobs 2`` (2 processes, 2 // 2 = 1 thread each);
* one video split by segments: ``freqvsr upscale VIDEO -o OUT.mp4`` with ``OMP_NUM_THREADS=2``
  against ``torchrun --standalone --nproc-per-node 2 -m freqvsr upscale ...`` with
  ``OMP_NUM_THREADS=1``.

frames/s = frames upscaled / wall seconds of the command; the ratio is (2 x 1) / (1 x 2). The
clips are generated (a moving gradient); the model is basicvsr.tiny with seeded weights saved to
a checkpoint (so every process has the same weights), unless ``--model`` names another. Runs are
repeated ``--repeat`` times, alternating the two ways, and the best time of each is kept. On a
shared machine the numbers are noisy: run it on an idle one to quote them.

    python benchmarks/scale_out.py --frames 96 --inputs 4 --size 64x48 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_clip(path: Path, frames: int, width: int, height: int) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": "18", "preset": "veryfast"}
        y, x = np.mgrid[0:height, 0:width].astype(np.float64)
        for i in range(frames):
            img = np.stack([(x / width + 0.03 * i) % 1.0, y / height, 0.5 + 0.4 * np.sin((x + y) / 7.0 + i)], -1)
            frame = av.VideoFrame.from_ndarray(np.round(img * 255).astype(np.uint8), format="rgb24")
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def timed(cmd: list[str], threads: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=96, help="frames of the one video (default: 96)")
    ap.add_argument("--inputs", type=int, default=4, help="videos in the folder, frames/inputs each (default: 4)")
    ap.add_argument("--size", default="64x48", help="LR width x height (default: 64x48)")
    ap.add_argument("--model", default=None, help="model name or checkpoint (default: seeded basicvsr.tiny)")
    ap.add_argument("--chunk", type=int, default=16, help="engine chunk (default: 16)")
    ap.add_argument("--overlap", type=int, default=4, help="engine overlap (default: 4)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each way, best kept (default: 2)")
    args = ap.parse_args()
    width, height = map(int, args.size.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="freqvsr-scale-out-"))
    model = args.model
    if model is None:
        import torch

        from freqvsr.models import create_model, save_checkpoint

        torch.manual_seed(0)
        model = str(save_checkpoint(create_model("basicvsr.tiny"), tmp / "tiny.safetensors"))
    folder = tmp / "folder"
    folder.mkdir()
    per = max(1, args.frames // args.inputs)
    for i in range(args.inputs):
        make_clip(folder / f"clip{i}.mp4", per, width, height)
    video = make_clip(tmp / "video.mp4", args.frames, width, height)
    base = [
        sys.executable,
        "-m",
        "freqvsr",
        "upscale",
        "--model",
        model,
        "--device",
        "cpu",
        "--quiet",
        "--chunk",
        str(args.chunk),
        "--overlap",
        str(args.overlap),
        "--overwrite",
    ]
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "freqvsr",
        "upscale",
        "--model",
        model,
        "--device",
        "cpu",
        "--quiet",
        "--chunk",
        str(args.chunk),
        "--overlap",
        str(args.overlap),
        "--overwrite",
    ]
    ways = {
        "folder": (
            {
                "1 proc x 2 threads": ([*base, str(folder), "-o", str(tmp / "f1")], 2),
                "2 procs x 1 thread": ([*base, str(folder), "-o", str(tmp / "f2"), "--jobs", "2"], 2),
            },
            per * args.inputs,
        ),
        "one video": (
            {
                "1 proc x 2 threads": ([*base, str(video), "-o", str(tmp / "v1.mp4")], 2),
                "2 procs x 1 thread": ([*torchrun, str(video), "-o", str(tmp / "v2.mp4")], 1),
            },
            args.frames,
        ),
    }
    print(
        f"{os.cpu_count()} CPUs; {args.frames} frames {width}x{height}, chunk {args.chunk}/{args.overlap}, "
        f"model {args.model or 'basicvsr.tiny (seeded)'}; wall time of each command, best of {args.repeat}"
    )
    for workload, (cmds, frames) in ways.items():
        best = {name: float("inf") for name in cmds}
        for _ in range(args.repeat):
            for name, (cmd, threads) in cmds.items():  # alternating: noise hits both ways alike
                best[name] = min(best[name], timed(cmd, threads))
        fps = {name: frames / seconds for name, seconds in best.items()}
        for name in cmds:
            print(f"{workload:10s} {name}: {best[name]:6.2f} s  {fps[name]:6.2f} frames/s")
        ratio = fps["2 procs x 1 thread"] / fps["1 proc x 2 threads"]
        print(f"{workload:10s} ratio (2 x 1) / (1 x 2): {ratio:.2f}")


if __name__ == "__main__":
    main()
