"""The model zoo table behind `freqvsr models`: name, parameters, shipped weights, measured quality."""

from __future__ import annotations

from typing import Any

import torch

from freqvsr.models._registry import get_spec, list_models


def count_parameters(name: str) -> int:
    """Parameters of a registered entry, built on the meta device (no memory, no init cost)."""
    spec = get_spec(name)
    try:
        with torch.device("meta"):
            model = spec.builder(**spec.args)
    except (NotImplementedError, RuntimeError):
        # a constructor that computes fixed buffers from data (e.g. DCT bases) cannot run on meta
        model = spec.builder(**spec.args)
    return sum(p.numel() for p in model.parameters())


def zoo_rows() -> list[dict[str, Any]]:
    from importlib import resources

    from freqvsr.models._checkpoint import read_checkpoint_header

    rows = []
    for name in list_models():
        spec = get_spec(name)
        row: dict[str, Any] = {
            "name": name,
            "params": count_parameters(name),
            "temporal": getattr(spec.builder, "temporal", "?"),
            "description": spec.description,
            "weights": "none (random init)" if spec.builder.__name__ != "Bicubic" else "not needed",
            "trained_on": "",
            "quality": "",
        }
        if spec.weights:
            path = resources.files("freqvsr") / "weights" / spec.weights
            header = read_checkpoint_header(str(path))
            training = header.get("training") or {}
            row["weights"] = spec.weights
            row["trained_on"] = f"{training.get('data', '?')} / {training.get('degradation', '?')}"
            row["quality"] = "; ".join(
                f"{m['name']} {m['value']:.2f} ({m.get('dataset', '')}, {m.get('protocol', '')})" for m in header.get("metrics", [])
            )
        rows.append(row)
    return rows
