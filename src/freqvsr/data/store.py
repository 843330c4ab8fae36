"""Frame store: a clip folder (e.g. a ``build-corpus`` output) decoded ONCE into one memory-mapped
uint8 file, so training reads raw pixels instead of decoding PNG frames for every sample.

Layout (``freqvsr data build-store CORPUS_DIR STORE_DIR``)::

    STORE_DIR/store.json     index: format, version, data file size, and per clip its key, byte
                             offset, frames, height, width, CRC-32 (+ the corpus manifest's entry)
    STORE_DIR/frames.u8      every clip's frames back to back, each clip (T, H, W, 3) uint8 RGB, C order

Why whole frames and not pre-cut patches: :class:`StoreFrames` has the interface of
:class:`~freqvsr.data.frame_access.ImageFrames` (``read(start, count)``, ``frame_size()``, ``len``), so
:class:`StoreDataset` is :class:`~freqvsr.data.dataset.ClipDataset` unchanged over the same clips in
the same order as :class:`~freqvsr.data.dataset.FolderDataset`: the same ``(seed, epoch, index)``
gives bit-identical samples (window start, crop origin incl. ``crop_candidates``, augmentation,
degradation), any crop size works, and an experiment can switch between folder and store freely.
Pre-cut patches would be smaller but fix the patch size and change the crop distribution.

Workers: a :class:`StoreFrames` holds only the data file's path, offset and shape; the memory map is
opened lazily, once per process (module-level cache), so datasets pickle in microseconds and spawned
DataLoader workers share the page cache instead of each holding a copy. The data file's size is
checked against the index when it is opened (a short or over-long file is a one-line error naming
it); :func:`verify_store` also checks every clip's CRC-32 (reads the whole file).
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from freqvsr.data.clips import Clip, folder_clips
from freqvsr.data.dataset import ClipDataset
from freqvsr.data.frame_access import _check_window
from freqvsr.errors import InputError, OutputError

__all__ = ["STORE_FORMAT", "StoreDataset", "StoreFrames", "build_store", "open_store", "store_clips", "verify_store"]

STORE_FORMAT = "freqvsr-frame-store"
STORE_VERSION = 1
INDEX_NAME = "store.json"
DATA_NAME = "frames.u8"

# Per-process memory maps of store data files: (path, size, inode, mtime) -> np.memmap. Never
# pickled. The inode and mtime make a rebuilt store (new file, same path) map afresh.
_maps: dict[tuple[str, int, int, int], np.memmap] = {}
_maps_lock = threading.Lock()


def _open_data(path: str, expected: int) -> np.memmap:
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError(f"{path}: cannot read the store's data file ({e.strerror or e})") from None
    key = (path, expected, st.st_ino, st.st_mtime_ns)
    mm = _maps.get(key)
    if mm is not None:
        return mm
    with _maps_lock:
        mm = _maps.get(key)
        if mm is None:
            _check_size(Path(path), expected)
            mm = np.memmap(path, dtype=np.uint8, mode="r", shape=(expected,))
            for old in [k for k in _maps if k[0] == path]:
                del _maps[old]
            _maps[key] = mm
    return mm


def _check_size(path: Path, expected: int) -> None:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"{path}: cannot read the store's data file ({e.strerror or e})") from None
    if size != expected:
        raise InputError(
            f"{path}: {size} bytes, the index says {expected} (truncated or corrupt store; "
            f"rebuild it with `freqvsr data build-store`)"
        )


class StoreFrames:
    """Frames of one clip in a store's data file: ``(T, H, W, 3)`` uint8, read like
    :class:`~freqvsr.data.frame_access.ImageFrames`. Pickles as a path and four integers."""

    def __init__(self, data_path, offset: int, frames: int, height: int, width: int, data_bytes: int):
        self.data_path = str(data_path)
        self.offset, self.frames, self.height, self.width = int(offset), int(frames), int(height), int(width)
        self.data_bytes = int(data_bytes)

    def __len__(self) -> int:
        return self.frames

    def frame_size(self) -> tuple[int, int]:
        return self.width, self.height

    def array(self) -> np.ndarray:
        """The clip as a read-only ``(T, H, W, 3)`` view of the memory map (no copy)."""
        n = self.frames * self.height * self.width * 3
        mm = _open_data(self.data_path, self.data_bytes)
        return mm[self.offset : self.offset + n].reshape(self.frames, self.height, self.width, 3)

    def read(self, start: int = 0, count: int | None = None) -> np.ndarray:
        """Frames ``[start, start + count)`` as a new writable array (as ``ImageFrames.read`` gives)."""
        count = len(self) - start if count is None else count
        _check_window(self, start, count)
        return np.array(self.array()[start : start + count])

    def __repr__(self) -> str:
        return f"StoreFrames({self.data_path}@{self.offset}, {self.frames} frames {self.width}x{self.height})"


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------


def read_index(path: Path, fmt: str, version: int, what: str, how_to_make: str) -> dict[str, Any]:
    """The JSON index at ``path`` of a data file format (``fmt``, ``version``), checked: one-line
    :class:`InputError` naming the file when it is missing (saying ``how_to_make`` one), not JSON,
    of another format or of another version. ``what``: "frame store", "training pack"."""
    if not path.is_file():
        raise InputError(f"{path}: not found ({how_to_make})")
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a {what} index ({e})") from None
    if not isinstance(index, dict) or index.get("format") != fmt:
        raise InputError(f"{path}: not a {what} index (format is not {fmt!r})")
    if index.get("version") != version:
        raise InputError(f"{path}: {what.split()[-1]} version {index.get('version')!r}, this freqvsr reads {version}")
    return index


def open_store(root) -> dict[str, Any]:
    """Read and check ``root/store.json`` (format, version, fields, data file size). One-line
    :class:`InputError` naming the file for anything wrong."""
    root = Path(root)
    index_path = root / INDEX_NAME
    index = read_index(
        index_path,
        STORE_FORMAT,
        STORE_VERSION,
        "frame store",
        f"build the store with `freqvsr data build-store CORPUS {root}`",
    )
    try:
        data_bytes = int(index["bytes"])
        end = 0
        for c in index["clips"]:
            n = int(c["frames"]) * int(c["height"]) * int(c["width"]) * 3
            if int(c["offset"]) != end or n <= 0:
                raise ValueError(f"clip {c['key']} is not where the previous one ends")
            end += n
        if end != data_bytes:
            raise ValueError(f"clips cover {end} bytes, the index says {data_bytes}")
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"{index_path}: inconsistent index ({e})") from None
    _check_size(root / index.get("data", DATA_NAME), data_bytes)
    return index


def store_clips(root, min_frames: int = 1) -> list[Clip]:
    """The store's clips (same keys and order as :func:`~freqvsr.data.clips.folder_clips` gave at
    build time), those with at least ``min_frames`` frames, backed by :class:`StoreFrames`."""
    root = Path(root)
    index = open_store(root)
    data = (root / index.get("data", DATA_NAME)).resolve()
    clips = [
        Clip(c["key"], StoreFrames(data, c["offset"], c["frames"], c["height"], c["width"], index["bytes"]))
        for c in index["clips"]
        if c["frames"] >= min_frames
    ]
    if not clips:
        raise InputError(f"{root / INDEX_NAME}: no clip with at least {min_frames} frames")
    return clips


def verify_store(root) -> int:
    """Check every clip's CRC-32 (reads the whole data file); returns the number of clips checked."""
    root = Path(root)
    index = open_store(root)
    for clip, entry in zip(store_clips(root), index["clips"], strict=True):
        if zlib.crc32(clip.gt.array()) != entry["crc32"]:
            raise InputError(
                f"{root / index.get('data', DATA_NAME)}: clip {clip.key} fails its CRC-32 check (corrupt store)"
            )
    return len(index["clips"])


class StoreDataset(ClipDataset):
    """:class:`~freqvsr.data.dataset.FolderDataset` over a frame store: the same arguments, the same
    defaults (``degrade="bi"``, ``skip_small=True``, clips shorter than ``num_frames`` left out) and,
    for the same ``seed``, the same samples as ``FolderDataset`` on the folder the store was built from."""

    def __init__(self, root, *, degrade: Any = "bi", **kwargs):
        kwargs.setdefault("skip_small", True)
        min_frames = kwargs.get("num_frames") or 1
        super().__init__(store_clips(root, min_frames=min_frames), degrade=degrade, **kwargs)


# ---------------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------------


def _refuse_foreign(store: Path) -> None:
    if store.exists() and not store.is_dir():
        raise OutputError(f"{store}: exists and is not a folder")
    if store.is_dir() and any(store.iterdir()):
        index = store / INDEX_NAME
        try:
            ok = json.loads(index.read_text()).get("format") == STORE_FORMAT
        except (OSError, ValueError, AttributeError):
            ok = False
        if not ok:
            raise OutputError(
                f"{store}: exists, is not empty and is not a frame store (no valid {INDEX_NAME}); "
                "refusing to write into it"
            )


def build_store(
    source_dir, store_dir, *, frames_per_read: int = 8, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Decode every clip of ``source_dir`` (the clips :class:`FolderDataset` sees: frame folders and
    videos, recursively) into ``store_dir``; returns the index (also ``store_dir/store.json``).

    Refuses a ``store_dir`` that exists, is not empty and is not a store (an existing store is
    replaced). The data file is written as ``frames.u8.partial`` and renamed, then the index, so an
    interrupted build never leaves a store that looks complete. The corpus manifest's entry of each
    clip (``kind``, ``content``, ``source``...) is copied into the index when there is one.
    """
    t0 = time.perf_counter()
    log = log or (lambda msg: None)
    source, store = Path(source_dir), Path(store_dir)
    if source.resolve() == store.resolve():
        raise OutputError(f"{store}: the store cannot be the source folder")
    _refuse_foreign(store)
    clips = folder_clips(source)
    manifest = {}
    if (source / "manifest.json").is_file():
        try:
            manifest = {e["name"]: e for e in json.loads((source / "manifest.json").read_text())["clips"]}
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{source / 'manifest.json'}: not a corpus manifest ({e})") from None
    entries: list[dict[str, Any]] = []
    offset = 0
    for c in clips:
        w, h = c.gt.frame_size()
        entries.append({"key": c.key, "offset": offset, "frames": len(c), "height": h, "width": w})
        offset += len(c) * h * w * 3
    total = offset
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{store}: cannot create folder ({e.strerror or e})") from None
    partial = store / (DATA_NAME + ".partial")
    log(f"{len(clips)} clips, {total / 2**30:.2f} GiB -> {store / DATA_NAME}")
    mm = np.memmap(partial, dtype=np.uint8, mode="w+", shape=(total,))  # folder_clips never gives an empty clip
    done = False
    try:
        for c, e in zip(clips, entries, strict=True):
            t = time.perf_counter()
            view = mm[e["offset"] : e["offset"] + e["frames"] * e["height"] * e["width"] * 3]
            view = view.reshape(e["frames"], e["height"], e["width"], 3)
            crc = 0
            for s in range(0, len(c), frames_per_read):
                block = c.gt.read(s, min(frames_per_read, len(c) - s))
                if block.dtype != np.uint8:
                    raise InputError(f"{c.gt!r}: {block.dtype} frames; the store holds 8-bit frames only")
                if block.shape[1:] != view.shape[1:]:
                    raise InputError(
                        f"{c.gt!r}: frames {block.shape[2]}x{block.shape[1]} from frame {s}, "
                        f"the first frame is {e['width']}x{e['height']}"
                    )
                view[s : s + len(block)] = block
                crc = zlib.crc32(np.ascontiguousarray(block), crc)
            e["crc32"] = crc
            if c.key in manifest:
                e["manifest"] = {k: v for k, v in manifest[c.key].items() if k != "name"}
            log(f"{c.key}: {e['frames']} frames {e['width']}x{e['height']} in {time.perf_counter() - t:.1f} s")
        mm.flush()
        done = True
    finally:
        view = mm = None  # unmap before renaming or deleting the file
        if not done:
            partial.unlink(missing_ok=True)
    old_index = store / INDEX_NAME
    old_index.unlink(missing_ok=True)  # the old index must not describe the new data file
    os.replace(partial, store / DATA_NAME)
    index = {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "source": str(source.resolve()),
        "data": DATA_NAME,
        "bytes": total,
        "frames": sum(e["frames"] for e in entries),
        "layout": "clips back to back, each (frames, height, width, 3) uint8 RGB in C order, from byte 'offset'",
        "clips": entries,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    tmp = store / (INDEX_NAME + ".partial")
    tmp.write_text(json.dumps(index, indent=1) + "\n")
    os.replace(tmp, store / INDEX_NAME)
    return index


def frames_per_content(index: dict[str, Any]) -> dict[str, int]:
    """Frames per content kind (``manifest.content``, else ``manifest.kind``, else ``unknown``)."""
    out: dict[str, int] = {}
    for e in index["clips"]:
        m = e.get("manifest") or {}
        k = m.get("content") or m.get("kind") or "unknown"
        out[k] = out.get(k, 0) + e["frames"]
    return out
