"""Tiny hand-made models with known outputs, to test the engine's scheduling exactly."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from freqvsr.models import VSRModel


class NearestSequence(VSRModel):
    """A 'sequence' model whose frames do not depend on each other: chunking must be exact."""

    temporal = "sequence"

    def __init__(self, scale: int = 4) -> None:
        super().__init__(scale)
        self.calls = 0

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        b, t, c, h, w = lq.shape
        y = F.interpolate(lq.reshape(b * t, c, h, w), scale_factor=self.scale, mode="nearest")
        return y.reshape(b, t, c, h * self.scale, w * self.scale)


class MeanWindow(VSRModel):
    """A 'window' model: output = mean of the 5-frame window, nearest-upsampled."""

    temporal = "window"
    window = 5

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        return F.interpolate(lq.mean(1), scale_factor=self.scale, mode="nearest")


class RunningMeanOnline(VSRModel):
    """An 'online' model: state = exponential mean of past frames; output mixes it with the frame."""

    temporal = "online"

    def init_state(self, lq_frame: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(lq_frame)

    def step(self, lq_frame: torch.Tensor, state: torch.Tensor):
        state = 0.5 * state + 0.5 * lq_frame
        return F.interpolate(state, scale_factor=self.scale, mode="nearest"), state


class PickyNearest(NearestSequence):
    """Raises an out-of-memory error on inputs larger than ``limit`` pixels, like a small GPU."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        if lq.shape[-1] * lq.shape[-2] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return super().forward(lq)
