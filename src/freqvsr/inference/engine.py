"""The streaming upscaling engine.

:class:`Upscaler` turns an iterator of LR frames into an iterator of SR frames in bounded
memory, whatever the video length. How frames are grouped depends on the model's ``temporal``
kind (see :mod:`freqvsr.models._base`):

``sequence``  overlapping temporal chunks of ``chunk`` frames, ``overlap`` frames shared with the
              next chunk; outputs in the shared frames are cross-faded with linear weights so no
              seam appears every ``chunk - overlap`` frames. A chunk is computed once the
              look-ahead tells where the next one starts; the last chunk is moved back so it is
              never shorter than ``chunk`` frames (a short tail would see little context).
``image``     batches of ``chunk`` independent frames.
``window``    output t from inputs t-r..t+r, indices clamped at both ends (edge padding).
``online``    frame in, frame out through ``model.step`` with an explicit state per video (and per
              spatial tile), reset at the start of every video.

Every group of emitted frames is a *segment*; the engine reports segment ends so the job layer
can make them durable and resume an interrupted run at the first unfinished segment.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from freqvsr.errors import FreqVSRError, UsageError
from freqvsr.functional.color import rgb_to_ycbcr601, ycbcr601_to_rgb
from freqvsr.functional.resize import bicubic_upsample
from freqvsr.inference.device import autocast, available_memory, is_oom, resolve_device, resolve_precision
from freqvsr.inference.tiling import run_tiled
from freqvsr.models import VSRModel, create_model


@dataclasses.dataclass(frozen=True)
class SegmentEnd:
    """All frames with index < ``end`` have been emitted; ``state`` is the online model's state."""

    index: int
    start: int
    end: int
    state: Any = None


@dataclasses.dataclass(frozen=True)
class SRFrame:
    index: int
    image: torch.Tensor  # (C, sH, sW) float32 on CPU, clamped to [0, 1]


def _default_chunk(model: VSRModel) -> tuple[int, int]:
    if model.temporal == "sequence":
        return 32, 8
    return 8, 0


class Upscaler:
    """Upscale frames with a registered model, in temporal chunks and spatial tiles.

    Args:
        model: a registry name, a checkpoint path, or a :class:`VSRModel` instance.
        weights: optional weights for a named model (freqvsr checkpoint or official ``.pth``).
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
        precision: ``auto`` (bf16/fp16 on GPU, fp32 on CPU) | ``fp32`` | ``fp16`` | ``bf16``.
        chunk: frames per temporal chunk (sequence models) or batch (others).
        overlap: frames shared by neighbouring chunks (sequence models), cross-faded.
        tile: LR tile size in pixels; ``None`` = whole frame when it fits in memory, else derived
            from free memory; ``0`` = never tile.
        tile_overlap: LR pixels shared by neighbouring tiles, blended.
    """

    def __init__(
        self,
        model: str | VSRModel = "bicubic",
        *,
        weights: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        chunk: int | None = None,
        overlap: int | None = None,
        tile: int | None = None,
        tile_overlap: int = 16,
    ) -> None:
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        if isinstance(model, VSRModel):
            self.model = model
        else:
            self.model = create_model(model, weights=weights) if weights else create_model(model)
        self.model = self.model.eval().to(self.device)
        self.scale = self.model.scale
        default_chunk, default_overlap = _default_chunk(self.model)
        self.chunk = int(chunk or default_chunk)
        # A user-given chunk without an overlap keeps a quarter of it for the cross-fade.
        if overlap is None:
            overlap = default_overlap if chunk is None else min(default_overlap, self.chunk // 4)
        self.overlap = int(overlap)
        if self.chunk < 1:
            raise UsageError(f"--chunk {self.chunk}: must be at least 1")
        if self.model.temporal == "sequence":
            if not 0 <= self.overlap < self.chunk:
                raise UsageError(f"--overlap {self.overlap}: must be >= 0 and smaller than --chunk {self.chunk}")
        else:
            self.overlap = 0
        if tile is not None and tile < 0:
            raise UsageError(f"--tile {tile}: must be >= 0")
        if tile is not None and 0 < tile < 8:
            raise UsageError(f"--tile {tile}: tiles smaller than 8 pixels are not useful")
        self.tile_request = tile
        self.tile_overlap = int(tile_overlap)
        if self.tile_overlap < 0:
            raise UsageError(f"--tile-overlap {tile_overlap}: must be >= 0")
        self.tile: int | None = None  # decided per video from the frame size and free memory

    # ------------------------------------------------------------------ tiles
    def _frames_in_memory(self) -> int:
        t = self.model.temporal
        if t == "window":
            return self.chunk * self.model.window
        return 1 if t == "online" else self.chunk

    def plan_tile(self, height: int, width: int) -> int | None:
        """Tile size for frames of this size: the user's, or the largest that fits in half the free memory."""
        if self.tile_request == 0:
            return None
        if self.tile_request:
            return self.tile_request if self.tile_request < max(height, width) else None
        per_pixel = getattr(self.model, "bytes_per_lr_pixel", 4096) * self._frames_in_memory()
        budget = available_memory(self.device) // 2
        if height * width * per_pixel <= budget:
            return None
        side = int(math.sqrt(budget / per_pixel)) // 8 * 8
        return max(32, side)

    # --------------------------------------------------------------- compute
    def _forward(self, x: torch.Tensor, states: dict | None = None) -> torch.Tensor:
        """Run the model over (B, T, C, H, W) (or one online frame) with tiling; on out-of-memory,
        halve the tile and retry (online models keep one state per tile, so their tiling is fixed)."""
        while True:
            try:
                return self._forward_tiled(x, states)
            except (RuntimeError, torch.OutOfMemoryError) as exc:
                if not is_oom(exc):
                    raise
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                h, w = x.shape[-2:]
                current = self.tile or max(h, w)
                if current <= 32 or states is not None:
                    where = "GPU" if self.device.type == "cuda" else "CPU"
                    raise FreqVSRError(
                        f"out of {where} memory with {current}px tiles; try --tile 32, --chunk {max(1, self.chunk // 2)}"
                        + (" or --device cpu" if self.device.type == "cuda" else "")
                    ) from exc
                self.tile = max(32, current // 2 // 8 * 8)

    def _forward_tiled(self, x: torch.Tensor, states: dict | None) -> torch.Tensor:
        model = self.model
        x = x.to(self.device, non_blocking=True)

        luma_only = model.in_channels == 1 and x.shape[-3] == 3

        def run(index: int, xt: torch.Tensor) -> torch.Tensor:
            with torch.no_grad(), autocast(self.device, self.precision):
                if states is None:
                    return model(xt).float()
                if index not in states:
                    states[index] = model.init_state(xt)
                y, states[index] = model.step(xt, states[index])
                return y.float()

        def fn(index: int, xt: torch.Tensor) -> torch.Tensor:
            if not luma_only:
                return run(index, xt)
            # Luma models (e.g. FCVSR trained on CVCP's Y): the network upscales Y, chroma is
            # upscaled with bicubic, as the papers evaluate them.
            ycc = rgb_to_ycbcr601(xt.float())
            y = run(index, ycc[..., :1, :, :])
            chroma = ycc[..., 1:, :, :]
            if model.temporal == "window":
                chroma = chroma[:, model.window // 2]
            lead = chroma.shape[:-3]
            up = bicubic_upsample(chroma.reshape(-1, *chroma.shape[-3:]), self.scale)
            return ycbcr601_to_rgb(torch.cat([y, up.reshape(*lead, *up.shape[-3:])], dim=-3))

        y = run_tiled(fn, x, self.scale, self.tile, self.tile_overlap, getattr(model, "size_multiple", 1))
        return y.clamp_(0.0, 1.0).cpu()

    # -------------------------------------------------------------- streaming
    def stream(
        self,
        frames: Iterable[torch.Tensor],
        *,
        resume_from: int = 0,
        resume_frame: int = 0,
        resume_state: Any = None,
    ) -> Iterator[SRFrame | SegmentEnd]:
        """Yield :class:`SRFrame` and :class:`SegmentEnd` events for a stream of (C, H, W) frames in [0, 1].

        ``resume_from`` is the first segment not yet finished and ``resume_frame`` its first frame:
        frames of earlier segments are read (and recomputed only where a later frame's
        cross-fade needs them) but not yielded. ``resume_state`` is the online model's state saved
        with the last finished segment.
        """
        it = iter(frames)
        temporal = self.model.temporal
        first = next(it, None)
        if first is None:
            raise FreqVSRError("the input has no frames")
        self.tile = self.plan_tile(*first.shape[-2:])

        def chained() -> Iterator[torch.Tensor]:
            yield first
            yield from it

        source = chained()
        if temporal == "sequence":
            yield from self._stream_sequence(source, resume_from, resume_frame)
        elif temporal == "online":
            yield from self._stream_online(source, resume_from, resume_state)
        elif temporal in ("image", "window"):
            yield from self._stream_batches(source, resume_from)
        else:
            raise FreqVSRError(f"model {type(self.model).__name__} has unknown temporal kind {temporal!r}")

    def _stream_sequence(self, source: Iterator[torch.Tensor], resume_from: int, resume_frame: int) -> Iterator[SRFrame | SegmentEnd]:
        chunk, step = self.chunk, self.chunk - self.overlap
        ahead = _Lookahead(source)
        buffer = ahead.frames

        # pending[i] = (weighted sum, weight sum) of SR frame i over the chunks that covered it
        pending: dict[int, tuple[torch.Tensor, float]] = {}
        start, prev_end, seg = 0, 0, 0
        while True:
            ahead.fill(start + chunk + step)  # look-ahead decides where the next chunk starts
            n_read = ahead.n_read
            end = min(start + chunk, n_read)
            if n_read >= start + step + chunk:
                next_start: int | None = start + step
            elif n_read > end:  # the last chunk: moved back so it keeps `chunk` frames of context
                next_start = max(start + 1, n_read - chunk)
            else:
                next_start = None
            emit_end = end if next_start is None else next_start

            # A chunk is computed when it covers any frame still to be emitted: chunk ends grow
            # strictly, so on resume this recomputes exactly the chunks whose cross-fade reaches
            # into the first unfinished segment.
            if end > resume_frame:
                clip = torch.stack([buffer[i] for i in range(start, end)])[None]
                sr = self._forward(clip)[0]
                fall_len = (end - next_start) if next_start is not None else 0
                rise_len = max(0, prev_end - start)
                for j, i in enumerate(range(start, end)):
                    w = 1.0
                    if i < prev_end:
                        w = min(w, (i - start + 1) / (rise_len + 1))
                    if next_start is not None and i >= next_start:
                        w = min(w, (end - i) / (fall_len + 1))
                    acc, wsum = pending.get(i, (None, 0.0))
                    pending[i] = (sr[j] * w if acc is None else acc + sr[j] * w, wsum + w)
            for i in range(start, emit_end):
                acc, wsum = pending.pop(i, (None, 0.0))
                if seg >= resume_from:
                    yield SRFrame(i, acc / wsum)
            ahead.drop_before(emit_end)
            if seg >= resume_from:
                yield SegmentEnd(seg, start, emit_end)
            if next_start is None:
                return
            prev_end, start, seg = end, next_start, seg + 1

    def _stream_batches(self, source: Iterator[torch.Tensor], resume_from: int) -> Iterator[SRFrame | SegmentEnd]:
        window = self.model.window if self.model.temporal == "window" else 1
        radius = window // 2
        ahead = _Lookahead(source)
        buffer = ahead.frames

        start, seg = 0, 0
        while True:
            ahead.fill(start + self.chunk + radius)
            n_read, eof = ahead.n_read, ahead.eof
            end = min(start + self.chunk, n_read)
            if end <= start:
                return
            if seg >= resume_from:
                if window == 1:
                    clip = torch.stack([buffer[i] for i in range(start, end)])[None]  # (1, T, C, H, W)
                    sr = self._forward(clip)[0]
                else:
                    # clamp window indices into the video: edge frames are repeated
                    hi = n_read - 1 if eof else n_read + radius
                    idx = [[min(max(t + d, 0), hi) for d in range(-radius, radius + 1)] for t in range(start, end)]
                    clip = torch.stack([torch.stack([buffer[i] for i in row]) for row in idx])  # (B, window, C, H, W)
                    sr = self._forward(clip)
                for j, i in enumerate(range(start, end)):
                    yield SRFrame(i, sr[j])
                yield SegmentEnd(seg, start, end)
            ahead.drop_before(end - radius)
            if eof and end >= n_read:
                return
            start, seg = end, seg + 1

    def _stream_online(self, source: Iterator[torch.Tensor], resume_from: int, resume_state: Any) -> Iterator[SRFrame | SegmentEnd]:
        # One state per tile, explicit, created fresh for every video (or restored on resume).
        states: dict = {k: _to_device(v, self.device) for k, v in (resume_state or {}).items()}
        start = resume_from * self.chunk
        n = 0
        for i, frame in enumerate(source):
            n = i + 1
            if i < start:
                continue
            yield SRFrame(i, self._forward(frame[None], states)[0])
            if n % self.chunk == 0:
                yield SegmentEnd(i // self.chunk, n - self.chunk, n, state=_detach_state(states))
        if n > start and n % self.chunk != 0:
            yield SegmentEnd(n // self.chunk, n // self.chunk * self.chunk, n, state=_detach_state(states))

    # ---------------------------------------------------------- convenience
    def upscale_clip(self, lq: torch.Tensor) -> torch.Tensor:
        """Upscale a whole (T, C, H, W) clip in [0, 1] held in memory; returns (T, C, sH, sW)."""
        out = [ev.image for ev in self.stream(iter(lq)) if isinstance(ev, SRFrame)]
        return torch.stack(out)

    def upscale_arrays(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Upscale (H, W, 3) uint8 or uint16 RGB arrays; yields arrays of the same dtype."""
        dtype_box: list[np.dtype] = []

        def tensors() -> Iterator[torch.Tensor]:
            for a in frames:
                dtype_box[:] = [a.dtype]
                yield to_tensor(a)

        for ev in self.stream(tensors()):
            if isinstance(ev, SRFrame):
                yield to_array(ev.image, dtype_box[0])


class _Lookahead:
    """Decoded LR frames by index, read from ``source`` only as far as the schedule asks."""

    def __init__(self, source: Iterator[torch.Tensor]) -> None:
        self.source = source
        self.frames: dict[int, torch.Tensor] = {}
        self.n_read = 0
        self.eof = False

    def fill(self, upto: int) -> None:
        while not self.eof and self.n_read < upto:
            frame = next(self.source, None)
            if frame is None:
                self.eof = True
            else:
                self.frames[self.n_read] = frame
                self.n_read += 1

    def drop_before(self, index: int) -> None:
        for i in [k for k in self.frames if k < index]:
            del self.frames[i]


def _detach_state(states: dict) -> dict:
    return {k: _to_cpu(v) for k, v in states.items()}


def _to_device(v: Any, device: torch.device) -> Any:
    if isinstance(v, torch.Tensor):
        return v.detach().to(device).clone()
    if isinstance(v, (list, tuple)):
        return type(v)(_to_device(x, device) for x in v)
    if isinstance(v, dict):
        return {k: _to_device(x, device) for k, x in v.items()}
    return v


def _to_cpu(v: Any) -> Any:
    return _to_device(v, torch.device("cpu"))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8/uint16 -> (C, H, W) float32 in [0, 1]."""
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(scale)


def to_array(image: torch.Tensor, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W, C) array of ``dtype`` (uint8 or uint16), rounded."""
    scale = 65535.0 if np.dtype(dtype) == np.uint16 else 255.0
    return image.mul(scale).round_().clamp_(0, scale).permute(1, 2, 0).numpy().astype(dtype)
