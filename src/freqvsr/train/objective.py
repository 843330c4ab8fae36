"""The training objective built from the config's loss list: ``sum_i weight_i * loss_i``.

Terms: ``charbonnier`` (mmedit's ``sqrt(d^2 + eps^2)``, eps 1e-6 = its 1e-12 inside the root),
``l1``, ``mse``, ``fc`` (FCVSR's frequency-aware contrastive loss, needs the LQ centre frame),
``perceptual`` (VGG-19 with ``args.vgg_path``, else the Laplacian-pyramid fallback) and ``gan``
(U-Net discriminator with spectral norm, ``args.kind`` vanilla|lsgan|hinge, ``args.num_feat``,
``args.images``). Images reach the terms as (N, 3, H, W): the loop flattens time into the batch.
``gan`` with ``args.images: k`` shows the discriminator k of the N frames, drawn at random each step
(the generator's adversarial term and the discriminator's update draw separately): on a CPU the
discriminator costs several times the generator per frame, and neighbouring frames of one clip
teach it nearly the same thing.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.errors import UsageError
from freqvsr.train.config import LossTerm

PIXEL_TERMS = ("charbonnier", "l1", "mse")
KNOWN_TERMS = (*PIXEL_TERMS, "fc", "perceptual", "gan")


def _pixel_fn(term: LossTerm):
    from freqvsr.losses.pixel import charbonnier_loss, l1_loss

    if term.name == "charbonnier":
        eps = float(term.args.get("eps", 1e-6))
        return lambda sr, gt, lq: charbonnier_loss(sr, gt, eps=eps)
    if term.name == "l1":
        return lambda sr, gt, lq: l1_loss(sr, gt)
    return lambda sr, gt, lq: F.mse_loss(sr, gt)


class Objective(nn.Module):
    """``generator_loss(sr, gt, lq) -> (total, parts)``. With a ``gan`` term, ``discriminator``
    holds the discriminator (trained by the loop with :func:`freqvsr.train.loop.discriminator_loss`)."""

    def __init__(self, terms: tuple[LossTerm, ...], source: str = "config") -> None:
        super().__init__()
        self.terms: list[tuple[str, float, Any]] = []
        self.discriminator: nn.Module | None = None
        self.gan_kind = "vanilla"
        self.gan_images = 0  # 0: every frame of the batch
        self.perceptual = nn.ModuleList()  # registered so .to(device) moves VGG weights
        for term in terms:
            if term.name not in KNOWN_TERMS:
                raise UsageError(f"{source}: unknown loss {term.name!r}; valid: {', '.join(KNOWN_TERMS)}")
            try:
                self.terms.append((term.name, float(term.weight), self._build(term)))
            except TypeError as exc:
                raise UsageError(f"{source}: loss {term.name!r}: bad args {term.args} ({exc})") from None

    def _build(self, term: LossTerm):
        if term.name in PIXEL_TERMS:
            return _pixel_fn(term)
        if term.name == "fc":
            from freqvsr.losses.frequency_contrastive import frequency_contrastive_loss

            temperature = float(term.args.get("temperature", 1.0))
            return lambda sr, gt, lq: frequency_contrastive_loss(sr, gt, lq, temperature)
        if term.name == "perceptual":
            from freqvsr.losses.perceptual import PerceptualLoss

            module = PerceptualLoss(**term.args)
            self.perceptual.append(module)
            return lambda sr, gt, lq: module(sr, gt)
        from freqvsr.losses.gan import UNetDiscriminatorSN, gan_loss

        args = dict(term.args)
        self.gan_kind = args.pop("kind", "vanilla")
        self.gan_images = int(args.pop("images", 0))
        if self.gan_images < 0:
            raise TypeError(f"images must be >= 0, got {self.gan_images}")
        self.discriminator = UNetDiscriminatorSN(**args)
        return lambda sr, gt, lq: gan_loss(
            self.discriminator(self.adversarial_sample(sr)[0]), True, is_disc=False, kind=self.gan_kind
        )

    def adversarial_sample(self, *images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The same ``gan_images`` rows of each (N, ...) tensor, drawn at random (all rows when 0 or
        N is not larger)."""
        n = images[0].shape[0]
        if not self.gan_images or self.gan_images >= n:
            return images
        pick = torch.randperm(n, device=images[0].device)[: self.gan_images]
        return tuple(x[pick] for x in images)

    def generator_loss(
        self, sr: torch.Tensor, gt: torch.Tensor, lq: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        total = sr.new_zeros(())
        parts: dict[str, float] = {}
        for name, weight, fn in self.terms:
            value = fn(sr, gt, lq)
            parts[f"loss_{name}"] = float(value.detach())
            total = total + weight * value
        return total, parts
