"""benchmarks/results_table.py: the README's results table is built from bench JSON as it says."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("freqvsr_results_table", ROOT / "benchmarks" / "results_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(model, clip, preset, psnr):
    return {
        "model": model,
        "clip": clip,
        "preset": preset,
        "frames": 30,
        "psnr_rgb": psnr,
        "psnr_y": psnr + 1,
        "ssim_rgb": 0.5,
        "ssim_y": 0.6,
    }


def test_cells_are_clip_means_marked_against_bicubic(tmp_path, capsys, monkeypatch):
    rows = [
        _row("bicubic", "a", "bi", 28.0),
        _row("bicubic", "b", "bi", 26.0),
        _row("net", "a", "bi", 30.0),
        _row("net", "b", "bi", 25.0),  # mean 27.5: above 27.0
        _row("bicubic", "a", "crf35", 24.0),
        _row("bicubic", "b", "crf35", 24.0),
        _row("net", "a", "crf35", 23.0),
        _row("net", "b", "crf35", 24.5),  # mean 23.75: below 24.0
    ]
    text = _module().quality_tables(rows)
    lines = text.splitlines()
    rgb = lines[lines.index("| RGB | bi | crf35 |") :]
    assert rgb[2] == "| `bicubic` | 27.00 / 0.5000 | 24.00 / 0.5000 |"
    assert rgb[3] == "| `net` | 27.50 ↑ / 0.5000 | 23.75 ↓ / 0.5000 |"
    assert "| `net` | 28.50 ↑ / 0.6000 | 24.75 ↓ / 0.6000 |" in lines  # the Y table
    speed = [
        {
            "model": "net",
            "params": 1.5e6,
            "flops_per_frame": 5.2e10,
            "fps": 3.21,
            "precision": "fp32",
            "lr_size": [180, 320],
            "device": "cpu",
        }
    ]
    # net's crf35 rows scored in a later run, with its own bicubic rows (the first file's win)
    (tmp_path / "q.json").write_text(json.dumps(rows[:6]))
    (tmp_path / "q2.json").write_text(json.dumps([_row("bicubic", "a", "crf35", 99.0)] + rows[6:]))
    (tmp_path / "s.json").write_text(json.dumps(speed))
    (tmp_path / "s2.json").write_text(json.dumps([{**speed[0], "model": "other", "fps": 0.5}]))
    argv = ["results_table.py", str(tmp_path / "q.json"), str(tmp_path / "q2.json")]
    argv += ["--speed", str(tmp_path / "s.json"), str(tmp_path / "s2.json")]
    monkeypatch.setattr(sys, "argv", argv)
    _module().main()
    out = capsys.readouterr().out
    assert text in out  # the merged files give the same tables; the later bicubic row is ignored
    assert (
        "| `net` | 1.50 M | 52.0 | 3.21 | fp32 |\n| `other` | 1.50 M | 52.0 | 0.50 | fp32 |" in out
        and "LR input 180×320, device cpu" in out
    )
