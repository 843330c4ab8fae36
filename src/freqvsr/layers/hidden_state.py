"""FastRealVSR's Hidden State Attention: a pool of fixed-filtered hidden states and a per-pixel
selection among them (Selective Cross Attention).

Paper: "Mitigating Artifacts in Real-World Video Super-resolution Models", AAAI 2023 (see
``docs/architectures.md``, FastRealVSR). The paper's filter sizes are not available; the choices
below are ours: blurry members box 3×3, box 5×5, Gaussian 5×5 σ=1.0; sharp members
``h + (h − h ⊗ g)`` with Gaussian 3×3 σ=0.5 and 5×5 σ=1.0.

Every pool member is a linear filter of ``h`` with a kernel summing to 1, so the whole pool is one
grouped 5×5 convolution with fixed weights (a non-persistent buffer: it is not trained, not saved,
and rebuilt identically by the constructor). Borders are replicate-padded so a constant hidden
state stays constant (zero padding would make every pool member darker at the frame edge).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from freqvsr.functional.filters import (
    box_kernel,
    depthwise_filter_bank,
    embed_kernel,
    gaussian_kernel,
    identity_kernel,
    unsharp_kernel,
)

POOL_SIZE = 5  # the largest kernel of the pool; smaller ones are zero-padded to it

# name -> kernel builder; the order is the pool order.
_BLURRY: dict[str, Callable[[], torch.Tensor]] = {
    "box3": lambda: box_kernel(3),
    "box5": lambda: box_kernel(5),
    "gauss5_s1.0": lambda: gaussian_kernel(5, 1.0),
}
_SHARP: dict[str, Callable[[], torch.Tensor]] = {
    "unsharp3_s0.5": lambda: unsharp_kernel(gaussian_kernel(3, 0.5)),
    "unsharp5_s1.0": lambda: unsharp_kernel(gaussian_kernel(5, 1.0)),
}


def pool_member_names(pool: str = "all", include_identity: bool = False) -> list[str]:
    """Names of the pool members, in order, for ``pool`` in ``all`` | ``blurry`` | ``sharp``."""
    if pool not in ("all", "blurry", "sharp"):
        raise ValueError(f"pool must be 'all', 'blurry' or 'sharp', got {pool!r}")
    names = []
    if include_identity:
        names.append("identity")
    if pool in ("all", "blurry"):
        names += list(_BLURRY)
    if pool in ("all", "sharp"):
        names += list(_SHARP)
    return names


def pool_kernels(pool: str = "all", include_identity: bool = False) -> torch.Tensor:
    """The pool's fixed kernels, ``(N, 5, 5)`` float32."""
    builders: dict[str, Callable[[], torch.Tensor]] = {"identity": lambda: identity_kernel(1), **_BLURRY, **_SHARP}
    return torch.stack([embed_kernel(builders[n](), POOL_SIZE) for n in pool_member_names(pool, include_identity)])


class HiddenStatePool(nn.Module):
    """``forward(h) -> (B, N, C, H, W)``: the N fixed-filtered versions of the hidden state ``h``."""

    kernels: torch.Tensor  # registered buffer

    def __init__(self, pool: str = "all", include_identity: bool = False) -> None:
        super().__init__()
        self.names = pool_member_names(pool, include_identity)
        # Non-persistent: fixed maths, not weights; checkpoints stay free of them and a change of
        # pool flags can never load mismatched filters.
        self.register_buffer("kernels", pool_kernels(pool, include_identity), persistent=False)

    @property
    def size(self) -> int:
        return len(self.names)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return depthwise_filter_bank(h, self.kernels, "replicate").transpose(1, 2)


class SelectiveCrossAttention(nn.Module):
    """Per pixel, a softmax over the N pool members of ``<Q, K_i> / sqrt(C)``; output ``Σ w_i V_i``.

    ``Q = conv_q(f_s)`` from the current frame's shallow features; ``K_i = conv_k(h_i)`` and
    ``V_i = conv_v(h_i)`` with convolutions shared across the pool members (all 3×3, C → C).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv_q = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv_k = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv_v = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, query_feat: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        """``query_feat`` (B, C, H, W), ``pool`` (B, N, C, H, W) -> (B, C, H, W)."""
        b, n, c, h, w = pool.shape
        flat = pool.reshape(b * n, c, h, w)  # the shared convs see the members as a batch
        q = self.conv_q(query_feat)
        k = self.conv_k(flat).view(b, n, c, h, w)
        v = self.conv_v(flat).view(b, n, c, h, w)
        logits = (k * q[:, None]).sum(dim=2) / math.sqrt(c)  # (B, N, H, W)
        weights = torch.softmax(logits, dim=1)
        result: torch.Tensor = (weights[:, :, None] * v).sum(dim=1)
        return result


class PoolFusionConv(nn.Module):
    """The "w/o SCA" ablation: one 3×3 convolution over the concatenated pool, N·C → C."""

    def __init__(self, channels: int, pool_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels * pool_size, channels, 3, 1, 1)

    def forward(self, query_feat: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        del query_feat  # no attention: the current frame does not steer the selection
        result: torch.Tensor = self.conv(pool.flatten(1, 2))
        return result


class HiddenStateAttention(nn.Module):
    """HSA: ``forward(h_warped, f_s) -> ĥ`` (B, C, H, W).

    Args:
        channels: C, the hidden-state width.
        pool: ``all`` (2 box + 1 Gaussian + 2 unsharp, N = 5), ``blurry`` (N = 3) or ``sharp`` (N = 2).
        include_identity: also put the unfiltered ``h`` in the pool (the paper does not say; off).
        sca: selective cross attention (True) or the "w/o SCA" conv over the concatenated pool.
    """

    def __init__(self, channels: int, pool: str = "all", include_identity: bool = False, sca: bool = True) -> None:
        super().__init__()
        self.pool = HiddenStatePool(pool, include_identity)
        self.select: nn.Module = SelectiveCrossAttention(channels) if sca else PoolFusionConv(channels, self.pool.size)

    def forward(self, hidden: torch.Tensor, query_feat: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.select(query_feat, self.pool(hidden))
        return result
