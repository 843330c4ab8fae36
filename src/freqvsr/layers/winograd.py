"""Winograd F(m×m, 3×3) convolution for wide 3×3 layers on CPU (stride 1, padding 1).

Why: FTVSR's frequency stage runs 512→512 3×3 convolutions on small DCT grids (32×32 for a
64×64 LR clip) about 28 times per frame; they are ~40 % of the network's FLOPs. Winograd F(m,3)
computes each m×m output tile from an (m+2)×(m+2) input tile with (m+2)² element-wise products
instead of 9m²; the products are (m+2)² batched GEMMs over the channels. F(2,3) cuts the GEMM
work 2.25× and only adds, subtracts and halves, so the fp32 result stays within a few ulps of
``F.conv2d`` (tested). F(4,3) would cut it 4× but its transforms amplify rounding more.

The tile transforms are small Kronecker-matrix products (one matmul each) and the work is split
into chunks of about ``tiles_per_chunk`` tiles so the transformed tiles stay in cache. At 512
channels this beats oneDNN's direct convolution on one core; at 64 channels the transforms cost
as much as they save or more, so narrow layers should not use this (``docs/measurements.md``,
``winograd``).

Usage: ``prep = winograd_weight(conv.weight)`` (differentiable) once per weight value, then
``winograd_conv3x3(x, prep, conv.bias)`` for every call with that weight.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

__all__ = ["winograd_weight", "winograd_conv3x3"]

# Transform matrices (Lavin & Gray 2016): Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A
_F23 = (
    ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1)),
    ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1)),
    ((1, 1, 1, 0), (0, 1, -1, -1)),
)
_F43 = (
    (
        (4, 0, -5, 0, 1, 0),
        (0, -4, -4, 1, 1, 0),
        (0, 4, -4, -1, 1, 0),
        (0, -2, -1, 2, 1, 0),
        (0, 2, -1, -2, 1, 0),
        (0, 4, 0, -5, 0, 1),
    ),
    (
        (1 / 4, 0, 0),
        (-1 / 6, -1 / 6, -1 / 6),
        (-1 / 6, 1 / 6, -1 / 6),
        (1 / 24, 1 / 12, 1 / 6),
        (1 / 24, -1 / 12, 1 / 6),
        (0, 0, 1),
    ),
    ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1)),
)


@functools.lru_cache(maxsize=16)
def _matrices(tile: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if tile not in (2, 4):
        raise ValueError(f"Winograd output tile must be 2 or 4, got {tile}")
    with torch.inference_mode(False), torch.no_grad():
        bt, g, at = (torch.tensor(m, dtype=torch.float64) for m in (_F23 if tile == 2 else _F43))
        # vec(Bᵀ d B) = (Bᵀ ⊗ Bᵀ) vec(d) with row-major vec; same for G and Aᵀ. Built in float64.
        kbt, kg, kat = (torch.kron(m, m).to(dtype=dtype, device=device) for m in (bt, g, at))
        return kbt, kg, kat


def winograd_weight(weight: torch.Tensor, tile: int = 2) -> torch.Tensor:
    """(Cout, Cin, 3, 3) conv weight → transformed ((tile+2)², Cin, Cout) for :func:`winograd_conv3x3`."""
    if weight.shape[-2:] != (3, 3):
        raise ValueError(f"winograd_weight needs a 3x3 kernel, got {tuple(weight.shape)}")
    cout, cin = weight.shape[:2]
    k = (tile + 2) ** 2
    wide = torch.float64 if weight.dtype == torch.float32 and weight.device.type == "cpu" else weight.dtype
    _, kg, _ = _matrices(tile, wide, weight.device)
    u = kg @ weight.to(wide).reshape(cout * cin, 9).t()  # (k, Cout*Cin), in float64 on CPU
    return u.view(k, cout, cin).transpose(1, 2).to(weight.dtype).contiguous()


def winograd_conv3x3(
    x: torch.Tensor, prepared: torch.Tensor, bias: torch.Tensor | None = None, tiles_per_chunk: int = 256
) -> torch.Tensor:
    """3×3 convolution, stride 1, zero padding 1: (N, Cin, H, W) → (N, Cout, H, W) channels-last.

    The output tile (2 or 4) is implied by ``prepared`` (16 or 36 transform points).
    """
    n, c, h, w = x.shape
    k, _, cout = prepared.shape
    m_tile = {16: 2, 36: 4}[k]
    a = m_tile + 2  # input tile size
    kb, _, ka = _matrices(m_tile, x.dtype, x.device)
    th, tw = -(-h // m_tile), -(-w // m_tile)
    # NHWC view of the input, padded by 1 on top/left and up to whole tiles on bottom/right
    xh = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, m_tile * tw + 1 - w, 1, m_tile * th + 1 - h))
    out = x.new_empty(n, th, m_tile, tw, m_tile, cout)
    rows = max(1, tiles_per_chunk // tw)
    for i in range(n):
        for r0 in range(0, th, rows):
            r1 = min(th, r0 + rows)
            tiles = (
                xh[i, m_tile * r0 : m_tile * r1 + 2].unfold(0, a, m_tile).unfold(1, a, m_tile)
            )  # (rows, tw, C, a, a)
            d = tiles.permute(3, 4, 0, 1, 2).reshape(k, -1)
            v = (kb @ d).view(k, (r1 - r0) * tw, c)
            prod = torch.bmm(v, prepared)  # (k, tiles, Cout): the element-wise products as GEMMs
            y = (ka @ prod.view(k, -1)).view(m_tile, m_tile, r1 - r0, tw, cout)
            out[i, r0:r1] = y.permute(2, 0, 3, 1, 4)
    out = out.view(n, m_tile * th, m_tile * tw, cout)[:, :h, :w]
    if bias is not None:
        out = out + bias
    return out.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
