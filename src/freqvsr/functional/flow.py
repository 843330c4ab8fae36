"""Optical-flow helpers: backward warping and flow resizing. Pure tensor maths.

Flow convention: ``flow`` is ``(N, 2, H, W)`` or ``(N, H, W, 2)`` in pixels; channel 0 is the
horizontal (x) displacement, channel 1 the vertical (y). ``flow_warp(x, flow)`` samples ``x`` at
``p + flow(p)``, i.e. it aligns a neighbouring frame onto the reference frame whose flow it is.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class FlowPair(NamedTuple):
    """The flows between neighbouring frames of a clip, both directions, each ``(B, T-1, 2, H, W)``.

    ``forward[:, i]`` warps frame i onto frame i+1 (used by forward propagation), ``backward[:, i]``
    warps frame i+1 onto frame i (backward propagation). Named, because positional pairs were
    (forward, backward) in some models and (backward, forward) in others.
    """

    forward: torch.Tensor
    backward: torch.Tensor

    @classmethod
    def empty(cls, lqs: torch.Tensor) -> FlowPair:
        """The flows of a one-frame clip ``lqs`` (B, 1, C, H, W): no neighbours, (B, 0, 2, H, W) each."""
        b, _, _, h, w = lqs.shape
        none = lqs.new_zeros(b, 0, 2, h, w)
        return cls(forward=none, backward=none)


def _base_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=dtype), torch.arange(w, device=device, dtype=dtype), indexing="ij"
    )
    return torch.stack((xs, ys), dim=-1)  # (H, W, 2), x first


def flow_warp(
    x: torch.Tensor,
    flow: torch.Tensor,
    interpolation: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = True,
) -> torch.Tensor:
    """Backward-warp ``x`` (N, C, H, W) by ``flow`` (N, H, W, 2) or (N, 2, H, W).

    The sampling grid is normalised with ``2 * g / max(size - 1, 1) - 1`` and sampled with
    ``align_corners=True`` — the convention of BasicVSR/FTVSR's official code, which their
    checkpoints were trained with.
    """
    if flow.shape[1] == 2 and flow.shape[-1] != 2:
        flow = flow.permute(0, 2, 3, 1)
    n, _, h, w = x.shape
    if flow.shape[1:3] != (h, w):
        raise ValueError(f"flow size {tuple(flow.shape[1:3])} does not match feature size {(h, w)}")
    grid = _base_grid(h, w, x.device, x.dtype) + flow.to(x.dtype)
    gx = 2.0 * grid[..., 0] / max(w - 1, 1) - 1.0
    gy = 2.0 * grid[..., 1] / max(h - 1, 1) - 1.0
    return F.grid_sample(
        x, torch.stack((gx, gy), dim=-1), mode=interpolation, padding_mode=padding_mode, align_corners=align_corners
    )


def resize_flow(flow: torch.Tensor, size: tuple[int, int], align_corners: bool = False) -> torch.Tensor:
    """Resize a (N, 2, H, W) flow to ``size`` = (h, w) and rescale its vectors to the new grid."""
    h0, w0 = flow.shape[-2:]
    h, w = size
    out = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=align_corners)
    scale = torch.tensor([w / w0, h / h0], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
    return out * scale
