"""MATLAB-compatible bicubic resizing (``imresize``), antialiased when shrinking. Pure tensor maths.

Super-resolution benchmarks (Vid4, REDS4, Vimeo-90K "BI") were made with MATLAB's
``imresize(img, 1/4, 'bicubic')``. PyTorch's ``F.interpolate(mode="bicubic")`` differs in ways that
matter at the 0.1 dB level: its cubic uses a = -0.75 (MATLAB: Keys' a = -0.5), it does not widen the
kernel when shrinking unless ``antialias=True``, and it clamps at the borders instead of mirroring.
This module follows MATLAB's ``contributions()``:

* output pixel ``i`` (1-based) sits at input coordinate ``u = i / s + 0.5 * (1 - 1 / s)``;
* when ``s < 1`` and antialiasing is on, the kernel becomes ``s * cubic(s * x)`` and its support
  widens from 4 to ``4 / s`` input pixels (a low-pass filter matched to the new sampling rate);
* taps falling outside the image are mirrored with the edge pixel repeated (``[1..n, n..1]``);
* the weights of each output pixel are normalised to sum to one;
* with a scalar ``scale`` the output size is ``ceil(scale * n)`` and the kernel uses ``scale``
  itself, not ``out / n`` (this matters for sizes not divisible by the factor, e.g. 97 -> 25).

Each axis is resized on its own (separable), batched over any leading dimensions, differentiable.
The weights of an axis are a dense ``(out, in)`` matrix built once in float64 (cached) and applied
with ``matmul``. The matrix is mostly zeros, but BLAS/cuBLAS make this fast anyway, faster than a
strided polyphase conv2d we tried (timings: ``docs/measurements.md``, ``resize``). It is also the
simplest thing that is exactly right.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

__all__ = ["bicubic_upsample", "imresize", "resize_matrix"]

_KERNEL_WIDTH = 4.0  # support of the cubic kernel, in input pixels, before antialias widening


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    out: np.ndarray = near + far
    return out


@functools.lru_cache(maxsize=64)
def _matrix_np(in_len: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    if scale < 1 and antialias:
        width = _KERNEL_WIDTH / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * x)
    else:
        width = _KERNEL_WIDTH
        kernel = _cubic

    out_pos = np.arange(1, out_len + 1, dtype=np.float64)
    u = out_pos / scale + 0.5 * (1.0 - 1.0 / scale)  # centre in 1-based input coordinates
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2  # enough taps to cover the support
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # (out, taps), 1-based
    weights = kernel(u[:, None] - idx)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric padding: index sequence 1..n, n..1 repeated; mod makes any distance valid,
    # even when the kernel is wider than the image.
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(mat, (rows, src.reshape(-1)), weights.reshape(-1))
    mat.setflags(write=False)  # cached: never hand out a writable view
    return mat


def resize_matrix(
    in_len: int,
    out_len: int,
    scale: float | None = None,
    antialias: bool = True,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The ``(out_len, in_len)`` matrix ``W`` with ``resized = W @ signal`` along one axis.

    ``scale`` defaults to ``out_len / in_len`` (MATLAB's rule when an output size is given).
    """
    if scale is None:
        scale = out_len / in_len
    mat = _matrix_np(int(in_len), int(out_len), float(scale), bool(antialias))
    return torch.tensor(mat, dtype=dtype, device=device)


def _pair(v: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected a number or a pair, got {v!r}")
        return float(v[0]), float(v[1])
    return float(v), float(v)


def imresize(
    x: torch.Tensor,
    scale: float | tuple[float, float] | None = None,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> torch.Tensor:
    """Resize the last two dimensions of ``x`` (``..., H, W``) like MATLAB's ``imresize(x, ..., 'bicubic')``.

    Give exactly one of ``scale`` (a factor, or ``(sh, sw)``; output size ``ceil(scale * n)``) or
    ``size`` ``(out_h, out_w)``. Values are not clamped or rounded (MATLAB rounds only uint8 input):
    bicubic overshoots slightly outside [0, 1] near edges; callers clamp where they need to.
    float32 and float64 are computed in their own precision; other float types go through float32.
    (With TF32 matmuls enabled on a GPU, float32 results carry TF32 rounding, ~1e-3 relative.)
    """
    if (scale is None) == (size is None):
        raise ValueError("imresize: give exactly one of scale= or size=")
    if x.dim() < 2:
        raise ValueError(f"imresize: expected a tensor (..., H, W), got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise TypeError(f"imresize: expected a floating-point tensor, got {x.dtype}")
    in_h, in_w = x.shape[-2:]
    if scale is not None:
        sh, sw = _pair(scale)
        if sh <= 0 or sw <= 0:
            raise ValueError(f"imresize: scale must be positive, got {scale!r}")
        out_h, out_w = math.ceil(sh * in_h), math.ceil(sw * in_w)
    else:
        assert size is not None  # exactly one of scale / size, checked above
        out_h, out_w = int(size[0]), int(size[1])
        if out_h <= 0 or out_w <= 0:
            raise ValueError(f"imresize: size must be positive, got {size!r}")
        sh, sw = out_h / in_h, out_w / in_w

    orig_dtype = x.dtype
    work = x if orig_dtype in (torch.float32, torch.float64) else x.float()
    # The two passes are linear maps on different axes, so their order changes nothing but
    # float rounding (MATLAB takes the smaller factor first); take the one with fewer multiplies.
    h_first = out_h * in_h * in_w + out_h * in_w * out_w
    w_first = in_h * in_w * out_w + out_h * in_h * out_w
    for axis in ("h", "w") if h_first <= w_first else ("w", "h"):
        if axis == "h" and not (out_h == in_h and sh == 1.0):
            mat = resize_matrix(in_h, out_h, sh, antialias, dtype=work.dtype, device=work.device)
            work = torch.matmul(mat, work)
        elif axis == "w" and not (out_w == in_w and sw == 1.0):
            mat = resize_matrix(in_w, out_w, sw, antialias, dtype=work.dtype, device=work.device)
            work = torch.matmul(work, mat.t())
    return work.to(orig_dtype)


def bicubic_upsample(x: torch.Tensor, scale: float = 4) -> torch.Tensor:
    """MATLAB bicubic up-sampling of ``(..., H, W)`` by ``scale`` (the classic SR baseline)."""
    return imresize(x, scale=scale)
