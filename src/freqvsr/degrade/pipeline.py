"""Degradation pipelines: explicit parameters, random samplers, and the papers' named presets.

A degradation is a :class:`DegradeParams` value: (optional blur) -> down-sampling (bicubic "BI" or
Gaussian "BD") -> (optional noise) -> quantisation to 8 bits -> (optional real codec round trip).
:func:`apply` is deterministic in ``(x, params)``; a :class:`Preset` *samples* parameters from a
``torch.Generator`` and returns what it drew, so every training pair and every benchmark input can
be replayed bit-exactly from its JSON (``params.to_dict()`` / ``DegradeParams.from_dict``).

The same parameters apply to every frame of a clip (as in RealBasicVSR/FastRealVSR training, and as
a video encoder sees a clip). Noise is reproducible *per frame*: frame ``t`` draws its noise from a
generator seeded with ``(noise.seed, t)``, so a long video streamed in chunks gets exactly the noise
it would get in one piece.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from freqvsr.degrade import ops
from freqvsr.degrade.codec import CodecParams, codec_roundtrip
from freqvsr.errors import UsageError
from freqvsr.functional.filters import PADDINGS

__all__ = [
    "PRESETS",
    "BlurParams",
    "DegradeParams",
    "NoiseParams",
    "Preset",
    "apply",
    "apply_frames",
    "blur_kernel_size",
    "degrade",
    "draw_seed",
    "get_preset",
    "list_presets",
]

DOWNSAMPLERS = ("bicubic", "bd")


@dataclass(frozen=True)
class BlurParams:
    """Blur applied to the high-resolution frames before down-sampling.

    ``kind``: ``gaussian`` (``sigma`` along the first axis, ``sigma_y`` along the second, rotated by
    ``angle`` degrees; ``sigma_y=None`` = isotropic) or ``box``. ``size``: kernel side (odd).
    """

    kind: str = "gaussian"
    size: int = 21
    sigma: float = 1.0
    sigma_y: float | None = None
    angle: float = 0.0
    padding: str = "reflect"

    def __post_init__(self) -> None:
        if self.kind not in ("gaussian", "box"):
            raise UsageError(f"unknown blur kind {self.kind!r}; valid: gaussian, box")
        if self.size < 1:
            raise UsageError(f"blur kernel size must be >= 1, got {self.size}")
        if self.kind == "gaussian" and (self.sigma <= 0 or (self.sigma_y is not None and self.sigma_y <= 0)):
            raise UsageError(f"blur sigma must be > 0, got {self.sigma}")
        if self.padding not in PADDINGS:
            raise UsageError(f"unknown blur padding {self.padding!r}; valid: {', '.join(PADDINGS)}")

    def kernel(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if self.kind == "box":
            return ops.box_kernel(self.size, dtype=dtype)
        return ops.gaussian_kernel(self.size, self.sigma, self.sigma_y, self.angle, dtype=dtype)


@dataclass(frozen=True)
class NoiseParams:
    """Noise added to the low-resolution frames.

    ``kind``: ``gaussian`` (``sigma`` on the 0-255 scale) or ``poisson`` (``peak`` photons at white).
    ``gray``: same noise on all channels. ``seed``: seeds the per-frame noise generators.
    """

    kind: str = "gaussian"
    sigma: float = 0.0
    peak: float | None = None
    gray: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("gaussian", "poisson"):
            raise UsageError(f"unknown noise kind {self.kind!r}; valid: gaussian, poisson")
        if self.kind == "gaussian" and self.sigma < 0:
            raise UsageError(f"noise sigma must be >= 0, got {self.sigma}")
        if self.kind == "poisson" and (self.peak is None or self.peak <= 0):
            raise UsageError(f"Poisson noise needs peak > 0, got {self.peak}")

    def generator(self, frame_index: int) -> torch.Generator:
        # splitmix64-style mixing: neighbouring seeds/frames get unrelated generator states.
        z = (self.seed + (frame_index + 1) * 0x9E3779B97F4A7C15) % 2**64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        z ^= z >> 31
        return torch.Generator().manual_seed(z)


@dataclass(frozen=True)
class DegradeParams:
    """Everything needed to replay one degradation exactly.

    ``downsample``: ``bicubic`` (MATLAB ``imresize``, antialiased: the "BI" protocol) or ``bd``
    (13x13 Gaussian, sigma = 0.4*scale, keep every ``scale``-th pixel from pixel 0: "BD").
    ``quantize``: round the LR frames to the 8-bit grid (what saving/encoding them does).
    ``preset``: name of the preset that drew these parameters (informational).
    """

    scale: int = 4
    downsample: str = "bicubic"
    blur: BlurParams | None = None
    noise: NoiseParams | None = None
    codec: CodecParams | None = None
    quantize: bool = True
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.downsample not in DOWNSAMPLERS:
            raise UsageError(f"unknown down-sampling {self.downsample!r}; valid: {', '.join(DOWNSAMPLERS)}")
        if int(self.scale) != self.scale or self.scale < 1:
            raise UsageError(f"scale must be a positive integer, got {self.scale}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DegradeParams:
        d = dict(d)
        for key, typ in (("blur", BlurParams), ("noise", NoiseParams), ("codec", CodecParams)):
            if d.get(key) is not None:
                d[key] = typ(**d[key])
        return cls(**d)

    def replace(self, **changes) -> DegradeParams:
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------------
# Applying parameters
# ---------------------------------------------------------------------------------------------------


def _check_clip(x: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise UsageError(f"expected frames (T, 3, H, W) in [0, 1], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise UsageError(f"expected float frames in [0, 1], got {x.dtype}")


def _blur_and_downsample(x: torch.Tensor, params: DegradeParams) -> torch.Tensor:
    h, w = x.shape[-2:]
    blur_h = blur_w = None
    if params.blur is not None:
        kernel = params.blur.kernel(torch.float64)
        factors = ops.separate_kernel(kernel)
        if factors is None:  # rotated anisotropic Gaussian: a true 2-D convolution
            x = ops.filter2d(x, kernel.to(x.dtype), padding=params.blur.padding)
        else:
            # Separable blur as matrices, fused below with the down-sampling matrices: the blurred
            # full-size frame is never formed (a 21x21 blur of 256x256 crops: ~100x cheaper).
            blur_h = ops.conv_matrix(h, factors[0], params.blur.padding)
            blur_w = ops.conv_matrix(w, factors[1], params.blur.padding)
    if params.downsample == "bicubic":
        if blur_h is None:
            return ops.bi_downsample(x, params.scale) if params.scale != 1 else x
        if params.scale == 1:
            return ops.separable_downsample(x, blur_h, blur_w)
        from freqvsr.functional.resize import resize_matrix

        s = 1.0 / params.scale
        mh = resize_matrix(h, math.ceil(s * h), s, antialias=True) @ blur_h
        mw = resize_matrix(w, math.ceil(s * w), s, antialias=True) @ blur_w
        return ops.separable_downsample(x, mh, mw)
    mh, mw = ops.bd_matrices(h, w, params.scale)
    if blur_h is not None:
        mh, mw = mh @ blur_h, mw @ blur_w
    return ops.separable_downsample(x, mh, mw)


def apply_frames(x: torch.Tensor, params: DegradeParams, frame_offset: int = 0) -> torch.Tensor:
    """The per-frame part of :func:`apply`: blur, down-sample, noise, quantise (no codec).

    ``x``: ``(T, 3, H, W)`` float RGB in [0, 1]; ``frame_offset``: index of ``x[0]`` in the whole
    video (selects the per-frame noise), so a video can be processed in chunks.
    """
    _check_clip(x)
    x = _blur_and_downsample(x, params)
    if params.noise is not None:
        n = params.noise
        frames = []
        for t in range(x.shape[0]):
            g = n.generator(frame_offset + t)
            if n.kind == "gaussian":
                frames.append(ops.add_gaussian_noise(x[t], n.sigma, g, gray=n.gray))
            else:
                frames.append(ops.add_poisson_noise(x[t], n.peak, g, gray=n.gray))
        x = torch.stack(frames)
    if params.quantize or params.codec is not None:
        x = ops.quantize(x)
    return x


def apply(x: torch.Tensor, params: DegradeParams) -> torch.Tensor:
    """Degrade a high-resolution clip ``x`` ``(T, 3, H, W)`` (float RGB, [0, 1]) with ``params``.

    Returns the LR clip ``(T, 3, h, w)``, same dtype/device, where ``h = ceil(H / scale)`` for
    bicubic. Deterministic: the same ``(x, params)`` gives bit-identical output. The codec step
    encodes the whole clip (one GOP structure, as a real encoder would see it).
    """
    y = apply_frames(x, params)
    if params.codec is not None:
        y = codec_roundtrip(y, params.codec)
    return y


# ---------------------------------------------------------------------------------------------------
# Presets (random samplers)
# ---------------------------------------------------------------------------------------------------


def _uniform(g: torch.Generator, lo: float, hi: float, ndigits: int = 4) -> float:
    # Rounded so that the JSON is readable; the rounded value is the one applied, so replay is exact.
    return round(lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64)), ndigits)


def _randint(g: torch.Generator, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi] (inclusive)."""
    return int(torch.randint(lo, hi + 1, (), generator=g))


def draw_seed(g: torch.Generator) -> int:
    """A fresh 62-bit seed from ``g`` (for noise generators)."""
    return int(torch.randint(0, 2**62, (), generator=g))


def blur_kernel_size(sigma: float) -> int:
    """Odd kernel side covering +-3 sigma (at least 3): the default for ``--blur SIGMA``."""
    return max(3, 2 * math.ceil(3 * sigma) + 1)


@dataclass(frozen=True)
class Preset:
    """A named degradation: ``sample(generator, scale)`` draws :class:`DegradeParams`.

    ``_sampler(generator, scale)`` should be a module-level function or a picklable callable object
    (not a lambda), so that datasets holding the preset can go to spawned DataLoader workers.
    """

    name: str
    description: str
    _sampler: Callable[[torch.Generator, int], DegradeParams] = field(repr=False)

    def sample(self, generator: torch.Generator | int | None = None, scale: int = 4) -> DegradeParams:
        """Draw parameters. ``generator``: a ``torch.Generator`` or an int seed (None = seed 0)."""
        if not isinstance(generator, torch.Generator):
            generator = torch.Generator().manual_seed(0 if generator is None else int(generator))
        return dataclasses.replace(self._sampler(generator, scale), preset=self.name)

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator | int | None = None, scale: int = 4
    ) -> tuple[torch.Tensor, DegradeParams]:
        """Sample parameters and apply them: returns ``(lr, params)``."""
        params = self.sample(generator, scale)
        return apply(x, params), params


# Samplers are module-level functions or frozen dataclasses, never lambdas/closures: a Preset (and so
# every dataset holding one) must pickle, because DataLoader workers are spawned, not forked
# (freqvsr.train.data), and spawn sends the dataset to each worker by pickle.


@dataclass(frozen=True)
class _Fixed:
    """Sampler of a preset without randomness: ``DegradeParams(scale=scale, **fields)``; draws nothing."""

    fields: tuple[tuple[str, Any], ...] = ()  # (name, value) pairs: a tuple keeps the Preset hashable

    def __call__(self, g: torch.Generator, scale: int) -> DegradeParams:
        return DegradeParams(scale=scale, **dict(self.fields))


def _fixed(**kw) -> _Fixed:
    return _Fixed(tuple(kw.items()))


@dataclass(frozen=True)
class _GaussianNoiseSampler:
    """BI + Gaussian noise of a fixed ``sigma``; draws one value: the noise seed."""

    sigma: float

    def __call__(self, g: torch.Generator, scale: int) -> DegradeParams:
        return DegradeParams(scale=scale, noise=NoiseParams("gaussian", sigma=self.sigma, seed=draw_seed(g)))


def _noise_sampler(sigma: float) -> _GaussianNoiseSampler:
    return _GaussianNoiseSampler(float(sigma))


def _real_sampler(g: torch.Generator, scale: int) -> DegradeParams:
    # FastRealVSR's real-world mixture (after RealBasicVSR): one isotropic Gaussian blur per clip with
    # sigma in [0.2, 3] (21x21 kernel, RealBasicVSR's size), bicubic x4, Gaussian noise with
    # sigma in [1, 5] (0-255 scale), then H.264 at CRF in [18, 35].
    sigma = _uniform(g, 0.2, 3.0)
    noise_sigma = _uniform(g, 1.0, 5.0)
    crf = _randint(g, 18, 35)
    return DegradeParams(
        scale=scale,
        blur=BlurParams("gaussian", size=21, sigma=sigma),
        noise=NoiseParams("gaussian", sigma=noise_sigma, seed=draw_seed(g)),
        codec=CodecParams("libx264", crf=crf),
    )


def _ftvsr_mix_sampler(g: torch.Generator, scale: int) -> DegradeParams:
    # FTVSR's official training mixture: keep the clean (BI) LR with p = 0.5, otherwise pick uniformly
    # from {clean, CRF 15, CRF 25, CRF 35} -> 62.5 % clean overall.
    if float(torch.rand((), generator=g, dtype=torch.float64)) < 0.5:
        return DegradeParams(scale=scale)
    crf = (None, 15, 25, 35)[_randint(g, 0, 3)]
    return DegradeParams(scale=scale, codec=None if crf is None else CodecParams("libx264", crf=crf))


def _camera_mix_sampler(g: torch.Generator, scale: int) -> DegradeParams:
    # The default model's mixture (not from a paper): user footage is mostly compressed, and the
    # FTVSR mix (62.5 % clean, three fixed CRFs) left the model weakest at strong compression.
    # Clean (BI) with p = 0.4, otherwise H.264 at a CRF drawn uniformly from [15, 37] so the
    # strengths between and beyond the evaluation's 15/25/35 are seen too.
    if float(torch.rand((), generator=g, dtype=torch.float64)) < 0.4:
        return DegradeParams(scale=scale)
    return DegradeParams(scale=scale, codec=CodecParams("libx264", crf=_randint(g, 15, 37)))


def _build_presets() -> dict[str, Preset]:
    p: dict[str, Preset] = {}

    def add(name: str, description: str, sampler) -> None:
        p[name] = Preset(name, description, sampler)

    add("bi", "BI: MATLAB-style antialiased bicubic down-sampling", _fixed())
    add("bd", "BD: 13x13 Gaussian blur sigma=1.6 (0.4*scale), keep every scale-th pixel", _fixed(downsample="bd"))
    add("noise", "BI + Gaussian noise sigma=15 (0-255 scale), FTVSR RG-Noise", _noise_sampler(15.0))
    for crf in (15, 25, 35):
        add(f"crf{crf}", f"BI + H.264 (libx264) CRF {crf}, yuv420p", _fixed(codec=CodecParams("libx264", crf=crf)))
    add("cqp25", "BI + H.264 constant QP 25", _fixed(codec=CodecParams("libx264", qp=25)))
    add(
        "cbr1500k",
        "BI + H.264 constant bitrate 1500 kbit/s (min=max=buffer=target) at 25 fps",
        _fixed(codec=CodecParams("libx264", bitrate=1_500_000)),
    )
    for qp in (22, 27, 32, 37):
        add(
            f"hevc-qp{qp}",
            f"BI + H.265 (libx265) low-delay, QP {qp} (stand-in for HM Low-Delay-B)",
            _fixed(codec=CodecParams("libx265", qp=qp, low_delay=True)),
        )
    add("real", "FastRealVSR mix: blur s in [0.2,3], BI, noise s in [1,5], H.264 CRF in [18,35]", _real_sampler)
    add(
        "ftvsr-mix",
        "FTVSR training mix: clean with p=0.5, else uniform {clean, CRF15, CRF25, CRF35}",
        _ftvsr_mix_sampler,
    )
    add("camera-mix", "default model's mix: clean with p=0.4, else H.264 CRF uniform in [15, 37]", _camera_mix_sampler)
    return p


PRESETS: dict[str, Preset] = _build_presets()


def list_presets() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; UsageError listing the valid names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown degradation preset {name!r}; valid: {', '.join(PRESETS)}") from None


def degrade(
    x: torch.Tensor,
    preset: str | Preset = "bi",
    generator: torch.Generator | int | None = None,
    scale: int = 4,
) -> tuple[torch.Tensor, DegradeParams]:
    """Sample ``preset`` with ``generator`` and degrade the clip ``x``: returns ``(lr, params)``."""
    p = get_preset(preset) if isinstance(preset, str) else preset
    return p(x, generator, scale)
