"""Golden equivalence: ``iconvsr`` / ``iconvsr.vimeo`` reproduce the official IconVSR (mmediting 0.x).

Weights are regenerated from the official keys (``iconvsr{,_vimeo}/meta.json`` of the golden data,
full or subset: ``docs/golden.md``) by the canonical rule, checked against the stored digests and
loaded strictly through ``convert_state_dict`` (mmediting and BasicSR layouts). Case 0 of each folder compares the output
and every stored intermediate: flows, the EDVR refill features of every keyframe, crops of every
trunk output, the frame-0 residual, and the PCD and TSA modules on stored crops at scale 1 and
scaled (at scale 1 the canonical PCD offsets are ~0.02 px and the TSA logits ~1e-3, so only the
stress tensors test the DCN layout and the temporal attention). Case 1 (66x65: reflect padding to
68x68 and output crop) compares output and flows. ``pytest -s`` prints the max abs errors.
"""

from __future__ import annotations

import pytest
import torch
from golden_bvsr import Recorder, compare, load_case, load_meta, official_state
from golden_data import available, skip_reason

from freqvsr.errors import ModelError
from freqvsr.models import create_model
from freqvsr.models.iconvsr import IconVSR, refill_window

FOLDERS = {"iconvsr": "iconvsr", "iconvsr_vimeo": "iconvsr.vimeo"}  # golden folder -> registry entry
PCD_STRESS = (64.0, 256.0, 1024.0)

pytestmark = pytest.mark.skipif(not any(map(available, FOLDERS)), reason=skip_reason("iconvsr"))

_BUILT: dict[str, dict] = {}


@pytest.fixture(scope="module", params=list(FOLDERS))
def golden(request):
    folder = request.param
    if not available(folder):
        pytest.skip(skip_reason(folder))
    if folder not in _BUILT:
        meta = load_meta(folder)
        state, bad = official_state(meta)
        torch.manual_seed(0)
        model = create_model(FOLDERS[folder], weights=None).eval()
        model.load_state_dict(IconVSR.convert_state_dict(state), strict=True)
        _BUILT[folder] = {"folder": folder, "meta": meta, "state": state, "bad_digests": bad, "model": model}
    return _BUILT[folder]


def _run_case(model: IconVSR, blob: dict) -> dict[str, torch.Tensor]:
    rec = Recorder(
        {
            "spynet": model.spynet,
            "edvr": model.edvr,
            "backward": model.backward_resblocks,
            "forward": model.forward_resblocks,
            "conv_last": model.conv_last,
        }
    )
    try:
        with torch.no_grad():
            out = model(blob["input"])
    finally:
        rec.remove()
    n, t = blob["input"].shape[:2]
    flows = rec.calls["spynet"][0]  # both directions in one SPyNet batch: [backward pairs, forward pairs]
    flows = flows.view(2, n, t - 1, 2, *flows.shape[-2:])
    mine = {"output": out, "flows_backward": flows[0], "flows_forward": flows[1]}
    if "refill_feats" in blob:
        mine["refill_feats"] = torch.stack(rec.calls["edvr"], 1)
        mine["backward_feats_crop"] = torch.stack([f[..., :12, :12] for f in rec.calls["backward"][::-1]], 1)
        mine["forward_feats_crop"] = torch.stack([f[..., :12, :12] for f in rec.calls["forward"]], 1)
        mine["residual_f0"] = rec.calls["conv_last"][0]
    if "tsa_unit_in" in blob:  # module inputs (the subset keeps them for the REDS folder only)
        nbr = [blob[f"pcd_unit_nbr_l{i}"] for i in (1, 2, 3)]
        ref = [blob[f"pcd_unit_ref_l{i}"] for i in (1, 2, 3)]
        pcd, tsa = model.edvr.pcd_alignment, model.edvr.fusion
        with torch.no_grad():
            mine["pcd_unit_out"] = pcd(nbr, ref)
            scaled = [[s * x for s, x in zip(PCD_STRESS, level)] for level in (nbr, ref)]
            mine["pcd_stress_out"] = pcd(*scaled)
            mine["tsa_unit_out"] = tsa(blob["tsa_unit_in"])
            mine["tsa_stress_out"] = tsa(64 * blob["tsa_unit_in"])
    return mine


def test_weights_and_parameter_count(golden):
    meta, model = golden["meta"], golden["model"]
    assert golden["bad_digests"] == [], "canonical weights differ from meta.json digests"
    expected = {"iconvsr": 8_694_991, "iconvsr_vimeo": 8_711_375}[golden["folder"]]
    assert sum(p.numel() for p in model.parameters()) == meta["parameter_count"]["official_code"] == expected
    ours = model.state_dict()
    assert list(ours) == [r["key"] for r in meta["state_dict"]]
    assert all(list(ours[r["key"]].shape) == r["shape"] for r in meta["state_dict"])
    args = meta["official"]["constructor_args"]
    assert (model.mid_channels, len(model.forward_resblocks.main[2]), model.keyframe_stride, model.padding) == (
        args["mid_channels"],
        args["num_blocks"],
        args["keyframe_stride"],
        args["padding"],
    )


def test_outputs_and_intermediates_match(golden):
    meta = golden["meta"]
    for case in meta["cases"]:
        blob = load_case(golden["folder"], case)
        mine = _run_case(golden["model"], blob)
        compare(mine, blob, meta["tolerance"], f"{golden['folder']} {case['file']}")


def test_basicsr_layout_converts_to_the_same_tensors(golden):
    meta, state = golden["meta"], golden["state"]
    key_map = meta["key_map_to_basicsr"]
    assert sum(k != v for k, v in key_map.items()) == 374
    by_basicsr_name = {key_map[k]: v for k, v in state.items()}
    basicsr = {k: by_basicsr_name[k] for k in meta["basicsr_key_order"]}  # BasicSR's own order (edvr first)
    from_basicsr = IconVSR.convert_state_dict(basicsr)
    from_mmedit = IconVSR.convert_state_dict(state)
    assert from_basicsr.keys() == from_mmedit.keys() == state.keys()
    assert all(from_basicsr[k] is state[k] for k in state)


@pytest.mark.parametrize("layout", ["mmediting", "basicsr"])
def test_official_checkpoint_files_load_through_create_model(golden, tmp_path, layout):
    meta, state = golden["meta"], golden["state"]
    path = tmp_path / f"{golden['folder']}_{layout}.pth"
    if layout == "mmediting":  # iconvsr_reds4_20210413-9e09d621.pth, iconvsr_vimeo90k_bi_*.pth
        torch.save({"meta": {}, "state_dict": {"generator." + k: v for k, v in state.items()}}, path)
    else:
        torch.save({"params": {meta["key_map_to_basicsr"][k]: v for k, v in state.items()}}, path)
    name = FOLDERS[golden["folder"]]
    loaded = create_model(name, weights=path).state_dict()
    ours = golden["model"].state_dict()
    assert loaded.keys() == ours.keys() and all(torch.equal(loaded[k], ours[k]) for k in ours)
    # a REDS checkpoint does not fit the Vimeo model (and vice versa): TSA widths differ
    other = "iconvsr.vimeo" if name == "iconvsr" else "iconvsr"
    with pytest.raises(ModelError):
        create_model(other, weights=path)


def test_refill_window_is_the_official_shifted_mirror():
    assert refill_window(5, 2) == [4, 3, 0, 1, 2, 3, 4, 1, 0]
    assert refill_window(7, 3) == [6, 5, 4, 0, 1, 2, 3, 4, 5, 6, 2, 1, 0]
    assert refill_window(8, 2)[-2:] == [4, 3]
    # shorter clips (the official code raises IndexError) stay inside the clip
    for t in (1, 2, 3, 4):
        assert all(0 <= i < t for i in refill_window(t, 2))
