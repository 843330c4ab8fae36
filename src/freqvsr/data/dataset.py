"""Paired clip datasets: ``{"lq", "gt", "key", "params"}`` samples for training and evaluation.

Sample contract (one item)::

    lq:     (T, 3, h, w) float32 RGB in [0, 1]
    gt:     (T, 3, H, W) float32 RGB in [0, 1], H = scale * h, W = scale * w
    key:    "<clip key>/<first frame index, 8 digits>"
    params: the drawn degradation (``DegradeParams.to_dict()``) for on-the-fly LQ, None for LQ read
            from disk

Batch with :func:`collate_clips` (``DataLoader(collate_fn=collate_clips)``): ``params`` may be None
or dicts of different shapes, which ``default_collate`` rejects.

Determinism. Every random choice of sample ``i`` in epoch ``e`` comes from generators seeded by
``(seed, e, i)`` (:mod:`freqvsr.data.seeding`): stream 0 draws the window start, the crop and the
augmentation, stream 1 the degradation parameters. So a sample is a pure function of
``(seed, epoch, index)``: any number of DataLoader workers gives the same samples, and
``DegradeParams.from_dict(sample["params"])`` applied to ``sample["gt"]`` reproduces
``sample["lq"]`` bit-exactly (on-the-fly mode crops and augments the GT *before* degrading it, so
the codec sees the clip the network sees). Set the epoch with :meth:`ClipDataset.set_epoch` before
creating the DataLoader iterator, or index with ``(epoch, index)`` tuples (what
:class:`SeededSampler` yields), which also works with ``persistent_workers=True``.

LQ sources: ``degrade=None`` reads the clip's precomputed LQ frames from disk (paired crops at
``(y, x)`` in LQ and ``(scale*y, scale*x)`` in GT, augmentation applied to both); a preset name
(``"bi"``, ``"ftvsr-mix"``, ``"real"``, ``"crf25"``...), a :class:`~freqvsr.degrade.Preset` or fixed
:class:`~freqvsr.degrade.DegradeParams` degrade the GT crop on the fly with a per-sample generator.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from freqvsr.data.clips import (
    Clip,
    folder_clips,
    reds_clips,
    vid4_clips,
    vimeo90k_clips,
)
from freqvsr.data.frame_access import to_float_tensor
from freqvsr.data.seeding import mix_seed, sample_generator
from freqvsr.errors import InputError, UsageError

__all__ = [
    "Augment",
    "ClipDataset",
    "FolderDataset",
    "REDSDataset",
    "SeededSampler",
    "Vid4Dataset",
    "Vimeo90KDataset",
    "collate_clips",
]


@dataclass(frozen=True)
class Augment:
    """Each enabled transform is applied with probability 1/2, the same to every frame and to LQ/GT.

    ``transpose`` swaps H and W; it is skipped for non-square samples so that a batch keeps one
    shape. ``reverse`` plays the clip backwards.
    """

    hflip: bool = True
    vflip: bool = True
    transpose: bool = True
    reverse: bool = True

    @classmethod
    def coerce(cls, value: bool | Augment) -> Augment:
        if isinstance(value, Augment):
            return value
        return cls() if value else cls(False, False, False, False)


def _randint(g: torch.Generator, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi] (inclusive)."""
    return int(torch.randint(lo, hi + 1, (), generator=g))


def _augment(clips: list[torch.Tensor], flags: tuple[bool, bool, bool, bool]) -> list[torch.Tensor]:
    hflip, vflip, transpose, reverse = flags
    out = []
    for x in clips:  # (T, C, H, W)
        if hflip:
            x = x.flip(-1)
        if vflip:
            x = x.flip(-2)
        if transpose and x.shape[-1] == x.shape[-2]:
            x = x.transpose(-1, -2)
        if reverse:
            x = x.flip(0)
        out.append(x.contiguous())
    return out


class ClipDataset(Dataset):
    """Training/evaluation samples from a list of :class:`~freqvsr.data.clips.Clip`.

    Args:
        clips: the clips (see :mod:`freqvsr.data.clips` for the layout scanners).
        num_frames: frames per sample ``T``; None = whole clips (``sampling="windows"`` only).
        scale: GT/LQ size ratio.
        lq_patch: LQ crop side (GT crop = ``scale * lq_patch``); None = full frames (GT cropped at
            the bottom/right to a multiple of ``scale`` when degrading on the fly).
        degrade: None (LQ from disk), a preset name, a ``Preset`` or fixed ``DegradeParams``.
        augment: True (all of :class:`Augment`), False, or an :class:`Augment`.
        sampling: ``"random"`` -- index ``i`` is clip ``i % len(clips)`` at a random window start,
            ``len = repeat * len(clips)`` (BasicSR's recurrent training); ``"windows"`` -- every
            window of ``num_frames`` frames with step ``stride`` (default ``num_frames``; the last
            window is aligned to the clip end) in order, for evaluation.
        seed, epoch: see module docstring.
        skip_small: drop clips whose frames are smaller than the GT patch (``scale * lq_patch``);
            False (default) makes them an error here rather than in the middle of an epoch.
        crop_candidates: with ``lq_patch``, draw this many crop positions and keep the one whose
            middle GT frame has the most detail (mean absolute gradient). Real footage is mostly
            flat sky, walls and blur, where bicubic is already right; short trainings learn much
            faster from textured patches. 1 (default) = uniform crops.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        *,
        num_frames: int | None = 7,
        scale: int = 4,
        lq_patch: int | None = 64,
        degrade: Any = None,
        augment: bool | Augment = True,
        sampling: str = "random",
        repeat: int = 1,
        stride: int | None = None,
        seed: int = 0,
        epoch: int = 0,
        skip_small: bool = False,
        crop_candidates: int = 1,
    ):
        self.clips = list(clips)
        if not self.clips:
            raise InputError("no clips")
        if lq_patch is not None:
            # Frame sizes come from file headers (images) or the probe (videos): no decoding.
            need = int(scale) * lq_patch
            small = [c for c in self.clips if min(c.gt.frame_size()) < need]
            if small and not skip_small:
                w, h = small[0].gt.frame_size()
                raise InputError(
                    f"clip {small[0].key}: frames {w}x{h} are smaller than the {need}x{need} GT patch "
                    f"(lq_patch={lq_patch} x scale {scale}); pass skip_small=True to leave such clips out"
                )
            small_ids = {id(c) for c in small}
            self.clips = [c for c in self.clips if id(c) not in small_ids]
            if not self.clips:
                raise InputError(f"every clip is smaller than the {need}x{need} GT patch")
        if sampling not in ("random", "windows"):
            raise UsageError(f"unknown sampling {sampling!r}; valid: random, windows")
        if num_frames is None and sampling == "random":
            raise UsageError("num_frames=None (whole clips) needs sampling='windows'")
        if num_frames is not None and num_frames < 1:
            raise UsageError(f"num_frames must be >= 1, got {num_frames}")
        if lq_patch is not None and lq_patch < 1:
            raise UsageError(f"lq_patch must be >= 1, got {lq_patch}")
        if int(crop_candidates) < 1:
            raise UsageError(f"crop_candidates must be >= 1, got {crop_candidates}")
        self.num_frames, self.scale, self.lq_patch = num_frames, int(scale), lq_patch
        self.crop_candidates = int(crop_candidates)
        self.augment = Augment.coerce(augment)
        self.sampling, self.repeat, self.seed, self.epoch = sampling, int(repeat), int(seed), int(epoch)
        self._preset, self._fixed = self._resolve_degrade(degrade)
        if self._preset is None and self._fixed is None:
            no_lq = [c.key for c in self.clips if c.lq is None]
            if no_lq:
                raise UsageError(
                    f"clip {no_lq[0]} has no LQ frames on disk; pass degrade=<preset> to make them on the fly"
                )
        short = [c.key for c in self.clips if num_frames is not None and len(c) < num_frames]
        if short:
            raise InputError(f"clip {short[0]} has fewer than {num_frames} frames")
        self._windows: list[tuple[int, int, int]] = []  # (clip index, start, count)
        if sampling == "windows":
            for ci, c in enumerate(self.clips):
                n = len(c) if num_frames is None else num_frames
                step = stride or n
                starts = list(range(0, len(c) - n + 1, step))
                if starts[-1] != len(c) - n:
                    starts.append(len(c) - n)
                self._windows += [(ci, s, n) for s in starts]

    @staticmethod
    def _resolve_degrade(degrade):
        from freqvsr.degrade import DegradeParams, Preset, get_preset

        if degrade is None:
            return None, None
        if isinstance(degrade, str):
            return get_preset(degrade), None
        if isinstance(degrade, Preset):
            return degrade, None
        if isinstance(degrade, DegradeParams):
            return None, degrade
        raise UsageError(
            f"degrade must be None, a preset name, a Preset or DegradeParams, got {type(degrade).__name__}"
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._windows) if self.sampling == "windows" else self.repeat * len(self.clips)

    def __getitem__(self, item) -> dict[str, Any]:
        epoch, index = (int(item[0]), int(item[1])) if isinstance(item, tuple) else (self.epoch, int(item))
        if not 0 <= index < len(self):
            raise IndexError(index)
        g = sample_generator(self.seed, epoch, index, 0)
        if self.sampling == "windows":
            ci, start, count = self._windows[index]
        else:
            ci, count = index % len(self.clips), self.num_frames
            start = _randint(g, 0, len(self.clips[ci]) - count)
        clip = self.clips[ci]
        gt = clip.gt.read(start, count)
        h_gt, w_gt = gt.shape[1:3]
        s = self.scale
        params = None
        if self._preset is None and self._fixed is None:
            lq = clip.lq.read(start, count)
            h, w = lq.shape[1:3]
            if (h_gt, w_gt) != (s * h, s * w):
                raise InputError(f"clip {clip.key}: GT {w_gt}x{h_gt} is not {s} x LQ {w}x{h}")
            if self.lq_patch is not None:
                p = self._check_patch(clip, h, w)
                y, x = self._crop_origin(g, gt, h - p, w - p, p, s)
                lq = lq[:, y : y + p, x : x + p]
                gt = gt[:, s * y : s * (y + p), s * x : s * (x + p)]
            flags = self._draw_flags(g)
            lq_t, gt_t = _augment([to_float_tensor(lq), to_float_tensor(gt)], flags)
        else:
            if self.lq_patch is not None:
                p = self._check_patch(clip, h_gt // s, w_gt // s)
                y, x = self._crop_origin(g, gt, h_gt - s * p, w_gt - s * p, s * p, 1)
                gt = gt[:, y : y + s * p, x : x + s * p]
            else:
                gt = gt[:, : h_gt - h_gt % s, : w_gt - w_gt % s]
            flags = self._draw_flags(g)
            (gt_t,) = _augment([to_float_tensor(gt)], flags)
            from freqvsr.degrade import apply

            dp = self._fixed
            if dp is None:
                dp = self._preset.sample(sample_generator(self.seed, epoch, index, 1), scale=s)
            lq_t = apply(gt_t, dp)
            params = dp.to_dict()
        return {"lq": lq_t, "gt": gt_t, "key": f"{clip.key}/{start:08d}", "params": params}

    def _crop_origin(self, g: torch.Generator, gt, max_y: int, max_x: int, side: int, step: int) -> tuple[int, int]:
        """Top-left corner of the crop in units of ``step`` GT pixels; the crop is ``side`` units wide.

        One candidate draws exactly the two integers a uniform crop always drew, so samples of
        ``crop_candidates=1`` are unchanged.
        """
        cands = [(_randint(g, 0, max_y), _randint(g, 0, max_x)) for _ in range(self.crop_candidates)]
        if len(cands) == 1:
            return cands[0]
        mid = np.asarray(gt[len(gt) // 2], dtype=np.float32)
        size = side * step
        return max(
            cands, key=lambda yx: _detail(mid[yx[0] * step : yx[0] * step + size, yx[1] * step : yx[1] * step + size])
        )

    def _check_patch(self, clip: Clip, h: int, w: int) -> int:
        p = self.lq_patch
        if h < p or w < p:
            raise InputError(f"clip {clip.key}: LQ size {w}x{h} is smaller than the {p}x{p} patch")
        return p

    def _draw_flags(self, g: torch.Generator) -> tuple[bool, bool, bool, bool]:
        # Always draw all four so that disabling one transform does not shift the others.
        r = torch.rand(4, generator=g, dtype=torch.float64).tolist()
        a = self.augment
        return (a.hflip and r[0] < 0.5, a.vflip and r[1] < 0.5, a.transpose and r[2] < 0.5, a.reverse and r[3] < 0.5)


def _detail(patch: np.ndarray) -> float:
    """Mean absolute horizontal + vertical difference: a cheap texture score for crop selection."""
    return float(np.abs(np.diff(patch, axis=0)).mean() + np.abs(np.diff(patch, axis=1)).mean())


def collate_clips(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack ``lq``/``gt`` into ``(B, T, C, H, W)``; ``key`` and ``params`` stay lists."""
    try:
        lq = torch.stack([b["lq"] for b in batch])
        gt = torch.stack([b["gt"] for b in batch])
    except RuntimeError:
        shapes = sorted({tuple(b["gt"].shape) for b in batch})
        raise UsageError(f"samples of different sizes in one batch ({shapes}); use lq_patch or batch_size=1") from None
    return {"lq": lq, "gt": gt, "key": [b["key"] for b in batch], "params": [b["params"] for b in batch]}


class SeededSampler(Sampler):
    """Yields ``(epoch, index)`` for every index once per epoch, shuffled by ``(seed, epoch)``.

    Carrying the epoch in the index keeps samples right with ``persistent_workers=True``, where the
    workers' dataset copies never see :meth:`ClipDataset.set_epoch`. Call :meth:`set_epoch` on the
    sampler (it lives in the main process) at the start of every epoch.
    """

    def __init__(self, dataset_len: int, shuffle: bool = True, seed: int = 0, epoch: int = 0):
        self.n, self.shuffle, self.seed, self.epoch = int(dataset_len), shuffle, int(seed), int(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(mix_seed(self.seed, self.epoch, 0x5A3))
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = range(self.n)
        return ((self.epoch, i) for i in order)


# ---------------------------------------------------------------------------------------------------
# Datasets for the standard layouts (thin: a clip scanner + ClipDataset defaults)
# ---------------------------------------------------------------------------------------------------


class REDSDataset(ClipDataset):
    """REDS (``train_sharp`` + ``train_sharp_bicubic/X4``). ``split``: ``train`` (REDS4 held out),
    ``reds4``, ``all``. With ``degrade=None`` the LQ comes from disk, else it is made on the fly
    (and ``train_sharp_bicubic`` need not exist). Training defaults: 15-frame windows as in
    BasicVSR/FTVSR (pass ``num_frames``), 64x64 LQ crops."""

    def __init__(
        self,
        root,
        split: str = "train",
        *,
        degrade: Any = None,
        gt_dir: str = "train_sharp",
        lq_dir: str = "train_sharp_bicubic/X4",
        **kwargs,
    ):
        clips = reds_clips(root, split, lq=degrade is None, gt_dir=gt_dir, lq_dir=lq_dir)
        super().__init__(clips, degrade=degrade, **kwargs)


class Vimeo90KDataset(ClipDataset):
    """Vimeo-90K septuplets (7 frames each). ``lq_dir``: the LQ tree (e.g.
    ``"vimeo_septuplet_matlabLRx4/sequences"``) when ``degrade=None``."""

    def __init__(self, root, split: str = "train", *, lq_dir: str | None = None, degrade: Any = None, **kwargs):
        if degrade is None and lq_dir is None:
            raise UsageError("Vimeo90KDataset: give lq_dir (LQ on disk) or degrade=<preset> (on the fly)")
        clips = vimeo90k_clips(root, split, lq_dir=lq_dir if degrade is None else None)
        kwargs.setdefault("num_frames", 7)
        super().__init__(clips, degrade=degrade, **kwargs)


class Vid4Dataset(ClipDataset):
    """Vid4 (``GT/<clip>`` + ``BIx4``/``BDx4``). Evaluation defaults: whole clips, full frames, no
    augmentation, one sample per clip."""

    def __init__(self, root, degradation: str | None = "BIx4", *, degrade: Any = None, **kwargs):
        clips = vid4_clips(root, degradation if degrade is None else None)
        for k, v in (("num_frames", None), ("lq_patch", None), ("augment", False), ("sampling", "windows")):
            kwargs.setdefault(k, v)
        super().__init__(clips, degrade=degrade, **kwargs)


class FolderDataset(ClipDataset):
    """Any folder of frame folders and/or video files (e.g. a ``build-corpus`` output), degraded on
    the fly with ``degrade`` (default ``bi``). Clips too short for ``num_frames`` or too small for
    the patch are left out (``skip_small=True`` by default here)."""

    def __init__(self, root, *, degrade: Any = "bi", **kwargs):
        kwargs.setdefault("skip_small", True)  # a folder mixes sizes (the corpus has 320x240 tree.avi)
        min_frames = kwargs.get("num_frames") or 1
        super().__init__(folder_clips(Path(root), min_frames=min_frames), degrade=degrade, **kwargs)
