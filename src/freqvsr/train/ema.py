"""Exponential moving average of a model's weights (BasicSR's ``net_g_ema``).

``ema = decay * ema + (1 - decay) * weights`` after every optimiser step; buffers are copied. The
average is usually the better model for validation and export, so both use it when it exists.

``warmup=True`` uses ``min(decay, (1 + step) / (10 + step))`` at optimiser step ``step`` (as
timm's and TensorFlow's EMAs): without it the average keeps ``decay ** n`` of the random
initialisation after n steps (37 % after 1,000 steps at 0.999), so in a short run the exported
average can be much worse than the trained weights (the run that showed it:
``docs/measurements.md``, run records).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float, warmup: bool = False) -> None:
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def decay_at(self, step: int) -> float:
        return min(self.decay, (1.0 + step) / (10.0 + step)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int = 0) -> None:
        """Fold in ``model``'s weights after optimiser step ``step`` (0-based; used by ``warmup``)."""
        decay = self.decay_at(step)
        ema_state = self.model.state_dict()
        for key, value in model.state_dict().items():
            target = ema_state[key]
            if value.is_floating_point():
                target.mul_(decay).add_(value.detach(), alpha=1.0 - decay)
            else:
                target.copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
