"""Memory planning: how many frames per model call and which tiles fit a memory budget.

The engine plans against a *budget*, not against all free memory: a laptop that reports 12 GiB
available is still a laptop, and a job that takes it all makes the machine swap as soon as the
user opens a browser. The default budget is ``min(available / 2, 2 GiB)`` of host RAM on CPU
(``0.8 x`` free memory on a GPU, which nothing else shares); ``--memory-budget`` changes it.

What is planned, for a frame of H x W LR pixels:

* the number of frames per model call T (the temporal chunk of ``sequence`` models, the batch of
  ``image``/``window`` models; ``online`` models see one frame per step);
* the tile grid: whole frames when they fit, else the *cheapest* grid of tiles that fits. Tiles
  are rectangles, not squares: a 640x360 frame that needs halving is cut into two 360x328 tiles
  (2.5 % extra pixels), not six 304x304 squares (2.4x the pixels, which is what the old square
  planner did).

The cost that is minimised is the compute per output frame relative to one untiled, unchunked
pass: ``(pixels of all tiles, overlaps and an 8-pixel rim per tile included) / (frame pixels) x
T / (T - overlap)`` (a sequence model recomputes ``overlap`` frames of every chunk for the
cross-fade; with the video's length known, the exact schedule is priced).

The model's working set comes from a *measured* :class:`WorkingSet`: tiny probe runs (32x32
frames) under a dispatch mode that tracks the bytes of every live tensor, fitted as two lines in
T per LR pixel (see :class:`WorkingSet`); measured once per model and machine and cached in
``~/.cache/freqvsr``. Models whose probe fails fall back to their declared
``bytes_per_lr_pixel``. The engine's buffers that grow with the chunk (the blended output of a
tiled call, the cross-faded frames kept for the next chunk) are counted in the budget at
full-frame size; so are the frame-sized I/O buffers (the SR frames queued for the encoder, the
LR look-ahead and decode queue) and the output encoder's own pictures, which for the x4 output of
a large input dominate everything else (a 4K input makes 15360x8640 frames: libx264 then holds
about 3.8 GB, see :func:`freqvsr.io.encode.encoder_memory`). The budget covers all of it
(``Plan.bytes + Plan.io_bytes``); the default budget is 2 GiB for the computation *plus* what the
output's I/O needs, at most half of the available memory, so a large input gets the memory its
output format needs or a one-line refusal (:func:`check_fits`), never a silent overrun.
"""

from __future__ import annotations

import dataclasses
import math
import re
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from freqvsr.errors import ResourceError, UsageError
from freqvsr.models import VSRModel

GIB = 1 << 30
DEFAULT_CPU_CAP = 2 * GIB
# Tensors the dispatch-level probe cannot see (oneDNN scratch pads, reorders of weights) and the
# allocator's own slack: the probe read 8 % below torch.profiler's allocator events for
# basicvsr.small.mix, and a 32-frame 320x180 chunk peaked 5 % above the probe in RSS.
SAFETY = 1.15
# The same margin for a job's frame-sized I/O with the system allocator (with the kept heap,
# allocator.IO_HEAP_SLACK applies instead): the 8K -> PNG job (30720x17280 frames) peaked 0.46 GB
# above its planned model + I/O + the idle process, 4.5 % over an 18 GiB budget planned without it.
IO_SAFETY = 1.1
MAX_CHUNK = 64
_MIN_TILE = 32
_FALLBACK_BYTES_PER_PIXEL = 4096.0


def parse_memory_size(text: str | int | float | None) -> int | None:
    """``"2G"``, ``"2GiB"``, ``"1500M"``, ``"2.5"`` (GiB), bytes as an int; ``None``/``"auto"`` -> None."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = int(text)
        if value <= 0:
            raise UsageError(f"memory_budget={text}: must be positive")
        return value
    s = str(text).strip().lower()
    if s in ("", "auto"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?b)?", s)
    if not m:
        raise UsageError(f"memory_budget={text!r}: expected a size such as 2G, 1500M or 2.5 (GiB)")
    number, unit = float(m.group(1)), m.group(2) or "g"
    value = int(number * (1 << (10 * "kmgt".index(unit) + 10)))
    if value < (64 << 20):
        raise UsageError(f"memory_budget={text}: at least 64M is needed")
    return value


def available_memory(device: torch.device) -> int:
    """Bytes free on ``device`` now (GPU: free device memory; CPU: MemAvailable)."""
    import os

    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * GIB


def job_io_bytes(
    height: int, width: int, scale: int, encoder_bytes: int, out_channels: int = 3, sr_value_bytes: int = 4
) -> int:
    """Host bytes a file job's output side needs for ``height`` x ``width`` LR frames, whatever the
    plan: one SR frame queued for the encoder and the one it converts (in place, to uint8; float32,
    or float16 with ``sr_value_bytes=2`` when tiles are blended in float16), that uint8 image, and
    the encoder's own pictures (``encoder_bytes``)."""
    hr = float(out_channels * scale * scale * height * width)
    return int(hr * (2 * sr_value_bytes + 1) + encoder_bytes)


def default_memory_budget(device: torch.device, io_bytes: int = 0) -> int:
    """``min(available / 2, 2 GiB + io_bytes)`` on CPU; 80 % of the free memory of a GPU.

    ``io_bytes``: host memory the job's frame-sized I/O needs whatever the plan (the encoder's
    pictures, queued output frames). It lives on the host, so a GPU budget does not include it."""
    free = available_memory(device)
    if device.type == "cuda":
        return int(free * 0.8)
    return int(min(free // 2, DEFAULT_CPU_CAP + max(0, int(io_bytes))))


# --------------------------------------------------------------------------- the working set
@dataclasses.dataclass(frozen=True)
class WorkingSet:
    """Peak bytes of one model call, per LR pixel of its input (one tile), for ``frames`` per call:

        fixed + pixels * max(per_pixel + per_pixel_frame * frames,
                             batch_per_pixel + batch_per_pixel_frame * frames)

    Two lines because a model's peak moves between phases as the chunk grows: BasicVSR's peak is
    the reconstruction of one frame (12 KB/pixel, + 348 B per frame of the chunk) up to ~12 frames,
    then SPyNet, which estimates the flows of all 2 (T - 1) frame pairs in one batch (1.56 KB per
    pixel per frame). ``source``: ``"measured"``, ``"declared"`` or ``"default"``.
    """

    fixed: float
    per_pixel: float
    per_pixel_frame: float
    source: str = "measured"
    batch_per_pixel: float = 0.0
    batch_per_pixel_frame: float = 0.0

    def bytes(self, frames: int, pixels: int) -> float:
        return self.fixed + pixels * max(
            self.per_pixel + self.per_pixel_frame * frames, self.batch_per_pixel + self.batch_per_pixel_frame * frames
        )


class _LiveBytes(TorchDispatchMode):
    """Peak bytes of the tensors alive inside the mode (views counted once, by storage)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list] = {}
        self.current = 0
        self.peak = 0

    def _collect(self) -> None:
        dead = [k for k, (_, refs) in self.live.items() if all(r() is None for r in refs)]
        for k in dead:
            self.current -= self.live.pop(k)[0]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self._collect()
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = storage.data_ptr()
            if key == 0:
                continue
            if key in self.live:
                self.live[key][1].append(weakref.ref(t))
            else:
                self.live[key] = [storage.nbytes(), [weakref.ref(t)]]
                self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def _peak_bytes(fn: Callable[[], Any]) -> int:
    # Probe frames are tiny: one thread is faster than two fighting over shared cores, and the
    # numbers do not depend on it.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad(), _LiveBytes() as tracker:
            result = fn()
            del result
    finally:
        torch.set_num_threads(threads)
    return tracker.peak


def measure_working_set(
    call: Callable[[torch.Tensor, dict | None], torch.Tensor],
    temporal: str,
    window: int,
    channels: int,
    multiple: int,
    device: torch.device,
) -> WorkingSet:
    """Fit a :class:`WorkingSet` from tiny probe runs of ``call(x, states)``.

    ``call`` is the engine's own model call (autocast, luma handling included); ``states`` is a
    dict for online models (``None`` otherwise). Frames are 32x32 LR pixels (rounded up to
    ``multiple``). Sequence models: 2, 4, 12 and 20 frames per call (the first two give the line
    of small chunks, the last two the line of long ones); image models 2 and 4; window models a
    batch of 1 and 2 windows; online models two steps with a state, at 64x64 and 128x128, which
    separates the size-independent bytes from the per-pixel ones (the default model's flow network
    pads its half-size pyramid to 32-pixel multiples: at 32x32 that fixed part read as 4.7 KB per
    pixel, 4x its 1.16 KB at 128x128 and 256x256). Otherwise size-independent bytes are folded into
    the per-pixel terms (folding over-estimates, never under-estimates).
    """
    side = max(32, -(-32 // multiple) * multiple)
    px = side * side

    def clip(frames: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(0)
        if temporal == "window":
            shape = (frames, window, channels, side, side)
        elif temporal == "online":
            shape = (1, channels, side, side)
        else:
            shape = (1, frames, channels, side, side)
        return torch.rand(shape, generator=g).to(device)

    if temporal == "online":

        def two_steps(s: int) -> float:
            x = torch.rand((1, channels, s, s), generator=torch.Generator().manual_seed(0)).to(device)

            def run():
                states: dict = {}
                call(x, states)
                return call(x, states), states  # the second step holds a state, as in a stream

            return float(_peak_bytes(run))

        s1 = max(64, -(-64 // multiple) * multiple)
        s2 = 2 * s1
        p1, p2 = two_steps(s1), two_steps(s2)
        per_pixel = max(0.0, (p2 - p1) / (s2 * s2 - s1 * s1))
        return WorkingSet(fixed=max(0.0, p1 - per_pixel * s1 * s1), per_pixel=per_pixel, per_pixel_frame=0.0)

    def line(f1: int, f2: int) -> tuple[float, float]:
        x1, x2 = clip(f1), clip(f2)
        p1 = _peak_bytes(lambda: call(x1, None)) / px
        p2 = _peak_bytes(lambda: call(x2, None)) / px
        slope = max(0.0, (p2 - p1) / (f2 - f1))
        return p1 - slope * f1, slope

    if temporal == "window":
        base, slope = line(1, 2)
        return WorkingSet(fixed=0.0, per_pixel=max(0.0, base), per_pixel_frame=slope)
    base, slope = line(2, 4)
    ws = WorkingSet(fixed=0.0, per_pixel=max(0.0, base), per_pixel_frame=slope)
    if temporal == "sequence":
        long_base, long_slope = line(12, 20)
        ws = dataclasses.replace(ws, batch_per_pixel=long_base, batch_per_pixel_frame=long_slope)
    return ws


def declared_working_set(model: VSRModel) -> WorkingSet:
    """The model's declared ``bytes_per_lr_pixel`` (per frame), or a conservative 4 KiB per pixel."""
    declared = model.bytes_per_lr_pixel
    per = float(declared) if declared else _FALLBACK_BYTES_PER_PIXEL
    if model.temporal == "online":
        return WorkingSet(0.0, per, 0.0, source="declared" if declared else "default")
    return WorkingSet(0.0, per, per, source="declared" if declared else "default")


# --------------------------------------------------------------------------------- the plan
@dataclasses.dataclass(frozen=True)
class Plan:
    """What the engine runs for frames of one size, and what it is expected to cost."""

    chunk: int
    overlap: int
    tile: tuple[int, int] | None  # (tile_h, tile_w) in LR pixels, None = whole frames
    tiles: int  # tiles per frame
    cost: float  # compute per output frame relative to one untiled pass, >= 1
    bytes: int  # planned peak working set (model + engine buffers)
    budget: int
    queue_frames: int  # SR frames the encoder queue may hold
    accumulate: str  # dtype of blended/cross-faded SR frames: float32 | float16
    fits: bool  # bytes + io_bytes <= budget
    io_bytes: int = 0  # frame-sized I/O: queued SR frames, the encoder, LR look-ahead

    def describe(self) -> str:
        tiles = "whole frames" if self.tile is None else f"{self.tiles} tiles of {self.tile[0]}x{self.tile[1]}"
        acc = ", float16 accumulation" if self.accumulate == "float16" else ""
        return (
            f"chunk {self.chunk} overlap {self.overlap}, {tiles}{acc}, compute x{self.cost:.2f}, "
            f"{self.bytes / 2**20:.0f} MiB + {self.io_bytes / 2**20:.0f} MiB I/O "
            f"of a {self.budget / 2**20:.0f} MiB budget"
        )


def tile_grid(size: int, tile: int, overlap: int) -> int:
    """How many tiles of ``tile`` cover ``size`` with ``overlap`` (as :func:`tiling.tile_starts`)."""
    if tile >= size:
        return 1
    step = max(1, tile - min(overlap, tile // 2))
    return math.ceil((size - tile) / step) + 1


def _tile_sides(size: int, overlap: int, align: int) -> list[int]:
    """Candidate tile lengths along one axis: the smallest length for each tile count."""
    sides = {size}
    for n in range(2, size // _MIN_TILE + 2):
        side = math.ceil((size + (n - 1) * overlap) / n)
        side = min(size, -(-side // align) * align)
        if side < _MIN_TILE:
            break
        sides.add(side)
    return sorted(sides, reverse=True)


def sequence_cost(chunk: int, overlap: int, num_frames: int | None = None) -> float:
    """Frames a sequence model computes per output frame with this chunk schedule.

    Mirrors ``Upscaler._stream_sequence``: chunks step by ``chunk - overlap``; the last one is
    moved back to keep ``chunk`` frames. Unknown or long videos: ``chunk / (chunk - overlap)``.
    """
    step = chunk - overlap
    if not num_frames or num_frames > 50 * chunk:
        return chunk / step
    computed, start = 0, 0
    while True:
        n_read = min(num_frames, start + chunk + step)
        end = min(start + chunk, n_read)
        if n_read >= start + step + chunk:
            nxt = start + step
        elif n_read > end:
            nxt = max(start + 1, n_read - chunk)
        else:
            nxt = None
        computed += end - start
        if nxt is None:
            return computed / num_frames
        start = nxt


def default_overlap(chunk: int, temporal: str) -> int:
    """Cross-faded frames for a chunk: 8 from 32 frames up, a quarter of shorter chunks."""
    if temporal != "sequence" or chunk < 2:
        return 0
    return 8 if chunk >= 32 else max(1, chunk // 4)


# Chunks of a sequence model the planner tries. Bidirectional models need context: chunks of 16
# frames or more are preferred at any tile cost; shorter ones only when nothing else fits the
# budget (or the video is short).
_PREFERRED_CHUNKS = (64, 56, 48, 40, 32, 28, 24, 20, 16)
_FALLBACK_CHUNKS = (12, 8, 6, 4, 3, 2)


def plan(
    height: int,
    width: int,
    *,
    working_set: WorkingSet,
    budget: int,
    temporal: str,
    scale: int,
    out_channels: int = 3,
    chunk: int | None = None,
    overlap: int | None = None,
    tile: int | None = None,
    tile_overlap: int = 16,
    size_multiple: int = 1,
    window: int = 1,
    host_buffers: bool = True,
    max_chunk: int = MAX_CHUNK,
    num_frames: int | None = None,
    allocator_slack: float = 1.0,
    encoder_bytes: int | None = None,
    io_slack: float = 1.0,
) -> Plan:
    """The cheapest (chunk, tiles) whose working set fits ``budget`` (see the module docstring).

    ``chunk``/``overlap`` fix the frames per call; ``tile`` fixes square tiles (``0`` = whole
    frames). ``host_buffers`` counts the engine's full-frame buffers in the same budget (CPU).
    ``num_frames`` (the video's length, when known) prices a sequence model's chunks exactly,
    short last chunk included; unknown, a chunk of T frames with K of overlap costs T / (T - K).
    When nothing fits, the smallest configuration is returned with ``fits=False``.
    ``allocator_slack`` scales the model's working set for an allocator that keeps freed blocks
    (:data:`freqvsr.inference.allocator.HEAP_SLACK`): peak RSS, not live tensors, is what the
    budget promises. ``encoder_bytes``: what the output encoder of a job holds
    (:func:`freqvsr.io.encode.encoder_memory`); with the SR frames queued for it and the LR
    look-ahead it makes ``Plan.io_bytes``, which the budget covers too (``fits`` means bytes +
    io_bytes <= budget). ``None``: frames go to the caller (``Upscaler.upscale_clip``), who owns
    them; only the look-ahead is counted. ``io_slack`` scales that I/O as ``allocator_slack`` the
    model (:data:`freqvsr.inference.allocator.IO_HEAP_SLACK`).
    """
    frame_px = height * width
    hr32 = 4.0 * out_channels * scale * scale * frame_px  # one float32 SR frame
    lr32 = 4.0 * 3 * frame_px  # one float32 LR frame (a model call's input)
    lr8 = 3.0 * frame_px  # one decoded uint8 LR frame (queues, look-ahead)

    if chunk is not None:
        tiers = [[chunk]]
    elif temporal == "online":
        tiers = [[8]]
    elif temporal == "sequence":
        if num_frames and num_frames <= 50 * MAX_CHUNK:
            # a known length: every chunk size, so chunks can tile the video evenly (32 frames
            # as [0, 18) + [14, 32) computes 36 frames; [0, 16) + [12, 28) + [16, 32) 48)
            sizes = range(2, max_chunk + 1)
        else:
            sizes = _PREFERRED_CHUNKS + _FALLBACK_CHUNKS + (max_chunk,)
        long = _PREFERRED_CHUNKS[-1]
        tiers = [
            sorted({c for c in sizes if long <= c <= max_chunk} | {max_chunk}, reverse=True),
            sorted({c for c in sizes if c < min(max_chunk, long)}, reverse=True),
        ]
    else:  # image / window: batches
        tiers = [[c for c in (8, 4, 2, 1) if c <= max(1, max_chunk)]]

    align = max(8, size_multiple)
    if tile == 0:
        grids = [(None, 1, frame_px)]
    elif tile:
        th, tw = min(tile, height), min(tile, width)
        n = tile_grid(height, th, tile_overlap) * tile_grid(width, tw, tile_overlap)
        grids = [((th, tw), n, th * tw)] if (th, tw) != (height, width) else [(None, 1, frame_px)]
    else:
        grids = []
        for th in _tile_sides(height, tile_overlap, align):
            for tw in _tile_sides(width, tile_overlap, align):
                if (th, tw) == (height, width):
                    grids.append((None, 1, frame_px))
                else:
                    n = tile_grid(height, th, tile_overlap) * tile_grid(width, tw, tile_overlap)
                    grids.append(((th, tw), n, th * tw))

    # Queue to the encoder: up to 8 SR frames, fewer when frames are large (an 8K float frame
    # is 400 MB); at least 1.
    queue = int(max(1, min(8, (0.05 * budget) // max(hr32, 1))))

    temporal_costs: dict[int, tuple[int, float]] = {}

    def io_bytes(t: int, k: int, sr_frame: float) -> float:
        # Frame-sized I/O: SR frames queued for the encoder and the one being converted (float32,
        # converted to uint8 in place), its uint8 image, the encoder's own pictures, and the LR
        # frames of the look-ahead and the decode queue.
        lr_frames = 8 + (2 * t - k if temporal == "sequence" else t + 8)
        if encoder_bytes is None:
            return lr8 * lr_frames
        value_bytes = 2 if sr_frame < hr32 else 4
        extra_queue = sr_frame * (queue - 1)  # job_io_bytes counts one queued frame
        # these buffers come from the same heap as the model's: the allocator's slack applies
        return io_slack * (
            job_io_bytes(height, width, scale, encoder_bytes, out_channels, value_bytes) + extra_queue + lr8 * lr_frames
        )

    def price(t: int, hw, n: int, tile_px: int, acc_bytes: float) -> tuple[int, float, float]:
        if t not in temporal_costs:
            k = overlap if overlap is not None else default_overlap(t, temporal)
            k = min(k, t - 1) if temporal == "sequence" else 0
            temporal_costs[t] = (k, sequence_cost(t, k, num_frames) if temporal == "sequence" else 1.0)
        k, temporal_cost = temporal_costs[t]
        frames_per_call = 1 if temporal == "online" else t
        total = SAFETY * allocator_slack * working_set.bytes(frames_per_call, tile_px) + lr32 * frames_per_call * (
            window if temporal == "window" else 1
        )
        if host_buffers:
            # what grows with the chunk: the blended full-frame output of a tiled call and the
            # cross-faded frames kept for the next chunk
            if hw is not None:
                total += acc_bytes * frames_per_call
            if temporal == "sequence":
                total += acc_bytes * k
        # A tile also costs its border: the network sees replicate padding there, flow and
        # feature alignment lose context, and every call has overhead. Priced as an 8-pixel rim
        # of extra work, which steers the plan away from many tiny tiles.
        spatial = 1.0 if hw is None else n * (hw[0] + 16) * (hw[1] + 16) / frame_px
        # SR frames leave the engine in the accumulator's dtype when tiles are blended
        return k, spatial * temporal_cost, total + io_bytes(t, k, acc_bytes if hw is not None else hr32)

    bests: list = []
    smallest = cheapest = None
    for tier in tiers:
        best = None
        for t in tier:
            for hw, n, tile_px in grids:
                for acc in ("float32", "float16"):
                    acc_bytes = hr32 / (2 if acc == "float16" else 1)
                    k, cost, total = price(t, hw, n, tile_px, acc_bytes)
                    # tie-break: cheaper, then fewer tiles, more frames per call, float32
                    key = (round(cost, 4), n, -t, acc != "float32")
                    cand = (key, t, k, hw, n, cost, total, acc)
                    if total <= budget and (best is None or key < best[0]):
                        best = cand
                    if smallest is None or total < smallest[6]:
                        smallest = cand
                    if cheapest is None or key < cheapest[0]:
                        cheapest = cand
        bests.append(best)
    # Short chunks (the second tier) only when nothing longer fits, or when the longer chunks
    # would need so many tiles that they cost over 1.25x as much.
    fitting = [b for b in bests if b is not None]
    best = fitting[0] if fitting else None
    if len(fitting) == 2 and fitting[0][5] > 1.25 * fitting[1][5]:
        best = fitting[1]
    if best is not None:
        chosen, fits = best, True
    elif tile is not None:
        chosen, fits = cheapest, False  # tiles fixed by the user: their call, at the best speed
    else:
        chosen, fits = smallest, False
    _, t, k, hw, n, cost, total, acc = chosen
    io = io_bytes(t, k, hr32 / (2 if acc == "float16" and hw is not None else 1))
    return Plan(
        chunk=t,
        overlap=k,
        tile=hw,
        tiles=n,
        cost=cost,
        bytes=int(total - io),
        budget=int(budget),
        queue_frames=queue,
        accumulate=acc,
        fits=fits,
        io_bytes=int(io),
    )


def check_fits(p: Plan, what: str, width: int, height: int, scale: int, frames_out: bool = False) -> None:
    """Raise :class:`ResourceError` when even the smallest plan needs more than its budget.

    ``what`` names the input; ``frames_out``: the job already writes PNG frames (so the message
    does not suggest them). The message says where the memory goes; a job never runs past its
    budget silently (the model part alone can always shrink: smaller tiles, shorter chunks)."""
    if p.fits:
        return
    need = p.bytes + p.io_bytes
    raise ResourceError(
        f"{what}: {width}x{height} frames upscale to {width * scale}x{height * scale}, which needs about "
        f"{need / GIB:.1f} GiB ({p.io_bytes / GIB:.1f} GiB of it to queue and encode the output frames), "
        f"over the memory budget of {p.budget / GIB:.1f} GiB; raise memory_budget="
        + ("" if frames_out else ", or write a folder of PNG frames (the least memory per frame)")
    )


# ------------------------------------------------------------------------------ disk cache
def _cache_file():
    import os
    from pathlib import Path

    root = os.environ.get("FREQVSR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "freqvsr"
    )
    return Path(root) / "working_sets.json"


def cached_working_set(key: str | None, measure: Callable[[], WorkingSet]) -> WorkingSet:
    """``measure()`` once per ``key`` per machine: results are kept in ``~/.cache/freqvsr``
    (``$FREQVSR_CACHE_DIR``); ``key=None`` (a model without a registry name) is never stored."""
    import json
    import os

    if key is None:
        return measure()
    path = _cache_file()
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        table = {}
    if isinstance(table.get(key), dict):
        try:
            return WorkingSet(**table[key])
        except TypeError:
            pass
    ws = measure()
    if ws.source == "measured":
        table[key] = dataclasses.asdict(ws)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(table, indent=1, sort_keys=True))
            os.replace(tmp, path)
        except OSError:  # a read-only home is no reason to fail a job
            pass
    return ws
