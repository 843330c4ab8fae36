"""FTVSR, the network released by the authors (researchmm/FTVSR), ×4 video super-resolution.

Paper: Qiu et al., "Learning Spatiotemporal Frequency-Transformer for Compressed Video
Super-Resolution" (ECCV 2022) and its TPAMI extension (FTVSR++). Full description, quirks
included: ``design/specs/ftvsr-official.md``; golden outputs of the official code:
``shared/golden/ftvsr``.

Two stages, each a module with a ``forward``; :class:`FTVSR` only joins them (official padding,
HR flows, crop):

==================  =============================  ===============================================
module              class                          ``forward``
==================  =============================  ===============================================
``stage1``          :class:`TTVSR`                 LR clip → :class:`Stage1Output` (SR1, bilinear
                                                   ×4, LR flows)
``stage1.spynet``   ``layers.spynet.SPyNet``       flow between two frames (LR in stage 1, HR for
                                                   stage 2)
``stage1.LTAM``     :class:`LTAM`                  one trajectory-aware attention step
``FTT``             :class:`FrequencyTransformer`  (bilinear, SR1, HR flows) → output images
``FTT.ftta``        ``FrequencyTokenAttention``    one space- or time-frequency attention call
==================  =============================  ===============================================

1. **TTVSR** (stage 1): SPyNet flow on the LR frames, a bidirectional recurrent trunk
   (``resblocks``, shared by both directions) with trajectory-aware long-range attention
   (``LTAM``) over keyframe tokens, pixel-shuffle ×4 head plus a bilinear ×4 skip → SR1.
2. **Frequency transformer** (``FTT``): 8×8 block DCT of SR1 and of the bilinear image,
   per-channel L2 normalisation, embedding to ``d_model`` channels, then a bidirectional
   recurrence whose step is space-frequency attention (query from the bilinear image, key/value
   from SR1) followed by time-frequency attention against the flow-warped hidden state, both with
   the single shared ``ftta`` layer. Output = IDCT(residual + DCT(SR1)) + SR1.

Key map. Our state-dict keys are the official ones, so an official checkpoint loads once the
factory has unwrapped it (``{"state_dict": ...}``, ``generator.`` / ``module.`` prefixes) and
:meth:`FTVSR.convert_state_dict` has dropped the restorer's ``step_counter``. The official
generator (like TTVSRNet, whose
stage-1 keys it shares) holds TTVSR's modules at its top level, so ``stage1`` registers its
children on :class:`FTVSR` and is no key prefix; the config freeze lists and
:meth:`FTVSR.lr_multipliers` name the same top-level modules:

=======================================================  ===================  =====================
official key prefix                                      owner                role
=======================================================  ===================  =====================
``spynet.``                                              ``stage1.spynet``    LR and HR flows
``feat_extractor.``                                      ``stage1``           per-frame features
``LTAM.fusion.``                                         ``stage1.LTAM``      memory fusion
``resblocks.``                                           ``stage1``           trunk, both directions
``fusion.``, ``upsample1.``, ``upsample2.``,             ``stage1``           ×4 head
``conv_hr.``, ``conv_last.``
``FTT.dct.dct_conv.weight``,                             ``FTT``              fixed DCT / IDCT
``FTT.rdct.reverse_dct_conv.weight``                                          (persistent buffers)
``FTT.conv_layer1.``, ``FTT.feat_extractor.``            ``FTT``              frequency embedding
``FTT.resblocks.``, ``FTT.ftta.``                        ``FTT``              recurrence
``FTT.fusion.``, ``FTT.conv_layer2.``                    ``FTT``              output residual
=======================================================  ===================  =====================

How this port differs from the official code (none of it changes the result beyond fp32 rounding):

* computation shared between the two directions is done once: the per-frame space-frequency
  attention ``A(E_bic, E_sr, E_sr)`` (identical inputs and weights in both directions) and the
  E_sr / extractor-feature half of each trunk's input convolution;
* both SPyNet directions run in one batch; the two stage-2 recurrences run side by side as one
  batch; the per-frame output heads run over chunks of frames;
* LTAM scores only the K keyframe keys and gathers just the winning token (instead of
  grid-sampling all four token buffers for every keyframe); the keyframe memory is one
  preallocated tensor instead of lists re-stacked at every step;
* attention uses ``scaled_dot_product_attention`` without the discarded attention map;
* batch size > 1 works (the official code crashes).

Execution flags (constructor arguments; same maths up to fp32 rounding, not part of the weights):

* ``channels_last`` (True): feature maps, SPyNet's included, are kept channels-last, oneDNN's
  faster CPU layout; ``False`` runs NCHW (the official layout; ``benchmarks/bench_ftvsr.py
  --nchw``).
* ``winograd`` (4): on CPU the frequency stage's wide (>= 256 channels) 3×3 convolutions use
  Winograd F(``winograd``, 3) (``layers/winograd.py``): 4 = F(4,3) (GEMM work / 4; not ulp-exact:
  rounding ~3× that of a direct convolution, ~1e-5 relative, and the golden intermediates stay
  >= 5× inside their tolerances), 2 = F(2,3) (a few ulps), 0 = direct convolutions.
* ``winograd_cache`` (True): the transformed weights are kept on the model while the weights are
  unchanged: 36/9 of those weights, ~560 MB for ``ftvsr.official`` (16/9 with F(2,3)); ``False``
  re-transforms them (float64 work) in every forward and keeps no extra memory.

The speed of this port against an emulation of the official op sequence, and the Winograd
timings, are in ``docs/measurements.md`` with the commands that measure them.

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

Registered variants (data, at the end of this file): ``ftvsr.official`` (REDS config),
``ftvsr.official-vimeo`` (keyframe stride 1) and ``ftvsr.official.tiny`` (tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import ModelError
from freqvsr.functional.dct import dct_basis_2d, pad_to_multiple
from freqvsr.functional.flow import FlowPair, flow_warp
from freqvsr.layers.blocks import PixelShufflePack, ResidualBlockNoBN, ResidualBlocksWithInputConv, lrelu
from freqvsr.layers.frequency_attention import FrequencyTokenAttention
from freqvsr.layers.propagation import neighbour_flows
from freqvsr.layers.spynet import SPyNet
from freqvsr.layers.winograd import winograd_conv3x3, winograd_weight
from freqvsr.models._base import VSRModel
from freqvsr.models._registry import register_model

__all__ = [
    "FTVSR",
    "LTAM",
    "TTVSR",
    "FrequencyTransformer",
    "Stage1Output",
    "keyframe_schedule",
    "pad_official",
    "register_stage_flat",
]

# Winograd (constructor flag ``winograd``) only pays off for wide layers: measured on one core at
# 64 channels F(4,3) is at best 1.1x oneDNN's direct convolution, at 512 channels 3x.
WINOGRAD_MIN_CHANNELS = 256
WINOGRAD_TILES = (0, 2, 4)


def _layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    # grid_sample / cat / reshapes return NCHW, so maps are put back in the stage's layout before
    # every convolution that should see it
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


def _frames_per_batch(pixels: int) -> int:
    # frames per batch in the per-frame heads: bounded memory (~1 GB of HR features) and large
    # enough convolution batches on small inputs
    return max(1, (1 << 18) // max(pixels // 16, 1))


def register_stage_flat(parent: nn.Module, stage: nn.Module, name: str = "stage1") -> None:
    """Register ``stage``'s children directly on ``parent`` and keep ``stage`` as ``parent.<name>``.

    For stages whose official checkpoints hold their modules at the network's top level (TTVSR in
    FTVSR, BasicVSR in FTVSR++): the keys, ``get_submodule`` names and config freeze lists stay
    the official ones while the stage keeps its own ``forward``. ``stage`` itself is a plain
    attribute, not a child (registering it too would list every tensor twice in the state dict),
    so ``parent.train()`` must also set its ``training`` flag.
    """
    if any(True for _ in stage.parameters(recurse=False)) or any(True for _ in stage.buffers(recurse=False)):
        raise ModelError(f"{type(stage).__name__} holds tensors of its own; only its children can be registered flat")
    for child_name, child in stage.named_children():
        parent.add_module(child_name, child)
    object.__setattr__(parent, name, stage)  # bypasses nn.Module.__setattr__, which would register it


# (id of the weight's base tensor, storage offset, shape, tile) -> (base, version, transformed)
_WinogradCache = dict[tuple[int, int, tuple[int, ...], int], tuple[torch.Tensor, int, torch.Tensor]]


class _Conv3x3:
    """Runs the 3×3 / stride 1 / padding 1 convolutions of the frequency stage, for one forward.

    On CPU, wide layers (>= ``WINOGRAD_MIN_CHANNELS`` in and out) go through Winograd
    F(``tile``, 3) (``layers/winograd.py``; ``tile`` 0 = never). Transformed weights are cached
    in ``cache`` (owned by the module; None = no cache beyond this forward) and reused while the
    weight is unchanged (same tensor, same version counter) and no gradient is needed; with
    autograd on they are recomputed once per forward.
    """

    def __init__(self, device: torch.device, cache: _WinogradCache | None, tile: int) -> None:
        self.tile = tile
        self.winograd = tile > 0 and device.type == "cpu"
        self._local: _WinogradCache = {}
        self._cache = self._local if cache is None else cache

    def __call__(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if not (self.winograd and min(weight.shape[0], weight.shape[1]) >= WINOGRAD_MIN_CHANNELS):
            return F.conv2d(x, weight, bias, padding=1)
        base = weight if weight._base is None else weight._base  # input-channel slices of a trunk conv
        key = (id(base), int(weight.storage_offset()), tuple(weight.shape), self.tile)
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
    out: torch.Tensor = conv(x)
    return out


def _run_blocks(
    blocks: nn.Module, x: torch.Tensor, conv: Callable[[torch.Tensor, nn.Conv2d], torch.Tensor] = _plain_conv
) -> torch.Tensor:
    # ResidualBlockNoBN chain without the extra ``* res_scale`` pass when res_scale == 1
    for blk in blocks.children():
        assert isinstance(blk, ResidualBlockNoBN)
        y = conv(x, blk.conv1)
        y = conv(y.relu_(), blk.conv2)
        if blk.res_scale != 1.0:
            y = y * blk.res_scale
        x = y.add_(x)
    return x


def _trunk_parts(trunk: ResidualBlocksWithInputConv) -> tuple[nn.Conv2d, nn.Module]:
    # ResidualBlocksWithInputConv.main = (input conv, LeakyReLU, residual blocks)
    conv, blocks = trunk.main[0], trunk.main[2]
    assert isinstance(conv, nn.Conv2d)
    return conv, blocks


def _split_input_conv(
    trunk: ResidualBlocksWithInputConv, first: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # The trunk's input conv sees cat[x, h]; conv(cat) = conv_x(x) + conv_h(h) + b. The x part is
    # identical in both directions, so it is computed once per frame.
    conv = _trunk_parts(trunk)[0]
    assert conv.bias is not None  # built with bias=True
    return conv.weight[:, :first], conv.weight[:, first:], conv.bias


def _run_trunk(
    trunk: ResidualBlocksWithInputConv,
    pre: torch.Tensor,
    w_h: torch.Tensor,
    h: torch.Tensor | None,
    channels_last: bool,
    conv: _Conv3x3 | None = None,
) -> torch.Tensor:
    """The trunk on cat[x, h] given ``pre`` = conv_x(x) + b (see :func:`_split_input_conv`)."""
    if conv is None:
        x = pre if h is None else pre + F.conv2d(_layout(h, channels_last), w_h, padding=1)
        return _run_blocks(_trunk_parts(trunk)[1], lrelu(x))
    x = pre if h is None else pre + conv(_layout(h, channels_last), w_h, None)
    return _run_blocks(_trunk_parts(trunk)[1], lrelu(x), conv.module)


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


def keyframe_schedule(t: int, stride: int, backward: bool) -> list[int]:
    """Keyframes whose tokens enter the LTAM memory (official: backward excludes frame 0)."""
    if backward:
        return list(range(t - 1, 0, -stride))
    return list(range(0, t, stride))


# ------------------------------------------------------------------------------------------------
# Stage 1: TTVSR with its trajectory-aware long-range attention
# ------------------------------------------------------------------------------------------------


class LTAM(nn.Module):
    """Trajectory-aware long-range attention (TTVSR) over keyframe token memories.

    Tokens are non-overlapping ``stride×stride`` patches of a ``channels``-channel LR feature map
    (vector order channel, row, col; token grid ``h4 × w4`` row-major). For every current position
    the token lying on its trajectory in each keyframe is compared (cosine) with the current
    frame's token; the best keyframe's multi-scale tokens (s1, s2, s3) are fused and added to the
    warped hidden state, weighted by the best score. LR pixels outside the token grid get no
    contribution (official behaviour). ``channels_last``: layout of the fusion convolution's input.
    """

    def __init__(self, channels: int = 64, stride: int = 4, *, channels_last: bool = True) -> None:
        super().__init__()
        self.channels, self.stride = channels, stride
        self.channels_last = channels_last
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
        for k, pad, out in (
            (int(1.5 * s), int(0.25 * s), (int(1.5 * h), int(1.5 * w))),
            (2 * s, int(0.5 * s), (2 * h, 2 * w)),
        ):
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
        aggregated = torch.cat([self.to_map(part, (h, w)) for part in torch.split(tok, d, dim=2)], dim=1)
        score_map = self.to_map(best.unsqueeze(-1).expand(n, length, s * s), (h, w))  # (n, 1, h, w)
        out: torch.Tensor = self.fusion(_layout(aggregated, self.channels_last)) * score_map + anchor
        return out


class Stage1Output(NamedTuple):
    """What a first stage hands the frequency stage; clips are (n, t, 3, 4h, 4w)."""

    sr: torch.Tensor  # SR1
    bilinear: torch.Tensor  # bilinear ×4 of the LR clip (the official ``bicubic_imgs``)
    flows_forward: torch.Tensor | None  # (n, t-1, 2, h, w): [:, i] warps LR frame i onto i+1; None if t = 1
    flows_backward: torch.Tensor | None  # (n, t-1, 2, h, w): [:, i] warps LR frame i+1 onto i


class TTVSR(nn.Module):
    """Stage 1 of FTVSR: TTVSR (SPyNet, LTAM, one trunk for both directions, ×4 head).

    ``forward(lrs)``: (n, t, 3, h, w) → :class:`Stage1Output`. Children carry the official names
    (``spynet``, ``feat_extractor``, ``LTAM``, ``resblocks``, ``fusion``, ``upsample1/2``,
    ``conv_hr``, ``conv_last``). Arguments as :class:`FTVSR`'s of the same names.
    """

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 60,
        stride: int = 4,
        keyframe_stride: int = 3,
        *,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        self.mid_channels = mid_channels
        self.keyframe_stride = keyframe_stride
        self.channels_last = channels_last
        self.spynet = SPyNet(channels_last=channels_last)
        self.feat_extractor = ResidualBlocksWithInputConv(3, mid_channels, 5)
        self.LTAM = LTAM(mid_channels, stride, channels_last=channels_last)
        self.resblocks = ResidualBlocksWithInputConv(2 * mid_channels, mid_channels, num_blocks)
        self.fusion = nn.Conv2d(3 * mid_channels, mid_channels, 1, 1, 0, bias=True)
        self.upsample1 = PixelShufflePack(mid_channels, mid_channels, 2, kernel_size=3)
        self.upsample2 = PixelShufflePack(mid_channels, mid_channels, 2, kernel_size=3)
        self.conv_hr = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1)
        self.conv_last = nn.Conv2d(mid_channels, 3, 3, 1, 1)

    def _cl(self, x: torch.Tensor) -> torch.Tensor:
        return _layout(x, self.channels_last)

    def flows(self, frames: torch.Tensor) -> FlowPair:
        """SPyNet flows of neighbouring frames (n, t ≥ 2, 3, H, W) → :class:`FlowPair`, each
        (n, t-1, 2, H, W), both directions in one batch (``layers.propagation.neighbour_flows``)."""
        n, t, c, h, w = frames.shape
        return neighbour_flows(self.spynet, self._cl(frames.reshape(n * t, c, h, w)).view(n, t, c, h, w))

    def _propagate(
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
                assert flows is not None and feat_prop is not None  # t > 1 / set by the previous step
                flow = flows[:, i] if backward else flows[:, i - 1]
                feat_prop = flow_warp(feat_prop, flow.permute(0, 2, 3, 1), padding_mode="border")
                if length:
                    # trajectories: follow the token-grid flow back to every keyframe (nearest, so
                    # the maps stay integer coordinates)
                    flow_tok = F.adaptive_avg_pool2d(flow, (h4, w4)) / s
                    location = flow_warp(
                        location, flow_tok.permute(0, 2, 3, 1), interpolation="nearest", padding_mode="border"
                    )
                    feat_prop = self.LTAM(feats[:, i], keys[:, :k_num], feat_prop, memory[:, :k_num], location)
                    if i in is_key:
                        location = torch.cat([location, identity], dim=1)
            feat_prop = _run_trunk(self.resblocks, pre[:, i], w_h, feat_prop, self.channels_last)
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

    def forward(self, lrs: torch.Tensor) -> Stage1Output:
        n, t, c, h, w = lrs.shape
        mid = self.mid_channels
        fe_conv, fe_blocks = _trunk_parts(self.feat_extractor)
        feats = _run_blocks(fe_blocks, lrelu(fe_conv(self._cl(lrs.reshape(n * t, c, h, w)))))
        w_x, _, bias = _split_input_conv(self.resblocks, mid)
        pre = F.conv2d(feats, w_x, bias, padding=1).view(n, t, mid, h, w)
        feats = feats.view(n, t, mid, h, w)
        flows_f, flows_b = self.flows(lrs) if t > 1 else (None, None)
        back = self._propagate(feats, pre, flows_b, backward=True)
        fwd = self._propagate(feats, pre, flows_f, backward=False)
        sr, bic = [], []
        step = _frames_per_batch(16 * h * w)
        for i0 in range(0, t, step):
            i1 = min(t, i0 + step)
            x = torch.cat([torch.stack(back[i0:i1], 1), feats[:, i0:i1], torch.stack(fwd[i0:i1], 1)], dim=2)
            x = lrelu(self.fusion(self._cl(x.flatten(0, 1))))
            x = self._cl(lrelu(F.pixel_shuffle(self.upsample1.upsample_conv(x), 2)))
            x = self._cl(lrelu(F.pixel_shuffle(self.upsample2.upsample_conv(x), 2)))
            x = self.conv_last(lrelu(self.conv_hr(x)))
            base = F.interpolate(lrs[:, i0:i1].flatten(0, 1), scale_factor=4, mode="bilinear", align_corners=False)
            sr.append((x + base).view(n, i1 - i0, c, 4 * h, 4 * w))
            bic.append(base.view(n, i1 - i0, c, 4 * h, 4 * w))
        return Stage1Output(torch.cat(sr, dim=1), torch.cat(bic, dim=1), flows_f, flows_b)


# ------------------------------------------------------------------------------------------------
# Stage 2: the frequency transformer
# ------------------------------------------------------------------------------------------------


class _FixedWeight(nn.Module):
    # Holds a fixed conv kernel under the official key (``dct.dct_conv.weight``). A persistent
    # buffer: it is loaded from checkpoints (the Vimeo model trained it) but never optimised.
    weight: torch.Tensor

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)


class _DCTConv(nn.Module):
    def __init__(self, name: str, block: int, colours: int) -> None:
        super().__init__()
        weight = dct_basis_2d(block, torch.float32).reshape(block * block, 1, block, block).repeat(colours, 1, 1, 1)
        self.name = name
        setattr(self, name, _FixedWeight(weight.clone()))

    def kernel(self) -> torch.Tensor:
        """The fixed kernel, held as ``<name>.weight`` (the official key)."""
        fixed = self.get_submodule(self.name)
        assert isinstance(fixed, _FixedWeight)
        return fixed.weight


class FrequencyTransformer(nn.Module):
    """The official ``FTT`` module (stage 2); key names follow the official code.

    ``forward(bic, sr, flows_forward, flows_backward)``: bilinear and SR1 clips (n, t, colours, H, W)
    with H, W multiples of ``dct_block`` (:func:`pad_official`), HR flows of SR1 (n, t-1, 2, H, W)
    or None for t = 1 → output clip (n, t, colours, H, W). Quirk flags (:class:`FTVSR`'s without
    the ``quirk_`` prefix; ``cover_border`` = not ``quirk_unattended_border``) and execution flags
    (``winograd``, ``winograd_cache``, ``channels_last``) as described in the module docstring.
    """

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
        *,
        size_dependent_norm: bool = True,
        norm_reference_blocks: int = 1024,
        double_residual: bool = True,
        winograd: int = 4,
        winograd_cache: bool = True,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        if winograd not in WINOGRAD_TILES:
            raise ModelError(f"FTVSR: winograd must be 0 (off), 2 (F(2,3)) or 4 (F(4,3)), got {winograd!r}")
        self.block = dct_block
        self.colours = colours
        self.size_dependent_norm = size_dependent_norm
        self.norm_reference_blocks = norm_reference_blocks
        self.double_residual = double_residual
        self.winograd = int(winograd)
        self.winograd_cache = bool(winograd_cache)
        self.channels_last = channels_last
        # transformed conv weights (CPU Winograd), not part of the state; see __getstate__
        self._winograd_cache: _WinogradCache = {}
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

    def __getstate__(self) -> dict[str, Any]:
        # copies (deepcopy for an EMA, pickling) start without the Winograd cache: its entries
        # belong to this module's weight tensors and would only hold memory in the copy
        state = self.__dict__.copy()
        state["_winograd_cache"] = {}
        return state

    def _cl(self, x: torch.Tensor) -> torch.Tensor:
        return _layout(x, self.channels_last)

    def forward_dct(self, x: torch.Tensor) -> torch.Tensor:
        """(N, colours, H, W) → (N, colours·B², H/B, W/B); channel ``colour·B² + u·B + v``."""
        return F.conv2d(x, self.dct.kernel(), stride=self.block, groups=self.colours)

    def inverse_dct(self, y: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(y, self.rdct.kernel(), stride=self.block, groups=self.colours)

    def normalise(self, coeffs: torch.Tensor) -> torch.Tensor:
        """L2 normalisation of each DCT channel over all block positions of its frame (official,
        eps 1e-12); with ``size_dependent_norm=False`` rescaled to ``norm_reference_blocks``."""
        nt, ch, hb, wb = coeffs.shape
        flat = coeffs.reshape(nt, ch, hb * wb)
        if self.size_dependent_norm:
            return F.normalize(flat, dim=2).view(nt, ch, hb, wb)
        norm = flat.norm(dim=2, keepdim=True) * (self.norm_reference_blocks / (hb * wb)) ** 0.5
        out: torch.Tensor = (flat / norm.clamp_min(1e-12)).view(nt, ch, hb, wb)
        return out

    def _block_flows(
        self, flows_forward: torch.Tensor, flows_backward: torch.Tensor, hb: int, wb: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # HR flows → the DCT-block grid: scale each component by the size ratio, then resize
        # bilinearly (official order); both directions in one call
        n, tm1, _, hp, wp = flows_forward.shape
        flows = torch.stack([flows_backward, flows_forward]).reshape(-1, 2, hp, wp)
        ratio = torch.tensor([wb / wp, hb / hp], dtype=flows.dtype, device=flows.device).view(1, 2, 1, 1)
        flows = F.interpolate(flows * ratio, size=(hb, wb), mode="bilinear", align_corners=False)
        flows = flows.view(2, n, tm1, 2, hb, wb)
        return flows[1], flows[0]

    def forward(
        self,
        bic: torch.Tensor,
        sr: torch.Tensor,
        flows_forward: torch.Tensor | None = None,
        flows_backward: torch.Tensor | None = None,
        intermediates: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """See the class docstring; ``intermediates``, when given, receives the golden-test
        tensors ``ftta_call0_q/kv/out`` and ``stage2_dct_residual``."""
        n, t, c, hp, wp = sr.shape
        b = self.block
        hb, wb = hp // b, wp // b
        flows_f = flows_b = None
        if t > 1:
            assert flows_forward is not None and flows_backward is not None, "clips of t > 1 frames need flows"
            flows_f, flows_b = self._block_flows(flows_forward, flows_backward, hb, wb)

        conv = _Conv3x3(sr.device, self._winograd_cache if self.winograd_cache else None, self.winograd)
        d_bic = self.forward_dct(self._cl(bic.reshape(n * t, c, hp, wp)))
        d_sr = self.forward_dct(self._cl(sr.reshape(n * t, c, hp, wp)))
        fe_conv, fe_blocks = _trunk_parts(self.feat_extractor)
        emb = self.conv_layer1(self._cl(torch.cat([self.normalise(d_bic), self.normalise(d_sr)])))
        emb = _run_blocks(fe_blocks, lrelu(conv.module(emb, fe_conv)), conv.module)
        dm = emb.shape[1]
        e_bic, e_sr = emb[: n * t], emb[n * t :]
        w_x, w_h, bias = _split_input_conv(self.resblocks, dm)
        pre = conv(e_sr, w_x, bias).view(n, t, dm, hb, wb)

        space = None
        if t > 1:
            # space-frequency attention A(E_bic, E_sr, E_sr): identical in both directions
            space = self.ftta(e_bic, e_sr, e_sr).view(n, t, dm, hb, wb)
            if intermediates is not None:
                intermediates["ftta_call0_q"] = e_bic.view(n, t, dm, hb, wb)[:, t - 2]
                intermediates["ftta_call0_kv"] = e_sr.view(n, t, dm, hb, wb)[:, t - 2]
                intermediates["ftta_call0_out"] = space[:, t - 2]

        # The backward and forward recurrences are independent until the output head, so they
        # run side by side as one batch of 2n: step k handles frame t-1-k (backward, rows :n)
        # and frame k (forward, rows n:).
        hid_b: list[torch.Tensor] = [e_sr.new_empty(0)] * t
        hid_f: list[torch.Tensor] = [e_sr.new_empty(0)] * t
        state = None
        for k in range(t):
            ib, jf = t - 1 - k, k
            if k > 0:
                # set when t > 1 / by the previous step
                assert flows_b is not None and flows_f is not None and space is not None and state is not None
                flow = torch.cat([flows_b[:, ib], flows_f[:, jf - 1]])
                state = flow_warp(state, flow.permute(0, 2, 3, 1), padding_mode="border")
                # time-frequency attention: query = this frame's space-frequency result
                state = self.ftta(torch.cat([space[:, ib], space[:, jf]]), state)
            both = torch.cat([pre[:, ib], pre[:, jf]])
            state = _run_trunk(self.resblocks, both, w_h, state, self.channels_last, conv)
            hid_b[ib], hid_f[jf] = state[:n], state[n:]

        e_sr = e_sr.view(n, t, dm, hb, wb)
        d_sr = d_sr.view(n, t, -1, hb, wb)
        out, residuals = [], []
        step = _frames_per_batch(hp * wp)
        for i0 in range(0, t, step):
            i1 = min(t, i0 + step)
            fused = torch.cat(
                [torch.stack(hid_b[i0:i1], 1), e_sr[:, i0:i1], torch.stack(hid_f[i0:i1], 1)], dim=2
            ).flatten(0, 1)
            res = self.conv_layer2(self.fusion(self._cl(fused)))  # (n*(i1-i0), colours·B², hb, wb)
            res = res.reshape(n, i1 - i0, -1, hb, wb)
            if intermediates is not None:
                residuals += [res[:, i - i0] for i in range(i0, i1) if i in (0, t - 1)]
            img = self.inverse_dct((res + d_sr[:, i0:i1]).flatten(0, 1)).view(n, i1 - i0, c, hp, wp)
            if self.double_residual:
                img = img + sr[:, i0:i1]
            out.append(img)
        if intermediates is not None:
            intermediates["stage2_dct_residual"] = torch.stack(residuals, dim=1)
        return torch.cat(out, dim=1)


# ------------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------------


class FTVSR(VSRModel):
    """FTVSR (official two-stage network). ``forward(lq)``: (B, T, 3, h, w) in [0, 1] → (B, T, 3, 4h, 4w).

    Args (official names): ``mid_channels`` stage-1 width, ``num_blocks`` stage-1 trunk depth,
    ``stride`` LTAM token size (LR px), ``keyframe_stride`` spacing of LTAM keyframes (REDS 3,
    Vimeo 1), ``d_model`` FTT width, ``n_heads`` attention heads. Extra: ``ftt_groups`` /
    ``ftt_patch`` FTTA channel groups and tile size, ``ftt_blocks`` residual blocks in each FTT
    trunk, ``dct_block`` DCT block size, the ``quirk_*`` switches (all ``True`` = official
    behaviour) and the execution flags ``winograd``, ``winograd_cache``, ``channels_last`` (same
    maths up to fp32 rounding); both described in the module docstring.

    Modules: ``stage1`` (:class:`TTVSR`, its children registered here under the official names)
    and ``FTT`` (:class:`FrequencyTransformer`).
    """

    temporal = "sequence"
    stage1: TTVSR  # set by register_stage_flat

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
        channels_last: bool = True,
        scale: int = 4,
        in_channels: int = 3,
    ) -> None:
        super().__init__(scale=scale, in_channels=in_channels)
        if scale != 4:
            raise ModelError(f"FTVSR supports only scale 4 (two fixed x2 pixel-shuffles), got {scale}")
        if in_channels != 3:
            raise ModelError(f"FTVSR takes RGB input (in_channels=3), got {in_channels}")
        self.quirk_pad_fill = quirk_pad_fill
        register_stage_flat(self, TTVSR(mid_channels, num_blocks, stride, keyframe_stride, channels_last=channels_last))
        self.FTT = FrequencyTransformer(
            d_model,
            n_heads,
            ftt_groups,
            ftt_patch,
            ftt_blocks,
            dct_block,
            3,
            cover_border=not quirk_unattended_border,
            size_dependent_norm=quirk_size_dependent_norm,
            norm_reference_blocks=norm_reference_blocks,
            double_residual=quirk_double_residual,
            winograd=winograd,
            winograd_cache=winograd_cache,
            channels_last=channels_last,
        )

    @property
    def keyframe_stride(self) -> int:
        return self.stage1.keyframe_stride

    def train(self, mode: bool = True) -> FTVSR:
        super().train(mode)
        self.stage1.training = mode  # not a registered child; its children were set above
        return self

    # -- checkpoints --------------------------------------------------------------------------
    @staticmethod
    def convert_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map an official (mmediting) FTVSR state dict to this module's keys (the key map in the
        module docstring). The factory has already unwrapped it
        (:func:`freqvsr.models._checkpoint.unwrap_state_dict`: ``{"state_dict": ...}``,
        ``generator.`` / ``module.`` prefixes); the keys are the official ones, so only the
        restorer's ``step_counter`` is left to drop."""
        return {k: v for k, v in state_dict.items() if k != "step_counter"}

    def lr_multipliers(self) -> dict[str, float]:
        return {"spynet": 0.125}  # official configs: SPyNet learns at 1/8 of the base rate

    # -- forward --------------------------------------------------------------------------------
    def _run(self, lrs: torch.Tensor, intermediates: dict[str, torch.Tensor] | None) -> torch.Tensor:
        self.check_input(lrs)
        s1 = self.stage1(lrs)
        if intermediates is not None:
            intermediates["stage1_out"] = s1.sr
            if s1.flows_forward is not None:
                intermediates["lr_flows_forward"] = s1.flows_forward
                intermediates["lr_flows_backward"] = s1.flows_backward
        # official glue (FTVSR.forward): pad both clips to whole DCT blocks, HR SPyNet flows of
        # the padded SR1 (gradients reach stage 1 through them), FTT, crop
        pad = pad_official if self.quirk_pad_fill else pad_to_multiple
        bic, _ = pad(s1.bilinear, self.FTT.block)
        sr, _ = pad(s1.sr, self.FTT.block)
        flows = self.stage1.flows(sr) if sr.shape[1] > 1 else (None, None)
        out = self.FTT(bic, sr, *flows, intermediates=intermediates)
        h, w = s1.sr.shape[-2:]
        cropped: torch.Tensor = out[..., :h, :w]
        return cropped

    def forward(self, lrs: torch.Tensor) -> torch.Tensor:
        return self._run(lrs, None)

    def forward_with_intermediates(self, lrs: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward pass that also returns the golden-test intermediates (``stage1_out``,
        ``lr_flows_*``, ``ftta_call0_*``, ``stage2_dct_residual``)."""
        intermediates: dict[str, torch.Tensor] = {}
        out = self._run(lrs, intermediates)
        return out, intermediates


# ------------------------------------------------------------------------------------------------
# Registered variants
# ------------------------------------------------------------------------------------------------

_PAPER = "Qiu et al., Learning Spatiotemporal Frequency-Transformer for Compressed Video Super-Resolution, ECCV 2022"
_OFFICIAL = dict(mid_channels=64, num_blocks=60, stride=4, keyframe_stride=3, d_model=512, n_heads=4)
_TINY = dict(
    mid_channels=8,
    num_blocks=1,
    stride=4,
    keyframe_stride=2,
    d_model=32,
    n_heads=2,
    ftt_groups=8,
    ftt_patch=2,
    ftt_blocks=1,
)

for _name, _args, _description in (
    ("ftvsr.official", _OFFICIAL, "FTVSR as released (REDS config): TTVSR stage + frequency transformer, 45.8M params"),
    (
        "ftvsr.official-vimeo",
        {**_OFFICIAL, "keyframe_stride": 1},
        "FTVSR as released, Vimeo-90K config (LTAM keyframe stride 1)",
    ),
    ("ftvsr.official.tiny", _TINY, "FTVSR architecture at toy size for CPU tests (same code path, random weights)"),
):
    register_model(_name, FTVSR, _args, description=_description, paper=_PAPER)
