"""Degradations that turn high-resolution video into low-quality inputs, following the papers.

* :mod:`~freqvsr.degrade.ops` -- deterministic operations on float tensors in [0, 1]: blur kernels,
  filtering, BI/BD down-sampling, Gaussian/Poisson noise, quantisation.
* :mod:`~freqvsr.degrade.codec` -- real codec round trips through PyAV, in memory (libx264 CRF/QP/CBR,
  libx265 low-delay QP, libvpx-vp9 and SVT-AV1 CRF).
* :mod:`~freqvsr.degrade.pipeline` -- :class:`DegradeParams` (replayable), :func:`apply`, and the named
  presets (``bi``, ``bd``, ``noise``, ``crf15/25/35``, ``cqp25``, ``cbr1500k``, ``hevc-qp22..37``,
  ``real``, ``ftvsr-mix``) whose samplers take a generator and return what they drew.
* :mod:`~freqvsr.degrade.video` -- :func:`degrade_video`, the engine of ``freqvsr degrade``.

PyAV is imported only when a codec or a video file is used.
"""

from freqvsr.degrade.codec import CODECS, CodecParams, codec_roundtrip, parse_bitrate
from freqvsr.degrade.pipeline import (
    PRESETS,
    BlurParams,
    DegradeParams,
    NoiseParams,
    Preset,
    apply,
    apply_frames,
    degrade,
    get_preset,
    list_presets,
)
from freqvsr.degrade.video import degrade_video, resolve_params

__all__ = [
    "CODECS",
    "PRESETS",
    "BlurParams",
    "CodecParams",
    "DegradeParams",
    "NoiseParams",
    "Preset",
    "apply",
    "apply_frames",
    "codec_roundtrip",
    "degrade",
    "degrade_video",
    "get_preset",
    "list_presets",
    "parse_bitrate",
    "resolve_params",
]
