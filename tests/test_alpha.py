"""Issue 11, item 7: transparency is kept where the output can hold it, and said where it cannot.

The alpha plane is up-sampled with the bicubic of the ``bicubic`` model
(:func:`freqvsr.inference.engine.upscale_alpha`) and written as RGBA PNG frames (16-bit for
deep inputs), ProRes 4444 (.mov/.mkv), FFV1 (.mkv) or VP9 with alpha (.webm). H.264 and other
outputs without alpha get one warning line naming what is lost and what keeps it.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from freqvsr.cli.main import main
from freqvsr.inference import upscale_video, work_dir_for
from freqvsr.inference.engine import upscale_alpha
from freqvsr.inference.job import simulated_interruption
from freqvsr.io import open_input, probe

W, H = 20, 12


def _rgba(i: int, bits: int = 8) -> np.ndarray:
    """A frame with a soft-edged, moving opacity ramp and a hard transparent hole."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    rgb = np.stack([(x / W + 0.1 * i) % 1, y / H, 0.5 + 0.4 * np.sin((x + y) / 5 + i)], -1)
    alpha = np.clip((x - 3 - i) / 8, 0, 1)
    alpha[4:8, 12:16] = 0
    img = np.concatenate([rgb, alpha[..., None]], -1)
    peak = 65535 if bits > 8 else 255
    return np.round(img * peak).astype(np.uint16 if bits > 8 else np.uint8)


def _png_folder(folder: Path, n: int, bits: int = 8) -> list[np.ndarray]:
    folder.mkdir()
    frames = [_rgba(i, bits) for i in range(n)]
    for i, img in enumerate(frames):
        fmt = "rgba" if bits == 8 else "rgba64be"
        little = img if bits == 8 else img.astype("<u2")
        frame = av.VideoFrame.from_ndarray(little, format="rgba" if bits == 8 else "rgba64le").reformat(format=fmt)
        ctx = av.CodecContext.create("png", "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = W, H, fmt, Fraction(1, 25)
        (folder / f"f{i:02d}.png").write_bytes(b"".join(bytes(p) for p in ctx.encode(frame)))
    return frames


def _video(path: Path, codec: str, pix_fmt: str, n: int = 3, options: dict | None = None) -> list[np.ndarray]:
    """A clip with alpha; returns the alpha planes as the reader decodes them (what the job sees)."""
    out = av.open(str(path), "w")
    vs = out.add_stream(codec, rate=25)
    vs.width, vs.height, vs.pix_fmt = W, H, pix_fmt
    vs.options = options or {}
    for i in range(n):
        out.mux(vs.encode(av.VideoFrame.from_ndarray(_rgba(i), format="rgba").reformat(format=pix_fmt)))
    out.mux(vs.encode(None))
    out.close()
    with open_input(path) as src:
        assert src.info.alpha, f"{path.name}: the reader found no alpha"
        return [f.alpha for f in src]


def _alphas(path: Path) -> tuple[list[np.ndarray], str]:
    with open_input(path) as src:
        frames = list(src)
        assert all(f.alpha is not None for f in frames), f"{path}: no alpha read back"
        return [f.alpha for f in frames], src.info.pix_fmt


def _as8(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) / 257 if a.dtype == np.uint16 else a.astype(np.float64)


def _cli(argv, capsys) -> tuple[int, list[str]]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("bits", [8, 16])
def test_rgba_png_folder_to_rgba_png_folder(tmp_path, bits):
    frames = _png_folder(tmp_path / "in", 3, bits)
    upscale_video(tmp_path / "in", tmp_path / "out", model="bicubic", quiet=True)
    files = sorted((tmp_path / "out").glob("*.png"))
    assert len(files) == 3
    for file, src in zip(files, frames):
        with av.open(str(file)) as c:
            frame = next(c.decode(video=0))
        assert frame.format.name == ("rgba" if bits == 8 else "rgba64be")
        got = frame.to_ndarray(format="rgba" if bits == 8 else "rgba64le")
        assert got.shape == (4 * H, 4 * W, 4)
        np.testing.assert_array_equal(got[..., 3], upscale_alpha(src[..., 3], 4))  # exactly bicubic
    # colour is the same as without alpha: compare with an opaque copy of the input
    opaque = tmp_path / "opaque"
    opaque.mkdir()
    for i, img in enumerate(frames):
        arr = np.ascontiguousarray(img[..., :3])
        f = av.VideoFrame.from_ndarray(
            arr if bits == 8 else arr.astype("<u2"), format="rgb24" if bits == 8 else "rgb48le"
        )
        ctx = av.CodecContext.create("png", "w")
        ctx.width, ctx.height, ctx.time_base = W, H, Fraction(1, 25)
        ctx.pix_fmt = "rgb24" if bits == 8 else "rgb48be"
        (opaque / f"f{i:02d}.png").write_bytes(b"".join(bytes(p) for p in ctx.encode(f.reformat(format=ctx.pix_fmt))))
    upscale_video(opaque, tmp_path / "out_rgb", model="bicubic", quiet=True)
    with open_input(tmp_path / "out") as a, open_input(tmp_path / "out_rgb") as b:
        for fa, fb in zip(a, b):
            np.testing.assert_array_equal(fa.image, fb.image)


@pytest.mark.parametrize("codec, pix_fmt", [("png", "rgba"), ("qtrle", "argb"), ("prores_ks", "yuva444p10le")])
def test_mov_with_alpha_to_mov_and_mkv(tmp_path, codec, pix_fmt):
    src = tmp_path / f"in_{codec}.mov"
    alphas = _video(src, codec, pix_fmt, options={"profile": "4444"} if codec == "prores_ks" else None)
    want = [_as8(upscale_alpha(a, 4)) for a in alphas]
    # ProRes 4444 in .mov: 10-bit alpha, within one 8-bit step of the bicubic alpha
    upscale_video(src, tmp_path / "o.mov", model="bicubic", codec="prores_ks", quiet=True)
    got, fmt = _alphas(tmp_path / "o.mov")
    assert fmt.startswith("yuva444p") and len(got) == len(want)
    assert max(np.abs(_as8(g) - w).max() for g, w in zip(got, want)) <= 1.0
    # FFV1 in .mkv: lossless, the alpha comes back exactly (8-bit input); a 12-bit ProRes alpha
    # is stored at FFV1's 10 bits, within half an 8-bit step
    upscale_video(src, tmp_path / "o.mkv", model="bicubic", codec="ffv1", quiet=True)
    got, fmt = _alphas(tmp_path / "o.mkv")
    assert fmt.startswith("yuva")
    assert max(np.abs(_as8(g) - w).max() for g, w in zip(got, want)) <= (0.5 if codec == "prores_ks" else 0)


def test_vp9_alpha_webm_in_and_out(tmp_path):
    src = tmp_path / "in.webm"
    alphas = _video(src, "libvpx-vp9", "yuva420p", options={"lossless": "1"})
    assert probe(src).pix_fmt == "yuva420p"  # libvpx decodes the alpha FFmpeg's vp9 decoder skips
    upscale_video(src, tmp_path / "o.webm", model="bicubic", quiet=True)
    got, fmt = _alphas(tmp_path / "o.webm")
    assert fmt == "yuva420p"
    err = [np.abs(_as8(g) - _as8(upscale_alpha(a, 4))).mean() for g, a in zip(got, alphas)]
    assert max(err) < 3, err  # lossy VP9 (CRF 30): close, not exact


@pytest.mark.parametrize("out_name, hint", [("o.mp4", ".mov with --codec prores_ks"), ("o.mkv", "--codec ffv1")])
def test_output_without_alpha_warns_once(tmp_path, capsys, out_name, hint):
    _png_folder(tmp_path / "in", 2)
    code, err = _cli(["upscale", tmp_path / "in", "-o", tmp_path / out_name, "--model", "bicubic", "--quiet"], capsys)
    assert code == 0
    assert len(err) == 1 and err[0].startswith("freqvsr: warning:"), err
    assert "alpha" in err[0] and "dropped" in err[0] and "libx264" in err[0] and hint in err[0], err
    assert not probe(tmp_path / out_name).alpha


@pytest.mark.parametrize("out_name, codec", [("frames", None), ("o.mkv", "ffv1")])
def test_resume_keeps_alpha(tmp_path, out_name, codec):
    src = tmp_path / "in"
    _png_folder(src, 6)
    kw = dict(model="bicubic", chunk=2, quiet=True, codec=codec)
    whole = tmp_path / ("whole" + Path(out_name).suffix)
    upscale_video(src, whole, **kw)
    out = tmp_path / out_name
    with simulated_interruption(1):
        upscale_video(src, out, **kw)
    assert work_dir_for(out).is_dir()
    report = upscale_video(src, out, resume=True, **kw)
    assert report.resumed_frames == 2 and not work_dir_for(out).exists()
    with open_input(whole) as a, open_input(out) as b:
        fa, fb = list(a), list(b)
    assert len(fa) == len(fb) == 6
    for x, y in zip(fa, fb):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.alpha, y.alpha)
