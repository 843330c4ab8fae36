"""What ``--precision auto`` picks on a CPU: bf16 only where it is native *and* measured harmless.

bf16 autocast on a CPU is fast only where the hardware multiplies bf16 natively (AVX512-BF16 on
AMD Zen 4 and Intel Cooper Lake+, AMX on Intel Sapphire Rapids+, BF16 on recent Arm cores);
elsewhere oneDNN emulates it and it is slower than fp32. And it is worth it only when it does
not cost quality: every set of weights carries its own measured record (the checkpoint header's
``precision.cpu_bf16``, written by ``benchmarks/precision.py``; exposed as
``model.cpu_bf16_delta_db``). ``auto`` takes bf16 when the CPU has native bf16 and the record says
bf16 loses less than :data:`MAX_BF16_LOSS_DB` PSNR against fp32; unmeasured weights stay fp32.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

MAX_BF16_LOSS_DB = 0.05


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when this CPU multiplies bf16 in hardware (read at run time, not at build time)."""
    flags = _cpu_flags()
    if flags & {"avx512_bf16", "amx_bf16"}:  # x86 (Linux /proc/cpuinfo names)
        return True
    if "bf16" in flags:  # aarch64 Linux "Features: ... bf16"
        return True
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True, timeout=5
            )
            return out.stdout.strip() == "1"
        except (OSError, subprocess.SubprocessError):
            return False
    return False


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return set(value.split())
    return set()


def bf16_is_harmless(model: Any) -> bool:
    """The model's weights were measured with bf16 costing less than :data:`MAX_BF16_LOSS_DB`."""
    delta = getattr(model, "cpu_bf16_delta_db", None)
    return delta is not None and -float(delta) < MAX_BF16_LOSS_DB


def auto_cpu_precision(model: Any) -> str:
    """``bf16`` when the CPU has native bf16 and the model's record allows it, else ``fp32``."""
    if os.environ.get("FREQVSR_CPU_BF16", "").strip() == "0":  # an escape hatch for debugging
        return "fp32"
    return "bf16" if cpu_has_native_bf16() and bf16_is_harmless(model) else "fp32"


def weights_header(model_name: Any, weights: Any) -> dict | None:
    """The freqvsr header of the weights a model was built from (shipped or given), if any.

    ``create_model`` keeps the header on models loaded from a checkpoint path
    (``model.checkpoint_header``) but not on a registered name's shipped weights nor on
    ``weights=PATH``; this reads it for those two cases.
    """
    from freqvsr.errors import ModelError
    from freqvsr.models._checkpoint import read_checkpoint_header

    path = None
    if weights not in (None, False, True):
        path = Path(weights)
    elif isinstance(model_name, str) and weights is None:
        from freqvsr.models._factory import WEIGHTS_DIR
        from freqvsr.models._registry import _REGISTRY

        spec = _REGISTRY.get(model_name)
        if spec is not None and spec.weights is not None:
            path = WEIGHTS_DIR / spec.weights
    if path is None or path.suffix != ".safetensors" or not path.is_file():
        return None
    try:
        return read_checkpoint_header(path)
    except ModelError:
        return None
