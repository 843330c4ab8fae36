"""BasicVSR: bidirectional recurrent propagation with flow alignment.

Paper: K. C. K. Chan, X. Wang, K. Yu, C. Dong, C. C. Loy, "BasicVSR: The Search for Essential
Components in Video Super-Resolution and Beyond", CVPR 2021.

Per clip: SPyNet estimates flow between neighbouring low-resolution frames in both directions. A
backward pass (t = T-1 .. 0) and then a forward pass (t = 0 .. T-1) each carry a feature map: it
is warped onto the current frame with the flow, concatenated with the frame, and refined by a
residual trunk. The two features of each frame are fused (1x1 conv) and up-sampled by two
pixel-shuffle x2 stages; the network predicts a residual over bilinear x4 up-sampling.

Same as the official code (mmediting ``BasicVSRNet``, BasicSR ``BasicVSR``), deliberately:

* Features are warped with ``padding_mode="zeros"`` (the official default of ``flow_warp``; only
  SPyNet's internal warping of images uses ``"border"``). Pixels flowing in from outside the frame
  therefore start from zero features, as during the official training.
* The second up-sampler always outputs 64 channels and ``conv_hr``/``conv_last`` are 64 wide,
  whatever ``mid_channels`` is: this keeps the official layout (and checkpoints) for every width.
* The skip is ``F.interpolate(bilinear, align_corners=False)``, not bicubic.

Different from the official code:

* No ``h >= 64 and w >= 64`` assertion: SPyNet resizes its inputs to a multiple of 32 (at least 32),
  so any size works (quality drops on tiny frames, as it would there without the assertion).
* No "mirror-extended" shortcut (mmediting skips the forward flows when the clip is a palindrome);
  it only saves time for a test-time trick this project does not use.
* ``T = 1`` is allowed: no flow is computed and both passes see zero propagated features.
* Three constructor flags for our own short trainings (defaults = official): ``skip="bicubic"``
  predicts the residual over MATLAB-bicubic up-sampling instead of bilinear;
  ``zero_init_last=True`` zero-initialises ``conv_last``, so an untrained network outputs exactly
  bicubic (the shipped default model does not use it; why: ``docs/measurements.md``, run
  records); ``zero_init_flow=True`` starts SPyNet at zero flow instead of a random one
  (pretrained SPyNet weights cannot be downloaded here).

State-dict keys equal mmediting's ``BasicVSRNet`` (after stripping ``generator.``), so official
mmediting checkpoints load as they are; BasicSR's layout is mapped by :meth:`convert_state_dict`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.functional.flow import FlowPair
from freqvsr.functional.resize import bicubic_upsample
from freqvsr.layers.blocks import ResidualBlocksWithInputConv
from freqvsr.layers.propagation import (
    add_basicvsr_modules,
    backward_features,
    basicvsr_reconstruct,
    forward_features,
    neighbour_flows,
)
from freqvsr.layers.spynet import SPyNet
from freqvsr.models._base import VSRModel
from freqvsr.models._keymap import BASICSR_SPYNET, BASICSR_TRUNKS, BASICSR_UPCONV, rename_keys
from freqvsr.models._registry import register_model

_PAPER = "Chan et al., BasicVSR: The Search for Essential Components in Video Super-Resolution and Beyond, CVPR 2021"


class BasicVSR(VSRModel):
    temporal = "sequence"
    # set by add_basicvsr_modules
    spynet: SPyNet
    backward_resblocks: ResidualBlocksWithInputConv
    forward_resblocks: ResidualBlocksWithInputConv
    conv_last: nn.Conv2d

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 30,
        skip: str = "bilinear",
        zero_init_last: bool = False,
        zero_init_flow: bool = False,
    ) -> None:
        super().__init__(scale=4, in_channels=3)
        if skip not in ("bilinear", "bicubic"):
            raise ValueError(f"skip must be 'bilinear' or 'bicubic', got {skip!r}")
        self.mid_channels = mid_channels
        self.skip = skip
        add_basicvsr_modules(self, mid_channels, num_blocks, zero_init_flow)
        if zero_init_last:
            assert self.conv_last.bias is not None  # built with bias=True
            nn.init.zeros_(self.conv_last.weight)
            nn.init.zeros_(self.conv_last.bias)

    def lr_multipliers(self) -> dict[str, float]:
        # The official recipe trains SPyNet with 1/8 of the base learning rate.
        return {"spynet": 0.125}

    def compute_flow(self, lqs: torch.Tensor) -> FlowPair:
        """Flows ``(B, T-1, 2, H, W)`` between neighbours.

        ``backward[:, i]`` warps frame i+1 onto frame i; ``forward[:, i]`` warps frame i onto i+1.
        """
        return neighbour_flows(self.spynet, lqs)

    def upsample(self, lq: torch.Tensor, feat_backward: torch.Tensor, feat_forward: torch.Tensor) -> torch.Tensor:
        """Reconstruct one frame ``(B, 3, 4H, 4W)`` from its two propagated features."""
        out = basicvsr_reconstruct(self, feat_backward, feat_forward)
        if self.skip == "bicubic":
            return out + bicubic_upsample(lq, 4)
        return out + F.interpolate(lq, scale_factor=4, mode="bilinear", align_corners=False)

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3, H, W)`` RGB in [0, 1] -> ``(B, T, 3, 4H, 4W)`` (not clamped)."""
        self.check_input(lq)
        flows = self.compute_flow(lq) if lq.shape[1] > 1 else FlowPair.empty(lq)

        # Backward pass (frame t sees t+1 .. T-1), then the forward pass, reconstructing each frame
        # as soon as both of its features exist.
        backward_feats = backward_features(lq, flows.backward, self.backward_resblocks, self.mid_channels)
        outputs = []
        for i, feat in enumerate(forward_features(lq, flows.forward, self.forward_resblocks, self.mid_channels)):
            outputs.append(self.upsample(lq[:, i], backward_feats[i], feat))
        return torch.stack(outputs, dim=1)

    # -- official checkpoints -------------------------------------------------------------------

    # BasicSR (basicsr/archs/basicvsr_arch.py) names the same modules differently.
    _BASICSR_RENAMES = (BASICSR_SPYNET, BASICSR_TRUNKS, BASICSR_UPCONV)

    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map an official state dict (mmediting or BasicSR layout, prefixes stripped) to ours."""
        return rename_keys(state_dict, cls._BASICSR_RENAMES)


# -- variants ------------------------------------------------------------------------------------

register_model(
    "basicvsr",
    BasicVSR,
    {"mid_channels": 64, "num_blocks": 30},
    description="BasicVSR as in the paper (64 channels, 30 blocks per direction)",
    paper=_PAPER,
)
register_model(
    "basicvsr.small",
    BasicVSR,
    {"mid_channels": 32, "num_blocks": 10},
    description="BasicVSR, 32 channels, 10 blocks per direction",
    paper=_PAPER,
)
register_model(
    "basicvsr.small.mix",
    BasicVSR,
    {"mid_channels": 32, "num_blocks": 10, "skip": "bicubic", "zero_init_flow": True},
    description="BasicVSR-small trained here on 2 CPU cores (DATA.md corpus, FTVSR clean/H.264 mixture); "
    "the first default model, the zoo's BasicVSR baseline (configs/default_corpus_cpu.yaml)",
    paper=_PAPER,
    weights="basicvsr_small_mix.safetensors",
)
register_model(
    "basicvsr.tiny",
    BasicVSR,
    {"mid_channels": 8, "num_blocks": 1},
    description="BasicVSR, 8 channels, 1 block (for tests)",
    paper=_PAPER,
)
