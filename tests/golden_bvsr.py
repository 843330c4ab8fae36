"""Helpers shared by the BasicVSR++ and IconVSR golden tests (``tests/test_basicvsrpp_golden.py``,
``tests/test_iconvsr_golden.py``).

The golden folders ``basicvsrpp``, ``iconvsr`` and ``iconvsr_vimeo`` (the full sets beside the
repository, or the compact subset in ``tests/data/golden``: see ``tests/golden_data.py`` and
``docs/golden.md``) hold the official state-dict key list with digests (``meta.json``), and the
inputs, outputs and intermediates of the official mmediting code run with canonical weights, and
the recommended tolerances.
"""

from __future__ import annotations

import pytest
import torch
from golden_data import available, bad_digests, canonical_state_dict, load_case, load_meta, skip_reason

__all__ = ["Recorder", "compare", "load_case", "load_meta", "official_state", "skip_without"]

SPYNET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
SPYNET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def skip_without(folder: str):
    """``pytestmark`` for a test module that needs one golden folder."""
    return pytest.mark.skipif(not available(folder), reason=skip_reason(folder))


def official_state(meta: dict) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The golden weights under the official (mmediting) names, and the keys whose digest differs."""
    state = canonical_state_dict(meta)
    # the two SPyNet buffers keep their official values (docs/golden.md)
    state["spynet.mean"], state["spynet.std"] = SPYNET_MEAN.clone(), SPYNET_STD.clone()
    return {r["key"]: state[r["key"]] for r in meta["state_dict"]}, bad_digests(meta, state)


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


def compare(mine: dict[str, torch.Tensor], blob, tolerance: dict, label: str) -> dict[str, float]:
    """Max abs errors of every tensor of ``mine`` against ``blob`` (a ``golden_data.Case``), printed
    (``pytest -s``) with atols. In the subset, tensors it does not keep are skipped and the others
    are compared at the stored positions."""
    errors = {name: blob.error(name, value) for name, value in mine.items() if name in blob or not blob.subset}
    atols = {n: tolerance["output_atol"] if n == "output" else tolerance["intermediate_atol"][n] for n in errors}
    source = " (subset)" if blob.subset else ""
    print(f"\n{label}{source}: " + ", ".join(f"{n}={e:.2e}/{atols[n]:.0e}" for n, e in errors.items()))
    failed = {n: (e, atols[n]) for n, e in errors.items() if not e <= atols[n]}
    assert not failed, f"{label}: above atol {failed}"
    return errors
