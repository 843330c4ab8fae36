"""Real codec round trips through PyAV (FFmpeg's libx264, libx265, libvpx-vp9, SVT-AV1).

``codec_roundtrip(frames, CodecParams(...))`` encodes a clip into an in-memory container
(``io.BytesIO``, no temporary files) and decodes it back: same number of frames, same size, with
exactly the artefacts a viewer of that stream would see. Frames are quantised to uint8 and converted
RGB -> YUV 4:2:0 (BT.601, limited range, tagged as such) before encoding, as real pipelines do; so
even a lossless setting loses chroma resolution.

Reproducibility: encoders run with ``threads=1`` by default. x264/x265 output depends on the number
of threads, so "auto" would make a degradation depend on the machine's core count; one thread is
also what a data-loader worker wants (the workers already use every core).

Rate-control modes (exactly one of ``crf``, ``qp``, ``bitrate``):

* libx264 ``crf`` (FTVSR/COMISR protocol), ``qp`` (constant QP, FTVSR Table 4), ``bitrate``:
  constant bitrate as FTVSR describes it, ``-b:v R -minrate R -maxrate R -bufsize R``.
* libx265 ``qp``/``crf``/``bitrate``, by default in a **low-delay** configuration standing in for the
  HM reference encoder's Low-Delay-B (LDB) setting that FCVSR used (see ``_x265_params``).
* libvpx-vp9 and libsvtav1 ``crf`` (0-63) or target ``bitrate``.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from freqvsr.errors import MissingDependencyError, OutputError, UsageError

__all__ = [
    "CODECS",
    "CodecParams",
    "add_encoder_stream",
    "canonical_codec",
    "codec_roundtrip",
    "decode_bytes",
    "encode_frame",
    "encode_to_bytes",
    "flush_encoder",
    "padded_size",
    "parse_bitrate",
    "rgb_to_video_frame",
    "video_frame_to_rgb",
]

#: Encoders supported, with the aliases users may type.
CODECS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1")
_ALIASES = {
    "h264": "libx264",
    "x264": "libx264",
    "avc": "libx264",
    "h265": "libx265",
    "x265": "libx265",
    "hevc": "libx265",
    "vp9": "libvpx-vp9",
    "libvpx": "libvpx-vp9",
    "av1": "libsvtav1",
    "svtav1": "libsvtav1",
    "svt-av1": "libsvtav1",
}
_CRF_RANGE = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libsvtav1": (0, 63)}
# yuv420p needs even sizes for every codec. libx265 (4.x, as bundled with PyAV) is additionally not
# reproducible when the picture is a single 64-pixel CTU wide or high: it reads uninitialised memory
# (output changes with glibc's MALLOC_PERTURB_) for e.g. 64x64, 96x64, 128x64 and 32x48 frames,
# never in our tests for frames with both sides >= 66 px (66..320, low-delay and default GOPs). Such
# frames are therefore padded (edge replication, cropped again after decoding) to 72 px, two CTUs.
_MIN_SIZE = {"libx265": 72}


def _av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - PyAV is a declared dependency
        raise MissingDependencyError("codec degradations need PyAV: pip install av") from e
    return av


def canonical_codec(name: str) -> str:
    """``h264`` -> ``libx264`` etc.; UsageError for an unknown codec."""
    codec = _ALIASES.get(name.lower(), name.lower())
    if codec not in CODECS:
        raise UsageError(f"unknown codec {name!r}; valid: {', '.join(CODECS)} (or h264, hevc, vp9, av1)")
    return codec


def padded_size(codec: str, width: int, height: int) -> tuple[int, int]:
    """Size a frame is padded to before encoding with ``codec`` (even; x265: see ``_MIN_SIZE``)."""
    m = _MIN_SIZE.get(codec, 2)
    return max(width + width % 2, m), max(height + height % 2, m)


@dataclass(frozen=True)
class CodecParams:
    """One encoder configuration, fully explicit so that a degradation can be replayed.

    Attributes:
        codec: ``libx264`` | ``libx265`` | ``libvpx-vp9`` | ``libsvtav1`` (aliases h264, hevc, vp9,
            av1 accepted and normalised).
        crf / qp / bitrate: exactly one; ``bitrate`` in bits per second.
        preset: the encoder's speed preset (x264/x265 name such as ``medium``, SVT-AV1 number,
            libvpx ``cpu-used``); ``None`` = the encoder's own default.
        low_delay: no frame reordering (no B-frame look-ahead), one intra frame, 4 past references;
            ``None`` = on for libx265 (the FCVSR HEVC Low-Delay stand-in), off otherwise.
        mbtree: x264's macroblock-tree rate control (on in x264/FFmpeg defaults). Off by default
            here: with mbtree and B-frames, the libx264 bundled with PyAV reads uninitialised
            memory, so the same clip and settings give different bitstreams from run to run
            (shown by varying glibc's ``MALLOC_PERTURB_``: every size we tried from 32 px up, and
            1 in ~10 runs of our preset tests). With ``mbtree=False`` output is reproducible;
            ``True`` gives FFmpeg's default encode, not bit-reproducible. (CQP never uses mbtree.)
        fps: the frame rate rate control assumes (matters for ``bitrate``: bits per frame).
        pix_fmt: encoded pixel format; ``yuv420p`` as the papers use.
        threads: encoder threads (see module docstring for why 1).
    """

    codec: str = "libx264"
    crf: float | None = None
    qp: int | None = None
    bitrate: int | None = None
    preset: str | None = None
    low_delay: bool | None = None
    mbtree: bool = False
    fps: float = 25.0
    pix_fmt: str = "yuv420p"
    threads: int = 1

    def __post_init__(self) -> None:
        codec = canonical_codec(self.codec)
        object.__setattr__(self, "codec", codec)
        modes = [m for m in ("crf", "qp", "bitrate") if getattr(self, m) is not None]
        if len(modes) != 1:
            raise UsageError(f"codec {codec}: give exactly one of crf, qp, bitrate (got {modes or 'none'})")
        lo, hi = _CRF_RANGE[codec]
        if self.crf is not None and not lo <= self.crf <= hi:
            raise UsageError(f"codec {codec}: crf must be in [{lo}, {hi}], got {self.crf}")
        if self.qp is not None:
            if codec not in ("libx264", "libx265"):
                raise UsageError(f"codec {codec}: constant QP is supported for libx264/libx265 only; use crf")
            if not 0 <= self.qp <= 51:
                raise UsageError(f"codec {codec}: qp must be in [0, 51], got {self.qp}")
            object.__setattr__(self, "qp", int(self.qp))
        if self.bitrate is not None:
            if self.bitrate <= 0:
                raise UsageError(f"bitrate must be > 0 bit/s, got {self.bitrate}")
            object.__setattr__(self, "bitrate", int(self.bitrate))
        if self.low_delay is None:
            object.__setattr__(self, "low_delay", codec == "libx265")
        if self.fps <= 0:
            raise UsageError(f"fps must be > 0, got {self.fps}")
        if self.threads < 0:
            raise UsageError(f"threads must be >= 0 (0 = auto), got {self.threads}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CodecParams:
        return cls(**d)


def parse_bitrate(rate: str | float) -> int:
    """``1500k`` / ``1.5M`` / ``1500000`` -> bits per second."""
    if isinstance(rate, (int, float)):
        return int(rate)
    s = rate.strip().lower()
    mult = 1
    if s.endswith("k"):
        mult, s = 1000, s[:-1]
    elif s.endswith("m"):
        mult, s = 1_000_000, s[:-1]
    try:
        return round(float(s) * mult)
    except ValueError:
        raise UsageError(f"cannot parse bitrate {rate!r}; use e.g. 1500k, 2M or 1500000") from None


# ---------------------------------------------------------------------------------------------------
# Encoder configuration
# ---------------------------------------------------------------------------------------------------


def _x265_params(p: CodecParams) -> str:
    """x265-params for ``p``.

    Low delay (FCVSR used HM's Low-Delay-B: only the first frame intra, every later frame predicted
    from *past* frames only, decode order = display order, 4 reference frames). x265 cannot emit
    HM's "generalised P/B" (B slices whose both lists point backwards): any x265 B-frame is a
    reordered frame. The closest x265 structure keeping the defining property (no reordering, no
    look-ahead delay) is therefore: ``bframes=0`` (P frames from past references), ``keyint=-1``
    (a single I frame, HM's ``IntraPeriod=-1``), ``scenecut=0`` (HM inserts no extra I frames),
    ``ref=4`` (as LDB), ``rc-lookahead=0``/``b-adapt=0``/``cutree=0`` (no look-ahead analysis or
    QP modulation across future frames). With ``qp``, x265 assigns that QP to P slices (the I frame
    gets x265's ipratio offset), unlike HM's per-layer QP offsets: results are a stand-in and should
    say "libx265 low-delay P, QP n".
    """
    parts = ["log-level=error"]  # x265 prints its banner to stderr directly, not via av_log
    if p.threads == 1:
        # No worker pool, no frame parallelism: deterministic and core-count independent.
        parts += ["pools=none", "frame-threads=1"]
    elif p.threads > 1:
        parts.append(f"pools={p.threads}")
    if p.low_delay:
        parts += ["bframes=0", "b-adapt=0", "keyint=-1", "scenecut=0", "ref=4", "rc-lookahead=0", "cutree=0"]
    if p.qp is not None:
        parts.append(f"qp={p.qp}")
    return ":".join(parts)


def _encoder_options(p: CodecParams) -> tuple[dict[str, str], int | None]:
    """(codec private/generic AVOptions, stream bit_rate) for ``p``."""
    opts: dict[str, str] = {}
    bit_rate = None
    if p.codec == "libx264":
        opts["preset"] = p.preset or "medium"
        if p.crf is not None:
            opts["crf"] = f"{p.crf:g}"
        elif p.qp is not None:
            opts["qp"] = str(p.qp)
        x264 = [] if p.mbtree else ["mbtree=0"]  # see CodecParams.mbtree
        if p.low_delay:
            # No B-frames, no look-ahead reordering, one intra frame (as for x265 below).
            x264 += ["bframes=0", "rc-lookahead=0", "sync-lookahead=0", "keyint=infinite", "scenecut=0", "ref=4"]
        if x264:
            opts["x264-params"] = ":".join(x264)
    elif p.codec == "libx265":
        opts["preset"] = p.preset or "medium"
        if p.crf is not None:
            opts["crf"] = f"{p.crf:g}"
        opts["x265-params"] = _x265_params(p)
    elif p.codec == "libvpx-vp9":
        if p.crf is not None:
            opts["crf"] = f"{p.crf:g}"
            opts["b"] = "0"  # libvpx: crf with target bitrate 0 = constant quality mode
        if p.preset is not None:
            opts["cpu-used"] = str(p.preset)
        if p.low_delay:
            opts["lag-in-frames"] = "0"
            opts["auto-alt-ref"] = "0"
    elif p.codec == "libsvtav1":
        if p.crf is not None:
            opts["crf"] = f"{p.crf:g}"
        if p.preset is not None:
            opts["preset"] = str(p.preset)
        svt = []
        if p.threads >= 1:
            svt.append(f"lp={p.threads}")
        if p.low_delay:
            svt.append("pred-struct=1")  # SVT-AV1 low-delay prediction structure
        if svt:
            opts["svtav1-params"] = ":".join(svt)
    if p.bitrate is not None:
        bit_rate = p.bitrate
        if p.codec == "libx264":
            # FTVSR's constant-bitrate setting: min = max = target, VBV buffer = target.
            rate = str(p.bitrate)
            opts.update({"minrate": rate, "maxrate": rate, "bufsize": rate})
    return opts, bit_rate


def add_encoder_stream(container, p: CodecParams, width: int, height: int, rate: Fraction | float | None = None):
    """Add a video stream encoding ``width``x``height`` frames with ``p`` to an open output container.

    ``rate`` (default ``p.fps``) is the stream frame rate. Odd or tiny sizes cannot be encoded as
    yuv420p; callers pad (see :func:`codec_roundtrip`) or refuse. The stream is tagged BT.601,
    limited range: what :func:`rgb_to_video_frame` converts to.
    """
    av = _av()
    from freqvsr.io._colour import BT601_LIMITED
    from freqvsr.io.encode import add_video_stream

    opts, bit_rate = _encoder_options(p)
    rate = Fraction(rate if rate is not None else p.fps).limit_denominator(1_000_000)
    try:
        return add_video_stream(
            container,
            p.codec,
            rate=rate,
            width=width,
            height=height,
            pix_fmt=p.pix_fmt,
            options=opts,
            thread_count=p.threads,
            colour=BT601_LIMITED,
            bit_rate=bit_rate,
        )
    except (av.error.FFmpegError, ValueError) as e:
        raise OutputError(f"encoder {p.codec} is not available in this PyAV build: {e}") from e


# The degradations' RGB <-> YUV convention: BT.601 matrix, limited range, with freqvsr.io's
# conversion, so an LQ clip degraded on the fly equals the same clip written by `degrade_video`
# and read back through freqvsr.io (tested).


def rgb_to_video_frame(frame: np.ndarray, pix_fmt: str):
    """``(H, W, 3)`` uint8 RGB -> ``av.VideoFrame`` in ``pix_fmt`` (BT.601, limited range, tagged)."""
    av = _av()
    from freqvsr.io import _colour as C
    from freqvsr.io.encode import rgb_to_yuv_frame

    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    return rgb_to_yuv_frame(vf, pix_fmt, C.SPC_SMPTE170M, C.RANGE_LIMITED)


def video_frame_to_rgb(frame) -> np.ndarray:
    """Decoded 8-bit YUV ``av.VideoFrame`` -> ``(H, W, 3)`` uint8 RGB with the inverse conversion."""
    from freqvsr.io import _colour as C
    from freqvsr.io.reader import frame_to_rgb

    return frame_to_rgb(frame, 8, C.SPC_SMPTE170M, C.RANGE_LIMITED)


def encode_frame(container, stream, frame: np.ndarray | None, pts: int) -> None:
    """Encode one ``(H, W, 3)`` uint8 RGB frame (or flush with ``None``) and mux the packets."""
    if frame is None:
        packets = stream.encode(None)
    else:
        vf = rgb_to_video_frame(frame, stream.pix_fmt)
        vf.pts = pts
        packets = stream.encode(vf)
    container.mux(packets)


def flush_encoder(container, stream) -> None:
    encode_frame(container, stream, None, 0)


# ---------------------------------------------------------------------------------------------------
# In-memory round trip
# ---------------------------------------------------------------------------------------------------


def encode_to_bytes(frames: Iterable[np.ndarray], p: CodecParams, format: str = "matroska") -> bytes:
    """Encode ``(H, W, 3)`` uint8 RGB frames (all the same, even size) into an in-memory container."""
    av = _av()
    buf = io.BytesIO()
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise UsageError("codec round trip needs at least one frame")
    h, w = first.shape[:2]
    with av.open(buf, "w", format=format) as container:
        stream = add_encoder_stream(container, p, w, h)
        encode_frame(container, stream, first, 0)
        for i, f in enumerate(it, start=1):
            encode_frame(container, stream, f, i)
        flush_encoder(container, stream)
    return buf.getvalue()


def decode_bytes(data: bytes) -> Iterator[np.ndarray]:
    """Decode every video frame of an in-memory container as ``(H, W, 3)`` uint8 RGB."""
    av = _av()
    with av.open(io.BytesIO(data), "r") as container:
        for fr in container.decode(video=0):
            yield video_frame_to_rgb(fr)


def _to_uint8_hwc(frames: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(frames, np.ndarray):
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise UsageError(f"numpy frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
        return frames
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise UsageError(f"tensor frames must be (T, 3, H, W), got {tuple(frames.shape)}")
    if frames.dtype == torch.uint8:
        u8 = frames
    else:
        # Quantise as writing 8-bit frames would: the encoder only ever sees uint8.
        u8 = torch.round(frames.detach().float().clamp(0, 1) * 255.0).to(torch.uint8)
    return u8.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def codec_roundtrip(
    frames: torch.Tensor | np.ndarray,
    params: CodecParams,
    format: str = "matroska",
    return_bytes: bool = False,
):
    """Encode a clip with ``params`` in memory and decode it back.

    Args:
        frames: ``(T, 3, H, W)`` tensor (float in [0, 1] or uint8) or ``(T, H, W, 3)`` uint8 array, RGB.
        params: encoder configuration.
        format: in-memory container (``matroska`` holds every codec here; ``mp4`` works too).
        return_bytes: also return the size of the encoded stream in bytes.

    Returns:
        Decoded frames in the input's type, shape, dtype and device (float values lie on the 8-bit
        grid); with ``return_bytes``, ``(frames, n_bytes)``.

    Odd sizes (and, for libx265, sides under 72 px: see ``_MIN_SIZE``) are padded by edge
    replication before encoding and cropped after decoding, so any size round-trips.
    """
    u8 = _to_uint8_hwc(frames)
    t, h, w, _ = u8.shape
    pw, ph = padded_size(params.codec, w, h)
    if (pw, ph) != (w, h):
        u8 = np.pad(u8, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    data = encode_to_bytes(list(u8), params, format=format)
    out = [f[:h, :w] for f in decode_bytes(data)]
    if len(out) != t:
        raise OutputError(f"codec {params.codec} returned {len(out)} frames for {t} (encoder dropped frames)")
    dec = np.stack(out)
    if isinstance(frames, np.ndarray):
        result = dec
    else:
        tens = torch.from_numpy(dec).permute(0, 3, 1, 2)
        if frames.dtype == torch.uint8:
            result = tens.to(frames.device)
        else:
            result = (tens.to(torch.float32) / 255.0).to(device=frames.device, dtype=frames.dtype)
    return (result, len(data)) if return_bytes else result
