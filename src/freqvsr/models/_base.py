"""The contract between a network and the inference engine.

Every registered network is a :class:`VSRModel`. The engine never looks inside a model; it reads
what the model declares here to decide how to feed it, and nothing else:

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
``colour``         ``"rgb"`` (3 channels) or ``"y"`` (1 channel, BT.601 luma): the engine runs a
                   luma model through :class:`freqvsr.models._adapters.LumaAdapter`, which upscales
                   chroma with bicubic, so it only ever calls RGB models.
``bytes_per_lr_pixel``  memory one LR pixel of one frame costs inside a forward pass (bytes), for
                   the engine's memory plan; ``None``: the engine measures it on a few tiny frames.

Shapes: ``forward(lq)`` takes ``(B, T, C, H, W)`` float in [0, 1] and returns
``(B, T, C, scale*H, scale*W)`` (``window`` models return the centre frame only: ``(B, C, sH, sW)``).
Every ``forward`` starts with :meth:`VSRModel.check_input`, the one check of this contract
(``in_channels``, ``window`` / ``min_frames``, ``min_size``, ``strict_size_multiple``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from freqvsr.errors import UsageError


class VSRModel(nn.Module):
    temporal: ClassVar[str] = "sequence"
    window: ClassVar[int] = 1
    size_multiple: ClassVar[int] = 1
    # True: forward() takes keywords ``frame_offset`` (absolute index in the video of the clip's
    # first frame) and ``ends_video`` (the clip's last frame is the video's), so a model whose
    # computation depends on where a frame sits in the video (IconVSR's keyframes) gives the
    # engine's chunks what it gives the whole video.
    uses_frame_index: ClassVar[bool] = False
    # The smallest clip forward() accepts (checked by check_input): frames for non-window models
    # (window models take exactly ``window``) and LR height/width. ``strict_size_multiple``: forward
    # itself needs H and W to be multiples of ``size_multiple`` (else only the engine pads to it).
    min_frames: ClassVar[int] = 1
    min_size: ClassVar[int] = 1
    strict_size_multiple: ClassVar[bool] = False
    # Bytes of activations per LR pixel and frame inside forward(); None = measured by the engine.
    # A model whose cost depends on its constructor arguments sets it in __init__ (FastRealVSR).
    bytes_per_lr_pixel: int | None = None

    def __init__(self, scale: int = 4, in_channels: int = 3) -> None:
        super().__init__()
        self.scale = int(scale)
        self.in_channels = int(in_channels)

    @property
    def colour(self) -> str:
        """``"rgb"`` for 3-channel models, ``"y"`` for 1-channel ones (BT.601 luma, as FCVSR's Y
        variants are trained); anything else is not a video model the engine can run."""
        return {3: "rgb", 1: "y"}.get(self.in_channels, f"{self.in_channels} channels")

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
        record = cpu_bf16_record(self.checkpoint_header)
        return None if record is None else float(record["psnr_delta_db"])

    def check_input(self, lq: torch.Tensor) -> None:
        """Check ``lq`` against the shape contract of :meth:`forward`: ``(N, T, C, H, W)`` with
        C = ``in_channels``, T = ``window`` (window models) or >= ``min_frames``, H and W >=
        ``min_size`` (and multiples of ``size_multiple`` if ``strict_size_multiple``).

        Raises :class:`freqvsr.errors.UsageError` (a ``ValueError``) naming the parameter.
        """
        name = type(self).__name__
        shape = tuple(lq.shape)
        if lq.dim() != 5:
            raise UsageError(f"{name}: lq must be 5-D (N, T, C, H, W), got ndim={lq.dim()} (shape {shape})")
        _, t, c, h, w = shape
        if c != self.in_channels:
            raise UsageError(f"{name}: lq has C={c} channels, expected in_channels={self.in_channels} (shape {shape})")
        if self.temporal == "window" and t != self.window:
            raise UsageError(f"{name}: lq has T={t} frames, expected window={self.window} (shape {shape})")
        if t < self.min_frames:
            raise UsageError(
                f"{name}: lq has T={t} frames, needs at least min_frames={self.min_frames} (shape {shape})"
            )
        if min(h, w) < self.min_size:
            raise UsageError(f"{name}: lq is {h}x{w} (H x W), needs at least min_size={self.min_size} (shape {shape})")
        m = self.size_multiple
        if self.strict_size_multiple and (h % m or w % m):
            raise UsageError(
                f"{name}: lq H and W must be divisible by {m} (size_multiple={m}), got {h}x{w}; pad the frames first"
            )

    def init_state(self, lq_frame: torch.Tensor) -> Any:  # pragma: no cover - online models override
        raise NotImplementedError(f"{type(self).__name__} is not an online (unidirectional) model")

    def step(self, lq_frame: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} is not an online (unidirectional) model")

    def lr_multipliers(self) -> dict[str, float]:
        """Learning-rate multipliers per sub-module name (e.g. ``{"spynet": 0.125}``); default none."""
        return {}


def cpu_bf16_record(header: dict[str, Any] | None) -> dict[str, Any] | None:
    """The measured CPU bf16 record of a header (``header["precision"]["cpu_bf16"]``), or None.

    Written by ``benchmarks/precision.py``
    (:func:`freqvsr.models._checkpoint.update_checkpoint_header`): ``psnr_delta_db`` is
    the mean PSNR of bf16 autocast minus fp32 over the public evaluation clips (negative = bf16
    loses), with the clips, frames, speeds and the CPU it was measured on.
    """
    if not isinstance(header, dict):
        return None
    record = (header.get("precision") or {}).get("cpu_bf16")
    if not isinstance(record, dict) or not isinstance(record.get("psnr_delta_db"), (int, float)):
        return None
    return record
