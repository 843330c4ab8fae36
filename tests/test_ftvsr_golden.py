"""Golden equivalence: ``ftvsr.official`` reproduces the official FTVSR code for the same weights.

The golden data (the full sets beside the repository or the compact subset in ``tests/data``:
``tests/golden_data.py``, ``docs/golden.md``) holds the official state-dict key list
(``ftvsr/meta.json``) and, per case, the input, the official output and intermediates. Weights
are regenerated from the official keys by the canonical rule and checked against the stored
digests; the four non-canonical entries (SPyNet mean/std, DCT/IDCT kernels) come from *our*
constructor, so their digests also prove our DCT basis is bit-identical to the official one. The canonical weights are saved in the official
checkpoint layout (``{"state_dict": {"generator." + key: value}}``, as mmediting writes
``FTVSR_REDS.pth``) and loaded back through ``create_model(..., weights=PATH)``; the models are
built once per module.
"""

from __future__ import annotations

import pytest
import torch
from golden_data import available, bad_digests, canonical_state_dict, load_case, load_meta, skip_reason

from freqvsr.models import ftvsr as ftvsr_module  # noqa: F401  (registers the ftvsr.* entries)
from freqvsr.models import create_model
from freqvsr.models.ftvsr import FTVSR

FOLDER = "ftvsr"

pytestmark = pytest.mark.skipif(not available(FOLDER), reason=skip_reason(FOLDER))

OFFICIAL_ENTRY = {1: "ftvsr.official-vimeo", 3: "ftvsr.official"}  # keyframe_stride -> registry entry


@pytest.fixture(scope="module")
def meta():
    return load_meta(FOLDER)


@pytest.fixture(scope="module")
def official_state(meta):
    """The golden weights, keyed by the official names, with their digests checked."""
    state = canonical_state_dict(meta)
    ours = FTVSR(num_blocks=1, ftt_blocks=1).state_dict()  # small build: only the fixed entries are read
    for key in meta["official_value_keys"]:
        state[key] = ours[key].clone()
    bad = bad_digests(meta, state)
    assert not bad, f"canonical weights differ from the golden digests (stop: torch RNG changed?): {bad[:5]}"
    return state


@pytest.fixture(scope="module")
def official_pth(official_state, tmp_path_factory):
    path = tmp_path_factory.mktemp("ftvsr") / "FTVSR_REDS.pth"
    ckpt = {
        "meta": {"note": "canonical golden weights in the mmediting layout"},
        "state_dict": {"generator." + k: v for k, v in official_state.items()},
    }
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
    stride = case["constructor_overrides"].get(
        "keyframe_stride", meta["official"]["constructor_args"]["keyframe_stride"]
    )
    model = _model(models, official_pth, stride)
    blob = load_case(FOLDER, case)
    with torch.inference_mode():
        out, inter = model.forward_with_intermediates(blob["input"])
        if "ftta_stress_out" in case["intermediates"]:
            q, kv = blob["ftta_call0_q"], blob["ftta_call0_kv"]
            inter["ftta_stress_out"] = model.FTT.ftta(32 * q, 32 * kv, 32 * kv)
    errors = {"output": blob.error("output", out)}  # shapes checked; subset: at the stored positions
    for name in case["intermediates"]:
        errors[name] = blob.error(name, inter[name])
    record_property("max_abs_errors", errors)
    print(f"\ncase {case_index}: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))
    assert errors["output"] <= tol["output_atol"], errors
    for name in case["intermediates"]:
        assert errors[name] <= tol["intermediate_atol"][name], (name, errors)
