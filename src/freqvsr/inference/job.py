"""`upscale_video`: a whole file-to-file job around the streaming :class:`Upscaler`.

Three threads overlap the work: a reader decodes frames into a bounded queue, the main thread
computes, a writer encodes into a bounded queue's consumer. Memory is bounded by the queue sizes
and the engine's chunk, never by the video length.

Output is produced segment by segment (one engine segment = one video-only file, or one group of
PNG frames) inside a hidden work folder beside OUTPUT; each finished segment is recorded in
``job.json``. The final step remuxes the segments with the source's audio and subtitle packets
into a temporary file and renames it onto OUTPUT, so a failure never leaves a half-written
OUTPUT, and ``resume=True`` continues an interrupted job at its first unfinished segment with
the same frames an uninterrupted run produces (segments are encoded the same way in both cases).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import os
import queue
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from freqvsr.errors import (
    FreqVSRError,
    InputError,
    InputNotFoundError,
    Interrupted,
    ModelError,
    OutputError,
    UsageError,
)
from freqvsr.inference.device import peak_host_memory
from freqvsr.inference.engine import (
    SegmentEnd,
    SRFrame,
    StreamPlan,
    Upscaler,
    UpscaleStream,
    segment_bounds,
    to_array,
    to_lr_tensor,
    upscale_alpha,
)
from freqvsr.inference.memory import Plan, check_fits
from freqvsr.inference.scale_out import Group, device_for, portable_error, share_segments
from freqvsr.io import (
    VIDEO_EXTENSIONS,
    EncodeSettings,
    FrameFolderWriter,
    SegmentWriter,
    assemble_video,
    check_encoder,
    encoder_memory,
    has_alpha_plane,
    open_input,
    segment_suffix,
)
from freqvsr.io.frame_folder import FRAME_PATTERN, MARKER, frame_size_problem

DEFAULT_MODEL = "fastrealvsr.lite.mix"  # trained weights shipped in freqvsr/weights (tests/test_default_model.py)
_JOB_VERSION = 2  # 2: the plan (chunk, overlap, tile) is recorded in the manifest
_QUEUE_FRAMES = 8
# Seconds between progress lines when stderr is not a terminal (logs, CI, nohup): a long job
# must show it is alive without filling a log with a redrawn bar.
PROGRESS_INTERVAL = 5.0
# Segments after which a job stops as if interrupted (None: run to the end); set only through
# simulated_interruption(), so the public signature carries no test hook.
_STOP_AFTER_SEGMENTS: contextvars.ContextVar[int | None] = contextvars.ContextVar("stop_after_segments", default=None)


@contextlib.contextmanager
def simulated_interruption(segments: int) -> Iterator[None]:
    """Within this block, :func:`upscale_video` stops after ``segments`` finished segments as an
    interrupted job would, leaving its work folder for ``resume=True``: how the tests (and anyone
    checking resumption) interrupt a job at a known point without sending a signal."""
    token = _STOP_AFTER_SEGMENTS.set(int(segments))
    try:
        yield
    finally:
        _STOP_AFTER_SEGMENTS.reset(token)


@dataclasses.dataclass
class UpscaleReport:
    input: str
    output: str
    model: str
    device: str
    precision: str
    frames: int  # frames computed by this run (a resumed job: those after its restart point)
    seconds: float
    fps: float
    peak_memory_bytes: int
    peak_gpu_memory_bytes: int | None
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    tile: int | None
    chunk: int
    overlap: int
    resumed_frames: int = 0
    tile_size: tuple[int, int] | None = None  # (height, width) of the LR tiles, None = whole frames
    memory_budget_bytes: int | None = None
    planned_memory_bytes: int | None = None
    plan: dict | None = None  # the engine's plan: chunk, overlap, tile, accumulate, describe
    frames_in: int = 0  # frames decoded from the input by this run
    frames_out: int = 0  # frames in OUTPUT (a resumed job's earlier segments included)
    frames_lost: int = 0  # input frames lost to corrupt or missing data (see FrameSource.frames_lost)
    alpha: bool = False  # the input's transparency was upscaled into OUTPUT

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def work_dir_for(output: Path) -> Path:
    """The hidden folder beside OUTPUT that holds finished segments of an unfinished job."""
    return output.parent / f".{output.name}.freqvsr-work"


def upscale_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    model: str = DEFAULT_MODEL,
    weights: str | None = None,
    scale: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    chunk: int | None = None,
    overlap: int | None = None,
    tile: int | None = None,
    tile_overlap: int = 16,
    memory_budget: int | str | None = None,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    pix_fmt: str | None = None,
    lossless: bool = False,
    audio: bool = True,
    subtitles: bool = True,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    strict: bool = False,
    upscaler: Upscaler | None = None,
    group: Group | None = None,
) -> UpscaleReport:
    """Upscale the video file or image folder ``src`` into ``dst`` (video file by extension, else a PNG folder).

    Returns an :class:`UpscaleReport`. Raises :class:`freqvsr.errors.FreqVSRError` subclasses with
    a one-line message on bad input, bad options or failures. ``upscaler`` reuses an already
    built engine (several inputs, one model: each input is planned on its own, see
    :class:`~freqvsr.inference.engine.StreamPlan`). ``memory_budget`` (bytes or ``"2G"``): what the
    job may use beyond the process itself: the model, the engine's buffers, the output frames
    queued for the encoder and the encoder's own pictures; chunk and tiles are planned against it
    (default: 2 GiB plus what the output's I/O needs, at most half the available memory), and a
    job that cannot fit raises :class:`~freqvsr.errors.ResourceError` before any work.
    A partly corrupt input is upscaled as far as it decodes, with a warning counting the lost
    frames (``report.frames_lost``); ``strict=True`` makes any loss an InputError, and then
    nothing is left at or beside ``dst`` (a resumed run would meet the same damage).

    ``group`` (:func:`freqvsr.inference.scale_out.from_env`, under torchrun): every process of the
    group calls this with the same arguments, and the video's segments are shared between them;
    each writes its own into the work folder beside ``dst``, which must therefore be on a folder
    all of them see. Rank 0 joins them into ``dst`` as a single process does, so ``dst`` holds
    the frames a single process computes (same segment bounds, overlaps and cross-fades; see
    :func:`_upscale_shared`). Each rank returns a report of its own share.
    """
    to_video = output_kind(dst) == "video"  # the raw name: a trailing slash means a folder
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise InputNotFoundError(f"{src}: no such file or folder")
    if src.resolve() == dst.resolve():
        raise UsageError(f"{dst}: the output would overwrite the input")
    shared = group is not None and group.world > 1
    work = work_dir_for(dst)
    if not shared:  # a group: rank 0 checks, while no process has written anything (_upscale_shared)
        _check_output(dst, to_video, overwrite)
        _check_unfinished_job(work, dst, resume, overwrite)
    settings = EncodeSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt, lossless=lossless)
    if not to_video and (codec or crf is not None or preset or pix_fmt or lossless):
        raise UsageError(
            f"{dst}: a folder output is written as lossless PNG frames; codec=, crf=, preset=, pix_fmt= "
            "and lossless=True apply to video files"
        )
    if shared:
        return _upscale_shared(
            src,
            dst,
            to_video,
            settings,
            group,
            model=model,
            weights=weights,
            scale=scale,
            device=device,
            precision=precision,
            chunk=chunk,
            overlap=overlap,
            tile=tile,
            tile_overlap=tile_overlap,
            memory_budget=memory_budget,
            audio=audio,
            subtitles=subtitles,
            resume=resume,
            overwrite=overwrite,
            quiet=quiet,
            strict=strict,
            upscaler=upscaler,
        )

    with _StopSignals() as stop, open_input(src, strict=strict) as source:
        info = source.info
        settings, keep_alpha, engine, fingerprint = _set_up(
            src,
            dst,
            info,
            settings,
            to_video,
            upscaler,
            model,
            weights,
            scale,
            dict(
                device=device,
                precision=precision,
                chunk=chunk,
                overlap=overlap,
                tile=tile,
                tile_overlap=tile_overlap,
                memory_budget=memory_budget,
            ),
        )
        planned = None
        if not (resume and (work / "job.json").exists()):  # a resumed job computes with the plan it began with
            planned = _check_memory(engine, info, src, settings if to_video else None)  # before anything is written
        manifest = _prepare_work_dir(work, fingerprint, resume)
        job = _Job(engine, source, info, work, manifest, settings, to_video, quiet, keep_alpha)
        if planned is not None and "plan" not in manifest:
            # The stream computes with the plan checked here, not with a second one made against
            # whatever memory happens to be free a moment later (as a group's rank 0 fixes it).
            job.checked_plan = StreamPlan.from_plan(planned)
        started = time.perf_counter()
        if torch.cuda.is_available() and engine.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(engine.device)
        try:
            finished = job.run(_STOP_AFTER_SEGMENTS.get(), stop)
        except BaseException as exc:
            job.close_on_error(exc)
            raise
        if not finished:  # simulated interruption: leave the work folder for resume=True
            return job.report(src, dst, model, started)
        try:
            if to_video:
                segments = [work / s["file"] for s in job.manifest["segments"]]
                assemble_video(dst, segments, info, audio=audio, subtitles=subtitles)
            else:
                _assemble_folder(dst, [work / s["file"] for s in job.manifest["segments"]], overwrite)
        except OutputError as exc:
            # e.g. a full disk at the final remux: every segment is finished and kept
            exc.args = (f"{exc}; the finished segments are kept, rerun with resume=True",)
            raise
        except FreqVSRError:
            raise  # e.g. the input vanished before its audio was copied: already one line
        except OSError as exc:
            raise OutputError(
                f"{dst}: cannot write output ({exc.strerror or exc}); "
                "the finished segments are kept, rerun with resume=True"
            ) from exc
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            raise Interrupted(signum, resumable=True) from None
        shutil.rmtree(work, ignore_errors=True)
        return job.report(src, dst, model, started)


def _set_up(
    src: Path,
    dst: Path,
    info: Any,
    settings: EncodeSettings,
    to_video: bool,
    upscaler: Upscaler | None,
    model: str,
    weights: str | None,
    scale: int | None,
    engine_args: dict[str, Any],
) -> tuple[EncodeSettings, bool, Upscaler, dict]:
    """What every process of a job does before any frame: resolve the encoder settings for this
    input, build (or reuse) the engine, check the scale and that the encoder takes the upscaled
    size, and fingerprint the job. Returns (settings, keep_alpha, engine, fingerprint)."""
    if to_video:
        settings = settings.resolve(dst, info)
    keep_alpha = _keeps_alpha(info, dst, settings if to_video else None)
    engine = upscaler or Upscaler(model, weights=weights, **engine_args)
    if scale is not None and engine.scale != scale:
        raise ModelError(f"{model}: is a \u00d7{engine.scale} model, but \u00d7{scale} was asked for")
    if to_video:
        # An encoder that refuses the upscaled size must say so now, not after hours of compute.
        check_encoder(settings, info.width * engine.scale, info.height * engine.scale, dst, info)
    else:
        problem = frame_size_problem(info.width * engine.scale, info.height * engine.scale, info.bit_depth)
        if problem:
            raise OutputError(f"{dst}: {problem}")
    # A folder job's frames are RGBA when the alpha is kept: an interrupted RGB job (older
    # freqvsr) must not be resumed into a folder of mixed frames.
    out_kind = settings if to_video else ("png+alpha" if keep_alpha else "png")
    return settings, keep_alpha, engine, _fingerprint(src, model, weights, engine, out_kind, to_video)


def _check_memory(engine: Upscaler, info: Any, src: Path, settings: EncodeSettings | None) -> Plan:
    """The plan of this input with the job's output side counted (the encoder, queued frames);
    ResourceError when not even the smallest plan fits the budget and the planner was free to
    choose the tiles (a tile size the user fixed is their call: a warning)."""
    w, h = info.width * engine.scale, info.height * engine.scale
    enc = encoder_memory(settings, w, h, info.bit_depth)

    def plan() -> Plan:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the one-line error below says it better than the warning
            return engine.plan_video(info.height, info.width, num_frames=info.num_frames, encoder_bytes=enc)

    planned = plan()
    if engine.keeps_freed_memory:
        # Frames this large fragment a heap that keeps freed blocks (the slack on every buffer):
        # give freed memory back instead when the kept heap does not fit, or fits only with over
        # twice the compute (tiny tiles). The kept heap ran 4K about 2x faster at equal tiling
        # (58.5 vs 122.6 s/frame), so twice the compute is where it stops paying.
        engine.keeps_freed_memory = False  # plan as the system allocator would, nothing released
        try:
            system = plan()
        finally:
            engine.keeps_freed_memory = True
        if not planned.fits or (system.fits and planned.cost > 2.0 * system.cost):
            engine.release_freed_memory()
            planned = system
    if engine.tile_request is None:
        check_fits(planned, str(src), info.width, info.height, engine.scale, frames_out=settings is None)
    elif not planned.fits:
        warnings.warn(f"{src}: the fixed tile size does not fit the memory budget ({planned.describe()})", stacklevel=3)
    return planned


def _upscale_shared(
    src: Path,
    dst: Path,
    to_video: bool,
    settings: EncodeSettings,
    group: Group,
    *,
    model: str,
    weights: str | None,
    scale: int | None,
    device: str,
    precision: str,
    chunk: int | None,
    overlap: int | None,
    tile: int | None,
    tile_overlap: int,
    memory_budget: int | str | None,
    audio: bool,
    subtitles: bool,
    resume: bool,
    overwrite: bool,
    quiet: bool,
    strict: bool,
    upscaler: Upscaler | None,
) -> UpscaleReport:
    """One video, its segments shared by the processes of ``group`` (every rank calls this).

    Rank 0 checks OUTPUT, prepares the work folder and fixes the plan (chunk, overlap, tiles) in
    job.json, so every rank computes with the same one, whatever memory its machine has. The
    segment bounds follow from the plan and the frame count (:func:`segment_bounds`, the
    engine's own schedule); each rank takes a contiguous run of them (:func:`share_segments`),
    skips those already done (resume), enters the video at a keyframe before the chunk whose
    cross-fade reaches its first segment (:meth:`FrameSource.start_near`; from the start where
    the stream's timestamps cannot place every frame) and computes from that chunk, exactly as a
    resumed single process does, writes its segments and a marker file per segment. After all ranks are done,
    rank 0 joins the segments and remuxes audio and subtitles as :func:`upscale_video` does.
    A failure on any rank is raised on every rank (:meth:`Group.agree`), nothing waits forever.
    Online models carry their state through every frame: rank 0 computes them alone.
    """
    work = work_dir_for(dst)
    error: BaseException | None = None
    if group.rank == 0:
        try:
            _check_output(dst, to_video, overwrite)
            _check_unfinished_job(work, dst, resume, overwrite)
        except Exception as exc:
            error = exc
    group.agree(error)
    with contextlib.ExitStack() as stack:
        try:
            stop = stack.enter_context(_StopSignals())
            source = stack.enter_context(open_input(src, strict=strict))
            info = source.info
            settings, keep_alpha, engine, fingerprint = _set_up(
                src,
                dst,
                info,
                settings,
                to_video,
                upscaler,
                model,
                weights,
                scale,
                dict(
                    device=device_for(device, group.local_rank),
                    precision=precision,
                    chunk=chunk,
                    overlap=overlap,
                    tile=tile,
                    tile_overlap=tile_overlap,
                    memory_budget=memory_budget,
                ),
            )
        except BaseException as exc:
            error = exc
        group.agree(error)
        digests = group.all_gather(fingerprint["weights_digest"])
        if len(set(digests)) > 1:
            # e.g. a model without shipped weights: each process draws its own random initialisation
            raise ModelError(
                f"{model}: the processes built models with different weights; pass weights= "
                "(a model without shipped weights is randomly initialised in every process)"
            )

        manifest = None
        if group.rank == 0:
            try:
                planned = None
                if not (resume and (work / "job.json").exists()):  # before anything is written
                    planned = _check_memory(engine, info, src, settings if to_video else None)
                manifest = _prepare_work_dir(work, fingerprint, resume)
                if "plan" not in manifest:
                    if planned is None:
                        planned = _check_memory(engine, info, src, settings if to_video else None)
                    manifest["plan"] = StreamPlan.from_plan(planned).record()
                    _write_json_atomic(work / "job.json", manifest)
            except BaseException as exc:
                error = exc
        group.agree(error)
        manifest = group.broadcast(manifest)

        run = StreamPlan.from_record(manifest["plan"])
        temporal = engine.model.temporal
        bounds = segment_bounds(temporal, info.num_frames or 0, run.chunk, run.overlap)
        if temporal == "online" or not bounds:
            shares = [(0, None)] + [(0, 0)] * (group.world - 1)
        else:
            shares = share_segments(bounds, group.world)
        first, stop_at = shares[group.rank]
        done = _done_segments(work, manifest)
        last_done = min((i for i, rec in done.items() if rec.get("last")), default=None)
        while first in done and (stop_at is None or first < stop_at):
            first += 1
        idle = (stop_at is not None and first >= stop_at) or (last_done is not None and first > last_done)
        if temporal == "sequence":
            step = run.chunk - run.overlap
            # Segment k starts at k * step unless its chunk is the last one, moved back to keep a
            # full chunk; which one is last only the real frame count tells (the announced one can
            # be off). Segment k-1 is never the last when segment k exists, so frame (k-1)*step + 1
            # is at or before segment k's start whatever the count: the engine recomputes every
            # chunk ending after it (at most one more than needed, never one too few), and those
            # chunks start after real_from.
            resume_frame = max(0, (first - 1) * step + 1)
            real_from = max(0, resume_frame - run.chunk + 1)
        elif temporal == "online":
            resume_frame = real_from = first * run.chunk
        else:
            resume_frame = first * run.chunk
            real_from = max(0, resume_frame - engine.model.window // 2)
        share = _Share(first, stop_at, resume_frame, real_from)
        if group.world > 1 and not idle:
            # Enter the video at a keyframe before this share instead of decoding everything before
            # it; every rank (rank 0 too) then treats an undecodable frame as an error, since
            # ranks that skipped different damaged frames would disagree on frame indices.
            try:
                source.start_near(real_from)
            except BaseException as exc:
                error = exc
        group.agree(error)
        job = _Job(engine, source, info, work, manifest, settings, to_video, quiet, keep_alpha, share=share)
        started = time.perf_counter()
        outcome = "idle"
        if not idle:
            try:
                outcome = "done" if job.run(_STOP_AFTER_SEGMENTS.get(), stop) else "stopped"
            except BaseException as exc:
                job.close_on_error(exc)
                error = exc
        outcomes = group.all_gather((outcome, portable_error(error)))
        if error is not None:
            raise error
        first_error = next((e for _, e in outcomes if e is not None), None)
        if first_error is not None:
            raise first_error
        if any(o == "stopped" for o, _ in outcomes):  # simulated interruption: kept for resume=True
            return job.report(src, dst, model, started)
        if group.rank == 0:
            try:
                segments = _joined_segments(work, manifest)
                manifest["segments"] = segments
                _write_json_atomic(work / "job.json", manifest)
                if to_video:
                    assemble_video(dst, [work / s["file"] for s in segments], info, audio=audio, subtitles=subtitles)
                else:
                    _assemble_folder(dst, [work / s["file"] for s in segments], overwrite)
                shutil.rmtree(work, ignore_errors=True)
            except OSError as exc:
                error = OutputError(
                    f"{dst}: cannot write output ({exc.strerror or exc}); "
                    "the finished segments are kept, rerun with resume=True"
                )
            except BaseException as exc:
                error = exc
        group.agree(error)
        return job.report(src, dst, model, started)


def _done_segments(work: Path, manifest: dict) -> dict[int, dict]:
    """Finished segments by index: job.json's (a single process's) and the marker files of the
    processes of a group, each counted only while its segment file is there."""
    done: dict[int, dict] = {}
    for seg in manifest.get("segments", []):
        if (work / seg["file"]).exists():
            done[int(seg["index"])] = seg
    for marker in sorted(work.glob(f"seg_*{_DONE}")):
        try:
            rec = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue  # a marker is written atomically; an unreadable one is someone else's file
        if isinstance(rec, dict) and "file" in rec and (work / rec["file"]).exists():
            done[int(rec["index"])] = rec
    return done


def _joined_segments(work: Path, manifest: dict) -> list[dict]:
    """Every segment of the video in order, or an OutputError naming the first missing one."""
    done = _done_segments(work, manifest)
    segments: list[dict] = []
    end = 0
    while True:
        rec = done.get(len(segments))
        if rec is None or int(rec["start"]) != end:
            raise OutputError(
                f"{work}: segment {len(segments)} (from frame {end}) was not written; rerun with resume=True"
            )
        segments.append({k: rec[k] for k in ("index", "start", "end", "file")})
        end = int(rec["end"])
        if rec.get("last"):
            return segments


def output_kind(dst: str | os.PathLike) -> str:
    """``"video"`` (a known container extension) or ``"folder"`` (PNG frames); UsageError otherwise.

    A name with any other extension (``out.ts``, ``out.xyz``, ``out.png``) is refused instead of
    quietly becoming a folder of that name: it is almost always a typo or an unsupported container.
    An existing folder, or a name given with a trailing slash, is a folder whatever its dots.
    """
    raw = os.fspath(dst)
    path = Path(raw)
    ext = path.suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if not ext or path.is_dir() or raw.endswith((os.sep, "/")):
        return "folder"
    raise UsageError(
        f"{path}: '{path.suffix}' is not a supported output "
        f"(video: {', '.join(e for e in VIDEO_EXTENSIONS if e != '.avi')}; "
        "for PNG frames give a folder name without an extension, or end it with /)"
    )


def _check_output(dst: Path, to_video: bool, overwrite: bool) -> None:
    """Refuse, before any work, an OUTPUT that exists (without overwrite=True) or that overwrite=True may
    not replace: only what freqvsr wrote is ever removed."""
    parent = dst.parent
    if not parent.is_dir():
        raise OutputError(f"{parent}: output folder does not exist (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: output folder is not writable")
    if not (dst.exists() or dst.is_symlink()):
        return
    if not overwrite:
        raise OutputError(f"{dst}: already exists (pass overwrite=True to replace it)")
    if to_video and dst.is_dir():
        raise OutputError(f"{dst}: is a folder; overwrite=True replaces a video file, never a folder")
    if not to_video:
        if not dst.is_dir():
            raise OutputError(
                f"{dst}: exists and is not a folder; overwrite=True replaces a previous frame folder only"
            )
        foreign = _foreign_entries(dst)
        if foreign:
            more = f" (+{len(foreign) - 3} more)" if len(foreign) > 3 else ""
            raise OutputError(
                f"{dst}: holds files freqvsr did not write ({', '.join(foreign[:3])}{more}); "
                "overwrite=True only replaces freqvsr's own frames, choose a new or empty folder"
            )


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that are not freqvsr's frames (which count only under its marker)."""
    names = sorted(p.name for p in folder.iterdir())
    ours = MARKER in names
    return [n for n in names if n != MARKER and not (ours and FRAME_PATTERN.fullmatch(n))]


def _check_unfinished_job(work: Path, dst: Path, resume: bool, overwrite: bool) -> None:
    """A previous interrupted job's finished segments are never thrown away silently."""
    if resume or overwrite or not work.is_dir():
        return
    try:
        done = len(json.loads((work / "job.json").read_text()).get("segments", []))
    except (OSError, ValueError, AttributeError):
        done = 0
    done += len(list(work.glob(f"seg_*{_DONE}")))  # segments finished by the processes of a group
    if done:
        raise OutputError(
            f"{dst}: an interrupted job left {done} finished segment(s) in {work.name}; rerun with "
            "resume=True to continue it, or with overwrite=True to start over"
        )


class _StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM during a job: stop at a safe point, exit 130 / 143.

    Python raises KeyboardInterrupt in the main thread wherever it happens to be; unwinding from
    there closed the input container while the decoder thread was still inside libavformat,
    which crashed (segmentation fault, issue 11). The handler only records the signal while the
    worker threads run; the main loop then stops them in order (decoder, encoder), keeps the
    finished segments, and raises :class:`~freqvsr.errors.Interrupted`. When no worker thread
    runs (model loading, final remux), raising at once is safe and quicker. A second signal
    means "now": the process exits immediately (finished segments are on disk already).
    Installed only in the main thread, and never over a signal the caller ignores (``nohup``).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raise_now = True
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    if signal.getsignal(sig) is not signal.SIG_IGN:
                        self._previous[sig] = signal.signal(sig, self._handle)
                except (ValueError, OSError):  # not the main interpreter, or unsupported
                    pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            os.write(2, b"freqvsr: stopped at once; finished segments are kept (resume to continue)\n")
            os._exit(128 + signum)
        self.signum = signum
        if self.raise_now:
            raise Interrupted(signum)
        os.write(2, b"freqvsr: stopping after the current step (press Ctrl-C again to quit at once)\n")

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


def _keeps_alpha(info: Any, dst: Path, settings: EncodeSettings | None) -> bool:
    """Whether the input's alpha plane goes to the output: always for PNG frames (``settings``
    None), for video when the resolved pixel format has alpha (see EncodeSettings.resolve).
    Otherwise warn, once, what is lost and which output would keep it."""
    if not getattr(info, "alpha", False):
        return False
    if settings is None or has_alpha_plane(settings.pix_fmt):
        return True
    ext = dst.suffix.lower()
    if ext in (".mov", ".mkv"):
        keep = "codec=prores_ks (ProRes 4444)"
        if ext == ".mkv":
            keep += " or codec=ffv1 (lossless)"
        hint = f"{keep} keeps it in a {ext} file, as do .webm and a folder of PNG frames"
    else:
        hint = "a .mov with codec=prores_ks, a .webm (VP9), a .mkv with codec=ffv1, or a folder of PNG frames keeps it"
    warnings.warn(
        f"{info.path}: the alpha channel (transparency) is dropped: {settings.codec} ({settings.pix_fmt}) "
        f"in {dst.name} cannot store it; {hint}",
        stacklevel=3,
    )
    return False


@dataclasses.dataclass(frozen=True)
class _Share:
    """The part of a video one process of a group computes (see :func:`_upscale_shared`).

    ``first``: its first segment to write; ``stop``: the segment it stops before (None: the end);
    ``resume_frame``: the engine recomputes the chunks ending after it (the cross-fade context of
    segment ``first``); ``real_from``: frames before it are decoded but never computed on, so
    they reach the engine as empty placeholders (a wrong schedule then fails loudly in
    ``torch.stack`` instead of upscaling blank frames).
    """

    first: int
    stop: int | None
    resume_frame: int
    real_from: int


_DONE = ".done"  # seg_00003.done: segment 3 finished by a process of a group (its own small file)


class _Job:
    def __init__(
        self,
        engine,
        source,
        info,
        work,
        manifest,
        settings,
        to_video,
        quiet,
        keep_alpha=False,
        share: _Share | None = None,
    ) -> None:
        self.engine, self.source, self.info, self.work = engine, source, info, work
        self.manifest, self.settings, self.to_video = manifest, settings, to_video
        self.quiet = quiet
        self.keep_alpha = keep_alpha
        # LR alpha planes by frame index, from the decoder until the encoder writes that frame
        # (the engine's look-ahead bounds how many wait: a plane is a third of an LR frame).
        self.alpha: dict[int, np.ndarray] = {}
        self.seg_suffix = segment_suffix(settings) if to_video else ""
        self.frames_done = manifest["segments"][-1]["end"] if manifest["segments"] else 0
        self.resumed_frames = self.frames_done
        self.out_dtype = np.uint16 if info.bit_depth > 8 else np.uint8
        self.pts: dict[int, int | None] = {}
        self.error: BaseException | None = None
        self.out_size = (info.width * engine.scale, info.height * engine.scale)
        self.encoder_bytes = encoder_memory(settings if to_video else None, *self.out_size, info.bit_depth)
        self._cancel = threading.Event()  # the encoder thread abandons its unfinished segment
        self.stream: UpscaleStream | None = None  # this input's pass through the engine (run())
        # A process of a group: its share of the segments, each recorded in its own marker file,
        # because several processes appending to one job.json would lose each other's updates.
        self.share = share
        self.checked_plan: StreamPlan | None = None  # the plan the memory check passed (a fresh job)
        self.frames_written = 0
        if share is not None:
            self.frames_done = self.resumed_frames = share.resume_frame

    # reader thread -> bounded queue -> engine
    def _frames(self) -> Iterator[torch.Tensor]:
        """LR frames from a decoder thread. Closing this generator stops and joins that thread,
        so the input container is never closed while the thread is inside libav."""
        q: queue.Queue = queue.Queue(maxsize=_QUEUE_FRAMES)
        stop = threading.Event()

        real_from = self.share.real_from if self.share is not None else 0
        placeholder = torch.empty(0, dtype=torch.uint8)

        def read() -> None:
            try:
                for index in range(self.source.first_index):  # before a keyframe the source entered at
                    if stop.is_set():
                        return
                    q.put((index, None, None, None))
                for frame in self.source:
                    if stop.is_set():
                        return
                    if frame.index < real_from:  # another process's frames, outside every chunk computed here
                        q.put((frame.index, None, None, None))
                        continue
                    q.put((frame.index, frame.pts, to_lr_tensor(frame.image), frame.alpha))
                q.put(None)
            except BaseException as exc:  # surfaced in the main thread
                q.put(exc)

        reader = threading.Thread(target=read, name="freqvsr-decode", daemon=True)
        reader.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                index, pts, tensor, alpha = item
                if tensor is None:
                    yield placeholder
                    continue
                self.pts[index] = pts
                if self.keep_alpha and alpha is not None and index >= self.resumed_frames:
                    self.alpha[index] = alpha  # frames before a resumed job's start are never written
                yield tensor
        finally:
            stop.set()
            while reader.is_alive():  # drain so the reader can finish its put()
                try:
                    q.get_nowait()
                except queue.Empty:
                    reader.join(0.05)

    def run(self, stop_after: int | None, stop: _StopSignals | None = None) -> bool:
        segs = self.manifest["segments"]
        first = self.share.first if self.share is not None else len(segs)
        resume_state = None
        if first and (self.work / "state.pt").exists():
            resume_state = torch.load(self.work / "state.pt", weights_only=True)
        frames = self._frames()
        self.stream = events = self.engine.stream(
            frames,
            resume_from=first,
            resume_frame=self.frames_done,
            resume_state=resume_state,
            num_frames=self.info.num_frames,
            # a resumed job computes with the plan it began with, a fresh one with the checked plan
            fixed_plan=self.checked_plan if self.checked_plan is not None else self.manifest.get("plan"),
            encoder_bytes=self.encoder_bytes,
        )
        out_q: queue.Queue = queue.Queue(maxsize=_QUEUE_FRAMES)
        writer_thread = threading.Thread(target=self._write_loop, args=(out_q,), name="freqvsr-encode", daemon=True)
        progress = _Progress(self.info, self.frames_done, self.quiet)
        if stop is not None:
            stop.raise_now = False  # worker threads run from here on: only a flag, see _StopSignals
        writer_thread.start()
        completed = False  # every event reached the encoder (or a simulated interruption)
        simulated_stop = False
        share_end = False  # this process's share is written (a group): the rest is another's
        last_seen: SegmentEnd | None = None
        done_segments = 0
        try:
            for ev in events:
                if stop is not None:
                    stop.check()
                if self.error:
                    break
                run = self.stream.plan  # this input's plan, known from its first frame on
                if out_q.maxsize != min(_QUEUE_FRAMES, run.queue_frames):
                    # fewer SR frames wait for the encoder when frames are large (the plan says)
                    out_q.maxsize = min(_QUEUE_FRAMES, run.queue_frames)
                if "plan" not in self.manifest:
                    self.manifest["plan"] = run.record()
                if not self._put(out_q, ev, writer_thread):
                    break  # the encoder stopped on an error, raised below
                if isinstance(ev, SRFrame):
                    progress.update(1)
                elif isinstance(ev, SegmentEnd):
                    done_segments += 1
                    last_seen = ev
                    if stop_after is not None and done_segments >= stop_after:
                        simulated_stop = True  # the encoder still finishes this segment
                        break
                    if self.share is not None and self.share.stop is not None and ev.index >= self.share.stop - 1:
                        share_end = True
                        break
            completed = True
        finally:
            # Order matters: stop computing, then the decoder (joined before the caller closes the
            # input), then the encoder (which finishes or abandons its segment).
            events.close()
            frames.close()
            self._stop_writer(out_q, writer_thread, cancel=not completed)
            progress.close()
            if stop is not None:
                stop.raise_now = True
        if stop is not None:
            stop.check()  # a signal that arrived while the threads were stopping
        if self.error:
            raise self.error
        if simulated_stop:
            return False
        if self.share is not None:
            if last_seen is not None and not share_end and not last_seen.last:
                # the input ended after this segment, which the engine could not tell when it
                # emitted it (an online model's segment ending on a multiple of chunk)
                self._mark_done(last_seen, last=True)
            return True
        if not self.manifest["segments"]:
            raise InputError(f"{self.info.path}: no frames could be decoded")
        return True

    def _mark_done(self, ev: SegmentEnd, last: bool) -> None:
        _write_json_atomic(
            self.work / f"seg_{ev.index:05d}{_DONE}",
            {
                "index": ev.index,
                "start": ev.start,
                "end": ev.end,
                "last": last,
                "file": _segment_name(ev.index, self.to_video, self.seg_suffix),
            },
        )

    @staticmethod
    def _put(q: queue.Queue, item: Any, consumer: threading.Thread) -> bool:
        """Put ``item`` unless the consumer has died (a dead encoder never empties the queue)."""
        while consumer.is_alive():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _stop_writer(self, q: queue.Queue, thread: threading.Thread, cancel: bool) -> None:
        if cancel:
            self._cancel.set()
        while thread.is_alive():
            try:
                q.put(None, timeout=0.2)
                break
            except queue.Full:
                if cancel:  # frames of an abandoned segment: nobody needs them
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass
        thread.join()

    def _write_loop(self, q: queue.Queue) -> None:
        writer = None
        seg_index = self.share.first if self.share is not None else len(self.manifest["segments"])
        try:
            while True:
                ev = q.get()
                if ev is None or self._cancel.is_set():
                    break
                if isinstance(ev, SRFrame):
                    if writer is None:
                        writer = self._open_segment(seg_index)
                    image = to_array(ev.image, self.out_dtype, inplace=True)
                    if self.keep_alpha:
                        image = self._with_alpha(image, ev.index)
                    pts = self.pts.pop(ev.index, None)
                    if self.to_video:
                        writer.write(image, pts)
                    else:
                        writer.write(image, ev.index)
                    self.frames_done = ev.index + 1
                    self.frames_written += 1
                elif isinstance(ev, SegmentEnd):
                    if writer is not None:
                        self._close_segment(writer)
                        writer = None
                    if ev.state is not None:
                        _atomic_torch_save(ev.state, self.work / "state.pt")
                    if self.share is not None:
                        self._mark_done(ev, ev.last)
                        seg_index = ev.index + 1
                        continue
                    self.manifest["segments"].append(
                        {
                            "index": ev.index,
                            "start": ev.start,
                            "end": ev.end,
                            "file": _segment_name(ev.index, self.to_video, self.seg_suffix),
                        }
                    )
                    _write_json_atomic(self.work / "job.json", self.manifest)
                    seg_index = ev.index + 1
        except BaseException as exc:
            self.error = _as_output_error(exc, self.work)
        finally:
            if writer is not None:
                self._abort_segment(writer)

    def _with_alpha(self, image: np.ndarray, index: int) -> np.ndarray:
        """(H, W, 3) SR colour + the frame's LR alpha up-sampled -> (H, W, 4) RGBA."""
        plane = self.alpha.pop(index, None)
        h, w = image.shape[:2]
        if plane is None:  # cannot happen for a decoded frame; opaque rather than a crash
            up = np.full((h, w), np.iinfo(image.dtype).max, image.dtype)
        else:
            up = upscale_alpha(plane, self.engine.scale)[:h, :w]
        return np.concatenate([image, up[..., None]], axis=2)

    def _open_segment(self, index: int):
        path = self.work / _segment_name(index, self.to_video, self.seg_suffix)
        if self.to_video:
            w = SegmentWriter(path, self.settings, *self.out_size, self.info)
        else:
            w = FrameFolderWriter(path)
        return w

    def _close_segment(self, writer) -> None:
        writer.close() if self.to_video else writer.finish()

    @staticmethod
    def _abort_segment(writer) -> None:
        try:
            writer.abort()
        except Exception:  # cleanup must not hide the original error
            pass

    def close_on_error(self, exc: BaseException) -> None:
        # Keep finished segments for --resume; a job that finished nothing leaves nothing behind,
        # and neither does one stopped by damage in its input (--strict): resuming meets it again.
        if self.share is not None:
            # other processes' segments share the folder: never removed here
            if isinstance(exc, Interrupted):
                exc.resumable = True
            return
        kept = len(self.manifest["segments"])
        if not kept or (isinstance(exc, InputError) and getattr(self.source, "strict", False)):
            shutil.rmtree(self.work, ignore_errors=True)
            return
        if isinstance(exc, Interrupted):
            exc.resumable = True
        elif isinstance(exc, FreqVSRError):
            # one line: the cause, then what survives
            exc.args = (f"{exc} ({kept} finished segment(s) kept; rerun with resume=True to continue)",)
        elif not self.quiet:
            warnings.warn(
                f"{kept} finished segment(s) kept in {self.work}; rerun with resume=True to continue", stacklevel=2
            )

    def report(self, src: Path, dst: Path, model: str, started: float) -> UpscaleReport:
        seconds = time.perf_counter() - started
        frames = self.frames_written if self.share is not None else self.frames_done - self.resumed_frames
        gpu = None
        run = self.stream.plan if self.stream is not None and self.stream.plan is not None else self.engine.last_plan
        plan = run.plan
        if self.engine.device.type == "cuda":
            gpu = int(torch.cuda.max_memory_allocated(self.engine.device))
        return UpscaleReport(
            input=str(src),
            output=str(dst),
            model=str(model),
            device=str(self.engine.device),
            precision=self.engine.precision,
            frames=frames,
            seconds=round(seconds, 3),
            fps=round(frames / seconds, 3) if seconds > 0 else 0.0,
            peak_memory_bytes=peak_host_memory(),
            peak_gpu_memory_bytes=gpu,
            input_size=(self.info.width, self.info.height),
            output_size=self.out_size,
            tile=run.tile,
            chunk=run.chunk,
            overlap=run.overlap,
            resumed_frames=self.resumed_frames,
            tile_size=run.tile_hw,
            memory_budget_bytes=plan.budget if plan else None,
            planned_memory_bytes=plan.bytes if plan else None,
            plan={
                **run.record(),
                "describe": plan.describe()
                if plan
                else ("fixed by rank 0 (job.json)" if self.share is not None else "fixed (resumed job)"),
            },
            # a process that entered the video at a keyframe decoded only from there
            frames_in=int(getattr(self.source, "frames_decoded", 0)) - int(getattr(self.source, "first_index", 0)),
            frames_out=self.frames_done,
            frames_lost=int(getattr(self.source, "frames_lost", 0)),
            alpha=self.keep_alpha,
        )


def _segment_name(index: int, to_video: bool, suffix: str) -> str:
    return f"seg_{index:05d}{suffix}" if to_video else f"seg_{index:05d}"


def _fingerprint(src: Path, model: str, weights: str | None, engine: Upscaler, settings: Any, to_video: bool) -> dict:
    def file_id(p: str | os.PathLike | None) -> Any:
        if p is None or not Path(p).exists():
            return p
        st = Path(p).stat()
        return [str(Path(p).resolve()), st.st_size, st.st_mtime_ns]

    state_hash = hashlib.sha256()
    for k, v in sorted(engine.model.state_dict().items()):
        state_hash.update(k.encode())
        state_hash.update(v.detach().cpu().contiguous().numpy().tobytes()[:4096])
    return {
        "version": _JOB_VERSION,
        "input": file_id(src),
        "model": str(model),
        "model_file": file_id(model) if Path(str(model)).exists() else None,
        "weights": file_id(weights),
        "model_args": json.dumps(getattr(engine.model, "arch_args", None), sort_keys=True, default=str),
        "weights_digest": state_hash.hexdigest()[:16],
        "chunk": engine.chunk_request,
        "overlap": engine.overlap_request,
        "tile_request": engine.tile_request,
        "tile_overlap": engine.tile_overlap,
        "precision": engine.precision,
        "device_type": engine.device.type,
        "output": repr(settings),
        "to_video": to_video,
    }


def _prepare_work_dir(work: Path, fingerprint: dict, resume: bool) -> dict:
    manifest_path = work / "job.json"
    if resume and manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            manifest = None
        if manifest is not None:
            old = manifest.get("fingerprint", {})
            changed = [k for k in fingerprint if old.get(k) != fingerprint[k]]
            if changed:
                raise UsageError(
                    f"{work}: cannot resume=True, the job differs from the interrupted one in: {', '.join(changed)} "
                    "(run with overwrite=True instead of resume=True to start over)"
                )
            # Keep only segments whose files are really there, in order (those the processes of a
            # group recorded in marker files count too).
            done = _done_segments(work, manifest)
            kept = []
            while len(kept) in done:
                kept.append({k: v for k, v in done[len(kept)].items() if k != "last"})
            manifest["segments"] = kept
            return manifest
    if not work.parent.is_dir():
        raise OutputError(f"{work.parent}: output folder does not exist (create it first)")
    if work.exists():  # ours by name; one with finished segments was refused or --overwrite given
        shutil.rmtree(work)
    try:
        work.mkdir(parents=False)
        manifest = {"fingerprint": fingerprint, "segments": []}
        _write_json_atomic(manifest_path, manifest)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise OutputError(f"{work.parent}: output folder is not writable ({exc.strerror or exc})") from exc
    return manifest


def _assemble_folder(dst: Path, segment_dirs: list[Path], overwrite: bool) -> None:
    """Move the segments' frames into ``dst``. A previous freqvsr frame folder there is replaced
    only after the new one is complete; a folder with anyone else's files is never touched."""
    if dst.exists():
        if not overwrite:
            raise OutputError(f"{dst}: already exists (pass overwrite=True to replace it)")
        _check_output(dst, False, overwrite)  # it may have changed while we were working
    tmp = dst.parent / f".{dst.name}.freqvsr-tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # ours by name: a leftover of a crashed assembly
    tmp.mkdir()
    moved: list[tuple[Path, Path]] = []
    old = None
    try:
        for seg in segment_dirs:
            for f in sorted(seg.iterdir()):
                os.replace(f, tmp / f.name)
                moved.append((tmp / f.name, f))
        if dst.exists():
            old = dst.parent / f".{dst.name}.freqvsr-old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dst, old)
        os.replace(tmp, dst)
    except BaseException:
        # Put everything back: the previous output stays, the segments stay resumable.
        if old is not None and old.exists() and not dst.exists():
            os.replace(old, dst)
        for now, was in reversed(moved):
            if now.exists():
                os.replace(now, was)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _as_output_error(exc: BaseException, work: Path) -> BaseException:
    """An OS error of the encoder thread (full disk, folder removed) as one line naming the folder."""
    if isinstance(exc, OSError):
        return OutputError(f"{work.parent}: cannot write the output ({exc.strerror or exc})")
    return exc


class _Progress:
    """A bar (frames, fps, ETA) on a terminal; elsewhere (a log file, a pipe, CI) one line every
    :data:`PROGRESS_INTERVAL` seconds, so a long job shows that it is alive."""

    def __init__(self, info: Any, initial: int, quiet: bool) -> None:
        self.total = info.num_frames
        self.name = info.path.name
        self.done = self.first = initial
        self.bar = None
        self.lines = False
        self.started = self.last = time.monotonic()
        if quiet:
            return
        isatty = getattr(sys.stderr, "isatty", None)
        if isatty is not None and isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total, initial=initial, unit="frame", desc=self.name, dynamic_ncols=True, leave=False
            )
        else:
            self.lines = True

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.lines:
            now = time.monotonic()
            if now - self.last >= PROGRESS_INTERVAL:
                self.last = now
                print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        fps = (self.done - self.first) / elapsed
        text = f"freqvsr: {self.name}: frame {self.done}"
        if self.total:
            text += f"/{self.total} ({100 * min(self.done, self.total) / self.total:.0f}%)"
        text += f", {fps:.2f} fps"
        if self.total and fps > 0 and self.done < self.total:
            eta = int((self.total - self.done) / fps)
            text += f", ETA {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}"
        return text

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, default=str))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
