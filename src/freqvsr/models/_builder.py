"""``build_model``: instantiate a registry entry with checked constructor arguments.

Below both ``_factory`` (names and weights files) and ``_checkpoint`` (self-describing files), which
each build models, so neither has to import the other.
"""

from __future__ import annotations

import inspect
from typing import Any

from freqvsr.errors import FreqVSRError, ModelError
from freqvsr.models._base import VSRModel
from freqvsr.models._registry import ModelSpec


def constructor_params(builder: Any) -> tuple[dict[str, inspect.Parameter], bool]:
    """The named parameters of ``builder`` and whether it also takes ``**kwargs``."""
    sig = inspect.signature(builder)
    params = {n: p for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    return params, takes_kwargs


def build_model(spec: ModelSpec, args: dict[str, Any], *, source: str) -> VSRModel:
    """Instantiate ``spec.builder(**args)`` after checking every argument name.

    Records ``arch_name`` and the full constructor arguments (defaults filled in) on the model, so
    that ``save_checkpoint`` can describe it.
    """
    params, takes_kwargs = constructor_params(spec.builder)
    unknown = sorted(k for k in args if k not in params)
    if unknown and not takes_kwargs:
        raise ModelError(
            f"{source}: unknown argument(s) {', '.join(unknown)} for {spec.name!r}; "
            f"valid: {', '.join(params) or '(none)'}"
        )
    full = {n: p.default for n, p in params.items() if p.default is not inspect.Parameter.empty}
    full.update(args)
    try:
        model = spec.builder(**args)
    except FreqVSRError:
        raise  # the constructor's own one-line error (our errors are also ValueErrors)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{source}: cannot build {spec.name!r} with {args}: {exc}") from None
    if not isinstance(model, VSRModel):
        raise ModelError(f"{source}: builder of {spec.name!r} returned {type(model).__name__}, not a VSRModel")
    model.arch_name = spec.name
    model.arch_args = full
    return model
