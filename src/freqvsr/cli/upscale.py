"""`freqvsr upscale INPUT... -o OUTPUT`: flags map one to one onto :func:`freqvsr.upscale_video`.

Several inputs run one after another, or ``--jobs N`` at once (a pool of processes), or shared
between the processes torchrun starts (``torchrun ... -m freqvsr upscale``: whole inputs when
there are several, segments of the video when there is one; see inference/scale_out.py).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from freqvsr.cli._common import DeprecatedAlias, check_json_target, device_parser, json_parser, quiet_parser, write_json
from freqvsr.errors import InputNotFoundError, UsageError

if TYPE_CHECKING:
    from freqvsr.inference.scale_out import Group

_FOREIGN_WEIGHTS = (".pth", ".pt", ".ckpt", ".bin")


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "upscale",
        parents=[common, quiet_parser(), json_parser(), device_parser()],
        help="upscale videos or frame folders ×4",
        description="Upscale video files or folders of frames. OUTPUT is a video file (container by "
        "extension) or a folder (PNG frames); with several inputs OUTPUT is a folder. A folder holding videos "
        "(no images) stands for its videos. With several inputs a failing one does not stop the others: "
        "a summary table follows, and the exit status is 1 if any failed. Under torchrun "
        "(torchrun --nproc-per-node G [--nnodes N ...] -m freqvsr upscale ...) the processes share the "
        "inputs, or the segments of one video; OUTPUT's folder must then be one that every process "
        "(every node) sees, e.g. a network file system.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video file, folder of images, or folder of videos")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="video file (container by extension) or folder of PNG frames (required)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="registered model name or checkpoint path, see `freqvsr models` (default: the default model)",
    )
    p.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help="weights for a named model: freqvsr checkpoint or official .pth (default: the model's shipped weights)",
    )
    p.add_argument(
        "--scale", type=int, default=None, help="required scale; fails if the model has another (default: the model's)"
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "fp16", "bf16"],
        help="arithmetic precision; auto = bf16/fp16 on GPU, bf16 on CPUs where it is native and measured "
        "harmless for the weights, else fp32 (default: auto)",
    )
    p.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="frames per temporal chunk (default: planned against --memory-budget, at most 64)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        default=None,
        help="frames shared by neighbouring chunks, cross-faded (default: 8, or a quarter of a smaller --chunk)",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help="LR tile size in pixels; 0 = never tile (default: whole frames "
        "when they fit --memory-budget, else the cheapest tiles that fit)",
    )
    p.add_argument("--tile-overlap", type=int, default=16, help="LR pixels shared by neighbouring tiles (default: 16)")
    p.add_argument(
        "--memory-budget",
        default=None,
        metavar="SIZE",
        help="memory the job may use on top of the process itself (the model, its buffers, the output "
        "frames queued and the encoder's own), e.g. 2G or 1500M; chunk and tiles are planned to fit "
        "it, and a job that cannot fit is refused before any work (default on CPU: 2G plus what the "
        "output's frames need, at most half the available memory; 80%% of free GPU memory)",
    )
    p.add_argument(
        "--codec",
        default=None,
        help="libx264 | libx265 | libvpx-vp9 | libsvtav1 | ffv1 | prores_ks "
        "(alpha is kept by prores_ks in .mov/.mkv, ffv1 in .mkv, libvpx-vp9 in .webm/.mkv, and PNG frames) "
        "(default: libx264, libvpx-vp9 for .webm)",
    )
    p.add_argument(
        "--crf",
        type=int,
        default=None,
        help="constant quality of the encoder (default: 18 for libx264, 20 libx265, 30 libvpx-vp9/libsvtav1)",
    )
    # dest "preset": the parameter of upscale_video this flag sets (messages name it so).
    p.add_argument(
        "--encoder-preset",
        dest="preset",
        default=None,
        metavar="PRESET",
        help="encoder speed: x264/x265 ultrafast..placebo, libvpx-vp9 good/best/realtime, libsvtav1 0..13 "
        "(default: veryfast for libx264, medium for libx265, good for libvpx-vp9, 8 for libsvtav1)",
    )
    # `freqvsr degrade --preset` is a degradation; here the flag was the encoder's speed: renamed.
    p.add_argument("--preset", dest="preset", action=DeprecatedAlias, new="--encoder-preset")
    p.add_argument(
        "--pix-fmt",
        default=None,
        help="pixel format of the output video, e.g. yuv420p10le "
        "(default: the source's chroma layout and depth, when the codec has it)",
    )
    p.add_argument("--lossless", action="store_true", help="lossless encoding in yuv444p (default: off)")
    p.add_argument("--no-audio", action="store_true", help="drop audio streams (default: copied)")
    p.add_argument("--no-subtitles", action="store_true", help="drop subtitle streams (default: copied)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted job from its last finished segment (default: off)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists (default: off)")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="with several inputs, upscale N at once: on CPU in N processes sharing the CPU threads "
        "(threads // N each), on several GPUs one input per GPU (default: 1)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1, nothing written) when any input frame is lost to corrupt or missing data; "
        "by default the frames that decode are upscaled and the loss is reported (default: off)",
    )
    p.set_defaults(func=run)


def output_for(src: Path, out_dir: Path) -> Path:
    """Where one of several inputs goes inside the OUTPUT folder."""
    from freqvsr.io import VIDEO_EXTENSIONS  # here, not at the top: PyAV would slow every `freqvsr --help`

    if src.is_dir():
        return out_dir / src.name
    ext = src.suffix.lower() if src.suffix.lower() in VIDEO_EXTENSIONS else ".mkv"
    return out_dir / (src.stem + ext)


def expand_inputs(inputs: list[Path]) -> tuple[list[Path], bool]:
    """Inputs as typed, a folder of videos replaced by its videos (sorted, top level only).

    A folder holding images stays one input (a frame sequence). Returns the inputs and whether a
    folder was expanded (then OUTPUT is a folder even for one input typed).
    """
    from freqvsr.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    expanded: list[Path] = []
    any_folder = False
    for src in inputs:
        if src.is_dir():
            files = [p for p in sorted(src.iterdir()) if p.is_file() and not p.name.startswith(".")]
            if not any(p.suffix.lower() in IMAGE_EXTENSIONS for p in files):
                videos = [p for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
                if videos:
                    expanded.extend(videos)
                    any_folder = True
                    continue
        expanded.append(src)
    return expanded, any_folder


def _summary(rows: list[dict]) -> str:
    """The plain-text table printed after several inputs: input, frames, fps, status, error."""
    head = ("input", "frames", "fps", "status", "error")
    cells = [
        (str(r["input"]), str(r.get("frames", 0)), f"{r.get('fps') or 0:.2f}", r["status"], r.get("error") or "")
        for r in rows
    ]
    widths = [max(len(head[i]), *(len(c[i]) for c in cells)) for i in range(4)]

    def line(c) -> str:
        return "  ".join(
            [c[0].ljust(widths[0]), c[1].rjust(widths[1]), c[2].rjust(widths[2]), c[3].ljust(widths[3]), c[4]]
        ).rstrip()

    failed = sum(r["status"] == "failed" for r in rows)
    return "\n".join(
        [line(head), *(line(c) for c in cells), f"{len(rows)} inputs: {len(rows) - failed} ok, {failed} failed"]
    )


def run(args: argparse.Namespace) -> int:
    from freqvsr.inference import DEFAULT_MODEL
    from freqvsr.inference.job import output_kind
    from freqvsr.inference.scale_out import from_env
    from freqvsr.io import VIDEO_EXTENSIONS

    for src in map(Path, args.inputs):
        if not src.exists():  # before the model is built: a typo should fail at once
            raise InputNotFoundError(f"{src}: no such file or folder")
    inputs, from_folder = expand_inputs([Path(p) for p in args.inputs])
    out = Path(args.output)
    many = len(inputs) > 1 or from_folder
    if many:
        if out.suffix.lower() in VIDEO_EXTENSIONS:
            raise UsageError(f"{out}: with several inputs OUTPUT must be a folder")
        if out.exists() and not out.is_dir():
            raise UsageError(f"{out}: with several inputs OUTPUT must be a folder")
        out.mkdir(parents=True, exist_ok=True)
        targets = [output_for(src, out) for src in inputs]
        clashes = sorted({t.name for t in targets if targets.count(t) > 1})
        if clashes:
            raise UsageError(f"{out}: several inputs would be written to the same output ({', '.join(clashes)})")
    else:
        targets = [args.output]  # as typed: "frames.v2/" names a folder
    model = args.model or DEFAULT_MODEL
    if Path(model).suffix.lower() in _FOREIGN_WEIGHTS and not args.weights:
        # The API's message names create_model(); on the command line the same thing is two flags.
        raise UsageError(
            f"{model}: not a freqvsr checkpoint (official weights load into a named architecture): "
            f"use --model NAME --weights {model}, NAME from `freqvsr models`"
        )
    for dst in targets:
        output_kind(dst)  # an unsupported extension is refused before any work
    check_json_target(args.json)
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    group = from_env()
    if group is not None and args.jobs > 1:
        group.close()
        raise UsageError(
            "--jobs: under torchrun every process takes its own inputs; start more processes (--nproc-per-node) instead"
        )
    try:
        return _run_all(args, inputs, targets, many, model, group)
    finally:
        if group is not None:
            group.close()


def _run_all(
    args: argparse.Namespace, inputs: list[Path], targets: list, many: bool, model: str, group: Group | None
) -> int:
    from freqvsr.inference.scale_out import device_for, share_inputs

    device = args.device if group is None else device_for(args.device, group.local_rank)
    speaks = group is None or group.rank == 0  # under torchrun rank 0 prints the combined result
    if not many:
        engine = _engine(args, model, device)
        row = _one(inputs[0], targets[0], args, model, engine, many=False, group=group, speaks=speaks)
        if speaks:
            write_json(args.json, [{k: v for k, v in row.items() if k != "exit_code"}])
        return 0
    mine = list(range(len(inputs))) if group is None else share_inputs(len(inputs), group.rank, group.world)
    jobs = min(args.jobs, len(mine))
    if jobs > 1:
        rows_mine = _pool(args, model, device, [(i, inputs[i], targets[i]) for i in mine], jobs)
    else:
        engine = _engine(args, model, device) if mine else None
        rows_mine = {i: _one(inputs[i], targets[i], args, model, engine, many=True) for i in mine}
    if group is not None:
        rows_by_index: dict[int, dict] = {}
        for part in group.all_gather(rows_mine):
            rows_by_index.update(part)
        rows = [rows_by_index[i] for i in range(len(inputs))]
    else:
        rows = [rows_mine[i] for i in range(len(inputs))]
    failed = [r for r in rows if r["status"] == "failed"]
    if speaks:
        if failed or not args.quiet:
            print(_summary(rows), file=sys.stderr)
        # one report per input (a list even for one), as frames_in / frames_out / frames_lost, seconds,
        # fps, peak_memory_bytes (peak RSS), peak_gpu_memory_bytes, plan, ..., status (ok | failed |
        # skipped) and error (the one-line message of a failed input, else null)
        write_json(args.json, [{k: v for k, v in r.items() if k != "exit_code"} for r in rows])
    # exit 1 when an input failed (2 when every failure was bad usage, e.g. --scale the model lacks),
    # the same on every rank
    if not failed:
        return 0
    return 2 if all(r["exit_code"] == 2 for r in failed) else 1


def _engine(args: argparse.Namespace, model: str, device: str):
    from freqvsr.inference import Upscaler

    return Upscaler(
        model,
        weights=args.weights,
        device=device,
        precision=args.precision,
        chunk=args.chunk,
        overlap=args.overlap,
        tile=args.tile,
        tile_overlap=args.tile_overlap,
        memory_budget=args.memory_budget,
    )


def _one(
    src: Path,
    dst,
    args: argparse.Namespace,
    model: str,
    engine,
    *,
    many: bool,
    group: Group | None = None,
    speaks: bool = True,
) -> dict:
    """Upscale one input; its summary row. With several inputs a failure is a row, not an error."""
    from freqvsr.inference import upscale_video
    from freqvsr.inference.job import work_dir_for

    if args.resume and not args.overwrite and Path(dst).exists() and not work_dir_for(Path(dst)).exists():
        # Rerunning an interrupted batch with --resume: files finished before are kept as they are.
        if not args.quiet:
            print(f"freqvsr: {dst}: already finished, skipped (--resume keeps finished outputs)", file=sys.stderr)
        return {"input": str(src), "output": str(dst), "frames": 0, "fps": 0.0, "status": "skipped", "error": None}
    try:
        report = upscale_video(
            src,
            dst,
            model=model,
            weights=args.weights,
            scale=args.scale,
            codec=args.codec,
            crf=args.crf,
            preset=args.preset,
            pix_fmt=args.pix_fmt,
            lossless=args.lossless,
            audio=not args.no_audio,
            subtitles=not args.no_subtitles,
            resume=args.resume,
            overwrite=args.overwrite,
            quiet=args.quiet or not speaks,
            strict=args.strict,
            upscaler=engine,
            group=group,
        )
    except Exception as exc:  # one input's failure must not stop the others; Ctrl-C still stops all
        if not many or args.debug:
            raise
        message = _message(exc, args)
        print(f"freqvsr: error: {message}", file=sys.stderr)  # errors are shown even with --quiet
        return {
            "input": str(src),
            "output": str(dst),
            "frames": 0,
            "fps": 0.0,
            "status": "failed",
            "error": message,
            "exit_code": getattr(exc, "exit_code", 1),
        }
    if not args.quiet and speaks:
        mem = report.peak_memory_bytes / 2**20
        lost = f" ({report.frames_lost} input frames lost)" if report.frames_lost else ""
        share = f" (this process's share of {group.world})" if group is not None else ""
        # a resumed job: what this run computed, and what earlier runs had finished
        resumed = f" (+{report.resumed_frames} finished before, resumed)" if report.resumed_frames else ""
        print(
            f"{report.output}: {report.frames} frames{resumed}{lost}{share} "
            f"{report.input_size[0]}x{report.input_size[1]} -> "
            f"{report.output_size[0]}x{report.output_size[1]} with {report.model} on {report.device} "
            f"({report.precision}) in {report.seconds:.1f} s, {report.fps:.2f} fps, peak RAM {mem:.0f} MiB",
            file=sys.stderr,
        )
        if report.plan:
            print(f"  plan: {report.plan['describe']}", file=sys.stderr)
    return {**report.to_dict(), "status": "ok", "error": None}


# -- --jobs N: a pool of processes ---------------------------------------------------------------
# Processes, not threads in one process: torch's intra-op thread count is one setting per
# process (torch.set_num_threads), so threads of one process could not each get total // N
# threads; decoding, encoding and the Python between model calls would also share one GIL; and a
# crash in a native library (a decoder on a damaged file) takes down one worker's input, not the
# batch. The price is one model load and one interpreter start per worker (seconds), paid once.

_WORKER: dict = {}  # in a worker process: its options, device and engine (built on first use)


def _pool(
    args: argparse.Namespace, model: str, device: str, tasks: list[tuple[int, Path, Any]], jobs: int
) -> dict[int, dict]:
    import concurrent.futures as cf
    import multiprocessing as mp

    import torch

    threads = max(1, torch.get_num_threads() // jobs)
    devices = [device] * jobs
    if device in ("auto", "cuda") and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        devices = [f"cuda:{i % torch.cuda.device_count()}" for i in range(jobs)]  # one input per GPU
    # spawn: a forked child would inherit torch's threads and locks mid-state (and CUDA cannot fork)
    ctx = mp.get_context("spawn")
    slots = ctx.Queue()
    for d in devices:
        slots.put(d)
    options = {k: v for k, v in vars(args).items() if _picklable(v)}  # not the parser's functions
    rows: dict[int, dict] = {}
    with cf.ProcessPoolExecutor(
        jobs, mp_context=ctx, initializer=_worker_init, initargs=(slots, threads, options, model)
    ) as pool:
        futures = {i: pool.submit(_worker_task, str(src), str(dst)) for i, src, dst in tasks}
        try:
            for i, src, dst in tasks:
                try:
                    rows[i] = futures[i].result()
                except Exception as exc:  # a worker that died (BrokenProcessPool) or --debug's traceback
                    if args.debug:
                        raise
                    message = _message(exc, args)
                    print(f"freqvsr: error: {src}: {message}", file=sys.stderr)
                    rows[i] = {
                        "input": str(src),
                        "output": str(dst),
                        "frames": 0,
                        "fps": 0.0,
                        "status": "failed",
                        "error": message,
                        "exit_code": 1,
                    }
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: the workers stop on their own signal
            raise
    return rows


def _picklable(value: Any) -> bool:
    import pickle

    try:
        pickle.dumps(value)
        return True
    except Exception:
        return False


def _worker_init(slots, threads: int, options: dict, model: str) -> None:
    import torch

    from freqvsr.cli._common import common_parser, flag_map, to_flags

    torch.set_num_threads(threads)
    args = argparse.Namespace(**options)
    # the parameter -> flag map holds argparse actions, which do not pickle: rebuilt here from
    # this command's parser (not from cli.main, which imports this module)
    sub = argparse.ArgumentParser().add_subparsers()
    add_parser(sub, common_parser())
    args._flags = flags = flag_map(sub.choices["upscale"])
    args.device = slots.get()
    if not args.debug:

        def one_line(message, category, filename, lineno, file=None, line=None) -> None:
            # as the parent process shows warnings (cli.main): one line, in the command's flags
            print(
                f"freqvsr: warning: {' '.join(to_flags(str(message), flags).split())}",
                file=file or sys.stderr,
                flush=True,
            )

        warnings.showwarning = one_line
    _WORKER.update(args=args, model=model, engine=None)


def _worker_task(src: str, dst: str) -> dict:
    args, model = _WORKER["args"], _WORKER["model"]
    if _WORKER["engine"] is None:
        try:
            _WORKER["engine"] = _engine(args, model, args.device)
        except Exception as exc:
            if args.debug:
                raise
            message = _message(exc, args)
            print(f"freqvsr: error: {message}", file=sys.stderr)
            return {
                "input": src,
                "output": dst,
                "frames": 0,
                "fps": 0.0,
                "status": "failed",
                "error": message,
                "exit_code": getattr(exc, "exit_code", 1),
            }
    return _one(Path(src), Path(dst), args, model, _WORKER["engine"], many=True)


def _message(exc: BaseException, args: argparse.Namespace) -> str:
    """The one line `freqvsr: error:` shows for ``exc`` (as main() words it)."""
    from freqvsr.cli._common import to_flags
    from freqvsr.errors import FreqVSRError

    if isinstance(exc, FreqVSRError):
        return " ".join(to_flags(str(exc), getattr(args, "_flags", {})).split())
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
