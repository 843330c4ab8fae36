"""Encoding: codec settings (defaults by container, validation) and the per-segment video writer.

A job writes its frames into one or more *segments* (video-only files encoded with the final
codec settings) and :func:`freqvsr.io.assemble_video` remuxes them, without re-encoding, into
the output together with the source's audio and subtitles. Segments let ``--resume`` continue
from the last finished one.

Use :data:`SEGMENT_SUFFIX` (MP4) for segments: with the movie timescale set to the stream's,
MP4 stores every pts *and* dts exactly in the source time base. Matroska rounds timestamps to
1 ms and, like NUT, stores no dts (the first B-frame packets come back without one); NUT also
shifts a stream whose first dts is negative unless told not to.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np

from freqvsr.errors import OutputError, UsageError
from freqvsr.io import _colour as C
from freqvsr.io.reader import VideoInfo

SEGMENT_SUFFIX = ".mp4"

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v")

CODECS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "ffv1", "prores_ks")

# Which of our encoders each output container may hold. Stricter than FFmpeg (which, e.g.,
# accepts FFV1 in MP4): we only allow combinations common players read.
_CONTAINER_CODECS = {
    ".mp4": ("libx264", "libx265", "libsvtav1", "libvpx-vp9"),
    ".m4v": ("libx264",),
    ".mov": ("libx264", "libx265", "prores_ks"),
    ".mkv": CODECS,
    ".webm": ("libvpx-vp9", "libsvtav1"),
    ".nut": CODECS,
}
_DEFAULT_CODEC = {".webm": "libvpx-vp9"}  # everything else: libx264

_CRF = {  # codec: (default, min, max)
    "libx264": (18, 0, 51),
    "libx265": (20, 0, 51),
    "libvpx-vp9": (30, 0, 63),
    "libsvtav1": (30, 1, 63),
}
_X26X_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
_VP9_DEADLINES = ("good", "best", "realtime")
# Codecs with a fixed quality (no --crf, no --preset): FFV1 is lossless, ProRes has fixed profiles.
_FIXED_QUALITY = ("ffv1", "prores_ks")
# libx264 veryfast, not medium: on upscaled 1280x720 frames (bikes, CRF 18, 1 thread;
# benchmarks/encoder_presets.py) medium took 37.8 ms CPU per frame, veryfast 15.2 ms, for the same
# file size (0.77 / 0.78 MB per 48 frames) and 52.6 against 53.1 dB PSNR to the frames encoded,
# far above any upscaler's error; with the default model at 160 ms CPU per frame, medium's encode
# was a fifth of the job (docs/performance.md).
_DEFAULT_PRESET = {"libx264": "veryfast", "libx265": "medium", "libvpx-vp9": "good", "libsvtav1": "8"}


@cache
def codec_pix_fmts(codec: str) -> tuple[str, ...]:
    """Pixel formats the installed FFmpeg build's encoder accepts."""
    try:
        return tuple(f.name for f in (av.codec.Codec(codec, "w").video_formats or ()))
    except Exception:  # unknown / not compiled in
        return ()


@dataclass(frozen=True)
class EncodeSettings:
    """Video encoder choice. ``None`` fields are filled by :meth:`resolve`."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    lossless: bool = False

    def resolve(self, output: Path, source: VideoInfo | None) -> EncodeSettings:
        """Fill defaults for ``output``'s container and validate; raises UsageError (one line).

        Defaults: libx264 CRF 18 preset veryfast (libvpx-vp9 CRF 30 for .webm); lossless ->
        QP 0 / the codec's lossless flag in yuv444p; sources deeper than 8 bits -> the 10-bit
        variant (yuv420p10le / yuv444p10le) when this FFmpeg build's encoder has it.
        """
        ext = Path(output).suffix.lower()
        if ext == ".avi":
            # AVI has one fixed frame duration and no B-frame timestamps: it cannot keep the
            # source's timing, which this tool promises. Refuse clearly instead of writing junk.
            raise UsageError(f"{output}: AVI output is not supported (it cannot keep timestamps); use .mkv or .mp4")
        if ext not in _CONTAINER_CODECS:
            raise UsageError(f"{output}: unknown video container '{ext}' (use one of {', '.join(VIDEO_EXTENSIONS)})")
        codec = self.codec or _DEFAULT_CODEC.get(ext, "libx264")
        if codec not in CODECS:
            raise UsageError(f"unknown codec '{codec}' (choose from {', '.join(CODECS)})")
        if not codec_pix_fmts(codec):
            raise UsageError(f"codec '{codec}' is not available in this FFmpeg build")
        if codec not in _CONTAINER_CODECS[ext]:
            hint = " (use .mkv)" if codec == "ffv1" else ""
            raise UsageError(f"{output}: codec {codec} cannot be written to a {ext} file{hint}")

        lossless = self.lossless or codec == "ffv1"
        crf = self.crf
        if codec == "ffv1":
            if crf is not None:
                raise UsageError("ffv1 is always lossless; crf= does not apply")
        elif codec == "prores_ks":
            if crf is not None or self.lossless:
                raise UsageError("prores_ks has fixed-quality profiles (HQ, 4444); crf= and lossless=True do not apply")
        elif self.lossless:
            if codec == "libsvtav1":
                raise UsageError("libsvtav1 has no lossless mode; use libx264, libx265 or ffv1")
            if crf is not None:
                raise UsageError("lossless=True and crf= cannot be combined")
        else:
            default, lo, hi = _CRF[codec]
            if crf is None:
                crf = default
            elif not (lo <= int(crf) <= hi):
                raise UsageError(f"crf={crf} is out of range for {codec} ({lo}..{hi})")
            crf = int(crf)

        preset = self.preset
        if codec in _FIXED_QUALITY:
            if preset is not None:
                raise UsageError(f"{codec} has no presets; preset= does not apply")
        elif preset is None:
            preset = _DEFAULT_PRESET[codec]
        elif codec in ("libx264", "libx265") and preset not in _X26X_PRESETS:
            raise UsageError(f"unknown preset '{preset}' for {codec} ({', '.join(_X26X_PRESETS)})")
        elif codec == "libvpx-vp9" and preset not in _VP9_DEADLINES:
            raise UsageError(f"unknown preset '{preset}' for libvpx-vp9 ({', '.join(_VP9_DEADLINES)})")
        elif codec == "libsvtav1" and not (str(preset).isdigit() and 0 <= int(preset) <= 13):
            raise UsageError(f"unknown preset '{preset}' for libsvtav1 (0..13)")

        allowed = codec_pix_fmts(codec)
        pix_fmt = self.pix_fmt
        if pix_fmt is not None:
            if pix_fmt not in allowed:
                raise UsageError(
                    f"pixel format '{pix_fmt}' is not supported by {codec} "
                    f"({', '.join(f for f in allowed if f.startswith('yuv'))})"
                )
        elif codec == "prores_ks":
            # ProRes is 10-bit 4:2:2 (HQ) or 4:4:4 (4444, the profile with alpha), nothing else.
            if source is not None and source.alpha:
                pix_fmt = "yuva444p10le"
            else:
                pix_fmt = "yuv444p10le" if _source_chroma(source) == "yuv444p" else "yuv422p10le"
        else:
            deep = source is not None and source.bit_depth > 8
            # Keep the source's chroma resolution: 4:4:4 (and RGB video) and 4:2:2 are not halved
            # to 4:2:0 behind the user's back. Image folders keep the widely playable 4:2:0.
            wanted = "yuv444p" if lossless else _source_chroma(source)
            base = wanted
            if base not in allowed:  # e.g. libsvtav1 has only 4:2:0
                base = "yuv420p"
            pix_fmt = base
            if deep:
                if base + "10le" in allowed:
                    pix_fmt = base + "10le"
                elif "yuv420p10le" in allowed and wanted != "yuv420p":
                    base = pix_fmt = "yuv420p10le"  # keep the depth, lose chroma (said below)
                else:
                    warnings.warn(
                        f"{codec} in this FFmpeg build has no 10-bit {base}; "
                        f"writing 8-bit {base} from a {source.bit_depth}-bit source",
                        stacklevel=2,
                    )
            if not base.startswith(wanted):
                warnings.warn(
                    f"{output}: {codec} cannot store {_CHROMA_NAMES[wanted]} chroma; writing 4:2:0 "
                    "(half the colour resolution; use codec=ffv1 in .mkv, or libx264, to keep it)",
                    stacklevel=2,
                )
            if source is not None and source.alpha and ext in _ALPHA_CONTAINERS:
                pix_fmt = _with_alpha(pix_fmt, allowed, codec, source, output)
        return EncodeSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt, lossless=lossless)

    def encoder_options(self, frame_pixels: int = 0) -> dict[str, str]:
        """AVOptions for the encoder of a resolved setting (``frame_pixels``: width x height of
        the encoded frames; frames above :data:`LARGE_FRAME_PIXELS` get a leaner libx264)."""
        c = self.codec
        if c == "libx264":
            opts = {"preset": self.preset}
            opts.update({"qp": "0"} if self.lossless else {"crf": str(self.crf)})
            # The libx264 in PyAV's wheels reads uninitialised memory in macroblock-tree rate
            # control: the same frames give different bitstreams from run to run (measured, see
            # freqvsr.degrade.codec). Without mbtree the encode is reproducible, so a resumed job
            # writes exactly the segments an uninterrupted one would.
            params = "mbtree=0"
            if frame_pixels > LARGE_FRAME_PIXELS:
                params += ":" + _LEAN_X264
            opts["x264-params"] = params
            return opts
        if c == "libx265":
            params = "log-level=error" + (":lossless=1" if self.lossless else "")
            opts = {"preset": self.preset, "x265-params": params}
            if not self.lossless:
                opts["crf"] = str(self.crf)
            return opts
        if c == "libvpx-vp9":
            opts = {"deadline": self.preset, "row-mt": "1", "b": "0"}
            opts.update({"lossless": "1"} if self.lossless else {"crf": str(self.crf)})
            return opts
        if c == "libsvtav1":
            return {"preset": str(self.preset), "crf": str(self.crf)}
        if c == "ffv1":
            return {"level": "3", "slicecrc": "1"}
        if c == "prores_ks":
            # 4444 for 4:4:4 and alpha (the only ProRes profile with alpha), else 422 HQ; the Apple
            # vendor tag makes QuickTime/Final Cut accept the file.
            return {"profile": "4444" if "444" in str(self.pix_fmt) else "hq", "vendor": "apl0"}
        raise ValueError(f"unresolved EncodeSettings: {self}")


_CHROMA_NAMES = {"yuv444p": "4:4:4", "yuv422p": "4:2:2", "yuv420p": "4:2:0"}

# Containers whose muxers keep a codec's alpha: VP9 stores it beside the picture (Matroska
# BlockAdditional), which MP4 drops; FFV1 and ProRes carry it inside the picture.
_ALPHA_CONTAINERS = (".mkv", ".webm", ".mov", ".nut")


def has_alpha_plane(pix_fmt: str | None) -> bool:
    """True when frames encoded in ``pix_fmt`` keep a transparency plane."""
    if not pix_fmt:
        return False
    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)
    except Exception:  # an unknown format name
        return False


# Alpha formats that really work, where the encoder lists more: libvpx encodes VP9 alpha only as
# 4:2:0 (yuva444p fails to open, measured); x265's yuva420p is a second layer that FFmpeg's HEVC
# decoder does not read back.
_ALPHA_FORMATS = {"libvpx-vp9": ("yuva420p",), "libx265": ()}


def _with_alpha(pix_fmt: str, allowed: tuple[str, ...], codec: str, source: VideoInfo, output) -> str:
    """The variant of ``pix_fmt`` with an alpha plane (yuv420p -> yuva420p), when ``codec`` has it.

    When the codec has alpha only in a lesser format (VP9: 8-bit 4:2:0), transparency is kept
    and the depth or chroma is not, with a warning: a lost alpha plane shows (a black or opaque
    background), two bits of depth or half the chroma resolution rarely do. A codec without
    alpha gets ``pix_fmt`` back unchanged (the job warns that the alpha is dropped).
    """
    variant = pix_fmt.replace("yuv", "yuva", 1) if pix_fmt.startswith("yuv") else pix_fmt
    usable = _ALPHA_FORMATS.get(codec)
    if usable is None:
        usable = tuple(f for f in allowed if f.startswith("yuva"))
    if variant in usable:
        return variant
    if not usable:
        return pix_fmt
    choice = next((f for f in usable if variant.startswith(f)), "yuva420p" if "yuva420p" in usable else usable[0])
    warnings.warn(
        f"{output}: {codec} stores alpha only as {choice}; writing {choice} instead of {pix_fmt} "
        f"to keep the transparency",
        stacklevel=3,
    )
    return choice


def segment_suffix(settings: EncodeSettings) -> str:
    """Container of a job's segments for resolved ``settings``: MP4 (see the module docstring)
    unless it cannot hold them. ProRes goes in MOV (the same muxer family, exact timestamps);
    VP9 with alpha in Matroska, the only container that keeps VP9's alpha (MP4 drops it)."""
    if settings.codec == "prores_ks":
        return ".mov"
    if settings.codec == "libvpx-vp9" and has_alpha_plane(settings.pix_fmt):
        return ".mkv"
    return SEGMENT_SUFFIX


def _source_chroma(source: VideoInfo | None) -> str:
    """The 8-bit YUV layout that keeps a video source's chroma resolution (4:2:0 for anything else)."""
    if source is None or source.kind != "video" or source.grayscale:
        return "yuv420p"
    try:
        fmt = av.VideoFormat(source.pix_fmt)
    except Exception:  # an unknown format name
        return "yuv420p"
    if C.is_rgb_format(source.pix_fmt) or (fmt.chroma_width(2) == 2 and fmt.chroma_height(2) == 2):
        return "yuv444p"
    if fmt.chroma_width(2) == 1 and fmt.chroma_height(2) == 2:
        return "yuv422p"
    return "yuv420p"


# Frames larger than 4K UHD (the x4 output of inputs above 960x540): libx264's presets keep
# about 37 frame-sized pictures in flight (B-frames, references, look-ahead, frame threads: 37.6
# with medium, 36.8 with veryfast; see ENCODER_PICTURES), 7.4 GB for the 15360x8640 output of a
# 4K input. With one reference, no B-frames and no look-ahead it keeps about 19, and encodes
# faster; files come out a little larger at the same CRF. Applied by frame size only, so every
# segment of a job (and a resumed job) is encoded the same way.
LARGE_FRAME_PIXELS = 3840 * 2160
_LEAN_X264 = "bframes=0:ref=1:rc-lookahead=0:sync-lookahead=0"

# Frame-sized pictures an encoder holds while encoding, counted in frames of the output's pixel
# format, RGB->YUV conversion of the frame being written included. Measured at 3840x2160 with 2
# frame threads by ``python benchmarks/encoder_memory.py`` (peak RSS growth / picture size); the
# x264/x265 counts grow by about 0.75 picture per extra frame thread (FFmpeg starts 1.5 per core).
ENCODER_PICTURES = {
    "libx264": 38.0,
    "libx264-lean": 19.0,
    "libx265": 88.0,
    "libvpx-vp9": 82.0,
    "libsvtav1": 96.0,
    "ffv1": 52.0,
    "prores_ks": 6.0,
}
_ENCODER_PICTURES_THREADS = 3  # frame threads of the measurement (2 cores x 1.5)


def picture_bytes(pix_fmt: str, width: int, height: int) -> int:
    """Bytes of one ``width`` x ``height`` picture in ``pix_fmt`` (all planes, no padding)."""
    fmt = av.VideoFormat(pix_fmt)
    total = 0.0
    for comp in fmt.components:
        # a component's bytes: its (subsampled) plane size x the bytes its bits take
        cw = fmt.chroma_width(width) if comp.is_chroma else width
        ch = fmt.chroma_height(height) if comp.is_chroma else height
        total += cw * ch * (2 if comp.bits > 8 else 1)
    return int(total)


def encoder_memory(settings: EncodeSettings | None, width: int, height: int, bit_depth: int = 8) -> int:
    """Bytes a resolved encoder holds while writing ``width`` x ``height`` frames (see
    :data:`ENCODER_PICTURES`). ``settings=None``: PNG frames, whose writer holds the RGB(A) image
    handed to it and its compressed copy (8 or 16 bits per sample by ``bit_depth``)."""
    if settings is None or settings.codec is None or settings.pix_fmt is None:
        return int(2 * 4 * width * height * (2 if bit_depth > 8 else 1))
    key = settings.codec
    if key == "libx264" and width * height > LARGE_FRAME_PIXELS:
        key = "libx264-lean"
    pictures = ENCODER_PICTURES.get(key, max(ENCODER_PICTURES.values()))
    if settings.codec in ("libx264", "libx265"):
        threads = int(1.5 * (os.cpu_count() or 2))
        pictures += 0.75 * max(0, threads - _ENCODER_PICTURES_THREADS)
    return int(pictures * picture_bytes(settings.pix_fmt, width, height))


# Largest frames the encoders accept (measured with this FFmpeg build; used to word the error).
_MAX_SIZE = {"libx264": 16384, "libsvtav1": 16384}


def check_encoder(settings: EncodeSettings, width: int, height: int, output, source: VideoInfo | None = None) -> None:
    """Open (and close) the encoder for ``width`` x ``height`` frames with ``settings``: a size the
    encoder refuses (too large for H.264, too small for x265) fails here, in one line, before any
    frame is computed. ``settings`` must be resolved."""
    even_w, even_h = C.needs_even(settings.pix_fmt)
    w = width + (width % 2 if even_w else 0)
    h = height + (height % 2 if even_h else 0)
    quiet_encoder_logs(settings.codec)
    try:
        ctx = av.CodecContext.create(settings.codec, "w")
        ctx.width, ctx.height, ctx.pix_fmt = w, h, settings.pix_fmt
        tb = Fraction(source.time_base) if source is not None else Fraction(1, 25)
        ctx.time_base = tb
        ctx.framerate = Fraction(source.fps) if source is not None else Fraction(25)
        ctx.options = settings.encoder_options(w * h)
        ctx.open()
        ctx.close() if hasattr(ctx, "close") else None
    except (av.FFmpegError, ValueError, OverflowError) as e:
        limit = _MAX_SIZE.get(settings.codec)
        what = f"{width}x{height}"
        if source is not None:
            what += f" (the upscaled size of {source.path.name}'s {source.width}x{source.height})"
        hint = f"; it takes at most {limit}x{limit}" if limit and max(w, h) > limit else ""
        raise OutputError(
            f"{output}: {settings.codec} cannot encode frames of {what}{hint} "
            f"({_short(e)}); write a .mkv with codec=ffv1, or a folder of PNG frames"
        ) from None


def output_colour(source: VideoInfo | None, height: int) -> tuple[int, int, int, int]:
    """(colorspace, range, primaries, trc) to convert with and to tag on an output of ``height``.

    The source's own matrix/range when it is a tagged YUV video; otherwise BT.709 (height >= 720)
    or BT.601 (SMPTE 170M), limited range. Primaries and transfer are copied as they were.
    """
    spc = rng = None
    pri, trc = C.PRI_UNSPECIFIED, C.TRC_UNSPECIFIED
    if source is not None and source.kind == "video":
        if source.colorspace is not None and source.colorspace in C._SPC_TO_SWS:
            spc = source.colorspace
        if source.color_range in (C.RANGE_LIMITED, C.RANGE_FULL):
            rng = source.color_range
        elif source.pix_fmt.startswith("yuvj"):
            rng = C.RANGE_FULL
        if source.color_primaries is not None:
            pri = source.color_primaries
        if source.color_trc is not None:
            trc = source.color_trc
    if spc is None:
        spc = C.guess_matrix(height)
    if rng is None:
        rng = C.RANGE_LIMITED
    return spc, rng, pri, trc


def container_options(path: Path, time_base: Fraction | None) -> dict[str, str]:
    """Muxer options that keep timestamps exact.

    MP4/MOV write the start offset of a stream (first pts > 0, or B-frame delay) into an edit
    list counted in the *movie* timescale, 1/1000 by default, which moves the first frame by up
    to 0.5 ms; using the stream's own timescale keeps every pts exact.
    """
    if Path(path).suffix.lower() in (".mp4", ".mov", ".m4v") and time_base is not None:
        den = Fraction(time_base).denominator
        if Fraction(time_base).numerator == 1 and 1000 <= den < 2**31:
            return {"movie_timescale": str(den)}
    return {}


def quiet_encoder_logs(codec: str) -> None:
    """Keep an encoder's own console output to errors where it prints outside FFmpeg's log.

    SVT-AV1 prints a banner and config table to stderr for every encoder it opens (one per
    segment, one per degraded clip); it reads ``SVT_LOG`` at that moment, 1 = errors only. A
    user's own setting wins. (x265's banner is silenced by ``log-level=error`` in its params.)
    """
    if codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")


def add_video_stream(
    container,
    codec: str,
    *,
    rate: Fraction,
    width: int,
    height: int,
    pix_fmt: str,
    options: dict[str, str] | None,
    thread_count: int,
    colour: tuple[int, int, int, int] | None,
    time_base: Fraction | None = None,
    bit_rate: int | None = None,
):
    """Add an encoder stream to an open output ``container``: the one place freqvsr sets up a
    PyAV video encoder (upscaled segments here, degradation codecs in :mod:`freqvsr.degrade`).

    ``colour``: (colorspace, range, primaries, transfer) tags, the raw FFmpeg enums the frames
    were converted with (see :func:`rgb_to_yuv_frame`), or None for RGB codecs that take none.
    ``time_base``: the stream's and the encoder's (PyAV otherwise uses 1/fps and rounds every
    variable-frame-rate timestamp onto that grid). Raises PyAV's error when the encoder is
    missing: callers word it for their user.
    """
    quiet_encoder_logs(codec)
    stream = container.add_stream(codec, rate=rate, options=options)
    stream.width, stream.height = width, height
    stream.pix_fmt = pix_fmt
    cc = stream.codec_context
    if time_base is not None:
        stream.time_base = time_base
        cc.time_base = time_base
    if colour is not None:
        cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc = colour
    cc.thread_count = thread_count
    if bit_rate is not None:
        stream.bit_rate = bit_rate
    return stream


def rgb_to_yuv_frame(frame: av.VideoFrame, pix_fmt: str, colorspace: int, color_range: int) -> av.VideoFrame:
    """An RGB(A) frame converted to ``pix_fmt`` with the matrix of ``colorspace`` (AVColorSpace)
    into ``color_range``, and tagged with both; the conversion every encoder of freqvsr is fed."""
    sws = C.sws_matrix(colorspace)
    out = frame.reformat(
        format=pix_fmt,
        src_colorspace=sws,
        dst_colorspace=sws,
        src_color_range=C.RANGE_FULL,
        dst_color_range=color_range,
        interpolation=C.INTERPOLATION,
    )
    out.colorspace, out.color_range = colorspace, color_range
    return out


class SegmentWriter:
    """Encode RGB frames into a video-only file with resolved :class:`EncodeSettings`.

    Time base and frame rate come from ``source``; pts passed to :meth:`write` are in the
    source time base (``None`` -> constant frame rate from the frame index, counted from
    ``first_index`` so later segments continue the numbering). RGB is converted
    with the source's matrix and range and the output is tagged with them (see
    :func:`output_colour`). Frames whose width/height are odd while the pixel format subsamples
    chroma are padded by replicating the last column/row; :attr:`width`/:attr:`height` give the
    encoded (padded) size. On an exception inside ``with`` the partial file is removed.
    """

    def __init__(
        self,
        path,
        settings: EncodeSettings,
        width: int,
        height: int,
        source: VideoInfo | None,
        *,
        first_index: int = 0,
    ):
        if settings.codec is None or settings.pix_fmt is None:
            settings = settings.resolve(Path(path), source)
        self.path = Path(path)
        self.settings = settings
        self.source_width, self.source_height = int(width), int(height)
        even_w, even_h = C.needs_even(settings.pix_fmt)
        self.width = width + (width % 2 if even_w else 0)
        self.height = height + (height % 2 if even_h else 0)
        self.time_base = Fraction(source.time_base) if source is not None else Fraction(1, 25)
        self.fps = Fraction(source.fps) if source is not None else Fraction(25)
        self.frames_written = 0
        self.first_index = int(first_index)
        self._last_pts: int | None = None
        self._warned_pts = False
        spc, rng, pri, trc = output_colour(source, self.height)
        self.colorspace, self.color_range, self.color_primaries, self.color_trc = spc, rng, pri, trc
        # (plane, bits) of a planar alpha the frames are written into exactly, see _put_alpha
        self._alpha_plane = _alpha_plane(settings.pix_fmt)
        self._container = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(
                str(self.path), "w", container_options=container_options(self.path, self.time_base)
            )
            self._stream = add_video_stream(
                self._container,
                settings.codec,
                rate=self.fps,
                width=self.width,
                height=self.height,
                pix_fmt=settings.pix_fmt,
                options=settings.encoder_options(self.width * self.height),
                thread_count=0,
                colour=(spc, rng, pri, trc),
                time_base=self.time_base,
            )
        except (av.FFmpegError, ValueError) as e:
            self._abort()
            raise OutputError(f"{self.path}: cannot create video file ({_short(e)})") from None
        except OSError as e:
            self._abort()
            raise OutputError(f"{self.path}: cannot create video file ({e.strerror or e})") from None

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one (H, W, 3) RGB or (H, W, 4) RGBA frame (uint8, or uint16 over 0..65535).

        The alpha of an RGBA frame is kept when the pixel format has an alpha plane, else dropped
        (the caller says so); an RGB frame written to a format with alpha is fully opaque."""
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ValueError(f"expected an (H, W, 3) RGB or (H, W, 4) RGBA array, got shape {image.shape}")
        h, w = image.shape[:2]
        if (w, h) != (self.source_width, self.source_height):
            raise ValueError(f"frame is {w}x{h}, writer expects {self.source_width}x{self.source_height}")
        if (w, h) != (self.width, self.height):
            image = np.pad(image, ((0, self.height - h), (0, self.width - w), (0, 0)), mode="edge")
        rgba = image.shape[2] == 4
        if image.dtype == np.uint8:
            fmt = "rgba" if rgba else "rgb24"
        elif image.dtype == np.uint16:
            fmt = "rgba64le" if rgba else "rgb48le"
            image = image.astype("<u2", copy=False)
        else:
            raise ValueError(f"expected uint8 or uint16 image, got {image.dtype}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
        out = rgb_to_yuv_frame(frame, self.settings.pix_fmt, self.colorspace, self.color_range)
        if rgba and self._alpha_plane is not None:
            _put_alpha(out, image[..., 3], *self._alpha_plane)
        # Tag the frame exactly like the stream (reformat writes SMPTE170M for every 601 variant).
        out.color_primaries, out.color_trc = self.color_primaries, self.color_trc
        if pts is None:
            pts = round((self.first_index + self.frames_written) / self.fps / self.time_base)
        pts = int(pts)
        if self._last_pts is not None and pts <= self._last_pts:
            # Broken sources repeat timestamps; encoders refuse them. Nudge by one tick (not
            # visible) rather than failing a long job, and say so once.
            if not self._warned_pts:
                warnings.warn(
                    f"{self.path}: frame {self.frames_written} has pts {pts} <= previous {self._last_pts}; "
                    "shifted by one tick to keep timestamps increasing",
                    stacklevel=2,
                )
                self._warned_pts = True
            pts = self._last_pts + 1
        self._last_pts = pts
        out.pts = pts
        out.time_base = self.time_base
        self._mux(self._stream.encode(out))
        self.frames_written += 1

    def _mux(self, packets) -> None:
        try:
            self._container.mux(packets)
        except (av.FFmpegError, OSError) as e:
            raise OutputError(f"{self.path}: writing failed ({_short(e)})") from None

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self._container is None:
            return
        try:
            self._mux(self._stream.encode(None))
            self._container.close()
        except (av.FFmpegError, OSError) as e:
            self._abort()
            raise OutputError(f"{self.path}: finishing the video failed ({_short(e)})") from None
        self._container = None

    def _abort(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
            self._container = None
        try:
            os.remove(self.path)
        except OSError:  # never created (or its folder is unusable)
            pass

    def abort(self) -> None:
        """Stop without finishing and delete the partial file."""
        self._abort()

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort()
        else:
            self.close()


def _alpha_plane(pix_fmt: str | None) -> tuple[int, int] | None:
    """(plane index, bits) of the alpha of a planar YUVA format, else None."""
    if not pix_fmt or not pix_fmt.startswith("yuva"):
        return None
    comp = next(c for c in av.VideoFormat(pix_fmt).components if c.is_alpha)
    return comp.plane, comp.bits


def _put_alpha(frame: av.VideoFrame, alpha: np.ndarray, plane_index: int, bits: int) -> None:
    """Write ``alpha`` (uint8, or uint16 over 0..65535) into ``frame``'s alpha plane, rescaled to
    its depth. swscale's RGBA -> YUVA conversion moves alpha values by one step (measured), so
    even FFV1, a lossless codec, would not give the transparency back as it was written."""
    plane = frame.planes[plane_index]
    peak = 255 if alpha.dtype == np.uint8 else 65535
    top = (1 << bits) - 1
    values = alpha if top == peak else np.rint(alpha.astype(np.float32) * (top / peak))
    dtype = np.uint8 if bits <= 8 else np.dtype("<u2")
    view = np.frombuffer(memoryview(plane), dtype=dtype).reshape(plane.height, -1)[:, : plane.width]
    view[...] = values


def _short(e: BaseException) -> str:
    """First line of an error without the errno/path decoration FFmpeg errors carry."""
    text = getattr(e, "strerror", None) or str(e)
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(e).__name__
