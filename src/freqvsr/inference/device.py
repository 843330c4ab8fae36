"""Device and precision selection, free-memory queries and peak-memory measurement."""

from __future__ import annotations

import contextlib
import resource
import sys

import torch

from freqvsr.errors import UsageError

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str | torch.device = "auto", *, local_rank: int | None = None) -> torch.device:
    """``auto`` -> the first CUDA GPU when present (``cuda:local_rank`` for one process of a
    distributed run), else CPU. ``cuda:N`` is checked to exist. The one device picker of freqvsr:
    the engine, the benchmarks and training all choose through it."""
    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda") if local_rank is None else torch.device(f"cuda:{local_rank}")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UsageError(
                f"device={device}: no CUDA GPU is available (torch {torch.__version__} sees none); use device=cpu"
            )
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"device={device}: only {torch.cuda.device_count()} CUDA device(s) present")
        return dev
    raise UsageError(f"device={device!r}: expected auto, cpu, cuda or cuda:N")


def resolve_precision(precision: str, device: torch.device, model: object | None = None) -> str:
    """``auto`` -> bf16 on GPUs that support it, fp16 on older GPUs; on CPU bf16 only where the CPU
    has native bf16 and ``model``'s measured record allows it (see :mod:`.precision`), else fp32."""
    if precision not in PRECISIONS:
        raise UsageError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise UsageError("precision=fp16 is not supported on CPU; use precision=fp32 or precision=bf16")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu" and model is not None:
        from freqvsr.inference.precision import auto_cpu_precision

        return auto_cpu_precision(model)
    return "fp32"


def autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def available_memory(device: torch.device) -> int:
    """Bytes free on ``device`` now (see :func:`freqvsr.inference.memory.available_memory`)."""
    from freqvsr.inference.memory import available_memory as free

    return free(device)


def peak_host_memory() -> int:
    """Peak resident set size of this process in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def is_oom(exc: BaseException) -> bool:
    """CUDA out-of-memory, or the CPU allocator failing ("can't allocate memory")."""
    text = str(exc).lower()
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in text or "can't allocate memory" in text
