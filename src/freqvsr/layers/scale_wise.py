"""FCVSR's reconstruction trunk: scale-wise convolution blocks over a 3-level feature pyramid.

Every module here maps a list of three scales ``[X1 (H), X2 (H/2), X3 (H/4)]`` to a list of the
same shapes, with weights shared across scales (``docs/architectures.md``, FCVSR reconstruction). H and W must be
multiples of 4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _small_kaiming_(module: nn.Module) -> None:
    """Kaiming-normal x 0.1 with zero bias: the official init of the scale-wise blocks (training only)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            m.weight.data.mul_(0.1)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class GlobalContext(nn.Module):
    """GCNet context block: ``z + W2 lrelu(W1 sum_hw(z * softmax_hw(W_mask z))))``, bias-free convs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mask = nn.Conv2d(channels, 1, 1, bias=False)
        self.add_conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.add_conv2 = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        weights = torch.softmax(self.mask(z).view(b, 1, h * w), dim=-1)  # (B, 1, HW)
        context = torch.matmul(z.view(b, c, h * w), weights.transpose(1, 2)).view(b, c, 1, 1)
        result: torch.Tensor = z + self.add_conv2(F.leaky_relu(self.add_conv1(context), 0.2))
        return result


class ResidualContextBlock(nn.Module):
    """``lrelu0.2(GC(conv(lrelu0.2(conv(y))))) + y`` (official ``RCB``; not in the paper)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.context = GlobalContext(channels)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        z = self.conv2(F.leaky_relu(self.conv1(y), 0.2))
        return F.leaky_relu(self.context(z), 0.2) + y


class ScaleWiseBlock(nn.Module):
    """One SCB (official ``BlockRCB``): a shared body per scale, then cross-scale exchange.

    ``res_s = body(X_s)``; ``X1' = X1 + 2 res1 + up(res2)``, ``X2' = X2 + res2 + down(res1) + up(res3)``,
    ``X3' = X3 + 2 res3 + down(res2)``: the end scales add their own residual twice, as coded.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.conv2 = nn.Conv2d(2 * channels, channels, 3, padding=1)
        self.rcb = ResidualContextBlock(channels)
        self.downsample = nn.Conv2d(channels, channels, 1)
        self.upsample = nn.Conv2d(channels, channels, 1)
        _small_kaiming_(self)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.rcb(self.conv2(F.leaky_relu(self.conv1(x), 0.1)))
        return result

    def down(self, t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.downsample(t), scale_factor=0.5, mode="bilinear", align_corners=False)

    def up(self, t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.upsample(t), scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        x1, x2, x3 = xs
        r1, r2, r3 = self.body(x1), self.body(x2), self.body(x3)
        return [
            x1 + r1 + r1 + self.up(r2),
            x2 + r2 + self.down(r1) + self.up(r3),
            x3 + r3 + self.down(r2) + r3,
        ]


class ScaleWiseGroup(nn.Module):
    """``blocks`` SCBs, then a shared 3x3 conv per scale and a short skip (official ``SCGroupbk``)."""

    def __init__(self, channels: int, blocks: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ScaleWiseBlock(channels) for _ in range(blocks))
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        ys = xs
        for block in self.blocks:
            ys = block(ys)
        return [x + self.conv(y) for x, y in zip(xs, ys, strict=True)]


class ScaleWiseNet(nn.Module):
    """R residual groups and a long skip over the three scales (official ``SCNetbk``)."""

    def __init__(self, channels: int, groups: int = 10, blocks_per_group: int = 3) -> None:
        super().__init__()
        self.groups = nn.ModuleList(ScaleWiseGroup(channels, blocks_per_group) for _ in range(groups))

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        ys = xs
        for group in self.groups:
            ys = group(ys)
        return [x + y for x, y in zip(xs, ys, strict=True)]
