"""Bidirectional recurrent propagation with flow warping (BasicVSR's core, shared by FTVSR++).

A feature map is carried across the clip: warped onto the current frame with the flow, joined
with the frame and refined by a residual trunk. The backward pass runs t = T-1 .. 0 and keeps
every frame's feature; the forward pass yields frame by frame so a caller can reconstruct each
frame as soon as both of its features exist (BasicVSR) or collect them all (FTVSR++).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from freqvsr.functional.flow import FlowPair, flow_warp
from freqvsr.layers.blocks import PixelShufflePack, ResidualBlocksWithInputConv, lrelu
from freqvsr.layers.spynet import SPyNet


def add_basicvsr_modules(model: nn.Module, mid_channels: int, num_blocks: int, zero_init_flow: bool = False) -> None:
    """Attach BasicVSR's modules to ``model`` under mmediting's names (``spynet``,
    ``backward_resblocks``, ``forward_resblocks``, ``fusion``, ``upsample1/2``, ``conv_hr``,
    ``conv_last``), so BasicVSR and FTVSR++'s BasicVSR stage 1 share one state-dict layout and a
    trained ``basicvsr`` checkpoint initialises either."""
    model.spynet = SPyNet(zero_init=zero_init_flow)
    model.backward_resblocks = ResidualBlocksWithInputConv(mid_channels + 3, mid_channels, num_blocks)
    model.forward_resblocks = ResidualBlocksWithInputConv(mid_channels + 3, mid_channels, num_blocks)
    model.fusion = nn.Conv2d(mid_channels * 2, mid_channels, 1, 1, 0, bias=True)
    model.upsample1 = PixelShufflePack(mid_channels, mid_channels, 2, kernel_size=3)
    model.upsample2 = PixelShufflePack(mid_channels, 64, 2, kernel_size=3)
    model.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
    model.conv_last = nn.Conv2d(64, 3, 3, 1, 1)


def is_palindrome(lqs: torch.Tensor) -> bool:
    """True for a (B, T, C, H, W) clip whose second half is its first half reversed (T even), as
    BasicVSR++/IconVSR test clips are mirrored: their forward flows are then the backward ones
    reversed. Meta tensors (FLOP counting) have no values to compare: False."""
    t = lqs.shape[1]
    half = t // 2
    return t % 2 == 0 and lqs.device.type != "meta" and torch.equal(lqs[:, :half], lqs[:, half:].flip(1))


def neighbour_flows(spynet: nn.Module, lqs: torch.Tensor, *, palindrome: bool = False) -> FlowPair:
    """Flows between neighbours of ``lqs`` (B, T, C, H, W), see :class:`FlowPair`. Both directions
    run as one SPyNet batch; for a ``palindrome`` clip (:func:`is_palindrome`) only the backward
    flows are computed and the forward ones are those reversed in time."""
    b, t, c, h, w = lqs.shape
    earlier = lqs[:, :-1].reshape(-1, c, h, w)
    later = lqs[:, 1:].reshape(-1, c, h, w)
    if palindrome:
        backward = spynet(earlier, later).view(b, t - 1, 2, h, w)
        return FlowPair(forward=backward.flip(1), backward=backward)
    both = spynet(torch.cat([earlier, later]), torch.cat([later, earlier])).view(2, b, t - 1, 2, h, w)
    return FlowPair(forward=both[1], backward=both[0])


def basicvsr_reconstruct(model: nn.Module, feat_backward: torch.Tensor, feat_forward: torch.Tensor) -> torch.Tensor:
    """BasicVSR's head on ``(N, C, h, w)`` feature pairs -> the ×4 residual ``(N, 3, 4h, 4w)``
    (the caller adds its up-sampled skip). Uses the modules of :func:`add_basicvsr_modules`."""
    layer = model.get_submodule
    out = lrelu(layer("fusion")(torch.cat([feat_backward, feat_forward], dim=1)))
    out = lrelu(layer("upsample1")(out))
    out = lrelu(layer("upsample2")(out))
    residual: torch.Tensor = layer("conv_last")(lrelu(layer("conv_hr")(out)))
    return residual


def backward_features(
    lq: torch.Tensor, flows_backward: torch.Tensor, trunk: nn.Module, channels: int
) -> list[torch.Tensor]:
    """Features of every frame from the backward pass; ``flows_backward[:, i]`` warps frame i+1 onto i."""
    b, t, _, h, w = lq.shape
    feats: list[torch.Tensor] = [lq.new_empty(0)] * t
    feat = lq.new_zeros(b, channels, h, w)
    for i in range(t - 1, -1, -1):
        if i < t - 1:
            feat = flow_warp(feat, flows_backward[:, i].permute(0, 2, 3, 1))
        feat = trunk(torch.cat([lq[:, i], feat], dim=1))
        feats[i] = feat
    return feats


def forward_features(
    lq: torch.Tensor, flows_forward: torch.Tensor, trunk: nn.Module, channels: int
) -> Iterator[torch.Tensor]:
    """Yield each frame's forward-pass feature in order; ``flows_forward[:, i-1]`` warps frame i-1 onto i."""
    b, t, _, h, w = lq.shape
    feat = lq.new_zeros(b, channels, h, w)
    for i in range(t):
        if i > 0:
            feat = flow_warp(feat, flows_forward[:, i - 1].permute(0, 2, 3, 1))
        feat = trunk(torch.cat([lq[:, i], feat], dim=1))
        yield feat
