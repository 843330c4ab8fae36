"""Golden equivalence: our FCVSR / FCVSR-S reproduce the official code's outputs for the same weights.

The golden data (the full sets beside the repository or the compact subset in ``tests/data``:
``tests/golden_data.py``, ``docs/golden.md``) stores, per variant, the official state_dict key list
(``meta.json``), inputs, outputs and intermediates of the unmodified official code. Weights are
regenerated from the official keys by the canonical rule, checked against the stored digests,
converted with ``FCVSR.convert_state_dict`` (RCB aliases included) and loaded strictly. Each model
is built once per module.
"""

from __future__ import annotations

import hashlib
import struct

import pytest
import torch
from golden_data import (
    available,
    bad_digests,
    canonical_state_dict,
    canonical_tensor,
    digest,
    load_case,
    load_meta,
    skip_reason,
)

from freqvsr.models.fcvsr import FCVSR
from freqvsr.models._registry import get_spec

# golden folder -> our registry entry
VARIANTS = {"fcvsr": "fcvsr", "fcvsr_s": "fcvsr-s", "fcvsr_cvcp_y": "fcvsr.y", "fcvsr_s_cvcp_y": "fcvsr-s.y"}
# official constructor argument -> ours
ARG_NAMES = {
    "n_features": "num_features",
    "AC_Ks": "adaptive_kernel_size",
    "ACNum": "num_adaptive_convs",
    "Freq_Inv": "num_bands",
    "SCGroupN": "num_groups",
}
MGAA_CALLS = ("mgaa_call0_out", "mgaa_call1_out", "mgaa_call2_out")

pytestmark = pytest.mark.skipif(not any(map(available, VARIANTS)), reason=skip_reason("fcvsr"))

_CACHE: dict[str, dict] = {}


def _mgaa_calls(model, blob, mine: dict | None = None) -> list[torch.Tensor]:
    """The three MGAA outputs that feed the stage-level checks: the official ones where the golden
    data stores them whole; in the compact subset our own (compared with the official ones at
    atol 2e-5; the stress call on ours stays within 7.2e-6 of the official 1e-4 atol)."""
    if not blob.subset:
        return [blob[k] for k in MGAA_CALLS]
    if mine is None:
        seen: list[torch.Tensor] = []
        hook = model.alignment.register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
        try:
            with torch.no_grad():
                model(blob["input"])
        finally:
            hook.remove()
        mine = dict(zip(MGAA_CALLS, seen))
    return [mine[k] for k in MGAA_CALLS]


def _run_variant(folder: str) -> dict:
    """Build, load and run one variant once; everything the tests compare is kept in the result."""
    if folder in _CACHE:
        return _CACHE[folder]
    meta = load_meta(folder)
    aliases = {dup: first for first, dup in meta["alias_pairs"]}
    official = canonical_state_dict(meta)
    digests_bad = bad_digests(meta, official)

    spec = get_spec(VARIANTS[folder])
    torch.manual_seed(0)
    model = spec.builder(**spec.args).eval()
    model.load_state_dict(FCVSR.convert_state_dict(official), strict=True)

    captured: dict[str, list[torch.Tensor]] = {"mgaa": [], "mffr": []}
    hooks = [
        model.alignment.register_forward_hook(lambda m, i, o: captured["mgaa"].append(o.detach().clone())),
        model.refinement.register_forward_hook(lambda m, i, o: captured["mffr"].append(o.detach().clone())),
    ]
    cases = []
    for case in meta["cases"]:
        blob = load_case(folder, case)
        captured["mgaa"].clear()
        captured["mffr"].clear()
        with torch.no_grad():
            out = model(blob["input"])
        mine = {"output": out, **dict(zip(MGAA_CALLS, captured["mgaa"])), "mffr_out": captured["mffr"][0]}
        n_calls = len(captured["mgaa"])
        if "mgaa_stress_out" in blob:
            with torch.no_grad():
                stress_in = 4.0 * torch.cat(_mgaa_calls(model, blob, mine), 1)
                mine["mgaa_stress_out"] = model.alignment(stress_in)
        errors = {k: blob.error(k, mine[k]) for k in mine}
        cases.append({"file": case["file"], "errors": errors, "n_mgaa_calls": n_calls})
    for h in hooks:
        h.remove()
    result = {
        "meta": meta,
        "model": model,
        "official": official,
        "aliases": aliases,
        "digests_bad": digests_bad,
        "cases": cases,
        "spec_args": spec.args,
    }
    _CACHE[folder] = result
    return result


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request) -> tuple[str, dict]:
    folder = request.param
    if not available(folder):
        pytest.skip(skip_reason(folder))
    return folder, _run_variant(folder)


def test_digest_helper_matches_its_definition():
    """The digests are the sha256 of the float32 little-endian bytes, element by element."""
    t = canonical_tensor("MGAA.conv3.weight", (4, 3, 3, 3), gain=0.6)
    slow = hashlib.sha256(struct.pack(f"<{t.numel()}f", *t.flatten().tolist())).hexdigest()[:16]
    assert digest(t) == slow


def test_constructor_args_match_official(variant):
    folder, res = variant
    official_args = res["meta"]["official"]["constructor_args"]
    defaults = {"num_features": 64, "adaptive_kernel_size": 3}
    for off_name, ours in ARG_NAMES.items():
        assert res["spec_args"].get(ours, defaults.get(ours)) == official_args[off_name], (folder, ours)
    assert sum(p.numel() for p in res["model"].parameters()) == res["meta"]["n_unique_parameter_elements"]


def test_canonical_weights_match_digests(variant):
    folder, res = variant
    assert res["digests_bad"] == [], f"{folder}: canonical weights differ from meta.json digests"


def test_alias_pairs_collapse_to_one_tensor(variant):
    folder, res = variant
    official, aliases = res["official"], res["aliases"]
    converted = FCVSR.convert_state_dict(official)
    assert len(converted) == len(official) - len(aliases)
    # Either key of a pair alone maps to the same parameter.
    dup, first = next(iter(aliases.items()))
    only_dup = {k: v for k, v in official.items() if k != first}
    assert set(FCVSR.convert_state_dict(only_dup)) == set(converted)
    # Conversion is idempotent, so our own state_dicts pass through unchanged.
    assert set(FCVSR.convert_state_dict(converted)) == set(converted)


def test_alias_pairs_must_agree(variant):
    folder, res = variant
    from freqvsr.errors import ModelError

    dup, first = next(iter(res["aliases"].items()))
    bad = dict(res["official"])
    bad[dup] = bad[first] + 1.0
    with pytest.raises(ModelError):
        FCVSR.convert_state_dict(bad)


def test_outputs_and_intermediates_match(variant):
    folder, res = variant
    tol = res["meta"]["tolerance"]
    for case in res["cases"]:
        assert case["n_mgaa_calls"] == 3  # one shared MGAA, called hierarchically
        errs = case["errors"]
        # Shown with `pytest -s`: the max-abs errors the report quotes.
        print(f"\n{folder} {case['file']}: " + ", ".join(f"{k}={v:.2e}" for k, v in errs.items()))
        assert errs["output"] <= tol["output_atol"], (folder, case["file"], errs)
        for name, atol in tol["intermediate_atol"].items():
            if name in errs:
                assert errs[name] <= atol, (folder, case["file"], name, errs[name], atol)


def test_stress_case_present(variant):
    folder, res = variant
    assert "mgaa_stress_out" in res["cases"][0]["errors"], f"{folder}: case_0 should carry mgaa_stress_out"


@pytest.mark.parametrize(
    "stage, flag, value",
    [
        ("alignment", "horizontal_kernel", True),
        ("alignment", "backward_own_correlation", True),
        ("refinement", "high_to_low", False),
        ("refinement", "mask_mode", "direct"),
    ],
)
def test_golden_detects_porting_mistakes(stage, flag, value):
    """The comparison is sensitive: each paper-mode flag moves its stage's result well past atol."""
    folder = "fcvsr_s"  # one variant is enough: these paths are the same code in all four
    if not available(folder):
        pytest.skip(skip_reason(folder))
    res = _run_variant(folder)
    blob = load_case(folder, res["meta"]["cases"][0])
    module = getattr(res["model"], stage)
    calls = _mgaa_calls(res["model"], blob)
    if stage == "alignment":
        x, name = 4.0 * torch.cat(calls, 1), "mgaa_stress_out"
    else:
        x, name = calls[2], "mffr_out"
    atol = res["meta"]["tolerance"]["intermediate_atol"][name]
    old = getattr(module, flag)
    try:
        with torch.no_grad():
            assert blob.error(name, module(x)) <= atol  # stage-level check, official flags
            setattr(module, flag, value)
            err = blob.error(name, module(x))
    finally:
        setattr(module, flag, old)
    assert err > 3 * atol, (flag, err)


def test_official_checkpoint_loads_through_create_model(tmp_path):
    """An mmedit-style official checkpoint ({"state_dict": {"generator.<key>": ...}}, RCB aliases
    included) loads strictly via ``create_model(name, weights=PATH)``."""
    from freqvsr.models._factory import create_model

    folder = "fcvsr_s"
    if not available(folder):
        pytest.skip(skip_reason(folder))
    res = _run_variant(folder)
    path = tmp_path / "fcvsr_s_official.pth"
    torch.save({"meta": {"iter": 1}, "state_dict": {"generator." + k: v for k, v in res["official"].items()}}, path)
    model = create_model("fcvsr-s", weights=path)
    ours = res["model"].state_dict()
    loaded = model.state_dict()
    assert loaded.keys() == ours.keys()
    assert all(torch.equal(loaded[k], ours[k]) for k in ours)
