"""FastRealVSR variants: parameters, FLOPs per output frame, CPU frames/s and peak memory.

    python benchmarks/bench_fastrealvsr.py                          # every variant, defaults below
    python benchmarks/bench_fastrealvsr.py --variants fastrealvsr.small --size 180 320 --frames 6
    python benchmarks/bench_fastrealvsr.py --no-time                # params + FLOPs only (fast)

Everything is measured on the online path the engine uses (``init_state`` then ``step``), in
steady state: FLOPs are counted on the second frame (the first frame skips the flow network) with
``torch.utils.flop_counter.FlopCounterMode`` and reported as FLOPs (2 per multiply-add, not MACs).
The counter sees convolutions (the fixed depthwise pool filters included) and matrix products
only; ``grid_sample`` (warping), interpolation, softmax and element-wise work are not counted.

Timing: ``--frames`` steps after one warm-up frame, median seconds per frame, inverted; weights are
random (timing does not depend on them). Peak memory: each variant runs in its own process; the
figure is the growth of the process's peak RSS (``ru_maxrss``) while stepping, over the peak after
the model and the input were built — roughly the activations of one step plus the state. With one
thread, "fps (CPU time)" (process CPU time per frame) is the load-robust figure; wall-clock fps
is inflated by whatever else the machine runs, so ``uptime`` is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

VARIANTS = [
    "fastrealvsr",
    "fastrealvsr.urn",
    "fastrealvsr.blurry",
    "fastrealvsr.sharp",
    "fastrealvsr.nosca",
    "fastrealvsr.small",
    "fastrealvsr.tiny",
]


def _build(name: str):
    import torch

    from freqvsr.models import create_model
    from freqvsr.models import fastrealvsr as _fastrealvsr  # noqa: F401  (registers the entries)

    torch.manual_seed(0)
    return create_model(name, weights=None).eval()


def _flops_per_frame(model, h: int, w: int) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(2, 1, 3, h, w)
    with torch.inference_mode():
        state = model.init_state(x[0])
        _, state = model.step(x[0], state)
        with FlopCounterMode(display=False) as fc:
            model.step(x[1], state)
    return int(fc.get_total_flops())


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def worker(name: str, h: int, w: int, frames: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    model = _build(name)
    x = torch.rand(frames + 1, 1, 3, h, w)
    times, cpu_times = [], []
    with torch.inference_mode():
        base = _maxrss_mb()
        state = model.init_state(x[0])
        _, state = model.step(x[0], state)  # warm-up; the first frame has no flow
        for t in range(1, frames + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            _, state = model.step(x[t], state)
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
    peak = _maxrss_mb()
    sec, cpu = statistics.median(times), statistics.median(cpu_times)
    return {
        "variant": name,
        "size": [h, w],
        "threads": threads,
        "sec_per_frame": sec,
        "fps": 1.0 / sec,
        "cpu_fps": 1.0 / cpu,
        "rss_base_mb": base,
        "rss_peak_mb": peak,
        "step_growth_mb": peak - base,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=VARIANTS)
    ap.add_argument(
        "--flops-sizes",
        type=int,
        nargs="+",
        default=[64, 64, 180, 320],
        metavar="H W",
        help="LR sizes (pairs) to count FLOPs at",
    )
    ap.add_argument("--size", type=int, nargs=2, default=[64, 64], metavar=("H", "W"), help="LR size for timing")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-time", action="store_true", help="only parameters and FLOPs")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, *args.size, args.frames, args.threads)))
        return

    import torch

    torch.set_num_threads(args.threads)
    sizes = list(zip(args.flops_sizes[::2], args.flops_sizes[1::2]))
    header = ["variant", "params", "spynet"] + [f"GFLOP/frame@{h}x{w}" for h, w in sizes]
    if not args.no_time:
        header += [f"fps@{args.size[0]}x{args.size[1]} (wall)", "fps (CPU time)", "peak RSS MB", "step growth MB"]
    rows = []
    for name in args.variants:
        model = _build(name)
        params = sum(p.numel() for p in model.parameters())
        spy = sum(p.numel() for p in model.spynet.parameters())
        row = [name, f"{params:,}", f"{spy:,}"] + [f"{_flops_per_frame(model, h, w) / 1e9:.2f}" for h, w in sizes]
        del model
        if not args.no_time:
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                name,
                "--size",
                *map(str, args.size),
                "--frames",
                str(args.frames),
                "--threads",
                str(args.threads),
            ]
            res = json.loads(
                subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            )
            row += [
                f"{res['fps']:.2f}",
                f"{res['cpu_fps']:.2f}",
                f"{res['rss_peak_mb']:.0f}",
                f"{res['step_growth_mb']:.0f}",
            ]
        rows.append(row)
        print(" | ".join(row), flush=True)
    print()
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * n for n in widths], *rows]:
        print("| " + " | ".join(c.ljust(n) for c, n in zip(r, widths)) + " |")
    load = (
        subprocess.run(["uptime"], check=False, capture_output=True, text=True).stdout.strip()
        if os.name == "posix"
        else "?"
    )
    print(f"\nthreads {args.threads}; load: {load}")


if __name__ == "__main__":
    main()
