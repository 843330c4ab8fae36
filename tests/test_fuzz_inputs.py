"""Issue 11: a bounded fuzz test. Small valid files (made here) are mutated at random (bytes
flipped, spans overwritten, cut, repeated) and each is upscaled: the job must end in success or
one `freqvsr: error:` line naming the file with exit 1 -- never a traceback, a crash, a hang, or
anything left at or beside OUTPUT.

The cases run in one child process, so a crash (a signal from inside FFmpeg) or a hang shows up
as that process dying or timing out, with the case it was working on. Count, seed and the time
budget are bounded for CI; ``FREQVSR_FUZZ_CASES`` / ``FREQVSR_FUZZ_SEED`` run more locally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clips import make_video, write_png

CASES = int(os.environ.get("FREQVSR_FUZZ_CASES", "40"))
SEED = int(os.environ.get("FREQVSR_FUZZ_SEED", "11"))
BUDGET_S = float(os.environ.get("FREQVSR_FUZZ_BUDGET_S", "25"))  # then stop starting new cases
CASE_LIMIT_S = 30  # one case longer than this counts as a hang

_DRIVER = r"""
import contextlib, io, json, signal, sys, time
from freqvsr.cli.main import main

cases, budget = json.loads(sys.argv[1]), float(sys.argv[2])
begun = time.perf_counter()
for case in cases:
    if time.perf_counter() - begun > budget:
        break
    print(json.dumps({"start": case["src"]}), flush=True)
    buf = io.StringIO()
    signal.alarm(int(sys.argv[3]))  # a hang ends this process with SIGALRM
    t = time.perf_counter()
    with contextlib.redirect_stderr(buf):
        code = main(["upscale", case["src"], "-o", case["out"], "--model", "bicubic", "--quiet"])
    signal.alarm(0)
    print(json.dumps({**case, "code": code, "err": buf.getvalue(), "seconds": time.perf_counter() - t}), flush=True)
"""


def _seeds(tmp: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    png = write_png(tmp / "seed.png", rng.integers(0, 255, (24, 24, 3), dtype=np.uint8))
    return [
        make_video(tmp / "seed.mp4", frames=6, size=(32, 32), audio=True),
        make_video(tmp / "seed.mkv", frames=6, size=(32, 32)),
        make_video(tmp / "seed.ts", frames=6, size=(32, 32), audio=True),
        make_video(tmp / "seed.mov", frames=4, size=(32, 32), codec="png", pix_fmt="rgb24"),
        png,
    ]


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    buf = bytearray(data)
    kind = rng.integers(5)
    if kind == 0:  # flip a few bytes
        for pos in rng.integers(0, len(buf), rng.integers(1, 17)):
            buf[pos] ^= int(rng.integers(1, 256))
    elif kind == 1:  # overwrite a span with noise
        start = int(rng.integers(0, len(buf)))
        span = min(len(buf) - start, int(rng.integers(1, 129)))
        buf[start : start + span] = rng.integers(0, 256, span, dtype=np.uint8).tobytes()
    elif kind == 2:  # cut
        del buf[int(rng.integers(1, len(buf))) :]
    elif kind == 3:  # repeat a chunk (duplicated packets, broken joins)
        start = int(rng.integers(0, len(buf)))
        chunk = buf[start : start + int(rng.integers(16, 2049))]
        at = int(rng.integers(0, len(buf)))
        buf[at:at] = chunk
    else:  # zero a span
        start = int(rng.integers(0, len(buf)))
        span = min(len(buf) - start, int(rng.integers(1, 513)))
        buf[start : start + span] = bytes(span)
    return bytes(buf)


@pytest.mark.spawns
def test_fuzzed_inputs_fail_cleanly_or_succeed(tmp_path):
    seeds = _seeds(tmp_path)
    rng = np.random.default_rng(SEED)
    cases = []
    for i in range(CASES):
        seed = seeds[i % len(seeds)]
        src = tmp_path / f"fuzz{i:03d}{seed.suffix}"
        src.write_bytes(_mutate(seed.read_bytes(), rng))
        outdir = tmp_path / f"out{i:03d}"
        outdir.mkdir()
        cases.append({"src": str(src), "out": str(outdir / "o.mkv")})
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, json.dumps(cases), str(BUDGET_S), str(CASE_LIMIT_S)],
        capture_output=True,
        text=True,
        timeout=BUDGET_S + 2 * CASE_LIMIT_S + 60,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    last = next((e["start"] for e in reversed(events) if "start" in e), None)
    assert proc.returncode == 0, f"the driver died (status {proc.returncode}) on {last}: {proc.stderr[-2000:]}"
    results = [e for e in events if "code" in e]
    assert len(results) >= min(CASES, 10), "too few cases ran in the time budget"
    outcomes = {0: 0, 1: 0}
    for r in results:
        src, out, err = Path(r["src"]), Path(r["out"]), r["err"].strip().splitlines()
        assert r["code"] in (0, 1), r
        outcomes[r["code"]] += 1
        assert all(line.startswith("freqvsr: ") for line in err), r  # no traceback, no stray text
        left = sorted(p.name for p in out.parent.iterdir() if p != out)
        assert left == [], (r, left)
        if r["code"] == 0:
            assert out.exists() and not any(line.startswith("freqvsr: error:") for line in err), r
        else:
            assert not out.exists(), r
            errors = [line for line in err if line.startswith("freqvsr: error:")]
            assert len(errors) == 1 and errors[0] == err[-1], r
            assert src.name in errors[0] and "--debug" not in errors[0], r
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
    # the mutations are mild enough that some files still play and harsh enough that some do not
    assert outcomes[0] and outcomes[1], outcomes
    print(f"fuzz: {len(results)} cases, {outcomes[0]} upscaled, {outcomes[1]} refused in one line")
