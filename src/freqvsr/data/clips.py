"""Clip lists for the standard dataset layouts and for any folder of videos or frame folders.

A :class:`Clip` pairs ground-truth frames with (optionally) precomputed LQ frames. Scanners:

* :func:`reds_clips` -- REDS: ``ROOT/train_sharp/<clip>/<frame>.png`` and
  ``ROOT/train_sharp_bicubic/X4/<clip>/<frame>.png``. ``split``: ``train`` (the 266 training clips,
  REDS4 held out), ``reds4`` (clips 000, 011, 015, 020: the usual test set) or ``all``.
* :func:`vimeo90k_clips` -- Vimeo-90K septuplets: ``ROOT/sequences/<a>/<b>/im1..7.png`` listed in
  ``ROOT/sep_trainlist.txt`` / ``sep_testlist.txt``; LQ (if any) in the same tree under
  ``lq_dir`` (BasicSR's ``vimeo_septuplet_matlabLRx4/sequences``).
* :func:`vid4_clips` -- Vid4: ``ROOT/GT/<clip>/`` and ``ROOT/BIx4/<clip>/`` (or ``BDx4``).
* :func:`folder_clips` -- any folder: every sub-folder holding images is a clip, every video file is
  a clip (recursively; hidden entries skipped).
* :func:`corpus_clips` -- the clips a ``freqvsr data build-corpus`` manifest lists (by kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from freqvsr.data.frame_access import ImageFrames, VideoFrames
from freqvsr.errors import InputError, UsageError

__all__ = ["REDS4_CLIPS", "Clip", "corpus_clips", "folder_clips", "reds_clips", "vid4_clips", "vimeo90k_clips"]

REDS4_CLIPS = ("000", "011", "015", "020")


@dataclass(frozen=True)
class Clip:
    """One clip: ``gt`` frames, optional precomputed ``lq`` frames (same count), a unique ``key``."""

    key: str
    gt: ImageFrames | VideoFrames
    lq: ImageFrames | VideoFrames | None = None

    def __post_init__(self) -> None:
        if self.lq is not None and len(self.lq) != len(self.gt):
            raise InputError(f"clip {self.key}: {len(self.lq)} LQ frames for {len(self.gt)} GT frames")

    def __len__(self) -> int:
        return len(self.gt)


def _images(folder: Path) -> list[Path]:
    from freqvsr.io import list_images

    return list_images(folder)


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise InputError(f"{path}: {what} folder not found")
    return path


def _frame_folder_clip(key: str, gt_dir: Path, lq_dir: Path | None) -> Clip:
    gt = _images(gt_dir)
    if not gt:
        raise InputError(f"{gt_dir}: no frames")
    lq = None
    if lq_dir is not None:
        lq_files = _images(_require_dir(lq_dir, "LQ"))
        if [p.stem for p in lq_files] != [p.stem for p in gt]:
            raise InputError(f"{lq_dir}: LQ frame names do not match the GT frames in {gt_dir}")
        lq = ImageFrames(lq_files)
    return Clip(key, ImageFrames(gt), lq)


def reds_clips(
    root,
    split: str = "train",
    lq: bool = False,
    gt_dir: str = "train_sharp",
    lq_dir: str = "train_sharp_bicubic/X4",
) -> list[Clip]:
    """REDS clips of ``split`` (``train`` | ``reds4`` | ``all``); ``lq=True`` pairs the precomputed
    bicubic LQ frames under ``lq_dir``."""
    root = Path(root)
    if split not in ("train", "reds4", "all"):
        raise UsageError(f"unknown REDS split {split!r}; valid: train, reds4, all")
    gt_root = _require_dir(root / gt_dir, "REDS GT")
    names = sorted(p.name for p in gt_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if split == "train":
        names = [n for n in names if n not in REDS4_CLIPS]
    elif split == "reds4":
        missing = [n for n in REDS4_CLIPS if n not in names]
        if missing:
            raise InputError(f"{gt_root}: REDS4 clips {', '.join(missing)} not found")
        names = list(REDS4_CLIPS)
    if not names:
        raise InputError(f"{gt_root}: no clips for split {split!r}")
    return [_frame_folder_clip(n, gt_root / n, (root / lq_dir / n) if lq else None) for n in names]


def vimeo90k_clips(root, split: str = "train", lq_dir: str | None = None, frames: int = 7) -> list[Clip]:
    """Vimeo-90K septuplets listed in ``sep_trainlist.txt`` (``split='train'``) or
    ``sep_testlist.txt`` (``'test'``). ``lq_dir``: folder (relative to ``root`` or absolute) holding
    the LQ ``<a>/<b>/im1..7.png`` tree; None = GT only (degrade on the fly)."""
    root = Path(root)
    if split not in ("train", "test"):
        raise UsageError(f"unknown Vimeo-90K split {split!r}; valid: train, test")
    listing = root / f"sep_{split}list.txt"
    if not listing.is_file():
        raise InputError(f"{listing}: Vimeo-90K list file not found")
    seq_root = _require_dir(root / "sequences", "Vimeo-90K sequences")
    lq_root = None if lq_dir is None else (Path(lq_dir) if Path(lq_dir).is_absolute() else root / lq_dir)
    clips = []
    for line in listing.read_text().splitlines():
        name = line.strip()
        if not name:
            continue
        gt = [seq_root / name / f"im{i}.png" for i in range(1, frames + 1)]
        for p in gt:
            if not p.is_file():
                raise InputError(f"{p}: frame listed in {listing.name} not found")
        lq = None
        if lq_root is not None:
            lq = [lq_root / name / f"im{i}.png" for i in range(1, frames + 1)]
            for p in lq:
                if not p.is_file():
                    raise InputError(f"{p}: LQ frame not found")
            lq = ImageFrames(lq)
        clips.append(Clip(name, ImageFrames(gt), lq))
    if not clips:
        raise InputError(f"{listing}: lists no sequences")
    return clips


def vid4_clips(root, degradation: str | None = "BIx4", gt_dir: str = "GT") -> list[Clip]:
    """Vid4 clips (calendar, city, foliage, walk, or whatever ``ROOT/GT`` holds); ``degradation``:
    the LQ folder name (``BIx4`` / ``BDx4``) or None for GT only."""
    root = Path(root)
    gt_root = _require_dir(root / gt_dir, "Vid4 GT")
    names = sorted(p.name for p in gt_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise InputError(f"{gt_root}: no clips")
    lq_root = None if degradation is None else _require_dir(root / degradation, "Vid4 LQ")
    return [_frame_folder_clip(n, gt_root / n, None if lq_root is None else lq_root / n) for n in names]


def folder_clips(root, min_frames: int = 1) -> list[Clip]:
    """Every frame folder and video file under ``root`` (recursively) as a GT-only clip.

    Keys are paths relative to ``root`` (``"."`` when ``root`` itself holds the frames). Clips
    shorter than ``min_frames`` are skipped.
    """
    from freqvsr.io import VIDEO_EXTENSIONS

    root = Path(root)
    if root.is_file():
        return [Clip(root.stem, VideoFrames(root))]
    _require_dir(root, "clip")
    clips: list[Clip] = []

    def visit(folder: Path) -> None:
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        images = _images(folder)
        if images and len(images) >= min_frames:
            clips.append(Clip(folder.relative_to(root).as_posix(), ImageFrames(images)))
        for p in entries:
            if p.is_dir():
                visit(p)
            elif p.suffix.lower() in VIDEO_EXTENSIONS:
                v = VideoFrames(p)
                if len(v) >= min_frames:
                    clips.append(Clip(p.relative_to(root).as_posix(), v))

    visit(root)
    if not clips:
        raise InputError(f"{root}: no frame folders or video files found")
    return clips


def corpus_clips(root, kinds: tuple[str, ...] = ("real", "synthetic"), min_frames: int = 1) -> list[Clip]:
    """The clips listed in ``root/manifest.json`` (a ``build-corpus`` output) whose kind is in
    ``kinds``; keys are the manifest names (``real/vtest_000``). The manifest, not the folder, is
    the authority: clips left over from an earlier build into the same folder are ignored."""
    import json

    root = Path(root)
    path = root / "manifest.json"
    if not path.is_file():
        raise InputError(f"{path}: not found (build the corpus with `freqvsr data build-corpus {root}`)")
    try:
        entries = json.loads(path.read_text())["clips"]
    except (json.JSONDecodeError, KeyError) as e:
        raise InputError(f"{path}: not a corpus manifest ({e})") from None
    clips = []
    for e in entries:
        if e["kind"] in kinds and e["frames"] >= min_frames:
            frames = _images(_require_dir(root / e["name"], "corpus clip"))
            if len(frames) != e["frames"]:
                raise InputError(f"{root / e['name']}: {len(frames)} frames, the manifest says {e['frames']}")
            clips.append(Clip(e["name"], ImageFrames(frames)))
    if not clips:
        raise InputError(f"{path}: no clips of kind {', '.join(kinds)}")
    return clips
