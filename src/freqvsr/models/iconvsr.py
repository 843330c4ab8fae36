"""IconVSR: BasicVSR with information-refill from an EDVR feature extractor and coupled propagation.

Paper: K. C. K. Chan, X. Wang, K. Yu, C. Dong, C. C. Loy, "BasicVSR: The Search for Essential
Components in Video Super-Resolution and Beyond", CVPR 2021 (IconVSR is its extension). Official
code: mmediting 0.x ``IconVSR`` + ``edvr_net.py`` (released checkpoints), numerically identical in
mmagic 1.x ``IconVSRNet`` and BasicSR ``IconVSR`` (``docs/architectures.md``, IconVSR).

Data flow for a clip ``(B, T, 3, H, W)``: frames are reflect-padded (right/bottom) to multiples of
4; SPyNet computes flows between neighbours. At keyframes (every ``keyframe_stride``-th frame plus
the last) an EDVR-M feature extractor turns a ``2p+1``-frame window into a "refill" feature: a
3-level pyramid per frame, PCD alignment (pyramid + cascading DCNs) of every window frame onto the
centre, and TSA fusion (temporal attention from embedding correlations, then a pyramid spatial
attention). A backward pass carries a feature (warp -> at keyframes fuse with the refill feature ->
residual trunk over ``[frame, feature]``); the forward pass does the same with the backward
feature as an extra input (coupled propagation: ``[frame, backward, feature]``) and up-samples each
frame as it goes (two pixel-shuffle x2 stages + bilinear x4 skip). The output is cropped back.

Reproduces the official outputs for the same weights (``tests/test_iconvsr_golden.py``), including
the quirks that move the numbers:

* The refill window is a *shifted* mirror: the frames before 0 are ``lr[p+1], ..., lr[2p]`` in
  reverse (REDS, p = 2: ``[lr4, lr3, lr0, lr1, lr2]`` for keyframe 0), likewise at the end.
* Refill fusion (a 3x3 conv, no activation) also runs at the first step of each direction, on
  ``cat[zeros, refill]``; the forward trunk's input order is ``[lr, backward, feature]``.
* PCD offsets are unbounded (no tanh), the L1 ``feat_conv`` has no activation, what is up-sampled and
  doubled between levels is the 64-channel offset feature; TSA's average pool counts the zero
  padding and its attention is ``feat * sigmoid(att) * 2 + add``.
* Flows, refill features and the bilinear base image all use the reflect-padded frames.

Different from the official code, deliberately:

* No ``h, w >= 64`` assertion (mmagic 1.x only warns; BasicSR has none).
* Clips shorter than ``2p+1`` frames (official: IndexError) work: the official window indices are
  folded back into the clip by reflection; for ``T >= 2p+1`` nothing changes.
* The DCN is :func:`freqvsr.functional.dcn.modulated_deform_conv2d` (pure PyTorch, or torchvision's
  op when it matches); the PCD alignment runs on all window frames as one batch.
* ``forward(lq, frame_offset, ends_video)``: keyframes are counted in the video, so the engine's
  overlapping chunks refill at the frames a whole-video pass refills at (issue 13; the defaults,
  offset 0 and ends the video, are the official behaviour). A keyframe within ``padding`` frames
  of a chunk border still takes its refill window mirrored at that border: a chunk cannot see
  beyond itself (``tests/test_iconvsr.py`` measures what that leaves after the cross-fade).
* The EDVR width follows ``mid_channels`` (the official code hard-codes 64, which only fits
  ``mid_channels=64``; every released model is 64).

Official checkpoints load with ``create_model("iconvsr", weights=PATH)`` (REDS) or
``"iconvsr.vimeo"`` (Vimeo-90K BI/BD, ``padding=3``; the two do not load into each other: TSA's
``feat_fusion`` and ``spatial_attn1`` take ``(2p+1)*64`` channels). Our keys are mmediting's; the
BasicSR ``IconVSR`` layout is mapped by :meth:`IconVSR.convert_state_dict` (374 of 414 keys):

=======================================================  ================================================
mmediting / mmagic (``state_dict['generator.' + k]``)     BasicSR ``IconVSR`` (``params``)
=======================================================  ================================================
``spynet.basic_module.L.basic_module.j.conv.*``           ``spynet.basic_module.L.basic_module.{2j}.*``
``upsample{1,2}.upsample_conv.*``                         ``upconv{1,2}.*``
``backward_resblocks.*`` / ``forward_resblocks.*``        ``backward_trunk.*`` / ``forward_trunk.*``
``edvr.feat_l{2,3}_conv{1,2}.conv.*``                     ``edvr.conv_l{2,3}_{1,2}.*``
``edvr.pcd_alignment.*``                                  ``edvr.pcd_align.*``
``edvr.pcd_alignment.{offset_conv1-3,feat_conv,``          same without ``.conv``
``cas_offset_conv1-2}...conv.*``, ``edvr.fusion.{feat_fusion,
spatial_attn1-4,spatial_attn_l1-l3,spatial_attn_add1}.conv.*``
``edvr.conv_first``, ``edvr.feature_extraction``, DCN     same
packs, ``temporal_attn1/2``, ``spatial_attn5``,
``spatial_attn_add2``, ``*_fusion``, ``conv_hr``, ``conv_last``
=======================================================  ================================================

Variants: ``iconvsr`` (REDS, 8,694,991 parameters), ``iconvsr.vimeo`` (8,711,375),
``iconvsr.small`` and ``iconvsr.tiny`` (tests).
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import ModelError
from freqvsr.functional.flow import FlowPair, flow_warp
from freqvsr.layers.blocks import PixelShufflePack, ResidualBlockNoBN, ResidualBlocksWithInputConv
from freqvsr.layers.deform_conv import ModulatedDeformConv2d
from freqvsr.layers.propagation import is_palindrome, neighbour_flows
from freqvsr.layers.spynet import SPyNet
from freqvsr.models._base import VSRModel
from freqvsr.models._keymap import BASICSR_SPYNET, BASICSR_TRUNKS, BASICSR_UPCONV, rename_keys
from freqvsr.models._registry import register_model

PAPER = (
    "Chan et al., BasicVSR: The Search for Essential Components in Video Super-Resolution and Beyond "
    "(IconVSR), CVPR 2021"
)


class ConvAct(nn.Module):
    """conv + optional LeakyReLU(0.1), with the conv under ``.conv`` (mmcv ``ConvModule`` key names)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride, kernel_size // 2)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return F.leaky_relu(x, 0.1) if self.act else x


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class ModulatedDCNPack(ModulatedDeformConv2d):
    """EDVR's DCN: ``forward(x, feat)``; offsets and mask predicted from ``feat`` by one 3x3 conv
    (no tanh, no bound, no flow), ``mask = sigmoid``. Zero-initialised offset conv, as official."""

    def __init__(self, in_channels: int, out_channels: int, deform_groups: int = 8) -> None:
        super().__init__(in_channels, out_channels, 3, padding=1, deform_groups=deform_groups)
        self.conv_offset = nn.Conv2d(in_channels, 27 * deform_groups, 3, 1, 1)
        nn.init.zeros_(self.conv_offset.weight)
        assert self.conv_offset.bias is not None  # nn.Conv2d's default bias=True
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        # EDVR's official signature: offsets come from ``feat``, not from the caller
        o1, o2, mask = torch.chunk(self.conv_offset(feat), 3, dim=1)
        return self.deform_conv(x, torch.cat((o1, o2), dim=1), torch.sigmoid(mask))


class PCDAlignment(nn.Module):
    """Pyramid, cascading and deformable alignment of neighbour features onto reference features.

    ``forward([nbr_l1, nbr_l2, nbr_l3], [ref_l1, ref_l2, ref_l3])`` -> aligned ``(B, C, H, W)``.
    """

    def __init__(self, c: int = 64, deform_groups: int = 8) -> None:
        super().__init__()
        levels = ("l3", "l2", "l1")
        self.offset_conv1 = nn.ModuleDict({lv: ConvAct(2 * c, c) for lv in levels})
        self.offset_conv2 = nn.ModuleDict({lv: ConvAct(c if lv == "l3" else 2 * c, c) for lv in levels})
        self.offset_conv3 = nn.ModuleDict({lv: ConvAct(c, c) for lv in ("l2", "l1")})
        self.dcn_pack = nn.ModuleDict({lv: ModulatedDCNPack(c, c, deform_groups) for lv in levels})
        self.feat_conv = nn.ModuleDict({"l2": ConvAct(2 * c, c), "l1": ConvAct(2 * c, c, act=False)})
        self.cas_offset_conv1 = ConvAct(2 * c, c)
        self.cas_offset_conv2 = ConvAct(c, c)
        self.cas_dcnpack = ModulatedDCNPack(c, c, deform_groups)

    def forward(self, nbr: list[torch.Tensor], ref: list[torch.Tensor]) -> torch.Tensor:
        up_offset = up_feat = nbr[0].new_empty(0)  # set at level 3, read from level 2 on
        for i in (3, 2, 1):
            lv = f"l{i}"
            offset = self.offset_conv1[lv](torch.cat([nbr[i - 1], ref[i - 1]], dim=1))
            if i == 3:
                offset = self.offset_conv2[lv](offset)
            else:
                offset = self.offset_conv3[lv](self.offset_conv2[lv](torch.cat([offset, up_offset], dim=1)))
            feat = self.dcn_pack[lv](nbr[i - 1], offset)
            if i == 3:
                feat = F.leaky_relu(feat, 0.1)
            else:
                feat = self.feat_conv[lv](torch.cat([feat, up_feat], dim=1))
            if i > 1:
                # the 64-channel offset *feature* is up-sampled and doubled, not the DCN offsets
                up_offset, up_feat = _up2(offset) * 2, _up2(feat)
        offset = self.cas_offset_conv2(self.cas_offset_conv1(torch.cat([feat, ref[0]], dim=1)))
        return F.leaky_relu(self.cas_dcnpack(feat, offset), 0.1)


class TSAFusion(nn.Module):
    """Temporal and spatial attention fusion of ``(B, T, C, H, W)`` aligned features -> ``(B, C, H, W)``.

    H and W must be multiples of 4 (two stride-2 pools and two x2 up-samplings).
    """

    def __init__(self, c: int = 64, num_frames: int = 5, center_frame_idx: int = 2) -> None:
        super().__init__()
        self.center_frame_idx = center_frame_idx
        self.temporal_attn1 = nn.Conv2d(c, c, 3, 1, 1)
        self.temporal_attn2 = nn.Conv2d(c, c, 3, 1, 1)
        self.feat_fusion = ConvAct(num_frames * c, c, 1)
        self.spatial_attn1 = ConvAct(num_frames * c, c, 1)
        self.spatial_attn2 = ConvAct(2 * c, c, 1)
        self.spatial_attn3 = ConvAct(c, c, 3)
        self.spatial_attn4 = ConvAct(c, c, 1)
        self.spatial_attn5 = nn.Conv2d(c, c, 3, 1, 1)
        self.spatial_attn_l1 = ConvAct(c, c, 1)
        self.spatial_attn_l2 = ConvAct(2 * c, c, 3)
        self.spatial_attn_l3 = ConvAct(c, c, 3)
        self.spatial_attn_add1 = ConvAct(c, c, 1)
        self.spatial_attn_add2 = nn.Conv2d(c, c, 1)

    @staticmethod
    def _pool(x: torch.Tensor) -> torch.Tensor:
        # max and average 3x3/2 pools; the average counts the zero padding (border sums / 9)
        return torch.cat([F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1, count_include_pad=True)], dim=1)

    def forward(self, aligned: torch.Tensor) -> torch.Tensor:
        n, t, c, h, w = aligned.shape
        emb_ref = self.temporal_attn1(aligned[:, self.center_frame_idx])
        emb = self.temporal_attn2(aligned.reshape(-1, c, h, w)).view(n, t, -1, h, w)
        corr = torch.stack([torch.sum(emb[:, i] * emb_ref, 1) for i in range(t)], dim=1)  # (n, t, h, w)
        weighted = (aligned * torch.sigmoid(corr).unsqueeze(2)).view(n, t * c, h, w)
        feat = self.feat_fusion(weighted)
        attn = self.spatial_attn2(self._pool(self.spatial_attn1(weighted)))
        level = self.spatial_attn_l1(attn)
        level = _up2(self.spatial_attn_l3(self.spatial_attn_l2(self._pool(level))))
        attn = self.spatial_attn4(self.spatial_attn3(attn) + level)
        attn = self.spatial_attn5(_up2(attn))
        attn_add = self.spatial_attn_add2(self.spatial_attn_add1(attn))
        fused: torch.Tensor = feat * torch.sigmoid(attn) * 2 + attn_add
        return fused


class EDVRFeatureExtractor(nn.Module):
    """EDVR-M without its reconstruction: ``(B, 2p+1, 3, H, W)`` (H, W multiples of 4) -> ``(B, C, H, W)``."""

    def __init__(
        self, c: int = 64, num_frames: int = 5, center_frame_idx: int = 2, deform_groups: int = 8, num_blocks: int = 5
    ) -> None:
        super().__init__()
        self.center_frame_idx = center_frame_idx
        self.conv_first = nn.Conv2d(3, c, 3, 1, 1)
        self.feature_extraction = nn.Sequential(*[ResidualBlockNoBN(c) for _ in range(num_blocks)])
        self.feat_l2_conv1 = ConvAct(c, c, 3, 2)
        self.feat_l2_conv2 = ConvAct(c, c, 3, 1)
        self.feat_l3_conv1 = ConvAct(c, c, 3, 2)
        self.feat_l3_conv2 = ConvAct(c, c, 3, 1)
        self.pcd_alignment = PCDAlignment(c, deform_groups)
        self.fusion = TSAFusion(c, num_frames, center_frame_idx)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, c, h, w = x.shape
        l1 = self.feature_extraction(F.leaky_relu(self.conv_first(x.reshape(-1, c, h, w)), 0.1))
        l2 = self.feat_l2_conv2(self.feat_l2_conv1(l1))
        l3 = self.feat_l3_conv2(self.feat_l3_conv1(l2))
        pyramid = [f.view(n, t, *f.shape[1:]) for f in (l1, l2, l3)]
        # every window frame (the centre included) against the centre, as one batch of n*t
        ref = [
            f[:, self.center_frame_idx : self.center_frame_idx + 1].expand_as(f).reshape(-1, *f.shape[2:])
            for f in pyramid
        ]
        aligned = self.pcd_alignment([f.reshape(-1, *f.shape[2:]) for f in pyramid], ref)
        fused: torch.Tensor = self.fusion(aligned.view(n, t, *aligned.shape[1:]))
        return fused


def refill_window(t: int, padding: int) -> list[int]:
    """Frame indices of the shifted-mirror padded sequence: window of keyframe i = ``[i : i+2p+1]``.

    Official: ``[p+p, ..., p+1] + [0 .. t-1] + [t-2-p, ..., t-1-2p]`` (REDS p=2: ``[4, 3, 0, .., t-1,
    t-4, t-5]``). Indices outside ``0 .. t-1`` (only when ``t < 2p+1``, where the official code
    fails) are reflected back into the clip.
    """
    raw = list(range(2 * padding, padding, -1)) + list(range(t)) + list(range(t - 2 - padding, t - 2 - 2 * padding, -1))
    if t == 1:
        return [0] * len(raw)
    period = 2 * (t - 1)
    folded = []
    for j in raw:
        j %= period
        folded.append(period - j if j >= t else j)
    return folded


class IconVSR(VSRModel):
    """IconVSR. ``forward(lq)``: ``(B, T, 3, H, W)`` in [0, 1] -> ``(B, T, 3, 4H, 4W)`` (not clamped).

    ``mid_channels`` (64), ``num_blocks`` per propagation trunk (30), ``keyframe_stride`` (5),
    ``padding``: temporal half-window of the EDVR refill (2 for REDS, 3 for Vimeo-90K);
    ``edvr_blocks``: residual blocks of the EDVR L1 extractor (5 official).
    """

    temporal = "sequence"
    # Keyframes are counted in the video, not in the clip (issue 13): the engine passes where its
    # chunk starts and whether it ends the video.
    uses_frame_index = True

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 30,
        keyframe_stride: int = 5,
        padding: int = 2,
        edvr_blocks: int = 5,
    ) -> None:
        super().__init__(scale=4, in_channels=3)
        if mid_channels % 8:
            raise ModelError(f"mid_channels must be a multiple of 8 (8 deform groups in PCD), got {mid_channels}")
        if keyframe_stride < 1 or padding < 1:
            raise ModelError(f"keyframe_stride and padding must be >= 1, got {keyframe_stride}, {padding}")
        c = self.mid_channels = mid_channels
        self.keyframe_stride, self.padding = keyframe_stride, padding
        self.spynet = SPyNet()
        self.edvr = EDVRFeatureExtractor(c, 2 * padding + 1, padding, num_blocks=edvr_blocks)
        self.backward_fusion = nn.Conv2d(2 * c, c, 3, 1, 1)
        self.forward_fusion = nn.Conv2d(2 * c, c, 3, 1, 1)
        self.backward_resblocks = ResidualBlocksWithInputConv(c + 3, c, num_blocks)
        self.forward_resblocks = ResidualBlocksWithInputConv(2 * c + 3, c, num_blocks)
        self.upsample1 = PixelShufflePack(c, c, 2, kernel_size=3)
        self.upsample2 = PixelShufflePack(c, 64, 2, kernel_size=3)
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)

    def lr_multipliers(self) -> dict[str, float]:
        # official recipe: SPyNet and the EDVR extractor at 1/8 of the base learning rate
        return {"spynet": 0.125, "edvr": 0.125}

    def keyframes(self, t: int, frame_offset: int = 0, ends_video: bool = True) -> list[int]:
        """Clip indices of the keyframes of a ``t``-frame clip whose first frame is frame
        ``frame_offset`` of the video: every ``keyframe_stride``-th frame *of the video* (from 0),
        plus the video's last frame when the clip ends the video (``ends_video``).

        The official model sees whole clips (offset 0, ends the video): every 5th frame plus the
        last. Counting in the video lets a chunk of a long video refill at the frames the whole
        video refills at; a chunk that does not end the video adds no keyframe at its own end
        (the whole video has none there).
        """
        stride = self.keyframe_stride
        first = (-frame_offset) % stride  # the first clip index whose video index is a multiple of stride
        idx = list(range(first, t, stride))
        if ends_video and (not idx or idx[-1] != t - 1):
            idx.append(t - 1)
        return idx

    def compute_flow(self, lrs: torch.Tensor, mirror: bool = False) -> FlowPair:
        """Flows ``(B, T-1, 2, H, W)`` of the (padded) clip, as BasicVSR++'s; ``mirror``: the clip is
        a palindrome (checked before padding), its forward flows are the backward ones reversed."""
        return neighbour_flows(self.spynet, lrs, palindrome=mirror)

    def compute_refill_features(self, lrs: torch.Tensor, keyframes: list[int]) -> dict[int, torch.Tensor]:
        window = refill_window(lrs.shape[1], self.padding)
        span = 2 * self.padding + 1
        return {i: self.edvr(lrs[:, window[i : i + span]]) for i in keyframes}

    def forward(self, lq: torch.Tensor, frame_offset: int = 0, ends_video: bool = True) -> torch.Tensor:
        """``(B, T, 3, H, W)`` RGB in [0, 1] -> ``(B, T, 3, 4H, 4W)``. ``frame_offset``: index in the
        video of the clip's first frame; ``ends_video``: the clip's last frame is the video's (see
        :meth:`keyframes`; the defaults are the official whole-clip behaviour)."""
        self.check_input(lq)
        n, t, c, h_in, w_in = lq.shape
        mirror = is_palindrome(lq)  # on the unpadded clip
        pad_h, pad_w = (4 - h_in % 4) % 4, (4 - w_in % 4) % 4
        lrs = F.pad(lq.reshape(-1, c, h_in, w_in), [0, pad_w, 0, pad_h], mode="reflect")
        lrs = lrs.view(n, t, c, h_in + pad_h, w_in + pad_w)
        h, w = lrs.shape[-2:]
        keyframes = self.keyframes(t, frame_offset, ends_video)
        flows = self.compute_flow(lrs, mirror) if t > 1 else FlowPair.empty(lrs)
        refill = self.compute_refill_features(lrs, keyframes)

        backward: list[torch.Tensor] = [lrs.new_empty(0)] * t
        feat = lrs.new_zeros(n, self.mid_channels, h, w)
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                feat = flow_warp(feat, flows.backward[:, i].permute(0, 2, 3, 1))
            if i in refill:
                feat = self.backward_fusion(torch.cat([feat, refill[i]], dim=1))
            feat = self.backward_resblocks(torch.cat([lrs[:, i], feat], dim=1))
            backward[i] = feat

        outputs = []
        feat = torch.zeros_like(feat)
        for i in range(t):
            if i > 0:
                feat = flow_warp(feat, flows.forward[:, i - 1].permute(0, 2, 3, 1))
            if i in refill:
                feat = self.forward_fusion(torch.cat([feat, refill[i]], dim=1))
            feat = self.forward_resblocks(torch.cat([lrs[:, i], backward[i], feat], dim=1))
            outputs.append(self.upsample(lrs[:, i], feat))
        return torch.stack(outputs, dim=1)[..., : 4 * h_in, : 4 * w_in]

    def upsample(self, lr: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        """One (padded) frame ``(B, 3, 4h, 4w)`` from its forward feature; no fusion conv (unlike BasicVSR)."""
        out = F.leaky_relu(self.upsample1(feat), 0.1)
        out = F.leaky_relu(self.upsample2(out), 0.1)
        out = self.conv_last(F.leaky_relu(self.conv_hr(out), 0.1))
        sr: torch.Tensor = out + F.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False)
        return sr

    # -- official checkpoints --------------------------------------------------------------------

    _RENAMES = (
        BASICSR_SPYNET,
        BASICSR_UPCONV,
        BASICSR_TRUNKS,
        (re.compile(r"^edvr\.conv_l([23])_([12])\."), lambda m: f"edvr.feat_l{m[1]}_conv{m[2]}.conv."),
        (re.compile(r"^edvr\.pcd_align\."), lambda m: "edvr.pcd_alignment."),
        # BasicSR's plain convs where mmedit has ConvModules (conv + LeakyReLU under ".conv")
        (
            re.compile(
                r"^(edvr\.(?:pcd_alignment\.(?:offset_conv[123]\.l[123]|feat_conv\.l[12]|cas_offset_conv[12])"
                r"|fusion\.(?:feat_fusion|spatial_attn[1-4]|spatial_attn_l[1-3]|spatial_attn_add1)))"
                r"\.(weight|bias)$"
            ),
            lambda m: f"{m[1]}.conv.{m[2]}",
        ),
    )

    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map an official state dict (mmediting/mmagic or BasicSR layout, prefixes stripped) to ours."""
        return rename_keys(state_dict, cls._RENAMES)


# -- variants ------------------------------------------------------------------------------------

register_model(
    "iconvsr",
    IconVSR,
    {"mid_channels": 64, "num_blocks": 30, "keyframe_stride": 5, "padding": 2},
    description="IconVSR as released for REDS (5-frame EDVR refill)",
    paper=PAPER,
)
register_model(
    "iconvsr.vimeo",
    IconVSR,
    {"mid_channels": 64, "num_blocks": 30, "keyframe_stride": 5, "padding": 3},
    description="IconVSR as released for Vimeo-90K BI/BD (7-frame EDVR refill)",
    paper=PAPER,
)
register_model(
    "iconvsr.small",
    IconVSR,
    {"mid_channels": 32, "num_blocks": 10, "keyframe_stride": 5, "padding": 2},
    description="IconVSR, 32 channels, 10 blocks per direction",
    paper=PAPER,
)
register_model(
    "iconvsr.tiny",
    IconVSR,
    {"mid_channels": 8, "num_blocks": 1, "keyframe_stride": 5, "padding": 2, "edvr_blocks": 1},
    description="IconVSR, 8 channels, 1 block (for tests)",
    paper=PAPER,
)
