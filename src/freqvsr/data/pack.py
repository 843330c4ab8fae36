"""Training pack: a few MiB of HR crop sequences with pre-degraded LR, for machines without PyAV.

A lent GPU machine may have torch but no PyAV/FFmpeg and no network, and only what travels with the
working tree. The H.264 presets (``camera-mix``, ``ftvsr-mix``, ``real``) need libx264, so a pack
carries the LR made *here*, by the project's own :func:`freqvsr.degrade.apply`, next to the HR::

    PACK/pack.json   format, version, shapes, per sequence its source clip, kind, window start and
                     crop origin, and the DegradeParams (``to_dict()``) of every LR draw; kind counts,
                     the preset, the seed, the command that built it
    PACK/hr.npy      (N, T, S, S, 3) uint8 RGB: N sequences of T consecutive frames, S x S HR crops
    PACK/lr.npy      (N, D, T, S/scale, S/scale, 3) uint8 RGB: D independent draws of the preset,
                     each applied to the whole HR crop sequence (BI x scale + codec on the T frames,
                     as training on the fly degrades a crop)

:func:`build_pack` makes one from a frame store (``benchmarks/make_train_pack.py``);
:class:`PackDataset` (data kind ``pack``, with ``degradation.preset: disk``: the LQ comes with the
data) serves ``{"lq", "gt", "key", "params"}`` samples like the other datasets. Reading a pack needs
numpy and torch only: this module imports neither PyAV nor :mod:`freqvsr.degrade` at import time.

Differences from training on the fly: the codec saw the whole S x S crop (a training crop is a
sub-window of it) and the augmentation (flips, transpose, reversal) is applied after degrading.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from freqvsr.data.dataset import Augment, _augment, _detail, _randint
from freqvsr.data.frame_access import to_float_tensor
from freqvsr.data.seeding import sample_generator
from freqvsr.data.store import read_index
from freqvsr.errors import InputError, OutputError, UsageError

__all__ = ["PACK_FORMAT", "PackDataset", "build_pack", "open_pack", "pack_bytes_per_sequence"]

PACK_FORMAT = "freqvsr-train-pack"
PACK_VERSION = 1
INDEX_NAME = "pack.json"
HR_NAME, LR_NAME = "hr.npy", "lr.npy"


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------


def open_pack(root) -> dict[str, Any]:
    """Read and check ``root/pack.json`` and the shapes of its two arrays (one-line InputError)."""
    root = Path(root)
    path = root / INDEX_NAME
    index = read_index(
        path, PACK_FORMAT, PACK_VERSION, "training pack", f"make a pack with benchmarks/make_train_pack.py STORE {root}"
    )
    for part in ("hr", "lr"):
        arr = _load(root / index[part]["file"])
        if list(arr.shape) != list(index[part]["shape"]) or arr.dtype != np.uint8:
            raise InputError(
                f"{root / index[part]['file']}: {arr.dtype} {list(arr.shape)}, the index says uint8 "
                f"{index[part]['shape']} (corrupt pack; rebuild it)"
            )
    return index


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read the pack array ({e})") from None


class PackDataset(Dataset):
    """Samples of a training pack: ``{"lq", "gt", "key", "params"}`` as :class:`ClipDataset` gives.

    Index ``i`` is sequence ``i % N`` (``len = repeat * N``); each sample draws from generator
    stream 0 of ``(seed, epoch, i)`` the LR draw, a window of ``num_frames`` frames, an aligned crop
    (``lq_patch`` LR, ``scale * lq_patch`` HR) and the augmentation (:class:`Augment`, as
    :class:`ClipDataset`). ``sampling="windows"`` (evaluation): every sequence once, whole frames,
    LR draw 0, windows of ``num_frames`` (None = all frames). ``params`` is the recorded degradation
    of the whole pack sequence (``DegradeParams.to_dict()``); a cropped sample is a window of it.
    ``degrade`` must be None: the pack carries its LR (``degradation.preset: disk``).
    Pickles as a path and integers; each process maps the arrays on first use.
    """

    def __init__(
        self,
        root,
        *,
        num_frames: int | None = 7,
        scale: int = 4,
        lq_patch: int | None = 32,
        degrade: Any = None,
        augment: bool | Augment = True,
        sampling: str = "random",
        repeat: int = 1,
        seed: int = 0,
        epoch: int = 0,
        draws: int | None = None,
    ):
        if degrade is not None:
            raise UsageError(
                f"a training pack carries its LR (degraded when the pack was built); set "
                f"degradation.preset: disk, not {degrade!r}"
            )
        self.root = str(Path(root).resolve())
        index = open_pack(self.root)
        self.n, self.draws_total, self.frames = index["lr"]["shape"][:3]
        self.draws = int(draws) if draws else self.draws_total
        if not 1 <= self.draws <= self.draws_total:
            raise UsageError(f"draws={draws}: the pack has {self.draws_total} LR draws per sequence")
        if int(index["scale"]) != int(scale):
            raise UsageError(f"{self.root}: the pack is x{index['scale']}, the config's scale is {scale}")
        if sampling not in ("random", "windows"):
            raise UsageError(f"unknown sampling {sampling!r}; valid: random, windows")
        if num_frames is None and sampling == "random":
            raise UsageError("num_frames=None (whole sequences) needs sampling='windows'")
        if num_frames is not None and not 1 <= num_frames <= self.frames:
            raise InputError(f"{self.root}: num_frames={num_frames}, the pack's sequences have {self.frames} frames")
        lr_side = index["lr"]["shape"][3]
        if lq_patch is not None and not 1 <= lq_patch <= lr_side:
            raise InputError(f"{self.root}: lq_patch={lq_patch}, the pack's LR crops are {lr_side}x{lr_side}")
        self.scale, self.num_frames, self.lq_patch, self.lr_side = int(scale), num_frames, lq_patch, lr_side
        self.augment = Augment.coerce(augment)
        self.sampling, self.repeat, self.seed, self.epoch = sampling, int(repeat), int(seed), int(epoch)
        self.hr_file, self.lr_file = index["hr"]["file"], index["lr"]["file"]
        self.keys = [s["clip"] for s in index["sequences"]]
        self.params = [s["draws"] for s in index["sequences"]]
        self._windows: list[tuple[int, int]] = []
        if sampling == "windows":
            n = num_frames or self.frames
            starts = sorted(set(range(0, self.frames - n + 1, n)) | {self.frames - n})
            self._windows = [(q, s) for q in range(self.n) for s in starts]
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_arrays"] = None  # a worker maps the files itself (no copy of the pixels in the pickle)
        return state

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(hr, lr)``: read-only memory maps, ``(N, T, S, S, 3)`` and ``(N, D, T, s, s, 3)`` uint8."""
        if self._arrays is None:
            root = Path(self.root)
            self._arrays = (_load(root / self.hr_file), _load(root / self.lr_file))
        return self._arrays

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._windows) if self.sampling == "windows" else self.repeat * self.n

    def __getitem__(self, item) -> dict[str, Any]:
        epoch, index = (int(item[0]), int(item[1])) if isinstance(item, tuple) else (self.epoch, int(item))
        if not 0 <= index < len(self):
            raise IndexError(index)
        hr, lr = self.arrays()
        s = self.scale
        if self.sampling == "windows":
            q, start = self._windows[index]
            count, draw, y, x, p = self.num_frames or self.frames, 0, 0, 0, self.lr_side
            flags = (False, False, False, False)
        else:
            g = sample_generator(self.seed, epoch, index, 0)
            q, count = index % self.n, self.num_frames
            draw = _randint(g, 0, self.draws - 1)
            start = _randint(g, 0, self.frames - count)
            p = self.lq_patch or self.lr_side
            y, x = _randint(g, 0, self.lr_side - p), _randint(g, 0, self.lr_side - p)
            r = torch.rand(4, generator=g, dtype=torch.float64).tolist()  # all four always drawn (ClipDataset)
            a = self.augment
            flags = (
                a.hflip and r[0] < 0.5,
                a.vflip and r[1] < 0.5,
                a.transpose and r[2] < 0.5,
                a.reverse and r[3] < 0.5,
            )
        lq = np.array(lr[q, draw, start : start + count, y : y + p, x : x + p])  # copies out of the read-only map
        gt = np.array(hr[q, start : start + count, s * y : s * (y + p), s * x : s * (x + p)])
        lq_t, gt_t = _augment([to_float_tensor(lq), to_float_tensor(gt)], flags)
        return {
            "lq": lq_t,
            "gt": gt_t,
            "key": f"{self.keys[q]}/pack{q:05d}.{draw}/{start:08d}",
            "params": self.params[q][draw],
            "origin": (q, draw, start, y, x, flags),
        }


def pack_bytes_per_sequence(frames: int, hr_size: int, draws: int, scale: int = 4) -> int:
    lr = hr_size // scale
    return frames * 3 * (hr_size * hr_size + draws * lr * lr)


# ---------------------------------------------------------------------------------------------------
# Building (needs freqvsr.degrade, and PyAV for codec presets)
# ---------------------------------------------------------------------------------------------------


def _kind(entry: dict[str, Any]) -> str:
    m = entry.get("manifest") or {}
    return m.get("content") or m.get("kind") or "unknown"


def _refuse_foreign(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        try:
            ok = json.loads((out / INDEX_NAME).read_text()).get("format") == PACK_FORMAT
        except (OSError, ValueError, AttributeError):
            ok = False
        if not ok:
            raise OutputError(f"{out}: exists, is not empty and is not a training pack; refusing to write into it")


def build_pack(
    store,
    out,
    *,
    mib: float = 40.0,
    preset: str = "camera-mix",
    draws: int = 3,
    frames: int = 10,
    hr_size: int = 192,
    scale: int = 4,
    seed: int = 0,
    balance: str = "kinds",
    crop_candidates: int = 4,
    command: str = "",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Cut ``frames`` x ``hr_size``² HR crop sequences from the frame store ``store`` and degrade each
    ``draws`` times with ``preset``; write the pack to ``out`` (see the module docstring).

    As many sequences as fit in ``mib`` MiB. ``balance="kinds"``: the content kinds (camera,
    animation, text, game) take turns, so each gets the same number of sequences (+-1);
    ``"clips"``: every clip is equally likely, so the kinds keep their share of the store's clips
    (what uniform clip sampling in training gives). Within a kind, clips are used in a seeded
    shuffled order, each once before any twice. A sequence is a random window of a clip and, of
    ``crop_candidates`` random crop positions, the one whose middle frame has the most detail.
    Deterministic in ``seed``: the same store and arguments give the same bytes.
    """
    from freqvsr.data.store import open_store, store_clips
    from freqvsr.degrade import apply, get_preset

    t0 = time.perf_counter()
    log = log or (lambda msg: None)
    if balance not in ("kinds", "clips"):
        raise UsageError(f"balance must be 'kinds' or 'clips', got {balance!r}")
    if hr_size % scale or hr_size < scale or frames < 1 or draws < 1 or crop_candidates < 1:
        raise UsageError(f"need hr_size a positive multiple of {scale}, frames, draws, crop_candidates >= 1")
    deg = get_preset(preset)
    out = Path(out)
    _refuse_foreign(out)
    index = open_store(store)
    clips = {c.key: c for c in store_clips(store)}
    usable = [e for e in index["clips"] if e["frames"] >= frames and min(e["height"], e["width"]) >= hr_size]
    if not usable:
        raise InputError(f"{store}: no clip with >= {frames} frames of at least {hr_size}x{hr_size}")
    per_seq = pack_bytes_per_sequence(frames, hr_size, draws, scale)
    n = int(mib * 2**20) // per_seq
    if n < 1:
        raise UsageError(f"mib={mib}: one sequence takes {per_seq / 2**20:.2f} MiB")

    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in usable:
        by_kind.setdefault(_kind(e), []).append(e)
    order: list[dict[str, Any]] = []
    if balance == "kinds":
        queues = {k: [v[i] for i in rng.permutation(len(v))] for k, v in sorted(by_kind.items())}
        used = dict.fromkeys(queues, 0)
        kinds = sorted(queues)
        for i in range(n):
            k = kinds[i % len(kinds)]
            order.append(queues[k][used[k] % len(queues[k])])
            used[k] += 1
    else:
        perm = [usable[i] for i in rng.permutation(len(usable))]
        order = [perm[i % len(perm)] for i in range(n)]

    lr_side = hr_size // scale
    out.mkdir(parents=True, exist_ok=True)
    for name in (INDEX_NAME, HR_NAME, LR_NAME):
        (out / name).unlink(missing_ok=True)  # an old index must never describe new arrays
    hr_part, lr_part = out / (HR_NAME + ".partial.npy"), out / (LR_NAME + ".partial.npy")
    hr = np.lib.format.open_memmap(hr_part, mode="w+", dtype=np.uint8, shape=(n, frames, hr_size, hr_size, 3))
    lr = np.lib.format.open_memmap(lr_part, mode="w+", dtype=np.uint8, shape=(n, draws, frames, lr_side, lr_side, 3))
    sequences, kinds_count = [], {}
    done = False
    try:
        for q, e in enumerate(order):
            g = np.random.default_rng([seed, q])
            start = int(g.integers(0, e["frames"] - frames + 1))
            seq = clips[e["key"]].gt.array()[start : start + frames]
            cands = [
                (int(g.integers(0, e["height"] - hr_size + 1)), int(g.integers(0, e["width"] - hr_size + 1)))
                for _ in range(crop_candidates)
            ]
            mid = np.asarray(seq[frames // 2], dtype=np.float32)
            y, x = max(cands, key=lambda c: _detail(mid[c[0] : c[0] + hr_size, c[1] : c[1] + hr_size]))
            crop = np.array(seq[:, y : y + hr_size, x : x + hr_size])
            hr[q] = crop
            hr_t = to_float_tensor(crop)
            recorded = []
            for d in range(draws):
                params = deg.sample(sample_generator(seed, d, q, 1), scale=scale)
                lr_t = apply(hr_t, params)
                lr[q, d] = torch.round(lr_t * 255.0).to(torch.uint8).permute(0, 2, 3, 1).numpy()
                recorded.append(params.to_dict())
            k = _kind(e)
            kinds_count[k] = kinds_count.get(k, 0) + 1
            sequences.append({"clip": e["key"], "kind": k, "start": start, "y": y, "x": x, "draws": recorded})
            if (q + 1) % 10 == 0 or q + 1 == n:
                log(f"{q + 1}/{n} sequences ({time.perf_counter() - t0:.1f} s)")
        hr.flush()
        lr.flush()
        done = True
    finally:
        del hr, lr  # unmap before renaming or deleting
        if not done:
            hr_part.unlink(missing_ok=True)
            lr_part.unlink(missing_ok=True)
    os.replace(hr_part, out / HR_NAME)
    os.replace(lr_part, out / LR_NAME)
    index_out = {
        "format": PACK_FORMAT,
        "version": PACK_VERSION,
        "scale": scale,
        "hr": {
            "file": HR_NAME,
            "shape": [n, frames, hr_size, hr_size, 3],
            "dtype": "uint8",
            "layout": "(sequence, frame, y, x, RGB)",
        },
        "lr": {
            "file": LR_NAME,
            "shape": [n, draws, frames, lr_side, lr_side, 3],
            "dtype": "uint8",
            "layout": "(sequence, draw, frame, y, x, RGB)",
        },
        "bytes": n * per_seq,
        "preset": preset,
        "draws": draws,
        "seed": seed,
        "balance": balance,
        "crop_candidates": crop_candidates,
        "kinds": dict(sorted(kinds_count.items())),
        "store": {
            "path": str(Path(store).resolve()),
            "clips": len(index["clips"]),
            "usable_clips": len(usable),
            "usable_per_kind": {k: len(v) for k, v in sorted(by_kind.items())},
        },
        "degradation": "freqvsr.degrade.apply(HR crop sequence as float [0,1], DegradeParams.from_dict(draw)), "
        "rounded to uint8 (exact: apply's output is on the 8-bit grid)",
        "command": command,
        "seconds": round(time.perf_counter() - t0, 2),
        "sequences": sequences,
    }
    tmp = out / (INDEX_NAME + ".partial")
    tmp.write_text(json.dumps(index_out, indent=1) + "\n")
    os.replace(tmp, out / INDEX_NAME)
    return index_out
