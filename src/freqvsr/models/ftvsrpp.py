"""FTVSR++: spatiotemporal frequency transformer on a BasicVSR or TTVSR backbone (TPAMI paper design).

Paper: Qiu, Yang, Fu, Liu, Guo, Chen, "Learning Spatiotemporal Frequency-Transformer for
Low-Quality Video Super-Resolution" (IEEE TPAMI, extension of the ECCV 2022 FTVSR). Summary of the
paper vs the released code: ``design/specs/ftvsr-official.md`` §1.5 and §4.1.

**This is our implementation from the paper.** The released FTVSR code has only the ECCV local
attention on a TTVSR backbone (``models/ftvsr.py``, ``ftvsr.official``); it has no global or dual
frequency attention, no attention-scheme switch and no BasicVSR-backbone model, so nothing here
can be checked against official weights. ``ftvsr++.small.mix`` ships weights trained here
(issue 14); the other entries are untrained.

Network (×4), two stage modules with a ``forward`` each, joined by :class:`FTVSRPlusPlus` (LR
padding, crop): ``stage1`` (LR clip → ``Stage1Output``: SR1, bilinear ×4, LR flows) and ``freq``
(:class:`FrequencyStage`: → SR1 + frequency residual).

1. **Backbone** — ``backbone="basicvsr"`` (the paper's Table 6 configuration): BasicVSR
   (:class:`BasicVSRStage`: SPyNet flow on LR frames, bidirectional recurrent residual trunks,
   pixel-shuffle head, bilinear ×4 skip) → SR1. Its modules are registered at the top level under
   BasicVSR's names (``spynet``, ``backward_resblocks``, ..., ``conv_last``), so a trained
   ``basicvsr`` checkpoint of the same width initialises stage 1 (``load_state_dict(strict=False)``).
   ``backbone="ttvsr"``: stage 1 of the released FTVSR (``models.ftvsr.TTVSR``, the official
   port's module, under ``backbone.*`` with the official names).
2. **Frequency tokenization** (paper Eq. 3–5, ``functional/dct.py``): the bilinear ×4 image and
   SR1 are cut into ``dct_block``² blocks and DCT-transformed; coefficients are arranged
   frequency-major, ``(N, F·3, Hb, Wb)``, and divided by the block size (DC = block mean, a
   size-independent scale). ``domain="pixel"`` (ablation) uses the raw block pixels instead.
3. **Embedding** — a 1×1 convolution grouped by frequency (each of the ``groups`` channel groups
   is computed from its own ``F/groups`` bands, so a token group starts as a frequency group), then
   residual blocks; shared by both image streams.
4. **Recurrent frequency transformer** — bidirectional, hidden state flow-warped on the DCT-block
   grid. Per frame, queries come from the bilinear stream ``Q``, spatial keys/values from SR1
   ``S`` and temporal keys/values from the warped hidden state ``H``:

   ========  ========================================  =================================
   scheme    step                                      paper
   ========  ========================================  =================================
   ``s``     ``A_s(Q, S)``                             Λ_S (space-frequency)
   ``t``     ``A_t(Q, H)``                             Λ_T (time-frequency)
   ``txs``   ``A(Q, [S; H])`` (one joint attention)    Λ_T×S (joint)
   ``ts``    ``A_s(A_t(Q, H), S)``                     Λ_TS (divided, time first)
   ``st``    ``A_t(A_s(Q, S), H)``                     Λ_ST (divided, space first; best)
   ========  ========================================  =================================

   ``A`` is LFA, GFA or DFA (``attention=``; ``layers/frequency_attention_pp.py``) or, for the
   CNN-vs-transformer ablation (``mixer="cnn"``), a convolutional mixer with the same inputs.
   The hidden state is updated by a residual trunk on ``cat[S, A(...), H]``.
5. **Output** — ``fusion(cat[H_backward, S, H_forward])`` predicts a residual in the frequency
   (or pixel) domain; output = SR1 + IDCT(residual) (= IDCT(DCT(SR1) + residual), paper Eq. 13,
   without the official code's doubled SR1).

Where we had to choose (the paper leaves it open or the official choice is costly):

* Time-frequency attention uses the flow-warped recurrent hidden state (paper Eq. 12, as the
  official code), not the T−1 previous frames of paper Eq. 6 — memory stays constant in T.
* ``zero_init_flow=True`` (a training choice, not the paper's): SPyNet starts at zero flow instead
  of random weights, for training without pretrained SPyNet weights (none can be downloaded here);
  the paper's recipe starts from pretrained SPyNet. ``zero_init_residual=True``: the last layer of
  the output fusion starts at zero, so the untrained network returns SR1 (with random weights its
  frequency residual averages 0.5 per pixel, and training first spends its steps removing that).
  Both change the initial weights only, never a trained checkpoint.
* Flows for the frequency stage are the backbone's LR SPyNet flows resized to the DCT grid
  (HR/8 = LR/2), instead of a second SPyNet run on the HR SR1 (1.09 of the official 6.2 TFLOPs
  per 180×320 frame).
* The same attention modules and trunk serve both directions (as the official FTT); the space
  attention of schemes ``s`` and ``st`` depends only on the frame, so it is computed once per
  frame for both directions. The first step of each direction has no hidden state: time
  attentions are skipped there (``t`` passes Q through; ``txs`` attends to S only).
* Inputs of any size: the LR clip is replicate-padded so that HR is a multiple of the DCT block,
  and attention tiles are padded inside the attention layers; the output is cropped back.

Sizes and FLOPs per output frame (``FlopCounterMode`` on 'meta' tensors, FLOPs = 2·MACs), from
``freqvsr bench --model ... --size 64x64 --frames 5`` and ``--size 180x320 --frames 2``; CPU
speeds are in ``docs/measurements.md``:

======================  ==========  ===========  ============
entry                   parameters  GFLOPs @64²  GFLOPs
                                    (T=5)        @180×320
======================  ==========  ===========  ============
``ftvsr++``             10,806,831  63.9         1012 (T=2)
``ftvsr++.ttvsr``       11,289,135  104.8        1577
``ftvsr++.small``        2,528,271  18.0         358
``ftvsr++.tiny``         1,537,591  10.3         155
``ftvsr++.ttvsr.tiny``   1,489,639  4.9          79
======================  ==========  ===========  ============

(the ablation entries ``.lfa/.gfa/.pixel/.cnn/.ts/.txs`` are in the README's FTVSR table.)

The paper's Table 6 gives 10.8 M parameters (the ``ftvsr++`` widths were chosen to match) and
0.76 T "FLOPs" per 180×320 frame. BasicVSR alone measures 0.73 TFLOPs here (0.36 T MACs; the
BasicVSR paper reports 0.33 T, i.e. MACs), so the paper's figure is most likely MACs: ours is
≈ 0.53 T MACs per frame of a T=3 clip (0.51 T at T=2, the table above), of which the frequency
stage is ≈ 0.16 T. The rest of the gap is the paper's
unpublished stage-2 layout (embedding width, token size, number of attention layers). SPyNet
(1.44 M parameters) dominates the tiny entries.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import ModelError
from freqvsr.functional.dct import block_dct2d, block_idct2d, pad_to_multiple
from freqvsr.functional.flow import FlowPair, flow_warp
from freqvsr.layers.blocks import ResidualBlocksWithInputConv
from freqvsr.layers.frequency_attention_pp import make_frequency_attention
from freqvsr.layers.propagation import (
    add_basicvsr_modules,
    backward_features,
    basicvsr_reconstruct,
    forward_features,
    neighbour_flows,
)
from freqvsr.layers.spynet import SPyNet
from freqvsr.models._base import VSRModel
from freqvsr.models._registry import register_model
from freqvsr.models.ftvsr import TTVSR, Stage1Output, register_stage_flat

__all__ = ["ATTENTIONS", "BACKBONES", "SCHEMES", "BasicVSRStage", "FTVSRPlusPlus", "FrequencyStage"]

SCHEMES = ("s", "t", "txs", "ts", "st")
ATTENTIONS = ("lfa", "gfa", "dfa")
DOMAINS = ("frequency", "pixel")
MIXERS = ("transformer", "cnn")
BACKBONES = ("basicvsr", "ttvsr")


class BasicVSRStage(nn.Module):
    """Stage 1 on the BasicVSR backbone: ``forward(lq)`` (n, t, 3, h, w) → :class:`Stage1Output`.

    Children are BasicVSR's (``layers.propagation.add_basicvsr_modules``: ``spynet``,
    ``backward_resblocks``, ..., ``conv_last``); :class:`FTVSRPlusPlus` registers them at its top
    level, as ``models/basicvsr.py`` does, so a ``basicvsr`` checkpoint of the same width loads.
    """

    # set by add_basicvsr_modules
    spynet: SPyNet
    backward_resblocks: ResidualBlocksWithInputConv
    forward_resblocks: ResidualBlocksWithInputConv

    def __init__(self, mid_channels: int = 64, num_blocks: int = 30, zero_init_flow: bool = False) -> None:
        super().__init__()
        self.mid_channels = mid_channels
        add_basicvsr_modules(self, mid_channels, num_blocks, zero_init_flow)

    def forward(self, lq: torch.Tensor) -> Stage1Output:
        b, t, c, h, w = lq.shape
        pair = neighbour_flows(self.spynet, lq) if t > 1 else FlowPair.empty(lq)
        back = backward_features(lq, pair.backward, self.backward_resblocks, self.mid_channels)
        fwd = list(forward_features(lq, pair.forward, self.forward_resblocks, self.mid_channels))
        flows_f, flows_b = (pair.forward, pair.backward) if t > 1 else (None, None)
        x = basicvsr_reconstruct(self, torch.stack(back, 1).flatten(0, 1), torch.stack(fwd, 1).flatten(0, 1))
        bic = F.interpolate(lq.flatten(0, 1), scale_factor=4, mode="bilinear", align_corners=False)
        return Stage1Output((x + bic).view(b, t, c, 4 * h, 4 * w), bic.view(b, t, c, 4 * h, 4 * w), flows_f, flows_b)


class FrequencyStage(nn.Module):
    """Stage 2: tokenization, embedding, recurrent frequency attention, output residual.

    ``forward(bic, sr1, flows_forward, flows_backward)``: bilinear and SR1 clips (n, t, colours,
    H, W), H and W multiples of ``dct_block``, and the backbone's LR flows (n, t-1, 2, h, w) or
    None for t = 1 → SR1 + the frequency-stage residual, (n, t, colours, H, W).
    """

    def __init__(
        self,
        channels: int = 128,
        groups: int = 32,
        patch: int = 8,
        heads: int = 8,
        embed_blocks: int = 2,
        trunk_blocks: int = 3,
        dct_block: int = 8,
        attention: str = "dfa",
        scheme: str = "st",
        domain: str = "frequency",
        mixer: str = "transformer",
        colours: int = 3,
    ) -> None:
        super().__init__()
        bands = dct_block * dct_block
        if bands % groups:
            raise ModelError(f"FTVSR++: {groups} frequency groups do not divide the {bands} DCT bands")
        self.block, self.colours, self.channels = dct_block, colours, channels
        self.scheme, self.domain = scheme, domain
        self.embed = nn.Conv2d(bands * colours, channels, 1, 1, 0, groups=groups)
        self.extract = ResidualBlocksWithInputConv(channels, channels, embed_blocks)

        def make(n_kv: int = 1) -> nn.Module:
            return make_frequency_attention(attention, channels, groups, patch, heads, mixer, n_kv)

        if scheme in ("s", "ts", "st"):
            self.attn_space = make()
        if scheme in ("t", "ts", "st"):
            self.attn_time = make()
        if scheme == "txs":
            self.attn_joint = make(2)
        self.trunk = ResidualBlocksWithInputConv(3 * channels, channels, trunk_blocks)
        self.fusion = nn.Sequential(
            nn.Conv2d(3 * channels, channels, 1, 1, 0),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(channels, bands * colours, 1, 1, 0),
        )

    # -- domain transforms (frequency-major channel order f·colours + colour) ----------------------
    def to_domain(self, img: torch.Tensor) -> torch.Tensor:
        """(N, colours, H, W) → (N, B²·colours, H/B, W/B)."""
        n, c, h, w = img.shape
        b = self.block
        if self.domain == "frequency":
            x = block_dct2d(img, b) / b  # (N, C, F, hb, wb); DC becomes the block mean
        else:
            x = img.reshape(n, c, h // b, b, w // b, b).permute(0, 1, 3, 5, 2, 4).reshape(n, c, b * b, h // b, w // b)
        return x.transpose(1, 2).reshape(n, b * b * c, h // b, w // b)

    def from_domain(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_domain` (linear, so it maps residuals to image residuals)."""
        n, _, hb, wb = x.shape
        b, c = self.block, self.colours
        x = x.reshape(n, b * b, c, hb, wb).transpose(1, 2)
        if self.domain == "frequency":
            return block_idct2d(x * b, b)
        return x.reshape(n, c, b, b, hb, wb).permute(0, 1, 4, 2, 5, 3).reshape(n, c, hb * b, wb * b)

    def embed_frames(self, img: torch.Tensor) -> torch.Tensor:
        result_: torch.Tensor = self.extract(self.embed(self.to_domain(img)))
        return result_

    # -- one attention step of the selected scheme ---------------------------------------------
    def space_attention(self, q: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.attn_space(q, s)
        return result

    def attend(
        self, q: torch.Tensor, s: torch.Tensor, h: torch.Tensor | None, space: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``q``/``s`` (N, D, Hb, Wb); ``h`` warped hidden state or None on a first step;
        ``space`` = precomputed ``A_s(q, s)`` (schemes ``s``/``st``)."""
        sc = self.scheme
        if sc == "s":
            return self.attn_space(q, s) if space is None else space
        if sc == "t":
            return q if h is None else self.attn_time(q, h)
        if sc == "txs":
            result_: torch.Tensor = self.attn_joint(q, [s] if h is None else [s, h])
            return result_
        if sc == "st":
            x = self.attn_space(q, s) if space is None else space
            return x if h is None else self.attn_time(x, h)
        x = q if h is None else self.attn_time(q, h)  # "ts"
        result: torch.Tensor = self.attn_space(x, s)
        return result

    def _block_flows(self, flows_f: torch.Tensor, flows_b: torch.Tensor, hb: int, wb: int) -> torch.Tensor:
        # LR flows resized to the DCT-block grid (HR/8 = LR/2), both directions in one call:
        # (2, n, t-1, 2, hb, wb), backward first
        n, tm1, _, lh, lw = flows_f.shape
        both = torch.cat([flows_b, flows_f]).flatten(0, 1)  # (2·n·(t-1), 2, h, w)
        ratio = torch.tensor([wb / lw, hb / lh], dtype=both.dtype, device=both.device).view(1, 2, 1, 1)
        flows = F.interpolate(both * ratio, size=(hb, wb), mode="bilinear", align_corners=False)
        return flows.view(2, n, tm1, 2, hb, wb)

    def forward(
        self,
        bic: torch.Tensor,
        sr1: torch.Tensor,
        flows_forward: torch.Tensor | None = None,
        flows_backward: torch.Tensor | None = None,
    ) -> torch.Tensor:
        n, t, c, hh, ww = sr1.shape
        bs = self.block
        hb, wb = hh // bs, ww // bs
        emb = self.embed_frames(torch.cat([bic, sr1]).flatten(0, 1))  # (2·n·t, D, hb, wb)
        d = emb.shape[1]
        q_all, s_all = emb[: n * t], emb[n * t :]
        space = None
        if self.scheme in ("s", "st"):
            # depends on the frame only: once for both directions
            space = self.space_attention(q_all, s_all).view(n, t, d, hb, wb)
        q_all, s_all = q_all.view(n, t, d, hb, wb), s_all.view(n, t, d, hb, wb)
        flows = None
        if t > 1:
            assert flows_forward is not None and flows_backward is not None, "clips of t > 1 frames need flows"
            flows = self._block_flows(flows_forward, flows_backward, hb, wb)

        # Both directions run side by side as one batch of 2n: step k is frame t-1-k backward
        # (rows :n) and frame k forward (rows n:).
        hid_b: list[torch.Tensor] = [emb.new_empty(0)] * t
        hid_f: list[torch.Tensor] = [emb.new_empty(0)] * t
        state = None
        for k in range(t):
            ib, jf = t - 1 - k, k
            q = torch.cat([q_all[:, ib], q_all[:, jf]])
            s = torch.cat([s_all[:, ib], s_all[:, jf]])
            sp = None if space is None else torch.cat([space[:, ib], space[:, jf]])
            if k > 0:
                assert flows is not None and state is not None  # set when t > 1 / by step k - 1
                flow = torch.cat([flows[0, :, ib], flows[1, :, jf - 1]])
                state = flow_warp(state, flow.permute(0, 2, 3, 1), padding_mode="border")
            a = self.attend(q, s, state, sp)
            prev = torch.zeros_like(s) if state is None else state
            state = self.trunk(torch.cat([s, a, prev], dim=1))
            hid_b[ib], hid_f[jf] = state[:n], state[n:]

        fused = torch.cat([torch.stack(hid_b, 1), s_all, torch.stack(hid_f, 1)], dim=2).flatten(0, 1)
        res = self.from_domain(self.fusion(fused))  # (n·t, colours, H, W)
        return sr1 + res.view(n, t, c, hh, ww)


class FTVSRPlusPlus(VSRModel):
    """FTVSR++. ``forward(lq)``: (B, T, 3, h, w) in [0, 1] → (B, T, 3, 4h, 4w).

    Backbone: ``backbone`` in {"basicvsr", "ttvsr"}, width ``mid_channels``, trunk depth
    ``num_blocks``; ``stride`` / ``keyframe_stride`` are TTVSR's LTAM settings (ignored for
    BasicVSR). Frequency stage: ``channels`` width D,
    ``groups`` frequency groups (must divide ``dct_block``²), ``patch`` attention tile in DCT blocks
    (token width = D/groups·patch²), ``heads``, ``embed_blocks`` / ``trunk_blocks`` residual blocks.
    Ablations: ``attention`` in {"lfa", "gfa", "dfa"}, ``scheme`` in {"s", "t", "txs", "ts", "st"},
    ``domain`` in {"frequency", "pixel"}, ``mixer`` in {"transformer", "cnn"}.

    Modules: ``stage1`` — :class:`BasicVSRStage` with its children registered here under
    BasicVSR's names (``spynet``, ``backward_resblocks``, ...), or the official port's
    :class:`~freqvsr.models.ftvsr.TTVSR` registered as ``backbone`` — and ``freq``
    (:class:`FrequencyStage`).
    """

    temporal = "sequence"
    stage1: BasicVSRStage | TTVSR  # set in __init__, see the class docstring

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 30,
        channels: int = 128,
        groups: int = 32,
        patch: int = 8,
        heads: int = 8,
        embed_blocks: int = 2,
        trunk_blocks: int = 3,
        dct_block: int = 8,
        attention: str = "dfa",
        scheme: str = "st",
        domain: str = "frequency",
        mixer: str = "transformer",
        backbone: str = "basicvsr",
        stride: int = 4,
        keyframe_stride: int = 3,
        zero_init_flow: bool = False,
        zero_init_residual: bool = False,
        scale: int = 4,
        in_channels: int = 3,
    ) -> None:
        super().__init__(scale=scale, in_channels=in_channels)
        if scale != 4:
            raise ModelError(f"FTVSR++ supports only scale 4, got {scale}")
        if zero_init_flow and backbone != "basicvsr":
            raise ModelError("FTVSR++: zero_init_flow applies to the BasicVSR backbone's SPyNet only")
        if in_channels != 3:
            raise ModelError(f"FTVSR++ takes RGB input (in_channels=3), got {in_channels}")
        for name, value, allowed in (
            ("attention", attention, ATTENTIONS),
            ("scheme", scheme, SCHEMES),
            ("domain", domain, DOMAINS),
            ("mixer", mixer, MIXERS),
            ("backbone", backbone, BACKBONES),
        ):
            if value not in allowed:
                raise ModelError(f"FTVSR++: unknown {name} {value!r} (expected one of {', '.join(allowed)})")
        if channels % groups or (attention == "dfa" and mixer == "transformer" and groups % 2):
            raise ModelError(f"FTVSR++: channels {channels} / groups {groups} do not split (DFA needs even groups)")
        self.backbone_kind = backbone
        # LR padding so that the HR frame is a whole number of DCT blocks
        self.lr_multiple = dct_block // math.gcd(dct_block, scale)
        # stage 2 first: the order in which the modules draw their random initial weights
        self.freq = FrequencyStage(
            channels, groups, patch, heads, embed_blocks, trunk_blocks, dct_block, attention, scheme, domain, mixer, 3
        )
        if zero_init_residual:
            # the frequency residual starts at zero: the untrained network is its backbone (SR1)
            last = self.freq.fusion[-1]
            assert isinstance(last, nn.Conv2d) and last.bias is not None
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        if backbone == "ttvsr":
            # ``stride`` / ``keyframe_stride`` are LTAM's (TTVSR backbone only); keys backbone.*
            self.backbone = TTVSR(mid_channels, num_blocks, stride, keyframe_stride)
            object.__setattr__(self, "stage1", self.backbone)  # an alias, not a second registration
        else:
            # keys spynet.*, backward_resblocks.*, ... as models/basicvsr.py
            register_stage_flat(self, BasicVSRStage(mid_channels, num_blocks, zero_init_flow))

    def train(self, mode: bool = True) -> FTVSRPlusPlus:
        super().train(mode)
        self.stage1.training = mode  # a flat BasicVSR stage is no registered child (see __init__)
        return self

    def lr_multipliers(self) -> dict[str, float]:
        # BasicVSR's / the official FTVSR recipe: SPyNet at 1/8 of the base learning rate
        return {"backbone.spynet" if self.backbone_kind == "ttvsr" else "spynet": 0.125}

    # -- forward --------------------------------------------------------------------------------
    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        self.check_input(lq)
        h, w = lq.shape[-2:]
        lq, _ = pad_to_multiple(lq, self.lr_multiple, mode="replicate")
        s1 = self.stage1(lq)
        out = self.freq(s1.bilinear, s1.sr, s1.flows_forward, s1.flows_backward)
        result: torch.Tensor = out[..., : 4 * h, : 4 * w]
        return result


# ------------------------------------------------------------------------------------------------
# Registered variants (untrained: random weights until the training issue ships some)
# ------------------------------------------------------------------------------------------------

_PAPER = (
    "Qiu et al., Learning Spatiotemporal Frequency-Transformer for Low-Quality Video "
    "Super-Resolution, IEEE TPAMI (FTVSR++)"
)
_PAPER_CFG = {
    "mid_channels": 64,
    "num_blocks": 30,
    "channels": 128,
    "groups": 32,
    "patch": 8,
    "heads": 8,
    "embed_blocks": 2,
    "trunk_blocks": 3,
    "attention": "dfa",
    "scheme": "st",
}
_SMALL = {
    "mid_channels": 32,
    "num_blocks": 10,
    "channels": 64,
    "groups": 16,
    "patch": 4,
    "heads": 4,
    "embed_blocks": 1,
    "trunk_blocks": 2,
    "attention": "dfa",
    "scheme": "st",
}
_TINY = {
    "mid_channels": 8,
    "num_blocks": 1,
    "channels": 16,
    "groups": 4,
    "patch": 2,
    "heads": 2,
    "embed_blocks": 1,
    "trunk_blocks": 1,
    "attention": "dfa",
    "scheme": "st",
}

register_model(
    "ftvsr++",
    FTVSRPlusPlus,
    _PAPER_CFG,
    description="FTVSR++ (our implementation of the TPAMI design): BasicVSR backbone, DFA, space-then-time attention",
    paper=_PAPER,
)
register_model(
    "ftvsr++.small",
    FTVSRPlusPlus,
    _SMALL,
    description="FTVSR++ sized for CPU training/inference (BasicVSR 32x10, 64-channel frequency stage)",
    paper=_PAPER,
)
register_model(
    "ftvsr++.small.mix",
    FTVSRPlusPlus,
    {**_SMALL, "zero_init_flow": True, "zero_init_residual": True},
    description="ftvsr++.small trained here on 1 CPU core at basicvsr.small.mix's budget (6,000 iterations; "
    "DATA.md corpus store, FTVSR clean/H.264 mixture; configs/ftvsrpp_small_mix_cpu.yaml)",
    paper=_PAPER,
    weights="ftvsrpp_small_mix.safetensors",
)
register_model(
    "ftvsr++.tiny",
    FTVSRPlusPlus,
    _TINY,
    description="FTVSR++ at toy size for tests (same code path, random weights)",
    paper=_PAPER,
)
# On the TTVSR backbone of the released FTVSR (stage 1 of ftvsr.official)
_TTVSR = {"backbone": "ttvsr", "num_blocks": 60, "stride": 4, "keyframe_stride": 3}
register_model(
    "ftvsr++.ttvsr",
    FTVSRPlusPlus,
    {**_PAPER_CFG, **_TTVSR},
    description="FTVSR++ on the TTVSR backbone of the released FTVSR (stage 1 of ftvsr.official), DFA, space-then-time",
    paper=_PAPER,
)
register_model(
    "ftvsr++.ttvsr.tiny",
    FTVSRPlusPlus,
    {**_TINY, **_TTVSR, "num_blocks": 1, "keyframe_stride": 2},
    description="FTVSR++ on the TTVSR backbone at toy size for tests",
    paper=_PAPER,
)
# Ablation defaults of the paper's tables (paper-size network, one switch changed)
for _name, _change, _what in (
    ("ftvsr++.lfa", {"attention": "lfa"}, "local frequency attention only (Table 8)"),
    ("ftvsr++.gfa", {"attention": "gfa"}, "global frequency attention only (Table 8)"),
    ("ftvsr++.pixel", {"domain": "pixel"}, "pixel-domain tokens instead of DCT (Table 7)"),
    ("ftvsr++.cnn", {"mixer": "cnn"}, "convolutional mixer instead of attention (Table 7)"),
    ("ftvsr++.ts", {"scheme": "ts"}, "divided attention, time then space (Table 9)"),
    ("ftvsr++.txs", {"scheme": "txs"}, "joint time x space attention (Table 9)"),
):
    register_model(
        _name, FTVSRPlusPlus, {**_PAPER_CFG, **_change}, description=f"FTVSR++ ablation: {_what}", paper=_PAPER
    )
