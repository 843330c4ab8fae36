"""`freqvsr compare`: visual comparison of super-resolved videos (crops, DCT spectra, PSNR).

Given the low-quality input (LQ), one or more super-resolved outputs (SR) and optionally the
ground truth (GT), :func:`compare` writes either

* a self-contained HTML page (images as base64 PNG, plots as inline SVG, no external files) with
  the inputs, a mean PSNR/SSIM table, the full frame with the crop marked, zoomed side-by-side
  crops, DCT spectral maps of the crops, the amplitude–frequency curve and the per-frame PSNR
  plot; or
* a PNG montage: crops, their spectral maps, the amplitude–frequency curve (and the PSNR plot).

Panels, left to right: LQ (nearest ×scale, so its pixels stay visible), bicubic (MATLAB
``imresize`` of LQ, the usual baseline), each SR, GT.

Spectral analysis follows the FTVSR paper's figures: the luma of a crop is cut into 8×8 blocks,
each block is DCT-transformed (:func:`freqvsr.functional.dct.block_dct2d`), and the log amplitude
``log10(1 + |c|)`` of each of the 64 frequencies is averaged over the blocks (Fig. 1's 8×8 maps);
the curve averages that map over the diagonal bands ``u + v = 0..14`` (Fig. 2's
amplitude–frequency curve: compression and blur remove the high bands first). The LQ spectrum
is taken at the LQ's own resolution, where codec blocks live; the others at output resolution.

The crop is chosen automatically where the SR outputs disagree most with each other (two or
more SRs), else where the single SR differs most from GT (when given), else from the bicubic
upscale of LQ: that is where the methods' differences are visible. ``crop=(x, y, w, h)`` forces one.
"""

from __future__ import annotations

import base64
import io
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from freqvsr.errors import InputError, OutputError, UsageError
from freqvsr.functional.dct import block_dct2d
from freqvsr.functional.resize import imresize
from freqvsr.io import open_input, probe
from freqvsr.metrics.psnr_ssim import as_image_tensor, mean_db, psnr, ssim

__all__ = ["Panel", "auto_crop", "band_curve", "compare", "dct_spectrum", "parse_crop", "render_png"]

BLOCK = 8
BANDS = 2 * BLOCK - 1  # diagonal frequency bands u + v = 0 .. 14
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


# ----------------------------------------------------------------------------------- analysis
def _luma(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> BT.601 luma in 0..255, float64 (full range, as JPEG/FTVSR's figures)."""
    x = img.astype(np.float64)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def dct_spectrum(img: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Mean log amplitude ``log10(1 + |c|)`` of the block DCT of ``img``'s luma: (block, block).

    Entry ``[u, v]``: vertical frequency ``u``, horizontal ``v``; ``[0, 0]`` is DC. Only whole
    blocks are used (the right/bottom remainder is dropped).
    """
    y = _luma(img) if img.ndim == 3 else np.asarray(img, dtype=np.float64)
    h, w = (y.shape[0] // block) * block, (y.shape[1] // block) * block
    if h == 0 or w == 0:
        raise UsageError(f"crop of {y.shape[1]}x{y.shape[0]} pixels is smaller than one {block}x{block} DCT block")
    c = block_dct2d(torch.from_numpy(np.ascontiguousarray(y[:h, :w])), block)  # (block², h/b, w/b)
    amp = torch.log10(1.0 + c.abs()).mean(dim=(-2, -1))
    return amp.reshape(block, block).numpy()


def band_curve(spectrum: np.ndarray) -> np.ndarray:
    """Amplitude–frequency curve: mean of the spectrum over each diagonal band ``u + v``."""
    n = spectrum.shape[0]
    u, v = np.indices(spectrum.shape)
    band = u + v
    return np.array([spectrum[band == k].mean() for k in range(2 * n - 1)])


def _integral(a: np.ndarray) -> np.ndarray:
    ii = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    ii[1:, 1:] = a.cumsum(0).cumsum(1)
    return ii


def auto_crop(score: np.ndarray, size: tuple[int, int], stride: int = BLOCK) -> tuple[int, int, int, int]:
    """The ``(x, y, w, h)`` window of ``size = (w, h)`` with the largest total ``score``.

    Window origins lie on a ``stride`` grid (multiples of 8 keep the crop on the DCT block grid
    of the output and, for ×4 / ×2, on whole LQ pixels), plus the last valid position. When
    several windows hold the whole difference (a region smaller than the crop), the one whose
    centre is nearest the difference's centre of mass wins, so the region sits mid-crop.
    """
    score = np.asarray(score, dtype=np.float64)
    H, W = score.shape
    w, h = min(size[0], W), min(size[1], H)
    # Integral images: every window sum in O(1), so large frames cost O(H·W) whatever the crop size.
    gy, gx = np.mgrid[0:H, 0:W]
    ii, iy_, ix_ = _integral(score), _integral(score * gy), _integral(score * gx)
    ys = np.array(sorted(set(range(0, H - h + 1, stride)) | {H - h}))[:, None]
    xs = np.array(sorted(set(range(0, W - w + 1, stride)) | {W - w}))[None, :]

    def win(a):
        return a[ys + h, xs + w] - a[ys, xs + w] - a[ys + h, xs] + a[ys, xs]

    sums = win(ii)
    best = sums.max()
    if best <= 0:  # nothing differs: the centre of the frame
        return (W - w) // 2 // stride * stride, (H - h) // 2 // stride * stride, w, h
    near = sums >= best * (1 - 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        cy, cx = win(iy_) / sums, win(ix_) / sums
    off = (cy - (ys + (h - 1) / 2)) ** 2 + (cx - (xs + (w - 1) / 2)) ** 2
    off = np.where(near, off, np.inf)
    iy, ix = np.unravel_index(int(np.argmin(off)), off.shape)
    return int(xs[0, ix]), int(ys[iy, 0]), w, h


def difference_score(srs: list[np.ndarray], gt: np.ndarray | None, baseline: np.ndarray | None) -> tuple[np.ndarray, str]:
    """Per-pixel map of where the methods differ, and a phrase saying what it measures."""
    stack = np.stack([s.astype(np.float32) for s in srs])
    if len(srs) >= 2:
        return (stack.max(0) - stack.min(0)).mean(-1), "largest disagreement between the SR outputs"
    if gt is not None:
        return np.abs(stack[0] - gt.astype(np.float32)).mean(-1), "largest error of the SR output against GT"
    return np.abs(stack[0] - baseline.astype(np.float32)).mean(-1), "largest difference of the SR output from bicubic"


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """``"X,Y,W,H"`` -> ints (raises UsageError naming the problem)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--crop {text!r}: expected X,Y,W,H as four integers") from None
    if len(vals) != 4:
        raise UsageError(f"--crop {text!r}: expected X,Y,W,H as four integers")
    x, y, w, h = vals
    if x < 0 or y < 0 or w < BLOCK or h < BLOCK:
        raise UsageError(f"--crop {text!r}: needs X, Y >= 0 and W, H >= {BLOCK}")
    return vals


# ----------------------------------------------------------------------------------- reading
def _to_u8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    return np.round(img.astype(np.float64) / 257.0).clip(0, 255).astype(np.uint8)


def _frame_count(path: Path) -> int | None:
    try:
        return probe(path).num_frames or None
    except Exception:  # noqa: BLE001  the real open below reports a broken input with a clear message
        return None


def _count_frames(path: Path) -> int:
    with open_input(path) as src:
        return sum(1 for _ in src)


@dataclass
class _Read:
    lq: np.ndarray
    srs: list[np.ndarray]
    gt: np.ndarray | None
    frames: int  # frames scored
    psnr: dict[str, list[float]]
    ssim: dict[str, list[float]]


def _read_inputs(lq: Path, srs: list[Path], labels: list[str], gt: Path | None, frame: int, *,
                 max_frames: int | None, y_channel: bool, crop_border: int, scale: int | None) -> tuple[_Read, int]:
    """One streaming pass: the frame to show from every input, per-frame metrics when GT is given."""
    need_metrics = gt is not None
    sources = [lq, *srs] + ([gt] if gt is not None else [])
    opened = []
    try:
        for p in sources:
            opened.append(open_input(p))
        lq_src, sr_srcs = opened[0], opened[1:1 + len(srs)]
        gt_src = opened[-1] if gt is not None else None
        # Size checks up front, before any decoding work.
        lw, lh = lq_src.info.width, lq_src.info.height
        sw, sh = sr_srcs[0].info.width, sr_srcs[0].info.height
        for p, s in zip(srs[1:], sr_srcs[1:]):
            if (s.info.width, s.info.height) != (sw, sh):
                raise InputError(f"{p}: is {s.info.width}x{s.info.height}, but {srs[0]} is {sw}x{sh}")
        if gt_src is not None and (gt_src.info.width, gt_src.info.height) != (sw, sh):
            raise InputError(f"{gt}: is {gt_src.info.width}x{gt_src.info.height}, but the SR output {srs[0]} is {sw}x{sh}")
        if scale is None:
            if sw % lw or sh % lh or sw // lw != sh // lh:
                raise InputError(f"{lq}: is {lw}x{lh}, which is not an integer fraction of the SR size {sw}x{sh}")
            scale = sw // lw
        elif (lw * scale, lh * scale) != (sw, sh):
            raise InputError(f"{lq}: is {lw}x{lh}, ×{scale} gives {lw * scale}x{lh * scale}, but the SR output is {sw}x{sh}")

        iters = [iter(s) for s in opened]
        psnrs = {lab: [] for lab in labels}
        ssims = {lab: [] for lab in labels}
        shown: list[np.ndarray | None] = [None] * len(opened)
        i = 0
        while True:
            want_show = i <= frame
            want_metric = need_metrics and (max_frames is None or i < max_frames)
            if not (want_show or want_metric):
                break
            # LQ is only needed up to the shown frame; SR and GT for metrics as well.
            active = [k for k in range(len(opened)) if want_show or k > 0]
            got = {k: next(iters[k], None) for k in active}
            missing = [k for k, f in got.items() if f is None]
            if missing:
                if want_show:
                    raise InputError(f"{sources[missing[0]]}: has only {i} frames, cannot show frame {frame}")
                if len(missing) != len(active):  # SR/GT clips of different lengths cannot be scored pairwise
                    longer = next(sources[k] for k in active if k not in missing)
                    raise InputError(f"{sources[missing[0]]}: has fewer frames ({i}) than {longer} "
                                     f"(score the common part with --max-frames {i})")
                break
            if i == frame:
                for k, f in got.items():
                    shown[k] = _to_u8(f.image)
            if want_metric:
                g = as_image_tensor(got[len(opened) - 1].image)
                for lab, k in zip(labels, range(1, 1 + len(srs))):
                    p = as_image_tensor(got[k].image)
                    psnrs[lab].append(float(psnr(p, g, y_channel=y_channel, crop_border=crop_border)))
                    ssims[lab].append(float(ssim(p, g, y_channel=y_channel, crop_border=crop_border)))
            i += 1
    except ValueError as exc:  # crop_border too large for the frame
        raise UsageError(f"{exc}") from None
    finally:
        for s in opened:
            s.close()
    n_scored = len(next(iter(psnrs.values()))) if need_metrics else 0
    return _Read(lq=shown[0], srs=shown[1:1 + len(srs)], gt=shown[-1] if gt is not None else None,
                 frames=n_scored, psnr=psnrs, ssim=ssims), scale


# ----------------------------------------------------------------------------------- rendering
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
        d.text((x + 2, y_tile + th + GAP + 2), "DCT, native res." if p.spectrum_label else "DCT log-amplitude",
               fill=(90, 90, 90))
        canvas.paste(pil_heatmap(p.spectrum, vmin, vmax, hm), (x + (tw - hm) // 2, y_map))
    y = y_map + hm + GAP
    chart_w = width - 2 * GAP
    curve = pil_lines(curve_series(panels), xlabel="frequency band u+v", ylabel="mean log10(1+|DCT|)",
                      width=chart_w, height=CURVE_H, title="Amplitude-frequency curve (8x8 block DCT of the crops)",
                      colours=panel_colours(panels), integer_x=True)
    canvas.paste(curve, (GAP, y))
    if result.get("per_frame_psnr"):
        y += CURVE_H + GAP
        chart = pil_lines(psnr_series(result), xlabel="frame", ylabel="PSNR (dB)", width=chart_w, height=CURVE_H,
                          title=f"Per-frame PSNR against GT ({result['protocol']})", colours=panel_colours(panels),
                          integer_x=True)
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


# ----------------------------------------------------------------------------------- main entry
def _unique_labels(srs: list[Path], labels: list[str] | None, reserved: tuple[str, ...] = ()) -> list[str]:
    if labels:
        if len(labels) != len(srs):
            raise UsageError(f"{len(labels)} label(s) given for {len(srs)} SR input(s); give one --label per SR")
        out = list(labels)
    else:
        out = [p.stem if p.is_file() else p.name for p in srs]
    seen: dict[str, int] = {}
    for i, lab in enumerate(out):  # two SRs named alike (a/out.mp4, b/out.mp4) still need distinct labels
        if lab in seen or lab in reserved:
            seen[lab] = seen.get(lab, 1) + 1
            out[i] = f"{lab} ({seen[lab]})"
        else:
            seen[lab] = 1
    return out


def compare(lq, srs, gt=None, output="compare.html", *, labels: list[str] | None = None, frame: int | None = None,
            crop: tuple[int, int, int, int] | str | None = None, crop_size: int = 96, zoom: int = 2,
            max_frames: int | None = None, scale: int | None = None, bicubic: bool = True,
            y_channel: bool = False, crop_border: int = 0) -> dict:
    """Write the comparison report to ``output`` (``.html`` / ``.htm`` or ``.png``); returns a summary.

    ``srs``: one path or a list (each a video or frame folder, same size, ``scale``× the LQ size;
    the scale is inferred when not given). ``frame``: index of the frame shown (default: the middle
    of the scored range). ``crop``: ``(x, y, w, h)`` in output pixels or ``"X,Y,W,H"``; default
    auto (see the module docstring) with a ``crop_size`` square. ``zoom``: integer nearest-neighbour
    magnification of the crops. ``max_frames``: score only the first N frames (with GT).
    ``y_channel`` / ``crop_border``: PSNR/SSIM protocol as in ``freqvsr eval``.

    The summary holds the paths, frame, crop, scale, per-SR mean PSNR/SSIM and per-frame PSNR,
    spectra and curves per panel, and ``seconds``.
    """
    started = time.perf_counter()
    lq = Path(lq)
    srs = [Path(s) for s in ([srs] if isinstance(srs, (str, os.PathLike)) else srs)]
    gt = Path(gt) if gt is not None else None
    output = Path(output)
    if not srs:
        raise UsageError("give at least one SR input to compare")
    fmt = output.suffix.lower()
    if fmt not in (".html", ".htm", ".png"):
        raise UsageError(f"{output}: output must end in .html or .png")
    for p in [lq, *srs] + ([gt] if gt else []):
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        if p.resolve() == output.resolve():
            raise OutputError(f"{output}: would overwrite an input")
    if not output.parent.exists():
        raise OutputError(f"{output.parent}: output folder does not exist")
    if zoom < 1 or zoom > 16:
        raise UsageError(f"--zoom {zoom}: must be an integer from 1 to 16")
    if crop_size < BLOCK:
        raise UsageError(f"--crop-size {crop_size}: must be at least {BLOCK}")
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"--max-frames {max_frames}: must be >= 1")
    if frame is not None and frame < 0:
        raise UsageError(f"--frame {frame}: must be >= 0")
    if isinstance(crop, str):
        crop = parse_crop(crop)
    labels = _unique_labels(srs, labels, ("LQ", "GT") + (("bicubic",) if bicubic else ()))

    if frame is None:
        counts = [c for c in (_frame_count(p) for p in [lq, *srs] + ([gt] if gt else [])) if c]
        n = min(counts) if counts else _count_frames(srs[0])
        if max_frames is not None:
            n = min(n, max_frames)
        frame = max(n - 1, 0) // 2

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small per-frame tensor ops: extra threads cost more than they give
    try:
        data, scale = _read_inputs(lq, srs, labels, gt, frame, max_frames=max_frames, y_channel=y_channel,
                                   crop_border=crop_border, scale=scale)
        H, W = data.srs[0].shape[:2]
        lq_up = np.repeat(np.repeat(data.lq, scale, 0), scale, 1)
        base = None
        if bicubic or (len(srs) == 1 and gt is None):
            t = torch.from_numpy(data.lq.astype(np.float32) / 255.0).permute(2, 0, 1)
            base = (imresize(t, scale=scale).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        if crop is None:
            score, why = difference_score(data.srs, data.gt, base)
            box = auto_crop(score, (crop_size, crop_size))
        else:
            x, y, w, h = crop
            if x + w > W or y + h > H:
                raise UsageError(f"--crop {x},{y},{w},{h}: reaches outside the {W}x{H} frame")
            box, why = (x, y, w, h), "given with --crop"
        x, y, w, h = box

        def cut(img):
            return np.ascontiguousarray(img[y:y + h, x:x + w])

        # LQ's spectrum at its own resolution: its 8×8 codec blocks are in LQ pixels.
        lx0, ly0 = x // scale, y // scale
        lx1, ly1 = max(-(-(x + w) // scale), lx0 + BLOCK), max(-(-(y + h) // scale), ly0 + BLOCK)
        lq_native = data.lq[ly0:min(ly1, data.lq.shape[0]), lx0:min(lx1, data.lq.shape[1])]
        try:
            lq_spec, lq_how = dct_spectrum(lq_native), "LQ (native res.)"
        except UsageError:  # LQ too small for a whole block in the crop: fall back to display pixels
            lq_spec, lq_how = dct_spectrum(cut(lq_up)), ""
        panels = [Panel(f"LQ (nearest x{scale})", "lq", cut(lq_up), lq_spec, source=str(lq), spectrum_label=lq_how)]
        if bicubic:
            panels.append(Panel("bicubic", "bicubic", cut(base), dct_spectrum(cut(base)), source=f"imresize({lq.name})"))
        for lab, p, img in zip(labels, srs, data.srs):
            panels.append(Panel(lab, "sr", cut(img), dct_spectrum(cut(img)), source=str(p)))
        if data.gt is not None:
            panels.append(Panel("GT", "gt", cut(data.gt), dct_spectrum(cut(data.gt)), source=str(gt)))
    finally:
        torch.set_num_threads(threads)

    protocol = f"{'Y (BT.601)' if y_channel else 'RGB'}, crop border {crop_border}"
    result = {
        "output": str(output), "lq": str(lq), "srs": [str(s) for s in srs], "labels": labels,
        "gt": str(gt) if gt else None, "scale": scale, "frame": frame, "size": [W, H],
        "crop": list(box), "crop_reason": why, "zoom": zoom, "frames_scored": data.frames, "protocol": protocol,
        "metrics": {lab: {"psnr": mean_db(data.psnr[lab]), "ssim": float(np.mean(data.ssim[lab]))}
                    for lab in labels} if gt else {},
        "per_frame_psnr": {lab: data.psnr[lab] for lab in labels} if gt else {},
        "panels": [{"label": p.label, "spectrum_of": p.curve_label, "kind": p.kind, "source": p.source,
                    "spectrum": p.spectrum.round(4).tolist(), "curve": p.curve.round(4).tolist()} for p in panels],
    }

    tmp = output.with_name(f".{output.stem}.freqvsr-partial-{os.getpid()}{output.suffix}")
    try:
        if fmt == ".png":
            img = render_png(panels, result, zoom)
            img.save(tmp, format="PNG")
            result["png_size"] = list(img.size)
        else:
            from freqvsr.report.html import render_html

            overview = frame_overview(data.gt if data.gt is not None else data.srs[0], box)
            tmp.write_text(render_html(panels, result, zoom, overview), encoding="utf-8")
        os.replace(tmp, output)
    except OSError as exc:
        raise OutputError(f"{output}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    result["seconds"] = time.perf_counter() - started
    return result


def format_summary(result: dict) -> str:
    """A few lines for the terminal: where, which crop, the metric table."""
    x, y, w, h = result["crop"]
    lines = [(f"{result['output']}: frame {result['frame']}, crop {x},{y},{w},{h} ({result['crop_reason']}), "
              f"x{result['scale']}, {result['seconds']:.1f} s")]
    for lab, m in result["metrics"].items():
        v = m["psnr"]
        lines.append(f"  {lab}: PSNR {'inf' if math.isinf(v) else f'{v:.2f}'} dB, SSIM {m['ssim']:.4f} "
                     f"({result['frames_scored']} frames, {result['protocol']})")
    return "\n".join(lines)
