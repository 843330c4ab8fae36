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

Spectral maps and amplitude–frequency curves (:mod:`freqvsr.report.spectra`) follow the FTVSR
paper's figures. The LQ spectrum is taken at the LQ's own resolution, where codec blocks live;
the others at output resolution.

The crop is chosen automatically where the SR outputs disagree most with each other (two or
more SRs), else where the single SR differs most from GT (when given), else from the bicubic
upscale of LQ: that is where the methods' differences are visible. ``crop=(x, y, w, h)`` forces one.

This module reads the inputs and puts the report together; the maths is in
:mod:`freqvsr.report.spectra`, the pictures in :mod:`freqvsr.report.panels` (PNG) and
:mod:`freqvsr.report.html` (page).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from freqvsr.errors import FreqVSRError, InputError, InputNotFoundError, OutputError, UsageError
from freqvsr.functional.resize import imresize
from freqvsr.io import open_input, probe
from freqvsr.metrics.psnr_ssim import as_image_tensor, mean_db, psnr, ssim
from freqvsr.report.html import render_html
from freqvsr.report.panels import Panel, frame_overview, render_png
from freqvsr.report.spectra import BLOCK, auto_crop, dct_spectrum, difference_score

__all__ = ["compare", "format_summary", "parse_crop"]


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """``"X,Y,W,H"`` -> ints (raises UsageError naming the problem)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"crop={text!r}: expected X,Y,W,H as four integers") from None
    if len(vals) != 4:
        raise UsageError(f"crop={text!r}: expected X,Y,W,H as four integers")
    x, y, w, h = vals
    if x < 0 or y < 0 or w < BLOCK or h < BLOCK:
        raise UsageError(f"crop={text!r}: needs X, Y >= 0 and W, H >= {BLOCK}")
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


def _read_inputs(
    lq: Path,
    srs: list[Path],
    labels: list[str],
    gt: Path | None,
    frame: int,
    *,
    max_frames: int | None,
    y_channel: bool,
    crop_border: int,
    scale: int | None,
) -> tuple[_Read, int]:
    """One streaming pass: the frame to show from every input, per-frame metrics when GT is given."""
    need_metrics = gt is not None
    sources = [lq, *srs] + ([gt] if gt is not None else [])
    opened = []
    try:
        for p in sources:
            opened.append(open_input(p))
        lq_src, sr_srcs = opened[0], opened[1 : 1 + len(srs)]
        gt_src = opened[-1] if gt is not None else None
        # Size checks up front, before any decoding work.
        lw, lh = lq_src.info.width, lq_src.info.height
        sw, sh = sr_srcs[0].info.width, sr_srcs[0].info.height
        for p, s in zip(srs[1:], sr_srcs[1:], strict=True):
            if (s.info.width, s.info.height) != (sw, sh):
                raise InputError(f"{p}: is {s.info.width}x{s.info.height}, but {srs[0]} is {sw}x{sh}")
        if gt_src is not None and (gt_src.info.width, gt_src.info.height) != (sw, sh):
            raise InputError(
                f"{gt}: is {gt_src.info.width}x{gt_src.info.height}, but the SR output {srs[0]} is {sw}x{sh}"
            )
        if scale is None:
            if sw % lw or sh % lh or sw // lw != sh // lh:
                raise InputError(f"{lq}: is {lw}x{lh}, which is not an integer fraction of the SR size {sw}x{sh}")
            scale = sw // lw
        elif (lw * scale, lh * scale) != (sw, sh):
            raise InputError(
                f"{lq}: is {lw}x{lh}, ×{scale} gives {lw * scale}x{lh * scale}, but the SR output is {sw}x{sh}"
            )

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
                    raise InputError(
                        f"{sources[missing[0]]}: has fewer frames ({i}) than {longer} "
                        f"(score the common part with max_frames={i})"
                    )
                break
            if i == frame:
                for k, f in got.items():
                    shown[k] = _to_u8(f.image)
            if want_metric:
                g = as_image_tensor(got[len(opened) - 1].image)
                for lab, k in zip(labels, range(1, 1 + len(srs)), strict=True):
                    p = as_image_tensor(got[k].image)
                    psnrs[lab].append(float(psnr(p, g, y_channel=y_channel, crop_border=crop_border)))
                    ssims[lab].append(float(ssim(p, g, y_channel=y_channel, crop_border=crop_border)))
            i += 1
    except FreqVSRError:
        raise  # already one line (our errors are ValueErrors too)
    except ValueError as exc:  # crop_border too large for the frame
        raise UsageError(f"{exc}") from None
    finally:
        for s in opened:
            s.close()
    n_scored = len(next(iter(psnrs.values()))) if need_metrics else 0
    return _Read(
        lq=shown[0],
        srs=shown[1 : 1 + len(srs)],
        gt=shown[-1] if gt is not None else None,
        frames=n_scored,
        psnr=psnrs,
        ssim=ssims,
    ), scale


# ----------------------------------------------------------------------------------- main entry
def _unique_labels(srs: list[Path], labels: list[str] | None, reserved: tuple[str, ...] = ()) -> list[str]:
    if labels:
        if len(labels) != len(srs):
            raise UsageError(f"{len(labels)} label(s) given for {len(srs)} SR input(s); labels= needs one per SR")
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


def compare(
    lq,
    srs,
    gt=None,
    output="compare.html",
    *,
    labels: list[str] | None = None,
    frame: int | None = None,
    crop: tuple[int, int, int, int] | str | None = None,
    crop_size: int = 96,
    zoom: int = 2,
    max_frames: int | None = None,
    scale: int | None = None,
    bicubic: bool = True,
    y_channel: bool = False,
    crop_border: int = 0,
) -> dict:
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
            raise InputNotFoundError(f"{p}: no such file or folder")
        if p.resolve() == output.resolve():
            raise OutputError(f"{output}: would overwrite an input")
    if not output.parent.exists():
        raise OutputError(f"{output.parent}: output folder does not exist")
    if zoom < 1 or zoom > 16:
        raise UsageError(f"zoom={zoom}: must be an integer from 1 to 16")
    if crop_size < BLOCK:
        raise UsageError(f"crop_size={crop_size}: must be at least {BLOCK}")
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"max_frames={max_frames}: must be >= 1")
    if frame is not None and frame < 0:
        raise UsageError(f"frame={frame}: must be >= 0")
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
        data, scale = _read_inputs(
            lq, srs, labels, gt, frame, max_frames=max_frames, y_channel=y_channel, crop_border=crop_border, scale=scale
        )
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
                raise UsageError(f"crop={x},{y},{w},{h}: reaches outside the {W}x{H} frame")
            box, why = (x, y, w, h), "given"
        x, y, w, h = box

        def cut(img):
            return np.ascontiguousarray(img[y : y + h, x : x + w])

        # LQ's spectrum at its own resolution: its 8×8 codec blocks are in LQ pixels.
        lx0, ly0 = x // scale, y // scale
        lx1, ly1 = max(-(-(x + w) // scale), lx0 + BLOCK), max(-(-(y + h) // scale), ly0 + BLOCK)
        lq_native = data.lq[ly0 : min(ly1, data.lq.shape[0]), lx0 : min(lx1, data.lq.shape[1])]
        try:
            lq_spec, lq_how = dct_spectrum(lq_native), "LQ (native res.)"
        except UsageError:  # LQ too small for a whole block in the crop: fall back to display pixels
            lq_spec, lq_how = dct_spectrum(cut(lq_up)), ""
        panels = [Panel(f"LQ (nearest x{scale})", "lq", cut(lq_up), lq_spec, source=str(lq), spectrum_label=lq_how)]
        if bicubic:
            panels.append(
                Panel("bicubic", "bicubic", cut(base), dct_spectrum(cut(base)), source=f"imresize({lq.name})")
            )
        for lab, p, img in zip(labels, srs, data.srs, strict=True):
            panels.append(Panel(lab, "sr", cut(img), dct_spectrum(cut(img)), source=str(p)))
        if data.gt is not None:
            panels.append(Panel("GT", "gt", cut(data.gt), dct_spectrum(cut(data.gt)), source=str(gt)))
    finally:
        torch.set_num_threads(threads)

    protocol = f"{'Y (BT.601)' if y_channel else 'RGB'}, crop border {crop_border}"
    result = {
        "output": str(output),
        "lq": str(lq),
        "srs": [str(s) for s in srs],
        "labels": labels,
        "gt": str(gt) if gt else None,
        "scale": scale,
        "frame": frame,
        "size": [W, H],
        "crop": list(box),
        "crop_reason": why,
        "zoom": zoom,
        "frames_scored": data.frames,
        "protocol": protocol,
        "metrics": {lab: {"psnr": mean_db(data.psnr[lab]), "ssim": float(np.mean(data.ssim[lab]))} for lab in labels}
        if gt
        else {},
        "per_frame_psnr": {lab: data.psnr[lab] for lab in labels} if gt else {},
        "panels": [
            {
                "label": p.label,
                "spectrum_of": p.curve_label,
                "kind": p.kind,
                "source": p.source,
                "spectrum": p.spectrum.round(4).tolist(),
                "curve": p.curve.round(4).tolist(),
            }
            for p in panels
        ],
    }

    tmp = output.with_name(f".{output.stem}.freqvsr-partial-{os.getpid()}{output.suffix}")
    try:
        if fmt == ".png":
            img = render_png(panels, result, zoom)
            img.save(tmp, format="PNG")
            result["png_size"] = list(img.size)
        else:
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
    lines = [
        (
            f"{result['output']}: frame {result['frame']}, crop {x},{y},{w},{h} ({result['crop_reason']}), "
            f"x{result['scale']}, {result['seconds']:.1f} s"
        )
    ]
    for lab, m in result["metrics"].items():
        v = m["psnr"]
        lines.append(
            f"  {lab}: PSNR {'inf' if math.isinf(v) else f'{v:.2f}'} dB, SSIM {m['ssim']:.4f} "
            f"({result['frames_scored']} frames, {result['protocol']})"
        )
    return "\n".join(lines)
