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

from freqvsr.functional.flow import flow_warp


def backward_features(lq: torch.Tensor, flows_backward: torch.Tensor | None, trunk: nn.Module, channels: int) -> list[torch.Tensor]:
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


def forward_features(lq: torch.Tensor, flows_forward: torch.Tensor | None, trunk: nn.Module, channels: int) -> Iterator[torch.Tensor]:
    """Yield each frame's forward-pass feature in order; ``flows_forward[:, i-1]`` warps frame i-1 onto i."""
    b, t, _, h, w = lq.shape
    feat = lq.new_zeros(b, channels, h, w)
    for i in range(t):
        if i > 0:
            feat = flow_warp(feat, flows_forward[:, i - 1].permute(0, 2, 3, 1))
        feat = trunk(torch.cat([lq[:, i], feat], dim=1))
        yield feat
