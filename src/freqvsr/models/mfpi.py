"""MFPI: BasicVSR++ with spatial-frequency (SFE) and energy-frequency (EFE) representation enhancement.

Paper: F. Li, L. Zhang, Z. Liu, J. Lei, Z. Li, "Multi-frequency Representation Enhancement with
Privilege Information for Video Super-Resolution", ICCV 2023. **No official code exists**; the
only public facts are the survey slides' tables (``docs/architectures.md``, MFPI). This file is an
*interpretation*: it claims no numerical equivalence with the paper, and every unknown is a
constructor argument whose default and reason are listed below.

What the tables fix: the base is BasicVSR++ c64n7 unchanged (7.32 M, 280.59 G at the paper's
protocol); SFE = FFT -> learnable filter -> (inverse FFT) -> InstanceNorm -> depth-wise 21x21 conv
(+0.02 M, +0.17 G); EFE = DCT -> learnable filter on the coefficients -> "energy function" ->
depth-wise 11x11 conv (+0.01 M, +0.09 G); both: +0.02 M, +0.27 G. "Aux" (+0.39 G, inputs unknown)
and the training-only parts (privileged-information teacher, KD, pre-training) are not built.

The budget is what shapes this design: a 64-channel depth-wise 21x21 conv alone has 28,288
parameters and costs 28,288 operations per LR pixel, both far above the tables. At the paper's
protocol (below) a DW 21x21 + IN over **7** channels costs 444 x 7 = 3,108 per pixel (+0.18 G)
and a DW 11x11 over **13** channels 122 x 13 = 1,586 (+0.09 G): together 4,694 (+0.270 G), the
table's +0.27 G. So each module enhances a slice of the channels (the idea of FasterNet's partial
convolution; the trunk can route into the slice whatever benefits), and the parameters left for
SFE's learnable filter (12.1k-20k) fit a real per-channel filter on the 64x33 rfft grid of the
64x64 LR training patch (7 x 64 x 33 = 14,784).

Flags (default; why):

``sfe``, ``efe`` (True, True)
    Switch each module off for the ablation rows 2-3; with both False this *is* BasicVSR++ (same
    keys, same numbers: the BasicVSR++ golden data applies, ``docs/golden.md``).
``placement`` ("spatial")
    Where the modules act: "spatial" enhances every frame's extracted feature before propagation
    (all four branches and the reconstruction see it), "reconstruction" enhances the
    reconstruction trunk's output before up-sampling. Both run once per frame at LR, 64 channels,
    so both give the same complexity; the paper's figures do not say which.
``sfe_channels`` (7), ``efe_channels`` (13)
    Channel slices ``[0, 7)`` and ``[7, 20)``: the widths whose counted cost matches the tables.
``sfe_kernel`` (21), ``efe_kernel`` (11)
    The best rows of the SFE / EFE ablations.
``sfe_filter`` ("real"), ``sfe_filter_size`` (64)
    A real (zero-phase: it rescales frequencies without shifting features) per-channel gain on the
    ``rfft2`` grid of a ``sfe_filter_size``-square map, bilinearly resized over the (centred)
    frequency plane for other sizes (GFNet-H's practice). "complex" doubles the parameters
    (2 x 14,784: over the +0.02 M budget). Initialised to 1 (identity filter).
``fft_norm`` ("ortho")
    Keeps the spectrum's scale independent of the feature size.
``dct_block`` (8)
    Orthonormal 8x8 block DCT (JPEG / FTVSR convention, ``functional/dct.py``); the filter is one
    gain per channel and coefficient (13 x 64 = 832 parameters), initialised to 1. Maps whose
    size is not a multiple of 8 are edge-padded for the transform and cropped back.
``energy`` ("simam"), ``energy_lambda`` (1e-4)
    The "energy function" is read as SimAM's minimal neuron energy (an unverified guess):
    ``x * sigmoid((x - mu)^2 / (4 (var + lambda)) + 1/2)`` per channel over the frame, applied to
    the DCT-filtered feature. "none" skips it.
``merge`` ("residual"), ``zero_init`` (True)
    The slice is updated as ``slice + module(slice)`` with the module's last (depth-wise) conv
    initialised to zero, so an untrained MFPI computes exactly BasicVSR++ and a BasicVSR++
    checkpoint (loaded with ``strict=False``) is a valid starting point. "replace" uses
    ``module(slice)`` alone (we read the ablation's "+ original feature" row as not kept).

Complexity at the paper's protocol (:func:`paper_protocol_flops`: one 180x320 LR frame, t = 1 so
no alignment or SPyNet runs; counted: convolution multiply-adds + one per output element of a
biased conv + one per element into ReLU / LeakyReLU + one (two with affine) per element into a
normalisation + one per bilinear-upsampling output; not counted: FFT / DCT transforms, element-wise
products, sigmoid, additions -- the ptflops / mmcv module-hook count under which BasicVSR++ is
280,588,492,800). ``python -c "import freqvsr.models.mfpi as m; m._complexity_table()"`` prints:

================  ===========  ================  ==================  ======================
variant           params       delta params      paper-protocol      survey table
================  ===========  ================  ==================  ======================
``basicvsr++``    7,322,927    --                280.588 G           7.32 M / 280.59 G
``mfpi.sfe``      7,340,819    +17,892           280.768 G (+0.179)  7.34 M / 280.76 G
``mfpi.efe``      7,325,345    +2,418            280.680 G (+0.091)  7.33 M / 280.68 G
``mfpi``          7,343,237    +20,310           280.859 G (+0.271)  7.34 M / 280.86 G
================  ===========  ================  ==================  ======================

(The SFE filter resize, 7 x 180 x 161 bilinear outputs, adds 0.0002 G to the SFE rows. SFE: 7 x 64 x 33
filter + 7 x (441 + 1) DW conv + 14 IN = 17,892 parameters; EFE: 13 x 64 filter + 13 x (121 + 1) DW
conv = 2,418.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import ModelError
from freqvsr.functional.dct import block_dct2d, block_idct2d, crop_to, pad_to_multiple
from freqvsr.models._registry import register_model
from freqvsr.models.basicvsrpp import BasicVSRPlusPlus

PAPER = (
    "Li et al., Multi-frequency Representation Enhancement with Privilege Information for Video "
    "Super-Resolution, ICCV 2023 (interpretation: no official code)"
)


class SpatialFrequencyEnhancement(nn.Module):
    """SFE on ``(N, C, H, W)``: rfft2 -> learnable gain per channel and frequency -> irfft2 ->
    InstanceNorm (affine) -> depth-wise ``kernel`` x ``kernel`` conv. Returns the branch output
    (the caller merges it)."""

    def __init__(
        self,
        channels: int,
        kernel: int = 21,
        filter_size: int = 64,
        filter_kind: str = "real",
        fft_norm: str = "ortho",
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        if filter_kind not in ("real", "complex"):
            raise ModelError(f"sfe_filter must be 'real' or 'complex', got {filter_kind!r}")
        self.filter_size, self.filter_kind, self.fft_norm = filter_size, filter_kind, fft_norm
        shape = (channels, filter_size, filter_size // 2 + 1) + ((2,) if filter_kind == "complex" else ())
        weight = torch.ones(shape)
        if filter_kind == "complex":
            weight[..., 1] = 0  # 1 + 0j: the identity filter
        self.filter = nn.Parameter(weight)
        self.norm = nn.InstanceNorm2d(channels, affine=True)
        self.conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        if zero_init:
            assert self.conv.bias is not None  # built with bias=True
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)

    def spectral_gain(self, h: int, w: int) -> torch.Tensor:
        """The filter on the ``rfft2`` grid of an h x w map: ``(C, h, w//2+1)`` real or complex."""
        g = self.filter if self.filter_kind == "real" else torch.view_as_complex(self.filter)
        if (h, w // 2 + 1) == tuple(g.shape[1:3]):
            return g
        parts = g.unsqueeze(0) if self.filter_kind == "real" else torch.stack([g.real, g.imag], 0)
        # resize over the centred frequency plane (fftshift along H; the rfft W axis is already 0..Nyquist)
        centred = torch.fft.fftshift(parts, dim=-2)
        resized = F.interpolate(centred, size=(h, w // 2 + 1), mode="bilinear", align_corners=True)
        resized = torch.fft.ifftshift(resized, dim=-2)
        return resized[0] if self.filter_kind == "real" else torch.complex(resized[0], resized[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        dtype = x.dtype
        xf = x.float() if dtype in (torch.float16, torch.bfloat16) else x  # FFT in >= float32
        spec = torch.fft.rfft2(xf, norm=self.fft_norm)
        y = torch.fft.irfft2(spec * self.spectral_gain(h, w), s=(h, w), norm=self.fft_norm).to(dtype)
        result: torch.Tensor = self.conv(self.norm(y))
        return result


def simam_energy(x: torch.Tensor, lam: float = 1e-4) -> torch.Tensor:
    """SimAM's energy weighting of ``(N, C, H, W)``: ``x * sigmoid(d / (4 (var + lam)) + 0.5)``,
    ``d = (x - mean)^2`` per channel, ``var = sum(d) / (H*W - 1)``."""
    d = (x - x.mean(dim=(-2, -1), keepdim=True)).pow(2)
    var = d.sum(dim=(-2, -1), keepdim=True) / max(1, x.shape[-2] * x.shape[-1] - 1)
    return x * torch.sigmoid(d / (4 * (var + lam)) + 0.5)


class EnergyFrequencyEnhancement(nn.Module):
    """EFE on ``(N, C, H, W)``: block DCT -> learnable gain per channel and coefficient -> inverse
    DCT -> energy weighting -> depth-wise ``kernel`` x ``kernel`` conv. Returns the branch output."""

    def __init__(
        self,
        channels: int,
        kernel: int = 11,
        block: int = 8,
        energy: str = "simam",
        energy_lambda: float = 1e-4,
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        if energy not in ("simam", "none"):
            raise ModelError(f"energy must be 'simam' or 'none', got {energy!r}")
        self.block, self.energy, self.energy_lambda = block, energy, energy_lambda
        self.filter = nn.Parameter(torch.ones(channels, block * block))
        self.conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        if zero_init:
            assert self.conv.bias is not None  # built with bias=True
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        padded, _ = pad_to_multiple(x, self.block)
        coeffs = block_dct2d(padded, self.block)  # (N, C, B*B, h/B, w/B)
        y = crop_to(block_idct2d(coeffs * self.filter[:, :, None, None], self.block), (h, w))
        if self.energy == "simam":
            y = simam_energy(y, self.energy_lambda)
        result: torch.Tensor = self.conv(y)
        return result


class MFPI(BasicVSRPlusPlus):
    """BasicVSR++ + SFE + EFE (our interpretation). ``forward(lq)``: ``(B, T, 3, H, W)`` -> ``(B, T, 3, 4H, 4W)``.

    The BasicVSR++ arguments keep their meaning; see the module docstring for the MFPI flags.
    """

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 7,
        max_residue_magnitude: float = 10.0,
        deform_groups: int = 16,
        sfe: bool = True,
        efe: bool = True,
        placement: str = "spatial",
        sfe_channels: int = 7,
        efe_channels: int = 13,
        sfe_kernel: int = 21,
        efe_kernel: int = 11,
        sfe_filter: str = "real",
        sfe_filter_size: int = 64,
        fft_norm: str = "ortho",
        dct_block: int = 8,
        energy: str = "simam",
        energy_lambda: float = 1e-4,
        merge: str = "residual",
        zero_init: bool = True,
    ) -> None:
        super().__init__(mid_channels, num_blocks, max_residue_magnitude, deform_groups)
        if placement not in ("spatial", "reconstruction"):
            raise ModelError(f"placement must be 'spatial' or 'reconstruction', got {placement!r}")
        if merge not in ("residual", "replace"):
            raise ModelError(f"merge must be 'residual' or 'replace', got {merge!r}")
        used = (sfe_channels if sfe else 0) + (efe_channels if efe else 0)
        if used > mid_channels:
            raise ModelError(f"sfe_channels + efe_channels ({used}) exceed mid_channels ({mid_channels})")
        self.placement, self.merge = placement, merge
        self.sfe_slice = (0, sfe_channels) if sfe else None
        self.efe_slice = ((sfe_channels if sfe else 0), (sfe_channels if sfe else 0) + efe_channels) if efe else None
        self.sfe = (
            SpatialFrequencyEnhancement(sfe_channels, sfe_kernel, sfe_filter_size, sfe_filter, fft_norm, zero_init)
            if sfe
            else None
        )
        self.efe = (
            EnergyFrequencyEnhancement(efe_channels, efe_kernel, dct_block, energy, energy_lambda, zero_init)
            if efe
            else None
        )

    def enhance(self, feat: torch.Tensor) -> torch.Tensor:
        """Apply SFE and EFE to their channel slices of ``(N, C, H, W)``; other channels pass through."""
        parts = []
        start = 0
        for module, sl in ((self.sfe, self.sfe_slice), (self.efe, self.efe_slice)):
            if module is None or sl is None:
                continue
            a, b = sl
            if a > start:
                parts.append(feat[:, start:a])
            out = module(feat[:, a:b])
            parts.append(feat[:, a:b] + out if self.merge == "residual" else out)
            start = b
        if not parts:
            return feat
        parts.append(feat[:, start:])
        return torch.cat(parts, dim=1)

    def spatial_features(self, frames: torch.Tensor) -> torch.Tensor:
        feat = super().spatial_features(frames)
        return self.enhance(feat) if self.placement == "spatial" else feat

    def reconstruct(self, streams: torch.Tensor) -> torch.Tensor:
        feat = super().reconstruct(streams)
        return self.enhance(feat) if self.placement == "reconstruction" else feat


# -- the paper's FLOP protocol -------------------------------------------------------------------


def paper_protocol_flops(model: nn.Module, height: int = 180, width: int = 320, frames: int = 1) -> int:
    """Operations of one forward at the survey tables' protocol (module docstring), on the meta device.

    Convolution multiply-adds + one per output element of a biased conv + one per element into
    ReLU / LeakyReLU + one (two with affine) per element into a batch/instance norm + one per
    bilinear-upsampling output. BasicVSR++ c64n7 at 180x320, t = 1: 280,588,492,800.
    """
    import copy

    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    acts = {aten.relu.default, aten.relu_.default, aten.leaky_relu.default, aten.leaky_relu_.default}
    norms = {
        aten.native_batch_norm.default,
        aten._native_batch_norm_legit.default,
        aten._native_batch_norm_legit_no_training.default,
    }
    upsamples = {aten.upsample_bilinear2d.default, aten.upsample_bilinear2d.vec}

    class Counter(TorchDispatchMode):  # type: ignore[no-untyped-call]  # torch's class is unannotated
        total = 0

        def __torch_dispatch__(
            self,
            func: Callable[..., Any],
            types: Collection[type],
            args: tuple[Any, ...] = (),
            kwargs: dict[str, Any] | None = None,
        ) -> Any:
            out = func(*args, **(kwargs or {}))
            packet = getattr(func, "overloadpacket", None)
            if packet is aten.convolution:
                weight, bias = args[1], args[2]
                macs = out.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3]
                Counter.total += macs + (out.numel() if bias is not None else 0)
            elif func in acts:
                Counter.total += args[0].numel()
            elif func in norms:
                Counter.total += args[0].numel() * (2 if args[1] is not None else 1)
            elif func in upsamples:
                Counter.total += out.numel()
            return out

    meta = copy.deepcopy(model).to("meta").eval()
    x = torch.rand(1, frames, 3, height, width, device="meta")
    with torch.no_grad(), Counter():  # type: ignore[no-untyped-call]  # TorchDispatchMode.__init__ is unannotated
        meta(x)
    return Counter.total


# -- variants ------------------------------------------------------------------------------------

_BASE: dict[str, Any] = {"mid_channels": 64, "num_blocks": 7}
register_model(
    "mfpi",
    MFPI,
    dict(_BASE),
    description="MFPI (interpretation, no official code): BasicVSR++ c64n7 + SFE + EFE",
    paper=PAPER,
)
register_model(
    "mfpi.sfe",
    MFPI,
    {**_BASE, "efe": False},
    description="MFPI ablation: BasicVSR++ + SFE only",
    paper=PAPER,
)
register_model(
    "mfpi.efe",
    MFPI,
    {**_BASE, "sfe": False},
    description="MFPI ablation: BasicVSR++ + EFE only",
    paper=PAPER,
)
register_model(
    "mfpi.small",
    MFPI,
    {"mid_channels": 32, "num_blocks": 3},
    description="MFPI on BasicVSR++-small (32 channels, 3 blocks)",
    paper=PAPER,
)
# Tiny: the modules are not zero-initialised, so their filters get a gradient in the registry test.
register_model(
    "mfpi.tiny",
    MFPI,
    {
        "mid_channels": 8,
        "num_blocks": 1,
        "sfe_channels": 2,
        "efe_channels": 2,
        "sfe_filter_size": 8,
        "zero_init": False,
    },
    description="MFPI, 8 channels, 1 block (for tests)",
    paper=PAPER,
)


def _complexity_table() -> None:  # pragma: no cover - manual tool (see the module docstring)
    from freqvsr.models._registry import get_spec

    base = None
    for name in ("basicvsr++", "mfpi.sfe", "mfpi.efe", "mfpi"):
        spec = get_spec(name)
        with torch.device("meta"):
            model = spec.builder(**spec.args)
        params = sum(p.numel() for p in model.parameters())
        flops = paper_protocol_flops(model)
        base = base or (params, flops)
        print(
            f"{name:12s} params {params:,} ({params - base[0]:+,})  paper-protocol {flops / 1e9:.3f} G "
            f"({(flops - base[1]) / 1e9:+.3f})"
        )
