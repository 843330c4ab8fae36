"""Golden equivalence: ``basicvsr++`` reproduces the official BasicVSR++ (mmediting 0.x) for the same weights.

Weights are regenerated from the official keys (``basicvsrpp/meta.json`` of the golden data, full
or subset: ``docs/golden.md``) by the canonical rule, checked against the stored digests, and
loaded strictly through ``convert_state_dict`` from the mmediting and from the BasicSR layout. Case 0 compares the output
and every stored intermediate (flows, the first two alignments, the five streams, reconstruction,
residual, and the alignment module on stored crops at scale 1 and with flows x8); case 1 (65x70:
SPyNet resize and anisotropic flow rescale) the output and flows. ``pytest -s`` prints the max abs
errors against the recommended atols. The model is built and run once per module.
"""

from __future__ import annotations

import pytest
import torch
from golden_bvsr import Recorder, compare, load_case, load_meta, official_state, skip_without

from freqvsr.models import create_model
from freqvsr.models.basicvsrpp import BasicVSRPlusPlus

FOLDER = "basicvsrpp"
STREAMS = ("spatial", "backward_1", "forward_1", "backward_2", "forward_2")

pytestmark = skip_without(FOLDER)


@pytest.fixture(scope="module")
def golden():
    meta = load_meta(FOLDER)
    state, bad_digests = official_state(meta)
    torch.manual_seed(0)
    model = create_model("basicvsr++", weights=None).eval()
    model.load_state_dict(BasicVSRPlusPlus.convert_state_dict(state), strict=True)
    return {"meta": meta, "state": state, "bad_digests": bad_digests, "model": model}


def _run_case(model: BasicVSRPlusPlus, blob: dict) -> dict[str, torch.Tensor]:
    """The model's forward on the case input, with every intermediate the golden file stores."""
    rec = Recorder(
        {
            "align": model.deform_align["backward_1"],
            "reconstruction": model.reconstruction,
            "conv_last": model.conv_last,
        }
    )
    seen = {}
    features, compute_flow = model.features, model.compute_flow
    model.features = lambda lq: seen.setdefault("feats", features(lq))
    model.compute_flow = lambda lq: seen.setdefault("flows", compute_flow(lq))
    try:
        with torch.no_grad():
            out = model(blob["input"])
    finally:
        del model.features, model.compute_flow  # back to the class methods
        rec.remove()
    flows_forward, flows_backward = seen["flows"]
    mine = {"output": out, "flows_backward": flows_backward, "flows_forward": flows_forward}
    if "feats_crop" in blob:
        feats = seen["feats"]
        mine["backward_1_align_i1"], mine["backward_1_align_i2"] = rec.calls["align"][:2]
        mine["feats_crop"] = torch.stack([torch.stack([f[..., :12, :12] for f in feats[s]], 1) for s in STREAMS], 1)
        mine["reconstruction_out_f0"] = rec.calls["reconstruction"][0]
        mine["residual_f0"] = rec.calls["conv_last"][0]
        align = model.deform_align["backward_1"]
        x, cond, f1, f2 = (blob[f"align_unit_{k}"] for k in ("x", "cond", "flow1", "flow2"))
        with torch.no_grad():
            mine["align_unit_out"] = align(x, cond, f1, f2)
            mine["align_stress_out"] = align(x, cond, 8 * f1, 8 * f2)
    return mine


def test_weights_and_parameter_count(golden):
    meta, model = golden["meta"], golden["model"]
    assert golden["bad_digests"] == [], "canonical weights differ from meta.json digests"
    assert sum(p.numel() for p in model.parameters()) == meta["parameter_count"]["official_code"] == 7_322_927
    ours = model.state_dict()
    # same keys, same order, same shapes as the official state dict: the official names are ours
    assert list(ours) == [r["key"] for r in meta["state_dict"]]
    assert all(list(ours[r["key"]].shape) == r["shape"] for r in meta["state_dict"])


@pytest.mark.parametrize("case_index", [0, 1])
def test_outputs_and_intermediates_match(golden, case_index):
    meta = golden["meta"]
    case = meta["cases"][case_index]
    blob = load_case(FOLDER, case)
    mine = _run_case(golden["model"], blob)
    if case_index == 0:
        assert {"feats_crop", "residual_f0", "align_stress_out"} <= set(mine)
    compare(mine, blob, meta["tolerance"], f"basicvsr++ {case['file']}")


def test_basicsr_layout_converts_to_the_same_tensors(golden):
    meta, state = golden["meta"], golden["state"]
    basicsr = {meta["key_map_to_basicsr"][k]: v for k, v in state.items()}
    assert sum(k != v for k, v in meta["key_map_to_basicsr"].items()) == 64
    from_basicsr = BasicVSRPlusPlus.convert_state_dict(basicsr)
    from_mmedit = BasicVSRPlusPlus.convert_state_dict(state)
    assert from_basicsr.keys() == from_mmedit.keys()
    assert all(from_basicsr[k] is from_mmedit[k] for k in from_mmedit)
    # without the SPyNet buffers (some exports drop them) the fixed values are restored
    trimmed = {k: v for k, v in basicsr.items() if k not in ("spynet.mean", "spynet.std")}
    assert torch.equal(BasicVSRPlusPlus.convert_state_dict(trimmed)["spynet.std"], state["spynet.std"])


@pytest.mark.parametrize("layout", ["mmediting", "basicsr"])
def test_official_checkpoint_files_load_through_create_model(golden, tmp_path, layout):
    meta, state = golden["meta"], golden["state"]
    path = tmp_path / f"basicvsrpp_{layout}.pth"
    if layout == "mmediting":  # basicvsr_plusplus_c64n7_8x1_600k_reds4_*.pth
        torch.save({"meta": {"iter": 600000}, "state_dict": {"generator." + k: v for k, v in state.items()}}, path)
    else:  # BasicSR BasicVSRPlusPlus_*.pth
        torch.save({"params": {meta["key_map_to_basicsr"][k]: v for k, v in state.items()}}, path)
    loaded = create_model("basicvsr++", weights=path).state_dict()
    ours = golden["model"].state_dict()
    assert loaded.keys() == ours.keys() and all(torch.equal(loaded[k], ours[k]) for k in ours)
