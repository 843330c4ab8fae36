"""Squeeze-and-excitation channel attention (RCAN's ``CALayer``), as used throughout FCVSR."""

from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """``x * sigmoid(W2 relu(W1 avgpool(x)))`` with bias-free 1x1 convs ``C -> C//reduction -> C``."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.squeeze = nn.Conv2d(channels, hidden, 1, bias=False)
        self.excite = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.mean(dim=(-2, -1), keepdim=True)
        return x * torch.sigmoid(self.excite(torch.relu(self.squeeze(w))))
