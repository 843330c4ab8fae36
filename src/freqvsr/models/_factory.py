"""``create_model``: the one way to get a network, by registry name or from a checkpoint file.

Constructors build, factories load: model ``__init__`` never reads files. Everything that touches
the disk (shipped weights, freqvsr checkpoints, official ``.pth`` files) happens here or in
``_checkpoint``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from freqvsr.errors import CheckpointNotFoundError, ModelError
from freqvsr.models._base import VSRModel
from freqvsr.models._builder import build_model, constructor_params
from freqvsr.models._checkpoint import (
    load_checkpoint,
    load_pickled_state,
    load_state_dict_strict,
    read_checkpoint_header,
    read_checkpoint_tensors,
    unwrap_state_dict,
)
from freqvsr.models._registry import _REGISTRY, ModelSpec, get_spec

# Shipped weights live in the package: src/freqvsr/weights/<ModelSpec.weights>.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

_FOREIGN_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
_CHECKPOINT_SUFFIXES = (".safetensors", *_FOREIGN_SUFFIXES)


def _convert_hook(
    model: VSRModel, spec: ModelSpec | None
) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None:
    for owner in (spec.builder if spec is not None else None, type(model)):
        hook: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = getattr(
            owner, "convert_state_dict", None
        )
        if callable(hook):
            return hook
    return None


def load_weights(model: VSRModel, weights: str | os.PathLike[str], *, spec: ModelSpec | None = None) -> VSRModel:
    """Load a freqvsr checkpoint or an official ``.pth``/``.pt``/``.safetensors`` into ``model``.

    Foreign files are unwrapped (``params_ema``/``params``/``state_dict``), stripped of
    ``generator.``/``module.``/``_orig_mod.`` and passed through the architecture's
    ``convert_state_dict`` hook; then loaded strictly.
    """
    path = Path(weights)
    if not path.is_file():
        raise CheckpointNotFoundError(f"weights file {path} does not exist")
    header = None
    if path.suffix == ".safetensors":
        try:
            header = read_checkpoint_header(path)
        except ModelError as exc:
            if "no freqvsr header" not in str(exc):
                raise
    if header is not None:
        arch = header["arch"]
        own = model.arch_name
        if own is not None and arch in _REGISTRY and _REGISTRY[arch].builder is not _REGISTRY[own].builder:
            raise ModelError(f"checkpoint {path} holds a {arch!r} model, not {own!r}")
        if "scale" in header and int(header["scale"]) != model.scale:
            raise ModelError(f"checkpoint {path} is a \u00d7{header['scale']} model, asked for \u00d7{model.scale}")
        state = read_checkpoint_tensors(path)
    else:
        if path.suffix == ".safetensors":
            state = read_checkpoint_tensors(path)
        else:
            # tensors and plain containers only: never an unsafe unpickle (see load_pickled_state)
            state = load_pickled_state(path)
        state = unwrap_state_dict(state, str(path))
        hook = _convert_hook(model, spec)
        if hook is not None:
            state = hook(state)
    load_state_dict_strict(model, state, str(path))
    return model


def _looks_like_path(name: str) -> bool:
    return name.lower().endswith(_CHECKPOINT_SUFFIXES) or os.sep in name or "/" in name or Path(name).is_file()


SHIPPED = "shipped"


def _legacy_weights(weights: Any, pretrained: bool) -> tuple[Any, bool]:
    """``weights=True`` / ``weights=False`` (freqvsr <= 0.1) in today's terms, with a warning."""
    if weights is True:
        warnings.warn(
            "create_model(weights=True) is deprecated; use pretrained=True (weights='shipped' is the default)",
            DeprecationWarning,
            stacklevel=3,
        )
        return SHIPPED, True
    if weights is False:
        warnings.warn(
            "create_model(weights=False) is deprecated; use weights=None for random initialisation",
            DeprecationWarning,
            stacklevel=3,
        )
        return None, pretrained
    return weights, pretrained


def create_model(
    name_or_path: str | os.PathLike[str],
    *,
    weights: str | os.PathLike[str] | None = SHIPPED,
    pretrained: bool = False,
    scale: int | None = None,
    **overrides: Any,
) -> VSRModel:
    """Build a model by registry name (``"basicvsr.small"``) or from a freqvsr checkpoint path.

    By name: the variant's arguments, updated by ``overrides`` (each must be a constructor parameter,
    else ModelError listing the valid ones). When the builder takes ``scale`` (e.g. bicubic),
    ``scale=`` is passed to it.

    ``weights`` says where the weights come from:

    * ``"shipped"`` (default): the registry entry's own trained weights when it ships them, else a
      random initialisation;
    * a path: that file (a freqvsr checkpoint, or an official ``.pth``/``.pt``/``.safetensors``);
    * ``None``: random initialisation.

    ``pretrained=True`` requires trained weights: a model that would be randomly initialised is a
    ModelError instead. (Before 0.2, ``weights=True`` meant ``pretrained=True`` and ``weights=False``
    meant ``weights=None``; both still work, with a DeprecationWarning.)

    By path (``.safetensors``): the model is rebuilt from the checkpoint header, with its weights;
    ``weights=`` does not apply. ``overrides`` may only change arguments that leave the weights
    fitting exactly (same keys and shapes) — anything else is refused; it is up to the caller that
    such an argument is meant for inference-time tuning.

    ``scale``: when given and the model's factor differs, ModelError ("... is a x2 model, asked for x4").
    """
    weights, pretrained = _legacy_weights(weights, pretrained)
    shipped_asked = isinstance(weights, str) and weights == SHIPPED
    name = os.fspath(name_or_path)
    if name in _REGISTRY:
        spec = get_spec(name)
        args = {**spec.args, **overrides}
        params, _ = constructor_params(spec.builder)
        if scale is not None and "scale" in params and "scale" not in overrides:
            args["scale"] = int(scale)
        model = build_model(spec, args, source=f"model {name!r}")
        _check_scale(model, scale, f"model {name!r}")
        if shipped_asked:
            if spec.weights is not None:
                shipped = WEIGHTS_DIR / spec.weights
                if not shipped.is_file():
                    raise ModelError(f"shipped weights {shipped} of model {name!r} are missing from the installation")
                try:
                    load_weights(model, shipped, spec=spec)
                except ModelError as exc:
                    hint = " (pass weights=None for random initialisation)" if overrides else ""
                    raise ModelError(f"{exc}{hint}") from None
            elif pretrained:
                raise ModelError(
                    f"model {name!r} has no shipped weights; pass weights=PATH, or pretrained=False "
                    "for random initialisation"
                )
        elif weights is not None:
            load_weights(model, weights, spec=spec)
        elif pretrained:
            raise ModelError(f"model {name!r}: pretrained=True asks for trained weights, weights=None for none")
    elif _looks_like_path(name):
        path = Path(name)
        if weights is not None and not shipped_asked:
            raise ModelError(f"checkpoint {path} already holds weights; weights= only applies to a model name")
        if path.suffix.lower() in _FOREIGN_SUFFIXES and path.is_file():
            raise ModelError(
                f"checkpoint {path} is not a freqvsr checkpoint; load official weights into a named "
                f"architecture instead: create_model('<name>', weights='{path}')"
            )
        model = load_checkpoint(path, **overrides)
        _check_scale(model, scale, f"checkpoint {path}")
    else:
        get_spec(name)  # raises ModelError naming the known models
        raise AssertionError("unreachable")
    return model


def _check_scale(model: VSRModel, scale: int | None, what: str) -> None:
    if scale is not None and model.scale != int(scale):
        raise ModelError(f"{what} is a \u00d7{model.scale} model, asked for \u00d7{int(scale)}")
