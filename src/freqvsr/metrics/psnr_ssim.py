"""PSNR and SSIM as BasicSR and the VSR papers compute them.

Protocol: float64 on the 0-255 scale; either RGB (all channels, REDS convention) or BT.601 Y
(``16 + 65.481 R + 128.553 G + 24.966 B`` on [0, 1] input, Vid4 convention, not rounded, as
BasicSR's ``to_y_channel``); optional ``crop_border`` pixels removed on every side; SSIM with an
11×11 Gaussian window (σ = 1.5), 'valid' filtering, C1 = (0.01·255)², C2 = (0.03·255)², averaged
over channels. Per frame, then per clip (mean over frames), then mean over clips.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from freqvsr.functional.color import rgb_to_y601

__all__ = ["as_image_tensor", "mean_db", "psnr", "ssim"]


def as_image_tensor(image) -> torch.Tensor:
    """(H, W, C) uint8 / uint16 (full 0..65535) / float [0, 1] array -> (C, H, W) float64 in [0, 1].

    uint8 frames are divided by 255 exactly as BasicSR does before its Y conversion; uint16 frames
    (10-bit sources decoded by freqvsr.io) by 65535.
    """
    if isinstance(image, torch.Tensor):
        arr = image
    else:
        arr = np.asarray(image)
        if arr.dtype == np.uint8:
            arr = torch.from_numpy(arr.astype(np.float64) / 255.0)
        elif arr.dtype == np.uint16:
            arr = torch.from_numpy(arr.astype(np.float64) / 65535.0)
        else:
            arr = torch.from_numpy(arr.astype(np.float64))
    if arr.ndim == 2:
        arr = arr[..., None]
    return arr.to(torch.float64).permute(2, 0, 1).contiguous()


def _prepare(x: torch.Tensor, y_channel: bool, crop_border: int) -> torch.Tensor:
    """(…, C, H, W) in [0, 1] -> float64 on the 0-255 scale, Y or RGB, border cropped."""
    x = x.to(torch.float64)
    if y_channel and x.shape[-3] == 3:
        x = rgb_to_y601(x)
    else:
        x = x * 255.0
    if crop_border:
        if crop_border < 0 or 2 * crop_border >= min(x.shape[-2:]):
            raise ValueError(f"crop_border={crop_border} leaves nothing of a {x.shape[-2]}x{x.shape[-1]} frame")
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
    return x


def _check(pred: torch.Tensor, gt: torch.Tensor) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: {tuple(pred.shape)} vs {tuple(gt.shape)}")
    if pred.ndim < 3:
        raise ValueError(f"expected (..., C, H, W) tensors, got shape {tuple(pred.shape)}")


def psnr(pred: torch.Tensor, gt: torch.Tensor, *, y_channel: bool = False, crop_border: int = 0) -> torch.Tensor:
    """PSNR in dB per frame: (…, C, H, W) in [0, 1] -> (…) float64. Identical frames give +inf."""
    _check(pred, gt)
    a, b = _prepare(pred, y_channel, crop_border), _prepare(gt, y_channel, crop_border)
    mse = ((a - b) ** 2).mean(dim=(-3, -2, -1))
    return 10.0 * torch.log10(255.0**2 / mse)


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """'valid' 2-D filtering of the last two dims with the separable window ``g ⊗ g``.

    The 11×11 Gaussian is separable, so two 1-D passes give the same result. Each pass is 11
    in-place multiply-adds of shifted views: float64 ``conv2d`` has no fast CPU kernel and is
    several times slower on a 1080p frame (``docs/measurements.md``, ``ssim-filter``); both sum
    the taps in the same order and agree to rounding.
    """
    k = g.numel()
    taps = [float(v) for v in g]
    w = x.shape[-1] - k + 1
    rows = x[..., 0:w] * taps[0]
    for i in range(1, k):
        rows.add_(x[..., i : i + w], alpha=taps[i])
    h = x.shape[-2] - k + 1
    out = rows[..., 0:h, :] * taps[0]
    for i in range(1, k):
        out.add_(rows[..., i : i + h, :], alpha=taps[i])
    return out


def ssim(pred: torch.Tensor, gt: torch.Tensor, *, y_channel: bool = False, crop_border: int = 0) -> torch.Tensor:
    """SSIM per frame: (…, C, H, W) in [0, 1] -> (…) float64 (mean over channels)."""
    _check(pred, gt)
    a, b = _prepare(pred, y_channel, crop_border), _prepare(gt, y_channel, crop_border)
    h, w = a.shape[-2:]
    if h < 11 or w < 11:
        raise ValueError(f"SSIM needs frames of at least 11x11 after cropping, got {h}x{w}")
    g = _gaussian_1d()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    s_aa = _filter_valid(a * a, g) - mu_a**2
    s_bb = _filter_valid(b * b, g) - mu_b**2
    s_ab = _filter_valid(a * b, g) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (s_aa + s_bb + c2))
    return m.mean(dim=(-2, -1)).mean(-1)


def mean_db(values: list[float]) -> float:
    """Mean of per-frame PSNRs, ignoring +inf frames (identical frames) unless all are +inf."""
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.inf
