"""FTVSR, the network released by the authors (researchmm/FTVSR), ×4 video super-resolution.

Paper: Qiu et al., "Learning Spatiotemporal Frequency-Transformer for Compressed Video
Super-Resolution" (ECCV 2022) and its TPAMI extension (FTVSR++). Full description, quirks
included: ``design/specs/ftvsr-official.md``; golden outputs of the official code:
``shared/golden/ftvsr``.

Two stages:

1. **TTVSR** (stage 1): SPyNet flow on the LR frames, a bidirectional recurrent trunk
   (``resblocks``, shared by both directions) with trajectory-aware long-range attention
   (``LTAM``) over keyframe tokens, pixel-shuffle ×4 head plus a bilinear ×4 skip → SR1.
2. **Frequency transformer** (``FTT``): 8×8 block DCT of SR1 and of the bilinear image,
   per-channel L2 normalisation, embedding to ``d_model`` channels, then a bidirectional
   recurrence whose step is space-frequency attention (query from the bilinear image, key/value
   from SR1) followed by time-frequency attention against the flow-warped hidden state, both with
   the single shared ``ftta`` layer. Output = IDCT(residual + DCT(SR1)) + SR1.

State-dict keys are the official ones (``spynet.*``, ``LTAM.fusion.*``, ``FTT.ftta.*``...), so an
official checkpoint loads after stripping its ``generator.`` prefix (:meth:`FTVSR.convert_state_dict`).

How this port differs from the official code (none of it changes the result beyond fp32 rounding):

* computation shared between the two directions is done once: the per-frame space-frequency
  attention ``A(E_bic, E_sr, E_sr)`` (identical inputs and weights in both directions) and the
  E_sr / extractor-feature half of each trunk's input convolution;
* both SPyNet directions run in one batch; the two stage-2 recurrences run side by side as one
  batch; the per-frame output heads run over chunks of frames;
* feature maps are channels-last (oneDNN's faster CPU layout) and, on CPU, the frequency stage's
  512-channel 3×3 convolutions use Winograd F(4,3) (``layers/winograd.py``), chosen by the
  constructor flag ``winograd``: 4 = F(4,3) (default; GEMM work / 4, ~3× faster than oneDNN's
  direct convolution on one core; not ulp-exact: rounding ~3× that of a direct convolution,
  ~1e-5 relative, and the golden intermediates stay >= 5× inside their tolerances), 2 = F(2,3)
  (~1.8×, a few ulps), 0 = direct convolutions. With ``winograd_cache=True`` (default) the
  transformed weights are kept on the model while the weights are unchanged: 36/9 of those
  weights, ~560 MB for ``ftvsr.official`` (16/9 with F(2,3)); ``False`` re-transforms them in
  every forward (~0.1 s of float64 work per forward) and keeps no extra memory;
* LTAM scores only the K keyframe keys and gathers just the winning token (instead of
  grid-sampling all four token buffers for every keyframe); the keyframe memory is one
  preallocated tensor instead of lists re-stacked at every step;
* attention uses ``scaled_dot_product_attention`` without the discarded attention map;
* batch size > 1 works (the official code crashes).

Speed against an emulation of the official op sequence on the same weights and input
(``python benchmarks/ftvsr_official_like.py --threads 2 --repeat 3 --bf16``, (1, 5, 3, 64, 64),
2 threads, quiet machine, Xeon with AMX): official-like 6.51 s, this port 4.52 s (1.44×, outputs
equal within 1.1e-6), this port under ``torch.autocast("cpu", torch.bfloat16)`` (``--precision
bf16``) 2.00 s (3.25×; max abs difference 0.011, mean 0.0017 from fp32 on [0, 1] images). At
(1, 2, 3, 180, 320) (``--shape 1 2 3 180 320 --repeat 1``): official-like 62.2 s, this port 31.4 s
(1.98×). At 64×64 in fp32 the port stays short of 1.5×: its 64-channel trunk convolutions and the HR SPyNet 7×7
convolutions (~70 % of the time) are the same work in both and already run at 137–168 GFLOP/s
per core (torch profiler, one thread), and Winograd does not pay at 64 channels (measured
≤ 1.12×, ``layers/winograd.py``); the saving comes from
the shared/duplicated work listed above and the Winograd frequency stage.

Official quirks, reproduced by default, each switchable for our own trained variants:

* ``quirk_pad_fill``: HR padding to a multiple of 8 copies only the bottom-right corner when both
  dimensions need padding (strips stay 0) and the last rows/cols when one does; ``False`` pads
  by edge replication.
* ``quirk_unattended_border``: DCT-block rows/cols beyond the last whole 8×8 attention tile get no
  attention (output 0 from every FTTA call); ``False`` replicate-pads the maps to whole tiles.
* ``quirk_size_dependent_norm``: DCT channels are L2-normalised over all block positions of the
  frame, so the per-coefficient scale depends on the frame size; ``False`` rescales the norm to
  a reference grid of ``norm_reference_blocks`` positions (1024 = the 32×32 DCT grid of the
  256×256 training crops), making it size independent and identical at the training size.
* ``quirk_double_residual``: output = 2·SR1 + IDCT(residual); ``False`` gives SR1 + IDCT(residual)
  (the paper's Eq. 13).

Not a switch: the backward keyframe list ``range(t-1, 0, -s)`` never contains frame 0, but frame 0
is the last backward step, so its tokens could never be used anyway (reproduced, harmless).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import ModelError
from freqvsr.functional.dct import dct_basis_2d
from freqvsr.functional.flow import flow_warp
from freqvsr.layers.blocks import PixelShufflePack, ResidualBlocksWithInputConv
from freqvsr.layers.frequency_attention import FrequencyTokenAttention
from freqvsr.layers.spynet import SPyNet
from freqvsr.layers.winograd import winograd_conv3x3, winograd_weight
from freqvsr.models._base import VSRModel
from freqvsr.models._registry import register_model

__all__ = ["FTVSR", "LTAM", "FrequencyTransformer", "pad_official", "keyframe_schedule"]


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.1)


# Feature maps are kept channels-last: oneDNN's CPU convolutions are up to ~1.6x faster in NHWC
# (64-channel trunk) and never slower; grid_sample / cat / reshapes return NCHW, hence _cl().
# Module-level switch only so benchmarks/bench_ftvsr.py can measure the NCHW baseline.
CHANNELS_LAST = True
# Winograd (constructor flag ``winograd``) only pays off for wide layers: measured on one core at
# 64 channels F(4,3) is at best 1.1x oneDNN's direct convolution, at 512 channels 3x.
WINOGRAD_MIN_CHANNELS = 256
WINOGRAD_TILES = (0, 2, 4)


def _cl(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if CHANNELS_LAST else x.contiguous()


class _Conv3x3:
    """Runs the 3×3 / stride 1 / padding 1 convolutions of the frequency stage.

    On CPU, wide layers (>= ``WINOGRAD_MIN_CHANNELS`` in and out) go through Winograd
    F(``tile``, 3) (``layers/winograd.py``; ``tile`` 0 = never). Transformed weights are cached
    in ``cache`` (owned by the model; None = no cache beyond this forward) and reused while the
    weight is unchanged (same tensor, same version counter) and no gradient is needed; with
    autograd on they are recomputed once per forward.
    """

    def __init__(self, device: torch.device, cache: dict | None, tile: int) -> None:
        self.tile = tile
        self.winograd = tile > 0 and device.type == "cpu"
        self._local: dict = {}
        self._cache = self._local if cache is None else cache

    def __call__(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if not (self.winograd and min(weight.shape[0], weight.shape[1]) >= WINOGRAD_MIN_CHANNELS):
            return F.conv2d(x, weight, bias, padding=1)
        base = weight if weight._base is None else weight._base  # input-channel slices of a trunk conv
        key = (id(base), weight.storage_offset(), tuple(weight.shape), self.tile)
        if torch.is_grad_enabled() and weight.requires_grad:
            entry = self._local.get(key)
            if entry is None:
                entry = self._local[key] = (base, weight._version, winograd_weight(weight, self.tile))
        else:
            entry = self._cache.get(key)
            if entry is None or entry[0] is not base or entry[1] != weight._version:
                entry = self._cache[key] = (base, weight._version, winograd_weight(weight, self.tile))
        return winograd_conv3x3(x, entry[2], bias)

    def module(self, x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        return self(x, conv.weight, conv.bias)


def _plain_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    return conv(x)


def _run_blocks(blocks: nn.Sequential, x: torch.Tensor, conv=_plain_conv) -> torch.Tensor:
    # ResidualBlockNoBN chain without the extra ``* res_scale`` pass when res_scale == 1
    for blk in blocks:
        y = conv(x, blk.conv1)
        y = conv(y.relu_(), blk.conv2)
        if blk.res_scale != 1.0:
            y = y * blk.res_scale
        x = y.add_(x)
    return x


def pad_official(x: torch.Tensor, multiple: int = 8) -> tuple[torch.Tensor, tuple[int, int]]:
    """The official ``check_and_padding_imgs``: pad (..., H, W) at the bottom/right to a multiple.

    A zero canvas gets the image at the top-left, then ``img[..., -ph:, -pw:]`` is copied into
    ``canvas[..., -ph:, -pw:]``. Because ``-0:`` selects a whole axis, padding only one dimension
    copies the last p rows/cols; padding both copies just the bottom-right corner and leaves the
    strips 0.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (0, 0)
    canvas = x.new_zeros(*x.shape[:-2], h + ph, w + pw)
    canvas[..., :h, :w] = x
    canvas[..., -ph:, -pw:] = x[..., -ph:, -pw:]
    return canvas, (ph, pw)


def _pad_replicate(x: torch.Tensor, multiple: int = 8) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (0, 0)
    lead = x.shape[:-2]
    out = F.pad(x.reshape(-1, x.shape[-3], h, w), (0, pw, 0, ph), mode="replicate")
    return out.reshape(*lead, h + ph, w + pw), (ph, pw)


def keyframe_schedule(t: int, stride: int, backward: bool) -> list[int]:
    """Keyframes whose tokens enter the LTAM memory (official: backward excludes frame 0)."""
    if backward:
        return list(range(t - 1, 0, -stride))
    return list(range(0, t, stride))


def _split_input_conv(trunk: ResidualBlocksWithInputConv, first: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # The trunk's input conv sees cat[x, h]; conv(cat) = conv_x(x) + conv_h(h) + b. The x part is
    # identical in both directions, so it is computed once per frame.
    conv = trunk.main[0]
    return conv.weight[:, :first], conv.weight[:, first:], conv.bias


def _run_trunk(
    trunk: ResidualBlocksWithInputConv, pre: torch.Tensor, w_h: torch.Tensor, h: torch.Tensor | None, conv: _Conv3x3 | None = None
) -> torch.Tensor:
    if conv is None:
        x = pre if h is None else pre + F.conv2d(_cl(h), w_h, padding=1)
        return _run_blocks(trunk.main[2], _lrelu(x))
    x = pre if h is None else pre + conv(_cl(h), w_h, None)
    return _run_blocks(trunk.main[2], _lrelu(x), conv.module)


# ------------------------------------------------------------------------------------------------
# Stage 1: TTVSR's trajectory-aware long-range attention
# ------------------------------------------------------------------------------------------------


class LTAM(nn.Module):
    """Trajectory-aware long-range attention (TTVSR) over keyframe token memories.

    Tokens are non-overlapping ``stride×stride`` patches of a ``channels``-channel LR feature map
    (vector order channel, row, col; token grid ``h4 × w4`` row-major). For every current position
    the token lying on its trajectory in each keyframe is compared (cosine) with the current
    frame's token; the best keyframe's multi-scale tokens (s1, s2, s3) are fused and added to the
    warped hidden state, weighted by the best score. LR pixels outside the token grid get no
    contribution (official behaviour).
    """

    def __init__(self, channels: int = 64, stride: int = 4) -> None:
        super().__init__()
        self.channels, self.stride = channels, stride
        self.fusion = nn.Conv2d(3 * channels, channels, 3, 1, 1, bias=True)

    # token <-> map (exactly F.unfold / F.fold with kernel = stride = s)
    def to_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(n, C, h, w) → (n, L, C·s·s), L = ⌊h/s⌋·⌊w/s⌋."""
        n, c, h, w = x.shape
        s = self.stride
        h4, w4 = h // s, w // s
        x = x[:, :, : h4 * s, : w4 * s].reshape(n, c, h4, s, w4, s)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(n, h4 * w4, c * s * s)

    def to_map(self, tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(n, L, C·s·s) → (n, C, h, w); positions outside the token grid are 0."""
        h, w = size
        s = self.stride
        h4, w4 = h // s, w // s
        n, _, d = tokens.shape
        c = d // (s * s)
        x = tokens.reshape(n, h4, w4, c, s, s).permute(0, 3, 1, 4, 2, 5).reshape(n, c, h4 * s, w4 * s)
        if h4 * s != h or w4 * s != w:
            x = F.pad(x, (0, w - w4 * s, 0, h - h4 * s))
        return x

    def keyframe_tokens(self, feat: torch.Tensor) -> torch.Tensor:
        """Memory tokens of a keyframe's propagated feature: cat[s1, s2, s3] → (n, L, 3·C·s·s).

        s1: the s×s patch; s2 / s3: the 1.5s×1.5s / 2s×2s neighbourhood resampled to s×s by laying
        the patches side by side and adaptive-average-pooling (official construction).
        """
        n, c, h, w = feat.shape
        s = self.stride
        scales = [self.to_tokens(feat)]
        for k, pad, out in ((int(1.5 * s), int(0.25 * s), (int(1.5 * h), int(1.5 * w))),
                            (2 * s, int(0.5 * s), (2 * h, 2 * w))):
            patches = F.unfold(feat, kernel_size=k, padding=pad, stride=s)
            tiled = F.fold(patches, output_size=out, kernel_size=k, stride=k)
            scales.append(self.to_tokens(F.adaptive_avg_pool2d(tiled, (h, w))))
        return torch.cat(scales, dim=2)

    def _trajectory_index(self, location: torch.Tensor, h4: int, w4: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat source index (n, K, L) into each keyframe's token grid and its validity mask.

        Reproduces ``grid_sample(mode='nearest', padding_mode='zeros', align_corners=True)`` of the
        official code on the normalised location map: normalise, unnormalise, round half to even,
        out-of-range → invalid (token 0).
        """
        n = location.shape[0]
        loc = location.reshape(n, -1, 2, h4 * w4)
        gx = 2.0 * loc[:, :, 0] / max(w4 - 1, 1) - 1.0
        gy = 2.0 * loc[:, :, 1] / max(h4 - 1, 1) - 1.0
        ix = torch.round((gx + 1) * ((w4 - 1) / 2))
        iy = torch.round((gy + 1) * ((h4 - 1) / 2))
        valid = (ix >= 0) & (ix <= w4 - 1) & (iy >= 0) & (iy <= h4 - 1)
        flat = iy.clamp(0, h4 - 1).long() * w4 + ix.clamp(0, w4 - 1).long()
        return flat, valid

    def forward(
        self,
        curr: torch.Tensor,
        keys: torch.Tensor,
        anchor: torch.Tensor,
        memory: torch.Tensor,
        location: torch.Tensor,
    ) -> torch.Tensor:
        """curr/anchor (n, C, h, w); keys (n, K, L, C·s²); memory (n, K, L, 3·C·s²);
        location (n, 2K, h4, w4) integer (x, y) token coordinates per keyframe."""
        n, c, h, w = anchor.shape
        s = self.stride
        h4, w4 = h // s, w // s
        length = h4 * w4
        if length == 0:
            return anchor
        k_num = keys.shape[1]
        d = keys.shape[-1]
        flat, valid = self._trajectory_index(location, h4, w4)  # (n, K, L)
        src = flat + torch.arange(k_num, device=flat.device).view(1, k_num, 1) * length
        src = src.reshape(n, k_num * length)

        key_tok = torch.gather(keys.reshape(n, k_num * length, d), 1, src.unsqueeze(-1).expand(-1, -1, d))
        key_tok = key_tok.view(n, k_num, length, d) * valid.unsqueeze(-1).to(keys.dtype)
        key_tok = F.normalize(key_tok, dim=3)
        query = F.normalize(self.to_tokens(curr), dim=2)  # (n, L, d)
        scores = torch.matmul(key_tok.transpose(1, 2), query.unsqueeze(-1)).squeeze(-1)  # (n, L, K)
        best, arg = torch.max(scores, dim=2)  # hard selection of one keyframe per position

        pick = torch.gather(src.view(n, k_num, length), 1, arg.unsqueeze(1)).squeeze(1)  # (n, L)
        pick_valid = torch.gather(valid, 1, arg.unsqueeze(1)).squeeze(1)
        dm = memory.shape[-1]
        tok = torch.gather(memory.reshape(n, k_num * length, dm), 1, pick.unsqueeze(-1).expand(-1, -1, dm))
        tok = tok * pick_valid.unsqueeze(-1).to(tok.dtype)
        aggregated = _cl(torch.cat([self.to_map(part, (h, w)) for part in tok.split(d, dim=2)], dim=1))
        score_map = self.to_map(best.unsqueeze(-1).expand(n, length, s * s), (h, w))  # (n, 1, h, w)
        return self.fusion(aggregated) * score_map + anchor


# ------------------------------------------------------------------------------------------------
# Stage 2: the frequency transformer
# ------------------------------------------------------------------------------------------------


class _FixedWeight(nn.Module):
    # Holds a fixed conv kernel under the official key (``dct.dct_conv.weight``). A persistent
    # buffer: it is loaded from checkpoints (the Vimeo model trained it) but never optimised.
    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)


class _DCTConv(nn.Module):
    def __init__(self, name: str, block: int, colours: int) -> None:
        super().__init__()
        weight = dct_basis_2d(block, torch.float32).reshape(block * block, 1, block, block).repeat(colours, 1, 1, 1)
        setattr(self, name, _FixedWeight(weight.clone()))


class FrequencyTransformer(nn.Module):
    """The official ``FTT`` module (stage 2). Key names follow the official code."""

    def __init__(
        self,
        d_model: int = 512,
        n_heads: int = 4,
        groups: int = 64,
        patch: int = 8,
        num_blocks: int = 3,
        dct_block: int = 8,
        colours: int = 3,
        cover_border: bool = False,
    ) -> None:
        super().__init__()
        self.block = dct_block
        self.colours = colours
        freq = colours * dct_block * dct_block
        self.dct = _DCTConv("dct_conv", dct_block, colours)
        self.rdct = _DCTConv("reverse_dct_conv", dct_block, colours)
        self.conv_layer1 = nn.Conv2d(freq, d_model, 1, 1, 0)
        self.feat_extractor = ResidualBlocksWithInputConv(d_model, d_model, num_blocks)
        self.resblocks = ResidualBlocksWithInputConv(2 * d_model, d_model, num_blocks)
        self.fusion = nn.Sequential(
            nn.Conv2d(3 * d_model, d_model, 1, 1, 0, bias=True),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(d_model, d_model, 1, 1, 0, bias=True),
        )
        self.ftta = FrequencyTokenAttention(d_model, groups, patch, n_heads, cover_border=cover_border)
        self.conv_layer2 = nn.Conv2d(d_model, freq, 1, 1, 0)

    def forward_dct(self, x: torch.Tensor) -> torch.Tensor:
        """(N, colours, H, W) → (N, colours·B², H/B, W/B); channel ``colour·B² + u·B + v``."""
        return F.conv2d(x, self.dct.dct_conv.weight, stride=self.block, groups=self.colours)

    def inverse_dct(self, y: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(y, self.rdct.reverse_dct_conv.weight, stride=self.block, groups=self.colours)


# ------------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------------


class FTVSR(VSRModel):
    """FTVSR (official two-stage network). ``forward(lq)``: (B, T, 3, h, w) in [0, 1] → (B, T, 3, 4h, 4w).

    Args (official names): ``mid_channels`` stage-1 width, ``num_blocks`` stage-1 trunk depth,
    ``stride`` LTAM token size (LR px), ``keyframe_stride`` spacing of LTAM keyframes (REDS 3,
    Vimeo 1), ``d_model`` FTT width, ``n_heads`` attention heads. Extra: ``ftt_groups`` /
    ``ftt_patch`` FTTA channel groups and tile size, ``ftt_blocks`` residual blocks in each FTT
    trunk, ``dct_block`` DCT block size, and the ``quirk_*`` switches described in the module
    docstring (all ``True`` = official behaviour). Execution only (same maths up to fp32
    rounding): ``winograd`` output tile of the CPU Winograd path for the wide frequency-stage
    convolutions (4, 2 or 0 = direct), ``winograd_cache`` keep the transformed weights between
    forwards (memory for speed, see the module docstring).
    """

    temporal = "sequence"

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 60,
        stride: int = 4,
        keyframe_stride: int = 3,
        d_model: int = 512,
        n_heads: int = 4,
        ftt_groups: int = 64,
        ftt_patch: int = 8,
        ftt_blocks: int = 3,
        dct_block: int = 8,
        quirk_pad_fill: bool = True,
        quirk_unattended_border: bool = True,
        quirk_size_dependent_norm: bool = True,
        quirk_double_residual: bool = True,
        norm_reference_blocks: int = 1024,
        winograd: int = 4,
        winograd_cache: bool = True,
        scale: int = 4,
        in_channels: int = 3,
    ) -> None:
        super().__init__(scale=scale, in_channels=in_channels)
        if scale != 4:
            raise ModelError(f"FTVSR supports only scale 4 (two fixed x2 pixel-shuffles), got {scale}")
        if winograd not in WINOGRAD_TILES:
            raise ModelError(f"FTVSR: winograd must be 0 (off), 2 (F(2,3)) or 4 (F(4,3)), got {winograd!r}")
        self.winograd = int(winograd)
        self.winograd_cache = bool(winograd_cache)
        if in_channels != 3:
            raise ModelError(f"FTVSR takes RGB input (in_channels=3), got {in_channels}")
        self.mid_channels = mid_channels
        self.keyframe_stride = keyframe_stride
        self.dct_block = dct_block
        self.quirk_pad_fill = quirk_pad_fill
        self.quirk_size_dependent_norm = quirk_size_dependent_norm
        self.quirk_double_residual = quirk_double_residual
        self.norm_reference_blocks = norm_reference_blocks

        self._build_stage1(mid_channels, num_blocks, stride)
        # transformed conv weights of the frequency stage (CPU Winograd), not part of the state
        self._winograd_cache: dict = {}
        # stage 2
        self.FTT = FrequencyTransformer(
            d_model, n_heads, ftt_groups, ftt_patch, ftt_blocks, dct_block, 3,
            cover_border=not quirk_unattended_border,
        )

    def _build_stage1(self, mid_channels: int, num_blocks: int, stride: int) -> None:
        """Stage 1 (TTVSR) modules, official names; FTVSR++'s TTVSR backbone builds the same."""
        self.spynet = SPyNet()
        self.feat_extractor = ResidualBlocksWithInputConv(3, mid_channels, 5)
        self.LTAM = LTAM(mid_channels, stride)
        self.resblocks = ResidualBlocksWithInputConv(2 * mid_channels, mid_channels, num_blocks)
        self.fusion = nn.Conv2d(3 * mid_channels, mid_channels, 1, 1, 0, bias=True)
        self.upsample1 = PixelShufflePack(mid_channels, mid_channels, 2, kernel_size=3)
        self.upsample2 = PixelShufflePack(mid_channels, mid_channels, 2, kernel_size=3)
        self.conv_hr = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1)
        self.conv_last = nn.Conv2d(mid_channels, 3, 3, 1, 1)

    # -- checkpoints --------------------------------------------------------------------------
    @staticmethod
    def convert_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map an official (mmediting) FTVSR state dict to this module's keys.

        Our keys are the official ones, so this only unwraps ``{"state_dict": ...}``, strips
        ``generator.`` / ``module.`` prefixes and drops the restorer's ``step_counter``.
        """
        if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
            state_dict = state_dict["state_dict"]
        out = {}
        has_generator = any(k.startswith("generator.") for k in state_dict)
        for key, value in state_dict.items():
            if has_generator:
                if not key.startswith("generator."):
                    continue  # restorer-level entries such as step_counter
                key = key[len("generator."):]
            while key.startswith("module."):
                key = key[len("module."):]
            if key == "step_counter":
                continue
            out[key] = value
        return out

    def lr_multipliers(self) -> dict[str, float]:
        return {"spynet": 0.125}  # official configs: SPyNet learns at 1/8 of the base rate

    # -- helpers --------------------------------------------------------------------------------
    def _flows(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """SPyNet flows (n, t-1, 2, h, w): backward = flow(x_i ← x_{i+1}), forward = flow(x_{i+1} ← x_i)."""
        n, t, c, h, w = frames.shape
        a = frames[:, :-1].reshape(-1, c, h, w)
        b = frames[:, 1:].reshape(-1, c, h, w)
        both = self.spynet(torch.cat([a, b]), torch.cat([b, a])).view(2, n, t - 1, 2, h, w)
        return both[0], both[1]

    # -- stage 1 --------------------------------------------------------------------------------
    def _propagate_stage1(
        self, feats: torch.Tensor, pre: torch.Tensor, flows: torch.Tensor | None, backward: bool
    ) -> list[torch.Tensor]:
        n, t, c, h, w = feats.shape
        s = self.LTAM.stride
        h4, w4 = h // s, w // s
        length = h4 * w4
        keyframes = keyframe_schedule(t, self.keyframe_stride, backward)
        is_key = set(keyframes)
        _, w_h, _ = _split_input_conv(self.resblocks, c)
        d = c * s * s
        keys = feats.new_empty(n, max(len(keyframes), 1), length, d)
        memory = feats.new_empty(n, max(len(keyframes), 1), length, 3 * d)
        k_num = 0
        ys, xs = torch.meshgrid(
            torch.arange(h4, device=feats.device, dtype=feats.dtype),
            torch.arange(w4, device=feats.device, dtype=feats.dtype),
            indexing="ij",
        )
        identity = torch.stack([xs, ys], dim=0).unsqueeze(0).expand(n, -1, -1, -1)
        location = identity
        order = range(t - 1, -1, -1) if backward else range(t)
        outs: list[torch.Tensor] = [feats.new_empty(0)] * t
        feat_prop = None
        for step, i in enumerate(order):
            if step > 0:
                flow = flows[:, i] if backward else flows[:, i - 1]
                feat_prop = flow_warp(feat_prop, flow.permute(0, 2, 3, 1), padding_mode="border")
                if length:
                    # trajectories: follow the token-grid flow back to every keyframe (nearest, so
                    # the maps stay integer coordinates)
                    flow_tok = F.adaptive_avg_pool2d(flow, (h4, w4)) / s
                    location = flow_warp(location, flow_tok.permute(0, 2, 3, 1), interpolation="nearest", padding_mode="border")
                    feat_prop = self.LTAM(feats[:, i], keys[:, :k_num], feat_prop, memory[:, :k_num], location)
                    if i in is_key:
                        location = torch.cat([location, identity], dim=1)
            feat_prop = _run_trunk(self.resblocks, pre[:, i], w_h, feat_prop)
            outs[i] = feat_prop
            if i in is_key and length:
                new_keys = self.LTAM.to_tokens(feats[:, i])
                new_memory = self.LTAM.keyframe_tokens(feat_prop)
                if torch.is_grad_enabled():
                    # autograd keeps earlier memory alive for backward: grow by concatenation
                    keys = torch.cat([keys[:, :k_num], new_keys.unsqueeze(1)], dim=1)
                    memory = torch.cat([memory[:, :k_num], new_memory.unsqueeze(1)], dim=1)
                else:
                    # inference: one preallocated memory, filled in place (no re-stacking per step)
                    keys[:, k_num] = new_keys
                    memory[:, k_num] = new_memory
                k_num += 1
        return outs

    def stage1(self, lrs: torch.Tensor, capture: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """TTVSR stage: returns (SR1, bilinear ×4 upsampling), each (n, t, 3, 4h, 4w)."""
        n, t, c, h, w = lrs.shape
        mid = self.mid_channels
        fe = self.feat_extractor.main
        feats = _run_blocks(fe[2], _lrelu(fe[0](_cl(lrs.reshape(n * t, c, h, w)))))
        w_x, _, bias = _split_input_conv(self.resblocks, mid)
        pre = F.conv2d(feats, w_x, bias, padding=1).view(n, t, mid, h, w)
        feats = feats.view(n, t, mid, h, w)
        flows_b = flows_f = None
        if t > 1:
            flows_b, flows_f = self._flows(_cl(lrs.reshape(n * t, c, h, w)).view(n, t, c, h, w))
            if capture is not None:
                capture["lr_flows_backward"], capture["lr_flows_forward"] = flows_b, flows_f
        back = self._propagate_stage1(feats, pre, flows_b, backward=True)
        fwd = self._propagate_stage1(feats, pre, flows_f, backward=False)
        sr, bic = [], []
        step = self._chunk(16 * h * w)
        for i0 in range(0, t, step):
            i1 = min(t, i0 + step)
            x = torch.cat([torch.stack(back[i0:i1], 1), feats[:, i0:i1], torch.stack(fwd[i0:i1], 1)], dim=2)
            x = _lrelu(self.fusion(_cl(x.flatten(0, 1))))
            x = _cl(_lrelu(F.pixel_shuffle(self.upsample1.upsample_conv(x), 2)))
            x = _cl(_lrelu(F.pixel_shuffle(self.upsample2.upsample_conv(x), 2)))
            x = self.conv_last(_lrelu(self.conv_hr(x)))
            base = F.interpolate(lrs[:, i0:i1].flatten(0, 1), scale_factor=4, mode="bilinear", align_corners=False)
            sr.append((x + base).view(n, i1 - i0, c, 4 * h, 4 * w))
            bic.append(base.view(n, i1 - i0, c, 4 * h, 4 * w))
        return torch.cat(sr, dim=1), torch.cat(bic, dim=1)

    # -- stage 2 --------------------------------------------------------------------------------
    def _normalise(self, coeffs: torch.Tensor) -> torch.Tensor:
        # L2 over all block positions of each frame and channel (official, eps 1e-12)
        nt, ch, hb, wb = coeffs.shape
        flat = coeffs.reshape(nt, ch, hb * wb)
        if self.quirk_size_dependent_norm:
            return F.normalize(flat, dim=2).view(nt, ch, hb, wb)
        norm = flat.norm(dim=2, keepdim=True) * (self.norm_reference_blocks / (hb * wb)) ** 0.5
        return (flat / norm.clamp_min(1e-12)).view(nt, ch, hb, wb)

    def stage2(self, bic: torch.Tensor, sr1: torch.Tensor, capture: dict | None = None) -> torch.Tensor:
        """Frequency transformer on (n, t, 3, H, W) bilinear and SR1 images → (n, t, 3, H, W)."""
        ftt = self.FTT
        n, t, c, h, w = sr1.shape
        pad = pad_official if self.quirk_pad_fill else _pad_replicate
        b = self.dct_block
        bic_p, _ = pad(bic, b)
        sr_p, _ = pad(sr1, b)
        hp, wp = sr_p.shape[-2:]
        hb, wb = hp // b, wp // b

        flows_b = flows_f = None
        if t > 1:
            flows = torch.stack(self._flows(_cl(sr_p.reshape(n * t, c, hp, wp)).view(n, t, c, hp, wp)))
            flows = flows.reshape(-1, 2, hp, wp)
            ratio = torch.tensor([wb / wp, hb / hp], dtype=flows.dtype, device=flows.device).view(1, 2, 1, 1)
            flows = F.interpolate(flows * ratio, size=(hb, wb), mode="bilinear", align_corners=False)
            flows = flows.view(2, n, t - 1, 2, hb, wb)
            flows_b, flows_f = flows[0], flows[1]

        conv = _Conv3x3(sr1.device, self._winograd_cache if self.winograd_cache else None, self.winograd)
        d_bic = ftt.forward_dct(_cl(bic_p.reshape(n * t, c, hp, wp)))
        d_sr = ftt.forward_dct(_cl(sr_p.reshape(n * t, c, hp, wp)))
        fe = ftt.feat_extractor.main
        emb = ftt.conv_layer1(_cl(torch.cat([self._normalise(d_bic), self._normalise(d_sr)])))
        emb = _run_blocks(fe[2], _lrelu(conv.module(emb, fe[0])), conv.module)
        dm = emb.shape[1]
        e_bic, e_sr = emb[: n * t], emb[n * t:]
        w_x, w_h, bias = _split_input_conv(ftt.resblocks, dm)
        pre = conv(e_sr, w_x, bias).view(n, t, dm, hb, wb)

        space = None
        if t > 1:
            # space-frequency attention A(E_bic, E_sr, E_sr): identical in both directions
            space = ftt.ftta(e_bic, e_sr, e_sr).view(n, t, dm, hb, wb)
            if capture is not None:
                capture["ftta_call0_q"] = e_bic.view(n, t, dm, hb, wb)[:, t - 2]
                capture["ftta_call0_kv"] = e_sr.view(n, t, dm, hb, wb)[:, t - 2]
                capture["ftta_call0_out"] = space[:, t - 2]

        # The backward and forward recurrences are independent until the output head, so they
        # run side by side as one batch of 2n: step k handles frame t-1-k (backward, rows :n)
        # and frame k (forward, rows n:).
        hid_b: list[torch.Tensor] = [e_sr.new_empty(0)] * t
        hid_f: list[torch.Tensor] = [e_sr.new_empty(0)] * t
        state = None
        for k in range(t):
            ib, jf = t - 1 - k, k
            if k > 0:
                flow = torch.cat([flows_b[:, ib], flows_f[:, jf - 1]])
                state = flow_warp(state, flow.permute(0, 2, 3, 1), padding_mode="border")
                # time-frequency attention: query = this frame's space-frequency result
                state = ftt.ftta(torch.cat([space[:, ib], space[:, jf]]), state)
            state = _run_trunk(ftt.resblocks, torch.cat([pre[:, ib], pre[:, jf]]), w_h, state, conv)
            hid_b[ib], hid_f[jf] = state[:n], state[n:]

        e_sr = e_sr.view(n, t, dm, hb, wb)
        d_sr = d_sr.view(n, t, -1, hb, wb)
        out = []
        for i0 in range(0, t, self._chunk(hp * wp)):
            i1 = min(t, i0 + self._chunk(hp * wp))
            fused = torch.cat(
                [torch.stack(hid_b[i0:i1], 1), e_sr[:, i0:i1], torch.stack(hid_f[i0:i1], 1)], dim=2
            ).flatten(0, 1)
            res = ftt.conv_layer2(ftt.fusion(_cl(fused)))  # (n*(i1-i0), 192, hb, wb)
            res = res.reshape(n, i1 - i0, -1, hb, wb)
            if capture is not None:
                for i in range(i0, i1):
                    if i in (0, t - 1):
                        capture.setdefault("_residuals", []).append(res[:, i - i0])
            img = ftt.inverse_dct((res + d_sr[:, i0:i1]).flatten(0, 1)).view(n, i1 - i0, c, hp, wp)
            if self.quirk_double_residual:
                img = img + sr_p[:, i0:i1]
            out.append(img[..., :h, :w])
        if capture is not None and "_residuals" in capture:
            capture["stage2_dct_residual"] = torch.stack(capture.pop("_residuals"), dim=1)
        return torch.cat(out, dim=1)

    @staticmethod
    def _chunk(pixels: int) -> int:
        # frames per batch in the per-frame heads: bounded memory (~1 GB of HR features) and
        # large enough convolution batches on small inputs
        return max(1, (1 << 18) // max(pixels // 16, 1))

    # -- forward --------------------------------------------------------------------------------
    def _check_input(self, lrs: torch.Tensor) -> None:
        if lrs.dim() != 5 or lrs.shape[2] != 3:
            raise ModelError(f"FTVSR expects input (B, T, 3, H, W), got shape {tuple(lrs.shape)}")

    def forward(self, lrs: torch.Tensor) -> torch.Tensor:
        self._check_input(lrs)
        sr1, bic = self.stage1(lrs)
        return self.stage2(bic, sr1)

    def forward_with_intermediates(self, lrs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward pass that also returns the golden-test intermediates (``stage1_out``,
        ``lr_flows_*``, ``ftta_call0_*``, ``stage2_dct_residual``)."""
        self._check_input(lrs)
        capture: dict[str, torch.Tensor] = {}
        sr1, bic = self.stage1(lrs, capture)
        capture["stage1_out"] = sr1
        return self.stage2(bic, sr1, capture), capture


# ------------------------------------------------------------------------------------------------
# Registered variants
# ------------------------------------------------------------------------------------------------

_PAPER = "Qiu et al., Learning Spatiotemporal Frequency-Transformer for Compressed Video Super-Resolution, ECCV 2022"
_OFFICIAL = dict(mid_channels=64, num_blocks=60, stride=4, keyframe_stride=3, d_model=512, n_heads=4)

register_model(
    "ftvsr.official",
    FTVSR,
    _OFFICIAL,
    description="FTVSR as released (REDS config): TTVSR stage + frequency transformer, 45.8M params",
    paper=_PAPER,
)
register_model(
    "ftvsr.official-vimeo",
    FTVSR,
    {**_OFFICIAL, "keyframe_stride": 1},
    description="FTVSR as released, Vimeo-90K config (LTAM keyframe stride 1)",
    paper=_PAPER,
)
register_model(
    "ftvsr.official.tiny",
    FTVSR,
    dict(mid_channels=8, num_blocks=1, stride=4, keyframe_stride=2, d_model=32, n_heads=2,
         ftt_groups=8, ftt_patch=2, ftt_blocks=1),
    description="FTVSR architecture at toy size for CPU tests (same code path, random weights)",
    paper=_PAPER,
)
