"""Speed of the pure-PyTorch DCNv2 backends (``freqvsr.functional.dcn``) against a plain conv2d of the same size.

Usage:
    python benchmarks/dcn_speed.py [--device cpu|cuda] [--threads N] [--repeat 5] [--backward]
        [--sizes 64x64,180x320] [--clock cpu|wall] [--model basicvsr++ --model-size 180x320
        --frames 2] [--json FILE]

For each layer shape that the recurrent networks run (BasicVSR++'s second-order alignment DCN:
128 -> 64 channels, 16 deform groups; EDVR/IconVSR's PCD DCN: 64 -> 64, 8 deform groups) and each
LR size, it times, in ``--repeat`` alternating rounds after one warm-up call each:

    conv2d            ``F.conv2d`` with the same weight, stride, padding (the dense lower bound)
    dcn/grid_sample   ``modulated_deform_conv2d(..., backend="grid_sample")`` (the default)
    dcn/gather        ``backend="gather"`` (the exact-rounding implementation)
    dcn/tv            ``backend="torchvision"`` when ``torchvision.ops.deform_conv2d`` works here

Every round runs each candidate once, so a change of load on a shared machine hits all of them
alike. Reported: the median time, GFLOP/s = 2 x MACs of the convolution / median time (the same
FLOP count for all, so the ratio is what the deformable sampling costs), and "x conv2d", the
median over rounds of (candidate time / conv2d time in the same round).

``--clock cpu`` (the default on CPU) measures the process's CPU time, which leaves out the time
other jobs hold the core: at ``--threads 1`` that is the single-thread cost, steady on a shared
machine. With more threads it is the sum over threads (work, not latency): use ``--clock wall``
there, on a quiet machine. CUDA is always timed by the wall clock, synchronised.

Offsets are random with std 2 px (about 5 % of the sampling points outside a 64x64 image), masks
uniform in [0, 1]. ``--backward`` times forward + backward (gradients for input, offset, mask,
weight) instead. ``--model NAME`` also times one forward of that registry model (random weights,
``--frames`` frames of ``--model-size``) with each backend set on all its DCN layers, alternating,
and reports seconds per frame. Untrained, its offsets are the (random) flow, here ~0.05 px, which
favours the gather backend's cache; ``--offset-std 2`` gives every tap its own residual offset.
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


def _clock(kind: str):
    return time.process_time if kind == "cpu" else time.perf_counter


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rounds(candidates: dict, device: torch.device, repeat: int, clock) -> dict[str, list[float]]:
    """Seconds per call, ``repeat`` alternating rounds after one warm-up call of each candidate."""
    for fn in candidates.values():
        fn()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeat):
        for name, fn in candidates.items():
            t0 = clock()
            fn()
            _sync(device)
            times[name].append(clock() - t0)
    return times


def _summary(times: dict[str, list[float]], ref: str) -> dict[str, dict]:
    out = {}
    for name, ts in times.items():
        ratios = [t / r for t, r in zip(ts, times[ref])]
        out[name] = {"ms": statistics.median(ts) * 1e3, "ms_min": min(ts) * 1e3, "x_" + ref: statistics.median(ratios)}
    return out


def bench(
    cin: int, cout: int, dg: int, h: int, w: int, device: torch.device, repeat: int, backward: bool, clock
) -> dict:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, cin, h, w, generator=g).to(device)
    weight = (torch.randn(cout, cin, 3, 3, generator=g) / (cin * 9) ** 0.5).to(device)
    bias = torch.zeros(cout, device=device)
    offset = (torch.randn(1, 2 * dg * 9, h, w, generator=g) * 2).to(device)
    mask = torch.rand(1, dg * 9, h, w, generator=g).to(device)
    flops = deform_conv_flops(1, tuple(weight.shape), (h, w)) * (3 if backward else 1)
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

    def dcn(backend):
        return lambda: modulated_deform_conv2d(x, offset, mask, weight, bias, padding=1, backend=backend)

    candidates = {
        "conv2d": lambda: F.conv2d(x, weight, bias, padding=1),
        "dcn/grid_sample": dcn("grid_sample"),
        "dcn/gather": dcn("gather"),
    }
    if dcn_backend(device)[0] == "torchvision":
        candidates["dcn/tv"] = dcn("torchvision")
    with torch.set_grad_enabled(backward):
        times = _rounds({k: run(f) for k, f in candidates.items()}, device, repeat, clock)
    row = {"cin": cin, "cout": cout, "dg": dg, "h": h, "w": w, "gflop": flops / 1e9}
    for name, s in _summary(times, "conv2d").items():
        row[name] = {**s, "gflops_per_s": flops / (s["ms"] / 1e3) / 1e9}
    return row


def bench_model(
    name: str, h: int, w: int, frames: int, device: torch.device, repeat: int, clock, offset_std: float
) -> dict:
    from freqvsr.layers.deform_conv import ModulatedDeformConv2d
    from freqvsr.models import create_model

    model = create_model(name, weights=None).to(device).eval()
    layers = [m for m in model.modules() if isinstance(m, ModulatedDeformConv2d)]
    if offset_std > 0:
        # Untrained, the offset convs are zero (offsets = flow, mask 0.5). As a stand-in for a
        # trained model, give every tap of every deform group its own residual offset
        # ~ N(0, offset_std px) and mask logit ~ N(0, 1), through the offset conv's bias.
        g = torch.Generator().manual_seed(1)
        for m in layers:
            last = [c for c in m.modules() if isinstance(c, torch.nn.Conv2d)][-1]
            n_off = last.bias.numel() * 2 // 3
            scale = offset_std / getattr(m, "max_residue_magnitude", 1.0)
            with torch.no_grad():
                last.bias[:n_off] = torch.randn(n_off, generator=g) * scale
                last.bias[n_off:] = torch.randn(last.bias.numel() - n_off, generator=g)
    lq = torch.rand(1, frames, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device)

    def with_backend(backend):
        def call():
            for m in layers:
                m.backend = backend
            with torch.no_grad():
                model(lq)

        return call

    times = _rounds({b: with_backend(b) for b in ("grid_sample", "gather")}, device, repeat, clock)
    return {
        "model": name,
        "h": h,
        "w": w,
        "frames": frames,
        "dcn_layers": len(layers),
        "offset_std": offset_std,
        **{
            b: {"s_per_frame": statistics.median(ts) / frames, "s_per_frame_min": min(ts) / frames}
            for b, ts in times.items()
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backward", action="store_true")
    ap.add_argument("--sizes", default="64x64,180x320", help="LR sizes for the layer table ('' for none)")
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default=None,
        help="process CPU time (default on CPU) or wall clock (always on CUDA)",
    )
    ap.add_argument("--model", default=None, help="also time this registry model, e.g. basicvsr++")
    ap.add_argument("--model-size", default="180x320")
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--model-repeat", type=int, default=2)
    ap.add_argument(
        "--offset-std",
        type=float,
        default=0.0,
        help="model only: residual offset per tap ~ N(0, this many px) instead of the untrained 0",
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    clock_kind = "wall" if device.type != "cpu" else (args.clock or "cpu")
    clock = _clock(clock_kind)
    backend, reason = dcn_backend(device)
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"{'forward+backward' if args.backward else 'forward'}, {clock_kind} clock, {args.repeat} rounds; "
        f"auto backend: {backend} ({reason})"
    )
    rows = []
    for size in filter(None, args.sizes.split(",")):
        h, w = (int(v) for v in size.split("x"))
        for label, layer in LAYERS.items():
            row = bench(**layer, h=h, w=w, device=device, repeat=args.repeat, backward=args.backward, clock=clock)
            row["layer"] = label
            rows.append(row)
            parts = [
                f"{k} {v['ms']:8.1f} ms {v['gflops_per_s']:6.1f} GFLOP/s {v['x_conv2d']:5.1f}x"
                for k, v in row.items()
                if isinstance(v, dict)
            ]
            print(f"{label:34s} {h}x{w:<4d} {row['gflop']:6.2f} GFLOP | " + " | ".join(parts), flush=True)
    model_row = None
    if args.model:
        h, w = (int(v) for v in args.model_size.split("x"))
        model_row = bench_model(args.model, h, w, args.frames, device, args.model_repeat, clock, args.offset_std)
        g, o = model_row["grid_sample"]["s_per_frame"], model_row["gather"]["s_per_frame"]
        print(
            f"{args.model} {h}x{w}, {args.frames} frames, {model_row['dcn_layers']} DCN layers, "
            f"residual offsets std {args.offset_std:g} px: "
            f"grid_sample {g:.2f} s/frame, gather {o:.2f} s/frame ({o / g:.2f}x)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "torch": torch.__version__,
                    "device": str(device),
                    "threads": torch.get_num_threads(),
                    "backward": args.backward,
                    "clock": clock_kind,
                    "rows": rows,
                    "model": model_row,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
