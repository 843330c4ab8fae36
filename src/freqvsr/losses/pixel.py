"""Pixel losses: L1 and Charbonnier.

Charbonnier here is ``sqrt((x - y)^2 + eps^2)`` with ``eps = 1e-6``: ``eps`` has the unit of a
pixel value, and the result equals BasicSR/mmediting's ``sqrt(d^2 + 1e-12)`` (they put the squared
constant inside the root). It is a smooth L1: differentiable at zero, and within ``eps`` of L1
elsewhere.

``reduction``: ``mean`` (over every element) | ``sum`` | ``none``. An optional ``weight`` tensor
(broadcastable to the inputs, e.g. a validity mask) multiplies the element-wise loss; with
``mean`` the result is then divided by the weight's total over the input shape, so masked-out
pixels do not dilute the loss.
"""

from __future__ import annotations

import torch
from torch import nn

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: torch.Tensor, weight: torch.Tensor | None, reduction: str) -> torch.Tensor:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")
    if weight is not None:
        weight = weight.to(loss.dtype).expand_as(loss)
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if weight is None:
        return loss.mean()
    return loss.sum() / weight.sum().clamp_min(1e-12)


def _check(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape")


def l1_loss(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, reduction: str = "mean"
) -> torch.Tensor:
    _check(pred, target)
    return _reduce((pred - target).abs(), weight, reduction)


def charbonnier_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
    eps: float = 1e-6,
) -> torch.Tensor:
    _check(pred, target)
    return _reduce(torch.sqrt((pred - target) ** 2 + eps * eps), weight, reduction)


class L1Loss(nn.Module):
    def __init__(self, loss_weight: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")
        self.loss_weight, self.reduction = loss_weight, reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return self.loss_weight * l1_loss(pred, target, weight, self.reduction)


class CharbonnierLoss(nn.Module):
    def __init__(self, loss_weight: float = 1.0, reduction: str = "mean", eps: float = 1e-6) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")
        self.loss_weight, self.reduction, self.eps = loss_weight, reduction, eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return self.loss_weight * charbonnier_loss(pred, target, weight, self.reduction, self.eps)
