"""Self-describing safetensors checkpoints: header round trip, storage dtype, prefixes, errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from freqvsr import __version__
from freqvsr.errors import ModelError
from freqvsr.models import create_model, load_checkpoint, save_checkpoint
from freqvsr.models._checkpoint import HEADER_KEY, read_checkpoint_header, strip_prefixes

TRAINING = {
    "data": "REDS (train split, 266 clips)",
    "degradation": "BI x4 (MATLAB bicubic)",
    "iterations": 1200,
    "wall_time": "0:41:10",
    "hardware": "1x H100",
    "batch": 4,
}
METRICS = [
    {"name": "psnr_y", "value": 25.31, "protocol": "Y, crop 0, all frames", "dataset": "Vid4"},
    {"name": "ssim_y", "value": 0.731, "protocol": "Y, crop 0", "dataset": "Vid4"},
]


@pytest.fixture()
def tiny():
    torch.manual_seed(0)
    return create_model("basicvsr.tiny")


def test_header_round_trip(tiny, tmp_path):
    path = save_checkpoint(tiny, tmp_path / "c.safetensors", training=TRAINING, metrics=METRICS, notes="smoke")
    header = read_checkpoint_header(path)
    assert header == {
        "format": 1,
        "arch": "basicvsr.tiny",
        "args": {
            "mid_channels": 8,
            "num_blocks": 1,
            "skip": "bilinear",
            "zero_init_last": False,
            "zero_init_flow": False,
        },
        "scale": 4,
        "freqvsr_version": __version__,
        "storage_dtype": None,
        "training": TRAINING,
        "metrics": METRICS,
        "notes": "smoke",
    }
    loaded = load_checkpoint(path)
    assert loaded.checkpoint_header == header
    assert not (tmp_path / "c.safetensors.tmp").exists()


def test_fp16_storage_loads_back_as_fp32(tiny, tmp_path):
    full = save_checkpoint(tiny, tmp_path / "full.safetensors")
    half = save_checkpoint(tiny, tmp_path / "half.safetensors", dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    assert read_checkpoint_header(half)["storage_dtype"] == "float16"
    assert all(t.dtype == torch.float16 for t in load_file(str(half)).values())
    loaded = load_checkpoint(half)
    for k, v in tiny.state_dict().items():
        got = loaded.state_dict()[k]
        assert got.dtype == torch.float32
        assert torch.equal(got, v.half().float())


def test_wrapper_prefixes_and_nonpersistent_buffers_not_saved(tiny, tmp_path):
    class Wrapper(nn.Module):  # stands in for DistributedDataParallel (the network in .module)
        def __init__(self, module):
            super().__init__()
            self.module = module

    tiny.register_buffer("scratch_basis", torch.ones(3), persistent=False)
    path = save_checkpoint(Wrapper(tiny), tmp_path / "w.safetensors")
    keys = set(load_file(str(path)))
    assert keys == set(create_model("basicvsr.tiny").state_dict())
    assert not any(k.startswith(("module.", "_orig_mod.")) or "scratch_basis" in k for k in keys)
    assert strip_prefixes({"module._orig_mod.a.b": 1, "c": 2}) == {"a.b": 1, "c": 2}


def test_model_without_description_cannot_be_saved(tmp_path):
    from freqvsr.models.basicvsr import BasicVSR

    with pytest.raises(ModelError, match=r"cannot save .*x.safetensors: BasicVSR has no arch_name"):
        save_checkpoint(BasicVSR(8, 1), tmp_path / "x.safetensors")


def test_errors_name_the_file(tiny, tmp_path):
    with pytest.raises(ModelError, match=r"checkpoint .*none.safetensors does not exist"):
        load_checkpoint(tmp_path / "none.safetensors")

    junk = tmp_path / "junk.safetensors"
    junk.write_text("hello")
    with pytest.raises(ModelError, match=r"checkpoint .*junk.safetensors is not a safetensors file"):
        load_checkpoint(junk)

    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, str(bare))
    with pytest.raises(ModelError, match=r"checkpoint .*bare.safetensors has no freqvsr header"):
        load_checkpoint(bare)

    good = save_checkpoint(tiny, tmp_path / "good.safetensors")
    tensors = load_file(str(good))
    header = read_checkpoint_header(good)

    alien = tmp_path / "alien.safetensors"
    save_file(tensors, str(alien), metadata={HEADER_KEY: json.dumps({**header, "arch": "alien.xl"})})
    with pytest.raises(ModelError, match=r"checkpoint .*alien.safetensors is for unknown architecture 'alien.xl'"):
        load_checkpoint(alien)

    wide = tmp_path / "wide.safetensors"
    save_file(
        tensors, str(wide), metadata={HEADER_KEY: json.dumps({**header, "args": {"mid_channels": 16, "num_blocks": 1}})}
    )
    with pytest.raises(ModelError, match=r"wide.safetensors do not fit BasicVSR: shape mismatch"):
        load_checkpoint(wide)

    future = tmp_path / "future.safetensors"
    save_file(tensors, str(future), metadata={HEADER_KEY: json.dumps({**header, "format": 99})})
    with pytest.raises(ModelError, match=r"future.safetensors has header format 99"):
        load_checkpoint(future)
