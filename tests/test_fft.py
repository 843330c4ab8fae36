"""functional.fft: spectrum channel layout and the Gaussian band-pass decoupler (FCVSR)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from freqvsr.functional.fft import (
    OFFICIAL_MASK_BASE,
    _gaussian_stack,
    _official_base_masks,
    gaussian_band_masks,
    real_spectrum_channels,
    spectrum_channels_to_image,
    split_frequency_bands,
)


def test_spectrum_channels_imag_first():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 10)
    spec = torch.fft.rfft2(x)
    ch = real_spectrum_channels(x)
    assert ch.shape == (2, 6, 8, 6)
    assert torch.equal(ch[:, :3], spec.imag) and torch.equal(ch[:, 3:], spec.real)
    assert torch.equal(real_spectrum_channels(x, imag_first=False)[:, :3], spec.real)


def test_inverse_reads_first_half_as_real():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 8, 12)
    spec = torch.fft.rfft2(x)
    back = spectrum_channels_to_image(torch.cat((spec.real, spec.imag), 1), (8, 12))
    torch.testing.assert_close(back, x, atol=1e-5, rtol=0)
    # Feeding the forward layout straight back swaps the parts and does *not* give x.
    assert not torch.allclose(spectrum_channels_to_image(real_spectrum_channels(x), (8, 12)), x, atol=1e-2)


def test_official_masks_are_difference_of_gaussians():
    q = 4
    base = _official_base_masks(q, OFFICIAL_MASK_BASE)
    gauss = _gaussian_stack(q, OFFICIAL_MASK_BASE)
    assert base.shape == (q, 1024, 1024) and base.dtype == torch.float32
    torch.testing.assert_close(base[0], gauss[0], atol=0, rtol=0)
    for n in range(1, q):
        assert (base[n] - (gauss[n] - gauss[n - 1])).abs().max() <= 2e-7
    # The bands sum to the widest Gaussian, not to 1: 1 at DC, exp(-1/2 * (d/L/Q)^2) at the corner.
    total = base.sum(0)
    assert abs(total[512, 512].item() - 1.0) < 1e-6
    assert abs(total[0, 0].item() - math.exp(-0.5)) < 1e-4
    # Index 0 is the low-pass band (narrow Gaussian at DC); the last band peaks away from DC.
    assert base[0, 512, 512] == 1.0 and base[-1, 512, 512].abs() < 1e-6


def test_official_masks_resized_bicubic_without_antialias():
    q, h, w = 4, 48, 80
    masks = gaussian_band_masks(q, h, w)
    base = _official_base_masks(q, OFFICIAL_MASK_BASE)
    ref = F.interpolate(base[None], size=(h, w), mode="bicubic", align_corners=False, antialias=False)[0]
    assert torch.equal(masks, ref)
    anti = F.interpolate(base[None], size=(h, w), mode="bicubic", align_corners=False, antialias=True)[0]
    assert (masks - anti).abs().max() > 1e-4  # small but far above float noise
    assert gaussian_band_masks(q, h, w) is masks  # cached per size


def test_direct_masks_are_centred():
    masks = gaussian_band_masks(3, 16, 24, mode="direct")
    assert masks.shape == (3, 16, 24)
    assert masks[0].argmax().item() == 8 * 24 + 12  # the fftshift centre
    torch.testing.assert_close(masks.sum(0)[8, 12], torch.tensor(1.0))
    with pytest.raises(ValueError):
        gaussian_band_masks(3, 16, 24, mode="paper")


def test_split_is_linear_band_pass():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16)
    m = gaussian_band_masks(2, 16, 16)
    complement = torch.stack([m[0], 1 - m[0]])
    bands = split_frequency_bands(x, complement)
    assert bands.shape == (2, 2, 3, 16, 16)
    torch.testing.assert_close(bands.sum(0), x, atol=1e-5, rtol=0)  # masks summing to 1 give x back
    # A constant image lives at DC only: the low band keeps it (mask value at the centre), higher bands don't.
    const = torch.full((1, 1, 16, 16), 2.0)
    b = split_frequency_bands(const, m)
    torch.testing.assert_close(b[0], const * m[0, 8, 8], atol=1e-5, rtol=0)
    torch.testing.assert_close(b[1], const * m[1, 8, 8], atol=1e-5, rtol=0)
    # A Nyquist checkerboard is a corner frequency: the low band removes almost all of it.
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1.0
    bands8 = split_frequency_bands(checker[None, None].float(), gaussian_band_masks(8, 16, 16))
    assert bands8[0].abs().max() < 1e-6 and bands8[-1].abs().max() > 0.05


def test_half_precision_inputs_are_transformed_in_float32():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 10)
    for dtype in (torch.float16, torch.bfloat16):
        xl = x.to(dtype)
        ch = real_spectrum_channels(xl)
        assert ch.dtype == dtype
        torch.testing.assert_close(ch.float(), real_spectrum_channels(xl.float()).to(dtype).float())
        back = spectrum_channels_to_image(ch, (6, 10))
        assert back.dtype == dtype and back.shape == (1, 2, 6, 10)
        bands = split_frequency_bands(xl, gaussian_band_masks(2, 6, 10))
        assert bands.dtype == dtype and bands.shape == (2, 1, 2, 6, 10)
