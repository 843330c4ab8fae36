"""Per-sample randomness: every random choice of a sample comes from a generator derived from
``(seed, epoch, index, stream)``, never from global or per-worker state.

This is what makes a sample replay exactly and makes ``DataLoader(num_workers=k)`` return the same
samples for every ``k``: a worker only needs the index it was handed. (PyTorch's own worker seeding
gives each worker a different base seed, so per-worker RNG state would make results depend on the
worker count and on which worker got which index.)
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["mix_seed", "sample_generator", "stable_seed", "worker_init_fn"]

_MASK = 2**64 - 1


def _splitmix64(z: int) -> int:
    # splitmix64 finaliser: neighbouring inputs give unrelated outputs (sample 7 and 8 of epoch 0
    # must not share crops or degradations).
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def mix_seed(*parts: int) -> int:
    """Combine integers into one 63-bit seed (order matters)."""
    z = 0
    for p in parts:
        z = _splitmix64(z ^ (int(p) & _MASK))
    return z >> 1  # torch.Generator.manual_seed accepts up to 2**64-1; keep it positive in JSON too


def sample_generator(seed: int, epoch: int, index: int, stream: int = 0) -> torch.Generator:
    """The CPU ``torch.Generator`` for one sample. ``stream`` separates independent choices (window
    and augmentation vs. degradation), so switching augmentation off does not change the LQ."""
    return torch.Generator().manual_seed(mix_seed(seed, epoch, index, stream))


def stable_seed(seed: int, *names: str) -> int:
    """A seed for a named item (a clip, a preset), stable across runs and Python versions.

    Derived from a hash of the names, so adding or removing other items (``--max-clips``) does not
    change this item's content (Python's ``hash()`` is salted per process, hence SHA-256).
    """
    digest = hashlib.sha256("\0".join(names).encode()).digest()
    return mix_seed(seed, int.from_bytes(digest[:8], "little"))


def worker_init_fn(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)``: one intra-op thread per worker.

    Samples do not depend on worker RNG state (see module docstring); this only stops k workers
    from each starting a full thread pool and fighting over the cores.
    """
    torch.set_num_threads(1)
