"""Frequency-token attention of the official FTVSR ("FTTA layer").

Tokens are built from a DCT-domain feature map ``(N, C, Hb, Wb)`` whose pixels are DCT blocks:
the C channels are cut into ``groups`` groups of ``C/groups`` consecutive channels and the block
grid into ``patch × patch`` tiles (stride ``patch``). One token = one (group, tile) pair; its
vector is the tile's ``C/groups × patch × patch`` values in (channel, row, col) order and the
token index is group-major (``g · P + tile``). Attention is joint over all groups and tiles of a
frame, which is what the FTVSR++ paper calls local frequency attention (LFA).

The layer (post-norm, residual on the *projected value*, as released):

    q', k', v' = layer_q(q), layer_k(k), layer_v(v)
    a = MultiheadAttention(q', k', v')           # packed in-projection q|k|v, out-projection
    z = LN1(a + v');  z = LN2(z + LReLU0.1(linear1(z)));  out = linear2(z)

Parameter names (``layer_q``, ``MultiheadAttention.in_proj_weight``, ``norm1``...) are the
official ones so checkpoints load unchanged. Attention itself runs through
``torch.nn.functional.scaled_dot_product_attention``.

Official quirk kept by default: block rows/cols beyond the last full tile are not covered by any
token and come out exactly 0 (``cover_border=False``). With ``cover_border=True`` the maps are
replicate-padded to whole tiles first and cropped back, so every block is attended.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PackedMultiheadProjections(nn.Module):
    """The parameters of ``nn.MultiheadAttention`` (packed q|k|v in-projection + out-projection).

    Only holds weights under the official names; the attention is computed by the caller with SDPA.
    """

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        # nn.MultiheadAttention's own initialisation
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def project(self, x: torch.Tensor, which: int) -> torch.Tensor:
        """(N, L, E) → (N, heads, L, E/heads) with the q (0), k (1) or v (2) rows of in_proj."""
        e = self.embed_dim
        y = F.linear(
            x, self.in_proj_weight[which * e : (which + 1) * e], self.in_proj_bias[which * e : (which + 1) * e]
        )
        n, length, _ = y.shape
        return y.view(n, length, self.num_heads, e // self.num_heads).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        qh, kh, vh = self.project(q, 0), self.project(k, 1), self.project(v, 2)
        a = F.scaled_dot_product_attention(qh, kh, vh)  # scale 1/sqrt(head_dim), as nn.MultiheadAttention
        n, _, length, _ = a.shape
        result: torch.Tensor = self.out_proj(a.transpose(1, 2).reshape(n, length, self.embed_dim))
        return result


class FrequencyTokenAttention(nn.Module):
    """The official FTVSR ``FTTA_layer``: ``forward(q, k, v) -> (N, C, Hb, Wb)``.

    ``channels`` = C of the DCT-domain maps (512 official), ``groups`` channel groups (64),
    ``patch`` tile size in DCT blocks (8). Token width = ``channels / groups · patch²`` (512).
    """

    def __init__(
        self,
        channels: int = 512,
        groups: int = 64,
        patch: int = 8,
        n_heads: int = 4,
        cover_border: bool = False,
    ) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f"channels {channels} is not divisible by groups {groups}")
        self.channels, self.groups, self.patch = channels, groups, patch
        self.cover_border = cover_border
        d = channels // groups * patch * patch
        self.token_dim = d
        self.layer_q = nn.Linear(d, d)
        self.layer_k = nn.Linear(d, d)
        self.layer_v = nn.Linear(d, d)
        self.MultiheadAttention = PackedMultiheadProjections(d, n_heads)
        self.norm1 = nn.LayerNorm(d)
        self.linear1 = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.linear2 = nn.Linear(d, d)

    # -- tokenization -------------------------------------------------------------------------
    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, Hb, Wb) → (N, groups · P, token_dim); only whole tiles (P = ⌊Hb/p⌋·⌊Wb/p⌋)."""
        n, c, h, w = x.shape
        p, g = self.patch, self.groups
        hp, wp = h // p, w // p
        x = x[:, :, : hp * p, : wp * p].reshape(n, g, c // g, hp, p, wp, p)
        return x.permute(0, 1, 3, 5, 2, 4, 6).reshape(n, g * hp * wp, (c // g) * p * p)

    def untokenize(self, tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Inverse of :meth:`tokenize`; uncovered border rows/cols are 0."""
        h, w = size
        n = tokens.shape[0]
        p, g, c = self.patch, self.groups, self.channels
        hp, wp = h // p, w // p
        x = tokens.reshape(n, g, hp, wp, c // g, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        x = x.reshape(n, c, hp * p, wp * p)
        if hp * p != h or wp * p != w:
            x = F.pad(x, (0, w - wp * p, 0, h - hp * p))
        return x

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.patch, (-w) % self.patch
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if (ph or pw) else x

    # -- forward --------------------------------------------------------------------------------
    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor | None = None) -> torch.Tensor:
        """q, k, v: (N, C, Hb, Wb). ``v=None`` means ``v is k`` (tokenized once)."""
        size = q.shape[-2:]
        if v is None:
            v = k
        same_kv = v is k
        if self.cover_border:
            q, k = self._pad(q), self._pad(k)
            v = k if same_kv else self._pad(v)
        q_tok = self.tokenize(q)
        k_tok = self.tokenize(k)
        v_tok = k_tok if same_kv else self.tokenize(v)
        if q_tok.shape[1] == 0:  # frame smaller than one tile: nothing is attended
            return q.new_zeros(q.shape[0], self.channels, *size)
        qp = self.layer_q(q_tok)
        kp = self.layer_k(k_tok)
        vp = self.layer_v(v_tok)
        z = self.norm1(self.MultiheadAttention(qp, kp, vp) + vp)
        z = self.norm2(z + F.leaky_relu(self.linear1(z), 0.1))
        out = self.untokenize(self.linear2(z), (q.shape[-2], q.shape[-1]))
        return out[..., : size[0], : size[1]] if self.cover_border else out
