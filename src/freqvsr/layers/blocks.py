"""Plain convolutional building blocks shared by the recurrent networks (BasicVSR, FTVSR, ...)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """LeakyReLU with slope 0.1, the activation of the BasicVSR/FTVSR family."""
    return F.leaky_relu(x, 0.1)


class ResidualBlockNoBN(nn.Module):
    """``x + res_scale * conv(relu(conv(x)))`` without batch norm (EDSR/BasicVSR style)."""

    def __init__(self, channels: int = 64, res_scale: float = 1.0) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        # Small init keeps a deep residual trunk close to identity at the start of training.
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in", nonlinearity="relu")
            conv.weight.data.mul_(0.1)
            assert conv.bias is not None  # built with bias=True
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = x + self.conv2(self.relu(self.conv1(x))) * self.res_scale
        return result


class ResidualBlocksWithInputConv(nn.Module):
    """conv3x3(in -> out) + LeakyReLU(0.1) + ``num_blocks`` residual blocks.

    State-dict names (``main.0``, ``main.2.<k>.conv1``) match the official BasicVSR/FTVSR code so
    their checkpoints map one to one.
    """

    def __init__(self, in_channels: int, out_channels: int = 64, num_blocks: int = 30) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=True),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Sequential(*[ResidualBlockNoBN(out_channels) for _ in range(num_blocks)]),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.main(x)
        return result


class PixelShufflePack(nn.Module):
    """conv3x3(in -> out * factor^2) then pixel shuffle: a learned ×factor up-sampling."""

    def __init__(self, in_channels: int, out_channels: int, factor: int = 2, kernel_size: int = 3) -> None:
        super().__init__()
        self.factor = factor
        self.upsample_conv = nn.Conv2d(
            in_channels, out_channels * factor * factor, kernel_size, padding=(kernel_size - 1) // 2
        )
        nn.init.kaiming_normal_(self.upsample_conv.weight, a=0, mode="fan_in", nonlinearity="relu")
        assert self.upsample_conv.bias is not None  # built with bias=True
        nn.init.zeros_(self.upsample_conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pixel_shuffle(self.upsample_conv(x), self.factor)
