"""FCVSR's multi-frequency feature refinement (MFFR): Gaussian band-pass decoupler, per-band
enhancers with feed-forward and feedback terms, and a channel-attention aggregator.

Follows the released code (``docs/architectures.md``, FCVSR MFFR); the paper's text differs in the places
listed on :class:`MultiFrequencyRefinement`.
"""

from __future__ import annotations

import torch
from torch import nn

from freqvsr.functional.fft import gaussian_band_masks, split_frequency_bands
from freqvsr.layers.channel_attention import ChannelAttention


class BandEnhancer(nn.Module):
    """A learned modulation of one band, ``CA(0.2*a*drive*band + b*band)`` (official ``DivEnh``).

    ``conv`` is a 3x3 conv the released forward never runs (its lines are commented out); it is
    kept so official checkpoints load and parameter counts match. ``use_conv=True`` runs it on the
    modulated band before the channel attention, our reading of the paper's enhancer (no reference).
    """

    def __init__(self, channels: int, use_conv: bool = False) -> None:
        super().__init__()
        self.use_conv = use_conv
        self.a = nn.Parameter(torch.zeros(channels, 1, 1))
        self.b = nn.Parameter(torch.ones(channels, 1, 1))
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.attention = ChannelAttention(channels, reduction=16)

    def forward(self, drive: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
        y = 0.2 * self.a * drive * band + self.b * band
        result: torch.Tensor = self.attention(self.conv(y) if self.use_conv else y)
        return result


class MultiFrequencyRefinement(nn.Module):
    """(B, C, H, W) -> (B, C, H, W): ``CA(sum_i E_i) + x`` over Q band-pass components of ``x``.

    With the bands in processing order S'_0..S'_{Q-1}:
    ``E_0 = enh_0(S'_0 - mean_hw(S'_0), S'_0)`` (the "mean filter" band) and, for i >= 1, with
    ``Xs = sum_{m<i} S'_m``, ``Es = sum_{m<i} E_m``:
    ``E_i = enh_i(S'_i - Xs + 0.2*Es, S'_i) + enh_i(Es, S'_i)`` (feed-forward + feedback terms).

    Official behaviour by default, each with a flag:

    * ``high_to_low=True``: processing starts from the *highest* band (the code's ``freq_rev``
      reverses the list although its comment says "low to high"), so the mean-filter enhancer gets
      the highest band. ``False`` starts from the lowest band, as in the paper.
    * ``mask_mode="official"``: difference-of-Gaussians masks built at 1024x1024 and resized
      bicubically; ``"direct"`` evaluates them at (H, W) (see ``gaussian_band_masks``).
    * ``enhancer_conv=False``: the enhancers' 3x3 convs are dead weights; ``True`` runs them.
    """

    def __init__(
        self,
        channels: int = 64,
        num_bands: int = 8,
        high_to_low: bool = True,
        mask_mode: str = "official",
        enhancer_conv: bool = False,
    ) -> None:
        super().__init__()
        if mask_mode not in ("official", "direct"):
            raise ValueError(f"mask_mode must be 'official' or 'direct', got {mask_mode!r}")
        self.num_bands, self.high_to_low, self.mask_mode = num_bands, high_to_low, mask_mode
        self.enhancers = nn.ModuleList(BandEnhancer(channels, enhancer_conv) for _ in range(num_bands))
        self.aggregator = ChannelAttention(channels, reduction=16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        masks = gaussian_band_masks(self.num_bands, x.shape[-2], x.shape[-1], self.mask_mode)
        bands = list(split_frequency_bands(x, masks.to(device=x.device, dtype=x.dtype)))
        if self.high_to_low:
            bands = bands[::-1]
        first = bands[0]
        enhanced = [self.enhancers[0](first - first.mean(dim=(-2, -1), keepdim=True), first)]
        band_sum, enh_sum = first, enhanced[0]
        for i in range(1, self.num_bands):
            band = bands[i]
            enh = self.enhancers[i]
            e = enh(band - band_sum + 0.2 * enh_sum, band) + enh(enh_sum, band)
            enhanced.append(e)
            band_sum, enh_sum = band_sum + band, enh_sum + e
        result: torch.Tensor = self.aggregator(enh_sum) + x
        return result
