"""CPU timing of the FTVSR port: seconds per forward, median of N runs, torch.inference_mode.

    python benchmarks/bench_ftvsr.py                       # ftvsr.official, golden case_0 shape
    python benchmarks/bench_ftvsr.py --shape 1 5 3 64 64 --threads 2 --repeat 3
    python benchmarks/bench_ftvsr.py --nchw                # NCHW baseline (see below)
    python benchmarks/bench_ftvsr.py --flops               # FLOPs per forward (FlopCounterMode)
    python benchmarks/bench_ftvsr.py --flops --no-winograd # nominal FLOPs (direct convolutions)

Reports wall time and process CPU time. The machine this project develops on is shared, so
also note ``uptime``: with other jobs running, wall time is inflated and CPU time is inflated by
OpenMP spin-waiting; ``--threads 1`` CPU time is the most load-robust comparison between
variants.

``--nchw`` builds the model with ``channels_last=False`` (NCHW feature maps, SPyNet included) to
approximate the official code's memory layout; the official code additionally re-stacks its
token buffers every step, grid-samples all four LTAM buffers, computes the space-frequency
attention and the shared half of the trunk input convolutions twice and materialises the
attention map, so it is slower still.
Weights are random (timing does not depend on their values).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="ftvsr.official")
    ap.add_argument("--shape", type=int, nargs=5, default=[1, 5, 3, 64, 64], metavar=("B", "T", "C", "H", "W"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nchw", action="store_true", help="channels_last=False: NCHW feature maps (baseline layout)")
    ap.add_argument("--no-winograd", action="store_true", help="plain oneDNN convolutions in the frequency stage")
    ap.add_argument("--flops", action="store_true", help="count FLOPs instead of timing")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from freqvsr.models._registry import get_spec

    spec = get_spec(args.model)
    options = {**({"winograd": 0} if args.no_winograd else {}), **({"channels_last": False} if args.nchw else {})}
    torch.manual_seed(0)
    model = spec.builder(**{**spec.args, **options}).eval()
    x = torch.rand(*args.shape)
    params = sum(p.numel() for p in model.parameters())
    state = sum(v.numel() for v in model.state_dict().values() if v.is_floating_point())
    print(
        f"model {args.model}: {params:,} parameters ({state:,} float state-dict elements incl. fixed DCT/IDCT and SPyNet mean/std)"
    )

    if args.flops:
        from torch.utils.flop_counter import FlopCounterMode

        with torch.inference_mode(), FlopCounterMode(display=False) as fc:
            model(x)
        total = fc.get_total_flops()
        print(
            f"input {tuple(x.shape)}: {total / 1e12:.3f} TFLOP per forward, {total / args.shape[1] / 1e9:.1f} GFLOP per frame"
        )
        return

    walls, cpus = [], []
    with torch.inference_mode():
        model(x)  # warm-up (oneDNN primitive creation, allocator)
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            model(x)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip() if os.name == "posix" else "?"
    print(
        f"input {tuple(x.shape)} threads {args.threads} layout {'NCHW' if args.nchw else 'channels-last'}"
        f"{', no Winograd' if args.no_winograd else ''}: "
        f"wall median {statistics.median(walls):.2f} s (runs {', '.join(f'{v:.2f}' for v in walls)}), "
        f"CPU median {statistics.median(cpus):.2f} s"
    )
    print(f"load: {load}")


if __name__ == "__main__":
    main()
