"""The compact golden subset (``tests/data/golden``) is small and, where the full sets are beside
the repository, an exact sample of them (so a stale subset fails here, not in a plain clone)."""

from __future__ import annotations

import json

import pytest
import torch
from golden_data import FULL_ROOT, SUBSET_ROOT, digest, seeded_input, take
from safetensors.torch import load_file

FOLDERS = sorted(p.name for p in SUBSET_ROOT.iterdir() if (p / "meta.json").is_file()) if SUBSET_ROOT.is_dir() else []


def test_subset_is_present_and_small():
    assert set(FOLDERS) >= {
        "ftvsr",
        "fcvsr",
        "fcvsr_s",
        "fcvsr_cvcp_y",
        "fcvsr_s_cvcp_y",
        "basicvsrpp",
        "iconvsr",
        "iconvsr_vimeo",
    }
    total = sum(f.stat().st_size for f in SUBSET_ROOT.rglob("*") if f.is_file())
    assert total < 8e6, f"tests/data/golden is {total / 1e6:.1f} MB"


@pytest.mark.parametrize("folder", FOLDERS)
def test_subset_is_a_sample_of_the_full_set(folder):
    if not (FULL_ROOT / folder / "meta.json").is_file():
        pytest.skip(f"full golden set {FULL_ROOT / folder} not present")
    full = json.loads((FULL_ROOT / folder / "meta.json").read_text())
    sub = json.loads((SUBSET_ROOT / folder / "meta.json").read_text())
    assert sub["tolerance"] == full["tolerance"]
    assert sub["canonical_rule"] == full["canonical_rule"]
    assert [(r["key"], r["shape"], r["sha256_16"]) for r in sub["state_dict"]] == [
        (r["key"], r["shape"], r["sha256_16"]) for r in full["state_dict"]
    ]
    assert len(sub["cases"]) == len(full["cases"])
    for case, full_case in zip(sub["cases"], full["cases"]):
        blob = torch.load(FULL_ROOT / folder / full_case["file"], map_location="cpu", weights_only=True)
        x = seeded_input(case["input_shape"], case["input_seed"])
        assert torch.equal(x, blob["input"]) and digest(x) == case["subset"]["input_sha256_16"]
        stored = load_file(str(SUBSET_ROOT / folder / case["file"]))
        info = case["subset"]["tensors"]
        assert set(stored) == set(info) and set(stored) | set(case["subset"]["omitted"]) | {"input"} == set(blob)
        for name, t in stored.items():
            assert list(blob[name].shape) == info[name]["shape"], name
            assert torch.equal(take(blob[name], info[name]["index"]), t), (folder, case["file"], name)
