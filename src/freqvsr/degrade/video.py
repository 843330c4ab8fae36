"""``degrade_video``: make the low-quality version of a video file or frame folder.

The function behind ``freqvsr degrade INPUT -o OUTPUT``; its keyword arguments map one-to-one onto
the command's flags. Frames stream through in small chunks (``chunk`` frames at a time), so memory
does not grow with the video length:

* blur, down-sampling, noise and quantisation are per-frame operations
  (:func:`freqvsr.degrade.pipeline.apply_frames`; per-frame noise seeding makes chunking invisible);
* the codec step does not need clip-level buffering either: one encoder runs over the whole video
  and is fed frame by frame (it buffers only its own look-ahead), which is also what a real
  pipeline does -- chunking into separately encoded clips would insert an I-frame every chunk.

What is written:

* **video output with a codec** (``.mp4``, ``.mkv``, ...): the encoder's own bitstream. The file *is*
  the compressed LQ stream; decoding it (e.g. with :func:`freqvsr.io.open_input`) gives exactly the
  frames :func:`freqvsr.degrade.pipeline.apply` produces for the same parameters.
* **video output without a codec** (``bi``, ``bd``, ``noise``): lossless RGB so the LQ frames survive
  bit-exactly (FFV1 in ``.mkv``/``.avi``, H.264 4:4:4 RGB at QP 0, ``libx264rgb``, in
  ``.mp4``/``.mov``). ``.webm`` has no lossless RGB codec and is refused.
* **frame-folder output**: ``00000000.png``, ... of the final frames; with a codec, the stream is first
  encoded to a hidden file beside the output and decoded back.

The output appears atomically: everything is written to a hidden temporary name beside ``dst`` and
renamed at the end; on failure nothing is left behind. The source frame rate is kept (as a constant
frame rate: per-frame timestamps of variable-frame-rate sources are not preserved), audio is not
copied, and the output is 8-bit whatever the source depth.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from freqvsr.degrade.codec import (
    CodecParams,
    add_encoder_stream,
    canonical_codec,
    encode_frame,
    flush_encoder,
    padded_size,
    parse_bitrate,
    video_frame_to_rgb,
)
from freqvsr.degrade.pipeline import (
    BlurParams,
    DegradeParams,
    NoiseParams,
    apply_frames,
    blur_kernel_size,
    draw_seed,
    get_preset,
)
from freqvsr.errors import OutputError, UsageError

__all__ = ["degrade_video", "resolve_params"]

# Lossless RGB writers for codec-free presets: (encoder, pix_fmt, options) per container.
_LOSSLESS = {
    ".mkv": ("ffv1", "bgr0", {"level": "3"}),
    ".avi": ("ffv1", "bgr0", {"level": "3"}),
    ".mp4": ("libx264rgb", "rgb24", {"qp": "0", "preset": "medium"}),
    ".m4v": ("libx264rgb", "rgb24", {"qp": "0", "preset": "medium"}),
    ".mov": ("libx264rgb", "rgb24", {"qp": "0", "preset": "medium"}),
}


def resolve_params(
    preset: str = "bi",
    *,
    scale: int = 4,
    blur: float | None = None,
    noise: float | None = None,
    codec: str | None = None,
    crf: float | None = None,
    qp: int | None = None,
    bitrate: int | str | None = None,
    seed: int = 0,
    fps: float = 25.0,
) -> DegradeParams:
    """The parameters ``degrade_video`` will apply: ``preset`` sampled with ``seed``, then overridden.

    Overrides: ``blur`` = Gaussian sigma in HR pixels (kernel ``2*ceil(3*sigma)+1``; 0 removes the
    preset's blur); ``noise`` = Gaussian sigma on the 0-255 scale (0 removes it); ``codec`` /
    ``crf`` / ``qp`` / ``bitrate`` replace the preset's codec step (codec defaults to the preset's
    codec or libx264; the rate mode to the preset's; one of them is needed when the preset has no
    codec). ``fps`` is the frame rate the encoder is told (the source's).
    """
    g = torch.Generator().manual_seed(int(seed))
    params = get_preset(preset).sample(g, scale=scale)
    if blur is not None:
        if blur < 0:
            raise UsageError(f"blur={blur}: must be >= 0")
        blur_params = BlurParams("gaussian", size=blur_kernel_size(blur), sigma=float(blur)) if blur > 0 else None
        params = params.replace(blur=blur_params)
    if noise is not None:
        if noise < 0:
            raise UsageError(f"noise={noise}: must be >= 0")
        if noise == 0:
            params = params.replace(noise=None)
        else:
            noise_seed = params.noise.seed if params.noise is not None else draw_seed(g)
            params = params.replace(noise=NoiseParams("gaussian", sigma=float(noise), seed=noise_seed))
    rates = {k: v for k, v in (("crf", crf), ("qp", qp), ("bitrate", bitrate)) if v is not None}
    if len(rates) > 1:
        raise UsageError(
            f"give at most one of crf=, qp= and bitrate= (got {', '.join(f'{k}={v}' for k, v in rates.items())})"
        )
    if "bitrate" in rates:
        rates["bitrate"] = parse_bitrate(rates["bitrate"])
    base = params.codec
    if codec is not None or rates:
        name = codec or (base.codec if base is not None else "libx264")
        if not rates:
            if base is None:
                raise UsageError(f"codec={codec} needs a rate: crf=N, qp=N or bitrate=RATE")
            rates = {k: getattr(base, k) for k in ("crf", "qp", "bitrate") if getattr(base, k) is not None}
        low_delay = base.low_delay if base is not None and base.codec == canonical_codec(name) else None
        params = params.replace(codec=CodecParams(name, low_delay=low_delay, fps=float(fps), **rates))
    elif base is not None:
        params = params.replace(codec=CodecParams(**{**base.to_dict(), "fps": float(fps)}))
    return params


def _temp_beside(path: Path, tag: str, suffix: str | None = None) -> Path:
    suffix = path.suffix if suffix is None else suffix
    return path.with_name(f".{path.stem}.freqvsr-{tag}-{os.getpid()}{suffix}")


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) float on the 8-bit grid -> (T, H, W, 3) uint8."""
    return torch.round(x.clamp(0, 1) * 255.0).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _lr_frames(source, params: DegradeParams, max_frames: int | None, chunk: int) -> Iterator[np.ndarray]:
    """Stream the source through the per-frame degradation, yielding uint8 (h, w, 3) LR frames."""
    buf: list[np.ndarray] = []
    offset = 0

    def flush():
        nonlocal offset
        arr = np.stack(buf)
        scale = 255.0 if arr.dtype == np.uint8 else 65535.0
        x = torch.from_numpy(arr.astype(np.float32) / scale).permute(0, 3, 1, 2)
        out = _to_uint8(apply_frames(x, params, frame_offset=offset))
        offset += len(buf)
        buf.clear()
        return out

    for n, frame in enumerate(source):
        if max_frames is not None and n >= max_frames:
            break
        buf.append(frame.image)
        if len(buf) == chunk:
            yield from flush()
    if buf:
        yield from flush()


def _write_encoded(
    path: Path,
    frames: Iterator[np.ndarray],
    codec: CodecParams | None,
    rate: Fraction,
    fmt: str | None = None,
    pad: bool = False,
    name: Path | None = None,
) -> int:
    """Encode ``frames`` into a new video file at ``path``; returns the number of frames.

    ``pad``: pad frames as :func:`~freqvsr.degrade.codec.codec_roundtrip` does (even size, x265
    minimum), for an intermediate stream that is decoded and cropped again; otherwise odd sizes are
    refused, because the output video must have the LR size itself.
    """
    import av

    from freqvsr.io.encode import add_video_stream

    name = name or path  # the user's output name, for messages (``path`` may be a temporary file)
    first = next(frames, None)
    if first is None:
        raise OutputError(f"{name}: no frames to write")
    h, w = first.shape[:2]
    if codec is not None:
        pw, ph = padded_size(codec.codec, w, h) if pad else (w, h)
        if pw % 2 or ph % 2:
            raise OutputError(
                f"{name}: the LR frames are {w}x{h}; {codec.codec} yuv420p needs even sizes "
                "(write a frame folder instead, or crop the input)"
            )
        if (pw, ph) != (w, h):
            frames = (np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge") for f in _chain(first, frames))
            first = next(frames)
            w, h = pw, ph
    n = 0
    try:
        with av.open(str(path), "w", format=fmt) as container:
            if codec is not None:
                stream = add_encoder_stream(container, codec, w, h, rate=rate)
                write = lambda img, i: encode_frame(container, stream, img, i)
            else:
                name, pix_fmt, opts = _LOSSLESS[path.suffix.lower()]
                stream = add_video_stream(
                    container,
                    name,
                    rate=rate,
                    width=w,
                    height=h,
                    pix_fmt=pix_fmt,
                    options=opts,
                    thread_count=0,
                    colour=None,
                )

                def write(img, i):
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(format=pix_fmt)
                    vf.pts = i
                    container.mux(stream.encode(vf))

            for img in _chain(first, frames):
                write(img, n)
                n += 1
            if codec is not None:
                flush_encoder(container, stream)
            else:
                container.mux(stream.encode(None))
    except av.FFmpegError as e:
        raise OutputError(
            f"{name}: encoding failed ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
    return n


def _chain(first, rest):
    yield first
    yield from rest


def degrade_video(
    src,
    dst,
    *,
    preset: str = "bi",
    scale: int = 4,
    blur: float | None = None,
    noise: float | None = None,
    codec: str | None = None,
    crf: float | None = None,
    qp: int | None = None,
    bitrate: int | str | None = None,
    seed: int = 0,
    save_params=None,
    max_frames: int | None = None,
    fps: float | None = None,
    chunk: int = 8,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Degrade the video file or frame folder ``src`` into ``dst`` (video file by extension, else a
    PNG frame folder). See the module docstring for what is written.

    Args map to ``freqvsr degrade`` flags: ``--preset``, ``--scale``, ``--blur SIGMA``,
    ``--noise SIGMA``, ``--codec``, ``--crf``/``--qp``/``--bitrate``, ``--seed``, ``--save-params``
    (see :func:`resolve_params` for how overrides combine with the preset). ``max_frames``: degrade
    only the first N frames. ``fps``: frame rate of a frame-folder input (default 25).
    ``progress``: called with the number of LR frames made so far, after each frame.

    Returns a summary: ``input``, ``output``, ``frames``, ``fps``, ``hr_size``/``lr_size``
    (width, height), ``params`` (the drawn :class:`DegradeParams` as a dict), ``seed``,
    ``output_bytes``, ``seconds``. With ``save_params``, the same summary is written there as JSON;
    ``DegradeParams.from_dict(summary["params"])`` replays it.
    """
    from freqvsr.io import (
        FrameFolderWriter,
        check_frame_folder,
        is_video_output,
        open_input,
    )

    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"max_frames must be >= 1, got {max_frames}")
    if chunk < 1:
        raise UsageError(f"chunk must be >= 1, got {chunk}")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise OutputError(f"{dst}: output would overwrite the input")
    video_out = is_video_output(dst)
    with open_input(src, fps=fps) as source:
        info = source.info
        params = resolve_params(
            preset,
            scale=scale,
            blur=blur,
            noise=noise,
            codec=codec,
            crf=crf,
            qp=qp,
            bitrate=bitrate,
            seed=seed,
            fps=float(info.fps),
        )
        if video_out:
            if dst.is_dir():
                raise OutputError(f"{dst}: is a folder, expected a video file name")
            if params.codec is None and dst.suffix.lower() not in _LOSSLESS:
                raise UsageError(
                    f"{dst}: preset {preset!r} has no codec, so the LQ is stored losslessly, which "
                    f"{dst.suffix} cannot do; use .mkv, .mp4 or a frame folder (or give codec= and crf=)"
                )
            if not dst.parent.is_dir():
                raise OutputError(f"{dst}: folder {dst.parent} does not exist")
        else:
            check_frame_folder(dst)
        lr = _lr_frames(source, params, max_frames, chunk)
        n_frames, lr_size = 0, None

        def counted(frames):
            nonlocal n_frames, lr_size
            for f in frames:
                if lr_size is None and video_out and params.codec is not None:
                    _warn_if_not_reproducible(params.codec, f.shape[1], f.shape[0], dst)
                lr_size = (f.shape[1], f.shape[0])
                n_frames += 1
                if progress is not None:
                    progress(n_frames)
                yield f

        if video_out:
            tmp = _temp_beside(dst, "partial")
            try:
                _write_encoded(tmp, counted(lr), params.codec, info.fps, name=dst)
                os.replace(tmp, dst)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            out_bytes = dst.stat().st_size
        else:
            with FrameFolderWriter(dst) as writer:
                if params.codec is None:
                    for i, f in enumerate(counted(lr)):
                        writer.write(f, i)
                else:
                    stream_file = _temp_beside(dst, "stream", ".mkv")
                    try:
                        _write_encoded(
                            stream_file, counted(lr), params.codec, info.fps, fmt="matroska", pad=True, name=dst
                        )
                        _decode_into(stream_file, writer, n_frames, lr_size)
                    finally:
                        stream_file.unlink(missing_ok=True)
            out_bytes = sum(p.stat().st_size for p in dst.iterdir() if p.is_file())

    summary = {
        "input": str(src),
        "output": str(dst),
        "frames": n_frames,
        "fps": float(info.fps),
        "hr_size": [info.width, info.height],
        "lr_size": list(lr_size) if lr_size else None,
        "seed": int(seed),
        "params": params.to_dict(),
        "output_bytes": out_bytes,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if save_params is not None:
        _write_json(Path(save_params), summary)
    return summary


def _warn_if_not_reproducible(codec: CodecParams, width: int, height: int, dst: Path) -> None:
    # In memory and for frame folders such frames are padded (codec._MIN_SIZE); a video file must
    # keep the LR size, so here the encoder gets them as they are.
    pw, ph = padded_size(codec.codec, width, height)
    if (pw, ph) != (width + width % 2, height + height % 2):
        warnings.warn(
            f"{dst}: {codec.codec} output for {width}x{height} frames is not bit-reproducible "
            "(encoder bug on pictures one CTU wide or high); a frame-folder output is",
            stacklevel=3,
        )


def _decode_into(stream_file: Path, writer, n_expected: int, size) -> None:
    import av

    n = 0
    w, h = size
    with av.open(str(stream_file)) as container:
        for fr in container.decode(video=0):
            writer.write(np.ascontiguousarray(video_frame_to_rgb(fr)[:h, :w]), n)
            n += 1
    if n != n_expected:
        raise OutputError(f"{writer.folder}: codec returned {n} frames for {n_expected}")


def _write_json(path: Path, data: dict) -> None:
    tmp = _temp_beside(path, "partial")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write parameters ({e.strerror or e})") from None
