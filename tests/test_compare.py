"""`freqvsr compare`: HTML/PNG reports, auto crop, DCT spectra, errors, headless-browser rendering."""

from __future__ import annotations

import argparse
import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from clips import make_video
from PIL import Image

from freqvsr.errors import InputError, UsageError
from freqvsr.report import panels as C
from freqvsr.report.compare import compare, parse_crop
from freqvsr.report.spectra import auto_crop, band_curve, dct_spectrum

S = 4
H, W = 64, 96  # output size; LQ is 16x24
REGION = (slice(24, 40), slice(48, 64))  # rows, cols where SR "b" differs from SR "a"


def _gt(t: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([np.sin(xx / 5 + t) * 0.4 + 0.5, np.cos(yy / 7) * 0.4 + 0.5, ((xx + yy) % 16) / 16], -1)
    return np.round(img * 255).astype(np.uint8)


def _write(folder: Path, frames) -> Path:
    folder.mkdir()
    for t, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"{t:03d}.png")
    return folder


@pytest.fixture
def inputs(tmp_path):
    """LQ (box-downscaled GT), SR a (nearest upscale of LQ), SR b (= a except REGION, taken from GT), GT."""
    T = 4
    gts = [_gt(t) for t in range(T)]
    lqs = [g.reshape(H // S, S, W // S, S, 3).mean((1, 3)).round().astype(np.uint8) for g in gts]
    a = [np.repeat(np.repeat(lq, S, 0), S, 1) for lq in lqs]
    b = []
    for x, g in zip(a, gts):
        y = x.copy()
        y[REGION] = g[REGION]
        b.append(y)
    return {
        "lq": _write(tmp_path / "lq", lqs),
        "a": _write(tmp_path / "a", a),
        "b": _write(tmp_path / "b", b),
        "gt": _write(tmp_path / "gt", gts),
        "dir": tmp_path,
    }


def _parser():
    from freqvsr.cli import compare as cli

    p = argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true")
    cli.add_parser(p.add_subparsers(), common)
    return p


def test_html_report_is_self_contained_with_all_sections(inputs):
    out = inputs["dir"] / "report.html"
    res = compare(
        inputs["lq"], [inputs["a"], inputs["b"]], inputs["gt"], out, labels=["modelA", "modelB"], crop_size=32, zoom=3
    )
    html = out.read_text()
    for section in ("inputs", "metrics", "crops", "spectra", "curve", "psnr"):
        assert f'<section id="{section}">' in html
    # Panels LQ, bicubic, modelA, modelB, GT: one embedded crop each plus the frame overview.
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(uris) == 6
    crop = Image.open(io.BytesIO(base64.b64decode(uris[1])))
    assert crop.size == (32 * 3, 32 * 3)
    assert html.count('class="heatmap"') == 5 and html.count("<svg") == 5 + 1 + 2  # maps, colour bar, 2 charts
    assert html.count('class="series"') == 5 + 2  # curve per panel, PSNR line per SR
    assert not re.search(r'(src|href)="(https?:|file:|/)', html)  # nothing fetched from outside the page
    assert "modelA" in html and "modelB" in html
    # b restores REGION exactly, so it beats a against GT.
    assert res["metrics"]["modelB"]["psnr"] > res["metrics"]["modelA"]["psnr"]
    assert res["frames_scored"] == 4 and res["frame"] == 1 and len(res["per_frame_psnr"]["modelA"]) == 4
    assert [p.name for p in inputs["dir"].iterdir() if p.name.startswith(".")] == []  # no temporary left behind


def test_png_montage_size_and_video_inputs(tmp_path):
    lq = make_video(tmp_path / "lq.mp4", frames=3, size=(16, 12))
    sr = make_video(tmp_path / "sr.mp4", frames=3, size=(64, 48))
    out = tmp_path / "m.png"
    args = _parser().parse_args(["compare", str(lq), str(sr), "-o", str(out), "--crop-size", "32", "--quiet"])
    assert args.func(args) == 0
    img = Image.open(out)
    n, tile, hm = 3, 32 * 2, 32 * 2  # LQ, bicubic, SR; default zoom 2; heat map as wide as the tile
    assert img.size == (
        n * tile + (n + 1) * C.GAP,
        C.GAP + C.LABEL_H + tile + C.GAP + C.LABEL_H + hm + C.GAP + (C.CURVE_H + C.GAP),
    )


def test_auto_crop_finds_where_two_outputs_differ(inputs):
    res = compare(inputs["lq"], [inputs["a"], inputs["b"]], None, inputs["dir"] / "r.png", crop_size=32, bicubic=False)
    x, y, w, h = res["crop"]
    assert (w, h) == (32, 32)
    rows, cols = REGION
    assert x <= cols.start and cols.stop <= x + w and y <= rows.start and rows.stop <= y + h
    assert "disagreement" in res["crop_reason"] and res["metrics"] == {}
    # A 16-pixel square of difference in a 32-pixel window: centred, on the 8-pixel grid.
    score = np.zeros((96, 128))
    score[40:56, 72:88] = 1.0
    assert auto_crop(score, (32, 32)) == (64, 32, 32, 32)


def test_spectrum_of_smooth_image_is_low_frequency():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    smooth = np.repeat((128 + 100 * np.sin(xx / 20) * np.cos(yy / 25))[..., None], 3, -1).astype(np.uint8)
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cs, cn = band_curve(dct_spectrum(smooth)), band_curve(dct_spectrum(noise))
    assert cs.shape == (15,)
    share = lambda c: c[:3].sum() / c.sum()  # share of the three lowest bands
    assert share(cs) > 2 * share(cn)
    assert cs[8:].mean() < 0.5 * cn[8:].mean()


def test_user_errors_are_one_line(inputs, tmp_path):
    d = inputs
    with pytest.raises(InputError, match="no such file"):
        compare(d["lq"], [tmp_path / "missing"], None, tmp_path / "x.html")
    with pytest.raises(UsageError, match="outside"):
        compare(d["lq"], [d["a"]], d["gt"], tmp_path / "x.html", crop="80,0,32,32")
    with pytest.raises(UsageError, match="four integers"):
        parse_crop("1,2,3")
    with pytest.raises(UsageError, match=r"\.html or \.png"):
        compare(d["lq"], [d["a"]], None, tmp_path / "x.jpg")
    short = _write(tmp_path / "short", [_gt(0)])
    with pytest.raises(InputError, match="fewer frames"):
        compare(d["lq"], [d["a"]], short, tmp_path / "x.png", frame=0)
    small = _write(tmp_path / "small", [np.zeros((32, 32, 3), np.uint8)])
    with pytest.raises(InputError, match="is 32x32"):
        compare(d["lq"], [d["a"], small], None, tmp_path / "x.png")
    with pytest.raises(InputError, match="not an integer fraction"):
        compare(small, [d["a"]], None, tmp_path / "x.png")  # 96x64 is 3x wide but 2x high
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.html").exists()
    from freqvsr.cli.compare import split_inputs

    assert split_inputs(["L", "G"], ["A", "B"], None) == ("L", ["A", "B"], "G")
    assert split_inputs(["L", "A"], [], "G") == ("L", ["A"], "G")
    with pytest.raises(UsageError):
        split_inputs(["L"], [], None)


BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.spawns
@pytest.mark.skipif(BROWSER is None, reason="no headless browser (chromium) installed")
def test_html_renders_in_headless_browser(inputs):
    out = inputs["dir"] / "report.html"
    compare(inputs["lq"], [inputs["a"], inputs["b"]], inputs["gt"], out, crop_size=32, zoom=3)
    shot = inputs["dir"] / "shot.png"
    subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,1800",
            f"--screenshot={shot}",
            out.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    px = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    # The DC cell of each spectral map is above the shared (AC) scale: exactly the colour map's top
    # colour (253, 231, 37), 20x20 px in each of the 5 maps. Seeing them proves the inline SVG heat
    # maps were drawn, not just the text (nothing else on the page has that colour).
    assert (np.abs(px - [253, 231, 37]).sum(1) <= 6).sum() >= 5 * 20 * 20
    assert len(np.unique(px[::7], axis=0)) > 200  # crops and charts, not a blank page
