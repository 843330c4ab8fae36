"""Orthonormal block DCT-II / DCT-III on non-overlapping B×B blocks, and frequency tokens.

Pure tensor maths (imports nothing from freqvsr). Conventions, shared by every frequency model:

* 1-D basis ``C[u, i] = a(u) · cos(π u (i + ½) / B)`` with ``a(0) = 1/√B`` and ``a(u>0) = √2/√B``,
  so ``C`` is orthonormal and the inverse is its transpose (exact up to rounding).
* 2-D basis ``M[u·B + v, i, j] = C[u, i] · C[v, j]``: ``u`` is the vertical frequency (it indexes
  block rows ``i``), ``v`` the horizontal one. This is the channel order of the official FTVSR
  code (``colour·64 + u·8 + v``) and equals ``scipy.fft.dctn(block, norm="ortho")[u, v]``.
* The DC coefficient of a block is ``B × block mean``.

The transform is one batched matmul against the cached (B², B²) basis, over every block of every
leading dimension at once (no Python loop over blocks). Bases are built in float64 with Python's
``math`` (so the float32 cast is bit-identical to the official DCT weights) and cached per
(size, dtype, device).

Frequency tokens (FTVSR++ paper, Eq. 3–5): a clip ``(B, T, C, H, W)`` is cut into B×B patches,
each patch is DCT-transformed, and coefficients of the same frequency from all patches are
gathered, giving ``F = B²`` frequency tokens per frame, each a ``(C, H/B, W/B)`` map:
``(B, T, F, C, H/B, W/B)``.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

__all__ = [
    "dct_matrix",
    "dct_basis_2d",
    "block_dct2d",
    "block_idct2d",
    "pad_to_multiple",
    "crop_to",
    "frequency_tokenize",
    "frequency_untokenize",
]


def _dct_matrix_f64(size: int) -> list[list[float]]:
    # Python floats: the exact evaluation order the official FTVSR weights were computed with
    # (cos(pi * f * (p + 0.5) / B) / sqrt(B), times sqrt(2) for f > 0), so casts agree bit for bit.
    rows = []
    for f in range(size):
        row = []
        for p in range(size):
            b = math.cos(math.pi * f * (p + 0.5) / size) / math.sqrt(size)
            if f > 0:
                b = b * math.sqrt(2)
            row.append(b)
        rows.append(row)
    return rows


@functools.lru_cache(maxsize=64)
def _cached_basis(size: int, two_d: bool, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    # Built outside inference mode: a cached tensor created under torch.inference_mode() could
    # not be used later by autograd.
    with torch.inference_mode(False), torch.no_grad():
        c = torch.tensor(_dct_matrix_f64(size), dtype=torch.float64)
        if two_d:
            # M[u, v, i, j] = C[u, i] * C[v, j], product in float64, then one cast.
            m = c[:, None, :, None] * c[None, :, None, :]
            c = m.reshape(size * size, size, size)
        return c.to(dtype=dtype, device=device)


def _check_size(size: int) -> int:
    size = int(size)
    if size < 1:
        raise ValueError(f"DCT block size must be >= 1, got {size}")
    return size


def dct_matrix(
    size: int = 8, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """1-D orthonormal DCT-II matrix ``C`` (size, size): ``coeffs = C @ x``, ``x = C.T @ coeffs``."""
    return _cached_basis(_check_size(size), False, dtype, torch.device(device or "cpu"))


def dct_basis_2d(
    size: int = 8, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """2-D basis ``M`` (size², size, size) with ``M[u·size + v, i, j] = C[u, i] · C[v, j]``.

    ``M.view(size², 1, size, size)`` repeated per colour is exactly the FTVSR ``dct_conv`` weight.
    """
    return _cached_basis(_check_size(size), True, dtype, torch.device(device or "cpu"))


def block_dct2d(x: torch.Tensor, block: int = 8) -> torch.Tensor:
    """Block DCT of ``x`` (..., H, W) → coefficients (..., block², H/block, W/block).

    H and W must be multiples of ``block`` (use :func:`pad_to_multiple` first). Channel ``u·B + v``
    of the output holds frequency (u, v) of every block.
    """
    b = _check_size(block)
    *lead, h, w = x.shape
    if h % b or w % b:
        raise ValueError(f"block_dct2d: size {h}x{w} is not a multiple of the block size {b}; pad first")
    hb, wb = h // b, w // b
    basis = dct_basis_2d(b, x.dtype, x.device).reshape(b * b, b * b)  # (F, i*B+j)
    blocks = x.reshape(-1, hb, b, wb, b).permute(0, 1, 3, 2, 4).reshape(-1, hb * wb, b * b)
    coeffs = torch.matmul(blocks, basis.t())  # (N, hb*wb, F)
    return coeffs.transpose(1, 2).reshape(*lead, b * b, hb, wb)


def block_idct2d(coeffs: torch.Tensor, block: int = 8) -> torch.Tensor:
    """Inverse of :func:`block_dct2d`: (..., block², h, w) → (..., h·block, w·block)."""
    b = _check_size(block)
    *lead, f, hb, wb = coeffs.shape
    if f != b * b:
        raise ValueError(f"block_idct2d: expected {b * b} frequency channels, got {f}")
    basis = dct_basis_2d(b, coeffs.dtype, coeffs.device).reshape(b * b, b * b)
    flat = coeffs.reshape(-1, f, hb * wb).transpose(1, 2)  # (N, hb*wb, F)
    blocks = torch.matmul(flat, basis)  # orthonormal: the inverse is the transpose
    x = blocks.reshape(-1, hb, wb, b, b).permute(0, 1, 3, 2, 4)
    return x.reshape(*lead, hb * b, wb * b)


def pad_to_multiple(
    x: torch.Tensor, multiple: int, mode: str = "replicate", value: float = 0.0
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad the last two dims of ``x`` at the bottom/right up to a multiple of ``multiple``.

    Returns ``(padded, (pad_h, pad_w))``; undo with :func:`crop_to`. ``mode`` is any
    ``torch.nn.functional.pad`` mode (``"replicate"``, ``"reflect"``, ``"constant"``...).
    """
    m = int(multiple)
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph == 0 and pw == 0:
        return x, (0, 0)
    if mode == "constant":
        out = F.pad(x, (0, pw, 0, ph), mode="constant", value=value)
    else:
        # replicate / reflect need a (N, C, H, W) view
        lead = x.shape[:-2]
        out = F.pad(x.reshape(-1, 1, h, w), (0, pw, 0, ph), mode=mode).reshape(*lead, h + ph, w + pw)
    return out, (ph, pw)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop the last two dims of ``x`` to ``size`` = (H, W) from the top-left."""
    h, w = size
    return x[..., :h, :w]


def frequency_tokenize(x: torch.Tensor, block: int = 8) -> torch.Tensor:
    """Clip ``(B, T, C, H, W)`` → frequency tokens ``(B, T, F, C, H/block, W/block)``, F = block².

    Token ``f = u·block + v`` gathers frequency (u, v) of every block of every channel
    (paper Eq. 3–5). H and W must be multiples of ``block``.
    """
    if x.dim() != 5:
        raise ValueError(f"frequency_tokenize expects (B, T, C, H, W), got shape {tuple(x.shape)}")
    coeffs = block_dct2d(x, block)  # (B, T, C, F, h, w)
    return coeffs.transpose(2, 3)


def frequency_untokenize(tokens: torch.Tensor, block: int | None = None) -> torch.Tensor:
    """Inverse of :func:`frequency_tokenize`: ``(B, T, F, C, h, w)`` → ``(B, T, C, h·block, w·block)``."""
    if tokens.dim() != 6:
        raise ValueError(f"frequency_untokenize expects (B, T, F, C, h, w), got shape {tuple(tokens.shape)}")
    f = tokens.shape[2]
    b = int(round(math.sqrt(f))) if block is None else int(block)
    if b * b != f:
        raise ValueError(f"frequency_untokenize: {f} tokens is not a square block size")
    return block_idct2d(tokens.transpose(2, 3), b)
