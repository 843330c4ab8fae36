"""Issue 11: a partly corrupt stream upscales what decodes and says how many frames were lost;
``--strict`` makes any loss an error (exit 1, nothing left at or beside OUTPUT). Also the
``--json`` report: frames in / out / lost, seconds, peak memory.
"""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from pathlib import Path

import av
import pytest

from clips import make_video
from freqvsr.cli.main import main
from freqvsr.inference import upscale_video
from freqvsr.inference.job import simulated_interruption
from freqvsr.io import open_input

FRAMES = 30


def _cli(argv, capsys) -> tuple[int, list[str]]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip().splitlines()


def _zero_packets(src: Path, dst: Path, which: range) -> Path:
    """``src`` with the data of video packets ``which`` zeroed: the Matroska structure is intact,
    the decoder refuses exactly those frames (MJPEG: no start-of-image marker)."""
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as c:
        packets = [(p.pos, bytes(p)) for p in c.demux(c.streams.video[0]) if p.size]
    for pos, payload in (packets[i] for i in which):
        start = data.index(payload[:32], pos)  # pos is the block's header, the payload follows
        data[start : start + len(payload)] = bytes(len(payload))
    dst.write_bytes(bytes(data))
    return dst


@pytest.fixture
def broken(tmp_path) -> Path:
    """30 tiny MJPEG frames in Matroska (no declared frame count), frames 10-12 destroyed."""
    clean = make_video(tmp_path / "clean.mkv", frames=FRAMES, size=(16, 12), codec="mjpeg", pix_fmt="yuvj420p")
    return _zero_packets(clean, tmp_path / "broken.mkv", range(10, 13))


@pytest.fixture
def cluster_hit(tmp_path) -> Path:
    """30 FFV1 frames in Matroska with a 400-byte span zeroed half-way: the demuxer skips the
    damaged blocks (no decoder error), only the timestamps show the hole."""
    clean = make_video(tmp_path / "clean1.mkv", frames=FRAMES, size=(16, 12), codec="ffv1", pix_fmt="yuv420p")
    data = bytearray(clean.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 400] = bytes(400)
    out = tmp_path / "cluster.mkv"
    out.write_bytes(bytes(data))
    return out


def test_reader_counts_refused_packets(broken):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_input(broken) as src:
            n = sum(1 for _ in src)
    assert (n, src.frames_decoded, src.frames_lost) == (27, 27, 3)
    assert [str(w.message) for w in caught] == [
        f"{broken}: 3 of 30 frames lost to corrupt or missing data (3 could not be decoded); "
        "the output has the 27 that decoded (strict=True makes this an error)"
    ]


def test_reader_counts_a_skipped_region_by_timestamps(cluster_hit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_input(cluster_hit) as src:
            n = sum(1 for _ in src)
    assert 0 < n < FRAMES and src.frames_lost == FRAMES - n
    (message,) = [str(w.message) for w in caught]
    assert f"{FRAMES - n} of {FRAMES} frames lost" in message and f"timestamps skip {FRAMES - n} frame slot" in message


def test_clean_inputs_lose_nothing(tmp_path):
    # evenly spaced, variable-rate and declared-count inputs: no false alarm, nothing counted
    cfr = make_video(tmp_path / "cfr.mkv", frames=6, size=(16, 12), codec="ffv1")
    vfr = make_video(
        tmp_path / "vfr.mkv",
        frames=6,
        size=(16, 12),
        codec="ffv1",
        time_base=Fraction(1, 1000),
        pts=[0, 40, 120, 150, 330, 370],
    )
    mp4 = make_video(tmp_path / "b.mp4", frames=6, size=(16, 12), audio=True)
    for path in (cfr, vfr, mp4):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with open_input(path, strict=True) as src:
                assert sum(1 for _ in src) == 6 and src.frames_lost == 0, path


def test_upscale_keeps_what_decodes_and_reports_the_loss(broken, tmp_path, capsys):
    out = tmp_path / "o.mkv"
    report = tmp_path / "r.json"
    code, err = _cli(
        ["upscale", broken, "-o", out, "--model", "bicubic", "--codec", "ffv1", "--quiet", "--json", report], capsys
    )
    assert code == 0
    assert len(err) == 1 and err[0].startswith("freqvsr: warning:") and "broken.mkv: 3 of 30 frames lost" in err[0], err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_input(out) as src:
            assert sum(1 for _ in src) == 27
    # the output keeps the source's timestamps (in step with its audio), so the hole shows there too
    assert ["timestamps skip 3 frame slot" in str(w.message) for w in caught] == [True]
    (r,) = json.loads(report.read_text())
    assert (r["frames_in"], r["frames_out"], r["frames_lost"], r["frames"]) == (27, 27, 3, 27)
    assert r["seconds"] > 0 and r["peak_memory_bytes"] > 2**20 and r["alpha"] is False


@pytest.mark.parametrize("chunk", [None, "4"])
def test_strict_makes_a_loss_an_error_and_leaves_nothing(broken, cluster_hit, tmp_path, capsys, chunk):
    # chunk 4: segments finish before the damage is met; they go too (resuming meets it again)
    extra = ["--chunk", chunk] if chunk else []
    for src in (broken, cluster_hit):
        outdir = tmp_path / f"out_{src.stem}_{chunk}"
        outdir.mkdir()
        out = outdir / "o.mkv"
        code, err = _cli(
            ["upscale", src, "-o", out, "--model", "bicubic", "--codec", "ffv1", "--quiet", "--strict", *extra], capsys
        )
        assert code == 1, err
        assert len(err) == 1 and err[0].startswith("freqvsr: error:"), err
        assert src.name in err[0] and "--debug" not in err[0], err
        assert list(outdir.iterdir()) == []


def test_strict_passes_a_clean_input(tmp_path, capsys):
    src = make_video(tmp_path / "ok.mkv", frames=4, size=(16, 12), codec="ffv1")
    code, err = _cli(
        ["upscale", src, "-o", tmp_path / "o.mkv", "--model", "bicubic", "--codec", "ffv1", "--quiet", "--strict"],
        capsys,
    )
    assert (code, err) == (0, [])


def test_json_report_of_a_clean_and_a_resumed_job(tmp_path):
    src = make_video(tmp_path / "s.mkv", frames=6, size=(16, 12), codec="ffv1")
    out = tmp_path / "o.mkv"
    kw = dict(model="bicubic", codec="ffv1", chunk=2, quiet=True)
    with simulated_interruption(1):
        upscale_video(src, out, **kw)
    r = upscale_video(src, out, resume=True, **kw).to_dict()
    # every input frame is decoded again; 4 are computed now, OUTPUT has all 6
    assert (r["frames_in"], r["frames"], r["frames_out"], r["frames_lost"], r["resumed_frames"]) == (6, 4, 6, 0, 2)
    assert {"seconds", "fps", "peak_memory_bytes", "peak_gpu_memory_bytes"} <= set(r)
