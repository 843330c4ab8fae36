"""Where the golden equivalence tests find their data, and the rule that regenerates their weights.

Two sources, chosen per golden folder (``ftvsr``, ``fcvsr``, ``basicvsrpp``, ...):

* **Full sets** (optional): ``../shared/golden/<folder>`` beside the checkout, or
  ``$FREQVSR_GOLDEN/<folder>``. Every case stores the input, the official output and the official
  intermediates as whole float32 tensors (``case_<k>.pt``).
* **Compact subset** (in the repository): ``tests/data/golden/<folder>``, written from the full
  sets by ``tests/data/make_golden_subset.py``. It stores no input (each input is
  ``torch.rand`` from a seed; its digest is checked) and no weights (``canonical_state_dict``
  below). References are float32 samples of the official tensors at recorded indices
  (``meta["cases"][k]["subset"]["index"]``); the tensors that are fed to a module on their own
  (stress and unit inputs) are stored whole where they are kept at all.

The full set is used when its ``meta.json`` exists; otherwise the subset. Point
``FREQVSR_GOLDEN`` at a folder that does not exist (e.g. ``FREQVSR_GOLDEN=none``) to run the
subset although ``../shared`` is present. Tolerances are the same in both modes: a sample is
compared element by element with the same atol (``docs/golden.md``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
FULL_ROOT = Path(os.environ.get("FREQVSR_GOLDEN", REPO.parent / "shared" / "golden"))
SUBSET_ROOT = REPO / "tests" / "data" / "golden"


def golden_dir(folder: str) -> Path:
    """The folder the tests read: the full set when present, else the subset in the repository."""
    full = FULL_ROOT / folder
    return full if (full / "meta.json").is_file() else SUBSET_ROOT / folder


def is_subset(folder: str) -> bool:
    return golden_dir(folder).parent == SUBSET_ROOT


def available(folder: str) -> bool:
    return (golden_dir(folder) / "meta.json").is_file()


def skip_reason(folder: str) -> str:
    return (
        f"golden data for {folder!r} found neither at {FULL_ROOT / folder} nor at {SUBSET_ROOT / folder} "
        "(run tests/data/make_golden_subset.py, or set FREQVSR_GOLDEN to the full golden folder)"
    )


def load_meta(folder: str) -> dict:
    return json.loads((golden_dir(folder) / "meta.json").read_text())


# ---------------------------------------------------------------------------------------------
# The canonical weight rule ("canonical-v1"): every trainable tensor of the official state dict is
# a pure function of its official key and shape, so no weights are stored anywhere. The sha256
# digests in meta.json pin the result bit for bit (they would catch a change of torch's CPU RNG).


def canonical_seed(key: str) -> int:
    """The first 8 bytes of sha256(key), read little-endian, kept to 63 bits."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little") & (2**63 - 1)


def canonical_tensor(key: str, shape, gain: float) -> torch.Tensor:
    """Standard normal draws in float64 from the key's seed, scaled by gain/sqrt(fan-in) for weights
    (2-D and up) and by 0.02 for vectors and scalars, rounded once to float32."""
    shape = tuple(int(s) for s in shape)
    gen = torch.Generator(device="cpu").manual_seed(canonical_seed(key))
    values = torch.randn(shape, generator=gen, dtype=torch.float64)
    scale = gain / math.sqrt(max(math.prod(shape[1:]), 1)) if len(shape) >= 2 else 0.02
    return (values * scale).to(torch.float32)


def canonical_state_dict(meta: dict) -> dict[str, torch.Tensor]:
    """Every canonical entry of ``meta["state_dict"]``; an alias (a second key of the same official
    tensor) gets the very tensor of the first key of its pair."""
    gain = meta["canonical_rule"]["gain"]
    aliases = {dup: first for first, dup in meta.get("alias_pairs", [])}
    state = {
        r["key"]: canonical_tensor(r["key"], r["shape"], gain)
        for r in meta["state_dict"]
        if r["overwritten"] and r["key"] not in aliases
    }
    for dup, first in aliases.items():
        state[dup] = state[first]
    return state


def digest(t: torch.Tensor) -> str:
    """First 16 hex digits of the sha256 of a tensor's float32 bytes (the digests in meta.json)."""
    return hashlib.sha256(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()).hexdigest()[:16]


def bad_digests(meta: dict, state: dict[str, torch.Tensor]) -> list[str]:
    return [r["key"] for r in meta["state_dict"] if digest(state[r["key"]]) != r["sha256_16"]]


def seeded_input(shape, seed: int) -> torch.Tensor:
    """A golden case's input: ``torch.rand`` from ``Generator().manual_seed(seed)``."""
    return torch.rand(tuple(shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# Cases


def take(t: torch.Tensor, index: list | None) -> torch.Tensor:
    """The elements of ``t`` at ``index`` (per dimension: ``None`` = all, or a list of positions)."""
    if index is None:
        return t
    for dim, positions in enumerate(index):
        if positions is not None:
            t = t.index_select(dim, torch.tensor(positions, dtype=torch.long, device=t.device))
    return t


class Case(dict):
    """The reference tensors of one case, by name, plus how each was sampled (subset only)."""

    def __init__(self, tensors: dict[str, torch.Tensor], index: dict[str, list], subset: bool) -> None:
        super().__init__(tensors)
        self.index = index
        self.subset = subset

    def sample(self, name: str, mine: torch.Tensor) -> torch.Tensor:
        """``mine`` at the positions the reference ``name`` keeps (all of it in the full sets)."""
        full_shape = self.index.get(name, {}).get("shape") if self.subset else None
        if full_shape is not None:
            assert tuple(mine.shape) == tuple(full_shape), (name, tuple(mine.shape), tuple(full_shape))
        return take(mine, self.index.get(name, {}).get("index")) if self.subset else mine

    def error(self, name: str, mine: torch.Tensor) -> float:
        """max |mine - reference| over the stored elements of ``name``."""
        ours = self.sample(name, mine)
        ref = self[name]
        assert tuple(ours.shape) == tuple(ref.shape), (name, tuple(ours.shape), tuple(ref.shape))
        return (ours.float() - ref).abs().max().item()


def load_case(folder: str, case: dict) -> Case:
    """Input, output and intermediates of ``case`` (an entry of ``meta["cases"]``)."""
    path = golden_dir(folder) / case["file"]
    if not is_subset(folder):
        return Case(torch.load(path, map_location="cpu"), {}, subset=False)
    from safetensors.torch import load_file  # noqa: PLC0415

    info = case["subset"]
    tensors = load_file(str(path))
    x = seeded_input(case["input_shape"], case["input_seed"])
    assert digest(x) == info["input_sha256_16"], f"{folder} {case['file']}: regenerated input differs (torch RNG?)"
    tensors["input"] = x
    return Case(tensors, info["tensors"], subset=True)
