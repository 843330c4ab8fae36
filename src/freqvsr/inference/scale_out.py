"""Several processes, one `freqvsr upscale`: torchrun's environment and how work is shared.

``torchrun --nproc-per-node G [--nnodes N ...] -m freqvsr upscale ...`` starts one process per
GPU (or per CPU share); each reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from its
environment. Many inputs are shared whole (round robin); one video is shared by segments
(contiguous runs of the engine's segments, see :func:`share_segments`), each process writing its
segments into the job's work folder beside OUTPUT. **That folder must be shared** by every
process (one machine, or a network file system on all nodes): segments, done-markers and the
final output are plain files there.

Coordination is a Gloo process group, on GPUs too: only a few small Python objects travel
(errors, the job's plan, summary rows, barriers), never frames, so NCCL (which needs a CUDA tensor
per message and one device per process) would buy nothing. The frames themselves go through the
shared folder, where an interrupted job also resumes from.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pickle
from typing import Any

import torch

from freqvsr.errors import FreqVSRError, UsageError
from freqvsr.inference.device import resolve_device

# How long a process waits for the others at a barrier: a rank that finished its share waits for
# the slowest one, which on a long video can be hours. torchrun's agent stops every process when
# one dies, so a long wait is never a hang on a lost peer under torchrun.
DEFAULT_TIMEOUT = datetime.timedelta(days=7)


@dataclasses.dataclass
class Group:
    """This process's place among the processes of one job (``rank`` 0 .. ``world - 1``)."""

    rank: int
    world: int
    local_rank: int
    owns_process_group: bool = False

    def barrier(self) -> None:
        torch.distributed.barrier()

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Rank ``src``'s ``obj`` on every rank."""
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=src)
        return box[0]

    def agree(self, exc: BaseException | None) -> None:
        """A collective check point: if any rank failed, every rank raises (its own error, or the
        first rank's). Without it, the ranks that did not fail would wait at the next barrier."""
        errors = self.all_gather(portable_error(exc))
        first = next((e for e in errors if e is not None), None)
        if exc is not None:
            raise exc
        if first is not None:
            raise first

    def close(self) -> None:
        if self.owns_process_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def from_env(timeout: datetime.timedelta = DEFAULT_TIMEOUT) -> Group | None:
    """The :class:`Group` torchrun's variables describe, its Gloo process group initialised; None
    when this process runs alone (no ``WORLD_SIZE``, or 1)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
    except (KeyError, ValueError) as exc:
        raise UsageError(
            f"WORLD_SIZE={os.environ.get('WORLD_SIZE')}: the distributed environment needs RANK and "
            f"WORLD_SIZE as integers (as torchrun sets them): {exc}"
        ) from None
    owns = False
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo", timeout=timeout)
        owns = True
    return Group(rank, world, local_rank, owns)


def device_for(device: str | None, local_rank: int) -> str:
    """The device of the process ``local_rank`` on its machine: its own GPU (``cuda:LOCAL_RANK``
    modulo the GPUs it sees) for ``auto``/``cuda``; an explicit ``cuda:N`` or ``cpu`` as given."""
    device = device or "auto"
    if device in ("auto", "cuda") and torch.cuda.is_available() and torch.cuda.device_count() > 0:
        return str(resolve_device("auto", local_rank=local_rank % torch.cuda.device_count()))
    return device


def share_inputs(count: int, rank: int, world: int) -> list[int]:
    """Indices of the inputs rank ``rank`` upscales: round robin, so inputs sorted by name (often
    similar sizes next to each other) spread evenly."""
    return list(range(rank, count, world))


def share_segments(bounds: list[tuple[int, int]], world: int) -> list[tuple[int, int | None]]:
    """Contiguous runs ``[first, stop)`` of segment indices, one per rank, of about equal frames.

    Contiguous: a rank recomputes the chunk before its first segment for the cross-fade (the
    temporal context a recurrent model needs) once, not once per segment. The last rank's run is
    open (``stop`` None): ``bounds`` come from the input's announced frame count, and if the file
    holds more frames than it says, the last rank carries on to the real end.
    """
    total = bounds[-1][1] if bounds else 0
    firsts = []
    for r in range(world):
        edge = total * r / world
        firsts.append(next((i for i, (start, _) in enumerate(bounds) if start >= edge), len(bounds)))
    firsts[0] = 0
    return [(firsts[r], firsts[r + 1] if r + 1 < world else None) for r in range(world)]


def portable_error(exc: BaseException | None) -> BaseException | None:
    """``exc`` as it can travel to the other ranks (pickled): itself when it pickles, else a
    :class:`FreqVSRError` with its one-line message."""
    if exc is None:
        return None
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return FreqVSRError(f"{type(exc).__name__}: {exc}")
