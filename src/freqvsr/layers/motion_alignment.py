"""FCVSR's motion-guided adaptive alignment (MGAA): frequency-domain motion estimation + MGAC.

Given three feature maps (neighbour a, reference r, neighbour b), MGAA estimates N offset fields
per neighbour from the spectra of the features, predicts per-pixel separable kernels from the
reference, aligns both neighbours with cascades of motion-guided adaptive convolutions and fuses
them onto the reference. Everything below follows the released code (``docs/architectures.md``, FCVSR MGAA);
where it differs from the paper the flag or comment says so.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.functional.fft import real_spectrum_channels, spectrum_channels_to_image
from freqvsr.layers.adaptive_conv import adaptive_conv_cascade
from freqvsr.layers.channel_attention import ChannelAttention

CORRELATION_RADIUS = 4  # 9x9 lookup window -> 81 channels


def spectral_correlation(a: torch.Tensor, r: torch.Tensor, radius: int = CORRELATION_RADIUS) -> torch.Tensor:
    """The released code's 81-channel "correlation" of two spectra ``(B, D, H, Wf)`` -> ``(B, 81, H, Wf)``.

    It is RAFT's correlation lookup applied to a tensor that is not a correlation volume:
    ``P = a*r/sqrt(D)`` is cut, in memory order, into ``H*Wf`` chunks of ``D`` values, chunk
    ``p = y*Wf + x`` is read as a ``(D/2, 2)`` image and sampled on a 9x9 integer window around
    ``(x, y)``. The result is a fixed sparse rearrangement of ``P`` (non-zero only in columns
    ``x <= 5``), kept because the trained offset trunk consumes it. ``grid_sample`` (bilinear,
    zero padding, ``align_corners=True``) at the official normalisation reproduces it bit for bit.
    """
    b, d, h, wf = a.shape
    if d % 2:
        raise ValueError(f"spectral_correlation needs an even channel count, got {d}")
    rows = d // 2
    prod = (a * r / math.sqrt(d)).reshape(b * h * wf, 1, rows, 2)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=a.device, dtype=a.dtype), torch.arange(wf, device=a.device, dtype=a.dtype), indexing="ij"
    )
    centre = torch.stack((xs, ys), dim=-1).reshape(1, h * wf, 1, 1, 2).expand(b, -1, -1, -1, -1)
    steps = torch.linspace(-radius, radius, 2 * radius + 1, device=a.device, dtype=a.dtype)
    # meshgrid('ij') of (dy, dx) used as (x, y): window index 9*i + j has column offset i, row offset j.
    delta = torch.stack(torch.meshgrid(steps, steps, indexing="ij"), dim=-1)
    coords = (centre + delta).reshape(b * h * wf, 2 * radius + 1, 2 * radius + 1, 2)
    gx = 2 * coords[..., 0] / (2 - 1) - 1
    gy = 2 * coords[..., 1] / (rows - 1) - 1
    out = F.grid_sample(prod, torch.stack((gx, gy), dim=-1), mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.view(b, h, wf, -1).permute(0, 3, 1, 2)


class OffsetBranch(nn.Module):
    """One of the N multi-branch offset heads (official ``ConvBlk``): two kxk convs with PReLU and
    channel attention on the 4-channel (2 offsets x real/imag) spectral map.

    ``residual=True`` is the CVCP (luma) code, ``out = y + CA(y)``; ``False`` the mmedit (RGB) code,
    ``out = CA(y)``. Each checkpoint family was trained with its own form.
    """

    def __init__(self, kernel_size: int, residual: bool, channels: int = 4) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.act = nn.PReLU()
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.attention = ChannelAttention(channels, reduction=1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act(self.conv1(u)))
        result: torch.Tensor = y + self.attention(y) if self.residual else self.attention(y)
        return result


class MotionGuidedAlignment(nn.Module):
    """Align neighbours ``a`` and ``b`` onto reference ``r``; input ``cat[a, r, b]`` (B, 3C, H, W) -> (B, C, H, W).

    Official quirks reproduced by default (each one a flag):

    * ``horizontal_kernel=False``: K1 is used for both separable passes (see
      ``adaptive_conv_cascade``); ``True`` uses K2 horizontally as in the paper.
    * ``backward_own_correlation=False``: the backward branch reuses the correlation computed from
      ``(a, r)`` (the code passes ``corrf`` twice); ``True`` computes it from ``(b, r)``.
    * Offset kernels are 1, 3, ..., 2N-1 (paper: 3, 5, ...); the difference is neighbour minus
      reference; CB1/CB2 are 1x1 convs; the kernel predictor has three convs and no activation;
      the output adds a reference residual. These are architecture facts of the checkpoints.
    """

    def __init__(
        self,
        channels: int = 64,
        num_convs: int = 6,
        kernel_size: int = 3,
        offset_residual: bool = True,
        horizontal_kernel: bool = False,
        backward_own_correlation: bool = False,
    ) -> None:
        super().__init__()
        c, d = channels, 2 * channels
        self.channels, self.num_convs, self.kernel_size = c, num_convs, kernel_size
        self.horizontal_kernel = horizontal_kernel
        self.backward_own_correlation = backward_own_correlation
        n_corr = (2 * CORRELATION_RADIUS + 1) ** 2
        # CB1: spectral difference features (official convfuse).
        self.diff_net = nn.Sequential(
            nn.Conv2d(2 * d, d, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(d, d, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(d, d, 1, bias=False),
        )
        # Offset trunk on [difference, correlation, zero flow] (official convcorr).
        self.offset_trunk = nn.Sequential(
            nn.Conv2d(d + n_corr + 2, c, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(c, c, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(c, 4, 1, bias=False),
        )
        self.offset_branches = nn.ModuleList(OffsetBranch(2 * i + 1, offset_residual) for i in range(num_convs))
        # CB2: reference modulator multiplied into every branch (official convcrt).
        self.ref_modulator = nn.Sequential(nn.Conv2d(d, c, 1, bias=False), nn.ReLU(), nn.Conv2d(c, 4, 1, bias=False))
        # Kernel predictor (official conv_KP, F.0, F.1): 2 taps-sets (K1, K2) per step.
        self.kernel_predictor = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1),
            nn.Conv2d(c, c, 3, padding=1),
            nn.Conv2d(c, 2 * num_convs * c * kernel_size, 1),
        )
        self.fusion = nn.Conv2d(2 * c, c, 3, padding=1, bias=False)

    def offsets(self, u: torch.Tensor, modulator: torch.Tensor, size: tuple[int, int]) -> list[torch.Tensor]:
        """N spatial offset fields (B, 2, H, W) from the trunk output ``u`` (B, 4, H, Wf)."""
        # The "correlation" with CB2 is an element-wise product of real tensors in the code.
        return [spectrum_channels_to_image(branch(u) * modulator, size) for branch in self.offset_branches]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.channels
        if x.shape[1] != 3 * c:
            raise ValueError(f"MotionGuidedAlignment expects {3 * c} channels, got {x.shape[1]}")
        a, r, b = x[:, :c], x[:, c : 2 * c], x[:, 2 * c :]
        size = (x.shape[-2], x.shape[-1])
        spec_a, spec_r, spec_b = (real_spectrum_channels(t) for t in (a, r, b))
        diff_f = (spec_a - spec_r) + self.diff_net(torch.cat((spec_a, spec_r), 1))
        diff_b = (spec_b - spec_r) + self.diff_net(torch.cat((spec_b, spec_r), 1))
        modulator = self.ref_modulator(spec_r)
        corr_f = spectral_correlation(spec_a, spec_r)
        corr_b = spectral_correlation(spec_b, spec_r) if self.backward_own_correlation else corr_f
        # The code concatenates a RAFT-style flow that is always zero (coords1 - coords0).
        zero_flow = diff_f.new_zeros(diff_f.shape[0], 2, *diff_f.shape[-2:])
        u_f = self.offset_trunk(torch.cat((diff_f, corr_f, zero_flow), 1))
        u_b = self.offset_trunk(torch.cat((diff_b, corr_b, zero_flow), 1))
        kernels = self.kernel_predictor(r)  # predicted once from the reference, used by both directions
        aligned_f = adaptive_conv_cascade(
            a, self.offsets(u_f, modulator, size), kernels, c, self.kernel_size, self.horizontal_kernel
        )
        aligned_b = adaptive_conv_cascade(
            b, self.offsets(u_b, modulator, size), kernels, c, self.kernel_size, self.horizontal_kernel
        )
        result: torch.Tensor = self.fusion(torch.cat((aligned_f, aligned_b), 1)) + r
        return result
