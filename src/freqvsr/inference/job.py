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

import dataclasses
import hashlib
import json
import os
import queue
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from freqvsr.errors import InputError, ModelError, OutputError, UsageError
from freqvsr.inference.device import peak_host_memory
from freqvsr.inference.engine import SegmentEnd, SRFrame, Upscaler, to_array, to_lr_tensor
from freqvsr.io import SEGMENT_SUFFIX, EncodeSettings, FrameFolderWriter, SegmentWriter, assemble_video, is_video_output, open_input

DEFAULT_MODEL = "basicvsr.small.mix"  # trained weights shipped in freqvsr/weights (tests/test_default_model.py)
_JOB_VERSION = 2  # 2: the plan (chunk, overlap, tile) is recorded in the manifest
_QUEUE_FRAMES = 8


@dataclasses.dataclass
class UpscaleReport:
    input: str
    output: str
    model: str
    device: str
    precision: str
    frames: int
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
    upscaler: Upscaler | None = None,
    _stop_after_segments: int | None = None,
) -> UpscaleReport:
    """Upscale the video file or image folder ``src`` into ``dst`` (video file by extension, else a PNG folder).

    Returns an :class:`UpscaleReport`. Raises :class:`freqvsr.errors.FreqVSRError` subclasses with
    a one-line message on bad input, bad options or failures. ``upscaler`` reuses an already
    built engine (several inputs, one model); ``_stop_after_segments`` simulates an interruption
    (tests of ``resume``). ``memory_budget`` (bytes or ``"2G"``): what the model and the engine's
    buffers may use; chunk and tiles are planned against it (default ``min(available / 2, 2 GiB)``).
    """
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    if src.resolve() == dst.resolve():
        raise UsageError(f"{dst}: the output would overwrite the input")
    if dst.exists() and not overwrite and not resume:
        raise OutputError(f"{dst}: already exists (pass --overwrite to replace it)")
    to_video = is_video_output(dst)
    settings = EncodeSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt, lossless=lossless)
    if not to_video and (codec or crf is not None or preset or pix_fmt or lossless):
        raise UsageError(f"{dst}: a folder output is written as lossless PNG frames; --codec/--crf/--preset/--pix-fmt/--lossless apply to video files")

    with open_input(src) as source:
        info = source.info
        if to_video:
            settings = settings.resolve(dst, info)
        engine = upscaler or Upscaler(
            model, weights=weights, device=device, precision=precision, chunk=chunk, overlap=overlap,
            tile=tile, tile_overlap=tile_overlap, memory_budget=memory_budget,
        )
        if scale is not None and engine.scale != scale:
            raise ModelError(f"{model}: is a ×{engine.scale} model, but ×{scale} was asked for")
        work = work_dir_for(dst)
        fingerprint = _fingerprint(src, model, weights, engine, settings if to_video else "png", to_video)
        manifest = _prepare_work_dir(work, fingerprint, resume)
        job = _Job(engine, source, info, work, manifest, settings, to_video, quiet)
        started = time.perf_counter()
        if torch.cuda.is_available() and engine.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(engine.device)
        try:
            finished = job.run(_stop_after_segments)
        except BaseException as exc:
            job.close_on_error(exc)
            raise
    if not finished:  # simulated interruption: leave the work folder for --resume
        return job.report(src, dst, model, started)
    try:
        if to_video:
            segments = [work / s["file"] for s in job.manifest["segments"]]
            assemble_video(dst, segments, info, audio=audio, subtitles=subtitles)
        else:
            _assemble_folder(dst, [work / s["file"] for s in job.manifest["segments"]], overwrite)
    except OSError as exc:
        raise OutputError(f"{dst}: cannot write output ({exc.strerror or exc})") from exc
    shutil.rmtree(work, ignore_errors=True)
    return job.report(src, dst, model, started)


class _Job:
    def __init__(self, engine, source, info, work, manifest, settings, to_video, quiet) -> None:
        self.engine, self.source, self.info, self.work = engine, source, info, work
        self.manifest, self.settings, self.to_video = manifest, settings, to_video
        self.quiet = quiet
        self.frames_done = manifest["segments"][-1]["end"] if manifest["segments"] else 0
        self.resumed_frames = self.frames_done
        self.out_dtype = np.uint16 if info.bit_depth > 8 else np.uint8
        self.pts: dict[int, int | None] = {}
        self.error: BaseException | None = None
        self.out_size = (info.width * engine.scale, info.height * engine.scale)

    # reader thread -> bounded queue -> engine
    def _frames(self) -> Iterator[torch.Tensor]:
        q: queue.Queue = queue.Queue(maxsize=_QUEUE_FRAMES)
        stop = threading.Event()

        def read() -> None:
            try:
                for frame in self.source:
                    if stop.is_set():
                        return
                    q.put((frame.index, frame.pts, to_lr_tensor(frame.image)))
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
                index, pts, tensor = item
                self.pts[index] = pts
                yield tensor
        finally:
            stop.set()
            while reader.is_alive():  # drain so the reader can finish its put()
                try:
                    q.get_nowait()
                except queue.Empty:
                    reader.join(0.05)

    def run(self, stop_after: int | None) -> bool:
        segs = self.manifest["segments"]
        resume_state = None
        if segs and (self.work / "state.pt").exists():
            resume_state = torch.load(self.work / "state.pt", weights_only=True)
        events = self.engine.stream(
            self._frames(), resume_from=len(segs), resume_frame=self.frames_done, resume_state=resume_state,
            num_frames=self.info.num_frames,
            fixed_plan=self.manifest.get("plan"),  # a resumed job computes with the plan it began with
        )
        out_q: queue.Queue = queue.Queue(maxsize=_QUEUE_FRAMES)
        writer_thread = threading.Thread(target=self._write_loop, args=(out_q,), name="freqvsr-encode", daemon=True)
        writer_thread.start()
        from tqdm import tqdm

        total = self.info.num_frames
        bar = tqdm(total=total, initial=self.frames_done, unit="frame", disable=True if self.quiet else None,
                   desc=self.info.path.name, dynamic_ncols=True, leave=False)
        done_segments = 0
        try:
            for ev in events:
                if self.error:
                    break
                if out_q.maxsize != min(_QUEUE_FRAMES, self.engine.queue_frames):
                    # fewer SR frames wait for the encoder when frames are large (the plan says)
                    out_q.maxsize = min(_QUEUE_FRAMES, self.engine.queue_frames)
                if "plan" not in self.manifest:
                    self.manifest["plan"] = self.engine.plan_record()
                out_q.put(ev)
                if isinstance(ev, SRFrame):
                    bar.update(1)
                elif isinstance(ev, SegmentEnd):
                    done_segments += 1
                    if stop_after is not None and done_segments >= stop_after:
                        out_q.put(None)
                        writer_thread.join()
                        return False
            out_q.put(None)
            writer_thread.join()
        finally:
            bar.close()
            if writer_thread.is_alive():
                out_q.put(None)
                writer_thread.join(timeout=30)
        if self.error:
            raise self.error
        if not self.manifest["segments"]:
            raise InputError(f"{self.info.path}: no frames could be decoded")
        return True

    def _write_loop(self, q: queue.Queue) -> None:
        writer = None
        seg_index = len(self.manifest["segments"])
        try:
            while True:
                ev = q.get()
                if ev is None:
                    break
                if isinstance(ev, SRFrame):
                    if writer is None:
                        writer = self._open_segment(seg_index)
                    image = to_array(ev.image, self.out_dtype, inplace=True)
                    pts = self.pts.pop(ev.index, None)
                    if self.to_video:
                        writer.write(image, pts)
                    else:
                        writer.write(image, ev.index)
                    self.frames_done = ev.index + 1
                elif isinstance(ev, SegmentEnd):
                    if writer is not None:
                        self._close_segment(writer)
                        writer = None
                    if ev.state is not None:
                        _atomic_torch_save(ev.state, self.work / "state.pt")
                    self.manifest["segments"].append(
                        {"index": ev.index, "start": ev.start, "end": ev.end, "file": _segment_name(ev.index, self.to_video)}
                    )
                    _write_json_atomic(self.work / "job.json", self.manifest)
                    seg_index = ev.index + 1
        except BaseException as exc:
            self.error = exc
            while True:  # keep draining so the producer never blocks on a full queue
                try:
                    if q.get(timeout=1) is None:
                        break
                except queue.Empty:
                    break
        finally:
            if writer is not None:
                self._abort_segment(writer)

    def _open_segment(self, index: int):
        path = self.work / _segment_name(index, self.to_video)
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
        # Keep finished segments for --resume; a job that finished nothing leaves nothing behind.
        if not self.manifest["segments"]:
            shutil.rmtree(self.work, ignore_errors=True)
        elif not self.quiet:
            warnings.warn(
                f"{len(self.manifest['segments'])} finished segment(s) kept in {self.work}; rerun with --resume to continue",
                stacklevel=2,
            )

    def report(self, src: Path, dst: Path, model: str, started: float) -> UpscaleReport:
        seconds = time.perf_counter() - started
        frames = self.frames_done - self.resumed_frames
        gpu = None
        plan = self.engine.plan
        if self.engine.device.type == "cuda":
            gpu = int(torch.cuda.max_memory_allocated(self.engine.device))
        return UpscaleReport(
            input=str(src), output=str(dst), model=str(model), device=str(self.engine.device),
            precision=self.engine.precision, frames=frames, seconds=round(seconds, 3),
            fps=round(frames / seconds, 3) if seconds > 0 else 0.0, peak_memory_bytes=peak_host_memory(),
            peak_gpu_memory_bytes=gpu, input_size=(self.info.width, self.info.height), output_size=self.out_size,
            tile=self.engine.tile, chunk=self.engine.chunk, overlap=self.engine.overlap, resumed_frames=self.resumed_frames,
            tile_size=self.engine.tile_hw, memory_budget_bytes=plan.budget if plan else None,
            planned_memory_bytes=plan.bytes if plan else None,
            plan={**self.engine.plan_record(), "describe": plan.describe() if plan else "fixed (resumed job)"},
        )


def _segment_name(index: int, to_video: bool) -> str:
    return f"seg_{index:05d}{SEGMENT_SUFFIX}" if to_video else f"seg_{index:05d}"


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
                    f"{work}: cannot --resume, the job differs from the interrupted one in: {', '.join(changed)} "
                    "(run without --resume to start over)"
                )
            # Keep only segments whose files are really there, in order.
            kept = []
            for seg in manifest.get("segments", []):
                if not (work / seg["file"]).exists() or seg["index"] != len(kept):
                    break
                kept.append(seg)
            manifest["segments"] = kept
            return manifest
    if not work.parent.is_dir():
        raise OutputError(f"{work.parent}: output folder does not exist (create it first)")
    if work.exists():
        shutil.rmtree(work)
    try:
        work.mkdir(parents=False)
        manifest = {"fingerprint": fingerprint, "segments": []}
        _write_json_atomic(manifest_path, manifest)
    except OSError as exc:
        raise OutputError(f"{work.parent}: output folder is not writable ({exc.strerror or exc})") from exc
    return manifest


def _assemble_folder(dst: Path, segment_dirs: list[Path], overwrite: bool) -> None:
    tmp = dst.parent / f".{dst.name}.freqvsr-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for seg in segment_dirs:
        for f in sorted(seg.iterdir()):
            os.replace(f, tmp / f.name)
    if dst.exists():
        if not overwrite:
            raise OutputError(f"{dst}: already exists (pass --overwrite to replace it)")
        shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
    os.replace(tmp, dst)


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
