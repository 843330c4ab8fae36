"""Motion-guided adaptive separable convolution (FCVSR's MGAC), without compiled extensions.

One step warps a feature map by an offset field (bilinear ``grid_sample``) and filters it with a
per-pixel, per-channel separable kernel predicted by the network: a vertical 1-D pass and a
horizontal 1-D pass, each with ``k`` taps and replicated borders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from freqvsr.functional.flow import flow_warp


def _adaptive_pass(x: torch.Tensor, kernel: torch.Tensor, dim: int) -> torch.Tensor:
    """One 1-D adaptive pass along ``dim`` (-2 vertical, -1 horizontal); ``kernel`` is (B, C, k, H, W)."""
    k = kernel.shape[2]
    half = k // 2
    pad = (0, 0, half, k - 1 - half) if dim == -2 else (half, k - 1 - half, 0, 0)
    # Replicated borders, as the released code pads before unfolding.
    padded = F.pad(x, pad, mode="replicate")
    size = x.shape[dim]
    out = padded.narrow(dim, 0, size) * kernel[:, :, 0]
    for t in range(1, k):
        out = out + padded.narrow(dim, t, size) * kernel[:, :, t]
    return out


def separable_adaptive_conv(x: torch.Tensor, k_vertical: torch.Tensor, k_horizontal: torch.Tensor) -> torch.Tensor:
    """Per-pixel separable filtering of ``x`` (B, C, H, W).

    ``k_vertical`` and ``k_horizontal`` are (B, C*k, H, W); channel ``c*k + t`` holds tap ``t`` of
    feature channel ``c``. Vertical pass first:
    ``v[c,y,x] = sum_t x[c, clamp(y+t-k//2), x] * Kv[c*k+t, y, x]``, then the same horizontally on ``v``.
    """
    b, c, h, w = x.shape
    k = k_vertical.shape[1] // c
    if k_vertical.shape[1] != c * k or k_horizontal.shape != k_vertical.shape:
        raise ValueError(f"kernel channels {k_vertical.shape[1]} are not a multiple of feature channels {c}")
    v = _adaptive_pass(x, k_vertical.view(b, c, k, h, w), dim=-2)
    return _adaptive_pass(v, k_horizontal.view(b, c, k, h, w), dim=-1)


def adaptive_conv_cascade(
    x: torch.Tensor,
    offsets: list[torch.Tensor],
    kernels: torch.Tensor,
    feature_channels: int,
    kernel_size: int,
    horizontal_kernel: bool = False,
    negative_slope: float = 0.1,
) -> torch.Tensor:
    """FCVSR's cascade of N motion-guided adaptive convolutions (``IAC``).

    ``offsets``: N fields (B, 2, H, W) in pixels (channel 0 = x). ``kernels``: (B, 2*N*C*k, H, W);
    step i owns channels ``[2Ck*i, 2Ck*(i+1))``, the first half ``K1_i`` and the second ``K2_i``.
    Step i: ``f <- leaky_relu(SAC(warp(f, o_i), K1_i, K1_i or K2_i) + x)``: the warps are cascaded
    but the residual always goes back to the original input.

    ``horizontal_kernel=False`` reproduces the released code, which uses K1_i for *both* passes
    (its own comment calls it a bug the checkpoints were trained with; K2 never gets a gradient);
    ``True`` uses K2_i for the horizontal pass, as the paper's Eq. (7) intends.
    """
    ck = feature_channels * kernel_size
    feat = x
    for i, offset in enumerate(offsets):
        warped = flow_warp(feat, offset, padding_mode="zeros", align_corners=True)
        k1 = kernels[:, 2 * ck * i : 2 * ck * i + ck]
        k2 = kernels[:, 2 * ck * i + ck : 2 * ck * (i + 1)] if horizontal_kernel else k1
        feat = F.leaky_relu(separable_adaptive_conv(warped, k1, k2) + x, negative_slope)
    return feat
