"""FCVSR's frequency-aware contrastive (FC) loss, from the paper's equations (16)-(18).

**Paper-only.** The released FCVSR code never trained with an FC loss: its only version
(``MultiWaveContrastiveLoss`` in ``CVSR_train/opt/loss.py``) is commented out, and even that one
uses LPIPS-VGG distances in a ratio form without temperature and computes every term under
``torch.no_grad()``, so it could not give a gradient (``docs/architectures.md``, FCVSR losses). This module
implements the paper's form instead; no official reference output exists for it.

All three images are split with a one-level Haar DWT into LL / LH / HL / HH
(``functional.dwt.haar_dwt``):

* SR = the network output, HR = ground truth, UP = the LQ centre frame upsampled bilinearly to the
  SR size (the paper's I^UP, the "blurry" result the network should move away from).
* High-frequency group (Eq. 16): anchors {SR_LH, SR_HL, SR_HH}, each with its own positive
  {HR_LH, HR_HL, HR_HH} (paired by band) and the negatives N = {UP_LH, UP_HL, UP_HH}:
  ``L_high = mean_j -log( e^{s(A_j,P_j)/t} / (e^{s(A_j,P_j)/t} + sum_k e^{s(A_j,N_k)/t}) )``.
* Low-frequency group (Eq. 17): anchor SR_LL, positives {HR_LL, UP_LL}, the same negatives N:
  ``L_low = -log( sum_p e^{s(A,P_p)/t} / (sum_p e^{s(A,P_p)/t} + sum_k e^{s(A,N_k)/t}) )``.
* Eq. 18: ``L_FC = L_high + L_low``; the training loss is ``L_spatial + alpha * L_FC`` (alpha = 1).

``s`` is the paper's "L1 similarity". Read literally, ``exp(L1/t)`` would *reward* a larger
distance to the positive, so we use the negated mean absolute difference, ``s = -L1`` (the paper
leaves this open; this is the reading under which the loss does what the paper describes).
HR and UP are treated as constants (no gradient); the loss is averaged over the batch.

Measured (``docs/zoo.md``, fc-loss ablation): at weight 1 and t = 1 it costs FCVSR-S 2 dB. The
mean-L1 logits lie ~0.001 apart, so the softmax is flat and the push from UP never saturates, and
Eq. 17 compares SR's LL band with UP's near-zero detail bands, so it rewards a brighter LL. Use a
small weight (``fcvsr-s.mix`` trains with 0.01).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from freqvsr.functional.dwt import haar_dwt


def _similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Negated per-sample L1 distance (mean over C, H, W): (B, ...) x (B, ...) -> (B,)."""
    return -(a - b).abs().flatten(1).mean(dim=1)


def frequency_contrastive_terms(
    sr: torch.Tensor, hr: torch.Tensor, lq: torch.Tensor, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L_high, L_low)``, each a scalar averaged over the batch. See the module docstring.

    ``sr``, ``hr``: (B, C, H, W). ``lq``: (B, C, h, w), the LQ centre frame; resized bilinearly
    (``align_corners=False``) to (H, W) unless it already has that size.
    """
    if sr.shape != hr.shape:
        raise ValueError(f"sr {tuple(sr.shape)} and hr {tuple(hr.shape)} must have the same shape")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    up = (
        lq
        if lq.shape[-2:] == sr.shape[-2:]
        else F.interpolate(lq, size=sr.shape[-2:], mode="bilinear", align_corners=False)
    )
    sr_ll, *sr_high = haar_dwt(sr)
    hr_ll, *hr_high = haar_dwt(hr.detach())
    up_ll, *up_high = haar_dwt(up.detach())

    high_terms = []
    for anchor, positive in zip(sr_high, hr_high, strict=True):
        logits = torch.stack([_similarity(anchor, positive)] + [_similarity(anchor, n) for n in up_high], 1)
        logits = logits / temperature
        high_terms.append(torch.logsumexp(logits, 1) - logits[:, 0])  # -log softmax of the positive
    high = torch.stack(high_terms).mean()

    pos = torch.stack([_similarity(sr_ll, hr_ll), _similarity(sr_ll, up_ll)], 1) / temperature
    neg = torch.stack([_similarity(sr_ll, n) for n in up_high], 1) / temperature
    low = (torch.logsumexp(torch.cat((pos, neg), 1), 1) - torch.logsumexp(pos, 1)).mean()
    return high, low


def frequency_contrastive_loss(
    sr: torch.Tensor, hr: torch.Tensor, lq: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """``L_FC = L_high + L_low`` (paper Eq. 18), a differentiable scalar. Paper-only, see module docstring."""
    high, low = frequency_contrastive_terms(sr, hr, lq, temperature)
    return high + low


class FrequencyContrastiveLoss(nn.Module):
    """Module form of :func:`frequency_contrastive_loss`: ``loss(sr, hr, lq) * weight``.

    Paper-only: the released FCVSR code never trained with it (see module docstring).
    """

    def __init__(self, temperature: float = 1.0, weight: float = 1.0) -> None:
        super().__init__()
        self.temperature = float(temperature)
        self.weight = float(weight)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor, lq: torch.Tensor) -> torch.Tensor:
        return self.weight * frequency_contrastive_loss(sr, hr, lq, self.temperature)
