"""Bicubic up-sampling as a "model": the baseline every VSR table starts from.

MATLAB-compatible bicubic (Keys a = -0.5, mirrored borders; see ``functional/resize.py``), applied
to each frame on its own. No parameters. The output is not clamped to [0, 1]: clamping is the
inference engine's job, for every model alike, so that training losses and metrics see the raw
prediction.
"""

from __future__ import annotations

import torch

from freqvsr.functional.resize import bicubic_upsample
from freqvsr.models._base import VSRModel
from freqvsr.models._registry import register_model


class Bicubic(VSRModel):
    temporal = "image"

    def __init__(self, scale: int = 4, in_channels: int = 3) -> None:
        super().__init__(scale=scale, in_channels=in_channels)
        if self.scale < 1:
            raise ValueError(f"Bicubic: scale must be a positive integer, got {scale!r}")

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, H, W)`` in [0, 1] -> ``(B, T, C, scale*H, scale*W)`` (not clamped)."""
        self.check_input(lq)
        return bicubic_upsample(lq, self.scale)


register_model(
    "bicubic",
    Bicubic,
    {"scale": 4},
    description="MATLAB-style bicubic up-sampling (no parameters); any integer scale",
)
