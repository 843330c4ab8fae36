"""VMAF through the libvmaf filter of the FFmpeg binary that ``imageio-ffmpeg`` ships.

Protocol: both inputs are converted to 8-bit yuv420p at the ground truth's size (the prediction is
scaled with bicubic if its size differs), paired frame by frame by index (timestamps are
rewritten to the frame number, so clips with different frame rates or start times still pair
up), and scored with libvmaf's default model (``vmaf_v0.6.1``). The clip score is the mean over
frames of libvmaf's JSON log (``pooled_metrics.vmaf.mean``); higher is better, 0..100.

Video files go to FFmpeg directly. Frame sequences (numpy RGB arrays, e.g. a folder read by
``freqvsr.io``) are first written to temporary lossless FFV1 videos (RGB, so the YUV conversion is
the same FFmpeg conversion for both sides), which are removed afterwards. Only argument lists
are passed to subprocesses, never shell strings.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from freqvsr._extras import install_hint
from freqvsr.errors import InputError, InputNotFoundError, MissingDependencyError

__all__ = ["VMAF_MODEL", "ffmpeg_exe", "vmaf", "vmaf_frames", "write_lossless"]

VMAF_MODEL = "vmaf_v0.6.1"  # libvmaf's default model (the filter's default "version=vmaf_v0.6.1")


def ffmpeg_exe() -> str:
    """Path of the FFmpeg binary from imageio-ffmpeg (raises MissingDependencyError when absent)."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise MissingDependencyError(
            f"VMAF needs the FFmpeg binary with libvmaf of imageio-ffmpeg: {install_hint('eval')}"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def _escape(path: Path) -> str:
    # A filtergraph option value: escape the characters the option parser treats specially.
    s = str(path)
    for ch in ("\\", ":", "'", ",", ";", "[", "]", "="):
        s = s.replace(ch, "\\" + ch)
    return s


def _video_size(path: Path) -> tuple[int, int]:
    import av

    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            return s.codec_context.width, s.codec_context.height
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise InputError(f"{path}: cannot read a video stream ({exc})") from exc


def vmaf(
    pred,
    gt,
    *,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
    n_threads: int = 0,
    timeout: float | None = None,
) -> dict:
    """VMAF of video file ``pred`` against video file ``gt``.

    ``size`` (width, height) is the ground truth's size (probed when omitted). Returns
    ``{"vmaf": mean, "frames": n, "per_frame": [...], "model": "vmaf_v0.6.1"}``.
    """
    pred, gt = Path(pred), Path(gt)
    for p in (pred, gt):
        if not p.is_file():
            raise InputNotFoundError(f"{p}: no such file")
    w, h = size if size is not None else _video_size(gt)
    trim = f"trim=end_frame={int(max_frames)}," if max_frames else ""
    # settb/setpts: pair frames by index whatever the two clips' rates and start times are.
    common = f"{trim}settb=1/25,setpts=N"
    with tempfile.TemporaryDirectory(prefix="freqvsr-vmaf-") as tmp:
        log = Path(tmp) / "vmaf.json"
        graph = (
            f"[0:v]{common},scale={w}:{h}:flags=bicubic,format=yuv420p[dist];"
            f"[1:v]{common},scale={w}:{h}:flags=bicubic,format=yuv420p[ref];"
            f"[dist][ref]libvmaf=log_fmt=json:log_path={_escape(log)}:n_threads={int(n_threads)}:shortest=1"
        )
        cmd = [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(pred),
            "-i",
            str(gt),
            "-filter_complex",
            graph,
            "-an",
            "-f",
            "null",
            "-",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not log.is_file():
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise InputError(f"{pred}: VMAF against {gt} failed: {last}")
        data = json.loads(log.read_text())
    per_frame = [float(f["metrics"]["vmaf"]) for f in data.get("frames", [])]
    if not per_frame:
        raise InputError(f"{pred}: VMAF against {gt} scored no frame")
    return {"vmaf": float(np.mean(per_frame)), "frames": len(per_frame), "per_frame": per_frame, "model": VMAF_MODEL}


def write_lossless(frames: Iterable[np.ndarray], path: Path, *, fps: int = 25) -> int:
    """Write (H, W, 3) uint8/uint16 RGB frames to a lossless FFV1 video; returns the frame count."""
    it: Iterator[np.ndarray] = iter(frames)
    first = next(it, None)
    if first is None:
        raise InputError(f"{path}: no frames to write")
    first = np.asarray(first)
    h, w = first.shape[:2]
    deep = first.dtype == np.uint16
    src_fmt, dst_fmt = ("rgb48le", "gbrp16le") if deep else ("rgb24", "gbrp")
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        src_fmt,
        "-s",
        f"{w}x{h}",
        "-r",
        str(fps),
        "-i",
        "pipe:0",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        dst_fmt,
        str(path),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    n = 0
    try:
        proc.stdin.write(np.ascontiguousarray(first.astype("<u2" if deep else np.uint8)).tobytes())
        n += 1
        for frame in it:
            frame = np.asarray(frame)
            if frame.shape[:2] != (h, w):
                raise InputError(f"{path}: frame {n} is {frame.shape[1]}x{frame.shape[0]}, expected {w}x{h}")
            proc.stdin.write(np.ascontiguousarray(frame.astype("<u2" if deep else np.uint8)).tobytes())
            n += 1
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace")
        proc.wait()
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"{path}: writing a temporary lossless video failed: {last}")
    return n


def vmaf_frames(
    pred_frames: Iterable[np.ndarray],
    gt_frames: Iterable[np.ndarray],
    *,
    max_frames: int | None = None,
    n_threads: int = 0,
) -> dict:
    """VMAF of two sequences of (H, W, 3) RGB frames, through temporary lossless videos (removed after)."""
    with tempfile.TemporaryDirectory(prefix="freqvsr-vmaf-") as tmp:
        pred_path, gt_path = Path(tmp) / "pred.mkv", Path(tmp) / "gt.mkv"
        first_gt: list[np.ndarray] = []

        def remember(frames):
            for f in frames:
                if not first_gt:
                    first_gt.append(f)
                yield f

        write_lossless(_take(pred_frames, max_frames), pred_path)
        write_lossless(remember(_take(gt_frames, max_frames)), gt_path)
        h, w = np.asarray(first_gt[0]).shape[:2]
        return vmaf(pred_path, gt_path, size=(w, h), n_threads=n_threads)


def _take(frames: Iterable, n: int | None) -> Iterator:
    for i, f in enumerate(frames):
        if n is not None and i >= n:
            return
        yield f
