"""Contracts every registered network keeps (tiny variants), and the factory's errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from freqvsr.errors import ModelError
from freqvsr.models import VSRModel, create_model, list_models, load_checkpoint, save_checkpoint
from freqvsr.models._checkpoint import HEADER_KEY

CONTRACT_MODELS = sorted(n for n in list_models() if n.endswith(".tiny")) + ["bicubic"]
TEMPORAL_KINDS = {"image", "sequence", "online", "window"}


def _contract_input(model: VSRModel, seed: int = 0) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(1, T, 3, 20, 24) rounded up to the model's size multiple, and the expected output shape."""
    m = max(1, int(model.size_multiple))
    h, w = math.ceil(20 / m) * m, math.ceil(24 / m) * m
    t = model.window if model.temporal == "window" else 3
    g = torch.Generator().manual_seed(seed)
    lq = torch.rand(1, t, 3, h, w, generator=g)
    s = model.scale
    expected = (1, 3, s * h, s * w) if model.temporal == "window" else (1, t, 3, s * h, s * w)
    return lq, expected


@pytest.mark.parametrize("name", CONTRACT_MODELS)
def test_forward_shape_and_contract(name):
    torch.manual_seed(0)
    model = create_model(name, weights=None)
    assert isinstance(model, VSRModel)
    assert model.temporal in TEMPORAL_KINDS
    assert isinstance(model.size_multiple, int) and model.size_multiple >= 1
    assert model.scale == 4
    assert model.arch_name == name
    json.dumps(model.arch_args)  # the checkpoint header must be able to hold the arguments
    lq, expected = _contract_input(model)
    if model.size_multiple == 1 and model.temporal != "window":
        assert expected == (1, 3, 3, 80, 96)
    with torch.no_grad():
        out = model(lq)
    assert tuple(out.shape) == expected
    assert out.dtype == lq.dtype and torch.isfinite(out).all()


@pytest.mark.parametrize("name", CONTRACT_MODELS)
def test_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = create_model(name, weights=None)
    lq, _ = _contract_input(model)
    lq.requires_grad_(True)
    out = model(lq)
    (out * torch.randn_like(out)).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert lq.grad is not None and lq.grad.abs().sum() > 0


@pytest.mark.parametrize("name", CONTRACT_MODELS)
def test_save_load_round_trip_is_exact(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, weights=None).eval()
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    loaded = load_checkpoint(path).eval()
    assert type(loaded) is type(model) and loaded.arch_name == name
    assert loaded.arch_args == json.loads(json.dumps(model.arch_args))
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    lq, _ = _contract_input(model, seed=1)
    with torch.no_grad():
        assert torch.equal(model(lq), loaded(lq))
    # and through the factory, with a matching scale check
    assert create_model(path, scale=4).arch_name == name


# --- factory ------------------------------------------------------------------------------------


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*basicvsr"):
        create_model("nope")


def test_unknown_override_lists_valid_parameters():
    with pytest.raises(
        ModelError, match=r"unknown argument\(s\) channels .*valid: mid_channels, num_blocks, skip, zero_init_last"
    ):
        create_model("basicvsr.tiny", channels=3)


def test_override_and_full_args_recorded():
    m = create_model("basicvsr.tiny", num_blocks=2)
    assert m.arch_args == {
        "mid_channels": 8,
        "num_blocks": 2,
        "skip": "bilinear",
        "zero_init_last": False,
        "zero_init_flow": False,
    }
    assert len(m.forward_resblocks.main[2]) == 2
    b = create_model("bicubic", scale=2)
    assert b.scale == 2 and b.arch_args["scale"] == 2
    assert b(torch.rand(1, 1, 3, 5, 6)).shape == (1, 1, 3, 10, 12)


def test_wrong_scale_names_the_checkpoint(tmp_path):
    path = save_checkpoint(create_model("bicubic", scale=2), tmp_path / "x2.safetensors")
    with pytest.raises(ModelError, match=r"x2\.safetensors is a ×2 model, asked for ×4"):
        create_model(path, scale=4)
    with pytest.raises(ModelError, match=r"model 'basicvsr.tiny' is a ×4 model, asked for ×2"):
        create_model("basicvsr.tiny", scale=2)
    with pytest.raises(ModelError, match=r"x2\.safetensors is a ×2 model, asked for ×4"):
        create_model("bicubic", weights=path)


def test_bad_checkpoint_files_name_the_file(tmp_path):
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(ModelError, match="missing.safetensors does not exist"):
        create_model(missing)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 5 + b"not a checkpoint")
    with pytest.raises(ModelError, match="garbage.safetensors is not a safetensors file"):
        create_model(garbage)
    foreign = tmp_path / "official.pth"
    torch.save({"w": torch.zeros(1)}, foreign)
    with pytest.raises(ModelError, match=r"official.pth is not a freqvsr checkpoint.*weights="):
        create_model(foreign)
    with pytest.raises(ModelError, match=r"weights file .*nothere.pth does not exist"):
        create_model("basicvsr.tiny", weights=tmp_path / "nothere.pth")
    with pytest.raises(ModelError, match=r"official.pth do not fit BasicVSR: missing"):
        create_model("basicvsr.tiny", weights=foreign)


def test_checkpoint_override_must_keep_the_weights_fitting(tmp_path):
    path = save_checkpoint(create_model("basicvsr.tiny"), tmp_path / "t.safetensors")
    with pytest.raises(ModelError, match=r"t.safetensors do not fit BasicVSR: (missing|unexpected)"):
        create_model(path, num_blocks=2)
    with pytest.raises(ModelError, match=r"checkpoint .*t.safetensors.*unknown argument\(s\) bogus"):
        create_model(path, bogus=1)
    with pytest.raises(ModelError, match="already holds weights"):
        create_model(path, weights=path)


def test_weights_from_freqvsr_checkpoint_and_foreign_pth(tmp_path):
    torch.manual_seed(1)
    src = create_model("basicvsr.tiny")
    ckpt = save_checkpoint(src, tmp_path / "a.safetensors")
    dst = create_model("basicvsr.tiny", weights=ckpt)
    assert all(torch.equal(src.state_dict()[k], v) for k, v in dst.state_dict().items())
    # DDP + torch.compile prefixes in a plain torch.save'd state dict under "params"
    pth = tmp_path / "b.pth"
    torch.save({"params": {f"module._orig_mod.{k}": v for k, v in src.state_dict().items()}}, pth)
    dst = create_model("basicvsr.tiny", weights=pth)
    assert all(torch.equal(src.state_dict()[k], v) for k, v in dst.state_dict().items())
    # a freqvsr checkpoint of another architecture is refused by name
    bic = save_checkpoint(create_model("bicubic"), tmp_path / "bic.safetensors")
    with pytest.raises(ModelError, match="holds a 'bicubic' model, not 'basicvsr.tiny'"):
        create_model("basicvsr.tiny", weights=bic)


def test_shipped_weights_are_loaded_unless_disabled(tmp_path, monkeypatch):
    from freqvsr.models import _factory, _registry

    torch.manual_seed(2)
    src = create_model("basicvsr.tiny")
    save_checkpoint(src, tmp_path / "tiny.safetensors")
    spec = _registry.ModelSpec(
        "test.shipped", type(src), {"mid_channels": 8, "num_blocks": 1}, weights="tiny.safetensors"
    )
    monkeypatch.setitem(_registry._REGISTRY, "test.shipped", spec)
    monkeypatch.setattr(_factory, "WEIGHTS_DIR", tmp_path)
    shipped = create_model("test.shipped")
    assert all(torch.equal(src.state_dict()[k], v) for k, v in shipped.state_dict().items())
    fresh = create_model("test.shipped", weights=None)
    assert not torch.equal(fresh.conv_last.weight, src.conv_last.weight)
    with pytest.raises(ModelError, match="weights=None"):
        create_model("test.shipped", num_blocks=2)
    with pytest.raises(ModelError, match="has no shipped weights"):
        create_model("basicvsr.tiny", pretrained=True)


def test_header_is_json_under_freqvsr_key(tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(create_model("basicvsr.tiny"), tmp_path / "h.safetensors")
    with safe_open(str(path), framework="pt") as f:
        header = json.loads(f.metadata()[HEADER_KEY])
    assert header["arch"] == "basicvsr.tiny" and header["format"] == 1 and header["scale"] == 4
