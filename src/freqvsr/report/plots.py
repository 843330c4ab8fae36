"""Small dependency-free plots: 8×8 heat maps and line charts, as inline SVG and as PIL images.

Reports must render without matplotlib (not a dependency), so the two kinds of figure the
reports need are drawn here directly: SVG for the HTML page (scalable, text stays text) and
PIL for the PNG montage. Both renderers share the colour map and the axis arithmetic so the
page and the picture show the same thing.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

__all__ = ["LINE_COLOURS", "colormap", "nice_ticks", "pil_heatmap", "pil_lines", "svg_heatmap", "svg_lines"]

# Anchors of a viridis-like perceptual map (dark = low amplitude, yellow = high): readable in
# greyscale prints too, unlike a rainbow map.
_CMAP = np.array(
    [
        [68, 1, 84],
        [59, 82, 139],
        [33, 145, 140],
        [94, 201, 98],
        [253, 231, 37],
    ],
    dtype=np.float64,
)

# Distinct line colours (Okabe–Ito, safe for colour-blind readers); cycled when there are more series.
LINE_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]


def colormap(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Map ``values`` to uint8 RGB (..., 3) on the shared [vmin, vmax] scale."""
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((np.asarray(values, dtype=np.float64) - vmin) / span, 0.0, 1.0) * (len(_CMAP) - 1)
    i = np.minimum(np.floor(t).astype(int), len(_CMAP) - 2)
    f = (t - i)[..., None]
    return np.round(_CMAP[i] * (1 - f) + _CMAP[i + 1] * f).astype(np.uint8)


def _hex(rgb) -> str:
    r, g, b = (int(c) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering [lo, hi] (1-2-5 steps; whole numbers only when ``integer``)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1, math.ceil(step))
    start = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], start
    while v <= hi + 1e-9 * step:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:g}"


# ----------------------------------------------------------------------------------- SVG
def svg_heatmap(grid: np.ndarray, vmin: float, vmax: float, *, cell: int = 18, title: str = "") -> str:
    """An (n, n) grid as an SVG heat map; row = vertical frequency u, column = horizontal v."""
    n_rows, n_cols = grid.shape
    top = 18 if title else 0
    w, h = n_cols * cell, n_rows * cell + top
    colours = colormap(grid, vmin, vmax)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">'
        )
    ]
    if title:
        parts.append(f'<text x="{w / 2}" y="13" font-size="12" text-anchor="middle">{escape(title)}</text>')
    for r in range(n_rows):
        for c in range(n_cols):
            parts.append(
                f'<rect x="{c * cell}" y="{top + r * cell}" width="{cell}" height="{cell}" '
                f'fill="{_hex(colours[r, c])}"><title>u={r} v={c}: {grid[r, c]:.3f}</title></rect>'
            )
    parts.append("</svg>")
    return "".join(parts)


def svg_colorbar(vmin: float, vmax: float, *, width: int = 240, label: str = "") -> str:
    """Horizontal colour bar with its end values, for the heat maps' shared scale."""
    steps = 32
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="colorbar" width="{width + 80}" height="34">']
    for i in range(steps):
        v = vmin + (vmax - vmin) * (i + 0.5) / steps
        parts.append(
            f'<rect x="{40 + i * width / steps:.2f}" y="2" width="{width / steps + 0.5:.2f}" height="14" '
            f'fill="{_hex(colormap(np.array(v), vmin, vmax))}"/>'
        )
    parts.append(f'<text x="36" y="13" font-size="11" text-anchor="end">{vmin:.2f}</text>')
    parts.append(f'<text x="{width + 44}" y="13" font-size="11">{vmax:.2f}</text>')
    if label:
        parts.append(f'<text x="{40 + width / 2}" y="30" font-size="11" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bounds(series: dict[str, tuple[list[float], list[float]]]):
    xs = [x for xv, _ in series.values() for x in xv]
    ys = [y for _, yv in series.values() for y in yv if math.isfinite(y)]
    if not xs or not ys:
        return 0.0, 1.0, 0.0, 1.0
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 <= x0:
        x1 = x0 + 1
    pad = (y1 - y0) * 0.05 or 0.5
    return x0, x1, y0 - pad, y1 + pad


def svg_lines(
    series: dict[str, tuple[list[float], list[float]]],
    *,
    xlabel: str,
    ylabel: str,
    width: int = 640,
    height: int = 300,
    marker_x: float | None = None,
    title: str = "",
    colours: dict[str, str] | None = None,
    integer_x: bool = False,
) -> str:
    """Line chart of named series ``{label: (xs, ys)}`` with axes, ticks and a legend.

    Non-finite y values (e.g. +inf PSNR of identical frames) break the line instead of
    stretching the axis. ``marker_x`` draws a dashed vertical line (the compared frame).
    ``colours`` fixes a colour per label (so one method keeps its colour across charts);
    ``integer_x`` keeps x ticks on whole numbers (frame indices).
    """
    ml, mr, mt, mb = 56, 150, 24 if title else 10, 44
    pw, ph = width - ml - mr, height - mt - mb
    x0, x1, y0, y1 = _bounds(series)

    def sx(x):
        return ml + (x - x0) / (x1 - x0) * pw

    def sy(y):
        return mt + (1 - (y - y0) / (y1 - y0)) * ph

    p = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="lines" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">'
        )
    ]
    if title:
        p.append(f'<text x="{ml + pw / 2}" y="16" font-size="13" text-anchor="middle">{escape(title)}</text>')
    p.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    for t in nice_ticks(y0, y1):
        if y0 <= t <= y1:
            p.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#e4e4e4"/>')
            p.append(f'<text x="{ml - 5}" y="{sy(t) + 4:.1f}" font-size="11" text-anchor="end">{_fmt(t)}</text>')
    for t in nice_ticks(x0, x1, 8, integer=integer_x):
        if x0 <= t <= x1:
            p.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{mt + ph}" y2="{mt + ph + 4}" stroke="#888"/>')
            p.append(f'<text x="{sx(t):.1f}" y="{mt + ph + 16}" font-size="11" text-anchor="middle">{_fmt(t)}</text>')
    p.append(f'<text x="{ml + pw / 2}" y="{height - 6}" font-size="12" text-anchor="middle">{escape(xlabel)}</text>')
    p.append(
        f'<text transform="translate(14,{mt + ph / 2}) rotate(-90)" font-size="12" '
        f'text-anchor="middle">{escape(ylabel)}</text>'
    )
    if marker_x is not None and x0 <= marker_x <= x1:
        p.append(
            f'<line x1="{sx(marker_x):.1f}" x2="{sx(marker_x):.1f}" y1="{mt}" y2="{mt + ph}" '
            f'stroke="#555" stroke-dasharray="4 3"/>'
        )
    for k, (label, (xs, ys)) in enumerate(series.items()):
        colour = (colours or {}).get(label) or LINE_COLOURS[k % len(LINE_COLOURS)]
        runs, cur = [], []
        for x, y in zip(xs, ys, strict=True):
            if math.isfinite(y):
                cur.append(f"{sx(x):.1f},{sy(y):.1f}")
            elif cur:
                runs.append(cur)
                cur = []
        if cur:
            runs.append(cur)
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                p.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
            else:
                p.append(
                    f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(run)}"/>'
                )
        ly = mt + 14 + 18 * k
        p.append(
            f'<line x1="{ml + pw + 12}" x2="{ml + pw + 32}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        p.append(f'<text x="{ml + pw + 38}" y="{ly}" font-size="12">{escape(label)}</text>')
    p.append("</svg>")
    return "".join(p)


# ----------------------------------------------------------------------------------- PIL
def pil_heatmap(grid: np.ndarray, vmin: float, vmax: float, size: int):
    """The heat map as a ``size``×``size`` PIL image (nearest-neighbour cells)."""
    from PIL import Image

    img = Image.fromarray(colormap(grid, vmin, vmax))
    return img.resize((size, size), Image.NEAREST)


def pil_lines(
    series: dict[str, tuple[list[float], list[float]]],
    *,
    xlabel: str,
    ylabel: str,
    width: int,
    height: int,
    title: str = "",
    colours: dict[str, str] | None = None,
    integer_x: bool = False,
):
    """The same chart as :func:`svg_lines`, drawn with PIL (for the PNG montage)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    ml, mr, mt, mb = 48, 140, 22 if title else 8, 32
    pw, ph = max(width - ml - mr, 10), max(height - mt - mb, 10)
    x0, x1, y0, y1 = _bounds(series)

    def sx(x):
        return ml + (x - x0) / (x1 - x0) * pw

    def sy(y):
        return mt + (1 - (y - y0) / (y1 - y0)) * ph

    if title:
        d.text((ml, 4), title, fill="black")
    d.rectangle([ml, mt, ml + pw, mt + ph], outline=(136, 136, 136))
    for t in nice_ticks(y0, y1):
        if y0 <= t <= y1:
            d.line([ml, sy(t), ml + pw, sy(t)], fill=(228, 228, 228))
            d.text((4, sy(t) - 6), _fmt(t), fill="black")
    for t in nice_ticks(x0, x1, 8, integer=integer_x):
        if x0 <= t <= x1:
            d.line([sx(t), mt + ph, sx(t), mt + ph + 4], fill=(136, 136, 136))
            d.text((sx(t) - 4, mt + ph + 6), _fmt(t), fill="black")
    d.text((ml + pw // 2 - 3 * len(xlabel), height - 12), xlabel, fill="black")
    d.text((ml + 4, mt + 2), ylabel, fill=(90, 90, 90))
    for k, (label, (xs, ys)) in enumerate(series.items()):
        colour = (colours or {}).get(label) or LINE_COLOURS[k % len(LINE_COLOURS)]
        pts = [(sx(x), sy(y)) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        elif pts:
            d.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=colour)
        ly = mt + 8 + 16 * k
        d.line([ml + pw + 8, ly, ml + pw + 26, ly], fill=colour, width=3)
        d.text((ml + pw + 30, ly - 6), label[:18], fill="black")
    return img
