"""The contract between a network and the inference engine.

Every registered network is a :class:`VSRModel`. The engine never looks inside a model; it reads
these class attributes to decide how to feed it:

``temporal``
    ``"image"``    each output frame depends only on its own input frame (bicubic, image models);
    ``"sequence"`` the whole (B, T, C, H, W) clip is processed at once, possibly bidirectionally
                   (BasicVSR, FTVSR); long videos are cut into overlapping chunks that are
                   cross-faded;
    ``"online"``   unidirectional recurrence: ``step(frame, state) -> (sr, state)`` with an explicit
                   state object, so a video streams frame in / frame out in constant memory;
    ``"window"``   output frame t is computed from ``window`` input frames centred on t (FCVSR);
                   the engine edge-pads the start and end of the video.
``size_multiple``  the engine pads H and W up to a multiple of this (replicate) and crops back.
``scale``          the upscaling factor, an instance attribute set by the constructor.

Shapes: ``forward(lq)`` takes ``(B, T, C, H, W)`` float in [0, 1] and returns
``(B, T, C, scale*H, scale*W)`` (``window`` models return the centre frame only: ``(B, C, sH, sW)``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn


class VSRModel(nn.Module):
    temporal: ClassVar[str] = "sequence"
    window: ClassVar[int] = 1
    size_multiple: ClassVar[int] = 1

    def __init__(self, scale: int = 4, in_channels: int = 3) -> None:
        super().__init__()
        self.scale = int(scale)
        self.in_channels = int(in_channels)

    # Filled in by models._factory.create_model: the registry name and the full constructor
    # arguments, so that a checkpoint saved from this instance describes itself.
    arch_name: str | None = None
    arch_args: dict[str, Any] | None = None
    # The JSON header of the freqvsr checkpoint the weights came from (None: random init or
    # foreign weights); the inference engine reads measured records from it.
    checkpoint_header: dict[str, Any] | None = None

    @property
    def cpu_bf16_delta_db(self) -> float | None:
        """Measured PSNR change (dB, bf16 autocast minus fp32, on CPU) of these weights on the public
        evaluation clips; ``None`` when unmeasured (``--precision auto`` then stays fp32)."""
        from freqvsr.models._checkpoint import cpu_bf16_record

        record = cpu_bf16_record(self.checkpoint_header)
        return None if record is None else float(record["psnr_delta_db"])

    def init_state(self, lq_frame: torch.Tensor) -> Any:  # pragma: no cover - online models override
        raise NotImplementedError(f"{type(self).__name__} is not an online (unidirectional) model")

    def step(self, lq_frame: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} is not an online (unidirectional) model")

    def lr_multipliers(self) -> dict[str, float]:
        """Learning-rate multipliers per sub-module name (e.g. ``{"spynet": 0.125}``); default none."""
        return {}
