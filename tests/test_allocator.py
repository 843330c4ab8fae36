"""The engine's glibc malloc setting (inference/allocator.py): freed 64 MiB blocks are reused
instead of being mapped and faulted in again, and FREQVSR_MALLOC=system turns it off. Run in
subprocesses: the setting is process-wide. Counts page faults, not time (machines are noisy)."""

import os
import subprocess
import sys

import pytest

_SCRIPT = """
import resource, torch
from freqvsr.inference.allocator import keep_freed_memory
on = keep_freed_memory()
torch.ones(1)
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    x = torch.empty(16 << 20)   # 64 MiB: above glibc's largest mmap threshold
    x.fill_(1.0)
    del x
print(on, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def _run(mode: str) -> tuple[bool, int]:
    env = dict(os.environ, FREQVSR_MALLOC=mode, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True)
    on, faults = out.stdout.split()
    return on == "True", int(faults)


@pytest.mark.spawns
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc setting (Linux only)")
def test_freed_blocks_are_reused_without_page_faults():
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    on, faults_kept = _run("")
    off, faults_system = _run("system")
    assert on and not off
    pages = 30 * (64 << 20) // 4096
    # kept: the first block or two fault in, the rest reuse them (a memory-reclaim daemon may
    # page some of the kept heap out again, seen here: up to ~6 blocks' worth of faults)
    assert faults_kept < 0.4 * pages, (faults_kept, faults_system)
    # system malloc: every block mapped afresh, one fault per 4 KiB page (transparent huge pages,
    # where the kernel gives them to every mapping, would hide the difference: not asserted then)
    if faults_system > 0.9 * pages:
        assert faults_kept < 0.4 * faults_system


def test_planner_counts_the_allocator_slack_in_the_budget():
    """With freed blocks kept, peak RSS is HEAP_SLACK x the live working set: a frame that fits
    whole under the system allocator must be tiled under the same budget with the slack."""
    from freqvsr.inference.allocator import HEAP_SLACK
    from freqvsr.inference.memory import WorkingSet, plan

    ws = WorkingSet(fixed=0, per_pixel=10_000, per_pixel_frame=0)  # ~2.6 GB live at 640x360 (x SAFETY)
    kw = dict(working_set=ws, budget=3 << 30, temporal="image", scale=4, chunk=1, host_buffers=False)
    system = plan(360, 640, **kw)
    kept = plan(360, 640, allocator_slack=HEAP_SLACK, **kw)
    assert system.tile is None and system.fits
    assert kept.tile is not None and kept.fits and kept.bytes <= 3 << 30


def test_cpu_engine_plans_with_the_slack_when_blocks_are_kept(monkeypatch):
    import torch

    import freqvsr.inference.engine as engine_mod
    from freqvsr.inference import Upscaler

    seen = {}
    real_plan = engine_mod.plan

    def spy(*args, **kwargs):
        seen["slack"] = kwargs.get("allocator_slack")
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(engine_mod, "plan", spy)
    up = Upscaler("bicubic", device="cpu")
    up.upscale_clip(torch.rand(2, 3, 32, 32))  # planning happens per stream
    assert seen, "the engine did not plan"
    assert seen["slack"] == (engine_mod.HEAP_SLACK if up.keeps_freed_memory else 1.0)
