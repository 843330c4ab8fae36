"""Issue 11, the ten reported failures: each test here failed before the fix.

Stop signals, --overwrite and restarts, joined recordings, unknown output extensions, broken
tags, frames too large for the codec, what the input held (chroma, depth, alpha), untrained
models, messages, full disks. Tiny clips and the bicubic / basicvsr.tiny models keep it fast.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from clips import make_video
from freqvsr.cli.main import main
from freqvsr.errors import OutputError
from freqvsr.inference import upscale_video, work_dir_for
from freqvsr.inference.job import simulated_interruption
from freqvsr.io import open_input, probe


def _cli(argv, capsys) -> tuple[int, list[str]]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip().splitlines()


def _frames(path: Path) -> np.ndarray:
    with open_input(path) as src:
        return np.stack([f.image for f in src])


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def tiny_ckpt(tmp_path) -> Path:
    import torch

    from freqvsr.models import create_model, save_checkpoint

    torch.manual_seed(0)
    return save_checkpoint(create_model("basicvsr.tiny"), tmp_path / "tiny.safetensors")


# ----------------------------------------------------------------- 1. Ctrl-C / SIGTERM
def _wait_for_segments(manifest: Path, proc: subprocess.Popen, n: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if len(json.loads(manifest.read_text())["segments"]) >= n:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)


@pytest.mark.spawns
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_exits_cleanly_and_resumes(tmp_path, tiny_ckpt, sig):
    """Ctrl-C crashed in libavformat (exit 139) after its message; now: 130 / 143, one line,
    finished segments kept, no partial file anywhere, and --resume finishes the job."""
    src = make_video(tmp_path / "src.mp4", frames=40, size=(48, 32), audio=True)
    out = tmp_path / "out" / "o.mkv"
    out.parent.mkdir()
    args = [
        sys.executable,
        "-m",
        "freqvsr.cli.main",
        "upscale",
        str(src),
        "-o",
        str(out),
        "--model",
        str(tiny_ckpt),
        "--chunk",
        "4",
        "--overlap",
        "1",
        "--device",
        "cpu",
        "--codec",
        "ffv1",
    ]
    # As from an interactive terminal: a shell that starts pytest in the background (nohup, `&`)
    # hands it SIGINT ignored, and freqvsr rightly never installs its handler over an ignored signal.
    proc = subprocess.Popen(
        args, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    _wait_for_segments(work_dir_for(out) / "job.json", proc, 1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    lines = err.strip().splitlines()
    assert lines[-1] == "freqvsr: interrupted (finished segments are kept; rerun with --resume to continue)", err
    assert "Traceback" not in err and "Segmentation" not in err
    assert all(line.startswith("freqvsr: ") for line in lines), err
    work = work_dir_for(out)
    assert not out.exists() and work.is_dir()
    assert _hidden(out.parent) == [work.name]  # nothing half-written beside OUTPUT
    seg_files = sorted(p.name for p in work.iterdir() if p.name.startswith("seg_"))
    done = [s["file"] for s in json.loads((work / "job.json").read_text())["segments"]]
    assert done and seg_files == done  # no partial segment either
    if sig == signal.SIGINT:
        resumed = subprocess.run([*args, "--resume", "--quiet"], capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        assert len(_frames(out)) == 40 and probe(out).audio_streams == 1
        assert not work.exists()


# ----------------------------------------------------------------- 2. --overwrite
def test_overwrite_never_removes_files_freqvsr_did_not_write(small_clip, tmp_path, capsys):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"a photo")
    code, err = _cli(
        ["upscale", small_clip, "-o", f"{folder}/", "--model", "bicubic", "--overwrite", "--quiet"], capsys
    )
    assert code == 1 and len(err) == 1 and "holiday.jpg" in err[0] and "f" in err[0], err
    assert (folder / "holiday.jpg").read_bytes() == b"a photo"
    assert _hidden(tmp_path) == []
    # a previous freqvsr frame folder is replaced, a file is not replaced by a folder
    frames = tmp_path / "frames"
    assert _cli(["upscale", small_clip, "-o", frames, "--model", "bicubic", "--quiet"], capsys)[0] == 0
    (frames / "00000000.png").write_bytes(b"stale")
    assert _cli(["upscale", small_clip, "-o", frames, "--model", "bicubic", "--overwrite", "--quiet"], capsys)[0] == 0
    assert len(_frames(frames)) == 6 and _hidden(tmp_path) == []
    notes = tmp_path / "notes"
    notes.write_text("mine")
    code, err = _cli(["upscale", small_clip, "-o", notes, "--model", "bicubic", "--overwrite", "--quiet"], capsys)
    assert code == 1 and notes.read_text() == "mine" and "not a folder" in err[0]


# ----------------------------------------------------------------- 3. joined recordings
def _joined_ts(tmp_path: Path) -> Path:
    """Two MPEG-TS recordings concatenated byte for byte: timestamps jump back half-way."""
    parts = []
    for name in ("a", "b"):
        parts.append(
            make_video(
                tmp_path / f"{name}.ts",
                frames=10,
                size=(32, 32),
                audio=True,
                time_base=Fraction(1, 90000),
                pts=[126000 + 3600 * i for i in range(10)],
            )
        )
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    return joined


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_backward_timestamps_mux_with_audio(tmp_path, capsys, ext):
    src = _joined_ts(tmp_path)
    out = tmp_path / ("joined_x4" + ext)
    code, err = _cli(["upscale", src, "-o", out, "--model", "bicubic", "--quiet"], capsys)
    assert code == 0, err
    assert all(line.startswith("freqvsr: warning:") and ".py" not in line for line in err), err
    assert any("jump back" in line for line in err)
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1
        times = [float(f.time) for f in c.decode(video=0)]
        c.seek(0)
        audio = [float(p.pts * p.time_base) for p in c.demux(c.streams.audio[0]) if p.pts is not None]
    assert len(times) == 20 and all(b > a for a, b in zip(times, times[1:]))
    assert times[10] - times[9] == pytest.approx(0.04, abs=1e-3)  # the second part follows on
    assert max(audio) > times[-1] - 0.1  # the audio of the second part is there, in step
    assert not work_dir_for(out).exists() and _hidden(tmp_path) == []


# ----------------------------------------------------------------- 4. output extensions
@pytest.mark.parametrize("name", ["out.ts", "out.xyz", "out.png"])
def test_unknown_output_extension_refused_before_any_work(small_clip, tmp_path, capsys, name):
    out = tmp_path / name
    # an unknown model too: the extension must be refused first, before the model is built
    code, err = _cli(["upscale", small_clip, "-o", out, "--model", "no-such-model"], capsys)
    assert code == 2 and len(err) == 1 and name in err[0] and "not a supported output" in err[0], err
    assert not out.exists() and _hidden(tmp_path) == []
    # a trailing slash, or an existing folder, says "folder" whatever the dots
    assert (
        _cli(["upscale", small_clip, "-o", f"{tmp_path / 'frames.v2'}/", "--model", "bicubic", "--quiet"], capsys)[0]
        == 0
    )
    assert len(_frames(tmp_path / "frames.v2")) == 6


# ----------------------------------------------------------------- 5. broken tags
def _clip_with_bad_tags(path: Path) -> Path:
    """A clip whose container title and stream title are not UTF-8 (bytes patched in place)."""
    with av.open(str(path), "w") as out:
        out.metadata["title"] = "QQQQQQ"
        vs = out.add_stream("libx264", rate=25)
        vs.width = vs.height = 32
        vs.pix_fmt = "yuv420p"
        vs.metadata["title"] = "RRRRRR"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 60 * i, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    data = path.read_bytes()
    assert data.count(b"QQQQQQ") == 1 and data.count(b"RRRRRR") == 1
    path.write_bytes(data.replace(b"QQQQQQ", b"\xa9\xff\xfeabc").replace(b"RRRRRR", b"\xe9t\xe9\xa9xy"))
    return path


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_non_utf8_tags_do_not_stop_the_job(tmp_path, capsys, ext):
    src = _clip_with_bad_tags(tmp_path / ("tags" + ext))
    out = tmp_path / "out.mkv"
    code, err = _cli(["upscale", src, "-o", out, "--model", "bicubic", "--quiet"], capsys)
    assert code == 0, err
    assert probe(out).num_frames == 3


# ----------------------------------------------------------------- 6. too wide for the codec
def test_frames_too_wide_for_h264_fail_before_the_job(tmp_path, capsys):
    src = make_video(tmp_path / "wide.mp4", frames=2, size=(4097, 17), pix_fmt="yuv444p")
    out = tmp_path / "wide_x4.mp4"
    code, err = _cli(["upscale", src, "-o", out, "--model", "bicubic", "--quiet"], capsys)
    assert code == 1 and len(err) == 1, err
    assert "wide_x4.mp4" in err[0] and "wide.mp4" in err[0] and "16388x68" in err[0] and "16384" in err[0], err
    assert "ffv1" in err[0]  # says what works instead
    assert not out.exists() and _hidden(tmp_path) == []


# ----------------------------------------------------------------- 7. what the input held
@pytest.mark.parametrize(
    "pix_fmt, want", [("yuv444p", "yuv444p"), ("yuv422p", "yuv422p"), ("yuv444p10le", "yuv444p10le")]
)
def test_chroma_and_depth_are_kept(tmp_path, pix_fmt, want):
    src = make_video(tmp_path / "src.mkv", frames=2, size=(32, 24), pix_fmt=pix_fmt, codec="ffv1")
    upscale_video(src, tmp_path / "o.mp4", model="bicubic", quiet=True)
    assert probe(tmp_path / "o.mp4").pix_fmt == want
    upscale_video(src, tmp_path / "frames", model="bicubic", quiet=True)
    assert _frames(tmp_path / "frames").dtype == (np.uint16 if "10" in pix_fmt else np.uint8)


def test_what_cannot_be_kept_is_said(tmp_path, capsys):
    src = make_video(tmp_path / "src444.mkv", frames=2, size=(32, 24), pix_fmt="yuv444p", codec="ffv1")
    code, err = _cli(
        ["upscale", src, "-o", tmp_path / "o.mkv", "--model", "bicubic", "--codec", "libsvtav1", "--quiet"], capsys
    )
    assert code == 0 and any("4:4:4" in line and line.startswith("freqvsr: warning:") for line in err), err
    alpha = make_video(tmp_path / "alpha.mov", frames=2, size=(32, 24), codec="png", pix_fmt="rgba")
    code, err = _cli(["upscale", alpha, "-o", tmp_path / "a.mkv", "--model", "bicubic", "--quiet"], capsys)
    assert code == 0 and any("alpha" in line for line in err), err


# ----------------------------------------------------------------- 8. untrained models
def test_untrained_model_warns_once(tmp_path, capsys, monkeypatch):
    from freqvsr.inference import engine

    monkeypatch.setattr(engine, "_WARNED_UNTRAINED", set())
    a = make_video(tmp_path / "a.mp4", frames=2, size=(16, 16))
    b = make_video(tmp_path / "b.mp4", frames=2, size=(16, 16))
    code, err = _cli(["upscale", a, b, "-o", tmp_path / "out", "--model", "basicvsr.tiny", "--quiet"], capsys)
    assert code == 0
    assert sum("no trained weights" in line for line in err) == 1, err
    assert _cli(["upscale", a, "-o", tmp_path / "b.mkv", "--model", "bicubic", "--quiet"], capsys) == (0, [])


# ----------------------------------------------------------------- 9. messages
def test_warnings_are_one_clean_line(tmp_path, capsys):
    src = make_video(tmp_path / "a.mp4", frames=2, size=(16, 16))
    code, err = _cli(["upscale", src, "-o", tmp_path / "o.mkv", "--model", "fcvsr.tiny", "--quiet"], capsys)
    assert code == 0 and err and all(line.startswith("freqvsr: warning:") for line in err), err
    assert not any(".py" in line or "UserWarning" in line for line in err)


def test_official_weights_as_model_point_to_weights_flag(small_clip, tmp_path, capsys):
    import torch

    pth = tmp_path / "FTVSR_REDS.pth"
    torch.save({"params": {"w": torch.zeros(1)}}, pth)
    code, err = _cli(["upscale", small_clip, "-o", tmp_path / "o.mp4", "--model", pth], capsys)
    assert code == 2 and len(err) == 1 and "--weights" in err[0] and "create_model" not in err[0], err


def test_progress_lines_when_stderr_is_not_a_terminal(small_clip, tmp_path, capsys, monkeypatch):
    from freqvsr.inference import job

    monkeypatch.setattr(job, "PROGRESS_INTERVAL", 0.0)  # capsys' stderr is not a terminal
    code, lines = _cli(["upscale", small_clip, "-o", tmp_path / "o.mkv", "--model", "bicubic"], capsys)
    progress = [line for line in lines if line.startswith("freqvsr: small.mp4: frame")]
    assert code == 0 and len(progress) >= 5 and "/6 (" in progress[-1] and "fps" in progress[-1], lines


def test_models_table_shows_no_machine_paths(capsys):
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "/tmp/" not in table and "/work/" not in table and "/home/" not in table


# ----------------------------------------------------------------- 10. restart without --resume
def test_restart_without_resume_keeps_the_interrupted_job(tmp_path, capsys, tiny_ckpt):
    src = make_video(tmp_path / "src.mp4", frames=12, size=(24, 16))
    out = tmp_path / "o.mkv"
    kw = dict(model=str(tiny_ckpt), chunk=4, overlap=1, quiet=True, device="cpu", codec="ffv1")
    with simulated_interruption(1):
        upscale_video(src, out, **kw)
    work = work_dir_for(out)
    before = sorted(p.name for p in work.iterdir())
    args = [
        "upscale",
        src,
        "-o",
        out,
        "--model",
        tiny_ckpt,
        "--chunk",
        "4",
        "--overlap",
        "1",
        "--codec",
        "ffv1",
        "--quiet",
    ]
    code, err = _cli(args, capsys)
    assert code == 1 and len(err) == 1 and "--resume" in err[0] and "--overwrite" in err[0], err
    assert sorted(p.name for p in work.iterdir()) == before  # nothing thrown away
    assert _cli([*args, "--resume"], capsys)[0] == 0 and not work.exists()
    # --resume never replaces a finished OUTPUT: the CLI skips it (a rerun batch), the API refuses
    stamp = out.stat().st_mtime_ns
    code, err = _cli([*args[:-1], "--resume"], capsys)
    assert code == 0 and "already finished, skipped" in err[0] and out.stat().st_mtime_ns == stamp
    with pytest.raises(OutputError, match="already exists"):
        upscale_video(src, out, resume=True, **kw)


# ----------------------------------------------------------------- faults: full disk, unwritable
def test_full_disk_mid_job_is_one_line_and_resumable(tmp_path, capsys, tiny_ckpt, monkeypatch):
    from freqvsr.io import encode

    src = make_video(tmp_path / "src.mp4", frames=12, size=(24, 16), audio=True)
    out = tmp_path / "o.mkv"
    real_write = encode.SegmentWriter.write
    calls = {"n": 0}

    def write(self, image, pts=None):
        calls["n"] += 1
        if calls["n"] == 6:  # in the second segment
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, image, pts)

    monkeypatch.setattr(encode.SegmentWriter, "write", write)
    args = [
        "upscale",
        src,
        "-o",
        out,
        "--model",
        tiny_ckpt,
        "--chunk",
        "4",
        "--overlap",
        "1",
        "--codec",
        "ffv1",
        "--quiet",
    ]
    code, err = _cli(args, capsys)
    assert code == 1 and len(err) == 1, err
    assert "No space left on device" in err[0] and str(tmp_path) in err[0] and "--resume" in err[0], err
    work = work_dir_for(out)
    done = [s["file"] for s in json.loads((work / "job.json").read_text())["segments"]]
    assert done == ["seg_00000.mp4"] and sorted(p.name for p in work.iterdir()) == ["job.json", "seg_00000.mp4"]
    assert not out.exists() and _hidden(tmp_path) == [work.name]
    monkeypatch.setattr(encode.SegmentWriter, "write", real_write)
    assert _cli([*args, "--resume"], capsys)[0] == 0
    assert len(_frames(out)) == 12 and probe(out).audio_streams == 1 and _hidden(tmp_path) == []


@pytest.mark.parametrize("raised", ["oserror", "mux"])
def test_full_disk_at_the_final_mux_keeps_the_segments(tmp_path, capsys, monkeypatch, raised):
    """An OSError, or the one-line OutputError that io.mux makes of it (what a real full disk
    gave: a 3 MB tmpfs), both say the segments are kept and how to go on."""
    from freqvsr.inference import job

    src = make_video(tmp_path / "src.mp4", frames=6, size=(24, 16))
    out = tmp_path / "o.mp4"

    def full(*a, **k):
        if raised == "mux":
            raise OutputError(f"{out}: writing failed (No space left on device)")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(job, "assemble_video", full)
    code, err = _cli(["upscale", src, "-o", out, "--model", "bicubic", "--quiet"], capsys)
    assert code == 1 and len(err) == 1 and "No space left" in err[0] and "--resume" in err[0], err
    monkeypatch.undo()
    assert _cli(["upscale", src, "-o", out, "--model", "bicubic", "--quiet", "--resume"], capsys)[0] == 0
    assert _hidden(tmp_path) == []


def test_unwritable_output_folder(tmp_path, capsys, small_clip, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root ignores permission bits: make the folder look read-only
            real_access = os.access
            monkeypatch.setattr(
                os, "access", lambda p, mode, **k: False if Path(p) == folder else real_access(p, mode, **k)
            )
        for out in (folder / "o.mp4", folder / "frames"):
            code, err = _cli(["upscale", small_clip, "-o", out, "--model", "bicubic", "--quiet"], capsys)
            assert code == 1 and len(err) == 1 and "ro" in err[0] and "not writable" in err[0], err
            assert list(folder.iterdir()) == [] and _hidden(tmp_path) == []
    finally:
        folder.chmod(0o755)


# ----------------------------------------------------------------- untrusted checkpoints
def test_malicious_pickle_is_refused_and_never_runs(small_clip, tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    import pickle

    import torch

    evil = tmp_path / "evil.pth"
    torch.save({"params": {"w": torch.zeros(1)}, "meta": Evil()}, evil)
    raw = tmp_path / "raw.pth"
    raw.write_bytes(pickle.dumps(Evil()))
    for weights in (evil, raw):
        code, err = _cli(
            [
                "upscale",
                small_clip,
                "-o",
                tmp_path / "o.mp4",
                "--model",
                "basicvsr.tiny",
                "--weights",
                weights,
                "--quiet",
            ],
            capsys,
        )
        assert code == 1 and len(err) == 1 and weights.name in err[0] and "safely" in err[0], err
        assert not marker.exists()
    # and a checkpoint of another architecture / scale is named as such
    from freqvsr.models import create_model, save_checkpoint

    other = save_checkpoint(create_model("fcvsr.tiny"), tmp_path / "fcvsr.safetensors")
    code, err = _cli(
        ["upscale", small_clip, "-o", tmp_path / "o.mp4", "--model", "basicvsr.tiny", "--weights", other, "--quiet"],
        capsys,
    )
    assert code == 1 and "fcvsr.tiny" in err[-1] and "basicvsr.tiny" in err[-1], err
    x2 = save_checkpoint(create_model("bicubic", scale=2), tmp_path / "x2.safetensors")
    code, err = _cli(
        ["upscale", small_clip, "-o", tmp_path / "o.mp4", "--model", x2, "--scale", "4", "--quiet"], capsys
    )
    assert code == 1 and "\u00d72" in err[-1] and "\u00d74" in err[-1], err
