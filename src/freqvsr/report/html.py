"""The self-contained HTML page of `freqvsr compare`.

One file, no external requests: pictures are base64 PNG data URIs, charts inline SVG, styles
inline. So the page can be mailed, attached to an issue or opened offline, and a headless
browser renders it without network access. Sections carry stable ids (``inputs``, ``metrics``,
``crops``, ``spectra``, ``curve``, ``psnr``) for links and tests.
"""

from __future__ import annotations

import math
from html import escape

from freqvsr._version import __version__
from freqvsr.report.panels import curve_series, panel_colours, png_data_uri, psnr_series, spectrum_range, zoomed
from freqvsr.report.plots import svg_colorbar, svg_heatmap, svg_lines

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1500px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
p.note{color:#555;font-size:13px;margin:4px 0}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums} tr.best td.num{font-weight:bold}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure{margin:0} figcaption{font-size:13px;text-align:center;margin-top:3px;max-width:100%;overflow-wrap:anywhere}
img.crop{image-rendering:pixelated;display:block;border:1px solid #999}
code{font-size:12px;background:#f5f5f5;padding:1px 3px}
"""


def _num(v: float, digits: int) -> str:
    return "inf" if v == math.inf else ("n/a" if v is None or math.isnan(v) else f"{v:.{digits}f}")


def render_html(panels, result: dict, zoom: int, overview) -> str:
    """The page as a string (``panels``: :class:`freqvsr.report.panels.Panel` list)."""
    x, y, w, h = result["crop"]
    W, H = result["size"]
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>freqvsr compare: {escape(', '.join(result['labels']))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>freqvsr compare</h1>",
        (
            f'<p class="note">Frame {result["frame"]} of {W}x{H} output (x{result["scale"]} of LQ); crop '
            f"<code>{x},{y},{w},{h}</code> ({escape(result['crop_reason'])}), shown at {zoom}x. "
            f"freqvsr {escape(__version__)}.</p>"
        ),
        '<section id="inputs"><h2>Inputs</h2><table><tr><th>panel</th><th>source</th></tr>',
    ]
    for p in panels:
        out.append(f"<tr><td>{escape(p.label)}</td><td><code>{escape(p.source)}</code></td></tr>")
    out.append("</table></section>")

    out.append('<section id="metrics"><h2>Quality against GT</h2>')
    if result["metrics"]:
        best = max(result["metrics"].values(), key=lambda m: m["psnr"])["psnr"]
        out.append("<table><tr><th>SR</th><th>mean PSNR (dB)</th><th>mean SSIM</th><th>frames</th></tr>")
        for lab, m in result["metrics"].items():
            cls = ' class="best"' if m["psnr"] == best and len(result["metrics"]) > 1 else ""
            out.append(
                f'<tr{cls}><td>{escape(lab)}</td><td class="num">{_num(m["psnr"], 2)}</td>'
                f'<td class="num">{_num(m["ssim"], 4)}</td>'
                f'<td class="num">{result["frames_scored"]}</td></tr>'
            )
        out.append(
            f'</table><p class="note">Protocol: {escape(result["protocol"])}; per frame, then mean over frames '
            "(PSNR of identical frames, +inf, left out of the mean).</p>"
        )
    else:
        out.append('<p class="note">No ground truth given: no PSNR/SSIM.</p>')
    out.append("</section>")

    out.append('<section id="crops"><h2>Crops</h2><div class="row">')
    out.append(
        f'<figure><img alt="whole frame" src="{png_data_uri(overview)}" width="{overview.width}" '
        f'height="{overview.height}"><figcaption>frame {result["frame"]}, crop outlined</figcaption></figure>'
    )
    out.append('</div><div class="row" style="margin-top:12px">')
    for p in panels:
        img = zoomed(p.crop, zoom)
        out.append(
            f'<figure><img class="crop" alt="{escape(p.label)}" src="{png_data_uri(img)}" width="{img.width}" '
            f'height="{img.height}"><figcaption>{escape(p.label)}</figcaption></figure>'
        )
    out.append("</div></section>")

    vmin, vmax = spectrum_range(panels)
    out.append('<section id="spectra"><h2>DCT spectral maps of the crops</h2>')
    out.append(
        '<p class="note">Luma cut into 8x8 blocks, each DCT-transformed; cell (u, v) shows the mean over blocks '
        "of log10(1 + |coefficient|): DC at top left, horizontal frequency to the right, vertical downwards. "
        "Shared colour scale, set by the AC cells (DC, far larger, shows as the top colour). LQ is analysed at "
        "its own resolution, where its codec blocks are; the others at the output resolution.</p>"
        '<div class="row">'
    )
    for p in panels:
        out.append(
            f"<figure>{svg_heatmap(p.spectrum, vmin, vmax, cell=20)}<figcaption>{escape(p.curve_label)}"
            "</figcaption></figure>"
        )
    out.append(f"</div>{svg_colorbar(vmin, vmax, label='mean log10(1 + |DCT|), AC range')}</section>")

    out.append('<section id="curve"><h2>Amplitude–frequency curve</h2>')
    out.append(
        '<p class="note">The spectral maps averaged over diagonal bands u + v (0 = DC, 14 = highest): '
        "restoration lifts the high bands that down-sampling and compression removed.</p>"
    )
    out.append(
        svg_lines(
            curve_series(panels),
            xlabel="frequency band u + v",
            ylabel="mean log10(1 + |DCT|)",
            width=760,
            height=320,
            colours=panel_colours(panels),
            integer_x=True,
        )
    )
    out.append("</section>")

    out.append('<section id="psnr"><h2>Per-frame PSNR</h2>')
    if result["per_frame_psnr"]:
        out.append(
            svg_lines(
                psnr_series(result),
                xlabel="frame",
                ylabel="PSNR (dB)",
                width=760,
                height=320,
                colours=panel_colours(panels),
                integer_x=True,
                marker_x=result["frame"] if result["frame"] < result["frames_scored"] else None,
            )
        )
        out.append(
            f'<p class="note">Each SR against GT ({escape(result["protocol"])}); dashed line: the frame shown.</p>'
        )
    else:
        out.append('<p class="note">No ground truth given.</p>')
    out.append("</section></body></html>")
    return "\n".join(out)
