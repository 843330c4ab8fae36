"""Helpers shared by the BasicVSR++ and IconVSR golden tests (``tests/test_basicvsrpp_golden.py``,
``tests/test_iconvsr_golden.py``).

The golden folders (``shared/golden/{basicvsrpp,iconvsr,iconvsr_vimeo}`` beside the repository;
override with ``FREQVSR_GOLDEN``) hold the official state-dict key list with digests
(``meta.json``), inputs, outputs and intermediates of the official mmediting code run with
canonical weights (``canonical_weights.py``), and the recommended tolerances.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
import torch

GOLDEN = Path(os.environ.get("FREQVSR_GOLDEN", Path(__file__).resolve().parents[2] / "shared" / "golden"))
SPYNET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
SPYNET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def skip_without(folder: str):
    """``pytestmark`` for a test module that needs one golden folder."""
    return pytest.mark.skipif(
        not (GOLDEN / "canonical_weights.py").is_file() or not (GOLDEN / folder / "meta.json").is_file(),
        reason=f"golden data {GOLDEN / folder} not found (set FREQVSR_GOLDEN to the shared/golden folder)",
    )


def digest(t: torch.Tensor) -> str:
    # Same bytes as canonical_weights.tensor_digest, without its slow per-byte Python list.
    return hashlib.sha256(t.detach().to(torch.float32).contiguous().numpy().tobytes()).hexdigest()[:16]


def load_meta(folder: str) -> dict:
    return json.loads((GOLDEN / folder / "meta.json").read_text())


def official_state(meta: dict) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The golden weights under the official (mmediting) names, and the keys whose digest differs."""
    sys.path.insert(0, str(GOLDEN))
    try:
        import canonical_weights  # noqa: PLC0415  (lives in the golden folder)
    finally:
        sys.path.remove(str(GOLDEN))
    rows = meta["state_dict"]
    state = canonical_weights.canonical_state_dict(
        {r["key"]: r["shape"] for r in rows if r["overwritten"]}, gain=meta["canonical_rule"]["gain"]
    )
    # the two SPyNet buffers keep their official values (README_bvsr.md)
    state["spynet.mean"], state["spynet.std"] = SPYNET_MEAN.clone(), SPYNET_STD.clone()
    bad = [r["key"] for r in rows if digest(state[r["key"]]) != r["sha256_16"]]
    return {r["key"]: state[r["key"]] for r in rows}, bad


def load_case(folder: str, file: str) -> dict[str, torch.Tensor]:
    return torch.load(GOLDEN / folder / file, map_location="cpu")


class Recorder:
    """Forward hooks that keep every output of the given modules, by label."""

    def __init__(self, modules: dict[str, torch.nn.Module]) -> None:
        self.calls: dict[str, list] = {k: [] for k in modules}
        self._handles = [m.register_forward_hook(self._hook(k)) for k, m in modules.items()]

    def _hook(self, label: str):
        def hook(module, args, output):
            self.calls[label].append(output.detach().clone() if torch.is_tensor(output) else output)
        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def compare(
    mine: dict[str, torch.Tensor], blob: dict[str, torch.Tensor], tolerance: dict, label: str
) -> dict[str, float]:
    """Max abs errors of every tensor of ``mine`` against ``blob``, printed (``pytest -s``) with atols."""
    errors = {}
    for name, value in mine.items():
        ref = blob[name]
        assert tuple(value.shape) == tuple(ref.shape), (label, name, tuple(value.shape), tuple(ref.shape))
        errors[name] = (value.float() - ref).abs().max().item()
    atols = {n: tolerance["output_atol"] if n == "output" else tolerance["intermediate_atol"][n] for n in errors}
    print(f"\n{label}: " + ", ".join(f"{n}={e:.2e}/{atols[n]:.0e}" for n, e in errors.items()))
    failed = {n: (e, atols[n]) for n, e in errors.items() if not e <= atols[n]}
    assert not failed, f"{label}: above atol {failed}"
    return errors
