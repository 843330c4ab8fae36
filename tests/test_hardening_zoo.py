"""`freqvsr models` counts parameters cheaply (initialisers skipped) and exactly."""

from __future__ import annotations

import torch

from freqvsr.models._registry import get_spec, list_models
from freqvsr.models._zoo import count_parameters


def test_counts_equal_fully_built_networks():
    # Every registered entry, built the ordinary way (initialised), against the cheap count.
    wrong = []
    for name in list_models():
        spec = get_spec(name)
        real = sum(p.numel() for p in spec.builder(**spec.args).parameters())
        cheap = count_parameters(name)
        if cheap != real:
            wrong.append(f"{name}: {cheap} != {real}")
    assert not wrong, wrong


def test_skipping_initialisers_does_not_leak():
    count_parameters("basicvsr.tiny")
    t = torch.full((64,), 7.0)
    torch.nn.init.uniform_(t, -1.0, 1.0)  # dispatching initialiser
    assert t.abs().max() <= 1.0
    t.mul_(0.0)  # a skipped in-place write while counting, live again afterwards
    assert not t.any()
    conv = torch.nn.Conv2d(4, 4, 3)
    assert conv.weight.abs().max() <= 1.0 and conv.weight.std() > 0
