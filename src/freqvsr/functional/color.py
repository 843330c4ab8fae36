"""Colour conversions used by metrics and models (pure tensor maths)."""

from __future__ import annotations

import torch

# ITU-R BT.601 luma as MATLAB's rgb2ycbcr and BasicSR compute it: on [0, 1] RGB input the
# result is on the 0-255 scale in [16, 235].
_Y601 = (65.481, 128.553, 24.966)


def rgb_to_y601(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 1, H, W) BT.601 luma on the [16, 235] (0-255) scale."""
    r, g, b = rgb.unbind(-3)
    return (16.0 + _Y601[0] * r + _Y601[1] * g + _Y601[2] * b).unsqueeze(-3)
