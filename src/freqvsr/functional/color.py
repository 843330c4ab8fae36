"""Colour conversions used by metrics and models (pure tensor maths)."""

from __future__ import annotations

import torch

# ITU-R BT.601 luma as MATLAB's rgb2ycbcr and BasicSR compute it: on [0, 1] RGB input the
# result is on the 0-255 scale in [16, 235].
_Y601 = (65.481, 128.553, 24.966)

# Full-range BT.601 luma weights (JPEG, OpenCV's COLOR_RGB2GRAY): what the pictures of
# `freqvsr compare` and the demo's crop choice measure; unlike the metrics' Y above, no offset.
LUMA_BT601_FULL = (0.299, 0.587, 0.114)


def rgb_to_y601(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 1, H, W) BT.601 luma on the [16, 235] (0-255) scale."""
    r, g, b = rgb.unbind(-3)
    return (16.0 + _Y601[0] * r + _Y601[1] * g + _Y601[2] * b).unsqueeze(-3)


# Full BT.601 YCbCr with the MATLAB/BasicSR offsets, on [0, 1] values (Y in [16/255, 235/255]).
_RGB2YCC = (
    torch.tensor([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=torch.float64)
    / 255.0
)
_YCC_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64) / 255.0


def rgb_to_ycbcr601(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> YCbCr (BT.601, MATLAB ``rgb2ycbcr`` convention) in [0, 1]."""
    m = _RGB2YCC.to(rgb.device, rgb.dtype)
    off = _YCC_OFFSET.to(rgb.device, rgb.dtype).view(3, 1, 1)
    return torch.einsum("ij,...jhw->...ihw", m, rgb) + off


def ycbcr601_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr601`."""
    m = torch.linalg.inv(_RGB2YCC).to(ycc.device, ycc.dtype)
    off = _YCC_OFFSET.to(ycc.device, ycc.dtype).view(3, 1, 1)
    return torch.einsum("ij,...jhw->...ihw", m, ycc - off)
