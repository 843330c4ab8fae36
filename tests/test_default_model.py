"""Every shipped checkpoint (the default model first): trained weights in the package,
self-describing, better than bicubic, and the code still reproduces the quality its metadata
records (measured by running, not read back)."""

from __future__ import annotations

import pytest

from freqvsr.bench.quality import short_clip_scores
from freqvsr.inference import DEFAULT_MODEL
from freqvsr.models import create_model
from freqvsr.models._checkpoint import read_checkpoint_header
from freqvsr.models._factory import WEIGHTS_DIR
from freqvsr.models._registry import get_spec, list_models

PRESETS = ("bi", "crf15", "crf25", "crf35")
SHIPPED = [DEFAULT_MODEL] + [n for n in list_models() if get_spec(n).weights and n != DEFAULT_MODEL]


# models made for one degradation (the papers ship one model per kernel / noise level)
SINGLE_DEGRADATION = ("bd", "noise")


def target_presets(header) -> tuple[str, ...]:
    """The presets a checkpoint is made for and recorded on: its one degradation for a BD or noise
    model, BI and H.264 CRF 15/25/35 for the others."""
    preset = header["training"]["degradation"]["preset"]
    return (preset,) if preset in SINGLE_DEGRADATION else PRESETS


@pytest.fixture(scope="module", params=SHIPPED)
def shipped(request):
    spec = get_spec(request.param)
    assert spec.weights, f"model {request.param!r} ships no trained weights"
    path = WEIGHTS_DIR / spec.weights
    assert path.stat().st_size < 20 * 2**20
    return request.param, read_checkpoint_header(path)


@pytest.fixture(scope="module")
def header(shipped):
    return shipped[1]


def test_metadata_describes_the_training(header):
    training = header["training"]
    assert training["iterations"] > 0 and training["wall_time_s"] > 0 and training["hardware"]
    assert training["degradation"]["preset"] in ("ftvsr-mix", "camera-mix", "real", *SINGLE_DEGRADATION)
    # never trained on the evaluation clips: the corpus of docs/data.md (as PNG folders or a frame store)
    assert training["data"]["kind"] in ("folder", "store")


def _judged_by_niqe(header) -> bool:
    """A `*.real` model (real-world mixture, GAN stage) is judged by NIQE: on clean input it trades
    PSNR for sharpness by design (issue 14)."""
    return header["training"]["degradation"].get("preset") == "real"


def test_beats_bicubic_on_the_public_clips_for_every_preset(header):
    # The papers' convention: the mean over the test clips (each clip counts once). Per clip the
    # shipped default is below bicubic in one case, bikes CRF 35 (-0.04 dB; README says so).
    rows = [m for m in header["metrics"] if m["name"] == "psnr_rgb" and "short clip" not in m["dataset"]]
    clips = {m["dataset"] for m in rows}
    recorded = {m["degradation"] for m in rows}
    assert set(target_presets(header)) <= recorded and len(clips) >= 2

    def mean(rows, preset, who):
        values = [m["value"] for m in rows if m["degradation"] == preset and m["model"] == who]
        assert values
        return sum(values) / len(values)

    if not _judged_by_niqe(header):
        # on what it is made for; a BD or noise model also records BI, where it may lose
        for preset in target_presets(header):
            assert mean(rows, preset, "model") > mean(rows, preset, "bicubic"), preset
        return
    # a *.real model: more natural than bicubic by NIQE on every preset, and better in PSNR on
    # the real-world mixture it is made for
    niqe = [m for m in header["metrics"] if m["name"] == "niqe"]
    assert {m["degradation"] for m in niqe} == recorded
    for preset in sorted(recorded):
        assert mean(niqe, preset, "model") < mean(niqe, preset, "bicubic"), preset
    assert mean(rows, "real", "model") > mean(rows, "real", "bicubic")


def test_short_clip_psnr_matches_metadata(shipped):
    name, header = shipped
    recorded = {m["degradation"]: m for m in header["metrics"] if "short clip" in m["dataset"]}
    presets = target_presets(header)
    assert set(recorded) == set(presets)
    measured = short_clip_scores(name, presets=presets)
    for preset in presets:
        assert measured[preset] == pytest.approx(recorded[preset]["value"], abs=0.05), preset
        if not _judged_by_niqe(header):
            assert recorded[preset]["value"] > recorded[preset]["bicubic"], preset


def test_weights_are_stored_as_the_header_says_and_fp16_only_where_measured_harmless(shipped):
    # issue 14: fp16 storage where it changes PSNR by < 0.01 dB; benchmarks/fp16_storage.py --write
    # records the check it made in the header before replacing the file.
    from safetensors import safe_open

    name, header = shipped
    with safe_open(str(WEIGHTS_DIR / get_spec(name).weights), framework="pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()} - {"I64", "I32", "BOOL"}
    if header["storage_dtype"] == "float16":
        assert dtypes == {"F16"}
        record = header["precision"]["storage_fp16"]
        assert record["delta_psnr_rgb_db"] and record["max_abs_delta_psnr_rgb_db"] < record["limit_db"] <= 0.01
        assert max(abs(v) for v in record["delta_psnr_rgb_db"].values()) == record["max_abs_delta_psnr_rgb_db"]
    else:
        assert header["storage_dtype"] is None and dtypes == {"F32"}


def test_default_model_loads_its_shipped_weights():
    a, b = create_model(DEFAULT_MODEL), create_model(DEFAULT_MODEL)
    sa, sb = a.state_dict(), b.state_dict()
    assert all((sa[k] == sb[k]).all() for k in sa)  # the same file, not a random init
    assert any(v.abs().sum() > 0 for k, v in sa.items() if k.startswith("conv_last"))


def test_models_table_summarises_the_gain_over_bicubic():
    from freqvsr.models._zoo import quality_summary

    rows = [
        {"name": "psnr_rgb", "value": v, "model": who, "dataset": clip, "degradation": deg, "protocol": "P"}
        for who, clip, deg, v in [
            ("model", "a", "bi", 30.0),
            ("bicubic", "a", "bi", 28.0),
            ("model", "b", "bi", 26.0),
            ("bicubic", "b", "bi", 27.0),
        ]
    ]
    rows.append(
        {
            "name": "psnr_rgb",
            "value": 9.0,
            "model": "model",
            "dataset": "short",
            "degradation": "bi",
            "protocol": "Q",
            "bicubic": 8.0,
        }
    )
    assert quality_summary(rows) == "PSNR RGB vs bicubic: bi +0.50 dB (mean of a, b)"
    niqe = [
        {"name": "niqe", "value": v, "model": who, "dataset": "a", "degradation": deg, "protocol": "N"}
        for who, deg, v in [("model", "real", 4.0), ("bicubic", "real", 6.5), ("gt", "real", 3.25)]
    ]
    assert quality_summary(rows + niqe) == (
        "PSNR RGB vs bicubic: bi +0.50 dB (mean of a, b); NIQE model/bicubic/GT (lower is better): real 4.00/6.50/3.25 (a)"
    )
