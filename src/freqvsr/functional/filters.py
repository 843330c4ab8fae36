"""Fixed 2-D filter kernels and their depthwise application. Pure tensor maths.

Used by FastRealVSR's hidden-state pool (``layers.hidden_state``) and by the no-download
perceptual-loss fallback (``losses.perceptual``).

All filters here are *linear*, so an unsharp mask ``x + amount * (x - x ⊗ k)`` is itself one
kernel, ``(1 + amount) δ - amount k`` (:func:`unsharp_kernel2d`): a pool of blurred and sharpened
versions of a feature map is then a single grouped convolution instead of several passes.

Borders are handled with replicate padding by default: every kernel here sums to 1, so with
replicate padding a constant input stays exactly constant up to the frame edge (zero padding would
darken the border, which a recurrent hidden state would then carry from frame to frame).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def box_kernel2d(size: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Mean filter ``(size, size)``, summing to 1."""
    if size < 1:
        raise ValueError(f"box kernel size must be >= 1, got {size}")
    return torch.full((size, size), 1.0 / (size * size), dtype=dtype)


def gaussian_kernel2d(size: int, sigma: float, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Sampled isotropic Gaussian ``(size, size)`` centred on the middle tap, normalised to sum 1."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"Gaussian kernel size must be odd and >= 1, got {size}")
    if sigma <= 0:
        raise ValueError(f"Gaussian sigma must be positive, got {sigma}")
    # Built in float64 so the normalisation is exact to float32 precision whatever `dtype` is.
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2.0 * sigma * sigma))
    k = g[:, None] * g[None, :]
    return (k / k.sum()).to(dtype)


def identity_kernel2d(size: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The delta kernel: filtering with it returns the input."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"identity kernel size must be odd and >= 1, got {size}")
    k = torch.zeros(size, size, dtype=dtype)
    k[size // 2, size // 2] = 1.0
    return k


def embed_kernel2d(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad an odd ``(k, k)`` kernel to ``(size, size)``, keeping it centred (same filter)."""
    k = kernel.shape[-1]
    if kernel.shape[-2] != k or k % 2 == 0 or size % 2 == 0 or size < k:
        raise ValueError(f"cannot centre a {tuple(kernel.shape)} kernel in {size}x{size}")
    p = (size - k) // 2
    return F.pad(kernel, (p, p, p, p))


def unsharp_kernel2d(blur: torch.Tensor, amount: float = 1.0) -> torch.Tensor:
    """Kernel of the unsharp mask ``x + amount * (x - x ⊗ blur)`` = ``(1 + amount) δ - amount * blur``.

    With ``amount = 1`` this is FastRealVSR's sharpening ``h + (h - h ⊗ k)``. The kernel sums to 1
    when ``blur`` does, so constants pass unchanged.
    """
    delta = identity_kernel2d(blur.shape[-1], dtype=blur.dtype).to(blur.device)
    return (1.0 + amount) * delta - amount * blur


def depthwise_filter(x: torch.Tensor, kernel: torch.Tensor, padding_mode: str = "replicate") -> torch.Tensor:
    """Filter every channel of ``x`` (N, C, H, W) with the same odd ``(k, k)`` kernel; same size out.

    The kernel is applied as a correlation (``conv2d``); all kernels built here are symmetric, so
    that equals convolution.
    """
    return depthwise_filter_bank(x, kernel[None], padding_mode)[:, :, 0]


def depthwise_filter_bank(x: torch.Tensor, kernels: torch.Tensor, padding_mode: str = "replicate") -> torch.Tensor:
    """Filter every channel of ``x`` (N, C, H, W) with each of ``kernels`` (K, k, k): (N, C, K, H, W).

    One grouped convolution (groups = C, K outputs per group) does all K filters at once.
    """
    n, c, h, w = x.shape
    num, k, k2 = kernels.shape
    if k != k2 or k % 2 == 0:
        raise ValueError(f"kernels must be (K, k, k) with odd k, got {tuple(kernels.shape)}")
    weight = kernels.to(dtype=x.dtype, device=x.device)[None].expand(c, num, k, k).reshape(c * num, 1, k, k)
    p = k // 2
    if p and padding_mode != "zeros":
        xp = _pad(x, p, padding_mode)
        out = F.conv2d(xp, weight, groups=c)
    else:
        out = F.conv2d(x, weight, padding=p, groups=c)
    return out.view(n, c, num, h, w)


def _pad(x: torch.Tensor, p: int, mode: str) -> torch.Tensor:
    if mode == "reflect" and min(x.shape[-2:]) <= p:
        mode = "replicate"  # reflect needs more pixels than the pad; replicate works on any size
    return F.pad(x, (p, p, p, p), mode=mode)


def gaussian_blur(x: torch.Tensor, size: int = 5, sigma: float = 1.0, padding_mode: str = "replicate") -> torch.Tensor:
    """Depthwise Gaussian blur of (N, C, H, W)."""
    return depthwise_filter(x, gaussian_kernel2d(size, sigma, dtype=x.dtype).to(x.device), padding_mode)


def box_blur(x: torch.Tensor, size: int = 3, padding_mode: str = "replicate") -> torch.Tensor:
    """Depthwise mean filter of (N, C, H, W)."""
    return depthwise_filter(x, box_kernel2d(size, dtype=x.dtype).to(x.device), padding_mode)


def unsharp_mask(
    x: torch.Tensor, size: int = 5, sigma: float = 1.0, amount: float = 1.0, padding_mode: str = "replicate"
) -> torch.Tensor:
    """``x + amount * (x - gaussian_blur(x))``, computed as one kernel."""
    kernel = unsharp_kernel2d(gaussian_kernel2d(size, sigma, dtype=x.dtype).to(x.device), amount)
    return depthwise_filter(x, kernel, padding_mode)

