"""FFT helpers for the frequency-domain networks. Pure tensor maths.

Two groups of functions, both used by FCVSR (``models/fcvsr.py``):

* **Spectrum channel layout** of the motion estimator: ``real_spectrum_channels`` stacks the
  imaginary and real parts of ``rfft2`` along channels, ``spectrum_channels_to_image`` reads
  a 2-offset 4-channel map back as a complex half spectrum and inverts it.
* **Gaussian band-pass decoupler** of the multi-frequency refinement: ``gaussian_band_masks``
  builds Q radial masks (index 0 = lowest band) and ``split_frequency_bands`` cuts a feature map
  into the Q band-pass components with a centred full FFT.

Shapes: feature maps are ``(B, C, H, W)`` real float; masks are ``(Q, H, W)``. Half-precision
inputs are transformed in float32 (cuFFT's half path only takes power-of-two sizes) and the results
are cast back to the input dtype.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

# FCVSR builds its masks on this grid and resizes them to every feature size (see
# ``gaussian_band_masks``); the official checkpoints were trained with that construction.
OFFICIAL_MASK_BASE = 1024


_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _fft_dtype(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in _LOW_PRECISION else x


def real_spectrum_channels(x: torch.Tensor, imag_first: bool = True) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, 2C, H, W//2+1)``: the parts of ``rfft2(x)`` stacked on channels.

    FCVSR's released code puts the imaginary part first (``imag_first=True``); that order is a
    channel permutation the trained 1x1 convs depend on. Norm is torch's default "backward".
    """
    spec = torch.fft.rfft2(_fft_dtype(x))
    parts = (spec.imag, spec.real) if imag_first else (spec.real, spec.imag)
    return torch.cat(parts, dim=1).to(x.dtype)


def spectrum_channels_to_image(g: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, 2K, H, W//2+1)`` -> ``(B, K, H, W)``: ``irfft2(g[:, :K] + i*g[:, K:], s=size)``.

    The first half is the real part (note: the opposite of ``real_spectrum_channels``'s default;
    both orders are what FCVSR's code does). Default "backward" norm, i.e. divides by H*W.
    """
    k = g.shape[1] // 2
    g32 = _fft_dtype(g)
    result: torch.Tensor = torch.fft.irfft2(torch.complex(g32[:, :k], g32[:, k:]), s=size).to(g.dtype)
    return result


def _gaussian_stack(num_bands: int, size: int) -> torch.Tensor:
    """``G_n(i, j) = exp(-((i-c)^2 + (j-c)^2) / (2 (L (n+1))^2))``, c = size/2, L = |c, c| / Q.

    Built in float64 and cast to float32 per mask, as the official code does.
    """
    centre = size // 2
    step = math.sqrt(centre**2 + centre**2) / num_bands
    idx = torch.arange(size, dtype=torch.float64, device="cpu") - centre
    dist2 = idx[:, None] ** 2 + idx[None, :] ** 2
    return torch.stack([torch.exp(-dist2 / (2.0 * (step * (n + 1)) ** 2)).float() for n in range(num_bands)])


@functools.lru_cache(maxsize=4)
def _official_base_masks(num_bands: int, size: int) -> torch.Tensor:
    gauss = _gaussian_stack(num_bands, size)
    bands: list[torch.Tensor] = []
    for n in range(num_bands):
        # P_n = G_n - sum_{m<n} P_m, subtracted one mask at a time in float32 (telescopes to the
        # difference of Gaussians G_n - G_{n-1} up to rounding); the order keeps it bit-exact.
        band = gauss[n].clone()
        for prev in bands:
            band = band - prev
        bands.append(band)
    return torch.stack(bands)


@functools.lru_cache(maxsize=16)
def _cached_masks(num_bands: int, height: int, width: int, mode: str) -> torch.Tensor:
    if mode == "official":
        base = _official_base_masks(num_bands, OFFICIAL_MASK_BASE)
        # torchvision 0.14's tensor Resize == bicubic, align_corners=False, no antialias. The
        # resize puts the centre slightly off the fftshift centre and makes the bands anisotropic
        # when H != W; the trained weights expect exactly that.
        return F.interpolate(base[None], size=(height, width), mode="bicubic", align_corners=False, antialias=False)[0]
    if mode == "direct":
        # The same difference-of-Gaussians bands, evaluated at the feature size (centred on the
        # fftshift centre, sigma scaled by the smaller side so the bands stay isotropic).
        size = min(height, width)
        centre_y, centre_x = height // 2, width // 2
        step = math.sqrt(2.0) * (size / 2) / num_bands
        iy = torch.arange(height, dtype=torch.float64, device="cpu") - centre_y
        ix = torch.arange(width, dtype=torch.float64, device="cpu") - centre_x
        dist2 = iy[:, None] ** 2 + ix[None, :] ** 2
        gauss = torch.stack([torch.exp(-dist2 / (2.0 * (step * (n + 1)) ** 2)) for n in range(num_bands)])
        lower = torch.cat([torch.zeros_like(gauss[:1]), gauss[:-1]])
        return (gauss - lower).float()
    raise ValueError(f"unknown band-mask mode {mode!r}; expected 'official' or 'direct'")


def gaussian_band_masks(num_bands: int, height: int, width: int, mode: str = "official") -> torch.Tensor:
    """``(Q, H, W)`` float32 band-pass masks for a centred (fftshifted) spectrum; index 0 is lowest.

    ``mode="official"`` (FCVSR's released code): difference-of-Gaussians bands ``G_n - G_{n-1}``
    built at 1024x1024 with ``L = sqrt(512^2 + 512^2) / Q`` and resized bicubically (no
    antialias) to ``(H, W)``. ``mode="direct"``: the same bands evaluated at ``(H, W)``, isotropic and
    exactly centred. In both modes the bands sum to ``G_{Q-1}``, not to 1 (as in the code).
    Results are cached per arguments; treat the returned tensor as read-only.
    """
    return _cached_masks(int(num_bands), int(height), int(width), mode)


def split_frequency_bands(x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(Q, B, C, H, W)``: ``Re(ifft2(ifftshift(fftshift(fft2(x)) * M_q)))``.

    A full complex FFT over (H, W) with the default "backward" norm; ``masks`` is ``(Q, H, W)``
    on the same device as ``x``.
    """
    spec = torch.fft.fftshift(torch.fft.fft2(_fft_dtype(x)), dim=(-2, -1))
    bands = []
    for mask in masks:  # one band at a time keeps the complex temporaries at one (B, C, H, W) copy
        masked = torch.fft.ifftshift(spec * mask.to(spec.real.dtype), dim=(-2, -1))
        bands.append(torch.fft.ifft2(masked).real.to(x.dtype))
    return torch.stack(bands)
