"""Explicit model registry: every entry is registered by name in the module that defines it.

Variants are data: ``register_model("basicvsr.small", BasicVSR, {"mid_channels": 32, ...})``.
No folder scans; ``models/__init__.py`` imports each architecture module by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from freqvsr.errors import ModelError


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]  # the model class (or a function returning a VSRModel)
    args: dict[str, Any]  # constructor arguments of this variant
    description: str = ""
    paper: str = ""
    # Path (inside the package) of shipped weights for this entry, or None when untrained here.
    weights: str | None = None


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    builder: Callable[..., Any],
    args: dict[str, Any] | None = None,
    *,
    description: str = "",
    paper: str = "",
    weights: str | None = None,
) -> ModelSpec:
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is registered twice")
    spec = ModelSpec(name, builder, dict(args or {}), description, paper, weights)
    _REGISTRY[name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ModelError(f"unknown model {name!r}; known models: {known}") from None


def list_models() -> list[str]:
    return sorted(_REGISTRY)
