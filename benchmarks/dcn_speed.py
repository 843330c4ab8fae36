"""Speed of the pure-PyTorch DCNv2 (``freqvsr.functional.dcn``) against a plain conv2d of the same size.

Usage:
    python benchmarks/dcn_speed.py [--device cpu|cuda] [--threads N] [--repeat 5] [--backward]
        [--sizes 64x64,180x320] [--json FILE]

For each layer shape that the recurrent networks run (BasicVSR++'s second-order alignment DCN:
128 -> 64 channels, 16 deform groups; EDVR/IconVSR's PCD DCN: 64 -> 64, 8 deform groups) and each
LR size, it times (median of ``--repeat`` after one warm-up):

    conv2d       ``F.conv2d`` with the same weight, stride, padding (the dense lower bound)
    dcn/torch    ``modulated_deform_conv2d(..., backend="torch")`` (gather + GEMM)
    dcn/tv       ``backend="torchvision"`` when ``torchvision.ops.deform_conv2d`` works here

and prints GFLOP/s = 2 x MACs of the convolution / seconds (the same FLOP count for all three, so
the ratio is the slowdown the deformable sampling costs). Offsets are random with std 2 px (about
5 % of the sampling points outside a 64x64 image), masks uniform in [0, 1]. ``--backward`` times
forward + backward (gradients for input, offset, mask, weight) instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from freqvsr.functional.dcn import dcn_backend, deform_conv_flops, modulated_deform_conv2d

LAYERS = {
    "basicvsr++ align (128->64, dg16)": dict(cin=128, cout=64, dg=16),
    "edvr pcd (64->64, dg8)": dict(cin=64, cout=64, dg=8),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device: torch.device, repeat: int) -> float:
    fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(cin: int, cout: int, dg: int, h: int, w: int, device: torch.device, repeat: int, backward: bool) -> dict:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, cin, h, w, generator=g).to(device)
    weight = (torch.randn(cout, cin, 3, 3, generator=g) / (cin * 9) ** 0.5).to(device)
    bias = torch.zeros(cout, device=device)
    offset = (torch.randn(1, 2 * dg * 9, h, w, generator=g) * 2).to(device)
    mask = torch.rand(1, dg * 9, h, w, generator=g).to(device)
    flops = deform_conv_flops(1, tuple(weight.shape), (h, w))
    tensors = (x, offset, mask, weight, bias)
    if backward:
        for t in tensors:
            t.requires_grad_(True)

    def run(f):
        def call():
            out = f()
            if backward:
                out.sum().backward()
        return call

    candidates = {
        "conv2d": lambda: F.conv2d(x, weight, bias, padding=1),
        "dcn/torch": lambda: modulated_deform_conv2d(x, offset, mask, weight, bias, padding=1, backend="torch"),
    }
    if dcn_backend(device)[0] == "torchvision":
        candidates["dcn/tv"] = lambda: modulated_deform_conv2d(x, offset, mask, weight, bias, padding=1,
                                                                backend="torchvision")
    row = {"cin": cin, "cout": cout, "dg": dg, "h": h, "w": w, "gflop": flops / 1e9}
    with torch.set_grad_enabled(backward):
        for name, f in candidates.items():
            sec = _time(run(f), device, repeat)
            row[name] = {"ms": sec * 1e3, "gflops_per_s": flops * (3 if backward else 1) / sec / 1e9}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backward", action="store_true")
    ap.add_argument("--sizes", default="64x64,180x320")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    backend, reason = dcn_backend(device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"{'forward+backward' if args.backward else 'forward'}; auto backend: {backend} ({reason})")
    rows = []
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.split("x"))
        for label, layer in LAYERS.items():
            row = bench(**layer, h=h, w=w, device=device, repeat=args.repeat, backward=args.backward)
            row["layer"] = label
            rows.append(row)
            parts = [f"{k} {v['ms']:8.1f} ms {v['gflops_per_s']:6.1f} GFLOP/s"
                     for k, v in row.items() if isinstance(v, dict)]
            ratio = row["dcn/torch"]["ms"] / row["conv2d"]["ms"]
            print(f"{label:34s} {h}x{w:<4d} {row['gflop']:6.2f} GFLOP | " + " | ".join(parts)
                  + f" | dcn/torch = {ratio:.1f}x conv2d")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(),
                       "backward": args.backward, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
