"""Haar DWT and FCVSR's paper-only frequency-aware contrastive loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from freqvsr.functional.dwt import haar_dwt, haar_idwt
from freqvsr.losses.frequency_contrastive import (
    FrequencyContrastiveLoss,
    frequency_contrastive_loss,
    frequency_contrastive_terms,
)


def test_haar_is_orthonormal_and_invertible():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    bands = haar_dwt(x)
    assert all(b.shape == (2, 3, 4, 3) for b in bands)
    torch.testing.assert_close(sum(b.square().sum() for b in bands), x.square().sum())
    torch.testing.assert_close(haar_idwt(*bands), x)


def test_haar_band_meaning():
    flat = torch.ones(1, 1, 4, 4)
    ll, lh, hl, hh = haar_dwt(flat)
    assert torch.equal(ll, torch.full_like(ll, 2.0)) and not lh.any() and not hl.any() and not hh.any()
    rows = torch.tensor([1.0, -1.0]).repeat(2)[:, None].expand(4, 4)[None, None]  # alternating rows
    _, lh, hl, hh = haar_dwt(rows)
    assert lh.abs().min() == 2.0 and not hl.any() and not hh.any()  # horizontal edges -> LH
    _, lh, hl, hh = haar_dwt(rows.transpose(-1, -2))
    assert hl.abs().min() == 2.0 and not lh.any() and not hh.any()  # vertical edges -> HL
    assert haar_dwt(torch.rand(1, 1, 5, 7))[0].shape == (1, 1, 3, 4)  # odd sizes are padded


def _scene(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    hr = torch.rand(2, 3, 32, 32, generator=g)
    lq = F.avg_pool2d(hr, 4)  # the LQ frame: no high frequencies left after bilinear upsampling
    up = F.interpolate(lq, scale_factor=4, mode="bilinear", align_corners=False)
    return hr, lq, up


def _high_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    return sum((x - y).abs().mean().item() for x, y in zip(haar_dwt(a)[1:], haar_dwt(b)[1:]))


def test_gradient_moves_high_bands_toward_hr_and_away_from_up():
    hr, lq, up = _scene()
    sr = (0.5 * hr + 0.5 * up).requires_grad_(True)  # halfway between the blurry and the sharp frame
    d_hr0, d_up0 = _high_distance(sr, hr), _high_distance(sr, up)
    opt = torch.optim.SGD([sr], lr=20.0)
    for _ in range(5):
        opt.zero_grad()
        high, _ = frequency_contrastive_terms(sr, hr, lq)
        high.backward()
        opt.step()
    assert _high_distance(sr, hr) < 0.9 * d_hr0
    assert _high_distance(sr, up) > 1.05 * d_up0


def test_loss_prefers_hr_over_blurry_and_is_differentiable():
    hr, lq, up = _scene(1)
    assert frequency_contrastive_loss(hr, hr, lq) < frequency_contrastive_loss(up, hr, lq)
    # Only SR gets a gradient; HR and the LQ frame are constants.
    sr = up.clone().requires_grad_(True)
    hr_req, lq_req = hr.clone().requires_grad_(True), lq.clone().requires_grad_(True)
    FrequencyContrastiveLoss(temperature=0.5)(sr, hr_req, lq_req).backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0
    assert hr_req.grad is None and lq_req.grad is None


def test_gradcheck_float64():
    torch.manual_seed(0)
    sr = torch.rand(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    hr = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    lq = torch.rand(1, 1, 2, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s: frequency_contrastive_loss(s, hr, lq, 0.7), (sr,))


def test_rejects_bad_arguments():
    hr, lq, _ = _scene()
    with pytest.raises(ValueError):
        frequency_contrastive_loss(hr[:, :, :16], hr, lq)
    with pytest.raises(ValueError):
        frequency_contrastive_loss(hr, hr, lq, temperature=0.0)
