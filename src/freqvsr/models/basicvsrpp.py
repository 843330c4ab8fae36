"""BasicVSR++: second-order grid propagation with flow-guided deformable alignment.

Paper: K. C. K. Chan, S. Zhou, X. Xu, C. C. Loy, "BasicVSR++: Improving Video Super-Resolution
with Enhanced Propagation and Alignment", CVPR 2022. Official code: mmediting 0.x
``BasicVSRPlusPlus`` (the released checkpoints), identical in mmagic 1.x ``BasicVSRPlusPlusNet`` and
BasicSR ``BasicVSRPlusPlus`` up to key names (``docs/architectures.md``, BasicVSR++).

Data flow for a clip ``(B, T, 3, H, W)``: a residual trunk extracts a "spatial" feature per frame;
SPyNet estimates flows between neighbours; four propagation branches run one after the other
(``backward_1``, ``forward_1``, ``backward_2``, ``forward_2``). At every step a branch aligns its
previous two outputs onto the current frame with a flow-guided DCN
(:class:`SecondOrderDeformableAlignment`: DCN offsets = flow + a bounded learned residual) and adds
a residual trunk over ``[spatial, outputs of the earlier branches at this frame, aligned]`` ("grid"
propagation). Per frame, the five streams are concatenated, reconstructed and up-sampled by two
pixel-shuffle x2 stages; the network predicts a residual over bilinear x4 up-sampling.

Reproduces the official outputs for the same weights (``tests/test_basicvsrpp_golden.py``), with
these behaviours of the official code kept on purpose:

* Offsets are ``10 * tanh(residual) + flow.flip(1)``: only the residual is bounded, and the flip
  turns SPyNet's (dx, dy) into the DCN's (dy, dx). Deform groups 0-7 (the previous output) follow
  the first-order flow, groups 8-15 (the output two steps back) the composed second-order flow
  ``flow_n1 + warp(flow_prev, flow_n1)`` (zero padding, not the raw flow).
* At the first aligned step of a branch the second-order inputs are zeros but still pass through
  the offset network (they change the offsets of groups 0-7).
* Feature warps pad with zeros; SPyNet resizes (not pads) to multiples of 32 and rescales the
  flow per axis; the base image is ``interpolate(bilinear, align_corners=False)``.

Different from the official code, deliberately:

* The mirror-extension shortcut (reuse the backward flows when the clip is a palindrome) is
  decided per call; mmediting 0.x and BasicSR keep a flag that, once set by one palindromic clip,
  wrongly reuses backward flows for every later clip (fixed in mmagic 1.x).
* No ``h, w >= 64`` assertion (SPyNet resizes any size to at least 32x32) and ``T = 1`` works
  (no alignment runs). No CPU feature cache (``cpu_cache_length``): it moves tensors between
  devices and changes nothing numerically.
* The DCN is :func:`freqvsr.functional.dcn.modulated_deform_conv2d` (pure PyTorch, or torchvision's
  op when it matches), not mmcv's compiled op; BasicSR's quirk of building no DCN (skipping
  alignment) when CUDA is absent does not exist here.
* ``is_low_res_input=False`` (the deblurring / denoising checkpoints, x1) is not implemented.

Official checkpoints load with ``create_model("basicvsr++", weights=PATH)`` (``generator.`` and
``module.`` prefixes are stripped by the factory; :meth:`BasicVSRPlusPlus.convert_state_dict` maps
the rest). Our keys are mmediting's:

======================================================  ===========================================
mmediting / mmagic (``state_dict['generator.' + k]``)    BasicSR ``BasicVSRPlusPlus`` (``params``)
======================================================  ===========================================
``spynet.basic_module.L.basic_module.j.conv.{w,b}``      ``spynet.basic_module.L.basic_module.{2j}.{w,b}``
``upsample1.upsample_conv.{w,b}``                        ``upconv1.{w,b}``
``upsample2.upsample_conv.{w,b}``                        ``upconv2.{w,b}``
``spynet.mean``, ``spynet.std``                          same (restored if a file lacks them)
all other 208 keys (``feat_extract``, ``deform_align``,   same
``backbone``, ``reconstruction``, ``conv_hr``,
``conv_last``)
======================================================  ===========================================

Variants: ``basicvsr++`` (c64n7, 7,322,927 parameters, the released checkpoints), ``basicvsr++.small``
(c32n3) and ``basicvsr++.tiny`` (tests).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import ModelError
from freqvsr.functional.flow import FlowPair, flow_warp
from freqvsr.layers.blocks import PixelShufflePack, ResidualBlocksWithInputConv
from freqvsr.layers.deform_conv import ModulatedDeformConv2d
from freqvsr.layers.propagation import is_palindrome, neighbour_flows
from freqvsr.layers.spynet import SPyNet
from freqvsr.models._base import VSRModel
from freqvsr.models._keymap import BASICSR_SPYNET, BASICSR_UPCONV, rename_keys
from freqvsr.models._registry import register_model

PAPER = "Chan et al., BasicVSR++: Improving Video Super-Resolution with Enhanced Propagation and Alignment, CVPR 2022"
BRANCHES = ("backward_1", "forward_1", "backward_2", "forward_2")


class SecondOrderDeformableAlignment(ModulatedDeformConv2d):
    """Flow-guided DCN: ``forward(x, cond, flow_1, flow_2)`` -> aligned ``(B, C_out, H, W)``.

    ``x`` = ``cat[previous output, output two steps back]`` (2C), ``cond`` = ``cat[warped previous,
    current spatial feature, warped two-back]`` (3C), flows ``(B, 2, H, W)`` as (dx, dy). The
    offset network sees ``cat[cond, flow_1, flow_2]`` and predicts, per deform group and tap, a
    residual offset bounded by ``max_residue_magnitude`` (via tanh) on top of the flow, and a
    mask logit.
    """

    def __init__(
        self, in_channels: int, out_channels: int, deform_groups: int = 16, max_residue_magnitude: float = 10.0
    ) -> None:
        super().__init__(in_channels, out_channels, 3, padding=1, deform_groups=deform_groups)
        if deform_groups % 2:
            raise ModelError(f"deform_groups must be even (half per flow order), got {deform_groups}")
        self.max_residue_magnitude = max_residue_magnitude
        c = out_channels
        self.conv_offset = nn.Sequential(
            nn.Conv2d(3 * c + 4, c, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(c, c, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(c, c, 3, 1, 1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv2d(c, 27 * deform_groups, 3, 1, 1),
        )
        # Official init: the alignment starts as a pure flow warp (zero residual, mask 0.5).
        last = self.conv_offset[-1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    # The official module's forward takes (x, cond, flow_1, flow_2) and computes its own offsets
    # and mask, so it does not keep the parent's (x, offset, mask) signature.
    def forward(  # type: ignore[override]
        self, x: torch.Tensor, cond: torch.Tensor, flow_1: torch.Tensor, flow_2: torch.Tensor
    ) -> torch.Tensor:
        out = self.conv_offset(torch.cat([cond, flow_1, flow_2], dim=1))
        o1, o2, mask = torch.chunk(out, 3, dim=1)
        offset = self.max_residue_magnitude * torch.tanh(torch.cat((o1, o2), dim=1))
        offset_1, offset_2 = torch.chunk(offset, 2, dim=1)
        taps = offset_1.size(1) // 2  # (deform_groups / 2) * 9 (dy, dx) pairs per flow
        offset_1 = offset_1 + flow_1.flip(1).repeat(1, taps, 1, 1)
        offset_2 = offset_2 + flow_2.flip(1).repeat(1, taps, 1, 1)
        return self.deform_conv(x, torch.cat([offset_1, offset_2], dim=1), torch.sigmoid(mask))


class BasicVSRPlusPlus(VSRModel):
    """BasicVSR++. ``forward(lq)``: ``(B, T, 3, H, W)`` in [0, 1] -> ``(B, T, 3, 4H, 4W)`` (not clamped).

    ``mid_channels`` / ``num_blocks``: width and blocks per propagation trunk (64 / 7 official);
    ``deform_groups``: DCN groups over the 2C aligned channels (16 official; even, dividing 2C);
    ``max_residue_magnitude``: bound of the learned offset residual in pixels (10 official).
    """

    temporal = "sequence"

    def __init__(
        self, mid_channels: int = 64, num_blocks: int = 7, max_residue_magnitude: float = 10.0, deform_groups: int = 16
    ) -> None:
        super().__init__(scale=4, in_channels=3)
        if (2 * mid_channels) % deform_groups:
            raise ModelError(
                f"2 * mid_channels ({2 * mid_channels}) must be divisible by deform_groups ({deform_groups})"
            )
        c = self.mid_channels = mid_channels
        self.spynet = SPyNet()
        self.feat_extract = ResidualBlocksWithInputConv(3, c, 5)
        self.deform_align = nn.ModuleDict()
        self.backbone = nn.ModuleDict()
        for i, branch in enumerate(BRANCHES):
            self.deform_align[branch] = SecondOrderDeformableAlignment(2 * c, c, deform_groups, max_residue_magnitude)
            self.backbone[branch] = ResidualBlocksWithInputConv((2 + i) * c, c, num_blocks)
        self.reconstruction = ResidualBlocksWithInputConv(5 * c, c, 5)
        self.upsample1 = PixelShufflePack(c, c, 2, kernel_size=3)
        self.upsample2 = PixelShufflePack(c, 64, 2, kernel_size=3)
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)

    def lr_multipliers(self) -> dict[str, float]:
        # The official recipe trains SPyNet with 1/4 of the base learning rate (and freezes it for
        # the first 5,000 iterations, which is the training loop's business).
        return {"spynet": 0.25}

    # -- flows -----------------------------------------------------------------------------------

    def compute_flow(self, lqs: torch.Tensor) -> FlowPair:
        """Flows ``(B, T-1, 2, H, W)``, channel 0 = dx.

        ``backward[:, i]`` = spynet(frame i, frame i+1) warps frame i+1 onto i (used by the backward
        branches); ``forward[:, i]`` = spynet(frame i+1, frame i). For a palindromic clip (T even,
        second half = first half reversed) the forward flows are the flipped backward ones.
        """
        return neighbour_flows(self.spynet, lqs, palindrome=is_palindrome(lqs))

    # -- propagation -----------------------------------------------------------------------------

    def propagate(self, feats: dict[str, list[torch.Tensor]], flows: torch.Tensor, branch: str) -> list[torch.Tensor]:
        """One branch over the clip; returns its outputs in time order.

        ``feats`` holds ``spatial`` and the outputs of the earlier branches (time order); ``flows``
        is ``backward`` for ``backward_*`` branches and ``forward`` otherwise.
        """
        spatial = feats["spatial"]
        t = len(spatial)
        backward = branch.startswith("backward")
        frames = range(t - 1, -1, -1) if backward else range(t)
        earlier = [feats[k] for k in BRANCHES[: BRANCHES.index(branch)]]
        align, trunk = self.deform_align[branch], self.backbone[branch]
        outputs: list[torch.Tensor] = []
        flow_prev: torch.Tensor | None = None
        feat_prop = spatial[0].new_zeros(spatial[0].shape[0], self.mid_channels, *spatial[0].shape[-2:])
        for i, idx in enumerate(frames):
            current = spatial[idx]
            if i > 0:
                # flow that warps the previously visited frame onto this one
                flow_n1 = flows[:, idx] if backward else flows[:, idx - 1]
                cond_n1 = flow_warp(feat_prop, flow_n1.permute(0, 2, 3, 1))
                if i == 1:
                    feat_n2, flow_n2 = torch.zeros_like(feat_prop), torch.zeros_like(flow_n1)
                    cond_n2 = torch.zeros_like(cond_n1)
                else:
                    assert flow_prev is not None  # set at step i - 1
                    feat_n2 = outputs[-2]
                    # composed two-step flow (the previous flow warped like a feature, zero padding)
                    flow_n2 = flow_n1 + flow_warp(flow_prev, flow_n1.permute(0, 2, 3, 1))
                    cond_n2 = flow_warp(feat_n2, flow_n2.permute(0, 2, 3, 1))
                flow_prev = flow_n1
                cond = torch.cat([cond_n1, current, cond_n2], dim=1)
                feat_prop = align(torch.cat([feat_prop, feat_n2], dim=1), cond, flow_n1, flow_n2)
            feat = torch.cat([current, *(f[idx] for f in earlier), feat_prop], dim=1)
            feat_prop = feat_prop + trunk(feat)
            outputs.append(feat_prop)
        return outputs[::-1] if backward else outputs

    def spatial_features(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` frames -> their "spatial" features (a hook for MFPI)."""
        result: torch.Tensor = self.feat_extract(frames)
        return result

    def features(self, lqs: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """All five streams per frame: ``spatial`` and the four branches, each a list over time."""
        b, t, c, h, w = lqs.shape
        spatial = self.spatial_features(lqs.reshape(-1, c, h, w)).view(b, t, -1, h, w)
        feats: dict[str, list[torch.Tensor]] = {"spatial": list(spatial.unbind(1))}
        pair = self.compute_flow(lqs) if t > 1 else FlowPair.empty(lqs)
        for branch in BRANCHES:
            flows = pair.backward if branch.startswith("backward") else pair.forward
            feats[branch] = self.propagate(feats, flows, branch)
        return feats

    # -- reconstruction --------------------------------------------------------------------------

    def reconstruct(self, streams: torch.Tensor) -> torch.Tensor:
        """The concatenated streams ``(B, 5C, H, W)`` -> the reconstruction feature (a hook for MFPI)."""
        result: torch.Tensor = self.reconstruction(streams)
        return result

    def upsample(self, lq: torch.Tensor, streams: list[torch.Tensor]) -> torch.Tensor:
        """One frame ``(B, 3, 4H, 4W)`` from its five streams (spatial first, then branch order)."""
        hr = self.reconstruct(torch.cat(streams, dim=1))
        hr = F.leaky_relu(self.upsample1(hr), 0.1)
        hr = F.leaky_relu(self.upsample2(hr), 0.1)
        hr = self.conv_last(F.leaky_relu(self.conv_hr(hr), 0.1))
        result: torch.Tensor = hr + F.interpolate(lq, scale_factor=4, mode="bilinear", align_corners=False)
        return result

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3, H, W)`` RGB in [0, 1] -> ``(B, T, 3, 4H, 4W)``."""
        self.check_input(lq)
        feats = self.features(lq)
        streams = ("spatial", *BRANCHES)
        return torch.stack([self.upsample(lq[:, i], [feats[s][i] for s in streams]) for i in range(lq.shape[1])], dim=1)

    # -- official checkpoints --------------------------------------------------------------------

    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map an official state dict (mmediting/mmagic or BasicSR layout, prefixes stripped) to ours."""
        return rename_keys(state_dict, (BASICSR_SPYNET, BASICSR_UPCONV))


# -- variants ------------------------------------------------------------------------------------

register_model(
    "basicvsr++",
    BasicVSRPlusPlus,
    {"mid_channels": 64, "num_blocks": 7},
    description="BasicVSR++ c64n7 as released (REDS4 / Vimeo-90K checkpoints of mmediting, BasicSR)",
    paper=PAPER,
)
register_model(
    "basicvsr++.small",
    BasicVSRPlusPlus,
    {"mid_channels": 32, "num_blocks": 3},
    description="BasicVSR++, 32 channels, 3 blocks per propagation trunk",
    paper=PAPER,
)
register_model(
    "basicvsr++.tiny",
    BasicVSRPlusPlus,
    {"mid_channels": 8, "num_blocks": 1},
    description="BasicVSR++, 8 channels, 1 block per trunk (for tests)",
    paper=PAPER,
)
