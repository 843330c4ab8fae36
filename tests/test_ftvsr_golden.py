"""Golden equivalence: ``ftvsr.official`` reproduces the official FTVSR code for the same weights.

The golden folder (``shared/golden`` beside the repository; override with ``FREQVSR_GOLDEN``) holds
the official state-dict key list (``ftvsr/meta.json``) and, per case, the input, the official
output and intermediates. Weights are regenerated from the official keys with
``canonical_weights.py`` and checked against the stored digests; the four non-canonical entries
(SPyNet mean/std, DCT/IDCT kernels) come from *our* constructor, so their digests also prove our
DCT basis is bit-identical to the official one. The canonical weights are saved in the official
checkpoint layout (``{"state_dict": {"generator." + key: value}}``, as mmediting writes
``FTVSR_REDS.pth``) and loaded back through ``create_model(..., weights=PATH)``; the models are
built once per module.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

from freqvsr.models import ftvsr as ftvsr_module  # noqa: F401  (registers the ftvsr.* entries)
from freqvsr.models import create_model
from freqvsr.models.ftvsr import FTVSR

GOLDEN = Path(os.environ.get("FREQVSR_GOLDEN", Path(__file__).resolve().parents[2] / "shared" / "golden"))
FOLDER = GOLDEN / "ftvsr"

pytestmark = pytest.mark.skipif(
    not (GOLDEN / "canonical_weights.py").is_file() or not (FOLDER / "meta.json").is_file(),
    reason=f"golden data not found at {GOLDEN} (set FREQVSR_GOLDEN to the shared/golden folder)",
)

OFFICIAL_ENTRY = {1: "ftvsr.official-vimeo", 3: "ftvsr.official"}  # keyframe_stride -> registry entry


def _canonical_weights():
    if str(GOLDEN) not in sys.path:
        sys.path.insert(0, str(GOLDEN))
    import canonical_weights  # noqa: PLC0415  (lives in the golden folder)

    return canonical_weights


@pytest.fixture(scope="module")
def meta():
    return json.loads((FOLDER / "meta.json").read_text())


@pytest.fixture(scope="module")
def official_state(meta):
    """The golden weights, keyed by the official names, with their digests checked."""
    cw = _canonical_weights()
    over = {r["key"]: r["shape"] for r in meta["state_dict"] if r["overwritten"]}
    state = cw.canonical_state_dict(over, gain=meta["canonical_rule"]["gain"])
    ours = FTVSR(num_blocks=1, ftt_blocks=1).state_dict()  # small build: only the fixed entries are read
    for key in meta["official_value_keys"]:
        state[key] = ours[key].clone()
    bad = [r["key"] for r in meta["state_dict"] if cw.tensor_digest(state[r["key"]]) != r["sha256_16"]]
    assert not bad, f"canonical weights differ from the golden digests (stop: torch RNG changed?): {bad[:5]}"
    return state


@pytest.fixture(scope="module")
def official_pth(official_state, tmp_path_factory):
    path = tmp_path_factory.mktemp("ftvsr") / "FTVSR_REDS.pth"
    ckpt = {"meta": {"note": "canonical golden weights in the mmediting layout"},
            "state_dict": {"generator." + k: v for k, v in official_state.items()}}
    ckpt["state_dict"]["step_counter"] = torch.zeros(1)  # restorer buffer the loader must drop
    torch.save(ckpt, path)
    return path


@pytest.fixture(scope="module")
def models(official_pth):
    return {}  # keyframe_stride -> model, built on first use


def _model(models, official_pth, keyframe_stride):
    if keyframe_stride not in models:
        models[keyframe_stride] = create_model(OFFICIAL_ENTRY[keyframe_stride], weights=official_pth).eval()
    return models[keyframe_stride]


def test_state_dict_layout_matches_official(meta):
    own = FTVSR().state_dict()
    rows = {r["key"]: tuple(r["shape"]) for r in meta["state_dict"]}
    assert len(own) == meta["n_state_dict_keys"] == 394
    assert {k: tuple(v.shape) for k, v in own.items()} == rows
    model = FTVSR()
    fixed = model.FTT.dct.dct_conv.weight.numel() + model.FTT.rdct.reverse_dct_conv.weight.numel()
    assert sum(p.numel() for p in model.parameters()) + fixed == meta["n_parameter_elements"] == 45_807_663


def test_official_checkpoint_loads_through_factory(models, official_pth, official_state):
    model = _model(models, official_pth, 3)
    loaded = model.state_dict()
    assert loaded.keys() == official_state.keys()
    assert all(torch.equal(loaded[k], official_state[k]) for k in loaded)
    assert model.arch_name == "ftvsr.official" and model.keyframe_stride == 3


@pytest.mark.parametrize("case_index", [0, 1, 2])
def test_case_matches_official(case_index, meta, models, official_pth, record_property):
    case = meta["cases"][case_index]
    tol = meta["tolerance"]
    stride = case["constructor_overrides"].get("keyframe_stride", meta["official"]["constructor_args"]["keyframe_stride"])
    model = _model(models, official_pth, stride)
    blob = torch.load(FOLDER / case["file"])
    with torch.inference_mode():
        out, inter = model.forward_with_intermediates(blob["input"])
        if "ftta_stress_out" in case["intermediates"]:
            q, kv = blob["ftta_call0_q"], blob["ftta_call0_kv"]
            inter["ftta_stress_out"] = model.FTT.ftta(32 * q, 32 * kv, 32 * kv)
    errors = {"output": (out - blob["output"]).abs().max().item()}
    for name in case["intermediates"]:
        assert inter[name].shape == blob[name].shape, name
        errors[name] = (inter[name] - blob[name]).abs().max().item()
    record_property("max_abs_errors", errors)
    print(f"\ncase {case_index}: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))
    assert errors["output"] <= tol["output_atol"], errors
    for name in case["intermediates"]:
        assert errors[name] <= tol["intermediate_atol"][name], (name, errors)
