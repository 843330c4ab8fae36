"""Golden equivalence: our FCVSR / FCVSR-S reproduce the official code's outputs for the same weights.

The golden folder (``shared/golden``; override with ``FREQVSR_GOLDEN``) stores, per variant, the
official state_dict key list (``meta.json``), inputs, outputs and intermediates of the unmodified
official code. Weights are regenerated from the official keys with ``canonical_weights.py``,
checked against the stored digests, converted with ``FCVSR.convert_state_dict`` (RCB aliases
included) and loaded strictly. Each model is built once per module.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
import torch

from freqvsr.models.fcvsr import FCVSR
from freqvsr.models._registry import get_spec

GOLDEN = Path(os.environ.get("FREQVSR_GOLDEN", Path(__file__).resolve().parents[2] / "shared" / "golden"))

# golden folder -> our registry entry
VARIANTS = {"fcvsr": "fcvsr", "fcvsr_s": "fcvsr-s", "fcvsr_cvcp_y": "fcvsr.y", "fcvsr_s_cvcp_y": "fcvsr-s.y"}
# official constructor argument -> ours
ARG_NAMES = {
    "n_features": "num_features", "AC_Ks": "adaptive_kernel_size", "ACNum": "num_adaptive_convs",
    "Freq_Inv": "num_bands", "SCGroupN": "num_groups",
}
MGAA_CALLS = ("mgaa_call0_out", "mgaa_call1_out", "mgaa_call2_out")

pytestmark = pytest.mark.skipif(
    not (GOLDEN / "canonical_weights.py").is_file(),
    reason=f"golden data not found at {GOLDEN} (set FREQVSR_GOLDEN to the shared/golden folder)",
)


def _digest(t: torch.Tensor) -> str:
    # Same bytes as canonical_weights.tensor_digest, without its slow per-byte Python list.
    return hashlib.sha256(t.detach().to(torch.float32).contiguous().numpy().tobytes()).hexdigest()[:16]


def _canonical():
    sys.path.insert(0, str(GOLDEN))
    try:
        import canonical_weights
    finally:
        sys.path.remove(str(GOLDEN))
    return canonical_weights


_CACHE: dict[str, dict] = {}


def _run_variant(folder: str) -> dict:
    """Build, load and run one variant once; everything the tests compare is kept in the result."""
    if folder in _CACHE:
        return _CACHE[folder]
    cw = _canonical()
    meta = json.loads((GOLDEN / folder / "meta.json").read_text())
    rows = meta["state_dict"]
    aliases = {dup: first for first, dup in meta["alias_pairs"]}
    official = cw.canonical_state_dict(
        {r["key"]: r["shape"] for r in rows if r["overwritten"]}, aliases=aliases, gain=meta["canonical_rule"]["gain"]
    )
    digests_bad = [r["key"] for r in rows if _digest(official[r["key"]]) != r["sha256_16"]]

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
        blob = torch.load(GOLDEN / folder / case["file"], map_location="cpu")
        captured["mgaa"].clear()
        captured["mffr"].clear()
        with torch.no_grad():
            out = model(blob["input"])
        mine = {"output": out, **dict(zip(MGAA_CALLS, captured["mgaa"])), "mffr_out": captured["mffr"][0]}
        n_calls = len(captured["mgaa"])
        if "mgaa_stress_out" in blob:
            with torch.no_grad():
                stress_in = 4.0 * torch.cat([blob[k] for k in MGAA_CALLS], 1)
                mine["mgaa_stress_out"] = model.alignment(stress_in)
        errors = {k: (mine[k] - blob[k]).abs().max().item() for k in mine}
        cases.append({"file": case["file"], "errors": errors, "n_mgaa_calls": n_calls})
    for h in hooks:
        h.remove()
    result = {
        "meta": meta, "model": model, "official": official, "aliases": aliases,
        "digests_bad": digests_bad, "cases": cases, "spec_args": spec.args, "cw": cw,
    }
    _CACHE[folder] = result
    return result


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request) -> tuple[str, dict]:
    folder = request.param
    if not (GOLDEN / folder / "meta.json").is_file():
        pytest.skip(f"golden folder {GOLDEN / folder} is missing")
    return folder, _run_variant(folder)


def test_digest_helper_matches_canonical_module():
    cw = _canonical()
    t = cw.canonical_tensor("MGAA.conv3.weight", (4, 3, 3, 3))
    assert _digest(t) == cw.tensor_digest(t)


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
    [("alignment", "horizontal_kernel", True), ("alignment", "backward_own_correlation", True),
     ("refinement", "high_to_low", False), ("refinement", "mask_mode", "direct")],
)
def test_golden_detects_porting_mistakes(stage, flag, value):
    """The comparison is sensitive: each paper-mode flag moves its stage's result well past atol."""
    folder = "fcvsr_s"  # one variant is enough: these paths are the same code in all four
    if not (GOLDEN / folder / "meta.json").is_file():
        pytest.skip(f"golden folder {GOLDEN / folder} is missing")
    res = _run_variant(folder)
    blob = torch.load(GOLDEN / folder / "case_0.pt", map_location="cpu")
    module = getattr(res["model"], stage)
    if stage == "alignment":
        x, ref, name = 4.0 * torch.cat([blob[k] for k in MGAA_CALLS], 1), blob["mgaa_stress_out"], "mgaa_stress_out"
    else:
        x, ref, name = blob["mgaa_call2_out"], blob["mffr_out"], "mffr_out"
    atol = res["meta"]["tolerance"]["intermediate_atol"][name]
    old = getattr(module, flag)
    try:
        with torch.no_grad():
            assert (module(x) - ref).abs().max().item() <= atol  # stage-level check, official flags
            setattr(module, flag, value)
            err = (module(x) - ref).abs().max().item()
    finally:
        setattr(module, flag, old)
    assert err > 3 * atol, (flag, err)


def test_official_checkpoint_loads_through_create_model(tmp_path):
    """An mmedit-style official checkpoint ({"state_dict": {"generator.<key>": ...}}, RCB aliases
    included) loads strictly via ``create_model(name, weights=PATH)``."""
    from freqvsr.models._factory import create_model

    folder = "fcvsr_s"
    if not (GOLDEN / folder / "meta.json").is_file():
        pytest.skip(f"golden folder {GOLDEN / folder} is missing")
    res = _run_variant(folder)
    path = tmp_path / "fcvsr_s_official.pth"
    torch.save({"meta": {"iter": 1}, "state_dict": {"generator." + k: v for k, v in res["official"].items()}}, path)
    model = create_model("fcvsr-s", weights=path)
    ours = res["model"].state_dict()
    loaded = model.state_dict()
    assert loaded.keys() == ours.keys()
    assert all(torch.equal(loaded[k], ours[k]) for k in ours)
