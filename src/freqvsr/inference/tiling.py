"""Spatial tiling with overlap and smooth blending; tiles are padded to the model's size multiple.

Large frames are cut into overlapping tiles; every tile is upscaled on its own and the results
are blended with raised-cosine ramps over the overlap, normalised by the summed weights, so a
pixel covered by several tiles is a weighted mean and no seam appears. Weights are zero on the
outer quarter of an overlap, where a network sees the least context (replicate-padded border).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from freqvsr.functional.dct import pad_to_multiple


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``[0, size)`` with at least ``overlap``."""
    if tile >= size:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return sorted(set(starts))


def _fade(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Rising weights over an overlap of ``n`` samples: 0 on the outer quarter (the pixels a
    network computes with the least context, next to the tile edge), a raised-cosine rise over
    the middle half, 1 on the inner quarter. ``fade(n) + fade(n).flip(0) == 1``, so two tiles
    overlapping by exactly ``n`` blend to a partition of unity."""
    x = ((torch.arange(n, dtype=torch.float64) + 0.5) - n / 4) / (n / 2)
    return (0.5 - 0.5 * torch.cos(torch.pi * x.clamp(0, 1))).to(dtype=dtype, device=device)


def _ramp(length: int, fade_in: int, fade_out: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """1-D tile weights: :func:`_fade` in over ``fade_in`` samples, out over ``fade_out``, else 1."""
    w = torch.ones(length, dtype=dtype, device=device)
    if fade_in > 0:
        w[:fade_in] = _fade(fade_in, dtype, device)
    if fade_out > 0:
        w[length - fade_out :] = torch.minimum(w[length - fade_out :], _fade(fade_out, dtype, device).flip(0))
    return w


def run_tiled(
    fn: Callable[[int, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int | tuple[int, int] | None,
    overlap: int,
    multiple: int = 1,
    accumulate_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Apply ``fn(tile_index, x_tile)`` over spatial tiles of ``x`` (..., H, W) and blend.

    ``fn`` maps a (..., h, w) tile to (..., s*h, s*w) (leading dims may change, e.g. a window model
    returns only its centre frame). ``tile`` is a side (square tiles), a ``(tile_h, tile_w)`` pair,
    or ``None`` for the whole frame. Every tile is padded to ``multiple`` before ``fn`` and cropped
    after; the tile index lets stateful (online) models keep one state per tile.

    The blended output is accumulated in ``accumulate_dtype``: float16 halves the memory of a
    chunk of large frames (a relative error of 2^-11, a sixteenth of an 8-bit step). The weights
    of a tile are ``ramp_y[:, None] * ramp_x[None, :]`` and the grid is a product, so the summed
    weights are the product of two 1-D sums: no full-size weight map is stored.
    """
    h, w = x.shape[-2:]
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else (tile or (h, w))
    if tile is None or (tile_h >= h and tile_w >= w):
        xp, _ = pad_to_multiple(x, multiple)
        y = fn(0, xp)
        return y[..., : h * scale, : w * scale]

    overlap_h, overlap_w = min(overlap, tile_h // 2), min(overlap, tile_w // 2)
    ys, xs = tile_starts(h, tile_h, overlap_h), tile_starts(w, tile_w, overlap_w)
    out = None
    index = 0
    ramps_y, ramps_x = {}, {}
    for y0 in ys:
        th = min(tile_h, h - y0)
        fy = ramps_y[y0] = _ramp(
            th * scale,
            overlap_h * scale if y0 > 0 else 0,
            overlap_h * scale if y0 + th < h else 0,
            torch.float32,
            x.device,
        )
        for x0 in xs:
            tw = min(tile_w, w - x0)
            # Fade only on sides that overlap a neighbouring tile, never at the frame border.
            fx = ramps_x[x0] = _ramp(
                tw * scale,
                overlap_w * scale if x0 > 0 else 0,
                overlap_w * scale if x0 + tw < w else 0,
                torch.float32,
                x.device,
            )
            xp, _ = pad_to_multiple(x[..., y0 : y0 + th, x0 : x0 + tw], multiple)
            y = fn(index, xp)[..., : th * scale, : tw * scale].float()
            index += 1
            if out is None:
                out = torch.zeros(*y.shape[:-2], h * scale, w * scale, dtype=accumulate_dtype, device=y.device)
            sl = (..., slice(y0 * scale, (y0 + th) * scale), slice(x0 * scale, (x0 + tw) * scale))
            out[sl] += y.mul_(fy[:, None] * fx[None, :])
            del y
    weight_y = torch.zeros(h * scale, dtype=torch.float32, device=x.device)
    weight_x = torch.zeros(w * scale, dtype=torch.float32, device=x.device)
    for y0, fy in ramps_y.items():
        weight_y[y0 * scale : y0 * scale + fy.numel()] += fy
    for x0, fx in ramps_x.items():
        weight_x[x0 * scale : x0 * scale + fx.numel()] += fx
    # every pixel's summed weight is in [1, 2] (a tile is 1 where its neighbour fades)
    return out.div_(weight_y.clamp_min_(1e-3)[:, None]).div_(weight_x.clamp_min_(1e-3)[None, :])
