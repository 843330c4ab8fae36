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

How many frames go into one model call and whether frames are cut into tiles is *planned* per
stream against a memory budget (:mod:`freqvsr.inference.memory`): whole frames when they fit,
else the cheapest tile grid that fits, with the cost of tile and chunk overlaps counted. The plan
belongs to the stream (:class:`StreamPlan`), not to the engine, which serves input after input.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from freqvsr.errors import FreqVSRError, UsageError
from freqvsr.functional.resize import bicubic_upsample
from freqvsr.inference.allocator import HEAP_SLACK, IO_HEAP_SLACK, keep_freed_memory, release_freed_memory
from freqvsr.inference.device import autocast, is_oom, resolve_device, resolve_precision
from freqvsr.inference.memory import (
    IO_SAFETY,
    MAX_CHUNK,
    Plan,
    WorkingSet,
    cached_working_set,
    declared_working_set,
    default_memory_budget,
    default_overlap,
    job_io_bytes,
    measure_working_set,
    parse_memory_size,
    plan,
)
from freqvsr.inference.precision import weights_header
from freqvsr.inference.tiling import run_tiled
from freqvsr.models import VSRModel, create_model
from freqvsr.models._adapters import as_rgb_model

# Measured working sets, per model instance and (precision, device, luma) setting.
_WORKING_SETS: weakref.WeakKeyDictionary[VSRModel, dict] = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class SegmentEnd:
    """All frames with index < ``end`` have been emitted; ``state`` is the online model's state.
    ``last``: no segment follows (the input ended), as far as the engine knows when it says so
    (an online model's segment ending exactly on a multiple of ``chunk`` cannot tell)."""

    index: int
    start: int
    end: int
    state: Any = None
    last: bool = False


@dataclasses.dataclass(frozen=True)
class SRFrame:
    index: int
    image: torch.Tensor  # (C, sH, sW) float32 on CPU, clamped to [0, 1]


_WARNED_UNTRAINED: set[str] = set()


def _warn_if_untrained(name: str, model: VSRModel) -> None:
    """Once per process and model: a registry entry without shipped weights is randomly
    initialised, and its output (dark, checkerboarded frames) must not pass for a result."""
    from freqvsr.models._registry import _REGISTRY

    spec = _REGISTRY.get(name)
    if spec is None or spec.weights is not None or name in _WARNED_UNTRAINED:
        return
    if not any(True for _ in model.parameters()):  # nothing to train (bicubic)
        return
    _WARNED_UNTRAINED.add(name)
    warnings.warn(
        f"model {name!r} has no trained weights (random initialisation): its output is not a real "
        "upscale; pass weights=FILE, or pick a model with weights in `freqvsr models`",
        stacklevel=3,
    )


def _default_chunk(model: VSRModel) -> tuple[int, int]:
    if model.temporal == "sequence":
        return 32, 8
    return 8, 0


@dataclasses.dataclass
class StreamPlan:
    """How one stream is cut: decided when its first frame is read, used by that stream only.

    An engine serves many inputs (``freqvsr upscale a.mp4 b.mp4``), and a resumed job replays the
    plan it began with; keeping the plan per stream means neither can leak into the next input.
    The out-of-memory fallback shrinks ``tile_hw`` of this stream, never the engine's requests.
    """

    chunk: int
    overlap: int
    tile_hw: tuple[int, int] | None  # (height, width) of the LR tiles; None = whole frames
    accumulate: str = "float32"  # dtype of tiled outputs (float16 when a chunk of big frames needs it)
    queue_frames: int = 8  # SR frames a consumer (the encoder) should buffer
    plan: Plan | None = None  # the memory plan this came from; None = given (a resumed job's)

    @property
    def tile(self) -> int | None:
        """The longer side of the tiles (``None`` = whole frames)."""
        return None if self.tile_hw is None else max(self.tile_hw)

    def record(self) -> dict:
        """As JSON-able data (a resumable job's manifest); :meth:`Upscaler.stream` takes it back."""
        return {
            "chunk": self.chunk,
            "overlap": self.overlap,
            "tile": None if self.tile_hw is None else list(self.tile_hw),
            "accumulate": self.accumulate,
            "queue_frames": self.queue_frames,
        }

    @classmethod
    def from_record(cls, record: dict) -> StreamPlan:
        tile = record["tile"]
        return cls(
            int(record["chunk"]),
            int(record["overlap"]),
            None if tile is None else (int(tile[0]), int(tile[1])),
            record.get("accumulate", "float32"),
            int(record.get("queue_frames", 8)),
        )

    @classmethod
    def from_plan(cls, p: Plan) -> StreamPlan:
        return cls(p.chunk, p.overlap, p.tile, p.accumulate, p.queue_frames, p)


class Upscaler:
    """Upscale frames with a registered model, in temporal chunks and spatial tiles.

    Args:
        model: a registry name, a checkpoint path, or a :class:`VSRModel` instance.
        weights: optional weights for a named model (freqvsr checkpoint or official ``.pth``);
            ``None`` = the model's shipped weights, if any.
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
        precision: ``auto`` | ``fp32`` | ``fp16`` | ``bf16``. ``auto``: bf16/fp16 on GPU; on CPU bf16
            only where the CPU has native bf16 and the weights' measured record says it costs
            < 0.05 dB (:mod:`freqvsr.inference.precision`), else fp32.
        chunk: frames per temporal chunk (sequence models) or batch (image/window models);
            ``None`` = planned per video against the memory budget (at most 64). Online models:
            frames per resumable segment (default 8).
        overlap: frames shared by neighbouring chunks (sequence models), cross-faded; ``None`` =
            8 for chunks of 32 frames or more, a quarter of the chunk below.
        tile: LR tile size in pixels (square); ``None`` = whole frames when they fit the memory
            budget, else the cheapest (rectangular) tiles that fit; ``0`` = never tile.
        tile_overlap: LR pixels shared by neighbouring tiles, blended.
        memory_budget: bytes (or ``"2G"``, ``"1500M"``) the model and the engine's buffers may
            use; ``None`` = ``min(available / 2, 2 GiB)`` on CPU, 80 % of free GPU memory.

    These are requests; how each input is cut is planned when its stream starts
    (:class:`StreamPlan`). ``chunk``, ``overlap``, ``tile``, ``tile_hw`` and ``plan`` report the most
    recent stream's plan, for reports; the computation never reads them.
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
        memory_budget: int | str | None = None,
    ) -> None:
        self.device = resolve_device(device)
        # large activations without a page fault per 4 KiB (allocator.py); the planner then
        # counts the allocator's slack in the budget
        self.keeps_freed_memory = self.device.type == "cpu" and keep_freed_memory()
        if isinstance(model, VSRModel):
            self.model = model
        else:
            self.model = create_model(model, weights=weights) if weights else create_model(model)
            if not weights:
                _warn_if_untrained(str(model), self.model)
            if self.model.checkpoint_header is None:
                # shipped weights / weights=PATH: keep their header (measured records live there)
                self.model.checkpoint_header = weights_header(model, weights)
        self.precision = resolve_precision(precision, self.device, self.model)
        self.model = self.model.eval().to(self.device)
        # What the engine calls: the model itself, or the adapter that gives a luma model RGB in
        # and out (models._adapters); it shares the model's parameters.
        self._net = as_rgb_model(self.model)
        # channels_last weights on CPU: oneDNN then runs convolutions in NHWC without reordering
        # every activation (measured on basicvsr.small.mix, 4 frames 320x180, 2 cores: CPU time
        # -29 % in fp32, -20 % more under bf16, half the page faults). A model whose code cannot
        # take it (a .view() on a channels_last activation) falls back on its first call.
        self.channels_last = self.device.type == "cpu"
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.scale = self.model.scale
        temporal = self.model.temporal
        if chunk is not None and chunk < 1:
            raise UsageError(f"chunk={chunk}: must be at least 1")
        default_chunk, default_overlap_frames = _default_chunk(self.model)
        # A user-given chunk without an overlap keeps a quarter of it (at most 8) for the cross-fade.
        if overlap is None and chunk is not None:
            overlap = min(default_overlap_frames, chunk // 4)
        if temporal == "sequence":
            if overlap is not None and overlap < 0:
                raise UsageError(f"overlap={overlap}: must be >= 0 and smaller than chunk={chunk or default_chunk}")
            if overlap is not None and chunk is not None and not overlap < chunk:
                raise UsageError(f"overlap={overlap}: must be >= 0 and smaller than chunk={chunk}")
            if overlap is not None and chunk is None and overlap >= MAX_CHUNK:
                raise UsageError(f"overlap={overlap}: must be smaller than {MAX_CHUNK} (the largest planned chunk)")
        else:
            overlap = 0
        if temporal == "online" and chunk is None:
            chunk = default_chunk  # segment length only: one frame per step whatever it is
        self.chunk_request = None if chunk is None else int(chunk)
        self.overlap_request = None if overlap is None else int(overlap)
        if tile is not None and tile < 0:
            raise UsageError(f"tile={tile}: must be >= 0")
        if tile is not None and 0 < tile < 8:
            raise UsageError(f"tile={tile}: tiles smaller than 8 pixels are not useful")
        self.tile_request = tile
        self.tile_overlap = int(tile_overlap)
        if self.tile_overlap < 0:
            raise UsageError(f"tile_overlap={tile_overlap}: must be >= 0")
        self.memory_budget = parse_memory_size(memory_budget)
        # Until a stream has run: what the requests alone say (reports of an engine never used).
        chunk0 = int(chunk or default_chunk)
        self.last_plan = StreamPlan(
            chunk0, int(overlap if overlap is not None else default_overlap(chunk0, temporal)), None
        )

    # ------------------------------------------------------------------ plan
    # The most recent stream's plan, for reports (the job's UpscaleReport, tests).
    @property
    def chunk(self) -> int:
        return self.last_plan.chunk

    @property
    def overlap(self) -> int:
        return self.last_plan.overlap

    @property
    def tile_hw(self) -> tuple[int, int] | None:
        return self.last_plan.tile_hw

    @property
    def tile(self) -> int | None:
        """The longer side of the most recent stream's tiles (``None`` = whole frames)."""
        return self.last_plan.tile

    @property
    def plan(self) -> Plan | None:
        return self.last_plan.plan

    def release_freed_memory(self) -> None:
        """Stop keeping freed blocks in the heap (process-wide, see ``inference/allocator.py``):
        for a job whose frame-sized buffers do not fit the budget with the heap's slack."""
        if self.keeps_freed_memory:
            release_freed_memory()
            self.keeps_freed_memory = False

    def working_set(self) -> WorkingSet:
        """The model's measured working set (a probe of a few 32x32 frames, cached per model)."""
        luma = self.model.colour == "y"
        key = (self.precision, str(self.device), luma)
        cache = _WORKING_SETS.setdefault(self.model, {})
        if key not in cache:
            model = self.model

            def measure() -> WorkingSet:
                try:
                    return measure_working_set(
                        lambda x, states: self._model_call(0, x, states),
                        model.temporal,
                        model.window,
                        3,
                        model.size_multiple,
                        self.device,
                    )
                except Exception:  # a model that cannot run tiny frames: trust its declaration
                    return declared_working_set(model)

            disk_key = None
            if model.arch_name is not None:
                disk_key = "|".join(
                    [
                        "v3",
                        model.arch_name,
                        json.dumps(model.arch_args, sort_keys=True, default=str),
                        model.temporal,
                        self.precision,
                        self.device.type,
                        str(model.in_channels),
                        f"torch {torch.__version__}",
                    ]
                )
            cache[key] = cached_working_set(disk_key, measure)
        return cache[key]

    def plan_video(
        self, height: int, width: int, num_frames: int | None = None, encoder_bytes: int | None = None
    ) -> Plan:
        """The plan (chunk, overlap, tiles) for frames of this size; changes nothing on the engine.

        ``encoder_bytes``: what the output encoder of a file job holds
        (:func:`freqvsr.io.encode.encoder_memory`); the plan then counts the job's frame-sized I/O
        in the budget, and the default budget grows by that I/O (``memory.default_memory_budget``).
        ``None``: frames go to the caller. On a GPU the I/O is host memory, outside its budget."""
        temporal = self.model.temporal
        needs_probe = not (self.tile_request == 0 and self.chunk_request is not None)
        ws = self.working_set() if needs_probe else declared_working_set(self.model)
        if self.device.type != "cpu":
            encoder_bytes = None
        io = None if encoder_bytes is None else job_io_bytes(height, width, self.scale, encoder_bytes)
        slack, io_slack = (HEAP_SLACK, IO_HEAP_SLACK) if self.keeps_freed_memory else (1.0, IO_SAFETY)
        budget = self.memory_budget or default_memory_budget(self.device, io_bytes=int(io_slack * (io or 0)))
        max_chunk = MAX_CHUNK
        if num_frames and temporal == "sequence":
            max_chunk = max(1, min(MAX_CHUNK, int(num_frames)))
        p = plan(
            height,
            width,
            working_set=ws,
            budget=budget,
            temporal=temporal,
            scale=self.scale,
            chunk=self.chunk_request,
            overlap=self.overlap_request,
            tile=self.tile_request,
            tile_overlap=self.tile_overlap,
            size_multiple=self.model.size_multiple,
            window=self.model.window,
            host_buffers=self.device.type == "cpu",
            max_chunk=max_chunk,
            num_frames=num_frames,
            allocator_slack=slack,
            encoder_bytes=encoder_bytes,
            io_slack=io_slack,
        )
        if not p.fits and self.tile_request is None:
            warnings.warn(
                f"no plan fits the memory budget ({p.describe()}); lower chunk= or pass a larger memory_budget=",
                stacklevel=3,
            )
        return p

    # --------------------------------------------------------------- compute
    def _forward(
        self, x: torch.Tensor, run: StreamPlan, states: dict | None = None, where: dict | None = None
    ) -> torch.Tensor:
        """Run the model over (B, T, C, H, W) (or one online frame) with tiling; on out-of-memory,
        halve this stream's tiles and retry (online models keep one state per tile, so their
        tiling is fixed)."""
        while True:
            try:
                return self._forward_tiled(x, run, states, where)
            except (RuntimeError, torch.OutOfMemoryError) as exc:
                if not is_oom(exc):
                    raise
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                h, w = x.shape[-2:]
                current = run.tile or max(h, w)
                if current <= 32 or states is not None:
                    where = "GPU" if self.device.type == "cuda" else "CPU"
                    raise FreqVSRError(
                        f"out of {where} memory with {current}px tiles; try tile=32, chunk={max(1, run.chunk // 2)}"
                        + (" or device=cpu" if self.device.type == "cuda" else "")
                    ) from exc
                side = max(32, current // 2 // 8 * 8)
                run.tile_hw = (side, side)

    def _model_call(self, index: int, xt: torch.Tensor, states: dict | None, where: dict | None = None) -> torch.Tensor:
        """One model call on a (tile of a) clip; online models keep one state per tile ``index``.
        ``where`` (``frame_offset``, ``ends_video``): where the clip sits in the video, passed on
        to models that declare ``uses_frame_index`` (their output depends on it)."""
        net = self._net
        kwargs = where if where is not None and getattr(net, "uses_frame_index", False) else {}

        def call(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad(), autocast(self.device, self.precision):
                if states is None:
                    return net(x, **kwargs).float()
                if index not in states:
                    states[index] = net.init_state(x)
                y, states[index] = net.step(x, states[index])
                return y.float()

        try:
            return call(xt)
        except RuntimeError as exc:
            if not self.channels_last or is_oom(exc):
                raise
            # e.g. "view size is not compatible with input tensor's size and stride"
            self.channels_last = False
            net.to(memory_format=torch.contiguous_format)
            return call(xt)

    def _forward_tiled(
        self, x: torch.Tensor, run: StreamPlan, states: dict | None, where: dict | None = None
    ) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        y = run_tiled(
            lambda i, xt: self._model_call(i, xt, states, where),
            x,
            self.scale,
            run.tile_hw,
            self.tile_overlap,
            self.model.size_multiple,
            accumulate_dtype=getattr(torch, run.accumulate),
        )
        return y.clamp_(0.0, 1.0).cpu()  # float32, or float16 from a tiled call that planned it

    # -------------------------------------------------------------- streaming
    def stream(
        self,
        frames: Iterable[torch.Tensor],
        *,
        resume_from: int = 0,
        resume_frame: int = 0,
        resume_state: Any = None,
        num_frames: int | None = None,
        fixed_plan: dict | StreamPlan | None = None,
        encoder_bytes: int | None = None,
    ) -> UpscaleStream:
        """Yield :class:`SRFrame` and :class:`SegmentEnd` events for a stream of (C, H, W) frames: float
        in [0, 1], or the decoder's uint8 (0..255) / uint16 (0..65535) samples, which are converted
        per model call and take 4x / 2x less memory while they wait in the look-ahead.

        ``resume_from`` is the first segment not yet finished and ``resume_frame`` its first frame:
        frames of earlier segments are read (and recomputed only where a later frame's
        cross-fade needs them) but not yielded. ``resume_state`` is the online model's state saved
        with the last finished segment. ``num_frames`` (an estimate is fine) lets the plan fit the
        chunk to a short video; ``fixed_plan`` (``{"chunk", "overlap", "tile"}``, as
        :meth:`StreamPlan.record` gives, or a :class:`StreamPlan`) replaces the plan, so a resumed job
        computes what it began with and a checked job what was checked.
        ``encoder_bytes``: see :meth:`plan_video`.

        The returned iterator is an :class:`UpscaleStream`: its ``plan`` is this stream's own.
        """
        stream = UpscaleStream()
        stream.events = self._events(
            stream, frames, resume_from, resume_frame, resume_state, num_frames, fixed_plan, encoder_bytes
        )
        return stream

    def _events(
        self,
        stream: UpscaleStream,
        frames: Iterable[torch.Tensor],
        resume_from: int,
        resume_frame: int,
        resume_state: Any,
        num_frames: int | None,
        fixed_plan: dict | StreamPlan | None,
        encoder_bytes: int | None = None,
    ) -> Iterator[SRFrame | SegmentEnd]:
        it = iter(frames)
        first = next(it, None)
        if first is None:
            raise FreqVSRError("the input has no frames")
        if isinstance(fixed_plan, StreamPlan):
            run = fixed_plan
        elif fixed_plan is not None:
            run = StreamPlan.from_record(fixed_plan)
        else:
            run = StreamPlan.from_plan(
                self.plan_video(*first.shape[-2:], num_frames=num_frames, encoder_bytes=encoder_bytes)
            )
        stream.plan = self.last_plan = run

        def chained() -> Iterator[torch.Tensor]:
            yield first
            yield from it

        source = chained()
        temporal = self.model.temporal
        if temporal == "sequence":
            yield from self._stream_sequence(source, run, resume_from, resume_frame)
        elif temporal == "online":
            yield from self._stream_online(source, run, resume_from, resume_state)
        elif temporal in ("image", "window"):
            yield from self._stream_batches(source, run, resume_from)
        else:
            raise FreqVSRError(f"model {type(self.model).__name__} has unknown temporal kind {temporal!r}")

    def plan_record(self) -> dict:
        """The most recent stream's plan as JSON-able data (see :meth:`StreamPlan.record`)."""
        return self.last_plan.record()

    def _stream_sequence(
        self, source: Iterator[torch.Tensor], run: StreamPlan, resume_from: int, resume_frame: int
    ) -> Iterator[SRFrame | SegmentEnd]:
        chunk, step = run.chunk, run.chunk - run.overlap
        ahead = _Lookahead(source)
        buffer = ahead.frames

        # pending[i] = (weighted sum, weight sum) of SR frame i over the chunks that covered it
        pending: dict[int, tuple[torch.Tensor, float]] = {}
        pending_dtype = getattr(torch, run.accumulate)
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
                clip = _stack([buffer[i] for i in range(start, end)])[None]
                where = {"frame_offset": start, "ends_video": next_start is None}
                sr = self._forward(clip, run, where=where)[0]  # ours: weighted in place, no full-chunk copies
                del clip
                fall_len = (end - next_start) if next_start is not None else 0
                rise_len = max(0, prev_end - start)
                for j, i in enumerate(range(start, end)):
                    w = 1.0
                    if i < prev_end:
                        w = min(w, (i - start + 1) / (rise_len + 1))
                    if next_start is not None and i >= next_start:
                        w = min(w, (end - i) / (fall_len + 1))
                    frame = _frame(sr, j)
                    if w != 1.0:
                        frame.mul_(w)
                    acc, wsum = pending.get(i, (None, 0.0))
                    if acc is None:
                        # frames the next chunk fades into are copied (float16 when the plan
                        # says so), so this chunk's output is freed once its frames are encoded
                        acc = frame.to(pending_dtype, copy=True) if i >= emit_end else frame
                    else:
                        acc = acc.add_(frame)
                    pending[i] = (acc, wsum + w)
                del sr
            for i in range(start, emit_end):
                acc, wsum = pending.pop(i, (None, 0.0))
                if seg >= resume_from:
                    image = acc if acc.dtype == torch.float32 else acc.float()
                    yield SRFrame(i, image if wsum == 1.0 else image.div_(wsum))
            ahead.drop_before(emit_end)
            if seg >= resume_from:
                yield SegmentEnd(seg, start, emit_end, last=next_start is None)
            if next_start is None:
                return
            prev_end, start, seg = end, next_start, seg + 1

    def _stream_batches(
        self, source: Iterator[torch.Tensor], run: StreamPlan, resume_from: int
    ) -> Iterator[SRFrame | SegmentEnd]:
        window = self.model.window if self.model.temporal == "window" else 1
        radius = window // 2
        ahead = _Lookahead(source)
        buffer = ahead.frames

        start, seg = 0, 0
        while True:
            ahead.fill(start + run.chunk + radius)
            n_read, eof = ahead.n_read, ahead.eof
            end = min(start + run.chunk, n_read)
            if end <= start:
                return
            if seg >= resume_from:
                if window == 1:
                    clip = _stack([buffer[i] for i in range(start, end)])[None]  # (1, T, C, H, W)
                    sr = self._forward(clip, run)[0]
                else:
                    # clamp window indices into the video: edge frames are repeated
                    hi = n_read - 1 if eof else n_read + radius
                    idx = [[min(max(t + d, 0), hi) for d in range(-radius, radius + 1)] for t in range(start, end)]
                    clip = torch.stack([_stack([buffer[i] for i in row]) for row in idx])  # (B, window, C, H, W)
                    sr = self._forward(clip, run)
                for j, i in enumerate(range(start, end)):
                    yield SRFrame(i, _frame(sr, j))
                yield SegmentEnd(seg, start, end, last=eof and end >= n_read)
            ahead.drop_before(end - radius)
            if eof and end >= n_read:
                return
            start, seg = end, seg + 1

    def _stream_online(
        self, source: Iterator[torch.Tensor], run: StreamPlan, resume_from: int, resume_state: Any
    ) -> Iterator[SRFrame | SegmentEnd]:
        # One state per tile, explicit, created fresh for every video (or restored on resume).
        states: dict = {k: _to_device(v, self.device) for k, v in (resume_state or {}).items()}
        chunk = run.chunk
        start = resume_from * chunk
        n = 0
        for i, frame in enumerate(source):
            n = i + 1
            if i < start:
                continue
            yield SRFrame(i, _frame(self._forward(_stack([frame]), run, states), 0))
            if n % chunk == 0:
                yield SegmentEnd(i // chunk, n - chunk, n, state=_detach_state(states))
        if n > start and n % chunk != 0:
            yield SegmentEnd(n // chunk, n // chunk * chunk, n, state=_detach_state(states), last=True)

    # ---------------------------------------------------------- convenience
    def upscale_clip(self, lq: torch.Tensor) -> torch.Tensor:
        """Upscale a whole (T, C, H, W) clip in [0, 1] held in memory; returns (T, C, sH, sW)."""
        out = [ev.image for ev in self.stream(iter(lq), num_frames=len(lq)) if isinstance(ev, SRFrame)]
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


class UpscaleStream(Iterator[SRFrame | SegmentEnd]):
    """The events of one input's pass through an :class:`Upscaler` (what :meth:`Upscaler.stream`
    returns): iterate it once; ``close()`` stops it.

    ``plan`` is this stream's :class:`StreamPlan`, known once the first frame has been read (it is
    planned from that frame's size): ``None`` before. Nothing of it is kept on the engine except as
    ``Upscaler.last_plan``, for reports.
    """

    def __init__(self) -> None:
        self.plan: StreamPlan | None = None
        self.events: Iterator[SRFrame | SegmentEnd] = iter(())

    def __next__(self) -> SRFrame | SegmentEnd:
        return next(self.events)

    def close(self) -> None:
        close = getattr(self.events, "close", None)
        if close is not None:
            close()


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


def _stack(frames: list[torch.Tensor]) -> torch.Tensor:
    """Stack (C, H, W) frames into (T, C, H, W) float32 in [0, 1]; uint8/uint16 frames (what a
    decoder gives, 4x/2x smaller to hold in the look-ahead) are converted here."""
    x = torch.stack(frames)
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    if x.dtype == torch.uint16 or x.dtype == torch.int32:
        return x.float().div_(65535.0)
    return x if x.dtype == torch.float32 else x.float()


def _frame(sr: torch.Tensor, j: int) -> torch.Tensor:
    """Frame ``j`` of a call's output as float32 (a view, or a copy of a float16 accumulator)."""
    return sr[j] if sr.dtype == torch.float32 else sr[j].float()


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


def segment_bounds(temporal: str, num_frames: int, chunk: int, overlap: int = 0) -> list[tuple[int, int]]:
    """``(start, end)`` frames of every segment the engine emits for a ``num_frames``-frame video
    under a plan of ``chunk``/``overlap``, without running it: the schedule of
    :meth:`Upscaler._stream_sequence` (look-ahead included) for ``sequence`` models, batches of
    ``chunk`` frames otherwise. Processes that share one video's segments (``scale_out.py``)
    agree on them from this; ``tests/test_engine.py`` holds it to the engine's events."""
    n = int(num_frames)
    if n <= 0:
        return []
    if temporal != "sequence":
        return [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    step = chunk - overlap
    bounds, start = [], 0
    while True:
        n_read = min(n, start + chunk + step)  # what _Lookahead.fill(start + chunk + step) reads
        end = min(start + chunk, n_read)
        if n_read >= start + step + chunk:
            next_start: int | None = start + step
        elif n_read > end:
            next_start = max(start + 1, n_read - chunk)
        else:
            next_start = None
        bounds.append((start, end if next_start is None else next_start))
        if next_start is None:
            return bounds
        start = next_start


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8/uint16 -> (C, H, W) float32 in [0, 1]."""
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(scale)


def to_array(image: torch.Tensor, dtype: np.dtype | type = np.uint8, *, inplace: bool = False) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H, W, C) array of ``dtype`` (uint8 or uint16), rounded.

    ``inplace=True`` scales ``image`` itself (no float copy of a frame that is not needed after).
    """
    scale = 65535.0 if np.dtype(dtype) == np.uint16 else 255.0
    scaled = image.mul_(scale) if inplace else image.mul(scale)
    scaled = scaled.round_().clamp_(0, scale)
    if np.dtype(dtype) == np.uint8:
        # cast and reorder in one copy into the (H, W, C) result: one frame-sized allocation, not
        # two (a cast, then a contiguous reorder); as fast on 720p frames (2.6 vs 2.5-3.3 ms)
        out = torch.empty((scaled.shape[1], scaled.shape[2], scaled.shape[0]), dtype=torch.uint8)
        return out.copy_(scaled.permute(1, 2, 0)).numpy()
    return scaled.permute(1, 2, 0).numpy().astype(dtype)


def upscale_alpha(alpha: np.ndarray, scale: int) -> np.ndarray:
    """An (H, W) uint8/uint16 transparency plane, up-sampled ``scale`` times with the bicubic of
    the ``bicubic`` model (MATLAB imresize), rounded and clamped to the input's range.

    Why not the network: the models are trained on natural colour images, and an alpha matte is
    mostly flat regions with hard edges, where they have nothing to add (and could ring or shift
    a mask's edges); bicubic is exact on flat areas, smooth on edges, deterministic, and costs
    about a hundredth of a model call, so keeping alpha does not slow a job down.
    """
    peak = 65535.0 if alpha.dtype == np.uint16 else 255.0
    plane = torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None]
    up = bicubic_upsample(plane, scale)[0]
    return up.round_().clamp_(0, peak).numpy().astype(alpha.dtype)


def to_lr_tensor(image: np.ndarray) -> torch.Tensor:
    """A decoded (H, W, C) frame as the engine's input: uint8 stays uint8 (a (C, H, W) view, 4x
    smaller than float while it waits in queues and the look-ahead); uint16 -> float32 in [0, 1]."""
    if image.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    return to_tensor(image)
