"""FastRealVSR: a unidirectional recurrent network with Hidden State Attention (HSA).

Paper: "Mitigating Artifacts in Real-World Video Super-resolution Models", AAAI 2023. No official
code or weights were released, so this is written from the paper (``docs/architectures.md``,
FastRealVSR); nothing here can be checked against reference outputs.

Per frame ``X_t`` (LR RGB in [0, 1]) with hidden state ``h_{t-1}`` (C channels, LR size):

1. ``f_s = RB_1(X_t)``: 3×3 conv to C + LeakyReLU(0.1) + residual blocks (no BN).
2. ``flow = SPyNet(X_t, X_{t-1})`` (the flow that warps the previous frame onto the current one);
   ``h_{t-1} <- warp(h_{t-1}, flow)``.
3. HSA (``layers.hidden_state``): a pool of fixed blurred / unsharp-masked versions of ``h_{t-1}``,
   one chosen per pixel by selective cross attention with ``f_s`` as the query.
4. ``h_t = RB_2(concat(ĥ_{t-1}, f_s))``: 3×3 conv 2C → C + LeakyReLU + residual blocks.
5. ``Y_t = UP(h_t) + bilinear×4(X_t)``; UP = two ×2 pixel-shuffle stages (each followed by
   LeakyReLU(0.1)) and a 3×3 conv to RGB.

The model is ``temporal = "online"``: ``init_state`` / ``step`` stream frame in, frame out with an
explicit state ``{"prev_lq": X_{t-1}, "hidden": h_{t-1}}`` (a dict of tensors only, so the engine
can move it between devices and save it with ``torch.save(weights_only=True)``; its size does not
depend on the number of frames). ``forward`` over a clip gives the same result as stepping; it only
batches the state-independent work (RB_1, flows, UP) over time for training speed.

Our choices (the paper and its unavailable appendix are silent on these):

* Sizes: C = 64, RB_1 = 5 and RB_2 = 20 residual blocks, which with SPyNet (1.44 M) gives the
  paper's 3.8 M parameters (3,770,223 counted by ``benchmarks/bench_fastrealvsr.py``).
* Pool filters: box 3×3, box 5×5, Gaussian 5×5 σ=1.0 (blurry); ``h + (h − h ⊗ g)`` with
  Gaussian 3×3 σ=0.5 and 5×5 σ=1.0 (sharp); N = 5. The unfiltered ``h`` is not in the pool unless
  ``pool_includes_identity=True``. Filters use replicate padding so constants pass unchanged.
* SCA as the paper describes it (3×3 convs C → C for Q, and for K and V shared across the pool members;
  per-pixel softmax over the members of ``<Q, K_i>/sqrt(C)``). The "w/o SCA" ablation is one 3×3
  conv from the concatenated pool (N·C) to C.
* First frame: no flow is computed and the hidden state is zero (as BasicVSR's recurrences start).
  Warping a zero state gives zero whatever the flow, so skipping SPyNet there changes nothing but
  the cost; HSA still runs on the zero state, so every frame goes through the same layers and a
  one-frame clip trains every weight except SPyNet. The "no previous frame" case is marked by an
  empty ``prev_lq`` tensor, which keeps the state tensors-only and needs no device sync to test.
* Warping uses bilinear sampling with zero padding (BasicVSR's convention for features): hidden
  state flowing in from outside the frame starts from zero.
* UP keeps C channels in both pixel-shuffle stages (no extra HR conv), exactly the paper's
  "two ×2 pixel-shuffle stages + 3×3 conv to RGB"; the skip is bilinear (``align_corners=False``).
* Activations: LeakyReLU(0.1) after input convs and pixel shuffles (BasicVSR's); HSA has none.
* ``lr_multipliers()`` gives SPyNet 1/8 of the base learning rate (BasicVSR's recipe), which is
  what stage 1 needs since no pretrained SPyNet can be downloaded here. The paper's stage 2
  freezes the flow network: a trainer does that by setting the ``spynet`` multiplier to 0 (or
  ``requires_grad_(False)`` on ``model.spynet``); it is a training decision, not a model flag.
* Output is not clamped (the engine clamps), as for every model in this package.

CPU flags (ours, for a default model chosen by quality per second; defaults = the paper's form):

* ``flow="half"`` runs SPyNet on frames down-scaled ×2 (bilinear) and up-samples the flow (values
  ×2): at full LR size SPyNet alone costs ~37 GFLOPs per 180×320 frame, more than half of a
  60-GFLOP budget; at half size it costs a quarter. ``flow="none"`` drops explicit alignment:
  the hidden state enters unwarped and the trunk aligns implicitly (RLSP/RRN-style).
* ``prev_input=True`` feeds ``concat(X_t, X_{t-1})`` to RB_1 (``X_0`` twice on the first frame), so
  the current-frame features see the motion between the last two frames at the cost of 3 input
  channels.
* ``upsampler="shuffle4"`` replaces the two ×2 stages (whose second conv runs at 2× resolution and
  alone costs more than the whole LR trunk of a small model) by one 3×3 conv C → 3·16 at LR
  resolution and a ×4 pixel shuffle (ESPCN/SRVGG-style).
* ``skip="bicubic"`` adds MATLAB-bicubic ×4 of ``X_t`` instead of bilinear (an untrained network is
  then already as good as bicubic); ``zero_init_flow=True`` starts SPyNet at zero flow (no
  pretrained SPyNet weights here).

Variants (constructor flags, each registered): ``hsa=False`` is the URN baseline (ĥ = warped h);
``pool="blurry"`` / ``"sharp"`` are the pool ablations; ``sca=False`` replaces the attention by a
conv over the concatenated pool ("w/o SCA"). ``fastrealvsr.small`` (C = 32, 2 + 6 blocks) is our
CPU size: SPyNet then dominates both its parameters and its FLOPs; ``fastrealvsr.tiny`` is for tests.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.functional.flow import flow_warp
from freqvsr.functional.resize import bicubic_upsample
from freqvsr.layers.blocks import PixelShufflePack, ResidualBlocksWithInputConv
from freqvsr.layers.hidden_state import HiddenStateAttention
from freqvsr.layers.spynet import SPyNet
from freqvsr.models._base import VSRModel
from freqvsr.models._registry import register_model

_PAPER = "Xie et al., Mitigating Artifacts in Real-World Video Super-resolution Models, AAAI 2023"

State = dict[str, torch.Tensor]


class FastRealVSR(VSRModel):
    """FastRealVSR / URN. See the module docstring.

    Args:
        mid_channels: C, the feature and hidden-state width.
        num_feat_blocks: residual blocks of RB_1 (current-frame features).
        num_fuse_blocks: residual blocks of RB_2 (fusion of hidden state and current features).
        hsa: use Hidden State Attention (False: the URN baseline).
        pool: ``all`` | ``blurry`` | ``sharp`` — which filtered states form the pool.
        sca: selective cross attention over the pool (False: a conv over the concatenated pool).
        pool_includes_identity: also put the unfiltered hidden state in the pool.
        flow: ``full`` (SPyNet at LR size, paper) | ``half`` (SPyNet at half LR size) | ``none``.
        prev_input: RB_1 also sees the previous LR frame.
        upsampler: ``pixelshuffle`` (two ×2 stages, paper) | ``shuffle4`` (one LR conv + ×4 shuffle).
        skip: ``bilinear`` (paper) | ``bicubic`` (MATLAB bicubic).
        zero_init_flow: start SPyNet at zero flow.
    """

    temporal = "online"
    size_multiple = 1  # SPyNet resizes internally; the rest is fully convolutional

    def __init__(
        self,
        mid_channels: int = 64,
        num_feat_blocks: int = 5,
        num_fuse_blocks: int = 20,
        hsa: bool = True,
        pool: str = "all",
        sca: bool = True,
        pool_includes_identity: bool = False,
        flow: str = "full",
        prev_input: bool = False,
        upsampler: str = "pixelshuffle",
        skip: str = "bilinear",
        zero_init_flow: bool = False,
    ) -> None:
        super().__init__(scale=4, in_channels=3)
        for arg, value, valid in (
            ("flow", flow, ("full", "half", "none")),
            ("upsampler", upsampler, ("pixelshuffle", "shuffle4")),
            ("skip", skip, ("bilinear", "bicubic")),
        ):
            if value not in valid:
                raise ValueError(f"{arg} must be one of {', '.join(valid)}, got {value!r}")
        self.mid_channels = mid_channels
        self.flow, self.prev_input, self.upsampler_kind, self.skip = flow, bool(prev_input), upsampler, skip
        self.spynet = SPyNet(zero_init=zero_init_flow) if flow != "none" else None
        self.feat_extract = ResidualBlocksWithInputConv(6 if prev_input else 3, mid_channels, num_feat_blocks)
        self.hsa = HiddenStateAttention(mid_channels, pool, pool_includes_identity, sca) if hsa else None
        self.fusion = ResidualBlocksWithInputConv(2 * mid_channels, mid_channels, num_fuse_blocks)
        if upsampler == "pixelshuffle":
            self.upsample1 = PixelShufflePack(mid_channels, mid_channels, 2, kernel_size=3)
            self.upsample2 = PixelShufflePack(mid_channels, mid_channels, 2, kernel_size=3)
            self.conv_last = nn.Conv2d(mid_channels, 3, 3, 1, 1)
        else:
            self.conv_last = nn.Conv2d(mid_channels, 3 * 16, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        # Peak inference memory of one step per LR pixel (fp32), rounded up from the RSS growth
        # measured by benchmarks/bench_fastrealvsr.py at 180x320 LR (C=64: 609 MB, 10.6 KB/px;
        # C=32: 270 MB, 4.7 KB/px); the engine uses it to decide when to tile.
        self.bytes_per_lr_pixel = 176 * mid_channels + 512

    def lr_multipliers(self) -> dict[str, float]:
        return {"spynet": 0.125} if self.spynet is not None else {}

    def _compute_flow(self, cur: torch.Tensor, prev: torch.Tensor) -> torch.Tensor | None:
        """The flow that warps the previous frame (and hidden state) onto the current one."""
        if self.spynet is None:
            return None
        if self.flow == "full":
            result: torch.Tensor | None = self.spynet(cur, prev)
            return result
        h, w = cur.shape[-2:]
        hh, hw = max(1, (h + 1) // 2), max(1, (w + 1) // 2)
        small = F.interpolate(torch.cat([cur, prev]), size=(hh, hw), mode="bilinear", align_corners=False)
        flow = self.spynet(small[: len(cur)], small[len(cur) :])
        flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
        return flow * torch.tensor([w / hw, h / hh], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)

    def _features(self, cur: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.feat_extract(torch.cat([cur, prev], dim=1) if self.prev_input else cur)
        return result

    # -- the recurrence ------------------------------------------------------------------------

    def _propagate(self, feat: torch.Tensor, hidden: torch.Tensor, flow: torch.Tensor | None) -> torch.Tensor:
        """One recurrent update: warp ``hidden`` by ``flow`` (None: first frame), HSA, RB_2."""
        if flow is not None:
            hidden = flow_warp(hidden, flow.permute(0, 2, 3, 1))
        if self.hsa is not None:
            hidden = self.hsa(hidden, feat)
        result: torch.Tensor = self.fusion(torch.cat([hidden, feat], dim=1))
        return result

    def _reconstruct(self, hidden: torch.Tensor, lq: torch.Tensor) -> torch.Tensor:
        if self.upsampler_kind == "pixelshuffle":
            out = self.lrelu(self.upsample1(hidden))
            out = self.lrelu(self.upsample2(out))
            out = self.conv_last(out)
        else:
            out = F.pixel_shuffle(self.conv_last(hidden), 4)
        if self.skip == "bicubic":
            result_: torch.Tensor = out + bicubic_upsample(lq, 4)
            return result_
        result: torch.Tensor = out + F.interpolate(lq, scale_factor=4, mode="bilinear", align_corners=False)
        return result

    # -- online interface ----------------------------------------------------------------------

    def init_state(self, lq_frame: torch.Tensor) -> State:
        """Fresh state for a video whose frames look like ``lq_frame`` (B, 3, H, W)."""
        b, _, h, w = lq_frame.shape
        return {
            "prev_lq": lq_frame.new_zeros(0),  # empty: there is no previous frame yet
            "hidden": lq_frame.new_zeros(b, self.mid_channels, h, w),
        }

    def step(self, lq_frame: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """``(B, 3, H, W)`` frame + state -> ``(B, 3, 4H, 4W)`` output (not clamped) + new state."""
        prev = state["prev_lq"].to(lq_frame.dtype) if state["prev_lq"].numel() else None
        flow = self._compute_flow(lq_frame, prev) if prev is not None else None
        feat = self._features(lq_frame, lq_frame if prev is None else prev)
        hidden = self._propagate(feat, state["hidden"].to(feat.dtype), flow)
        return self._reconstruct(hidden, lq_frame), {"prev_lq": lq_frame, "hidden": hidden}

    # -- whole clips (training, registry contract) ---------------------------------------------

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3, H, W)`` in [0, 1] -> ``(B, T, 3, 4H, 4W)``; equals stepping frame by frame.

        The work that does not depend on the recurrent state (RB_1 features, all T-1 flows, UP)
        runs batched over time; only the warp + HSA + RB_2 chain is sequential.
        """
        self.check_input(lq)
        b, t, c, h, w = lq.shape
        frames = lq.reshape(b * t, c, h, w)
        prevs = torch.cat([lq[:, :1], lq[:, :-1]], dim=1).reshape(b * t, c, h, w)
        feats = self._features(frames, prevs).view(b, t, self.mid_channels, h, w)
        flows = None
        if t > 1 and self.spynet is not None:
            flow = self._compute_flow(lq[:, 1:].reshape(-1, c, h, w), lq[:, :-1].reshape(-1, c, h, w))
            assert flow is not None  # a SPyNet is configured
            flows = flow.view(b, t - 1, 2, h, w)
        hidden = lq.new_zeros(b, self.mid_channels, h, w)
        hiddens = []
        for i in range(t):
            hidden = self._propagate(feats[:, i], hidden, flows[:, i - 1] if i > 0 and flows is not None else None)
            hiddens.append(hidden)
        out = self._reconstruct(torch.stack(hiddens, dim=1).view(b * t, self.mid_channels, h, w), frames)
        return out.view(b, t, c, 4 * h, 4 * w)


# -- variants ------------------------------------------------------------------------------------

_PAPER_SIZE = {"mid_channels": 64, "num_feat_blocks": 5, "num_fuse_blocks": 20}

register_model(
    "fastrealvsr",
    FastRealVSR,
    dict(_PAPER_SIZE),
    description="FastRealVSR (URN + HSA), paper size: 64 channels, 5 + 20 blocks, 3.8 M params",
    paper=_PAPER,
)
register_model(
    "fastrealvsr.urn",
    FastRealVSR,
    {**_PAPER_SIZE, "hsa": False},
    description="FastRealVSR's URN baseline: no hidden state attention",
    paper=_PAPER,
)
register_model(
    "fastrealvsr.blurry",
    FastRealVSR,
    {**_PAPER_SIZE, "pool": "blurry"},
    description="FastRealVSR ablation: pool of blurred hidden states only (N = 3)",
    paper=_PAPER,
)
register_model(
    "fastrealvsr.sharp",
    FastRealVSR,
    {**_PAPER_SIZE, "pool": "sharp"},
    description="FastRealVSR ablation: pool of sharpened hidden states only (N = 2)",
    paper=_PAPER,
)
register_model(
    "fastrealvsr.nosca",
    FastRealVSR,
    {**_PAPER_SIZE, "sca": False},
    description="FastRealVSR ablation: conv over the concatenated pool instead of SCA",
    paper=_PAPER,
)
register_model(
    "fastrealvsr.small",
    FastRealVSR,
    {"mid_channels": 32, "num_feat_blocks": 2, "num_fuse_blocks": 6},
    description="FastRealVSR for CPU: 32 channels, 2 + 6 blocks",
    paper=_PAPER,
)
# The CPU default's architecture, chosen by quality per second among FastRealVSR-family online nets
# of <= 60 GFLOPs per 180x320 frame (benchmarks/arch_search.py; configs/default_online_cpu.yaml):
# SPyNet at half LR size, no HSA, 48 channels, 2 + 6 blocks, one LR conv + x4 shuffle, bicubic skip.
LITE = {
    "mid_channels": 48,
    "num_feat_blocks": 2,
    "num_fuse_blocks": 6,
    "hsa": False,
    "flow": "half",
    "upsampler": "shuffle4",
    "skip": "bicubic",
    "zero_init_flow": True,
}
register_model(
    "fastrealvsr.lite",
    FastRealVSR,
    dict(LITE),
    description="FastRealVSR-family CPU net: half-size flow, no HSA, 48 channels, 2 + 6 blocks, x4 shuffle, "
    "bicubic skip; 56.6 GFLOPs per 180x320 frame of a long video",
    paper=_PAPER,
)
register_model(
    "fastrealvsr.lite.mix",
    FastRealVSR,
    dict(LITE),
    description="fastrealvsr.lite trained here on CPU (DATA.md corpus: camera, animation, text, game; "
    "FTVSR clean/H.264 mixture; configs/default_online_cpu.yaml, 7,200 iterations in two runs)",
    paper=_PAPER,
    weights="fastrealvsr_lite_mix.safetensors",
)
# For real-world input (blur, noise, H.264 together): the default's network with HSA added, trained
# in FastRealVSR's two stages at CPU scale (configs/fastrealvsr_real_stage{1,2}_cpu.yaml): L1 on the
# real-world mixture, then L1 + perceptual + GAN. Judged by NIQE and pictures: on clean input it
# scores below bicubic in PSNR (it sharpens what was not blurred), docs/zoo.md.
register_model(
    "fastrealvsr.lite.real",
    FastRealVSR,
    {**LITE, "hsa": True},
    description="fastrealvsr.lite + HSA for real-world footage (blur, noise, H.264): L1, then L1 + perceptual + "
    "GAN on the real-world mixture, trained here on CPU; lower NIQE than bicubic on every preset, lower PSNR on "
    "clean input",
    paper=_PAPER,
    weights="fastrealvsr_lite_real.safetensors",
)
# For BD input (Gaussian blur sigma 1.6, every 4th pixel kept: the papers' second kernel): the
# default's weights fine-tuned on BD (configs/fastrealvsr_bd_cpu.yaml). The papers ship one model
# per kernel because a BI model sharpens the wrong kernel at the wrong sampling phase on BD input,
# and the reverse holds too: this one is far below bicubic on BI input (docs/zoo.md).
register_model(
    "fastrealvsr.lite.bd",
    FastRealVSR,
    dict(LITE),
    description="fastrealvsr.lite.mix fine-tuned here on CPU for BD input (Gaussian blur sigma 1.6 + decimation; "
    "3,000 iterations, configs/fastrealvsr_bd_cpu.yaml); for blurred footage only, it over-sharpens BI input",
    paper=_PAPER,
    weights="fastrealvsr_lite_bd.safetensors",
)
# For noisy input (BI + Gaussian noise sigma 15): the same fine-tune on that degradation
# (configs/fastrealvsr_noise_cpu.yaml); the mixture-trained models sharpen the noise instead.
register_model(
    "fastrealvsr.lite.noise",
    FastRealVSR,
    dict(LITE),
    description="fastrealvsr.lite.mix fine-tuned here on CPU for noisy input (BI + Gaussian noise sigma 15; "
    "3,000 iterations, configs/fastrealvsr_noise_cpu.yaml); smooths what it takes for noise",
    paper=_PAPER,
    weights="fastrealvsr_lite_noise.safetensors",
)
register_model(
    "fastrealvsr.tiny",
    FastRealVSR,
    {"mid_channels": 8, "num_feat_blocks": 1, "num_fuse_blocks": 1},
    description="FastRealVSR, 8 channels, 1 + 1 blocks (for tests)",
    paper=_PAPER,
)
