"""PSNR / SSIM / NIQE / tOF against independent reference computations (numpy/scipy, written here)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
import scipy.special
import torch

from freqvsr.errors import MissingDependencyError
from freqvsr.metrics import as_image_tensor, psnr, ssim
from freqvsr.metrics.niqe import niqe, niqe_pristine_params


# ------------------------------------------------------------------ helpers
def _rng_image(seed: int, h: int, w: int, c: int = 3) -> np.ndarray:
    """A smooth-ish random uint8 image (blurred noise plus a gradient), so SSIM is not trivial."""
    rng = np.random.default_rng(seed)
    noise = scipy.ndimage.gaussian_filter(rng.normal(0, 60, (h, w, c)), (1.2, 1.2, 0))
    ramp = np.linspace(40, 200, w)[None, :, None]
    return np.clip(noise + ramp, 0, 255).round().astype(np.uint8)


def _y_np(img_u8: np.ndarray) -> np.ndarray:
    """BT.601 Y on the 0-255 scale exactly as MATLAB rgb2ycbcr / BasicSR (float, unrounded)."""
    x = img_u8.astype(np.float64) / 255.0
    return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def _t(img_u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img_u8.astype(np.float64) / 255.0).permute(2, 0, 1)


# ------------------------------------------------------------------ PSNR
def test_psnr_known_mse() -> None:
    gt = np.full((8, 10, 3), 100, np.uint8)
    pred = gt.copy()
    pred[..., 0] = 110  # squared error 100 on one channel of three: MSE = 100/3
    expected = 10 * math.log10(255.0**2 / (100.0 / 3))
    assert float(psnr(_t(pred), _t(gt))) == pytest.approx(expected, abs=1e-10)
    # Y: the R difference of 10/255 moves Y by 65.481 * 10/255 everywhere.
    dy = 65.481 * 10 / 255
    assert float(psnr(_t(pred), _t(gt), y_channel=True)) == pytest.approx(10 * math.log10(255.0**2 / dy**2), abs=1e-10)
    assert float(psnr(_t(gt), _t(gt))) == math.inf


def test_psnr_y_and_crop_border_against_numpy() -> None:
    gt, pred = _rng_image(1, 30, 40), _rng_image(2, 30, 40)
    for y_channel in (False, True):
        for crop in (0, 3):
            a = _y_np(pred) if y_channel else pred.astype(np.float64)
            b = _y_np(gt) if y_channel else gt.astype(np.float64)
            if crop:
                a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
            ref = 10 * np.log10(255.0**2 / np.mean((a - b) ** 2))
            got = float(psnr(_t(pred), _t(gt), y_channel=y_channel, crop_border=crop))
            assert got == pytest.approx(ref, abs=1e-9), (y_channel, crop)
    # Errors only in a 2-pixel border vanish with crop_border=2.
    bad = gt.copy()
    bad[:2] = 0
    bad[:, -2:] = 255
    assert math.isfinite(float(psnr(_t(bad), _t(gt))))
    assert float(psnr(_t(bad), _t(gt), crop_border=2)) == math.inf


def test_psnr_batched_shape_and_mismatch() -> None:
    clip = torch.stack([_t(_rng_image(i, 16, 16)) for i in range(3)])
    out = psnr(clip, clip.flip(0))
    assert out.shape == (3,) and out.dtype == torch.float64
    assert float(out[0]) == pytest.approx(float(psnr(clip[0], clip[2])))
    with pytest.raises(ValueError):
        psnr(clip[0], clip[0, :, :8])


# ------------------------------------------------------------------ SSIM
def _ssim_np(a: np.ndarray, b: np.ndarray) -> float:
    """The SSIM formula of Wang et al. with an 11x11 Gaussian (σ = 1.5) window, 'valid' borders."""
    g = scipy.signal.windows.gaussian(11, 1.5)
    win = np.outer(g, g)
    win /= win.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def f(x):
        return scipy.signal.convolve2d(x, win, mode="valid")

    mu_a, mu_b = f(a), f(b)
    var_a, var_b, cov = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(m.mean())


@pytest.mark.parametrize("y_channel,crop", [(False, 0), (True, 0), (False, 4), (True, 4)])
def test_ssim_against_numpy(y_channel: bool, crop: int) -> None:
    gt = _rng_image(3, 36, 44)
    pred = np.clip(gt.astype(np.int16) + np.random.default_rng(4).integers(-25, 26, gt.shape), 0, 255).astype(np.uint8)
    if y_channel:
        planes = [(_y_np(pred), _y_np(gt))]
    else:
        planes = [(pred[..., c].astype(np.float64), gt[..., c].astype(np.float64)) for c in range(3)]
    if crop:
        planes = [(a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]) for a, b in planes]
    ref = float(np.mean([_ssim_np(a, b) for a, b in planes]))
    got = float(ssim(_t(pred), _t(gt), y_channel=y_channel, crop_border=crop))
    assert got == pytest.approx(ref, abs=1e-12)
    assert 0.2 < got < 0.99  # a real, non-trivial comparison
    assert float(ssim(_t(gt), _t(gt), y_channel=y_channel, crop_border=crop)) == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_scikit_image() -> None:
    skm = pytest.importorskip("skimage.metrics", reason="scikit-image is an optional cross-check")
    gt, pred = _rng_image(5, 40, 40), _rng_image(6, 40, 40)
    a, b = _y_np(pred), _y_np(gt)
    ref = skm.structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert float(ssim(_t(pred), _t(gt), y_channel=True)) == pytest.approx(ref, abs=1e-9)


def test_as_image_tensor_scales_dtypes() -> None:
    u8 = np.array([[[0, 128, 255]]], np.uint8)
    u16 = np.array([[[0, 32768, 65535]]], np.uint16)
    assert as_image_tensor(u8).shape == (3, 1, 1)
    assert as_image_tensor(u8)[:, 0, 0].tolist() == pytest.approx([0, 128 / 255, 1])
    assert as_image_tensor(u16)[:, 0, 0].tolist() == pytest.approx([0, 32768 / 65535, 1])


# ------------------------------------------------------------------ NIQE
def _imresize_half_np(img: np.ndarray) -> np.ndarray:
    """MATLAB imresize(img, 0.5) (bicubic, antialiased), written directly from its definition."""

    def cubic(x):
        ax = np.abs(x)
        return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * (
            (ax > 1) & (ax <= 2)
        )

    def matrix(n):
        s = 0.5
        m = np.zeros((n // 2, n))
        for i in range(1, n // 2 + 1):
            u = i / s + 0.5 * (1 - 1 / s)
            for j in range(int(np.floor(u - 4)), int(np.ceil(u + 4)) + 1):
                wgt = s * cubic(s * (u - j))
                jj = j
                while jj < 1 or jj > n:  # symmetric extension, edge repeated
                    jj = 1 - jj if jj < 1 else 2 * n + 1 - jj
                m[i - 1, jj - 1] += wgt
        return m / m.sum(1, keepdims=True)

    return matrix(img.shape[0]) @ img @ matrix(img.shape[1]).T


def _aggd_np(x: np.ndarray) -> tuple[float, float, float, float]:
    gam = np.arange(0.2, 10, 0.001)
    r_gam = scipy.special.gamma(2 / gam) ** 2 / (scipy.special.gamma(1 / gam) * scipy.special.gamma(3 / gam))
    left, right = x[x < 0], x[x >= 0]
    sl, sr = np.sqrt(np.mean(left**2)), np.sqrt(np.mean(right**2))
    gh = sl / sr
    rhat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
    rn = rhat * (gh**3 + 1) * (gh + 1) / (gh**2 + 1) ** 2
    alpha = gam[np.argmin(np.abs(r_gam - rn))]
    ratio = np.sqrt(scipy.special.gamma(1 / alpha) / scipy.special.gamma(3 / alpha))
    bl, br = sl * ratio, sr * ratio
    return alpha, (br - bl) * scipy.special.gamma(2 / alpha) / scipy.special.gamma(1 / alpha), bl, br


def _niqe_np(y: np.ndarray) -> float:
    """Straightforward per-block NIQE (loops, scipy filters) in the pristine file's feature layout."""
    h, w = (y.shape[0] // 96) * 96, (y.shape[1] // 96) * 96
    img = y[:h, :w].astype(np.float64)
    ax = np.arange(7) - 3
    win = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * (7 / 6) ** 2))
    win /= win.sum()
    feats = []
    for scale in (1, 2):
        mu = scipy.ndimage.correlate(img, win, mode="nearest")
        sigma = np.sqrt(np.abs(scipy.ndimage.correlate(img * img, win, mode="nearest") - mu * mu))
        mscn = (img - mu) / (sigma + 1)
        mscn[np.abs(mscn) < 1e-8] = 0.0  # flat areas: exact zero, not filter round-off
        b = 96 // scale
        rows = []
        for i in range(h // 96):
            for j in range(w // 96):
                blk = mscn[i * b : (i + 1) * b, j * b : (j + 1) * b]
                a, _, bl, br = _aggd_np(blk.ravel())
                f = [a, (bl + br) / 2]
                for k, sh in enumerate([(0, 1), (1, 0), (1, 1), (1, -1)]):
                    a2, eta, pl, pr = _aggd_np((blk * np.roll(blk, sh, axis=(0, 1))).ravel())
                    f += [a2, eta, pl, pl if k >= 2 else pr]
                rows.append(f)
        feats.append(np.array(rows))
        img = _imresize_half_np(img)
    feats = np.concatenate(feats, axis=1)
    mu_p, cov_p = (t.numpy() for t in niqe_pristine_params())
    d = mu_p - feats.mean(0)
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + np.cov(feats, rowvar=False)) / 2) @ d))


def _natural_image(full: bool = False) -> np.ndarray:
    data = pytest.importorskip("skimage.data", reason="scikit-image (test-only) provides the standard images")
    img = data.astronaut()  # 512 x 512 RGB
    return img if full else img[64:352, 96:384]  # the crop: 288 x 288, 9 blocks


def test_niqe_matches_independent_implementation() -> None:
    img = _rng_image(7, 200, 300)  # 2 x 3 blocks, cut from 200 x 300
    ref = _niqe_np(np.round(_y_np(img)))
    assert niqe(_t(img)) == pytest.approx(ref, rel=1e-9)
    try:
        nat = _natural_image()
    except pytest.skip.Exception:
        return
    assert niqe(_t(nat)) == pytest.approx(_niqe_np(np.round(_y_np(nat))), rel=1e-9)


def test_niqe_grows_with_blur_and_noise() -> None:
    img = _t(_natural_image(full=True))
    from freqvsr.functional.resize import imresize

    base = niqe(img)
    blurred = imresize(imresize(img, scale=0.25), size=tuple(img.shape[-2:])).clamp(0, 1)
    noisy = (
        img + 0.05 * torch.randn(img.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ).clamp(0, 1)
    assert niqe(blurred) > base + 2
    assert niqe(noisy) > base + 2
    assert niqe(img, crop_border=8) != pytest.approx(base)  # the crop changes the block grid


def test_niqe_rejects_small_frames_and_reads_pristine_file() -> None:
    mu, cov = niqe_pristine_params()
    assert mu.shape == (36,) and cov.shape == (36, 36)
    with pytest.raises(ValueError, match="96x96"):
        niqe(torch.rand(3, 96, 150))
    assert math.isnan(niqe(torch.zeros(3, 200, 300, dtype=torch.float64)))  # black frame: no texture


# ------------------------------------------------------------------ tOF
def test_tof_zero_for_identical_and_grows_with_jitter() -> None:
    pytest.importorskip("cv2", reason="tOF uses OpenCV's Farnebäck flow (opencv-python-headless)")
    from clips import pattern

    from freqvsr.metrics.tof import tecogan_crop_slices, tof_clip

    frames = [pattern(i, 96, 64) for i in range(5)]
    assert tof_clip(frames, frames) == [0.0] * 4

    def jitter(px):
        return [np.roll(f, (i % 2) * px, axis=1) for i, f in enumerate(frames)]

    small, large = np.mean(tof_clip(jitter(1), frames)), np.mean(tof_clip(jitter(4), frames))
    assert 0 < small < large
    assert tecogan_crop_slices(64, 96) == (slice(16, 48), slice(16, 80))
    # tensors in [0, 1] give the same grey frames as uint8 arrays
    tens = [torch.from_numpy(f.astype(np.float64) / 255).permute(2, 0, 1) for f in jitter(4)]
    assert np.mean(tof_clip(tens, frames)) == pytest.approx(large)


def test_tof_names_missing_opencv(monkeypatch) -> None:
    from freqvsr.metrics.tof import tof_pair

    monkeypatch.setitem(sys.modules, "cv2", None)
    f = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(MissingDependencyError, match="opencv-python-headless"):
        tof_pair(f, f, f, f)
