"""The panels of `freqvsr compare` and the PNG montage drawn from them.

A :class:`Panel` is one column of the comparison: LQ (nearest ×scale, so its pixels stay
visible), bicubic, each SR, GT; with its crop and spectrum. :func:`render_png` lays them out as
one picture; :mod:`freqvsr.report.html` renders the same panels as a page.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np

from freqvsr.report.spectra import band_curve

__all__ = [
    "Panel",
    "curve_series",
    "frame_overview",
    "panel_colours",
    "png_data_uri",
    "psnr_series",
    "render_png",
    "spectrum_range",
    "zoomed",
]

GAP = 8  # pixels between tiles in the PNG montage
LABEL_H = 18  # label strip above each tile in the PNG montage
CURVE_H = 240  # height of each chart in the PNG montage


@dataclass
class Panel:
    """One column of the comparison: a label, its crop (as displayed) and its spectrum."""

    label: str
    kind: str  # "lq", "bicubic", "sr", "gt"
    crop: np.ndarray  # (h, w, 3) uint8, at output resolution
    spectrum: np.ndarray  # (8, 8) mean log10(1 + |DCT|)
    curve: np.ndarray = field(default=None)  # (15,) mean per diagonal band
    source: str = ""
    spectrum_label: str = ""  # how the spectrum was taken, when not from the crop as shown

    @property
    def curve_label(self) -> str:
        return self.spectrum_label or self.label

    def __post_init__(self):
        if self.curve is None:
            self.curve = band_curve(self.spectrum)


def _png_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def png_data_uri(arr_or_img) -> str:
    """``data:image/png;base64,...`` of an array (H, W, 3) uint8 or a PIL image."""
    from PIL import Image

    img = Image.fromarray(arr_or_img) if isinstance(arr_or_img, np.ndarray) else arr_or_img
    return "data:image/png;base64," + base64.b64encode(_png_bytes(img)).decode("ascii")


def zoomed(crop: np.ndarray, zoom: int):
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(crop))
    return img.resize((img.width * zoom, img.height * zoom), Image.NEAREST) if zoom != 1 else img


def spectrum_range(panels: list[Panel]) -> tuple[float, float]:
    """Shared colour scale of the heat maps, from the AC coefficients only: DC (the block mean)
    is far larger than any AC term and would leave every AC cell dark; it shows as the top colour."""
    vals = np.stack([p.spectrum.reshape(-1)[1:] for p in panels])
    return float(vals.min()), float(vals.max())


def panel_colours(panels: list[Panel]) -> dict[str, str]:
    """One colour per panel label, shared by every chart (an SR keeps its colour everywhere)."""
    from freqvsr.report.plots import LINE_COLOURS

    return {lab: LINE_COLOURS[i % len(LINE_COLOURS)] for i, p in enumerate(panels) for lab in {p.label, p.curve_label}}


def curve_series(panels: list[Panel]) -> dict[str, tuple[list[float], list[float]]]:
    return {p.curve_label: (list(range(len(p.curve))), [float(v) for v in p.curve]) for p in panels}


def psnr_series(result: dict) -> dict[str, tuple[list[float], list[float]]]:
    return {lab: (list(range(len(v))), list(v)) for lab, v in result["per_frame_psnr"].items()}


def render_png(panels: list[Panel], result: dict, zoom: int):
    """The PNG montage: labelled zoomed crops, their 8×8 spectral maps, the amplitude curve and
    (with GT) the per-frame PSNR chart. Width ``n·w·zoom + (n+1)·GAP`` for n panels of width w."""
    from PIL import Image, ImageDraw

    from freqvsr.report.plots import pil_heatmap, pil_lines

    n = len(panels)
    tw, th = panels[0].crop.shape[1] * zoom, panels[0].crop.shape[0] * zoom
    hm = min(tw, th, 8 * 24)  # heat map side: whole cells, never wider than a tile
    width = n * tw + (n + 1) * GAP
    charts = 1 + (1 if result.get("per_frame_psnr") else 0)
    height = GAP + LABEL_H + th + GAP + LABEL_H + hm + GAP + charts * (CURVE_H + GAP)
    canvas = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(canvas)
    vmin, vmax = spectrum_range(panels)
    y_tile = GAP + LABEL_H
    y_map = y_tile + th + GAP + LABEL_H
    for i, p in enumerate(panels):
        x = GAP + i * (tw + GAP)
        d.text((x + 2, GAP + 2), p.label[: max(6, tw // 7)], fill="black")
        canvas.paste(zoomed(p.crop, zoom), (x, y_tile))
        d.text(
            (x + 2, y_tile + th + GAP + 2),
            "DCT, native res." if p.spectrum_label else "DCT log-amplitude",
            fill=(90, 90, 90),
        )
        canvas.paste(pil_heatmap(p.spectrum, vmin, vmax, hm), (x + (tw - hm) // 2, y_map))
    y = y_map + hm + GAP
    chart_w = width - 2 * GAP
    curve = pil_lines(
        curve_series(panels),
        xlabel="frequency band u+v",
        ylabel="mean log10(1+|DCT|)",
        width=chart_w,
        height=CURVE_H,
        title="Amplitude-frequency curve (8x8 block DCT of the crops)",
        colours=panel_colours(panels),
        integer_x=True,
    )
    canvas.paste(curve, (GAP, y))
    if result.get("per_frame_psnr"):
        y += CURVE_H + GAP
        chart = pil_lines(
            psnr_series(result),
            xlabel="frame",
            ylabel="PSNR (dB)",
            width=chart_w,
            height=CURVE_H,
            title=f"Per-frame PSNR against GT ({result['protocol']})",
            colours=panel_colours(panels),
            integer_x=True,
        )
        canvas.paste(chart, (GAP, y))
    return canvas


def frame_overview(img: np.ndarray, box: tuple[int, int, int, int], max_width: int = 640, min_width: int = 320):
    """The whole frame scaled to a readable width (at most ``max_width``; small frames are
    magnified by a whole factor up to ``min_width``), with the crop outlined."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(img)
    f = min(1.0, max_width / im.width)
    if f < 1.0:
        im = im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.BILINEAR)
    elif im.width < min_width:
        f = float(max(1, min_width // im.width))
        im = im.resize((im.width * int(f), im.height * int(f)), Image.NEAREST)
    x, y, w, h = box
    d = ImageDraw.Draw(im)
    for k, colour in ((1, (255, 255, 255)), (0, (255, 0, 0))):
        d.rectangle([x * f - k, y * f - k, (x + w) * f + k - 1, (y + h) * f + k - 1], outline=colour, width=2)
    return im
