"""Frequency attention of FTVSR++ (TPAMI paper): local (LFA), global (GFA) and dual (DFA).

Our implementation from the paper's description; the released FTVSR code contains only the
local form (``layers/frequency_attention.py``), so GFA and DFA here are a new design that cannot
be checked against official weights.

All three forms work on DCT-domain feature maps ``(N, D, Hb, Wb)`` (one pixel = one DCT block)
whose ``D`` channels are ``groups`` frequency groups of ``c = D / groups`` channels, and on a grid
of ``patch × patch`` tiles of blocks. A token is one (frequency group, tile) pair: its vector is the
tile's ``c × patch × patch`` values (width ``token_dim``). Maps are replicate-padded to whole tiles
and cropped back, so every block is attended (unlike the official code's uncovered border).

* **LFA** (local): one sequence per frame holding every (group, tile) token; attention is joint
  over frequency groups and tiles — the official FTVSR attention.
* **GFA** (global): one sequence per tile holding that tile's ``groups`` tokens; every frequency
  group attends to all the others. The paper's GFA token is a whole frequency band of the frame;
  a token whose width grows with the frame could not go through fixed linear projections, so the
  band is cut into tiles and attention runs across all bands per tile.
* **DFA** (dual, paper Eq. 9): the channels are split into two halves; the first half goes
  through GFA, the second through LFA, the two outputs are concatenated back to ``D`` channels and
  used as keys and values of an LFA-form attention whose queries are the original queries.

Every attention is ``torch.nn.functional.scaled_dot_product_attention`` over batched token
tensors (no per-token Python loop). Several key/value maps may be given (``kv=[a, b]``): their
tokens are concatenated along the sequence, which is how joint time×space attention is done.

Each attention is a post-norm transformer layer: ``z = LN1(q + W_o·MHA(W_q q, W_k k, W_v v))``,
``out = LN2(z + W_2·LReLU(W_1 z))`` — the residual is on the query (the official layer uses the
projected value instead; for our trained variants the query residual keeps an identity path).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ConvMixer",
    "DualFrequencyAttention",
    "GlobalFrequencyAttention",
    "LocalFrequencyAttention",
    "TokenAttention",
    "make_frequency_attention",
    "tokenize_global",
    "tokenize_local",
    "untokenize_global",
    "untokenize_local",
]


# -- tokenization ---------------------------------------------------------------------------------


def _pad_tiles(x: torch.Tensor, patch: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % patch, (-w) % patch
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if (ph or pw) else x


def _split(x: torch.Tensor, groups: int, patch: int) -> torch.Tensor:
    # (N, D, H, W) with H, W multiples of patch -> (N, G, hp, wp, c, p, p)
    n, d, h, w = x.shape
    x = x.reshape(n, groups, d // groups, h // patch, patch, w // patch, patch)
    return x.permute(0, 1, 3, 5, 2, 4, 6)


def _merge(x: torch.Tensor) -> torch.Tensor:
    # inverse of _split: (N, G, hp, wp, c, p, p) -> (N, D, H, W)
    n, g, hp, wp, c, p, _ = x.shape
    return x.permute(0, 1, 4, 2, 5, 3, 6).reshape(n, g * c, hp * p, wp * p)


def tokenize_local(x: torch.Tensor, groups: int, patch: int) -> torch.Tensor:
    """(N, D, H, W) → (N, groups·P, c·p²), group-major; H, W multiples of ``patch``."""
    t = _split(x, groups, patch)
    n, g, hp, wp, c, p, _ = t.shape
    return t.reshape(n, g * hp * wp, c * p * p)


def untokenize_local(tokens: torch.Tensor, groups: int, patch: int, size: tuple[int, int]) -> torch.Tensor:
    n, _, dt = tokens.shape
    hp, wp = size[0] // patch, size[1] // patch
    c = dt // (patch * patch)
    return _merge(tokens.reshape(n, groups, hp, wp, c, patch, patch))


def tokenize_global(x: torch.Tensor, groups: int, patch: int) -> torch.Tensor:
    """(N, D, H, W) → (N·P, groups, c·p²): one sequence of frequency tokens per tile."""
    t = _split(x, groups, patch)
    n, g, hp, wp, c, p, _ = t.shape
    return t.permute(0, 2, 3, 1, 4, 5, 6).reshape(n * hp * wp, g, c * p * p)


def untokenize_global(tokens: torch.Tensor, groups: int, patch: int, size: tuple[int, int]) -> torch.Tensor:
    hp, wp = size[0] // patch, size[1] // patch
    b, g, dt = tokens.shape
    c = dt // (patch * patch)
    t = tokens.reshape(b // (hp * wp), hp, wp, g, c, patch, patch).permute(0, 3, 1, 2, 4, 5, 6)
    return _merge(t)


# -- the transformer layer on token sequences ---------------------------------------------------


class TokenAttention(nn.Module):
    """Multi-head attention + feed-forward on token sequences ``(B, L, dim)`` (post-norm)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"token width {dim} is not divisible by {heads} heads")
        self.dim, self.heads = dim, heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn1 = nn.Linear(dim, dim)
        self.ffn2 = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, length, _ = x.shape
        return x.view(b, length, self.heads, self.dim // self.heads).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        a = F.scaled_dot_product_attention(
            self._heads(self.to_q(q)), self._heads(self.to_k(k)), self._heads(self.to_v(v))
        )
        b, _, length, _ = a.shape
        z = self.norm1(q + self.proj(a.transpose(1, 2).reshape(b, length, self.dim)))
        result: torch.Tensor = self.norm2(z + self.ffn2(F.leaky_relu(self.ffn1(z), 0.1)))
        return result


def _as_list(kv: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [kv] if isinstance(kv, torch.Tensor) else list(kv)


class _FormBase(nn.Module):
    """Shared plumbing: pad to whole tiles, tokenize q and every key/value map, crop back."""

    tokenize = staticmethod(tokenize_local)
    untokenize = staticmethod(untokenize_local)

    def __init__(self, channels: int, groups: int, patch: int, heads: int) -> None:
        super().__init__()
        if groups < 1 or channels % groups:
            raise ValueError(f"channels {channels} is not divisible by {groups} frequency groups")
        self.channels, self.groups, self.patch = channels, groups, patch
        self.token_dim = channels // groups * patch * patch
        self.attn = TokenAttention(self.token_dim, heads)

    def forward(self, q: torch.Tensor, kv: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """q (N, D, H, W); kv one map or a list of maps of the same shape → (N, D, H, W)."""
        size = q.shape[-2:]
        qp = _pad_tiles(q, self.patch)
        g, p = self.groups, self.patch
        kt = torch.cat([self.tokenize(_pad_tiles(m, p), g, p) for m in _as_list(kv)], dim=1)
        out = self.attn(self.tokenize(qp, g, p), kt, kt)
        return self.untokenize(out, g, p, (qp.shape[-2], qp.shape[-1]))[..., : size[0], : size[1]]


class LocalFrequencyAttention(_FormBase):
    """LFA: attention jointly over all (frequency group, tile) tokens of a frame."""


class GlobalFrequencyAttention(_FormBase):
    """GFA: per tile, attention across all frequency groups."""

    tokenize = staticmethod(tokenize_global)
    untokenize = staticmethod(untokenize_global)


class DualFrequencyAttention(nn.Module):
    """DFA: GFA on the first half of the channels, LFA on the second half; their concatenated
    outputs are the keys and values of an LFA-form attention with the original queries."""

    def __init__(self, channels: int, groups: int, patch: int, heads: int) -> None:
        super().__init__()
        if groups < 2 or groups % 2 or channels % groups:
            raise ValueError(
                f"DFA needs an even number of frequency groups dividing channels, got {groups} / {channels}"
            )
        half = channels // 2
        # not ``self.half``: that would shadow nn.Module.half()
        self.channels, self.half_channels = channels, half
        self.gfa = GlobalFrequencyAttention(half, groups // 2, patch, heads)
        self.lfa = LocalFrequencyAttention(half, groups // 2, patch, heads)
        self.fuse = LocalFrequencyAttention(channels, groups, patch, heads)

    def forward(self, q: torch.Tensor, kv: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        h = self.half_channels
        kvs = _as_list(kv)
        g_out = self.gfa(q[:, :h], [m[:, :h] for m in kvs])
        l_out = self.lfa(q[:, h:], [m[:, h:] for m in kvs])
        result: torch.Tensor = self.fuse(q, torch.cat([g_out, l_out], dim=1))
        return result


class ConvMixer(nn.Module):
    """The "CNN instead of transformer" ablation: ``q + conv(LReLU(conv(cat[q, kv...])))``.

    ``n_kv`` fixes the number of key/value maps (missing ones are passed as zeros by the caller).
    """

    def __init__(self, channels: int, n_kv: int = 1) -> None:
        super().__init__()
        self.n_kv = n_kv
        self.conv1 = nn.Conv2d(channels * (1 + n_kv), channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, q: torch.Tensor, kv: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        kvs = _as_list(kv)
        kvs = kvs + [torch.zeros_like(q)] * (self.n_kv - len(kvs))
        result: torch.Tensor = q + self.conv2(F.leaky_relu(self.conv1(torch.cat([q, *kvs], dim=1)), 0.1))
        return result


def make_frequency_attention(
    kind: str, channels: int, groups: int, patch: int, heads: int, mixer: str = "transformer", n_kv: int = 1
) -> nn.Module:
    """``kind`` in {"lfa", "gfa", "dfa"}; ``mixer="cnn"`` gives :class:`ConvMixer` instead."""
    if mixer == "cnn":
        return ConvMixer(channels, n_kv)
    if mixer != "transformer":
        raise ValueError(f"unknown mixer {mixer!r} (expected 'transformer' or 'cnn')")
    forms = {"lfa": LocalFrequencyAttention, "gfa": GlobalFrequencyAttention, "dfa": DualFrequencyAttention}
    if kind not in forms:
        raise ValueError(f"unknown frequency attention {kind!r} (expected one of {', '.join(forms)})")
    return forms[kind](channels, groups, patch, heads)
