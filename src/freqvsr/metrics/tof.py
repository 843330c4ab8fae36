"""tOF: temporal optical-flow error (TecoGAN, Chu et al. 2020), for temporal consistency.

For consecutive frames t-1, t the dense optical flow of the prediction and of the ground truth
are estimated with the same method, and tOF is the mean over pixels of the Euclidean norm of
their difference (in pixels of motion; lower is better, 0 for identical clips). Per clip it is
averaged over the frame pairs.

Flow method: OpenCV's Farnebäck on 8-bit grey frames with the parameters of TecoGAN's evaluation
script (pyramid scale 0.5, 3 levels, window 15, 3 iterations, poly_n 5, poly_sigma 1.2). tOF is
only comparable between papers when the flow estimator is the same, so we use that estimator
rather than an approximation of it; ``opencv-python-headless`` is therefore an optional
dependency of this metric alone (imported here, not at module import). TecoGAN's script also
skips the first and last two frames of each clip and centre-crops to a multiple of 32 pixels
(at least 8 pixels from each side); ``tof_clip(..., tecogan_crop=True)`` reproduces the crop;
frames are not skipped here (slice the clip yourself to reproduce that part).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from freqvsr._extras import install_hint
from freqvsr.errors import MissingDependencyError

__all__ = [
    "FARNEBACK_PARAMS",
    "farneback_flow",
    "tecogan_crop_slices",
    "to_grey_u8",
    "tof_clip",
    "tof_grey",
    "tof_pair",
]

# pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags (TecoGAN metrics.py)
FARNEBACK_PARAMS = (0.5, 3, 15, 3, 5, 1.2, 0)


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"tOF needs OpenCV's Farnebäck optical flow (opencv-python-headless): {install_hint('eval')}"
        ) from exc
    return cv2


def to_grey_u8(image) -> np.ndarray:
    """(3, H, W) float tensor in [0, 1] or (H, W, 3) uint8/uint16 array -> (H, W) uint8 grey.

    Grey is OpenCV's ``COLOR_RGB2GRAY`` (0.299 R + 0.587 G + 0.114 B, rounded) of the 8-bit frame,
    as TecoGAN computes it.
    """
    if isinstance(image, torch.Tensor):
        arr = image.detach().to("cpu", torch.float64).clamp(0, 1).permute(1, 2, 0).numpy()
        arr = np.round(arr * 255.0).astype(np.uint8)
    else:
        arr = np.asarray(image)
        if arr.dtype == np.uint16:
            arr = np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
        elif arr.dtype != np.uint8:
            arr = np.round(np.clip(arr, 0, 1) * 255.0).astype(np.uint8)
    if arr.ndim == 2:
        return np.ascontiguousarray(arr)
    if arr.shape[-1] == 1:
        return np.ascontiguousarray(arr[..., 0])
    return _cv2().cvtColor(np.ascontiguousarray(arr), _cv2().COLOR_RGB2GRAY)


def farneback_flow(prev_grey: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) float32 from ``prev_grey`` to ``grey`` (TecoGAN's Farnebäck settings)."""
    return _cv2().calcOpticalFlowFarneback(prev_grey, grey, None, *FARNEBACK_PARAMS)


def tecogan_crop_slices(h: int, w: int) -> tuple[slice, slice]:
    """TecoGAN's centre crop: largest multiple of 32 that leaves at least 8 pixels on each side."""

    def one(n: int) -> slice:
        m = (n // 32) * 32
        while m > n - 16:
            m -= 32
        if m <= 0:  # too small to crop: keep everything
            return slice(0, n)
        start = (n - m) // 2
        return slice(start, start + m)

    return one(h), one(w)


def tof_grey(
    pred_prev: np.ndarray,
    pred: np.ndarray,
    gt_prev: np.ndarray,
    gt: np.ndarray,
    *,
    tecogan_crop: bool = False,
    crop_border: int = 0,
) -> float:
    """tOF of one frame pair given (H, W) uint8 grey frames.

    Flows are estimated on the whole frames; ``crop_border`` / ``tecogan_crop`` then select the
    part of the flow difference that is averaged (flow near the border is least reliable).
    """
    if pred.shape != gt.shape or pred_prev.shape != pred.shape or gt_prev.shape != gt.shape:
        raise ValueError(f"shape mismatch: {pred_prev.shape}, {pred.shape} vs {gt_prev.shape}, {gt.shape}")
    d = farneback_flow(pred_prev, pred).astype(np.float64) - farneback_flow(gt_prev, gt).astype(np.float64)
    if tecogan_crop:
        d = d[tecogan_crop_slices(*gt.shape)]
    if crop_border:
        d = d[crop_border:-crop_border, crop_border:-crop_border]
    return float(np.sqrt((d * d).sum(-1)).mean())


def tof_pair(pred_prev, pred, gt_prev, gt, *, tecogan_crop: bool = False, crop_border: int = 0) -> float:
    """tOF of one frame pair (frames as accepted by :func:`to_grey_u8`)."""
    return tof_grey(
        to_grey_u8(pred_prev),
        to_grey_u8(pred),
        to_grey_u8(gt_prev),
        to_grey_u8(gt),
        tecogan_crop=tecogan_crop,
        crop_border=crop_border,
    )


def tof_clip(
    pred_frames: Iterable, gt_frames: Iterable, *, tecogan_crop: bool = False, crop_border: int = 0
) -> list[float]:
    """Per-pair tOF values of two aligned frame sequences (``len - 1`` values; their mean is the clip's tOF)."""
    values: list[float] = []
    prev = None
    for p, g in zip(pred_frames, gt_frames, strict=False):
        cur = (to_grey_u8(p), to_grey_u8(g))
        if prev is not None:
            values.append(
                tof_grey(prev[0], cur[0], prev[1], cur[1], tecogan_crop=tecogan_crop, crop_border=crop_border)
            )
        prev = cur
    return values
