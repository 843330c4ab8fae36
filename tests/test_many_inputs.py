"""Several inputs in one `freqvsr upscale`: a failing input does not stop the others, a summary
table is printed, the exit status says whether any failed; `python -m freqvsr` runs the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from clips import make_video
from freqvsr.cli.main import main


def _folder(tmp_path, broken: bool):
    folder = tmp_path / "clips"
    folder.mkdir()
    make_video(folder / "a.mp4", frames=2, size=(16, 16))
    make_video(folder / "c.mkv", frames=3, size=(16, 12))
    if broken:
        (folder / "b.mp4").write_text("not a video\n")
    else:
        make_video(folder / "b.mp4", frames=2, size=(16, 16))
    return folder


def test_folder_with_a_broken_input_continues_and_exits_1(tmp_path, capsys):
    folder = _folder(tmp_path, broken=True)
    out, report = tmp_path / "out", tmp_path / "r.json"
    assert (
        main(["upscale", str(folder), "-o", str(out), "--model", "bicubic", "--device", "cpu", "--json", str(report)])
        == 1
    )
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "c.mkv"]  # the input after the broken one ran too
    err = capsys.readouterr().err
    summary = err[err.index("input  ") :]
    assert "freqvsr: error:" in err and "b.mp4" in err
    rows = [line for line in summary.splitlines()[1:-1] if "failed" in line.split()]
    assert len(rows) == 1 and "b.mp4" in rows[0]  # the summary names the broken file, with its error
    assert "3 inputs: 2 ok, 1 failed" in summary
    reports = json.loads(report.read_text())
    assert [(r["input"].rsplit("/", 1)[-1], r["status"]) for r in reports] == [
        ("a.mp4", "ok"),
        ("b.mp4", "failed"),
        ("c.mkv", "ok"),
    ]
    assert [r["frames"] for r in reports] == [2, 0, 3]
    assert reports[1]["error"] and reports[0]["error"] is None and reports[0]["fps"] > 0


def test_all_inputs_succeed_exits_0(tmp_path, capsys):
    folder = _folder(tmp_path, broken=False)
    extra = make_video(tmp_path / "d.mp4", frames=2, size=(16, 16))  # a file and a folder of videos together
    out = tmp_path / "out"
    assert main(["upscale", str(folder), str(extra), "-o", str(out), "--model", "bicubic", "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mp4", "c.mkv", "d.mp4"]
    err = capsys.readouterr().err
    assert "4 inputs: 4 ok, 0 failed" in err and "freqvsr: error" not in err
    # --quiet: no summary when nothing failed
    assert main(["upscale", str(folder), "-o", str(tmp_path / "q"), "--model", "bicubic", "--quiet"]) == 0
    assert "inputs:" not in capsys.readouterr().err


def test_quiet_still_prints_the_summary_when_an_input_fails(tmp_path, capsys):
    folder = _folder(tmp_path, broken=True)
    assert main(["upscale", str(folder), "-o", str(tmp_path / "out"), "--model", "bicubic", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "3 inputs: 2 ok, 1 failed" in err


def test_same_output_name_twice_is_refused(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = make_video(tmp_path / "x" / "a.mp4", frames=2, size=(16, 16))
    b = make_video(tmp_path / "y" / "a.mp4", frames=2, size=(16, 16))
    assert main(["upscale", str(a), str(b), "-o", str(tmp_path / "out"), "--model", "bicubic", "--quiet"]) == 2
    assert "same output" in capsys.readouterr().err


@pytest.mark.spawns
def test_python_dash_m_freqvsr_runs_the_cli(tmp_path):
    help_ = subprocess.run([sys.executable, "-m", "freqvsr", "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "upscale" in help_.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "freqvsr", "upscale", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and "freqvsr: error:" in missing.stderr


def test_resume_rerun_skips_finished_and_retries_the_failed(tmp_path, capsys):
    folder = _folder(tmp_path, broken=True)
    out, report = tmp_path / "out", tmp_path / "r.json"
    args = ["upscale", str(folder), "-o", str(out), "--model", "bicubic", "--quiet"]
    assert main(args) == 1
    make_video(folder / "b.mp4", frames=2, size=(16, 16))  # the user repairs the broken input
    assert main([*args, "--resume", "--json", str(report)]) == 0
    assert [r["status"] for r in json.loads(report.read_text())] == ["skipped", "ok", "skipped"]
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mp4", "c.mkv"]


@pytest.mark.spawns
@pytest.mark.timeout(120)
def test_jobs_2_runs_inputs_in_two_processes(tmp_path, capfd):
    """--jobs 2: a pool of 2 processes (1 thread each here); summary and exit status as without it."""
    folder = _folder(tmp_path, broken=True)
    out, report = tmp_path / "out", tmp_path / "r.json"
    assert (
        main(
            [
                "upscale",
                str(folder),
                "-o",
                str(out),
                "--model",
                "bicubic",
                "--device",
                "cpu",
                "--jobs",
                "2",
                "--json",
                str(report),
            ]
        )
        == 1
    )
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "c.mkv"]
    err = capfd.readouterr().err
    assert "3 inputs: 2 ok, 1 failed" in err and "b.mp4" in err
    reports = json.loads(report.read_text())
    assert [r["status"] for r in reports] == ["ok", "failed", "ok"] and [r["frames"] for r in reports] == [2, 0, 3]
    assert main(["upscale", str(folder), "-o", str(out), "--jobs", "0"]) == 2
