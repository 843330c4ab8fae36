"""``ModulatedDeformConv2d``: the parameters of a DCNv2 layer around :func:`modulated_deform_conv2d`.

Holds ``weight`` ``(C_out, C_in/groups, kh, kw)`` and ``bias`` under those names, like mmcv's
``ModulatedDeformConv2d``, so that modules deriving from it (BasicVSR++'s
``SecondOrderDeformableAlignment``, EDVR's ``ModulatedDCNPack``) keep the official state-dict keys
``<module>.weight`` / ``<module>.bias`` next to their own ``conv_offset``. Offsets and masks are
inputs: each subclass predicts them its own way.

``backend`` picks the implementation (``"auto"``, ``"grid_sample"``, ``"gather"``,
``"torchvision"``; see :mod:`freqvsr.functional.dcn`). It is a plain attribute, not part of the
state dict, so it can be switched on a built model, e.g. for a benchmark::

    for m in model.modules():
        if isinstance(m, ModulatedDeformConv2d):
            m.backend = "gather"
"""

from __future__ import annotations

import math

import torch
from torch import nn

from freqvsr.functional.dcn import modulated_deform_conv2d


class ModulatedDeformConv2d(nn.Module):
    """``forward(x, offset, mask)``: DCNv2 with (dy, dx) offsets and a mask already in [0, 1]."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        deform_groups: int = 1,
        bias: bool = True,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups or in_channels % deform_groups:
            raise ValueError(
                f"{in_channels} -> {out_channels} channels do not split into {groups} groups / "
                f"{deform_groups} deform groups"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = (kernel_size, kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.deform_groups = groups, deform_groups
        self.backend = backend
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        # mmcv's init: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in * kh * kw; zero bias.
        stdv = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        nn.init.uniform_(self.weight, -stdv, stdv)

    @property
    def offset_channels(self) -> int:
        """Channels of the offset tensor: 2 (dy, dx) per tap per deform group."""
        return 2 * self.deform_groups * self.kernel_size[0] * self.kernel_size[1]

    def deform_conv(self, x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return modulated_deform_conv2d(
            x,
            offset,
            mask,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.deform_groups,
            backend=self.backend,
        )

    def forward(self, x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.deform_conv(x, offset, mask)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padding={self.padding}, "
            f"groups={self.groups}, deform_groups={self.deform_groups}"
        )
