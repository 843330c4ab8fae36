"""Streaming input: video files (anything FFmpeg opens, through PyAV) and folders of images.

Frames come out as RGB numpy arrays in display order, one at a time, so memory does not depend on
the video length and nothing is extracted to disk. YUV is converted with the stream's own matrix
and range (see :mod:`freqvsr.io._colour`); sources deeper than 8 bits come out as ``uint16``
scaled to the full 0..65535 range, so 10-bit detail survives. An alpha channel (RGBA PNG,
ProRes 4444, QuickTime RLE/PNG in MOV, FFV1, VP9 with alpha in WebM/Matroska) comes out beside the
colour as its own plane of the same type.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from freqvsr.errors import InputError, InputNotFoundError
from freqvsr.io import _colour as C

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
DEFAULT_IMAGE_FPS = Fraction(25)


@dataclass(frozen=True)
class VideoInfo:
    """What we know about an input before decoding all of it.

    ``width``/``height`` are the coded size of decoded frames, before any display rotation.
    Colour fields are FFmpeg's raw enum integers (``AVColorSpace``, ``AVColorRange``,
    ``AVColorPrimaries``, ``AVColorTransferCharacteristic``; 2 / 0 mean unspecified) so a writer
    can tag its output exactly like the source. ``rotation`` is counter-clockwise degrees in
    0..359, the convention of ``VideoStream.set_display_rotation``.
    """

    path: Path
    kind: str  # "video" | "images"
    width: int
    height: int
    num_frames: int | None
    fps: Fraction
    time_base: Fraction
    duration: float | None
    pix_fmt: str
    bit_depth: int
    grayscale: bool
    colorspace: int | None = None
    color_range: int | None = None
    color_primaries: int | None = None
    color_trc: int | None = None
    rotation: int = 0
    audio_streams: int = 0
    subtitle_streams: int = 0
    codec: str | None = None
    alpha: bool = False  # frames carry a transparency plane (Frame.alpha)

    @property
    def matrix(self) -> int:
        """AVColorSpace used to convert this source to RGB (tagged, else guessed from height)."""
        if self.kind == "images":
            return C.SPC_BT470BG
        return C.effective_matrix(self.colorspace, self.height)

    @property
    def range(self) -> int:
        """AVColorRange used to convert this source to RGB (tagged, else limited; yuvj -> full)."""
        if self.kind == "images":
            return C.RANGE_FULL
        return C.effective_range(self.color_range, self.pix_fmt)


@dataclass
class Frame:
    """One decoded frame.

    ``image``: (H, W, 3) RGB, ``uint8`` for 8-bit sources, else ``uint16`` over 0..65535.
    ``pts``: presentation timestamp in ``VideoInfo.time_base`` units (None when the container
    has none). ``time``: seconds (from pts, or index / fps when pts is unknown). ``alpha``: the
    (H, W) transparency plane (straight, not premultiplied; same dtype and range as ``image``)
    when the source has one, else None.
    """

    index: int
    image: np.ndarray
    pts: int | None
    time: float
    alpha: np.ndarray | None = None


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name.lower())]


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` in natural order (frame2 < frame10); hidden files skipped."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: _natural_key(p.name))


def has_alpha(pix_fmt: str) -> bool:
    """True for a pixel format with a transparency component (rgba, yuva420p, ya8, argb, ...)."""
    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)
    except Exception:  # an unknown format name
        return False


def frame_to_rgba(
    frame: av.VideoFrame, out_bits: int, matrix: int, color_range: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """(RGB image, alpha plane or None) of a decoded frame, both uint8 or both uint16.

    Frames without alpha convert as :func:`frame_to_rgb`. With alpha, swscale converts to RGBA
    in one pass (the colour exactly as without alpha: same matrix, range and interpolation) and
    the planes are split; the alpha is straight, as PNG, ProRes 4444 and VP9 store it.
    """
    if not has_alpha(frame.format.name):
        return frame_to_rgb(frame, out_bits, matrix, color_range), None
    rgba = frame_to_rgb(frame, out_bits, matrix, color_range, alpha=True)
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


def frame_to_rgb(
    frame: av.VideoFrame, out_bits: int, matrix: int, color_range: int, *, alpha: bool = False
) -> np.ndarray:
    """Convert a decoded frame to (H, W, 3) RGB: uint8 when out_bits == 8, else uint16 (rgb48);
    ``alpha=True``: (H, W, 4) RGBA (rgba / rgba64)."""
    if alpha:
        target = "rgba" if out_bits <= 8 else "rgba64le"
    else:
        target = "rgb24" if out_bits <= 8 else "rgb48le"
    name = frame.format.name
    if C.is_rgb_format(name) or C.is_gray_format(name):
        # No matrix involved. Gray is luma only: swscale expands it to equal channels.
        if C.is_gray_format(name):
            return frame.to_ndarray(
                format=target,
                src_color_range=color_range,
                dst_color_range=C.RANGE_FULL,
                interpolation=C.INTERPOLATION,
            )
        return frame.to_ndarray(format=target, interpolation=C.INTERPOLATION)
    sws = C.sws_matrix(matrix)
    return frame.to_ndarray(
        format=target,
        src_colorspace=sws,
        dst_colorspace=sws,
        src_color_range=color_range,
        dst_color_range=C.RANGE_FULL,
        interpolation=C.INTERPOLATION,
    )


class FrameSource:
    """An open input. Use as a context manager; iterate once for :class:`Frame` objects.

    The first frame is decoded at construction so that empty, non-video or broken inputs fail
    at open time with an :class:`~freqvsr.errors.InputError`.
    """

    info: VideoInfo

    def __init__(self, path, *, fps: Fraction | float | None = None, strict: bool = False):
        self.path = Path(path)
        self._container = None
        self._iterated = False
        self.strict = strict
        # After iteration: frames that came out, and frames known to be lost to corrupt or missing
        # data (see _count_lost); an image folder never loses one (an unreadable image is an error).
        self.frames_decoded = 0
        self.frames_lost = 0
        self._decode_failures = 0  # packets the decoder refused
        self._last_decode_error = ""
        self._broken_off: str | None = None  # why demuxing stopped before the end of the file
        # start_near(): the index of the first frame the iteration yields, and for a video that
        # was entered at a keyframe, every frame's index by its timestamp (checked as it comes).
        self.first_index = 0
        self._index_of: dict[int, int] | None = None
        self._exact = False  # a frame that cannot be decoded is an error (start_near)
        self._decode_base = 0  # index of the frame the current decoder started at (after a seek)
        if not self.path.exists():
            raise InputNotFoundError(f"{self.path}: no such file or folder")
        if self.path.is_dir():
            self._open_images(fps)
        else:
            try:
                self._open_video()
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ image folders
    def _open_images(self, fps):
        self._images = list_images(self.path)
        if not self._images:
            raise InputError(f"{self.path}: folder contains no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        first = self._read_image_frame(self._images[0])
        pix_fmt = first.format.name
        depth = 16 if C.bit_depth(pix_fmt) > 8 else 8
        rate = Fraction(fps).limit_denominator(1_000_000) if fps else DEFAULT_IMAGE_FPS
        n = len(self._images)
        self._depth = depth
        self.info = VideoInfo(
            path=self.path,
            kind="images",
            width=first.width,
            height=first.height,
            num_frames=n,
            fps=rate,
            time_base=1 / rate,
            duration=float(n / rate),
            pix_fmt=pix_fmt,
            bit_depth=depth,
            grayscale=C.is_gray_format(pix_fmt),
            colorspace=None,
            color_range=None,
            color_primaries=None,
            color_trc=None,
            rotation=0,
            audio_streams=0,
            subtitle_streams=0,
            codec=None,
            alpha=has_alpha(pix_fmt),
        )
        self._first_image = self._image_array(first, self._images[0])

    def _read_image_frame(self, file: Path) -> av.VideoFrame:
        try:
            with av.open(str(file), metadata_errors="replace") as c:
                for frame in c.decode(video=0):
                    return frame
        except (av.FFmpegError, IndexError, OSError) as e:
            raise InputError(f"{file}: not a readable image ({_short(e)})") from None
        raise InputError(f"{file}: not a readable image (no picture decoded)")

    def _image_array(self, frame: av.VideoFrame, file: Path) -> tuple[np.ndarray, np.ndarray | None]:
        if (frame.width, frame.height) != (self.info.width, self.info.height):
            raise InputError(
                f"{file}: size {frame.width}x{frame.height} differs from the folder's first "
                f"image ({self.info.width}x{self.info.height})"
            )
        # Still images (JPEG/JFIF included) use BT.601 full range when they are YUV at all.
        image, alpha = frame_to_rgba(frame, self._depth, self.info.matrix, self.info.range)
        if self.info.alpha and alpha is None:
            # A folder that mixes RGBA and RGB frames: an opaque frame is fully opaque.
            alpha = np.full(image.shape[:2], np.iinfo(image.dtype).max, image.dtype)
        elif not self.info.alpha:
            alpha = None  # the first frame decides, so every frame of the job has the same planes
        return image, alpha

    def _iter_images(self) -> Iterator[Frame]:
        for i, file in enumerate(self._images):
            if i < self.first_index:
                continue
            img, alpha = self._first_image if i == 0 else self._image_array(self._read_image_frame(file), file)
            self._first_image = None
            self.frames_decoded = i + 1
            yield Frame(index=i, image=img, pts=i, time=float(i / self.info.fps), alpha=alpha)

    # ------------------------------------------------------------------ video files
    def _open_video(self):
        path = self.path
        try:
            # Tags that are not UTF-8 (old cameras, hand-edited files) must not stop a job:
            # FFmpeg plays such files, and nothing here depends on a tag's exact bytes.
            self._container = av.open(str(path), metadata_errors="replace")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not a readable video file ({_short(e)})") from None
        c = self._container
        if not c.streams.video:
            raise InputError(f"{path}: contains no video stream")
        stream = c.streams.video[0]
        _check_not_truncated(path, c)
        # Frame threading speeds up decoding; display order is unaffected.
        stream.thread_type = "AUTO"
        self._stream = stream
        self._alpha_decoder = _vp9_alpha_decoder(stream)
        self._decoder = self._decode_frames()
        try:
            first = next(self._decoder)
        except StopIteration:
            if self._decode_failures:
                raise InputError(
                    f"{path}: corrupt video stream, no frame could be decoded ({self._last_decode_error})"
                ) from None
            raise InputError(f"{path}: video stream has no frames") from None
        self._first = first
        self._first_pts = first.pts

        cc = stream.codec_context
        pix_fmt = first.format.name
        depth = C.bit_depth(pix_fmt)
        tb = Fraction(stream.time_base) if stream.time_base else None
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = Fraction(fps) if fps else DEFAULT_IMAGE_FPS
        if tb is None:
            tb = 1 / fps
        duration = None
        if stream.duration:
            duration = float(stream.duration * tb)
        else:
            # Matroska has no per-stream duration field; FFmpeg's muxer writes a DURATION tag.
            duration = _parse_duration_tag(stream.metadata.get("DURATION") or stream.metadata.get("duration"))
        # The video's own end, for counting frames missing at the end (never the container's
        # duration, which an audio track longer than the video sets).
        self._stream_duration = duration
        if duration is None and c.duration:
            duration = c.duration / av.time_base
        num = stream.frames or None
        if num is None and duration:
            num = max(1, round(duration * fps))
        rotation = first.rotation
        if not rotation:
            tag = stream.metadata.get("rotate")
            if tag and tag.lstrip("-").isdigit():
                rotation = -int(tag)  # the legacy tag is clockwise

        # Prefer the decoded frame's tags (codec-level VUI), fall back to the container's.
        def pick(frame_val, ctx_val, unspecified):
            if frame_val is not None and int(frame_val) != unspecified:
                return int(frame_val)
            return int(ctx_val) if ctx_val is not None else None

        self._out_bits = 8 if depth <= 8 else 16
        self.info = VideoInfo(
            path=path,
            kind="video",
            width=first.width,
            height=first.height,
            num_frames=num,
            fps=fps,
            time_base=tb,
            duration=duration,
            pix_fmt=pix_fmt,
            bit_depth=depth,
            grayscale=C.is_gray_format(pix_fmt),
            colorspace=pick(first.colorspace, cc.colorspace, C.SPC_UNSPECIFIED),
            color_range=pick(first.color_range, cc.color_range, C.RANGE_UNSPECIFIED),
            color_primaries=pick(first.color_primaries, cc.color_primaries, C.PRI_UNSPECIFIED),
            color_trc=pick(first.color_trc, cc.color_trc, C.TRC_UNSPECIFIED),
            rotation=int(rotation) % 360,
            audio_streams=len(c.streams.audio),
            subtitle_streams=len(c.streams.subtitles),
            codec=cc.codec.canonical_name,  # 'av1', not the decoder's name 'libdav1d'
            alpha=has_alpha(pix_fmt),
        )

    def _decode_frames(self) -> Iterator[av.VideoFrame]:
        """Decoded frames, packet by packet, so that damage costs only the frames it hits.

        A packet the decoder refuses is counted and skipped (decoders resynchronise at the next
        one; a strict source stops instead). A demuxer error after some frames ends the stream
        early, keeping what came before; before any frame it is a broken file.
        """
        decoder = self._alpha_decoder or self._stream.codec_context
        if decoder is None:  # a codec this FFmpeg build does not know (or a damaged codec id)
            raise InputError(f"{self.path}: its video codec is unknown or not supported by this FFmpeg build")
        packets = self._container.demux(self._stream)
        n = 0
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError as e:
                if n == 0 or self.strict:
                    raise InputError(
                        f"{self.path}: corrupt or truncated video stream after {n} frames ({_short(e)})"
                    ) from None
                self._broken_off = _short(e)
                return
            try:
                frames = decoder.decode(packet)
            except av.FFmpegError as e:
                self._decode_failures += 1
                self._last_decode_error = _short(e)
                if self._exact:
                    raise InputError(
                        f"{self.path}: corrupt data near frame {self._decode_base + n}, a frame cannot be decoded "
                        f"({_short(e)}); a video shared between processes must decode cleanly, upscale it in "
                        "one process"
                    ) from None
                if self.strict:
                    raise InputError(
                        f"{self.path}: corrupt data after frame {n}, a frame cannot be decoded ({_short(e)}); "
                        "without strict=True the frames that decode are upscaled"
                    ) from None
                continue
            for frame in frames:
                n += 1
                yield frame

    def _iter_video(self) -> Iterator[Frame]:
        info = self.info
        tb = info.time_base
        matrix, rng = info.matrix, info.range
        index = self.first_index
        frame = self._first
        self._first = None
        step = max(1, round(1 / (info.fps * tb))) if info.fps else 1  # one frame, in time-base ticks
        offset, last = 0, None
        warned = False
        steps: Counter = Counter()  # source pts differences (ticks) between decoded frames
        last_src = None
        while frame is not None:
            if self._index_of is not None and self._index_of.get(frame.pts) != index:
                # Entered at a keyframe: a frame out of its place would shift every later index.
                raise InputError(
                    f"{self.path}: frame {index} is not where the stream's timestamps put it (damaged or "
                    "irregular stream); a video shared between processes must decode cleanly, upscale it "
                    "in one process"
                )
            if frame.pts is not None:
                if last_src is not None and frame.pts > last_src:
                    steps[frame.pts - last_src] += 1
                last_src = frame.pts
            image, alpha = frame_to_rgba(frame, self._out_bits, matrix, rng)
            if not info.alpha:
                alpha = None  # the first frame decides: every frame of a job has the same planes
            elif alpha is None:
                alpha = np.full(image.shape[:2], np.iinfo(image.dtype).max, image.dtype)
            pts = frame.pts
            if pts is not None:
                pts += offset
                if last is not None and pts < last:
                    # Timestamps jump back (concatenated recordings, e.g. `cat a.ts b.ts`): no
                    # muxer takes that. Later frames continue one frame after the last one, as
                    # players show them; the audio is shifted the same way when it is copied.
                    jump = last - pts
                    offset += last + step - pts
                    pts = last + step
                    if not warned:
                        warnings.warn(
                            f"{self.path}: timestamps jump back {float(jump * tb):.3f}s "
                            f"at frame {index} (joined recordings?); later frames are re-timed to follow on",
                            stacklevel=2,
                        )
                        warned = True
                last = pts
            time = float(pts * tb) if pts is not None else float(index / info.fps)
            self.frames_decoded = index + 1
            yield Frame(index=index, image=image, pts=pts, time=time, alpha=alpha)
            index += 1
            frame = next(self._decoder, None)
        self.frames_decoded = index
        self.frames_lost = self._count_lost(index, steps, last_src)
        self._report_loss()

    def _count_lost(self, decoded: int, steps: Counter, last_pts: int | None) -> int:
        """Frames lost to corrupt or missing data: the largest of three lower bounds.

        - packets the decoder refused;
        - the frame count the container declares (MP4, MOV), less the frames decoded;
        - for a stream without a declared count whose frames are evenly spaced (nine in ten
          steps equal, allowing a tick of rounding): the whole frame slots missing between
          decoded frames (a damaged Matroska cluster the demuxer skipped) and after the last
          one up to the stream's own recorded duration. Variable-rate streams are left out: a
          long frame there is not a lost one.
        A stream that broke off with nothing to measure the rest by counts at least one.
        ``self._loss_detail`` says which bound it was, for the message.
        """
        found = [(self._decode_failures, f"{self._decode_failures} could not be decoded")]
        declared = self._stream.frames
        if declared:
            found.append((declared - decoded, f"the container declares {declared}"))
        elif decoded:
            nominal = max(1, round(1 / (self.info.fps * self.info.time_base)))
            mode = steps.most_common(1)[0][0] if steps else nominal
            even = sum(c for d, c in steps.items() if abs(d - mode) <= 1)
            if even >= 0.9 * sum(steps.values()):
                gaps = sum((round(d / mode) - 1) * c for d, c in steps.items() if d > 1.5 * mode)
                tail = 0
                if self._stream_duration and last_pts is not None:
                    # The duration may count from 0 or from the first frame; reading the last
                    # frame's end as absolute time never counts more than is missing.
                    end = last_pts + mode
                    tail = max(0, round((self._stream_duration / self.info.time_base - end) / mode))
                parts = ([f"the timestamps skip {gaps} frame slot(s)"] if gaps else []) + (
                    [f"the stream ends {tail} frame(s) before its recorded duration"] if tail else []
                )
                found.append((gaps + tail, " and ".join(parts)))
        if self._broken_off is not None:
            found.append((1, ""))
        lost, detail = max(found, key=lambda f: f[0])
        self._loss_detail = detail
        return int(max(lost, 0))

    def _report_loss(self) -> None:
        """One line about lost frames: a warning, or with ``strict`` the error."""
        lost, decoded = self.frames_lost, self.frames_decoded
        if not lost:
            return
        if self._broken_off is not None:
            what = (
                f"the video stream breaks off after frame {decoded} ({self._broken_off}); at least {lost} frame(s) lost"
            )
        else:
            what = f"{lost} of {decoded + lost} frames lost to corrupt or missing data ({self._loss_detail})"
        if self.strict:
            raise InputError(f"{self.path}: {what} (strict=True)")
        warnings.warn(
            f"{self.path}: {what}; the output has the {decoded} that decoded (strict=True makes this an error)",
            stacklevel=3,
        )

    # ------------------------------------------------------------------ entering mid-stream
    def start_near(self, index: int) -> int:
        """Let the iteration begin at a keyframe at or before frame ``index`` (for a process that
        computes only a later part of the video) and return the index of its first frame.

        Frame indices stay those of a decode from the start. An image folder starts exactly at
        ``index``. A video is entered at a keyframe only where one demux pass (no decoding) shows
        every frame's place: every packet has a timestamp and none is corrupt or to be discarded,
        the timestamps are distinct and sorted within a short reorder window (not joined
        recordings that jump back), their count equals the count the container declares, and the
        first of them is the first frame's. The keyframe is the last one at or before the target;
        frames the decoder gives before it (an open GOP's leading pictures) are dropped, and if it
        does not give the keyframe itself next, the video is reopened and read from the start
        (returns 0). Every frame after that must be at the index its timestamp gives, and a frame
        that cannot be decoded is an error (in either case, from the start too): processes that
        share a video must agree on every index, which a decoder skipping damaged frames would
        break. Call before iterating.
        """
        if self._iterated:
            raise RuntimeError("start_near() must be called before iterating")
        self._exact = True
        if self.info.kind == "images":
            self.first_index = min(max(0, index), len(self._images))
            return self.first_index
        if index <= 0:
            return 0
        table = self._frame_table()
        if table is None:
            return 0
        order, keys = table
        target = order[min(index, len(order) - 1)]
        before = [k for k in keys if k <= target]
        if not before or before[-1] == order[0]:
            return 0
        where = {pts: i for i, pts in enumerate(order)}
        start = where[before[-1]]
        # Demuxers without an index (MPEG-TS) seek by a search that can land a GOP late: aiming
        # at an earlier keyframe then lands on or before ours (the frames between are dropped).
        for aim in before[::-1][:4]:
            if self._seek_to(aim, start, where):
                self.first_index, self._index_of = start, where
                return start
        self.close()  # no seek landed where the table says: read from the start
        self._decode_base = 0
        self._open_video()
        return 0

    def _seek_to(self, aim: int, start: int, where: dict[int, int]) -> bool:
        """Seek to the keyframe at timestamp ``aim`` and decode up to frame ``start`` (kept as the
        first frame); False when the decoder passes it by."""
        decoder = self._alpha_decoder or self._stream.codec_context
        try:
            self._container.seek(aim, stream=self._stream, backward=True, any_frame=False)
            decoder.flush_buffers()
        except av.FFmpegError:
            return False
        self._decoder = self._decode_frames()
        self._decode_base = where[aim]  # frames are counted from here (error messages)
        for frame in self._decoder:
            at = where.get(frame.pts) if frame.pts is not None else None
            if at is None or at > start:
                return False
            if at == start:
                self._first = frame
                return True
        return False

    def _frame_table(self) -> tuple[list[int], list[int]] | None:
        """Every video packet's timestamp in display order and the keyframes', by demuxing only,
        or None where they cannot say where a frame is (see :meth:`start_near`)."""
        reorder = 64  # packets between decode and display order: B-pyramids stay far below this
        stamps: list[int] = []
        keys: list[int] = []
        try:
            with av.open(str(self.path), metadata_errors="replace") as c:
                stream = c.streams.video[0]  # the stream _open_video reads
                for packet in c.demux(stream):
                    if packet.size == 0:  # the demuxer's end-of-stream marker
                        continue
                    if packet.pts is None or packet.is_corrupt or packet.is_discard:
                        return None
                    stamps.append(packet.pts)
                    if packet.is_keyframe:
                        keys.append(packet.pts)
                declared = stream.frames
        except (av.FFmpegError, OSError, IndexError):
            return None
        order = sorted(stamps)
        if not order or len(set(order)) != len(order) or (declared and declared != len(order)):
            return None
        place = {pts: i for i, pts in enumerate(order)}
        if any(abs(place[pts] - i) > reorder for i, pts in enumerate(stamps)):
            return None
        if order[0] != self._first_pts:
            return None
        return order, keys

    # ------------------------------------------------------------------ protocol
    def __iter__(self) -> Iterator[Frame]:
        if self._iterated:
            raise RuntimeError("a FrameSource can be iterated only once; open the input again")
        self._iterated = True
        if self.info.kind == "images":
            return self._iter_images()
        return self._iter_video()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _vp9_alpha_decoder(stream) -> av.CodecContext | None:
    """libvpx's VP9 decoder for a WebM/Matroska VP9 stream that carries alpha, else None.

    VP9 keeps transparency as a second bitstream in each block's BlockAdditional (the track says
    ``alpha_mode=1``); FFmpeg's own vp9 decoder ignores it and returns opaque yuv420p, libvpx
    decodes both into yuva420p. Without libvpx in this build the colour is still read, as an
    opaque video.
    """
    flagged = any(k.lower() == "alpha_mode" and str(v).strip() == "1" for k, v in stream.metadata.items())
    if stream.codec_context is None or stream.codec_context.name != "vp9" or not flagged:
        return None
    try:
        ctx = av.CodecContext.create("libvpx-vp9", "r")
    except Exception:  # not compiled into this FFmpeg build
        return None
    ctx.thread_type = "AUTO"
    return ctx


def _check_not_truncated(path: Path, container) -> None:
    """Catch a cut-off file whose index (MP4 sample table, ...) points past its end.

    Decoding such a file would just stop early; we prefer a clear error before any work is done.
    """
    try:
        size = path.stat().st_size
        end = 0
        for stream in container.streams:
            if stream.type not in ("video", "audio"):
                continue
            for entry in stream.index_entries:
                if entry.pos >= 0 and entry.size > 0:
                    end = max(end, entry.pos + entry.size)
    except Exception:  # index not available for this container: nothing to check
        return
    if end > size:
        raise InputError(f"{path}: file is truncated (its index needs {end} bytes, the file has {size})")


def _parse_duration_tag(text: str | None) -> float | None:
    """'HH:MM:SS.fraction' -> seconds, None when absent or malformed."""
    if not text:
        return None
    m = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", text.strip())
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def _short(e: BaseException) -> str:
    """First line of an error without the errno/path decoration FFmpeg errors carry."""
    text = getattr(e, "strerror", None) or str(e)
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def open_input(path, *, fps: Fraction | float | None = None, strict: bool = False) -> FrameSource:
    """Open a video file or a folder of images for streaming decode.

    ``fps`` sets the frame rate of an image folder (default 25); it is ignored for videos.
    A partly corrupt video yields the frames that decode and warns, at the end, how many were
    lost (``FrameSource.frames_lost``); ``strict=True`` makes any loss an InputError instead.
    Raises :class:`~freqvsr.errors.InputError` for a missing path, a file that is not a video,
    a truncated/corrupt file, or one without frames.
    """
    return FrameSource(path, fps=fps, strict=strict)


def probe(path, *, fps: Fraction | float | None = None) -> VideoInfo:
    """Describe an input (decodes its first frame to validate it)."""
    with open_input(path, fps=fps) as src:
        return src.info
