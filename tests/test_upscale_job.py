"""`freqvsr upscale` end to end: file fidelity, sizes, bad inputs, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from clips import decode_all, make_video, write_png
from freqvsr.cli.main import main
from freqvsr.inference import upscale_video, work_dir_for
from freqvsr.inference.job import simulated_interruption
from freqvsr.io import open_input, probe


def _packets(path: Path, kind: str) -> list[bytes]:
    with av.open(str(path)) as c:
        streams = [s for s in c.streams if s.type == kind]
        return [bytes(p) for p in c.demux(streams) if p.size]


def _frames(path: Path) -> np.ndarray:
    with open_input(path) as src:
        return np.stack([f.image for f in src])


def test_audio_copied_bit_exact_and_timestamps_kept(clip_with_audio, tmp_path):
    out = tmp_path / "out.mp4"
    report = upscale_video(clip_with_audio, out, model="bicubic", quiet=True)
    assert report.frames == 8 and report.output_size == (256, 192)
    src_info, out_info = probe(clip_with_audio), probe(out)
    assert (out_info.width, out_info.height) == (256, 192)
    assert out_info.num_frames == 8 and out_info.fps == src_info.fps
    assert out_info.audio_streams == 1
    assert _packets(out, "audio") == _packets(clip_with_audio, "audio")
    src_frames, _ = decode_all(clip_with_audio)
    out_frames, _ = decode_all(out)
    assert [f.time for f in out_frames] == pytest.approx([f.time for f in src_frames], abs=1e-6)
    assert not work_dir_for(out).exists()


def _first_audio_time(path: Path) -> float:
    # packet time, priming samples included (mp4 hides them behind an edit list, mkv does not)
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        return min(float(p.pts * s.time_base) for p in c.demux(s) if p.pts is not None)


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_vfr_timestamps_kept_in_sync_with_audio(vfr_clip, tmp_path, ext):
    out = tmp_path / ("vfr_x4" + ext)
    upscale_video(vfr_clip, out, model="bicubic", quiet=True, chunk=3)
    src_t = [f.time for f in decode_all(vfr_clip)[0]]
    out_t = [f.time for f in decode_all(out)[0]]
    # Matroska has no negative timestamps, so it shifts every stream by the AAC priming delay;
    # what must hold is the frame spacing and the audio/video offset.
    assert [t - out_t[0] for t in out_t] == pytest.approx([t - src_t[0] for t in src_t], abs=1e-3)
    assert out_t[0] - _first_audio_time(out) == pytest.approx(src_t[0] - _first_audio_time(vfr_clip), abs=1e-3)
    if ext == ".mp4":
        assert out_t == pytest.approx(src_t, abs=1e-6)


def test_ten_bit_stays_ten_bit(tmp_path):
    src = make_video(
        tmp_path / "ten.mkv",
        frames=3,
        size=(32, 24),
        codec="libx265",
        pix_fmt="yuv420p10le",
        options={"x265-params": "log-level=error"},
    )
    out = tmp_path / "ten_x4.mkv"
    upscale_video(src, out, model="bicubic", codec="libx265", quiet=True)
    info = probe(out)
    assert info.bit_depth == 10 and "10" in info.pix_fmt
    img = _frames(out)
    assert img.dtype == np.uint16 and np.any(img % 256 != 0)  # more than 8 bits of levels survive


def test_grayscale_odd_size_single_frame_and_folders(tmp_path):
    frames_in = tmp_path / "gray_frames"
    frames_in.mkdir()
    rng = np.random.default_rng(0)
    write_png(frames_in / "f1.png", rng.integers(0, 255, (61, 97), dtype=np.uint8))
    out = tmp_path / "gray_x4"
    upscale_video(frames_in, out, model="bicubic", quiet=True)
    pngs = sorted(p for p in out.iterdir() if p.suffix == ".png")
    assert len(pngs) == 1
    img = _frames(out)
    assert img.shape == (1, 244, 388, 3)
    assert np.array_equal(img[..., 0], img[..., 1])  # grey stays grey
    # odd size video, one frame
    one = make_video(tmp_path / "one.mp4", frames=1, size=(97, 61), codec="libx264", pix_fmt="yuv444p")
    with pytest.warns(UserWarning, match="no trained weights"):  # random weights are named, not hidden
        upscale_video(one, tmp_path / "one_x4.mp4", model="basicvsr.tiny", quiet=True)
    info = probe(tmp_path / "one_x4.mp4")
    assert (info.width, info.height, info.num_frames) == (388, 244, 1)


# ------------------------------------------------------------------ bad inputs
def _run_cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def _zero_frame_video(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    return path


@pytest.mark.parametrize(
    "case", ["missing", "text", "truncated", "zero", "model", "scale", "unwritable", "no-parent", "no-parent-dir"]
)
def test_bad_inputs_one_line_error_nothing_written(case, tmp_path, small_clip, capsys):
    out = tmp_path / "out.mp4"
    src = small_clip
    extra: list[str] = []
    if case == "missing":
        src = tmp_path / "nope.mp4"
    elif case == "text":
        src = tmp_path / "notes.mp4"
        src.write_text("this is not a video\n")
    elif case == "truncated":
        src = tmp_path / "cut.mp4"
        data = small_clip.read_bytes()
        src.write_bytes(data[: len(data) // 2])
    elif case == "zero":
        src = _zero_frame_video(tmp_path / "zero.mp4")
    elif case == "model":
        extra = ["--model", "no-such-model"]
    elif case == "scale":
        from freqvsr.models import create_model, save_checkpoint

        ckpt = tmp_path / "x2.safetensors"
        save_checkpoint(create_model("bicubic", scale=2), ckpt)
        extra = ["--model", str(ckpt), "--scale", "4"]
    elif case == "unwritable":
        blocker = tmp_path / "file.txt"
        blocker.write_text("x")
        out = blocker / "out.mp4"
    elif case in ("no-parent", "no-parent-dir"):
        out = tmp_path / "a" / "b" / ("out.mp4" if case == "no-parent" else "frames")
    code, err = _run_cli(["upscale", str(src), "-o", str(out), "--quiet", *extra], capsys)
    assert code in (1, 2), err
    assert len(err) == 1 and err[0].startswith("freqvsr: error:"), err
    named = {
        "model": "no-such-model",
        "scale": "x2.safetensors",
        "unwritable": "file.txt",
        "no-parent": "a/b",
        "no-parent-dir": "a/b",
    }.get(case, src.name)
    assert named in err[0]
    if case.startswith("no-parent"):
        assert "does not exist" in err[0] and not (tmp_path / "a").exists()
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers


def test_existing_output_is_never_overwritten_without_flag(small_clip, tmp_path, capsys):
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"precious")
    code, err = _run_cli(["upscale", str(small_clip), "-o", str(out), "--quiet"], capsys)
    assert code == 1 and "already exists" in err[0]
    assert out.read_bytes() == b"precious"
    assert _run_cli(["upscale", str(small_clip), "-o", str(small_clip), "--quiet"], capsys)[0] == 2


# ---------------------------------------------------------------------- resume
@pytest.fixture
def tiny_ckpt(tmp_path) -> Path:
    """basicvsr.tiny with fixed weights: a resumed job must see the same model as the first run."""
    import torch

    from freqvsr.models import create_model, save_checkpoint

    torch.manual_seed(0)
    return save_checkpoint(create_model("basicvsr.tiny"), tmp_path / "tiny.safetensors")


# libx264 runs without mbtree (see io.encode), which makes its bitstream reproducible: a resumed
# lossy job must give the very same packets as an uninterrupted one.
@pytest.mark.parametrize("out_name", ["frames_out", "out.mkv", "out.mp4"])
def test_resume_in_process_matches_uninterrupted(tmp_path, tiny_ckpt, out_name):
    src = make_video(tmp_path / "src.mp4", frames=20, size=(24, 16), audio=True)
    whole, part = tmp_path / ("whole_" + out_name), tmp_path / ("part_" + out_name)
    kw = dict(model=str(tiny_ckpt), chunk=6, overlap=2, quiet=True, device="cpu")
    if out_name.endswith(".mkv"):
        kw["codec"] = "ffv1"
    upscale_video(src, whole, **kw)
    with simulated_interruption(2):
        upscale_video(src, part, **kw)
    assert not part.exists() and len(json.loads((work_dir_for(part) / "job.json").read_text())["segments"]) == 2
    report = upscale_video(src, part, resume=True, **kw)
    assert report.resumed_frames == 8
    assert np.array_equal(_frames(whole), _frames(part))
    if out_name.endswith(".mp4"):
        assert _packets(part, "video") == _packets(whole, "video")
    if "." in out_name:
        assert _packets(part, "audio") == _packets(src, "audio")


def test_resume_refuses_a_different_job(tmp_path, capsys, tiny_ckpt):
    src = make_video(tmp_path / "src.mp4", frames=12, size=(24, 16))
    out = tmp_path / "o.mp4"
    with simulated_interruption(1):
        upscale_video(src, out, model=str(tiny_ckpt), chunk=4, quiet=True)
    code, err = _run_cli(
        ["upscale", str(src), "-o", str(out), "--model", str(tiny_ckpt), "--chunk", "5", "--resume", "--quiet"], capsys
    )
    assert code == 2 and "chunk" in err[0]


@pytest.mark.spawns
def test_resume_after_kill_matches_uninterrupted(tmp_path, tiny_ckpt):
    """A real SIGKILL mid-job, then --resume: same decoded frames as an uninterrupted run."""
    src = make_video(tmp_path / "src.mp4", frames=48, size=(64, 48))
    args = [
        "--model",
        str(tiny_ckpt),
        "--chunk",
        "4",
        "--overlap",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--codec",
        "ffv1",
    ]
    cmd = [sys.executable, "-m", "freqvsr.cli.main", "upscale", str(src)]
    subprocess.run([*cmd, "-o", str(tmp_path / "whole.mkv"), *args], check=True, timeout=300)
    out = tmp_path / "killed.mkv"
    proc = subprocess.Popen([*cmd, "-o", str(out), *args])
    manifest = work_dir_for(out) / "job.json"
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            if len(json.loads(manifest.read_text())["segments"]) >= 2:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(json.loads(manifest.read_text())["segments"])
    assert not out.exists() and 2 <= done < 12, done  # really killed mid-way
    subprocess.run([*cmd, "-o", str(out), *args, "--resume"], check=True, timeout=300)
    assert np.array_equal(_frames(tmp_path / "whole.mkv"), _frames(out))
    assert not work_dir_for(out).exists()


def test_subtitles_rotation_and_colour_tags_survive_upscale(tmp_path):
    from clips import add_subtitles

    base = make_video(
        tmp_path / "base.mkv",
        frames=4,
        size=(32, 24),
        rotation=90,
        colorspace=1,
        color_range=2,
        color_primaries=1,
        color_trc=1,
    )
    src = add_subtitles(base, tmp_path / "subs.mkv", "srt")
    out = tmp_path / "out.mkv"
    upscale_video(src, out, model="bicubic", quiet=True)
    a, b = probe(src), probe(out)
    assert b.subtitle_streams == a.subtitle_streams == 1
    assert _packets(out, "subtitle") == _packets(src, "subtitle")
    assert b.rotation == a.rotation == 90
    assert (b.colorspace, b.color_range, b.color_primaries, b.color_trc) == (1, 2, 1, 1)


def test_resume_keeps_the_plan_the_job_began_with(tmp_path, tiny_ckpt, monkeypatch):
    """The plan depends on the memory budget (and free memory); a resumed job computes with the
    chunk and tiles recorded when it began, whatever the budget is now."""
    from freqvsr.inference import Upscaler
    from freqvsr.inference.memory import WorkingSet

    # a model that looks memory-hungry: 64M forces short chunks on 48x40 frames
    monkeypatch.setattr(Upscaler, "working_set", lambda self: WorkingSet(0, 20_000, 2_000))
    src = make_video(tmp_path / "src.mp4", frames=20, size=(48, 40))
    kw = dict(model=str(tiny_ckpt), quiet=True, device="cpu", codec="ffv1")
    whole = upscale_video(src, tmp_path / "whole.mkv", memory_budget="64M", **kw)
    assert whole.planned_memory_bytes <= 64 << 20 and whole.chunk < 20
    roomy = upscale_video(src, tmp_path / "roomy.mkv", memory_budget="8G", **kw)
    assert roomy.tile_size is None and roomy.chunk == 20  # the whole video in one chunk
    part = tmp_path / "part.mkv"
    with simulated_interruption(1):
        upscale_video(src, part, memory_budget="64M", **kw)
    report = upscale_video(src, part, memory_budget="8G", resume=True, **kw)
    assert report.resumed_frames > 0 and report.tile_size == whole.tile_size and report.chunk == whole.chunk
    assert np.array_equal(_frames(tmp_path / "whole.mkv"), _frames(part))


def test_memory_budget_flag(small_clip, tmp_path, capsys):
    code, err = _run_cli(
        [
            "upscale",
            str(small_clip),
            "-o",
            str(tmp_path / "o.mp4"),
            "--model",
            "bicubic",
            "--memory-budget",
            "lots",
            "--quiet",
        ],
        capsys,
    )
    assert code == 2 and "--memory-budget" in err[-1]
    out = tmp_path / "ok.mp4"
    code, _ = _run_cli(
        [
            "upscale",
            str(small_clip),
            "-o",
            str(out),
            "--model",
            "bicubic",
            "--memory-budget",
            "1G",
            "--quiet",
            "--json",
            str(tmp_path / "r.json"),
        ],
        capsys,
    )
    assert code == 0 and json.loads((tmp_path / "r.json").read_text())[0]["memory_budget_bytes"] == 1 << 30


def test_one_process_resumes_what_processes_of_a_group_finished(tmp_path, tiny_ckpt):
    """Processes of a group (torchrun) record finished segments in their own marker files
    (seg_00003.done) instead of job.json; a single-process resume counts them too."""
    from freqvsr.errors import OutputError

    src = make_video(tmp_path / "src.mp4", frames=20, size=(24, 16))
    whole, part = tmp_path / "whole.mp4", tmp_path / "part.mp4"
    kw = dict(model=str(tiny_ckpt), chunk=6, overlap=2, quiet=True, device="cpu")
    upscale_video(src, whole, **kw)
    with simulated_interruption(3):
        upscale_video(src, part, **kw)
    work = work_dir_for(part)
    manifest = json.loads((work / "job.json").read_text())
    for seg in manifest["segments"]:  # as a group leaves them: markers, nothing in job.json
        (work / f"seg_{seg['index']:05d}.done").write_text(json.dumps({**seg, "last": False}))
    manifest["segments"] = []
    (work / "job.json").write_text(json.dumps(manifest))
    with pytest.raises(OutputError, match="3 finished segment"):
        upscale_video(src, part, **kw)  # without resume=True they are not thrown away either
    report = upscale_video(src, part, resume=True, **kw)
    assert report.resumed_frames == 12 and report.frames == 8
    assert part.read_bytes() == whole.read_bytes()


def test_a_fresh_job_computes_with_the_plan_its_memory_check_passed(tmp_path, tiny_ckpt, monkeypatch):
    """One plan per job: the stream must not plan again against whatever memory is free by then."""
    import inspect

    from freqvsr.inference import Upscaler

    callers: list[str] = []
    original = Upscaler.plan_video

    def recording(self, *args, **kwargs):
        callers.append(inspect.stack()[1].function)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Upscaler, "plan_video", recording)
    src = make_video(tmp_path / "src.mp4", frames=6, size=(32, 24))
    report = upscale_video(src, tmp_path / "out.mkv", model=str(tiny_ckpt), quiet=True, device="cpu", codec="ffv1")
    assert callers and "_events" not in callers, callers  # planned by the check (_check_memory) only
    assert report.planned_memory_bytes is not None and report.frames == 6
