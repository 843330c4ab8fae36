"""FCVSR and FCVSR-S: frequency-aware video super-resolution for compressed video.

Paper: Zhu et al., "FCVSR: A Frequency-aware Method for Compressed Video Super-Resolution"
(IEEE TMM 2026). Official code: QZ1-boy/FCVSR @ 4f256d7 (its quirks: ``docs/architectures.md``, FCVSR).

Data flow, for a 7-frame window ``(B, 7, C, H, W)`` -> centre frame ``(B, C, 4H, 4W)``:
one 3x3 conv over the frame-stacked clip -> 7 feature groups g0..g6; hierarchical motion-guided
adaptive alignment with one shared MGAA (``A1 = MGAA(g0,g1,g2)``, ``A3 = MGAA(g4,g5,g6)``,
``A2 = MGAA(A1,g3,A3)``); multi-frequency refinement of A2; a 3-level pyramid through scale-wise
conv groups; a multi-level pixel-shuffle head; plus the bilinear x4 centre frame.

This is a rewrite that reproduces the official outputs for the same weights
(``tests/test_fcvsr_golden.py``). Where the released code differs from the paper it is
reproduced by default, with a constructor flag for the paper's intended behaviour:

* ``horizontal_kernel`` (False): K1 serves both separable passes; True uses K2 horizontally.
* ``bands_high_to_low`` (True): MFFR starts from the highest band (mean-filter enhancer on it).
* ``enhancer_conv`` (False): the per-band enhancer convs are dead weights; True runs them.
* ``backward_own_correlation`` (False): backward offsets reuse the (a, r) correlation.
* ``mask_mode`` ("official"): DoG band masks resized from 1024x1024; "direct" builds them at HxW.
* ``offset_residual``: the CVCP (luma) code has a residual in each offset branch, the mmedit (RGB)
  code does not; each checkpoint family needs its own value (set by the registered variants).
* ``head_kernel_size``: 1 in the CVCP FCVSR-S (``GShiftNet_S``) head, 3 elsewhere.

Registered variants: ``fcvsr`` / ``fcvsr-s`` (RGB, the official mmedit models for REDS and
Vimeo-90K), ``fcvsr.y`` / ``fcvsr-s.y`` (luma, the official CVCP models; the paper's tables), the
``*.paper`` forms (paper sizes and flags, for training from scratch), ``fcvsr-s.mix`` (``fcvsr-s``
with weights trained here, ``docs/zoo.md``) and ``fcvsr.tiny`` (tests).
Official ``.pth`` files load with ``create_model("fcvsr-s", weights=PATH)`` via ``convert_state_dict``.

The official code registers every RCB twice (as ``RCB`` and as ``body.3``), so its state_dicts
hold each of those tensors under two keys. That has no numerical effect and safetensors refuses
shared tensors, so this module registers each once; ``convert_state_dict`` accepts both keys.
Other deliberate differences: no visualisation side effects; H and W must be multiples of 4
(the code fails on other sizes; ``size_multiple = 4`` makes the engine pad).

Complexity at a 64x64 LR window (one output frame). FLOPs from
``torch.utils.flop_counter.FlopCounterMode`` (conv + matmul, FLOPs = 2 x MACs; FFT, grid_sample and
element-wise ops not counted); ``python -m freqvsr.models.fcvsr`` prints this table:

==============  ===========  =============  ====================  ==========================
variant         params       FLOPs (ours)   thop-style (4x RCB)   paper
==============  ===========  =============  ====================  ==========================
``fcvsr.y``     8,811,336    93.95 G        165.34 G              8.81 M / 165.36 G
``fcvsr-s.y``   3,704,709    40.25 G        68.80 G               3.70 M / 68.82 G
``fcvsr``       8,868,938    94.57 G        165.96 G              (RGB form, not reported)
``fcvsr-s``     4,130,951    46.40 G        74.95 G               (RGB form, not reported)
==============  ===========  =============  ====================  ==========================

The paper's FLOPs (measured on the luma models) come from thop, which visits each
twice-registered RCB conv twice and sums its subtree twice, counting those convs 4x; "FLOPs (ours)"
counts every op once and is the figure to use. Parameter counts include weights the forward
never uses (enhancer convs, the K2 half of the kernel head), as the paper's do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import ModelError
from freqvsr.layers.frequency_refinement import MultiFrequencyRefinement
from freqvsr.layers.motion_alignment import MotionGuidedAlignment
from freqvsr.layers.scale_wise import ScaleWiseNet
from freqvsr.models._base import VSRModel
from freqvsr.models._registry import register_model

NUM_FRAMES = 7

PAPER = "Zhu et al., FCVSR: A Frequency-aware Method for Compressed Video Super-Resolution, IEEE TMM 2026"


class FCVSR(VSRModel):
    """FCVSR / FCVSR-S. ``forward(lq)``: ``(B, 7, C, H, W)`` in [0, 1] -> ``(B, C, 4H, 4W)`` (centre frame).

    ``num_adaptive_convs`` (N), ``num_bands`` (Q) and ``num_groups`` (R) set the size: 6/8/10 for
    FCVSR and 3/4/4 for the released FCVSR-S. See the module docstring for the quirk flags.
    """

    temporal = "window"
    window = NUM_FRAMES
    size_multiple = 4
    strict_size_multiple = True

    def __init__(
        self,
        scale: int = 4,
        in_channels: int = 3,
        num_features: int = 64,
        num_adaptive_convs: int = 6,
        adaptive_kernel_size: int = 3,
        num_bands: int = 8,
        num_groups: int = 10,
        blocks_per_group: int = 3,
        offset_residual: bool = False,
        head_kernel_size: int = 3,
        horizontal_kernel: bool = False,
        backward_own_correlation: bool = False,
        bands_high_to_low: bool = True,
        mask_mode: str = "official",
        enhancer_conv: bool = False,
    ) -> None:
        super().__init__(scale=scale, in_channels=in_channels)
        if self.scale != 4:
            raise ModelError(f"FCVSR is a x4 network (two pixel-shuffle x2 stages); got scale={scale}")
        if num_features % 16:
            # The head pixel-shuffles 64 -> 16 -> 4 channels and concatenates them with full-width maps.
            raise ModelError(f"FCVSR needs num_features divisible by 16, got {num_features}")
        c, hk = num_features, head_kernel_size
        self.num_features = c
        # One conv over all 7 frames stacked on channels (not a per-frame shared conv as in Eq. 1).
        self.shallow_conv = nn.Conv2d(NUM_FRAMES * in_channels, NUM_FRAMES * c, 3, padding=1)
        # One MGAA whose weights serve all three hierarchical calls.
        self.alignment = MotionGuidedAlignment(
            c, num_adaptive_convs, adaptive_kernel_size, offset_residual, horizontal_kernel, backward_own_correlation
        )
        self.refinement = MultiFrequencyRefinement(c, num_bands, bands_high_to_low, mask_mode, enhancer_conv)
        self.pyramid_down1 = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.pyramid_down2 = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.reconstruction = ScaleWiseNet(c, num_groups, blocks_per_group)
        self.head_l3 = nn.Conv2d(c, c, hk, padding=hk // 2)
        self.head_l2 = nn.Conv2d(c, c, hk, padding=hk // 2)
        self.head_l2_merge = nn.Conv2d(c + c // 4, c, hk, padding=hk // 2)
        self.fuse = nn.Conv2d(c + c // 4 + c // 16, c, 3, padding=1)
        self.fuse_refine = nn.Conv2d(c, c, 3, padding=1)
        self.upsample1 = nn.Conv2d(c, 4 * c, hk, padding=hk // 2)
        self.upsample2 = nn.Conv2d(c, 4 * c, hk, padding=hk // 2)
        self.conv_last = nn.Conv2d(c, in_channels, 3, padding=1)
        self.head_act = nn.PReLU()  # one scalar slope shared by the four head activations

    def align(self, feat: torch.Tensor) -> torch.Tensor:
        """Hierarchical alignment of the 7 feature groups (B, 7C, H, W) onto the centre: (B, C, H, W)."""
        c = self.num_features
        a1 = self.alignment(feat[:, : 3 * c])  # t-3 -> t-2 <- t-1
        a3 = self.alignment(feat[:, 4 * c :])  # t+1 -> t+2 <- t+3
        result: torch.Tensor = self.alignment(torch.cat((a1, feat[:, 3 * c : 4 * c], a3), 1))  # A1 -> t <- A3
        return result

    def reconstruct(self, m: torch.Tensor) -> torch.Tensor:
        """Refined centre feature (B, C, H, W) -> residual image (B, C_in, 4H, 4W)."""
        act, ps = self.head_act, F.pixel_shuffle
        l2 = self.pyramid_down1(m)
        l3 = self.pyramid_down2(l2)
        o1, o2, o3 = self.reconstruction([m, l2, l3])
        t3 = ps(act(self.head_l3(o3)), 2)
        t3_full = ps(t3, 2)
        t2 = act(self.head_l2(o2))
        t2 = ps(t2 + self.head_l2_merge(torch.cat((t2, t3), 1)), 2)
        fused = self.fuse_refine(self.fuse(torch.cat((o1, t2, t3_full), 1)))
        u = act(ps(self.upsample1(fused), 2))
        u = act(ps(self.upsample2(u), 2))
        result: torch.Tensor = self.conv_last(u)
        return result

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        self.check_input(lq)
        b, t, ch, h, w = lq.shape
        feat = self.shallow_conv(lq.reshape(b, t * ch, h, w))  # frame-major channel order
        refined = self.refinement(self.align(feat))
        base = F.interpolate(lq[:, t // 2], scale_factor=4, mode="bilinear", align_corners=False)
        return self.reconstruct(refined) + base

    # -- official checkpoints -------------------------------------------------------------------

    @staticmethod
    def convert_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Official FCVSR key names (``generator.``/``module.`` already stripped) -> this module's.

        Both official keys of a twice-registered RCB map to one key here; they must hold equal
        tensors. Keys that match no official pattern (e.g. already converted) pass through.
        """
        out: dict[str, torch.Tensor] = {}
        for key, value in state_dict.items():
            new = _convert_key(key)
            if new in out:
                if not torch.equal(out[new], value):
                    raise ModelError(f"checkpoint keys for {new!r} hold different tensors (aliases must be equal)")
                continue
            out[new] = value
        return out


# Official key -> ours; the first full match wins. The RCB appears as both ``RCB`` and ``body.3``.
_SCB = r"recorb1\.body\.(\d+)\.body\.(\d+)\."
_Replacement = str | Callable[[re.Match[str]], str]
_KEY_RULES: list[tuple[re.Pattern[str], _Replacement]] = [
    (re.compile(p), r)
    for p, r in list[tuple[str, _Replacement]](
        [
            (r"feat_extract\.0\.(.*)", r"shallow_conv.\1"),
            (r"lrelu\.(.*)", r"head_act.\1"),
            (r"MGAA\.convfuse\.(.*)", r"alignment.diff_net.\1"),
            (r"MGAA\.convcorr\.(.*)", r"alignment.offset_trunk.\1"),
            (r"MGAA\.MConvB\.(\d+)\.(conv1|conv2)\.(.*)", r"alignment.offset_branches.\1.\2.\3"),
            (r"MGAA\.MConvB\.(\d+)\.relu\.(.*)", r"alignment.offset_branches.\1.act.\2"),
            (r"MGAA\.MConvB\.(\d+)\.CA\.conv_du\.0\.(.*)", r"alignment.offset_branches.\1.attention.squeeze.\2"),
            (r"MGAA\.MConvB\.(\d+)\.CA\.conv_du\.2\.(.*)", r"alignment.offset_branches.\1.attention.excite.\2"),
            (r"MGAA\.convcrt\.(.*)", r"alignment.ref_modulator.\1"),
            (r"MGAA\.conv_KP\.(.*)", r"alignment.kernel_predictor.0.\1"),
            (r"MGAA\.F\.(0|1)\.(.*)", lambda m: f"alignment.kernel_predictor.{int(m[1]) + 1}.{m[2]}"),
            (r"MGAA\.conv3\.(.*)", r"alignment.fusion.\1"),
            (r"rconcat1\.(.*)", r"pyramid_down1.\1"),
            (r"rconcat2\.(.*)", r"pyramid_down2.\1"),
            (r"recorb1\.body\.(\d+)\.conv\.(.*)", r"reconstruction.groups.\1.conv.\2"),
            (_SCB + r"body\.0\.(weight|bias)", r"reconstruction.groups.\1.blocks.\2.conv1.\3"),
            (_SCB + r"body\.2\.(weight|bias)", r"reconstruction.groups.\1.blocks.\2.conv2.\3"),
            (_SCB + r"(?:RCB|body\.3)\.body\.0\.(.*)", r"reconstruction.groups.\1.blocks.\2.rcb.conv1.\3"),
            (_SCB + r"(?:RCB|body\.3)\.body\.2\.(.*)", r"reconstruction.groups.\1.blocks.\2.rcb.conv2.\3"),
            (
                _SCB + r"(?:RCB|body\.3)\.gcnet\.conv_mask\.(.*)",
                r"reconstruction.groups.\1.blocks.\2.rcb.context.mask.\3",
            ),
            (
                _SCB + r"(?:RCB|body\.3)\.gcnet\.channel_add_conv\.0\.(.*)",
                r"reconstruction.groups.\1.blocks.\2.rcb.context.add_conv1.\3",
            ),
            (
                _SCB + r"(?:RCB|body\.3)\.gcnet\.channel_add_conv\.2\.(.*)",
                r"reconstruction.groups.\1.blocks.\2.rcb.context.add_conv2.\3",
            ),
            (_SCB + r"down\.0\.(.*)", r"reconstruction.groups.\1.blocks.\2.downsample.\3"),
            (_SCB + r"up\.0\.(.*)", r"reconstruction.groups.\1.blocks.\2.upsample.\3"),
            (r"recorb0\.(.*)", r"fuse_refine.\1"),
            (r"upconv_fuse\.(.*)", r"fuse.\1"),
            (r"upconv1_L3\.(.*)", r"head_l3.\1"),
            (r"upconv1_L2\.(.*)", r"head_l2.\1"),
            (r"upconv1_L2_2\.(.*)", r"head_l2_merge.\1"),
            (r"upconv1\.(.*)", r"upsample1.\1"),
            (r"upconv2\.(.*)", r"upsample2.\1"),
            (r"conv_last0\.(.*)", r"conv_last.\1"),
            (r"MFFRblock\.DivEnh_block\.(\d+)\.(a|b)", r"refinement.enhancers.\1.\2"),
            (r"MFFRblock\.DivEnh_block\.(\d+)\.Conv\.(.*)", r"refinement.enhancers.\1.conv.\2"),
            (r"MFFRblock\.DivEnh_block\.(\d+)\.ca\.conv_du\.0\.(.*)", r"refinement.enhancers.\1.attention.squeeze.\2"),
            (r"MFFRblock\.DivEnh_block\.(\d+)\.ca\.conv_du\.2\.(.*)", r"refinement.enhancers.\1.attention.excite.\2"),
            (r"MFFRblock\.ca\.conv_du\.0\.(.*)", r"refinement.aggregator.squeeze.\1"),
            (r"MFFRblock\.ca\.conv_du\.2\.(.*)", r"refinement.aggregator.excite.\1"),
        ]
    )
]


def _convert_key(key: str) -> str:
    for pattern, repl in _KEY_RULES:
        m = pattern.fullmatch(key)
        if m:
            return repl(m) if callable(repl) else m.expand(repl)
    return key


# -- variants ------------------------------------------------------------------------------------

_FULL: dict[str, Any] = {"num_adaptive_convs": 6, "num_bands": 8, "num_groups": 10}
_SMALL: dict[str, Any] = {"num_adaptive_convs": 3, "num_bands": 4, "num_groups": 4}
_PAPER_FLAGS: dict[str, Any] = {
    "horizontal_kernel": True,
    "backward_own_correlation": True,
    "bands_high_to_low": False,
    "enhancer_conv": True,
    "mask_mode": "direct",
}

register_model(
    "fcvsr",
    FCVSR,
    {**_FULL, "in_channels": 3, "offset_residual": False},
    description="FCVSR, RGB (official mmedit FCVSRNet, REDS/Vimeo-90K compressed)",
    paper=PAPER,
)
register_model(
    "fcvsr-s",
    FCVSR,
    {**_SMALL, "in_channels": 3, "offset_residual": False},
    description="FCVSR-S, RGB (official mmedit FCVSR_SNet, REDS/Vimeo-90K compressed)",
    paper=PAPER,
)
register_model(
    "fcvsr-s.mix",
    FCVSR,
    {**_SMALL, "in_channels": 3, "offset_residual": False},
    description="fcvsr-s trained here on 1 CPU core at ftvsr++.small.mix's iteration budget (6,000; DATA.md "
    "corpus store, FTVSR clean/H.264 mixture, Charbonnier + 0.01 FC loss; configs/fcvsr_s_mix_cpu.yaml)",
    paper=PAPER,
    weights="fcvsr_s_mix.safetensors",
)
register_model(
    "fcvsr.y",
    FCVSR,
    {**_FULL, "in_channels": 1, "offset_residual": True},
    description="FCVSR, luma only (official CVCP GShiftNet; the paper's 8.81 M model)",
    paper=PAPER,
)
register_model(
    "fcvsr-s.y",
    FCVSR,
    {**_SMALL, "in_channels": 1, "offset_residual": True, "head_kernel_size": 1},
    description="FCVSR-S, luma only (official CVCP GShiftNet_S; the paper's 3.70 M model)",
    paper=PAPER,
)
register_model(
    "fcvsr.paper",
    FCVSR,
    {**_FULL, "in_channels": 3, "offset_residual": True, **_PAPER_FLAGS},
    description="FCVSR with the paper's intended behaviour where the released code differs (train from scratch)",
    paper=PAPER,
)
register_model(
    "fcvsr-s.paper",
    FCVSR,
    {
        "num_adaptive_convs": 4,
        "num_bands": 4,
        "num_groups": 3,
        "in_channels": 3,
        "offset_residual": True,
        **_PAPER_FLAGS,
    },
    description="FCVSR-S with the paper's sizes (N=4, R=3) and intended behaviour (train from scratch)",
    paper=PAPER,
)
# Tiny test variant. It runs the enhancer convs and the K2 kernels so that every parameter is used
# (the registry-wide test asks for a gradient on each); the official dead paths are tested in
# tests/test_fcvsr.py. 32 features keep two hidden units in every channel attention.
register_model(
    "fcvsr.tiny",
    FCVSR,
    {
        "num_features": 32,
        "num_adaptive_convs": 2,
        "num_bands": 2,
        "num_groups": 1,
        "blocks_per_group": 1,
        "in_channels": 3,
        "horizontal_kernel": True,
        "enhancer_conv": True,
    },
    description="tiny FCVSR for tests (random weights; every parameter used)",
    paper=PAPER,
)


def _complexity_table() -> None:  # pragma: no cover - manual tool: python -m freqvsr.models.fcvsr
    """Params and FLOPs per output frame at a 64x64 LR window, counted on the meta device (no compute).

    The "thop-style" column counts convolutions only and each RCB conv four times, which is what
    thop does with the twice-registered RCBs (``docs/architectures.md``, FCVSR complexity); it
    reproduces the paper's figures.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from freqvsr.models._registry import get_spec

    for name in ("fcvsr.y", "fcvsr-s.y", "fcvsr", "fcvsr-s"):
        spec = get_spec(name)
        with torch.device("meta"):
            model = spec.builder(**spec.args).eval()
        x = torch.rand(1, NUM_FRAMES, model.in_channels, 64, 64, device="meta")
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
        total = counter.get_total_flops()
        counts = counter.get_flop_counts()
        # thop counts convolutions only (not the GC block's matmul) and the RCB convs four times.
        conv = sum(n for op, n in counts["Global"].items() if "convolution" in str(op))
        rcb = sum(n for k, v in counts.items() if k.endswith(".rcb") for op, n in v.items() if "convolution" in str(op))
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:10s} params {params:,}  FLOPs {total / 1e9:.2f} G  thop-style {(conv + 3 * rcb) / 1e9:.2f} G")


if __name__ == "__main__":  # pragma: no cover
    _complexity_table()
