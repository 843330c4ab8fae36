"""SPyNet (Ranjan & Black, CVPR 2017) in the form BasicVSR and FTVSR use it.

Six levels, each a stack of five 7×7 convolutions (8→32→64→32→16→2) predicting a residual flow
on top of the ×2-upsampled coarser estimate. Parameter names
(``basic_module.<level>.basic_module.<j>.conv.weight``) follow mmediting so its
``spynet_20210409-c6c1bd09.pth`` and every BasicVSR/FTVSR checkpoint load without renaming.

No pretrained weights can be downloaded here; pass a state dict to ``load_state_dict`` (the
factory does that) or train it on synthetic clips with exact flow.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.functional.flow import flow_warp


class _ConvReLU(nn.Module):
    # Wraps the conv as ``.conv`` to keep mmcv ConvModule key names.
    def __init__(self, cin: int, cout: int, relu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 7, 1, 3)
        self.act = nn.ReLU(inplace=False) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.act(self.conv(x))
        return result


class SPyNetBasicModule(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        chans = [8, 32, 64, 32, 16, 2]
        self.basic_module = nn.Sequential(*[_ConvReLU(chans[i], chans[i + 1], relu=i < 4) for i in range(5)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.basic_module(x)
        return result


class SPyNet(nn.Module):
    """``forward(ref, supp) -> flow`` (N, 2, H, W): the flow that warps ``supp`` onto ``ref``.

    Inputs are RGB in [0, 1], any size; they are resized to the next multiple of 32 internally
    and the flow is resized back and rescaled. ``channels_last`` (execution only, same maths): the
    convolutions get channels-last inputs, ~1.3-1.5x faster with oneDNN on CPU; ``False`` runs
    them NCHW.
    """

    num_levels = 6
    mean: torch.Tensor  # ImageNet normalisation, registered buffers
    std: torch.Tensor

    def __init__(self, zero_init: bool = False, *, channels_last: bool = True) -> None:
        super().__init__()
        self.channels_last = channels_last
        levels = [SPyNetBasicModule() for _ in range(self.num_levels)]
        self.basic_module = nn.ModuleList(levels)
        if zero_init:
            # Untrained SPyNet (no pretrained weights here) otherwise predicts a smooth random flow
            # of several pixels that misaligns every propagated feature; with the last conv of each
            # level zeroed it starts at zero flow, which the recurrent trunk can already use.
            for level in levels:
                last = level.basic_module[-1]
                assert isinstance(last, _ConvReLU) and last.conv.bias is not None
                nn.init.zeros_(last.conv.weight)
                nn.init.zeros_(last.conv.bias)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def compute_flow(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        """Flow at a size that is a multiple of 32 (no resizing)."""
        n, _, h, w = ref.shape
        refs = [(ref - self.mean) / self.std]
        supps = [(supp - self.mean) / self.std]
        for _ in range(self.num_levels - 1):
            refs.append(F.avg_pool2d(refs[-1], 2, 2, count_include_pad=False))
            supps.append(F.avg_pool2d(supps[-1], 2, 2, count_include_pad=False))
        refs, supps = refs[::-1], supps[::-1]

        flow = ref.new_zeros(n, 2, h // 32, w // 32)
        for level in range(self.num_levels):
            if level == 0:
                flow_up = flow
            else:
                flow_up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            warped = flow_warp(supps[level], flow_up.permute(0, 2, 3, 1), padding_mode="border")
            # channels-last input: oneDNN runs these 7x7 convs ~1.3-1.5x faster on CPU than NCHW
            # (same maths; grid_sample and cat would otherwise hand them NCHW tensors)
            layout = torch.channels_last if self.channels_last else torch.contiguous_format
            inp = torch.cat([refs[level], warped, flow_up], 1).contiguous(memory_format=layout)
            flow = flow_up + self.basic_module[level](inp)
        return flow

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        h, w = ref.shape[-2:]
        h_up = max(32, math.ceil(h / 32) * 32)
        w_up = max(32, math.ceil(w / 32) * 32)
        ref_r = F.interpolate(ref, size=(h_up, w_up), mode="bilinear", align_corners=False)
        supp_r = F.interpolate(supp, size=(h_up, w_up), mode="bilinear", align_corners=False)
        flow = F.interpolate(self.compute_flow(ref_r, supp_r), size=(h, w), mode="bilinear", align_corners=False)
        scale = torch.tensor([w / w_up, h / h_up], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
        return flow * scale
