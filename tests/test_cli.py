"""The command line contract: exit codes, one-line errors, models table, multi-input, demo."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from clips import make_video
from freqvsr.cli.main import main


@pytest.mark.spawns
def test_console_script_help_and_usage_errors(capsys):
    out = subprocess.run([sys.executable, "-m", "freqvsr.cli.main", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "upscale" in out.stdout and "demo" in out.stdout
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["upscale", "x.mp4"])  # missing -o
    assert exc.value.code == 2
    assert main(["upscale", "in.mp4", "-o", "o.mp4", "--precision", "fp16", "--device", "cpu", "--quiet"]) in (1, 2)


@pytest.mark.spawns
def test_debug_shows_traceback(tmp_path):
    args = [
        sys.executable,
        "-m",
        "freqvsr.cli.main",
        "upscale",
        str(tmp_path / "missing.mp4"),
        "-o",
        str(tmp_path / "o.mp4"),
    ]
    plain = subprocess.run(args, capture_output=True, text=True)
    debug = subprocess.run([*args, "--debug"], capture_output=True, text=True)
    assert plain.returncode == 1 and plain.stderr.strip().count("\n") == 0
    assert "Traceback" in debug.stderr


def test_models_table_lists_every_entry(capsys):
    from freqvsr.models import list_models

    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list_models()
    assert {r["name"]: r["params"] for r in rows}["bicubic"] == 0
    assert main(["models"]) == 0
    assert "(default)" in capsys.readouterr().out


def test_several_inputs_go_to_a_folder(tmp_path, capsys):
    a = make_video(tmp_path / "a.mp4", frames=2, size=(16, 16))
    b = make_video(tmp_path / "b.mkv", frames=3, size=(16, 12))
    out = tmp_path / "out"
    report = tmp_path / "r.json"
    assert main(["upscale", str(a), str(b), "-o", str(out), "--quiet", "--json", str(report)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv"]
    reports = json.loads(report.read_text())
    assert [r["frames"] for r in reports] == [2, 3] and all(
        r["fps"] > 0 and r["peak_memory_bytes"] > 0 for r in reports
    )
    assert main(["upscale", str(a), str(b), "-o", str(tmp_path / "x.mp4"), "--quiet"]) == 2


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--frames", "6", "--quiet"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"input_lq_crf25.mp4", "sr_bicubic.mp4", "side_by_side.png", "metrics.md", "metrics.json"} <= names
    table = json.loads((out / "metrics.json").read_text())
    r = table["results"]["bicubic"]
    assert r["frames"] == 6 and 20 < r["psnr_rgb"] < 50 and 0.5 < r["ssim_y"] <= 1
    assert "bicubic" in capsys.readouterr().out  # says the default is bicubic
