"""Learning-rate schedules as pure functions of the iteration.

The learning rate of every parameter group is recomputed from ``(iteration, base_lr)`` before each
step, so the schedule has no state of its own to checkpoint: resuming at iteration ``i`` gives
exactly the learning rates of an uninterrupted run.
"""

from __future__ import annotations

import math

from freqvsr.train.config import ScheduleConfig


def learning_rate(cfg: ScheduleConfig, iteration: int, base_lr: float, total: int) -> float:
    """Learning rate at ``iteration`` (0-based) for a group whose initial rate is ``base_lr``.

    ``cosine`` follows mmcv's ``CosineRestartLrUpdaterHook`` (FTVSR/FCVSR configs): within a period
    of length ``P`` starting at ``s``, ``lr = min_lr + (w * base - min_lr) * (1 + cos(pi (i - s) / P)) / 2``
    with ``w`` the period's restart weight. A linear warm-up (``warmup`` iterations from 0) multiplies
    the result.
    """
    if cfg.kind == "constant":
        lr = base_lr
    elif cfg.kind == "multistep":
        lr = base_lr * cfg.gamma ** sum(iteration >= m for m in cfg.milestones)
    else:
        periods = list(cfg.periods) or [total]
        weights = list(cfg.restart_weights) or [1.0] * len(periods)
        start = 0
        for period, weight in zip(periods, weights, strict=False):  # noqa: B007 (both used after the loop)
            if iteration < start + period:
                break
            start += period
        else:
            start -= period  # past the last period: stay at its end (min_lr)
        progress = min((iteration - start) / period, 1.0)
        lr = cfg.min_lr + (weight * base_lr - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.warmup > 0 and iteration < cfg.warmup:
        lr *= (iteration + 1) / cfg.warmup
    return lr
