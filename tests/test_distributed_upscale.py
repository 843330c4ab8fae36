"""`freqvsr upscale` shared by processes (torchrun): 2 Gloo processes on CPU against 1 process.

One 120-frame clip split by segments (chunk 16, overlap 4: 10 segments, 5 per rank) must give
exactly the frames a single process gives (same chunks, same cross-fades, one thread each); a
folder of inputs is shared whole; a rank stopped mid-job leaves a work folder that ``--resume``
finishes into the uninterrupted result (the same MP4 file, byte for byte). The model is
basicvsr.tiny with weights saved once (seeded): a model without weights would be drawn at random
in every process.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from clips import make_video
from freqvsr.inference import upscale_video
from freqvsr.inference.engine import segment_bounds
from freqvsr.inference.scale_out import portable_error, share_inputs, share_segments
from freqvsr.io import open_input
from freqvsr.models import create_model, save_checkpoint

FRAMES = 120
ENGINE = {"chunk": 16, "overlap": 4, "tile": 0, "device": "cpu"}
FLAGS = ["--chunk", "16", "--overlap", "4", "--tile", "0", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """The clip (with audio), the seeded checkpoint, and the single-process outputs (PNG, video)."""
    root = tmp_path_factory.mktemp("shared")
    torch.manual_seed(0)
    ckpt = save_checkpoint(create_model("basicvsr.tiny"), root / "tiny.safetensors")
    # keyframes every 16 frames (B-frames between): rank 1 enters the video at one (start_near)
    gop = {"x264-params": "keyint=16:min-keyint=16:bframes=2:scenecut=0"}
    clip = make_video(root / "clip.mp4", frames=FRAMES, size=(32, 24), audio=True, options=gop)
    with open_input(clip) as src:
        assert src.start_near(34) == 32  # rank 1's first computed frame (segment 5's context)
    upscale_video(clip, root / "single", model=str(ckpt), quiet=True, **ENGINE)
    upscale_video(clip, root / "single.mp4", model=str(ckpt), quiet=True, **ENGINE)
    return {"root": root, "ckpt": str(ckpt), "clip": clip}


def _pngs(folder: Path) -> list[np.ndarray]:
    return [
        np.asarray(av.open(str(p)).decode(video=0).__next__().to_ndarray(format="rgb24"))
        for p in sorted(folder.glob("*.png"))
    ]


def _decoded(path: Path) -> tuple[list[np.ndarray], int]:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        return frames, len(c.streams.audio)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, argv: list[str], logs: str, stop_rank: int) -> None:
    """One process as torchrun starts it: the environment variables, then the CLI."""
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": str(world),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
        }
    )
    torch.set_num_threads(1)
    err = os.open(os.path.join(logs, f"rank{rank}.err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(err, 2)  # the test reads what each rank printed
    from freqvsr.cli.main import main
    from freqvsr.inference.job import simulated_interruption

    # stop_rank stops after its first segment, as a killed job would have left it
    with simulated_interruption(1) if rank == stop_rank else contextlib.nullcontext():
        status = main(argv)
    sys.stderr.flush()
    Path(logs, f"rank{rank}.status").write_text(str(status))


def _rank_that_hangs(rank: int, world: int, port: int, argv: list[str], logs: str, hang_rank: int) -> None:
    """As :func:`_rank`, but ``hang_rank`` stops dead after its first finished segment (marker
    written), telling the test so through a file, and waits there to be killed."""
    if rank == hang_rank:
        from freqvsr.inference import job as job_module

        original = job_module._Job._mark_done

        def mark_then_hang(self, ev, last):
            original(self, ev, last)
            Path(logs, f"rank{rank}.hanging").write_text(str(os.getpid()))
            while True:  # the test kills this process with SIGKILL
                time.sleep(1)

        job_module._Job._mark_done = mark_then_hang
    _rank(rank, world, port, argv, logs, -1)


def _launch(argv: list[str], logs: Path, stop_rank: int = -1, world: int = 2) -> tuple[list[int], list[str]]:
    logs.mkdir(parents=True, exist_ok=True)
    ctx = mp.start_processes(
        _rank, args=(world, _free_port(), argv, str(logs), stop_rank), nprocs=world, join=False, start_method="spawn"
    )
    deadline = time.time() + 60
    while not ctx.join(timeout=1):
        if time.time() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("the 2-process run did not finish in 60 s")
    return (
        [int((logs / f"rank{r}.status").read_text()) for r in range(world)],
        [(logs / f"rank{r}.err").read_text() for r in range(world)],
    )


def test_share_segments_contiguous_balanced_open_ended():
    bounds = segment_bounds("sequence", FRAMES, 16, 4)
    assert len(bounds) == 10
    assert share_segments(bounds, 2) == [(0, 5), (5, None)]
    shares = share_segments(bounds, 3)
    assert shares[0][0] == 0 and shares[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(shares, shares[1:], strict=False))  # every segment has one owner
    assert share_segments(bounds[:1], 2) == [(0, 1), (1, None)]  # more ranks than work: idle ones
    assert share_inputs(5, 1, 2) == [1, 3]
    assert isinstance(portable_error(RuntimeError("x")), RuntimeError) and portable_error(None) is None


@pytest.mark.spawns
@pytest.mark.timeout(120)
def test_torchrun_segments_of_one_video_equal_one_process(job, tmp_path):
    """torchrun itself (``python -m torch.distributed.run``), 2 processes, one video -> PNG frames."""
    out = tmp_path / "two"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "freqvsr",
        "upscale",
        str(job["clip"]),
        "-o",
        str(out),
        "--model",
        job["ckpt"],
        *FLAGS,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    single, shared = _pngs(job["root"] / "single"), _pngs(out)
    assert len(shared) == len(single) == FRAMES
    worst = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(single, shared, strict=True))
    print(f"\n2 processes vs 1: max abs difference {worst} (uint8) over {FRAMES} frames")
    assert worst == 0
    assert not list(tmp_path.glob(".*freqvsr-work"))  # the work folder is gone after the join


@pytest.mark.spawns
@pytest.mark.timeout(120)
def test_folder_with_a_broken_input_shared_by_two_processes(job, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    make_video(folder / "a.mp4", frames=3, size=(16, 16))
    (folder / "b.mp4").write_text("not a video\n")
    make_video(folder / "c.mkv", frames=4, size=(16, 12))
    out = tmp_path / "out"
    status, err = _launch(["upscale", str(folder), "-o", str(out), "--model", job["ckpt"], *FLAGS], tmp_path / "logs")
    assert status == [1, 1]  # exit 1 on every rank: one input failed (on rank 1: b.mp4 is input 1)
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "c.mkv"]
    assert "3 inputs: 2 ok, 1 failed" in err[0] and "inputs:" not in err[1]  # rank 0 prints the summary
    assert "b.mp4" in err[1] and "freqvsr: error:" in err[1]  # the rank that ran it says why


@pytest.mark.spawns
@pytest.mark.timeout(120)
def test_a_stopped_rank_resumes_into_the_uninterrupted_output(job, tmp_path):
    """Rank 1 stops after one of its five segments; ``--resume`` (2 processes again) skips the
    finished segments of both ranks and gives the uninterrupted video, audio remuxed."""
    out = tmp_path / "out.mp4"
    argv = ["upscale", str(job["clip"]), "-o", str(out), "--model", job["ckpt"], *FLAGS]
    status, _ = _launch(argv, tmp_path / "logs1", stop_rank=1)
    work = tmp_path / ".out.mp4.freqvsr-work"
    assert status == [0, 0] and not out.exists() and work.is_dir()
    markers = sorted(p.name for p in work.glob("seg_*.done"))
    assert markers == [f"seg_{i:05d}.done" for i in range(6)]  # rank 0: 0-4, rank 1: 5 only
    status, err = _launch([*argv, "--resume"], tmp_path / "logs2")
    assert status == [0, 0], err
    assert out.exists() and not work.exists()
    frames, audio = _decoded(out)
    single, single_audio = _decoded(job["root"] / "single.mp4")
    assert len(frames) == FRAMES and audio == single_audio == 1
    assert all(np.array_equal(a, b) for a, b in zip(frames, single, strict=True))
    # the same file, byte for byte (MP4 has no random ids; Matroska writes a random segment UID)
    assert out.read_bytes() == (job["root"] / "single.mp4").read_bytes()


@pytest.mark.spawns
@pytest.mark.timeout(120)
def test_processes_with_different_random_weights_refuse_to_share_a_video(tmp_path):
    """A model without weights is drawn at random in each process: sharing a video between them
    would mix two models, so every rank stops with the reason before any frame is computed."""
    clip = make_video(tmp_path / "c.mp4", frames=4, size=(16, 16))
    out = tmp_path / "o.mp4"
    status, err = _launch(["upscale", str(clip), "-o", str(out), "--model", "basicvsr.tiny", *FLAGS], tmp_path / "l")
    assert status == [1, 1] and not out.exists() and not (tmp_path / ".o.mp4.freqvsr-work").exists()
    assert "different weights" in err[0] and "--weights" in err[0]


@pytest.mark.spawns
@pytest.mark.timeout(150)
def test_a_rank_killed_mid_job_resumes_into_the_uninterrupted_output(job, tmp_path):
    """Rank 1 is killed (SIGKILL) after the first of its five segments; as torchrun's agent would,
    the test then stops the other rank. ``--resume`` with 2 processes gives the uninterrupted MP4."""
    import signal

    out = tmp_path / "out.mp4"
    argv = ["upscale", str(job["clip"]), "-o", str(out), "--model", job["ckpt"], *FLAGS]
    logs = tmp_path / "logs1"
    logs.mkdir()
    ctx = mp.start_processes(
        _rank_that_hangs, args=(2, _free_port(), argv, str(logs), 1), nprocs=2, join=False, start_method="spawn"
    )
    hanging = logs / "rank1.hanging"
    deadline = time.time() + 60
    while not hanging.exists():
        assert time.time() < deadline, "rank 1 never finished a segment"
        time.sleep(0.05)
    pid = int(hanging.read_text())
    assert pid == ctx.processes[1].pid
    os.kill(pid, signal.SIGKILL)
    ctx.processes[1].join(10)
    assert ctx.processes[1].exitcode == -signal.SIGKILL
    # torchrun stops the remaining workers when one dies; here the test does it
    ctx.processes[0].join(5)
    if ctx.processes[0].is_alive():
        ctx.processes[0].kill()
        ctx.processes[0].join(10)
    work = tmp_path / ".out.mp4.freqvsr-work"
    assert not out.exists() and work.is_dir()
    assert (work / "seg_00005.done").exists()  # rank 1's first segment survived the kill
    status, err = _launch([*argv, "--resume"], tmp_path / "logs2")
    assert status == [0, 0], err
    assert out.exists() and not work.exists()
    assert out.read_bytes() == (job["root"] / "single.mp4").read_bytes()
