"""MATLAB-compatible bicubic imresize: against a slow loop reference written from MATLAB's formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from freqvsr.functional.resize import bicubic_upsample, imresize, resize_matrix


# --- an independent, deliberately naive reference (one output pixel at a time) -----------------


def _ref_cubic(t: float) -> float:
    a = abs(t)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


def _ref_mirror(j: int, n: int) -> int:
    # 1-based index reflected about the image edges with the edge pixel repeated (MATLAB 'symmetric').
    while j < 1 or j > n:
        j = 1 - j if j < 1 else 2 * n + 1 - j
    return j


def _ref_resize_1d(signal: np.ndarray, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    n = len(signal)
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    out = np.zeros(out_len)
    for i in range(1, out_len + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        taps, total = [], 0.0
        for j in range(math.floor(u - width / 2), math.ceil(u + width / 2) + 1):
            w = scale * _ref_cubic(scale * (u - j)) if shrink else _ref_cubic(u - j)
            taps.append((w, _ref_mirror(j, n)))
            total += w
        out[i - 1] = sum(w * signal[k - 1] for w, k in taps) / total
    return out


def _ref_imresize(img: np.ndarray, out_h: int, out_w: int, sh: float, sw: float, antialias=True) -> np.ndarray:
    tmp = np.stack([_ref_resize_1d(img[:, c], out_h, sh, antialias) for c in range(img.shape[1])], axis=1)
    return np.stack([_ref_resize_1d(tmp[r, :], out_w, sw, antialias) for r in range(out_h)], axis=0)


# --- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, scale",
    [((13, 17), 4), ((13, 17), 0.25), ((16, 12), 0.5), ((11, 9), 3), ((23, 19), 1 / 3), ((7, 10), 2)],
)
def test_matches_loop_reference_float64(shape, scale):
    rng = np.random.default_rng(0)
    img = rng.random(shape)
    out = imresize(torch.from_numpy(img), scale=scale).numpy()
    oh, ow = math.ceil(scale * shape[0]), math.ceil(scale * shape[1])
    ref = _ref_imresize(img, oh, ow, scale, scale)
    assert out.shape == (oh, ow)
    np.testing.assert_allclose(out, ref, atol=1e-6, rtol=0)


def test_size_argument_uses_out_over_in_scale_and_no_antialias():
    rng = np.random.default_rng(1)
    img = rng.random((20, 15))
    out = imresize(torch.from_numpy(img), size=(7, 31)).numpy()
    np.testing.assert_allclose(out, _ref_imresize(img, 7, 31, 7 / 20, 31 / 15), atol=1e-6, rtol=0)
    plain = imresize(torch.from_numpy(img), scale=0.5, antialias=False).numpy()
    np.testing.assert_allclose(plain, _ref_imresize(img, 10, 8, 0.5, 0.5, antialias=False), atol=1e-6, rtol=0)


def test_known_matlab_weights():
    # x2 up: output pixels sit at +-1/4 of an input pixel: Keys' classic (-3, 29, 111, -9) / 128.
    up = resize_matrix(8, 16, 2.0).numpy()
    np.testing.assert_allclose(up[4, 0:4], np.array([-3, 29, 111, -9]) / 128, atol=1e-12)
    # /2 with antialiasing: kernel stretched to 8 taps, 0.5 * (-3, -9, 29, 111, 111, 29, -9, -3) / 128.
    down = resize_matrix(16, 8, 0.5).numpy()
    np.testing.assert_allclose(down[3, 3:11], 0.5 * np.array([-3, -9, 29, 111, 111, 29, -9, -3]) / 128, atol=1e-12)
    # First row: taps left of the image mirror onto pixels 1, 2, 3 (MATLAB 'symmetric').
    np.testing.assert_allclose(down[0, :5], 0.5 * np.array([111 + 29, 111 - 9, 29 - 3, -9, -3]) / 128, atol=1e-12)


def test_constant_image_stays_constant_and_batched():
    x = torch.full((2, 3, 4, 97, 61), 0.37, dtype=torch.float64)
    for kw in ({"scale": 4}, {"scale": 0.25}, {"size": (50, 33)}):
        y = imresize(x, **kw)
        assert torch.allclose(y, torch.full_like(y, 0.37), atol=1e-12)
    assert imresize(x, scale=4).shape == (2, 3, 4, 388, 244)
    # MATLAB: ceil(97/4) = 25, ceil(61/4) = 16, with the kernel of scale 1/4 (not 25/97).
    assert imresize(x, scale=0.25).shape == (2, 3, 4, 25, 16)


def test_odd_sizes_float32_match_reference_and_batch_is_independent():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 97, 61)
    down = imresize(x, scale=0.25)
    up = bicubic_upsample(x, 4)
    assert down.shape == (2, 3, 25, 16) and up.shape == (2, 3, 388, 244)
    assert down.dtype == torch.float32
    ref_down = _ref_imresize(x[1, 2].double().numpy(), 25, 16, 0.25, 0.25)
    np.testing.assert_allclose(down[1, 2].numpy(), ref_down, atol=1e-5, rtol=0)
    # Each image of the batch is resized on its own.
    assert torch.allclose(imresize(x[1:2, 2:3], scale=0.25), down[1:2, 2:3], atol=1e-6)
    # Down then back to the original size: a smooth image survives, noise does not.
    assert imresize(down, size=(97, 61)).shape == x.shape
    yy, xx = torch.meshgrid(torch.arange(96.0), torch.arange(60.0), indexing="ij")
    smooth = 0.5 + 0.4 * torch.sin(yy / 9) * torch.cos(xx / 7)
    back = imresize(imresize(smooth, scale=0.25), size=(96, 60))
    assert (back - smooth)[8:-8, 8:-8].abs().max() < 0.01
    assert (imresize(down, size=(97, 61)) - x).abs().mean() > 0.1


def test_differentiable_and_dtypes():
    x = torch.rand(1, 1, 9, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, scale=0.5), (x,))
    h = torch.rand(1, 1, 9, 8).half()
    assert imresize(h, scale=2).dtype == torch.float16
    with pytest.raises(ValueError):
        imresize(x, scale=2, size=(3, 3))
    with pytest.raises(TypeError):
        imresize(torch.zeros(4, 4, dtype=torch.uint8), scale=2)
