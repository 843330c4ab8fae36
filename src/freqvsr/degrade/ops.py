"""Deterministic degradation operations: down-sampling (BI, BD), noise, quantisation.

Tensor contract: images are float tensors ``(..., H, W)`` (typically ``(T, C, H, W)``) with values in
``[0, 1]``, RGB. Every function here is deterministic given its arguments; randomness enters only
through an explicit ``torch.Generator`` (noise), so a degradation can be replayed exactly.
Random *choice* of parameters lives in :mod:`freqvsr.degrade.pipeline`.

Blur kernels and filtering (``gaussian_kernel``, ``box_kernel``, ``filter2d``, ``conv_matrix``,
``separate_kernel``) are the one filter stack of :mod:`freqvsr.functional.filters`, named here too
because this module's users have always found them here; they raise ``ValueError``.
"""

from __future__ import annotations

import torch

from freqvsr.errors import UsageError
from freqvsr.functional.filters import box_kernel, conv_matrix, filter2d, gaussian_kernel, separate_kernel

__all__ = [
    "add_gaussian_noise",
    "add_poisson_noise",
    "bd_downsample",
    "bd_matrices",
    "bi_downsample",
    "box_kernel",
    "conv_matrix",
    "filter2d",
    "gaussian_kernel",
    "quantize",
    "separable_downsample",
    "separate_kernel",
    "to_uint8",
]


# ---------------------------------------------------------------------------------------------------
# Down-sampling
# ---------------------------------------------------------------------------------------------------


def separable_downsample(x: torch.Tensor, mat_h: torch.Tensor, mat_w: torch.Tensor) -> torch.Tensor:
    """``mat_h @ x @ mat_w.T`` over the last two axes of ``x`` (..., H, W), in ``x``'s precision."""
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    mh = mat_h.to(device=x.device, dtype=work.dtype)
    mw = mat_w.to(device=x.device, dtype=work.dtype)
    return torch.matmul(torch.matmul(mh, work), mw.t()).to(x.dtype)


def bi_downsample(x: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """BI degradation: MATLAB ``imresize(x, 1/scale)`` (antialiased bicubic), ``(..., H, W)``.

    Output size is ``ceil(H / scale) x ceil(W / scale)`` as in MATLAB. The output is not clamped:
    bicubic overshoot is kept here and removed by :func:`quantize`, as saving to 8-bit PNG would.
    """
    from freqvsr.functional.resize import imresize

    return imresize(x, scale=1.0 / scale, antialias=True)


def bd_downsample(
    x: torch.Tensor,
    scale: int = 4,
    sigma: float | None = None,
    size: int = 13,
    offset: int = 0,
    padding: str = "reflect",
) -> torch.Tensor:
    """BD degradation: Gaussian blur (``size``x``size``, ``sigma`` = 0.4*scale = 1.6 for x4), then
    keep every ``scale``-th pixel, starting at ``offset``.

    ``offset=0`` and ``reflect`` padding reproduce the DUF official code (also BasicSR's
    ``duf_downsample``), which most BD benchmarks and BD-trained checkpoints (BasicVSR, IconVSR,
    FCVSR's BD track) use: its strided convolution with 14-pixel padding and a 2-sample crop centres
    the first kept kernel on pixel 0. MATLAB scripts that do ``img(1:4:end, 1:4:end)`` also keep
    pixel 0 (1-based index 1). The LR grid is thus shifted by 1.5 HR pixels against the bicubic (BI)
    grid (whose LR pixel i is centred on HR coordinate ``scale*i + 1.5``); networks trained on BD
    learn that shift. ``offset=1`` or ``2`` gives a grid closer to BI's. Output size:
    ``ceil((H - offset) / scale)``.
    """
    mh, mw = bd_matrices(x.shape[-2], x.shape[-1], scale, sigma, size, offset, padding)
    return separable_downsample(x, mh, mw)


def bd_matrices(
    height: int,
    width: int,
    scale: int = 4,
    sigma: float | None = None,
    size: int = 13,
    offset: int = 0,
    padding: str = "reflect",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row/column matrices of :func:`bd_downsample` (the Gaussian is separable: blur and subsample
    in one small matrix product per axis, never forming the blurred full-size frame)."""
    if sigma is None:
        sigma = 0.4 * scale
    if not 0 <= offset < scale:
        raise UsageError(f"BD offset must be in [0, {scale}), got {offset}")
    k = gaussian_kernel(size, sigma, dtype=torch.float64)
    col, row = separate_kernel(k)
    mh = conv_matrix(height, col, padding)[offset::scale]
    mw = conv_matrix(width, row, padding)[offset::scale]
    return mh, mw


# ---------------------------------------------------------------------------------------------------
# Noise and quantisation
# ---------------------------------------------------------------------------------------------------


def _noise_shape(x: torch.Tensor, gray: bool) -> tuple[int, ...]:
    # Gray noise is the same value on all colour channels: dimension -3 is the channel axis.
    if gray:
        if x.dim() < 3:
            raise UsageError(f"gray noise needs (..., C, H, W), got shape {tuple(x.shape)}")
        return (*x.shape[:-3], 1, *x.shape[-2:])
    return tuple(x.shape)


def add_gaussian_noise(
    x: torch.Tensor,
    sigma: float,
    generator: torch.Generator | None = None,
    gray: bool = False,
    clip: bool = True,
) -> torch.Tensor:
    """Add zero-mean Gaussian noise of standard deviation ``sigma`` **on the 0-255 scale**.

    ``gray=True`` adds the same noise to all channels (luma-like). ``clip`` clamps to [0, 1], as
    storing the noisy frame in 8 bits would. Noise is drawn in float32 on the CPU from
    ``generator`` so that results do not depend on the device or on ``x``'s dtype.
    """
    noise = torch.randn(_noise_shape(x, gray), generator=generator, dtype=torch.float32)
    out = x + noise.to(device=x.device, dtype=x.dtype) * (sigma / 255.0)
    return out.clamp(0.0, 1.0) if clip else out


def add_poisson_noise(
    x: torch.Tensor,
    peak: float,
    generator: torch.Generator | None = None,
    gray: bool = False,
    clip: bool = True,
) -> torch.Tensor:
    """Shot noise: ``Poisson(x * peak) / peak``; ``peak`` is the photon count of a white pixel.

    Smaller ``peak`` = noisier (std at intensity v is ``sqrt(v / peak)``). ``gray=True`` draws the
    noise on the mean of the channels and adds the same deviation to every channel.
    """
    if peak <= 0:
        raise UsageError(f"Poisson peak must be > 0, got {peak}")
    base = x.detach().to(device="cpu", dtype=torch.float32).clamp(0.0, 1.0)
    if gray:
        base = base.mean(dim=-3, keepdim=True)
    rate = base * peak
    noise = torch.poisson(rate, generator=generator) / peak - base
    out = x + noise.to(device=x.device, dtype=x.dtype)
    return out.clamp(0.0, 1.0) if clip else out


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round to the 8-bit grid (clamp to [0, 1], round to k/255), staying float."""
    return torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float [0, 1] -> uint8 with rounding (what writing an 8-bit frame does)."""
    return torch.round(x.clamp(0.0, 1.0) * 255.0).to(torch.uint8)
