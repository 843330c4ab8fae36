"""Output to a folder of PNG frames, and the video-vs-folder decision for an output path.

Overwrite policy (so a typo never destroys a user's photos): the destination folder may be
missing, empty, or a previous freqvsr frame output (recognised by the marker file
``.freqvsr-frames`` that :meth:`FrameFolderWriter.finish` writes into it). Any other non-empty
folder is refused with an :class:`~freqvsr.errors.OutputError`. Frames are written into a hidden
temporary folder beside the destination and moved into place by :meth:`finish`; a previous
freqvsr output is replaced only then, so an aborted run leaves it intact.
"""

from __future__ import annotations

import os
import re
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from freqvsr.errors import OutputError
from freqvsr.io.encode import VIDEO_EXTENSIONS

MARKER = ".freqvsr-frames"
FRAME_NAME = "{index:08d}.png"
FRAME_PATTERN = re.compile(r"\d{8}\.png")  # the names FRAME_NAME gives: what freqvsr may replace


def is_video_output(path) -> bool:
    """True when ``path`` names a video file (by extension), False for a frame folder."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def check_frame_folder(folder: Path) -> None:
    """Raise OutputError unless ``folder`` may receive freqvsr frames (see module docstring)."""
    if folder.exists():
        if not folder.is_dir():
            raise OutputError(f"{folder}: exists and is not a folder")
        if any(folder.iterdir()) and not (folder / MARKER).is_file():
            raise OutputError(
                f"{folder}: folder is not empty and is not a previous freqvsr output; choose a new or empty folder"
            )


# FFmpeg refuses pictures whose (width + 128) x (height + 128) reaches INT_MAX / 8
# (av_image_check_size2): about 268 million pixels, less than the x4 output of an 8K input.
_FFMPEG_MAX_AREA = (2**31 - 1) // 8


def ffmpeg_can_hold(width: int, height: int) -> bool:
    """Whether FFmpeg (PyAV: swscale, every encoder) accepts a ``width`` x ``height`` picture."""
    return (width + 128) * (height + 128) < _FFMPEG_MAX_AREA


def frame_size_problem(width: int, height: int, bit_depth: int) -> str | None:
    """Why PNG frames of this size and depth cannot be written, or None."""
    if ffmpeg_can_hold(width, height) or bit_depth <= 8:
        return None
    return (
        f"{width}x{height} frames are beyond FFmpeg's picture size limit, and above it only 8-bit PNG "
        "frames can be written (Pillow); this input is deeper than 8 bits"
    )


class FrameFolderWriter:
    """Write frames as ``00000000.png``, ``00000001.png``, ... (8-bit RGB for uint8 input,
    16-bit RGB for uint16 input; RGBA for (H, W, 4) input) into ``folder``, atomically at
    :meth:`finish`."""

    def __init__(self, folder):
        self.folder = Path(folder)
        check_frame_folder(self.folder)
        parent = self.folder.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{self.folder}: cannot create parent folder ({e.strerror or e})") from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"{self.folder}: folder {parent} is not writable")
        self.tmp = parent / f".{self.folder.name}.freqvsr-partial-{os.getpid()}"
        try:
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
        except OSError as e:
            raise OutputError(f"{self.folder}: cannot create temporary folder ({e.strerror or e})") from None
        self.frames_written = 0
        self._codecs: dict[tuple, av.CodecContext] = {}
        self._done = False

    def _encoder(self, width: int, height: int, pix_fmt: str) -> av.CodecContext:
        key = (width, height, pix_fmt)
        if key not in self._codecs:
            ctx = av.CodecContext.create("png", "w")
            ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
            ctx.time_base = Fraction(1, 25)  # required by the API, meaningless for PNG
            self._codecs = {key: ctx}  # one size per job; drop any other
        return self._codecs[key]

    def write(self, image: np.ndarray, index: int) -> None:
        if self._done:
            raise RuntimeError("FrameFolderWriter is finished")
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ValueError(f"expected an (H, W, 3) RGB or (H, W, 4) RGBA array, got shape {image.shape}")
        h, w = image.shape[:2]
        if not ffmpeg_can_hold(w, h):
            self._write_large(image, index)
            return
        rgba = image.shape[2] == 4
        if image.dtype == np.uint8:
            pix_fmt = "rgba" if rgba else "rgb24"
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=pix_fmt)
        elif image.dtype == np.uint16:
            little, pix_fmt = ("rgba64le", "rgba64be") if rgba else ("rgb48le", "rgb48be")
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image.astype("<u2", copy=False)), format=little)
            frame = frame.reformat(format=pix_fmt)  # PNG stores big-endian samples
        else:
            raise ValueError(f"expected uint8 or uint16 image, got {image.dtype}")
        # A fresh encoder per frame would be cheap too; PNG is intra-only, so reuse is safe.
        ctx = self._encoder(w, h, pix_fmt)
        data = b"".join(bytes(p) for p in ctx.encode(frame))
        path = self.tmp / FRAME_NAME.format(index=int(index))
        try:
            path.write_bytes(data)
        except OSError as e:
            raise OutputError(f"{path}: cannot write frame ({e.strerror or e})") from None
        self.frames_written += 1

    def _write_large(self, image: np.ndarray, index: int) -> None:
        # Frames above FFmpeg's picture size limit (the x4 output of an 8K input): Pillow writes
        # 8-bit RGB(A) PNGs of any size; it has no 16-bit RGB mode, so deep frames that large are
        # refused before any work (check_frame_folder_size).
        from PIL import Image

        if image.dtype != np.uint8:
            raise OutputError(f"{self.folder}: {frame_size_problem(image.shape[1], image.shape[0], 16)}")
        path = self.tmp / FRAME_NAME.format(index=int(index))
        try:
            Image.fromarray(np.ascontiguousarray(image)).save(path, format="PNG", compress_level=6)
        except OSError as e:
            raise OutputError(f"{path}: cannot write frame ({e.strerror or e})") from None
        self.frames_written += 1

    def finish(self) -> None:
        """Move the frames into ``folder`` (replacing a previous freqvsr output there)."""
        if self._done:
            return
        (self.tmp / MARKER).write_text("frames written by freqvsr\n")
        check_frame_folder(self.folder)  # it may have changed while we were working
        old = None
        try:
            if self.folder.exists():
                old = self.folder.with_name(f".{self.folder.name}.freqvsr-old-{os.getpid()}")
                os.replace(self.folder, old)
            os.replace(self.tmp, self.folder)
        except OSError as e:
            if old is not None and old.exists() and not self.folder.exists():
                os.replace(old, self.folder)
            self.abort()
            raise OutputError(f"{self.folder}: cannot move frames into place ({e.strerror or e})") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._done = True

    def abort(self) -> None:
        """Delete the temporary folder; ``folder`` is left as it was."""
        self._done = True
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> FrameFolderWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.finish()
