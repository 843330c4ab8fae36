"""Keep freed activation memory in the process on glibc, instead of handing it back to the kernel.

Why: PyTorch's CPU allocator is plain ``malloc``. glibc serves every block above its mmap
threshold (which adapts up to 32 MiB on 64-bit Linux, never higher) with a fresh ``mmap`` and
returns it with ``munmap`` on free. A network at 640x360 LR or larger allocates activations of
44 MiB and more per layer, so every layer of every frame maps fresh pages that the kernel must
fault in and zero one 4 KiB page at a time: at 640x360 the system time exceeded the compute
time. Keeping the blocks in the heap cuts the faults and the system time by an order of magnitude
for a higher peak RSS (freed blocks are reused, not returned). The measurements and their command:
docs/measurements.md; the end-to-end numbers: docs/performance.md.

``mallopt(M_MMAP_MAX, 0)`` makes glibc take every block from the heap, and a high
``M_TRIM_THRESHOLD`` keeps freed heap memory for reuse. Both are process-wide, so only the
engine of a CPU job turns them on (a library call that merely imports freqvsr is left alone),
once. ``FREQVSR_MALLOC=system`` keeps the system's behaviour. Other C libraries (musl, macOS,
Windows) are left as they are: nothing is assumed, the call is looked up at run time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# glibc's own defaults, restored by release_freed_memory()
_DEFAULT_MMAP_MAX = 65536
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
# Freed memory above this stays with the process until it exits; below it glibc trims as usual.
_TRIM_THRESHOLD = 1 << 30

# Peak RSS over live tensors when freed blocks are kept: freed blocks are reused only where a
# later request fits, so the heap holds more than is live; the planner scales the working set by
# this (measured ratio and command: docs/measurements.md, HEAP_SLACK).
HEAP_SLACK = 1.6
# The same for the frame-sized I/O buffers of a job (SR frames on their way to the encoder, the
# encoder's pictures): blocks of a few very different large sizes fragment the heap more. A 4K
# input (15360x8640 output, tiles planned with HEAP_SLACK) peaked 11.3 GB above the idle process
# of which the model's tiles were at most 1.3 GB, against 6.1 GB of I/O planned without slack:
# >= 1.64x (docs/robustness.md, "Large frames"); 1.75 leaves a margin.
IO_HEAP_SLACK = 1.75

_state: dict[str, bool] = {}


def _mallopt():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    mallopt = libc.mallopt
    _ = libc.gnu_get_libc_version  # glibc only: musl has mallopt as a stub that does nothing
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def keep_freed_memory() -> bool:
    """Switch glibc's malloc to reuse freed blocks (see the module docstring); True if it is on.

    Idempotent; a no-op returning False off glibc or with ``FREQVSR_MALLOC=system``."""
    if "on" in _state:
        return _state["on"]
    _state["on"] = False
    if os.environ.get("FREQVSR_MALLOC", "").strip().lower() == "system" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = _mallopt()
    except (OSError, AttributeError):
        return False
    _state["on"] = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _state["on"]


def release_freed_memory() -> None:
    """Back to glibc's defaults (large blocks mapped and unmapped, freed heap trimmed).

    For jobs whose frame-sized buffers are hundreds of MB (the x4 output of a 4K input): kept in
    the heap, blocks of such different sizes fragment it, and peak RSS went 1.3x over the plan
    (measured: docs/robustness.md, "Large frames"). Their page faults cost less than the budget.
    Stays off for the rest of the process; later jobs plan without the slack."""
    if not _state.get("on"):
        return
    try:
        mallopt = _mallopt()
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
    mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
    _state["on"] = False
