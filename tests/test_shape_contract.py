"""Every registered model checks its input against the shape contract (VSRModel.check_input):
wrong ndim, wrong channels and too few frames fail with a UsageError (a ValueError) that names
the parameter, before any work."""

from __future__ import annotations

import pytest
import torch

from freqvsr.errors import UsageError
from freqvsr.models import VSRModel, create_model, list_models

CONTRACT_MODELS = sorted(n for n in list_models() if n.endswith(".tiny")) + ["bicubic"]


def _model(name: str) -> VSRModel:
    torch.manual_seed(0)
    return create_model(name, weights=None).eval()


def _good_shape(model: VSRModel) -> tuple[int, int, int, int, int]:
    m = max(model.size_multiple, 1)
    t = model.window if model.temporal == "window" else max(model.min_frames, 2)
    return (1, t, model.in_channels, 4 * m, 4 * m)


@pytest.mark.parametrize("name", CONTRACT_MODELS)
def test_wrong_ndim_names_lq(name):
    model = _model(name)
    n, t, c, h, w = _good_shape(model)
    with pytest.raises(UsageError, match=r"lq must be 5-D .*ndim=4"):
        model(torch.rand(n * t, c, h, w))


@pytest.mark.parametrize("name", CONTRACT_MODELS)
def test_wrong_channels_names_in_channels(name):
    model = _model(name)
    n, t, c, h, w = _good_shape(model)
    with pytest.raises(UsageError, match=rf"C={c + 1} channels, expected in_channels={c}"):
        model(torch.rand(n, t, c + 1, h, w))


@pytest.mark.parametrize("name", CONTRACT_MODELS)
def test_too_few_frames_names_the_frame_parameter(name):
    model = _model(name)
    n, t, c, h, w = _good_shape(model)
    if model.temporal == "window":
        few, param = model.window - 1, f"window={model.window}"
    else:
        few, param = model.min_frames - 1, f"min_frames={model.min_frames}"
    with pytest.raises(ValueError, match=rf"T={few} frames.*{param}"):
        model(torch.rand(n, few, c, h, w))


def test_strict_size_multiple_is_checked():
    model = _model("fcvsr.tiny")
    assert model.strict_size_multiple and model.size_multiple == 4
    with pytest.raises(UsageError, match=r"divisible by 4 \(size_multiple=4\)"):
        model(torch.rand(1, model.window, model.in_channels, 14, 16))
