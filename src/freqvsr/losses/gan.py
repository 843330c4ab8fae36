"""Adversarial training pieces: a U-Net discriminator with spectral normalisation and GAN losses.

FastRealVSR's second stage uses L1 + perceptual + GAN (weights 1, 1, 5e-2). The paper does not
describe its discriminator; the usual choice in the Real-ESRGAN family, and ours, is a U-Net
discriminator with spectral normalisation (Wang et al., Real-ESRGAN, ICCVW 2021, §3.3): it gives a
realness score *per pixel*, so the generator gets local feedback on textures, and spectral norm
keeps the training stable. It is trained from scratch (no pretrained weights exist here).

Layout (``num_feat`` = F): a 3×3 conv to F; three stride-2 4×4 convs (F → 2F → 4F → 8F); three
decoder stages, each a ×2 bilinear upsample + 3×3 conv halving the channels, plus (``skip``) the
encoder feature of the same size; two more 3×3 convs at F and a 3×3 conv to one logit per pixel.
LeakyReLU(0.2) everywhere; every conv except the first and the last is spectrally normalised.
Our difference: the decoder upsamples to the size of the matching encoder feature instead of by a
fixed ×2, so any input size works (odd sizes included), not only multiples of 8.

GAN losses (:class:`GANLoss`), on raw logits:

* ``vanilla``: binary cross-entropy with logits (Real-ESRGAN's choice);
* ``lsgan``: mean squared error to the target label;
* ``hinge``: discriminator ``relu(1 - real) + relu(1 + fake)``; generator ``-mean(fake)``.

``loss_weight`` scales the generator's loss only (the discriminator is trained with weight 1, as
in BasicSR), so the same object serves both updates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


class UNetDiscriminatorSN(nn.Module):
    """``forward(x (N, C, H, W)) -> (N, 1, H, W)`` realness logits per pixel."""

    def __init__(self, in_channels: int = 3, num_feat: int = 64, skip: bool = True) -> None:
        super().__init__()
        f = num_feat
        self.skip = skip
        self.conv0 = nn.Conv2d(in_channels, f, 3, 1, 1)
        # encoder
        self.conv1 = spectral_norm(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(f * 4, f * 8, 4, 2, 1, bias=False))
        # decoder
        self.conv4 = spectral_norm(nn.Conv2d(f * 8, f * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(f * 4, f * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(f * 2, f, 3, 1, 1, bias=False))
        # head
        self.conv7 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    @staticmethod
    def _act(x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, negative_slope=0.2)

    def _up(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self._act(self.conv0(x))
        x1 = self._act(self.conv1(x0))
        x2 = self._act(self.conv2(x1))
        x3 = self._act(self.conv3(x2))

        y = self._act(self.conv4(self._up(x3, x2)))
        if self.skip:
            y = y + x2
        y = self._act(self.conv5(self._up(y, x1)))
        if self.skip:
            y = y + x1
        y = self._act(self.conv6(self._up(y, x0)))
        if self.skip:
            y = y + x0

        y = self._act(self.conv7(y))
        y = self._act(self.conv8(y))
        return self.conv9(y)


_KINDS = ("vanilla", "lsgan", "hinge")


def gan_loss(
    logits: torch.Tensor,
    target_is_real: bool,
    *,
    is_disc: bool,
    kind: str = "vanilla",
    real_label: float = 1.0,
    fake_label: float = 0.0,
) -> torch.Tensor:
    """Unweighted GAN loss of discriminator ``logits``.

    For the generator step pass the discriminator's logits on the fake images with
    ``target_is_real=True, is_disc=False``; for the discriminator step call it on real images
    (``True``) and fake images (``False``) with ``is_disc=True`` and add the two.
    """
    if kind not in _KINDS:
        raise ValueError(f"GAN loss kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    if kind == "hinge":
        if not is_disc:
            # The generator raises the discriminator's score of its output (no margin).
            return -logits.mean()
        sign = -1.0 if target_is_real else 1.0
        return F.relu(1.0 + sign * logits).mean()
    target = torch.full_like(logits, real_label if target_is_real else fake_label)
    if kind == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    return F.mse_loss(logits, target)


class GANLoss(nn.Module):
    """``forward(logits, target_is_real, is_disc=False)``; ``loss_weight`` applies to the generator only."""

    def __init__(
        self, kind: str = "vanilla", loss_weight: float = 1.0, real_label: float = 1.0, fake_label: float = 0.0
    ) -> None:
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"GAN loss kind must be one of {', '.join(_KINDS)}, got {kind!r}")
        self.kind, self.loss_weight = kind, loss_weight
        self.real_label, self.fake_label = real_label, fake_label

    def forward(self, logits: torch.Tensor, target_is_real: bool, is_disc: bool = False) -> torch.Tensor:
        loss = gan_loss(
            logits,
            target_is_real,
            is_disc=is_disc,
            kind=self.kind,
            real_label=self.real_label,
            fake_label=self.fake_label,
        )
        return loss if is_disc else self.loss_weight * loss
