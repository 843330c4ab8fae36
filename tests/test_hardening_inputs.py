"""Issue 11: the nasty-input matrix. Every input a user may hand us, generated here, through
`freqvsr upscale`: success, or one `freqvsr: error:` line naming the file with exit 1 (2 for
usage); never a traceback, a crash, a hang, or anything left at or beside OUTPUT.

Each case states the outcome it must have. Set ``FREQVSR_MATRIX_TABLE=path.md`` to write the
table (input -> exit status, message, leftovers, time) of a run.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from clips import make_video, write_png
from freqvsr.cli.main import main
from freqvsr.io import probe

_ROWS: list[tuple[str, int, str, str, float]] = []


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(tmp: Path, fraction: float, ext: str) -> Path:
    whole = make_video(tmp / f"whole{ext}", frames=6, size=(32, 32), audio=True)
    data = whole.read_bytes()
    cut = tmp / f"cut{int(fraction * 100)}{ext}"
    cut.write_bytes(data[: int(len(data) * fraction)])
    whole.unlink()
    return cut


def _png_with_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width`` x ``height`` but holds a 1x1 image's data."""
    write_png(path, np.zeros((1, 1, 3), np.uint8))
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))
    return path


def _joined_ts(tmp: Path) -> Path:
    parts = [
        make_video(
            tmp / f"{n}.ts",
            frames=5,
            size=(32, 32),
            audio=True,
            time_base=Fraction(1, 90000),
            pts=[126000 + 3600 * i for i in range(5)],
        )
        for n in "ab"
    ]
    joined = tmp / "joined.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    for p in parts:
        p.unlink()
    return joined


def _folder(tmp: Path, name: str, sizes: list[tuple[int, int]]) -> Path:
    folder = tmp / name
    folder.mkdir()
    for i, (w, h) in enumerate(sizes):
        write_png(folder / f"f{i}.png", np.full((h, w, 3), 40 * i, np.uint8))
    return folder


# name -> (builder(tmp) -> input path, output name, extra args, expected exit status)
CASES = {
    "missing file": (lambda t: t / "nope.mp4", "o.mp4", [], 1),
    "zero-length .mp4": (lambda t: _file(t / "empty.mp4", b""), "o.mp4", [], 1),
    "text named .mp4": (lambda t: _file(t / "notes.mp4", b"not a video\n"), "o.mp4", [], 1),
    "mp4 truncated at 10%": (lambda t: _truncated(t, 0.10, ".mp4"), "o.mp4", [], 1),
    "mp4 truncated at 50%": (lambda t: _truncated(t, 0.50, ".mp4"), "o.mp4", [], 1),
    "mp4 truncated at 90%": (lambda t: _truncated(t, 0.90, ".mp4"), "o.mp4", [], 1),
    "mkv truncated at 50%": (lambda t: _truncated(t, 0.50, ".mkv"), "o.mkv", [], 0),  # upscales what decodes
    "mkv truncated at 5%": (lambda t: _truncated(t, 0.05, ".mkv"), "o.mkv", [], 1),
    "audio only": (lambda t: make_video(t / "audio.m4a", frames=0, audio=True), "o.mp4", [], 1),
    "one PNG image (not a folder)": (
        lambda t: write_png(t / "still.png", np.full((9, 7, 3), 90, np.uint8)),
        "o.mp4",
        [],
        0,
    ),
    "empty folder": (lambda t: _folder(t, "nothing", []), "o.mp4", [], 1),
    "folder, mixed sizes": (lambda t: _folder(t, "mixed", [(8, 8), (9, 8)]), "o.mp4", [], 1),
    "1x1 PNG folder": (lambda t: _folder(t, "tiny", [(1, 1), (1, 1)]), "o.mp4", [], 0),
    "1x1 frames to x265 (4x4 out)": (lambda t: _folder(t, "tiny5", [(1, 1)]), "o.mkv", ["--codec", "libx265"], 1),
    "4097x17 to H.264": (
        lambda t: make_video(t / "wide.mkv", frames=1, size=(4097, 17), codec="ffv1", pix_fmt="yuv444p"),
        "o.mp4",
        [],
        1,
    ),
    "4097x17 to FFV1": (
        lambda t: make_video(t / "wide.mkv", frames=1, size=(4097, 17), codec="ffv1", pix_fmt="yuv444p"),
        "o.mkv",
        ["--codec", "ffv1"],
        0,
    ),
    "PNG declaring 60000x60000": (lambda t: _png_with_size(t / "huge.png", 60000, 60000), "o.mp4", [], 1),
    "backward timestamps (joined .ts)": (_joined_ts, "o.mp4", [], 0),
    "rotation 90": (lambda t: make_video(t / "rot.mp4", frames=2, size=(32, 24), rotation=90), "o.mp4", [], 0),
    "4:2:2": (
        lambda t: make_video(t / "s422.mkv", frames=2, size=(32, 24), pix_fmt="yuv422p", codec="ffv1"),
        "o.mp4",
        [],
        0,
    ),
    "4:4:4": (lambda t: make_video(t / "s444.mp4", frames=2, size=(32, 24), pix_fmt="yuv444p"), "o.mp4", [], 0),
    "10-bit": (
        lambda t: make_video(t / "b10.mkv", frames=2, size=(32, 24), pix_fmt="yuv420p10le", codec="ffv1"),
        "o.mp4",
        [],
        0,
    ),
    "12-bit": (
        lambda t: make_video(t / "b12.mkv", frames=2, size=(32, 24), pix_fmt="yuv444p12le", codec="ffv1"),
        "o.mkv",
        [],
        0,
    ),
    "grayscale": (
        lambda t: make_video(t / "gray.mkv", frames=2, size=(32, 24), pix_fmt="gray", codec="ffv1"),
        "o.mp4",
        [],
        0,
    ),
    "alpha (PNG in MOV) to H.264": (
        lambda t: make_video(t / "alpha.mov", frames=2, size=(32, 24), codec="png", pix_fmt="rgba"),
        "o.mov",
        [],
        0,
    ),
    "alpha (PNG in MOV) to ProRes 4444": (
        lambda t: make_video(t / "alpha.mov", frames=2, size=(32, 24), codec="png", pix_fmt="rgba"),
        "o.mov",
        ["--codec", "prores_ks"],
        0,
    ),
    "alpha (QuickTime RLE) to PNG frames": (
        lambda t: make_video(t / "rle.mov", frames=2, size=(32, 24), codec="qtrle", pix_fmt="argb"),
        "frames",
        [],
        0,
    ),
    "alpha (VP9 in WebM) to WebM": (
        lambda t: make_video(t / "vp9a.webm", frames=2, size=(32, 24), codec="libvpx-vp9", pix_fmt="yuva420p"),
        "o.webm",
        [],
        0,
    ),
    "path with spaces and non-ASCII": (
        lambda t: make_video(t / "été vidéo 日本.mp4", frames=2, size=(32, 24)),
        "sortie été.mp4",
        [],
        0,
    ),
    "output .ts": (lambda t: make_video(t / "ok.mp4", frames=2, size=(16, 16)), "o.ts", [], 2),
    "output .xyz": (lambda t: make_video(t / "ok.mp4", frames=2, size=(16, 16)), "o.xyz", [], 2),
    "output .avi": (lambda t: make_video(t / "ok.mp4", frames=2, size=(16, 16)), "o.avi", [], 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_nasty_input(case, tmp_path, capsys):
    build, out_name, extra, expected = CASES[case]
    inputs = tmp_path / "in"
    inputs.mkdir()
    src = build(inputs)
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / out_name
    started = time.perf_counter()
    code = main(["upscale", str(src), "-o", str(out), "--model", "bicubic", "--quiet", *extra])
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err.strip().splitlines()
    leftovers = sorted(p.name for p in outdir.iterdir() if p != out)
    message = next((line for line in err if line.startswith("freqvsr: error:")), err[-1] if err else "")
    _ROWS.append((case, code, message or "(none)", ", ".join(leftovers) or "none", seconds))

    assert code == expected, err
    assert leftovers == [], leftovers  # nothing beside OUTPUT, success or not
    assert seconds < 60
    if code == 0:
        assert out.exists()
        assert all(line.startswith("freqvsr: warning:") for line in err), err
    else:
        assert not out.exists()
        errors = [line for line in err if line.startswith("freqvsr: error:")]
        assert len(errors) == 1 and err[-1] == errors[0], err
        assert all(line.startswith("freqvsr: ") for line in err), err  # no traceback, no stray output
        assert "--debug" not in errors[0], err  # an explained failure, not an unexpected exception
        named = {2: out.name}.get(code, src.name)
        assert named in errors[0], err
    if case.startswith("alpha"):
        # dropped with a warning by H.264; kept (no warning) where the output holds it
        dropped = any("alpha" in line and "dropped" in line for line in err)
        assert dropped == case.endswith("H.264"), err
        assert probe(out).alpha == (not dropped)


def test_matrix_table():
    """Writes the table of the cases run above when FREQVSR_MATRIX_TABLE names a file."""
    target = os.environ.get("FREQVSR_MATRIX_TABLE")
    if not target or not _ROWS:
        pytest.skip("set FREQVSR_MATRIX_TABLE=path.md to write the table")
    lines = ["| input | exit | message | leftovers | time |", "|---|---|---|---|---|"]
    for case, code, message, leftovers, seconds in _ROWS:
        lines.append(f"| {case} | {code} | {message.replace('|', '/')} | {leftovers} | {seconds:.2f} s |")
    Path(target).write_text("\n".join(lines) + "\n")
