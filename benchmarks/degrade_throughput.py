"""Throughput of on-the-fly degradation, the cost a training data loader pays per clip.

    python benchmarks/degrade_throughput.py crf25 real --seconds 5

Degrades 7-frame HR crops (default 256x256, so the LR clip is 7x64x64 at x4) with each preset in
one process and one torch thread (what one data-loader worker does), for ``seconds`` each, and
prints clips/s. Run N copies at once to see what N workers achieve together.
"""

from __future__ import annotations

import argparse
import time

import torch

from freqvsr.degrade.pipeline import apply, get_preset


def measure(preset: str, seconds: float = 5.0, frames: int = 7, hr_size: int = 256, seed: int = 0) -> dict:
    """Degrade random smooth HR clips with ``preset`` for ``seconds``; returns clips/s and ms/clip."""
    g = torch.Generator().manual_seed(seed)
    pad = 2 * frames + 8
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 3, hr_size + pad, hr_size + pad, generator=g), 5, 1, 2)[0]
    # A few different clips with motion, so the encoder sees realistic inter-frame changes.
    clips = [
        torch.stack([base[:, i + k : i + k + hr_size, 2 * i : 2 * i + hr_size] for i in range(frames)])
        for k in range(4)
    ]
    p = get_preset(preset)
    apply(clips[0], p.sample(g))  # warm-up: resize matrices, codec libraries
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        apply(clips[n % len(clips)], p.sample(g))
        n += 1
    dt = time.perf_counter() - t0
    return {"preset": preset, "clips_per_s": n / dt, "ms_per_clip": 1000 * dt / n, "clips": n}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("presets", nargs="+")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--frames", type=int, default=7)
    ap.add_argument("--hr-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1, as a loader worker)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in args.presets:
        r = measure(name, args.seconds, args.frames, args.hr_size)
        print(f"{name:12s} {r['clips_per_s']:7.1f} clips/s  ({r['ms_per_clip']:.1f} ms/clip, {r['clips']} clips)")


if __name__ == "__main__":
    main()
