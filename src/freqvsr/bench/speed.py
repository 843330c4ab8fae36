"""Cost of a model: parameters, FLOPs per output frame, frames/s and peak memory.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (multiply and add counted
separately: FLOPs, not MACs) for one forward over the stated LR size, divided by the number of
output frames. Speed is the median over ``repeat`` timed forwards after ``warmup`` untimed ones,
with CUDA synchronised around each. Peak memory is the process's peak RSS on CPU (run each model
in its own process, as `freqvsr bench` does, so models do not inherit each other's peaks) and
``torch.cuda.max_memory_allocated`` on GPU.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from freqvsr.inference.device import autocast, peak_host_memory, resolve_device, resolve_precision
from freqvsr.models import create_model


def _input(model, frames: int, height: int, width: int, device: torch.device) -> tuple[torch.Tensor, int]:
    """An LR input for one forward and the number of output frames it yields."""
    c = model.in_channels
    if model.temporal == "window":
        return torch.rand(frames, model.window, c, height, width, device=device), frames
    return torch.rand(1, frames, c, height, width, device=device), frames


def _cpu_flash_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


# torch's FlopCounterMode knows the CUDA flash/efficient attention kernels but not the CPU one
# that scaled_dot_product_attention dispatches to here; without this its FLOPs would be missing.
_EXTRA_FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops}


def count_flops(model, frames: int, height: int, width: int) -> int:
    """FLOPs of one forward over ``frames`` LR frames of height×width.

    Counted on a 'meta' copy of the model (shapes only: no compute, no memory, seconds even for
    FTVSR at 180×320, and the nominal FLOPs of the architecture — on real CPU tensors FTVSR's
    Winograd path would be counted as its cheaper GEMMs); on CPU tensors if an op has no meta
    kernel.
    """
    counter = FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOPS)
    try:
        meta = copy.deepcopy(model).to("meta")
        x, _ = _input(meta, frames, height, width, torch.device("meta"))
        with torch.no_grad(), counter:
            meta(x)
        return int(counter.get_total_flops())
    except (NotImplementedError, RuntimeError):
        pass
    x, _ = _input(model, frames, height, width, torch.device("cpu"))
    counter = FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOPS)
    with torch.no_grad(), counter:
        model(x)
    return int(counter.get_total_flops())


def bench_model(
    name: str,
    *,
    height: int = 64,
    width: int = 64,
    frames: int = 5,
    device: str = "auto",
    precision: str = "auto",
    warmup: int = 1,
    repeat: int = 3,
    flops: bool = True,
) -> dict[str, Any]:
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    torch.manual_seed(0)
    model = create_model(name).eval()
    params = sum(p.numel() for p in model.parameters())
    flop_total = count_flops(model, frames, height, width) if flops else None
    model = model.to(dev)
    x, outputs = _input(model, frames, height, width, dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    with torch.no_grad(), autocast(dev, prec):
        for i in range(warmup + repeat):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            model(x)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    return {
        "model": name,
        "params": params,
        "lr_size": [height, width],
        "frames": frames,
        "flops_per_frame": flop_total / outputs if flop_total is not None else None,
        "device": str(dev),
        "precision": prec,
        "threads": torch.get_num_threads(),
        "seconds_per_forward": seconds,
        "fps": outputs / seconds,
        "peak_memory_bytes": int(torch.cuda.max_memory_allocated(dev)) if dev.type == "cuda" else peak_host_memory(),
        "peak_memory_kind": "cuda max_memory_allocated" if dev.type == "cuda" else "process peak RSS",
    }
