"""2-D filter kernels and filtering: the one filter stack of freqvsr. Pure tensor maths.

Used by the degradations (:mod:`freqvsr.degrade`: BD / Gaussian / box blur, anisotropic kernels,
blur fused with down-sampling as matrices), FastRealVSR's hidden-state pool
(``layers.hidden_state``) and the no-download perceptual-loss fallback (``losses.perceptual``).

All filters here are *linear*, so an unsharp mask ``x + amount * (x - x ⊗ k)`` is itself one
kernel, ``(1 + amount) δ - amount k`` (:func:`unsharp_kernel`): a pool of blurred and sharpened
versions of a feature map is then a single grouped convolution instead of several passes.

Borders (:data:`PADDINGS`): ``reflect`` mirrors without repeating the edge pixel (BasicSR/DUF),
``replicate`` repeats it (MATLAB ``imfilter(..., 'replicate')``), ``circular`` wraps, ``zeros``
pads with 0. The two users differ in one rule, kept on purpose: :func:`filter2d` (degradations)
refuses ``reflect`` on an image smaller than the kernel's reach, because a protocol must not
quietly change; :func:`depthwise_filter_bank` (network layers, default ``replicate``) falls back
to ``replicate`` there, because a network must run on any tile size. With ``replicate`` a kernel
that sums to 1 keeps a constant input exactly constant up to the frame edge (zero padding would
darken the border, which a recurrent hidden state would then carry from frame to frame).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "PADDINGS",
    "box_blur",
    "box_kernel",
    "conv_matrix",
    "depthwise_filter",
    "depthwise_filter_bank",
    "embed_kernel",
    "filter2d",
    "gaussian_blur",
    "gaussian_kernel",
    "identity_kernel",
    "pad2d",
    "separate_kernel",
    "unsharp_kernel",
    "unsharp_mask",
]

PADDINGS = ("reflect", "replicate", "circular", "zeros")


# ------------------------------------------------------------------------------------------ kernels


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
        raise ValueError(f"blur kernel size must be >= 1, got {size}")
    sy = sigma if sigma_y is None else sigma_y
    if sigma <= 0 or sy <= 0:
        raise ValueError(f"blur sigma must be > 0, got {sigma}, {sy}")
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
        raise ValueError(f"box kernel size must be >= 1, got {size}")
    return torch.full((size, size), 1.0 / (size * size), dtype=torch.float64).to(dtype)


def identity_kernel(size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The delta kernel: filtering with it returns the input."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"identity kernel size must be odd and >= 1, got {size}")
    k = torch.zeros(size, size, dtype=dtype)
    k[size // 2, size // 2] = 1.0
    return k


def embed_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad an odd ``(k, k)`` kernel to ``(size, size)``, keeping it centred (same filter)."""
    k = kernel.shape[-1]
    if kernel.shape[-2] != k or k % 2 == 0 or size % 2 == 0 or size < k:
        raise ValueError(f"cannot centre a {tuple(kernel.shape)} kernel in {size}x{size}")
    p = (size - k) // 2
    return F.pad(kernel, (p, p, p, p))


def unsharp_kernel(blur: torch.Tensor, amount: float = 1.0) -> torch.Tensor:
    """Kernel of the unsharp mask ``x + amount * (x - x ⊗ blur)`` = ``(1 + amount) δ - amount * blur``.

    With ``amount = 1`` this is FastRealVSR's sharpening ``h + (h - h ⊗ k)``. The kernel sums to 1
    when ``blur`` does, so constants pass unchanged.
    """
    delta = identity_kernel(blur.shape[-1], dtype=blur.dtype).to(blur.device)
    return (1.0 + amount) * delta - amount * blur


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


# ------------------------------------------------------------------------------------------ borders


def pad2d(
    x: torch.Tensor, pads: tuple[int, int, int, int], padding: str, *, reflect_fallback: bool = False
) -> torch.Tensor:
    """Pad the last two dims by ``pads = (left, right, top, bottom)`` with ``padding`` (:data:`PADDINGS`).

    ``reflect`` needs more pixels than the pad: on a smaller image it raises, or with
    ``reflect_fallback`` pads with ``replicate`` instead (which works on any size).
    """
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; valid: {', '.join(PADDINGS)}")
    if padding == "zeros":
        return F.pad(x, pads, mode="constant", value=0.0)
    if padding == "reflect" and (max(pads[0], pads[1]) >= x.shape[-1] or max(pads[2], pads[3]) >= x.shape[-2]):
        if not reflect_fallback:
            raise ValueError(
                f"reflect padding of {max(pads)} pixels needs an image larger than {tuple(x.shape[-2:])}; "
                "use a smaller kernel or padding='replicate'"
            )
        padding = "replicate"
    return F.pad(x, pads, mode=padding)


# ---------------------------------------------------------------------------------------- filtering


def filter2d(x: torch.Tensor, kernel: torch.Tensor, padding: str = "reflect") -> torch.Tensor:
    """Correlate every channel of ``x`` (..., H, W) with ``kernel`` (kh, kw); same output size.

    Any kernel size (even-sized kernels put the extra tap on the top/left, as scipy/MATLAB do);
    ``reflect`` on an image too small for it raises (see the module docstring).
    """
    if x.dim() < 2:
        raise ValueError(f"filter2d expects (..., H, W), got shape {tuple(x.shape)}")
    kh, kw = kernel.shape
    lead = x.shape[:-2]
    h, w = x.shape[-2:]
    flat = x.reshape(-1, 1, h, w)
    pads = (kw // 2, (kw - 1) // 2, kh // 2, (kh - 1) // 2)
    flat = pad2d(flat, pads, padding)
    k = kernel.to(device=x.device, dtype=x.dtype)
    factors = separate_kernel(kernel)
    if factors is not None:
        # Gaussian (axis-aligned), box and BD kernels are rank one: two 1-D passes cost kh + kw
        # instead of kh * kw multiplies per pixel (docs/measurements.md, separable-blur).
        col, row = (f.to(device=x.device, dtype=x.dtype) for f in factors)
        out = F.conv2d(F.conv2d(flat, row[None, None, None, :]), col[None, None, :, None])
    else:
        out = F.conv2d(flat, k[None, None])
    return out.reshape(*lead, h, w)


def depthwise_filter_bank(x: torch.Tensor, kernels: torch.Tensor, padding: str = "replicate") -> torch.Tensor:
    """Filter every channel of ``x`` (N, C, H, W) with each of ``kernels`` (K, k, k): (N, C, K, H, W).

    One grouped convolution (groups = C, K outputs per group) does all K filters at once. Odd ``k``
    only; ``reflect`` on a tile smaller than the kernel falls back to ``replicate``.
    """
    n, c, h, w = x.shape
    num, k, k2 = kernels.shape
    if k != k2 or k % 2 == 0:
        raise ValueError(f"kernels must be (K, k, k) with odd k, got {tuple(kernels.shape)}")
    weight = kernels.to(dtype=x.dtype, device=x.device)[None].expand(c, num, k, k).reshape(c * num, 1, k, k)
    p = k // 2
    if p and padding != "zeros":
        out = F.conv2d(pad2d(x, (p, p, p, p), padding, reflect_fallback=True), weight, groups=c)
    else:
        out = F.conv2d(x, weight, padding=p, groups=c)
    return out.view(n, c, num, h, w)


def depthwise_filter(x: torch.Tensor, kernel: torch.Tensor, padding: str = "replicate") -> torch.Tensor:
    """Filter every channel of ``x`` (N, C, H, W) with the same odd ``(k, k)`` kernel; same size out.

    The kernel is applied as a correlation (``conv2d``); all kernels built here are symmetric, so
    that equals convolution.
    """
    return depthwise_filter_bank(x, kernel[None], padding)[:, :, 0]


def gaussian_blur(x: torch.Tensor, size: int = 5, sigma: float = 1.0, padding: str = "replicate") -> torch.Tensor:
    """Depthwise Gaussian blur of (N, C, H, W)."""
    return depthwise_filter(x, gaussian_kernel(size, sigma, dtype=x.dtype).to(x.device), padding)


def box_blur(x: torch.Tensor, size: int = 3, padding: str = "replicate") -> torch.Tensor:
    """Depthwise mean filter of (N, C, H, W)."""
    return depthwise_filter(x, box_kernel(size, dtype=x.dtype).to(x.device), padding)


def unsharp_mask(
    x: torch.Tensor, size: int = 5, sigma: float = 1.0, amount: float = 1.0, padding: str = "replicate"
) -> torch.Tensor:
    """``x + amount * (x - gaussian_blur(x))``, computed as one kernel."""
    kernel = unsharp_kernel(gaussian_kernel(size, sigma, dtype=x.dtype).to(x.device), amount)
    return depthwise_filter(x, kernel, padding)


# ------------------------------------------------------------------------------------ matrix form


def conv_matrix(n: int, taps: torch.Tensor, padding: str = "reflect") -> torch.Tensor:
    """The ``(n, n)`` float64 matrix of 1-D correlation with ``taps`` under ``padding``.

    ``conv_matrix(H, col) @ img @ conv_matrix(W, row).T`` equals ``filter2d(img, outer(col, row))``;
    in matrix form a blur can be fused with the down-sampling that follows it, so the blurred
    high-resolution frame is never computed (see ``freqvsr.degrade.ops.separable_downsample``).
    """
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; valid: {', '.join(PADDINGS)}")
    t = taps.detach().to("cpu", torch.float64)
    k = t.numel()
    before = k // 2
    if padding == "reflect" and max(before, k - 1 - before) >= n:
        raise ValueError(f"reflect padding of {before} pixels needs more than {n} pixels; use padding='replicate'")
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
