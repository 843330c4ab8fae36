"""Training batches with a resumable position, the same for 1 or N processes.

Exact resume needs the data position to be part of the checkpoint. Samples are a pure function of
``(seed, epoch, index)`` (``freqvsr.data.seeding``), so the position is just ``(epoch, batch)``:
epoch ``e`` visits the dataset in the permutation drawn from ``mix_seed(seed, e)``, split into
*global* batches; process ``r`` of ``W`` takes the ``r``-th contiguous slice of each global batch.
Hence ``W`` processes with per-process batch ``B/W`` see exactly the samples one process sees with
batch ``B``, and DDP's gradient average equals the single-process gradient of the mean loss.
(torch's DistributedSampler interleaves indices per epoch instead, and keeps no position.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from freqvsr.data.seeding import mix_seed, sample_generator, worker_init_fn
from freqvsr.errors import UsageError
from freqvsr.train.config import Config, DataConfig
from freqvsr.train.procedural import moving_clip


class SyntheticClips(Dataset):
    """Textures under known camera motion, degraded on the fly: ``{"lq", "gt", "key", "params"}``.

    ``lq`` (T, 3, size/scale, size/scale), ``gt`` (T, 3, size, size), RGB in [0, 1]. Sample ``i``
    of epoch ``e`` depends only on ``(seed, e, i)``; with ``fixed=True`` only on ``(seed, i)`` (a
    finite set of clips seen again every epoch, like a dataset on disk).
    """

    def __init__(
        self,
        length: int = 1000,
        num_frames: int = 7,
        size: int = 64,
        preset: str = "bi",
        scale: int = 4,
        seed: int = 0,
        max_speed: float = 2.0,
        fixed: bool = False,
    ) -> None:
        self.length, self.num_frames, self.size = int(length), int(num_frames), int(size)
        self.preset, self.scale, self.seed, self.max_speed = preset, int(scale), int(seed), float(max_speed)
        self.fixed = bool(fixed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        from freqvsr.degrade import degrade

        epoch = 0 if self.fixed else self.epoch
        gt = moving_clip(
            sample_generator(self.seed, epoch, index, 0), self.num_frames, self.size, self.size, self.max_speed
        )
        lq, params = degrade(gt, self.preset, generator=sample_generator(self.seed, epoch, index, 1), scale=self.scale)
        return {"lq": lq.float(), "gt": gt, "key": f"synthetic/{epoch}/{index}", "params": params.to_dict()}


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``lq``/``gt``; keep ``key``/``params`` as lists (degradation params vary per sample)."""
    return {
        "lq": torch.stack([s["lq"] for s in samples]),
        "gt": torch.stack([s["gt"] for s in samples]),
        "key": [s.get("key") for s in samples],
        "params": [s.get("params") for s in samples],
    }


def build_dataset(data: DataConfig, cfg: Config, *, split: str) -> Dataset:
    """The dataset named by ``data.kind``. ``split``: ``"train"`` (random crops) or ``"val"`` (whole clips)."""
    t, deg = cfg.train, cfg.degradation
    if data.kind == "synthetic":
        args = dict(data.args)
        defaults = {
            "num_frames": t.num_frames,
            "size": t.crop_size,
            "preset": deg.preset,
            "scale": deg.scale,
            "seed": t.seed if split == "train" else t.seed + 7919,
            "length": 1000 if split == "train" else 4,
        }
        try:
            return SyntheticClips(**{**defaults, **args})
        except TypeError as exc:
            raise UsageError(f"data.args for kind 'synthetic': {exc}") from None
    return _dataset_from_data_package(data, cfg, split)


_LAYOUTS = {
    "folder": "FolderDataset",
    "reds": "REDSDataset",
    "vimeo": "Vimeo90KDataset",
    "vid4": "Vid4Dataset",
    "store": "StoreDataset",
    "pack": "PackDataset",
}


def _dataset_from_data_package(data: DataConfig, cfg: Config, split: str) -> Dataset:
    """A :mod:`freqvsr.data` layout dataset. ``degradation.preset: disk`` reads the LQ frames from
    disk (REDS ``train_sharp_bicubic``, Vimeo ``lq_dir``, Vid4 ``BIx4``) instead of degrading on the fly.

    Training: random windows of ``train.num_frames`` with ``crop_size / scale`` LQ crops and
    augmentation; validation: whole clips (or ``args.num_frames`` windows), full frames, no
    augmentation. ``data.args`` is passed on last, so it can override any of these.
    """
    import freqvsr.data as data_pkg

    if data.kind not in _LAYOUTS:
        raise UsageError(f"unknown data kind {data.kind!r}; valid: synthetic, {', '.join(_LAYOUTS)}")
    if data.root is None:
        raise UsageError(f"data kind {data.kind!r} needs data.root (or val.data.root)")
    t, deg = cfg.train, cfg.degradation
    kwargs: dict[str, Any] = {
        "scale": deg.scale,
        "seed": t.seed,
        "degrade": None if deg.preset == "disk" else deg.preset,
    }
    if split == "train":
        kwargs.update(num_frames=t.num_frames, lq_patch=t.crop_size // deg.scale, augment=True, sampling="random")
        if data.kind == "reds":
            kwargs["split"] = "train"
    else:
        kwargs.update(num_frames=None, lq_patch=None, augment=False, sampling="windows")
        if data.kind == "reds":
            kwargs["split"] = "reds4"
    kwargs.update(data.args)
    if data.kind == "store":  # a frame store (freqvsr data build-store): FolderDataset's samples, no decoding
        from freqvsr.data.store import StoreDataset as cls
    elif data.kind == "pack":  # a training pack (benchmarks/make_train_pack.py): HR + pre-degraded LR
        from freqvsr.data.pack import PackDataset as cls
    else:
        cls = getattr(data_pkg, _LAYOUTS[data.kind])
    try:
        return cls(data.root, **kwargs)
    except TypeError as exc:
        raise UsageError(f"data kind {data.kind!r}: bad data.args {dict(data.args)} ({exc})") from None


class _EpochIndexed(Dataset):
    """Index with ``(epoch, index)``: the epoch travels with every index to the worker.

    One DataLoader then serves every epoch, so its workers start once per stream (spawned workers
    take seconds to start: torch and freqvsr are imported afresh) instead of once per epoch, and a
    worker's dataset copy, which never sees the main process's ``set_epoch``, still samples the
    right epoch.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, item: tuple[int, int]) -> Any:
        epoch, index = item
        if hasattr(self.dataset, "set_epoch") and getattr(self.dataset, "epoch", None) != epoch:
            self.dataset.set_epoch(epoch)
        return self.dataset[index]


class _Batches:
    """Batch sampler: this process's batches of epoch ``epoch`` from batch ``start`` on, then of
    every following epoch, endlessly, as lists of ``(epoch, index)``."""

    def __init__(self, stream: BatchStream, epoch: int, start: int) -> None:
        self.stream, self.epoch, self.start = stream, epoch, start

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, start = self.epoch, self.start
        while True:
            for batch in self.stream._batch_indices(epoch, start):
                yield [(epoch, i) for i in batch]
            epoch, start = epoch + 1, 0


# How DataLoader workers start. Never ``fork``: the training process already runs threads (torch's
# pools, PyAV/FFmpeg decoder and encoder threads), and a forked child inherits their locks in
# whatever state they were in (a forked worker deadlocked once). spawn starts each worker as a fresh
# interpreter and sends it the dataset by pickle, which is why datasets and degradation presets must
# pickle. (forkserver would only be faster if its server preloaded torch, i.e. forked after
# importing torch: the situation this avoids.)
WORKER_START_METHOD = "spawn"


class BatchStream:
    """Endless stream of this process's batches with a resumable ``(epoch, batch)`` position.

    With ``num_workers > 0`` the workers are started once, with ``start_method`` (default
    :data:`WORKER_START_METHOD`, ``spawn``; ``fork`` is refused), and serve every epoch. The dataset
    must pickle, and a script that trains with workers needs the ``if __name__ == "__main__":``
    guard (spawned workers re-import the main module; ``freqvsr train`` has it).
    """

    def __init__(
        self,
        dataset: Dataset,
        global_batch: int,
        *,
        seed: int,
        rank: int = 0,
        world: int = 1,
        num_workers: int = 0,
        start_method: str | None = None,
    ) -> None:
        if global_batch % world:
            raise UsageError(f"train.batch_size {global_batch} is not divisible by the {world} processes")
        n = len(dataset)  # type: ignore[arg-type]
        if n < global_batch:
            raise UsageError(f"the training set has {n} samples, fewer than train.batch_size {global_batch}")
        if start_method == "fork":
            raise UsageError(
                "start_method 'fork': DataLoader workers must not be forked from the training "
                "process (it runs threads); use spawn or forkserver"
            )
        self.dataset, self.global_batch, self.seed = dataset, global_batch, seed
        self.rank, self.world, self.num_workers = rank, world, num_workers
        self.start_method = start_method
        self.batches_per_epoch = n // global_batch  # the incomplete last global batch is dropped
        self.epoch, self.position = 0, 0  # position = batches of this epoch already consumed
        self._iter: Iterator | None = None

    def _batch_indices(self, epoch: int, start: int) -> list[list[int]]:
        g = torch.Generator().manual_seed(mix_seed(self.seed, epoch))
        perm = torch.randperm(len(self.dataset), generator=g).tolist()  # type: ignore[arg-type]
        local = self.global_batch // self.world
        out = []
        for b in range(start, self.batches_per_epoch):
            first = b * self.global_batch + self.rank * local
            out.append(perm[first : first + local])
        return out

    def _start(self) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)  # the main process's copy (num_workers=0 reads it)
        workers = self.num_workers > 0
        loader = DataLoader(
            _EpochIndexed(self.dataset),
            batch_sampler=_Batches(self, self.epoch, self.position),
            collate_fn=collate,
            num_workers=self.num_workers,
            worker_init_fn=worker_init_fn if workers else None,
            multiprocessing_context=(self.start_method or WORKER_START_METHOD) if workers else None,
            # its own generator: creating a loader iterator must not consume the global torch RNG
            generator=torch.Generator().manual_seed(mix_seed(self.seed, self.epoch, 1)),
        )
        self._iter = iter(loader)

    def next(self) -> dict[str, Any]:
        if self.position >= self.batches_per_epoch:  # the sampler has already moved on to the next epoch
            self.epoch, self.position = self.epoch + 1, 0
            if hasattr(self.dataset, "set_epoch"):
                self.dataset.set_epoch(self.epoch)
        if self._iter is None:
            self._start()
        batch = next(self._iter)  # type: ignore[arg-type]
        self.position += 1
        return batch

    def close(self) -> None:
        """Stop the workers now (they also stop when the stream is garbage-collected)."""
        self._iter = None

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "global_batch": self.global_batch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("global_batch", self.global_batch) != self.global_batch:
            raise UsageError(
                f"cannot resume: the checkpoint used train.batch_size {state['global_batch']}, "
                f"the config says {self.global_batch}"
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        self._iter = None
