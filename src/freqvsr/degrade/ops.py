"""Deterministic degradation operations: blur kernels, filtering, down-sampling, noise.

Tensor contract: images are float tensors ``(..., H, W)`` (typically ``(T, C, H, W)``) with values in
``[0, 1]``, RGB. Every function here is deterministic given its arguments; randomness enters only
through an explicit ``torch.Generator`` (noise), so a degradation can be replayed exactly.
Random *choice* of parameters lives in :mod:`freqvsr.degrade.pipeline`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from freqvsr.errors import UsageError

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

_PADDINGS = ("reflect", "replicate", "circular", "zeros")


# ---------------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------------


def gaussian_kernel(
    size: int,
    sigma: float,
    sigma_y: float | None = None,
    angle: float = 0.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A ``(size, size)`` sampled Gaussian kernel, normalised to sum 1.

    ``sigma`` is the standard deviation (pixels) along the kernel's first principal axis and
    ``sigma_y`` (default: ``sigma``, i.e. isotropic) along the second; ``angle`` (degrees,
    counter-clockwise) rotates the first axis away from the x axis. Sampling is at integer offsets
    from the centre, so an odd ``size`` is centred exactly (an even size is centred between pixels).
    With ``size=13, sigma=1.6`` this equals the DUF/BasicSR "BD" kernel (scipy's ``gaussian_filter``
    of a delta, whose radius 6 fits the 13 taps exactly).
    """
    if size < 1:
        raise UsageError(f"blur kernel size must be >= 1, got {size}")
    sy = sigma if sigma_y is None else sigma_y
    if sigma <= 0 or sy <= 0:
        raise UsageError(f"blur sigma must be > 0, got {sigma}, {sy}")
    # Work in float64 so kernels are identical whatever dtype the caller asks for.
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    theta = math.radians(angle)
    c, s = math.cos(theta), math.sin(theta)
    # Coordinates in the kernel's principal frame (y axis of images points down; the sign only
    # decides which way "counter-clockwise" turns and is fixed here once).
    u = c * xx - s * yy
    v = s * xx + c * yy
    k = torch.exp(-0.5 * ((u / sigma) ** 2 + (v / sy) ** 2))
    return (k / k.sum()).to(dtype)


def box_kernel(size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A ``(size, size)`` uniform (box / mean) kernel summing to 1."""
    if size < 1:
        raise UsageError(f"box kernel size must be >= 1, got {size}")
    return torch.full((size, size), 1.0 / (size * size), dtype=torch.float64).to(dtype)


def _pad(x: torch.Tensor, pads: tuple[int, int, int, int], padding: str) -> torch.Tensor:
    if padding not in _PADDINGS:
        raise UsageError(f"unknown padding {padding!r}; valid: {', '.join(_PADDINGS)}")
    if padding == "zeros":
        return F.pad(x, pads, mode="constant", value=0.0)
    if padding == "reflect" and (max(pads[0], pads[1]) >= x.shape[-1] or max(pads[2], pads[3]) >= x.shape[-2]):
        raise UsageError(
            f"reflect padding of {max(pads)} pixels needs an image larger than {tuple(x.shape[-2:])}; "
            "use a smaller kernel or padding='replicate'"
        )
    return F.pad(x, pads, mode=padding)


def filter2d(x: torch.Tensor, kernel: torch.Tensor, padding: str = "reflect") -> torch.Tensor:
    """Correlate every channel of ``x`` (..., H, W) with ``kernel`` (kh, kw); same output size.

    The border is extended with ``padding`` (``reflect`` = mirror without repeating the edge pixel,
    as BasicSR/DUF; ``replicate`` = MATLAB ``imfilter(..., 'replicate')``; ``circular``; ``zeros``).
    """
    if x.dim() < 2:
        raise UsageError(f"filter2d expects (..., H, W), got shape {tuple(x.shape)}")
    kh, kw = kernel.shape
    lead = x.shape[:-2]
    h, w = x.shape[-2:]
    flat = x.reshape(-1, 1, h, w)
    # Even-sized kernels put the extra tap on the top/left, as scipy/MATLAB do.
    pads = (kw // 2, (kw - 1) // 2, kh // 2, (kh - 1) // 2)
    flat = _pad(flat, pads, padding)
    k = kernel.to(device=x.device, dtype=x.dtype)
    factors = separate_kernel(kernel)
    if factors is not None:
        # Gaussian (axis-aligned), box and BD kernels are rank one: two 1-D passes cost kh + kw
        # instead of kh * kw multiplies per pixel (21x21 blur on 256x256 crops: ~10x faster).
        col, row = (f.to(device=x.device, dtype=x.dtype) for f in factors)
        out = F.conv2d(F.conv2d(flat, row[None, None, None, :]), col[None, None, :, None])
    else:
        out = F.conv2d(flat, k[None, None])
    return out.reshape(*lead, h, w)


def separate_kernel(kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(col, row)`` with ``outer(col, row) == kernel`` (to the kernel's rounding), or None."""
    k = kernel.detach().to("cpu", torch.float64)
    r, c = divmod(int(k.abs().argmax()), k.shape[1])
    pivot = k[r, c]
    if pivot == 0:
        return None
    col, row = k[:, c], k[r, :] / pivot
    tol = 8 * torch.finfo(kernel.dtype).eps * float(k.abs().max())
    if not torch.allclose(torch.outer(col, row), k, rtol=0.0, atol=tol):
        return None
    return col, row


def conv_matrix(n: int, taps: torch.Tensor, padding: str = "reflect") -> torch.Tensor:
    """The ``(n, n)`` float64 matrix of 1-D correlation with ``taps`` under ``padding``.

    ``conv_matrix(H, col) @ img @ conv_matrix(W, row).T`` equals ``filter2d(img, outer(col, row))``;
    in matrix form a blur can be fused with the down-sampling that follows it, so the blurred
    high-resolution frame is never computed (see :func:`separable_downsample`).
    """
    if padding not in _PADDINGS:
        raise UsageError(f"unknown padding {padding!r}; valid: {', '.join(_PADDINGS)}")
    t = taps.detach().to("cpu", torch.float64)
    k = t.numel()
    before = k // 2
    if padding == "reflect" and max(before, k - 1 - before) >= n:
        raise UsageError(f"reflect padding of {before} pixels needs more than {n} pixels; use padding='replicate'")
    idx = torch.arange(n)[:, None] + torch.arange(k)[None, :] - before  # (n, k) source positions
    if padding == "reflect":
        idx = idx.abs()
        idx = torch.where(idx >= n, 2 * (n - 1) - idx, idx)
        keep = torch.ones_like(idx, dtype=torch.bool)
    elif padding == "replicate":
        idx = idx.clamp(0, n - 1)
        keep = torch.ones_like(idx, dtype=torch.bool)
    elif padding == "circular":
        idx = idx % n
        keep = torch.ones_like(idx, dtype=torch.bool)
    else:  # zeros
        keep = (idx >= 0) & (idx < n)
        idx = idx.clamp(0, n - 1)
    mat = torch.zeros(n, n, dtype=torch.float64)
    rows = torch.arange(n)[:, None].expand(n, k)
    mat.index_put_((rows[keep], idx[keep]), t.expand(n, k)[keep], accumulate=True)
    return mat


def separable_downsample(x: torch.Tensor, mat_h: torch.Tensor, mat_w: torch.Tensor) -> torch.Tensor:
    """``mat_h @ x @ mat_w.T`` over the last two axes of ``x`` (..., H, W), in ``x``'s precision."""
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    mh = mat_h.to(device=x.device, dtype=work.dtype)
    mw = mat_w.to(device=x.device, dtype=work.dtype)
    return torch.matmul(torch.matmul(mh, work), mw.t()).to(x.dtype)


# ---------------------------------------------------------------------------------------------------
# Down-sampling
# ---------------------------------------------------------------------------------------------------


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
    height: int, width: int, scale: int = 4, sigma: float | None = None, size: int = 13,
    offset: int = 0, padding: str = "reflect",
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
