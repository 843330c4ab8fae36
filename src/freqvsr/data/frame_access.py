"""Random access to the frames of a clip: a list of image files, or a range of a video file.

Both return ``(T, H, W, 3)`` RGB numpy arrays (``uint8``; ``uint16`` only from deep video sources)
for a window ``[start, start + count)``, and pickle cheaply (no open file handles), so they can be
handed to ``DataLoader`` workers.

Videos: a window is read by *seeking*, not by decoding from the start. At construction the video
is decoded once without colour conversion (about 1 s for opencv-doc's 795-frame vtest.avi here) to
list the timestamps of the frames in output order; frame ``i`` is the ``i``-th decoded frame. A
read seeks to the key frame at or before frame ``start`` and decodes forward until the window is
complete, so the cost is at most one GOP plus the window. Clips whose decoded size is small
(``cache_bytes``, default 64 MiB: e.g. a 176x144 clip of 120 frames is 9 MiB) are decoded once
and kept in memory per process instead, since re-seeking them would cost more than holding them.
Videos whose decoded timestamps are missing or not increasing fall back to decoding from the first frame.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from freqvsr.errors import InputError

__all__ = ["ImageFrames", "VideoFrames", "read_image", "to_float_tensor"]

DEFAULT_VIDEO_CACHE_BYTES = 64 * 2**20


def read_image(path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB (Pillow; grey/palette/alpha converted)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode != "RGB":
                im = im.convert("RGB")
            return np.asarray(im).copy()
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable image ({e})") from None


def to_float_tensor(frames: np.ndarray):
    """``(T, H, W, 3)`` uint8/uint16 -> ``(T, 3, H, W)`` float32 torch tensor in [0, 1]."""
    import torch

    scale = 65535.0 if frames.dtype == np.uint16 else 255.0
    t = torch.from_numpy(np.ascontiguousarray(frames))
    return t.permute(0, 3, 1, 2).to(torch.float32).div_(scale)


class ImageFrames:
    """A clip stored as image files, one per frame (natural order is the caller's job)."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = tuple(Path(p) for p in paths)
        if not self.paths:
            raise InputError("empty frame list")

    def __len__(self) -> int:
        return len(self.paths)

    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the first frame, from its header (no decoding)."""
        from PIL import Image

        try:
            with Image.open(self.paths[0]) as im:
                return im.size
        except (OSError, ValueError) as e:
            raise InputError(f"{self.paths[0]}: not a readable image ({e})") from None

    def read(self, start: int = 0, count: int | None = None) -> np.ndarray:
        count = len(self) - start if count is None else count
        _check_window(self, start, count)
        frames = [read_image(p) for p in self.paths[start : start + count]]
        shape = frames[0].shape
        for p, f in zip(self.paths[start : start + count], frames, strict=True):
            if f.shape != shape:
                raise InputError(
                    f"{p}: size {f.shape[1]}x{f.shape[0]} differs from {self.paths[start].name} ({shape[1]}x{shape[0]})"
                )
        return np.stack(frames)

    def __repr__(self) -> str:
        return f"ImageFrames({self.paths[0].parent}, {len(self)} frames)"


# Per-process cache of fully decoded small videos: path -> array. Workers each hold their own.
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_TOTAL_BYTES = 512 * 2**20


class VideoFrames:
    """Frames ``[start, start + count)`` of a video file, decoded by seeking (see module docstring)."""

    def __init__(self, path, cache_bytes: int = DEFAULT_VIDEO_CACHE_BYTES):
        from freqvsr.io import probe

        self.path = Path(path)
        info = probe(self.path)  # validates the file (InputError on a broken one)
        self.width, self.height = info.width, info.height
        # How frames become RGB (the stream's matrix/range, 8 or 16 bits), fixed at probe time.
        self._bits = 8 if info.bit_depth <= 8 else 16
        self._matrix, self._range = info.matrix, info.range
        self._bytes_per_frame = info.width * info.height * 3 * (self._bits // 8)
        self.pts = self._index()
        self.cache_bytes = cache_bytes

    def _index(self) -> tuple[int, ...] | None:
        import av

        # Decode once (no colour conversion) and record the timestamps in output order. Packet
        # timestamps alone are not enough: some files (box.mp4 of opencv-doc) carry B-frames with
        # pts = dts, so their timestamps do not follow display order, and a trailing packet may
        # give no frame. Seeking is only used when the decoded order is strictly increasing.
        pts: list[int | None] = []
        try:
            with av.open(str(self.path)) as c:
                stream = c.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in c.decode(stream):
                    pts.append(frame.pts)
        except av.FFmpegError as e:
            raise InputError(f"{self.path}: cannot index video ({e})") from None
        self._count = len(pts)
        if any(p is None for p in pts) or any(b <= a for a, b in itertools.pairwise(pts)):
            return None  # no usable timestamps: sequential decoding only
        return tuple(pts)

    def __len__(self) -> int:
        return self._count

    def frame_size(self) -> tuple[int, int]:
        return self.width, self.height

    def read(self, start: int = 0, count: int | None = None) -> np.ndarray:
        count = len(self) - start if count is None else count
        _check_window(self, start, count)
        key = str(self.path.resolve())
        with _cache_lock:
            full = _cache.get(key)
            if full is not None:
                _cache.move_to_end(key)
        if full is None and self._bytes_per_frame * len(self) <= self.cache_bytes:
            full = self._decode_range(0, len(self), seek=False)
            with _cache_lock:
                _cache[key] = full
                while sum(a.nbytes for a in _cache.values()) > _CACHE_TOTAL_BYTES and len(_cache) > 1:
                    _cache.popitem(last=False)
        if full is not None:
            return full[start : start + count].copy()
        return self._decode_range(start, count, seek=self.pts is not None and start > 0)

    def _decode_range(self, start: int, count: int, seek: bool) -> np.ndarray:
        import av

        from freqvsr.io.reader import frame_to_rgb

        bits, matrix, rng = self._bits, self._matrix, self._range
        out: list[np.ndarray] = []
        with av.open(str(self.path)) as c:
            stream = c.streams.video[0]
            if seek:
                wanted = self.pts[start : start + count]
                c.seek(wanted[0], stream=stream, backward=True, any_frame=False)
                first = True
                for frame in c.decode(stream):
                    if first and (frame.pts is None or frame.pts > wanted[0]):
                        # The demuxer landed after the frame we need (imprecise index): read from the start.
                        return self._decode_range(start, count, seek=False)
                    first = False
                    if frame.pts is None or frame.pts < wanted[0]:
                        continue
                    out.append(frame_to_rgb(frame, bits, matrix, rng))
                    if len(out) == count:
                        break
            else:
                for i, frame in enumerate(c.decode(stream)):
                    if i >= start:
                        out.append(frame_to_rgb(frame, bits, matrix, rng))
                    if len(out) == count:
                        break
        if len(out) != count:
            raise InputError(f"{self.path}: decoded {len(out)} of the {count} frames from frame {start}")
        return np.stack(out)

    def __repr__(self) -> str:
        return f"VideoFrames({self.path}, {len(self)} frames)"


def _check_window(frames, start: int, count: int) -> None:
    if start < 0 or count < 1 or start + count > len(frames):
        raise InputError(f"{frames!r}: frames [{start}, {start + count}) out of range (0..{len(frames)})")
