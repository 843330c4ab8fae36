"""Block DCT (functional/dct.py): orthonormality, exact inverse, scipy agreement, gradients, tokens."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import torch

from freqvsr.functional.dct import (
    block_dct2d,
    block_idct2d,
    crop_to,
    dct_basis_2d,
    dct_matrix,
    frequency_tokenize,
    frequency_untokenize,
    pad_to_multiple,
)


@pytest.mark.parametrize("size", [1, 2, 4, 8, 16])
def test_basis_is_orthonormal(size):
    c = dct_matrix(size, torch.float64)
    eye = torch.eye(size, dtype=torch.float64)
    assert torch.allclose(c @ c.t(), eye, atol=1e-13)
    m = dct_basis_2d(size, torch.float64).reshape(size * size, size * size)
    assert torch.allclose(m @ m.t(), torch.eye(size * size, dtype=torch.float64), atol=1e-13)


def test_basis_formula_and_channel_order():
    # M[u*8+v, i, j] = a(u) a(v) cos(pi u (i+.5)/8) cos(pi v (j+.5)/8): u indexes rows (vertical)
    m = dct_basis_2d(8, torch.float64)
    a = lambda f: math.sqrt(1 / 8) if f == 0 else math.sqrt(2 / 8)  # noqa: E731
    for u, v, i, j in [(0, 0, 3, 5), (1, 0, 0, 7), (0, 1, 0, 7), (5, 3, 2, 6), (7, 7, 7, 7)]:
        want = a(u) * a(v) * math.cos(math.pi * u * (i + 0.5) / 8) * math.cos(math.pi * v * (j + 0.5) / 8)
        assert abs(m[u * 8 + v, i, j].item() - want) < 1e-15
    # vertical frequency 1: varies along rows only
    assert torch.allclose(m[8], m[8][:, :1].expand(8, 8))


@pytest.mark.parametrize("block", [4, 8])
def test_matches_scipy_dctn_ortho_per_block(block):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 2 * block, 3 * block, generator=g, dtype=torch.float64)
    coeffs = block_dct2d(x, block)  # (2, 3, B*B, 2, 3)
    assert coeffs.shape == (2, 3, block * block, 2, 3)
    blocks = x.numpy().reshape(2, 3, 2, block, 3, block).transpose(0, 1, 2, 4, 3, 5)
    ref = scipy.fft.dctn(blocks, axes=(-2, -1), norm="ortho")  # (2, 3, 2, 3, u, v)
    ours = coeffs.numpy().reshape(2, 3, block, block, 2, 3).transpose(0, 1, 4, 5, 2, 3)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_dc_is_block_size_times_mean():
    x = torch.rand(1, 16, 24, dtype=torch.float64)
    dc = block_dct2d(x, 8)[:, 0]
    means = x.reshape(1, 2, 8, 3, 8).mean(dim=(2, 4))
    assert torch.allclose(dc, 8 * means, atol=1e-13)


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_round_trip_is_exact(dtype, atol):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 3, 24, 40, generator=g).to(dtype)
    y = block_idct2d(block_dct2d(x, 8), 8)
    assert y.shape == x.shape and y.dtype == dtype
    assert (y - x).abs().max().item() < atol
    # Parseval: orthonormal transform keeps the energy
    assert torch.allclose(block_dct2d(x, 8).pow(2).sum(), x.pow(2).sum(), rtol=1e-5)


def test_gradcheck_float64():
    x = torch.randn(1, 2, 8, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: block_dct2d(t, 4), (x,))
    c = torch.randn(1, 2, 16, 2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: block_idct2d(t, 4), (c,))


def test_basis_cached_and_usable_after_inference_mode():
    with torch.inference_mode():
        a = dct_basis_2d(6, torch.float32)
    assert dct_basis_2d(6, torch.float32) is a  # cached per (size, dtype, device)
    assert dct_basis_2d(6, torch.float64) is not a
    x = torch.randn(1, 12, 12, requires_grad=True)
    block_dct2d(x, 6).sum().backward()  # a basis first built in inference mode still works with autograd
    assert x.grad is not None


def test_non_multiple_size_is_rejected_and_pad_crop_round_trip():
    x = torch.rand(2, 3, 13, 21)
    with pytest.raises(ValueError, match="multiple"):
        block_dct2d(x, 8)
    for mode in ("replicate", "reflect", "constant"):
        padded, (ph, pw) = pad_to_multiple(x, 8, mode=mode)
        assert padded.shape[-2:] == (16, 24) and (ph, pw) == (3, 3)
        assert torch.equal(crop_to(padded, (13, 21)), x)
        y = crop_to(block_idct2d(block_dct2d(padded, 8), 8), (13, 21))
        assert (y - x).abs().max() < 2e-6
    replicated, _ = pad_to_multiple(x, 8)
    assert torch.equal(replicated[..., 15, :21], x[..., 12, :])
    same, pads = pad_to_multiple(torch.rand(1, 8, 16), 8)
    assert pads == (0, 0) and same.shape == (1, 8, 16)


def test_frequency_tokens_shape_content_and_inverse():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 3, 16, 24, generator=g, dtype=torch.float64)  # (B, T, C, H, W)
    tok = frequency_tokenize(x, 8)
    assert tok.shape == (2, 3, 64, 3, 2, 3)  # (B, T, F, C, H/8, W/8)
    # token 0 is the DC map of every colour; token u*8+v holds frequency (u, v) of each block
    assert torch.allclose(tok[:, :, 0], 8 * x.reshape(2, 3, 3, 2, 8, 3, 8).mean(dim=(4, 6)))
    assert torch.allclose(tok[0, 1, 3 * 8 + 5, 2], block_dct2d(x[0, 1, 2], 8)[3 * 8 + 5])
    back = frequency_untokenize(tok)
    assert torch.allclose(back, x, atol=1e-12)
    with pytest.raises(ValueError):
        frequency_tokenize(x[0])
