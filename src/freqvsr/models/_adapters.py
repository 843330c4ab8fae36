"""Adapters: a network that keeps :class:`~freqvsr.models.VSRModel`'s contract for a model that
does not meet it by itself, so the inference engine never has to know the difference.

:class:`LumaAdapter` turns a luma model (``colour == "y"``: FCVSR trained on CVCP's Y channel)
into an RGB model: the network upscales BT.601 Y, chroma is upscaled with bicubic, as the papers
evaluate such models. :func:`as_rgb_model` wraps only where needed.
"""

from __future__ import annotations

from typing import Any

import torch

from freqvsr.functional.color import rgb_to_ycbcr601, ycbcr601_to_rgb
from freqvsr.functional.resize import bicubic_upsample
from freqvsr.models._base import VSRModel


class LumaAdapter(VSRModel):
    """RGB in, RGB out, around a model that upscales the BT.601 luma only.

    The colour conversions and the chroma's bicubic run in float32 whatever autocast the caller
    runs under: only the wrapped network's own arithmetic follows the engine's precision. The
    temporal kind, window, size multiple and memory per pixel are the wrapped model's; an online
    model's state is the wrapped model's state.
    """

    def __init__(self, luma: VSRModel) -> None:
        if luma.colour != "y":
            raise ValueError(
                f"LumaAdapter wraps a luma model (colour 'y'), not {type(luma).__name__} ({luma.colour!r})"
            )
        super().__init__(scale=luma.scale, in_channels=3)
        self.luma = luma
        # The contract the engine reads, as the wrapped model declares it (instance values shadow
        # the class defaults of VSRModel).
        self.temporal = luma.temporal  # type: ignore[misc]
        self.window = luma.window  # type: ignore[misc]
        self.size_multiple = luma.size_multiple  # type: ignore[misc]
        self.bytes_per_lr_pixel = luma.bytes_per_lr_pixel

    def _split(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(Y to upscale, chroma) of ``(..., 3, H, W)`` RGB, in float32."""
        with torch.autocast(rgb.device.type, enabled=False):
            ycc = rgb_to_ycbcr601(rgb.float())
        return ycc[..., :1, :, :], ycc[..., 1:, :, :]

    def _join(self, y: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
        """RGB from the upscaled Y and the chroma, whose leading axes match the input's."""
        if self.temporal == "window":  # window models return the centre frame only
            chroma = chroma[:, self.window // 2]
        with torch.autocast(chroma.device.type, enabled=False):
            lead = chroma.shape[:-3]
            up = bicubic_upsample(chroma.reshape(-1, *chroma.shape[-3:]), self.scale)
            return ycbcr601_to_rgb(torch.cat([y.float(), up.reshape(*lead, *up.shape[-3:])], dim=-3))

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        self.check_input(lq)  # RGB here; the wrapped model checks the rest of its contract on Y
        y, chroma = self._split(lq)
        return self._join(self.luma(y), chroma)

    def init_state(self, lq_frame: torch.Tensor) -> Any:
        return self.luma.init_state(self._split(lq_frame)[0])

    def step(self, lq_frame: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        y, chroma = self._split(lq_frame)
        sr, state = self.luma.step(y, state)
        return self._join(sr, chroma), state


def as_rgb_model(model: VSRModel) -> VSRModel:
    """``model`` itself when it takes RGB, else the adapter that makes it do so."""
    if model.colour == "rgb":
        return model
    if model.colour == "y":
        return LumaAdapter(model)
    raise ValueError(f"{type(model).__name__}: unknown colour {model.colour!r} (expected 'rgb' or 'y')")
