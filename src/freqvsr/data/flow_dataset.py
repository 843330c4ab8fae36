"""Frame pairs with exact ground-truth optical flow, from a corpus's synthetic clips (flow pretraining).

Item ``i`` (deterministic in ``(seed, epoch, i)`` like :class:`~freqvsr.data.ClipDataset`)::

    frames: (T, 3, P, P) float32 RGB in [0, 1]         (P = ``patch``; T = ``num_frames``)
    flow:   (T-1, 2, P, P) float32, flow_warp(frames[t+1], flow[t]) ~= frames[t]
    valid:  (T-1, P, P) bool   (False: the point leaves the crop or is occluded in frames[t+1])
    key:    "<clip>/<first frame>"

Augmentations keep the flow exact: crops leave vectors unchanged, a horizontal flip mirrors the
field and negates x, a vertical flip negates y, a transpose swaps the axes and the components.
(Time reversal would need the opposite-direction flow, so it is not offered.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from freqvsr.data.frame_access import ImageFrames, to_float_tensor
from freqvsr.data.seeding import sample_generator
from freqvsr.errors import InputError, UsageError

__all__ = ["FlowClipDataset"]


class FlowClipDataset(Dataset):
    """Synthetic clips of a ``build-corpus`` output (``root/manifest.json``) with their flow.

    ``num_frames``: frames per item (>= 2); ``patch``: square crop side (None = full frames);
    ``augment``: random flips/transpose; ``repeat``: items per clip per epoch.
    """

    def __init__(
        self,
        root,
        *,
        num_frames: int = 2,
        patch: int | None = 256,
        augment: bool = True,
        repeat: int = 1,
        seed: int = 0,
        epoch: int = 0,
    ):
        from freqvsr.io import list_images

        self.root = Path(root)
        if num_frames < 2:
            raise UsageError(f"num_frames must be >= 2, got {num_frames}")
        path = self.root / "manifest.json"
        if not path.is_file():
            raise InputError(f"{path}: not found (build the corpus with `freqvsr data build-corpus {self.root}`)")
        entries = [
            e for e in json.loads(path.read_text())["clips"] if e["kind"] == "synthetic" and e["frames"] >= num_frames
        ]
        if not entries:
            raise InputError(f"{path}: no synthetic clips with >= {num_frames} frames")
        self.entries = entries
        self.frames = [ImageFrames(list_images(self.root / e["name"])) for e in entries]
        self.num_frames, self.patch, self.augment = num_frames, patch, augment
        self.repeat, self.seed, self.epoch = int(repeat), int(seed), int(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.repeat * len(self.entries)

    def __getitem__(self, item) -> dict[str, Any]:
        epoch, index = (int(item[0]), int(item[1])) if isinstance(item, tuple) else (self.epoch, int(item))
        if not 0 <= index < len(self):
            raise IndexError(index)
        g = sample_generator(self.seed, epoch, index, 0)
        ci = index % len(self.entries)
        e, frames = self.entries[ci], self.frames[ci]
        t = self.num_frames
        start = int(torch.randint(0, len(frames) - t + 1, (), generator=g))
        img = frames.read(start, t)
        # mmap: only the window's flow leaves the disk.
        flow = np.load(self.root / e["flow"], mmap_mode="r")[start : start + t - 1]
        valid = np.load(self.root / e["flow_valid"], mmap_mode="r")[start : start + t - 1]
        h, w = img.shape[1:3]
        if self.patch is not None:
            p = self.patch
            if h < p or w < p:
                raise InputError(f"{self.root / e['name']}: frames {w}x{h} are smaller than the {p}x{p} patch")
            y = int(torch.randint(0, h - p + 1, (), generator=g))
            x = int(torch.randint(0, w - p + 1, (), generator=g))
            img, flow = img[:, y : y + p, x : x + p], flow[..., y : y + p, x : x + p]
            valid = valid[:, y : y + p, x : x + p]
        x_t = to_float_tensor(img)
        f_t = torch.from_numpy(np.array(flow, dtype=np.float32))
        v_t = torch.from_numpy(np.array(valid, dtype=bool))
        r = torch.rand(3, generator=g, dtype=torch.float64).tolist()
        if self.augment:
            if r[0] < 0.5:  # mirror left-right: x displacements change sign
                x_t, f_t, v_t = x_t.flip(-1), f_t.flip(-1), v_t.flip(-1)
                f_t[:, 0] = -f_t[:, 0]
            if r[1] < 0.5:
                x_t, f_t, v_t = x_t.flip(-2), f_t.flip(-2), v_t.flip(-2)
                f_t[:, 1] = -f_t[:, 1]
            if r[2] < 0.5 and x_t.shape[-1] == x_t.shape[-2]:  # x <-> y
                x_t, f_t, v_t = x_t.transpose(-1, -2), f_t.transpose(-1, -2).flip(1), v_t.transpose(-1, -2)
        # A crop moves the frame border: vectors now pointing outside it cannot be checked.
        hh, ww = f_t.shape[-2:]
        qx = torch.arange(ww, dtype=f_t.dtype) + f_t[:, 0]
        qy = torch.arange(hh, dtype=f_t.dtype)[:, None] + f_t[:, 1]
        v_t = v_t & (qx >= 0) & (qx <= ww - 1) & (qy >= 0) & (qy <= hh - 1)
        return {
            "frames": x_t.contiguous(),
            "flow": f_t.contiguous(),
            "valid": v_t.contiguous(),
            "key": f"{e['name']}/{start:08d}",
        }
