"""freqvsr: super-resolution of low-quality video with frequency-domain networks.

Public API (everything else is internal and may change):

- :func:`upscale_video` — upscale a video file or frame folder, returning a report;
- :class:`Upscaler` — the streaming engine behind it, for frames you already hold;
- :func:`create_model`, :func:`list_models`, :func:`load_checkpoint` — the model zoo.
"""

from __future__ import annotations

from freqvsr._version import __version__

__all__ = ["Upscaler", "create_model", "list_models", "load_checkpoint", "upscale_video", "__version__"]


def __getattr__(name: str):
    # Lazy: `import freqvsr` stays cheap (no torch, no PyAV) until an API is used.
    if name in ("create_model", "list_models", "load_checkpoint"):
        from freqvsr import models

        return getattr(models, name)
    if name in ("Upscaler", "upscale_video"):
        from freqvsr import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'freqvsr' has no attribute {name!r}")
