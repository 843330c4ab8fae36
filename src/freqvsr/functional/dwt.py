"""One-level orthonormal 2-D Haar wavelet transform. Pure tensor maths.

For each 2x2 block ``[[x00, x01], [x10, x11]]`` (rows, columns):

* ``LL = (x00 + x01 + x10 + x11) / 2``  approximation (low-pass both ways)
* ``LH = (x00 + x01 - x10 - x11) / 2``  low-pass along width, high-pass along height: horizontal edges
* ``HL = (x00 - x01 + x10 - x11) / 2``  high-pass along width, low-pass along height: vertical edges
* ``HH = (x00 - x01 - x10 + x11) / 2``  diagonal detail

The transform is orthonormal (energy preserving), the same coefficients as
``pytorch_wavelets.DWTForward(J=1, wave="haar")`` up to the naming and sign of the detail bands.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def haar_dwt(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(..., H, W)`` -> ``(LL, LH, HL, HH)``, each ``(..., ceil(H/2), ceil(W/2))``.

    An odd H or W is first extended by repeating the last row/column (half-sample symmetric
    padding), so the extra half-block adds no artificial edge to the detail bands.
    """
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        lead = x.shape[:-2]
        flat = x.reshape(-1, 1, h, w)
        flat = F.pad(flat, (0, w % 2, 0, h % 2), mode="replicate")
        x = flat.reshape(*lead, h + h % 2, w + w % 2)
    x00, x01 = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    x10, x11 = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    ll = (x00 + x01 + x10 + x11) * 0.5
    lh = (x00 + x01 - x10 - x11) * 0.5
    hl = (x00 - x01 + x10 - x11) * 0.5
    hh = (x00 - x01 - x10 + x11) * 0.5
    return ll, lh, hl, hh


def haar_idwt(ll: torch.Tensor, lh: torch.Tensor, hl: torch.Tensor, hh: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`haar_dwt` for even sizes: four ``(..., h, w)`` bands -> ``(..., 2h, 2w)``."""
    x00 = (ll + lh + hl + hh) * 0.5
    x01 = (ll + lh - hl - hh) * 0.5
    x10 = (ll - lh + hl - hh) * 0.5
    x11 = (ll - lh - hl + hh) * 0.5
    top = torch.stack((x00, x01), dim=-1).flatten(-2)  # interleave columns
    bottom = torch.stack((x10, x11), dim=-1).flatten(-2)
    return torch.stack((top, bottom), dim=-2).flatten(-3, -2)  # interleave rows
