"""The spectral maths of `freqvsr compare`: block-DCT spectra, amplitude–frequency curves, and
where to crop.

Spectral analysis follows the FTVSR paper's figures: the luma of a crop is cut into 8×8 blocks,
each block is DCT-transformed (:func:`freqvsr.functional.dct.block_dct2d`), and the log amplitude
``log10(1 + |c|)`` of each of the 64 frequencies is averaged over the blocks (Fig. 1's 8×8 maps);
the curve averages that map over the diagonal bands ``u + v = 0..14`` (Fig. 2's
amplitude–frequency curve: compression and blur remove the high bands first).

The crop is chosen where the SR outputs disagree most with each other (two or more SRs), else
where the single SR differs most from GT (when given), else from the bicubic upscale of LQ
(:func:`difference_score`, :func:`auto_crop`). Arrays in, arrays out: no files, no pictures.
"""

from __future__ import annotations

import numpy as np
import torch

from freqvsr.errors import UsageError
from freqvsr.functional.color import LUMA_BT601_FULL
from freqvsr.functional.dct import block_dct2d

__all__ = ["BANDS", "BLOCK", "auto_crop", "band_curve", "dct_spectrum", "difference_score"]

BLOCK = 8
BANDS = 2 * BLOCK - 1  # diagonal frequency bands u + v = 0 .. 14


def _luma(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> BT.601 luma in 0..255, float64 (full range, as JPEG/FTVSR's figures)."""
    x = img.astype(np.float64)
    kr, kg, kb = LUMA_BT601_FULL
    return kr * x[..., 0] + kg * x[..., 1] + kb * x[..., 2]


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


def difference_score(
    srs: list[np.ndarray], gt: np.ndarray | None, baseline: np.ndarray | None
) -> tuple[np.ndarray, str]:
    """Per-pixel map of where the methods differ, and a phrase saying what it measures."""
    stack = np.stack([s.astype(np.float32) for s in srs])
    if len(srs) >= 2:
        return (stack.max(0) - stack.min(0)).mean(-1), "largest disagreement between the SR outputs"
    if gt is not None:
        return np.abs(stack[0] - gt.astype(np.float32)).mean(-1), "largest error of the SR output against GT"
    return np.abs(stack[0] - baseline.astype(np.float32)).mean(-1), "largest difference of the SR output from bicubic"
