"""Self-describing checkpoints: a safetensors file whose metadata says how to rebuild the model.

The safetensors metadata (a str -> str map) holds one JSON document under the key ``"freqvsr"``::

    {"format": 1,
     "arch": "basicvsr.small",            # registry name
     "args": {"mid_channels": 32, ...},   # full constructor arguments (defaults included)
     "scale": 4,
     "freqvsr_version": "0.1.0",
     "storage_dtype": "float16" | null,   # set when tensors were stored in reduced precision
     "training": {"data": ..., "degradation": ..., "iterations": ..., "wall_time": ..., "hardware": ...},
     "metrics": [{"name": "psnr_y", "value": 27.1, "protocol": "...", "dataset": "Vid4"}],
     "precision": {"cpu_bf16": {"psnr_delta_db": -0.004, ...}},   # optional, see VSRModel.cpu_bf16_delta_db
     "notes": "..."}

safetensors rather than a pickle: loading never runs code, the header is readable without reading
the tensors (``read_checkpoint_header``), and files are memory-mapped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from freqvsr._version import __version__
from freqvsr.errors import CheckpointNotFoundError, ModelError
from freqvsr.models._base import VSRModel
from freqvsr.models._builder import build_model
from freqvsr.models._registry import get_spec, list_models

HEADER_KEY = "freqvsr"
FORMAT_VERSION = 1
# Wrappers that prefix every key: DistributedDataParallel / DataParallel and torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def strip_prefixes(
    state_dict: dict[str, torch.Tensor], prefixes: tuple[str, ...] = _WRAPPER_PREFIXES
) -> dict[str, torch.Tensor]:
    """Remove leading wrapper prefixes (repeatedly: ``module._orig_mod.x`` -> ``x``) from every key."""
    out = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for p in prefixes:
                if key.startswith(p):
                    key, changed = key[len(p) :], True
        out[key] = value
    return out


# Official checkpoints keep the network under one of these keys (BasicSR: params_ema is the
# exponential moving average and the better model, so it wins over params; mmediting: state_dict).
_NESTED_KEYS = ("params_ema", "params", "state_dict", "model")


def unwrap_state_dict(obj: Any, source: str) -> dict[str, torch.Tensor]:
    """The network's state dict inside a foreign checkpoint ``obj`` (read from ``source``).

    Descends into ``params_ema`` / ``params`` / ``state_dict`` / ``model``, keeps only
    ``generator.*`` entries when there are any (mmediting restorers), and strips the wrapper
    prefixes (:func:`strip_prefixes`). The factory does this before an architecture's
    ``convert_state_dict`` hook, which then only handles its own layout.
    """
    for _ in range(3):  # e.g. {"state_dict": {...}} or {"params_ema": {...}, "params": {...}}
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            nested = next((obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), dict)), None)
            if nested is None:
                break
            obj = nested
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"weights file {source} holds no state dict (looked for {', '.join(_NESTED_KEYS)})")
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    # mmediting restorers save the network as generator.* next to discriminator.* and a
    # step_counter buffer: keep only the generator.
    if any(k.startswith("generator.") for k in state):
        state = {k[len("generator.") :]: v for k, v in state.items() if k.startswith("generator.")}
    return strip_prefixes(state)


def _unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    # DDP/DataParallel keep the network in .module, torch.compile in ._orig_mod.
    while True:
        inner = getattr(model, "module", None)
        if not isinstance(inner, torch.nn.Module):
            inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def _jsonable(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"checkpoint {what} is not JSON-serialisable: {exc}") from None


def save_checkpoint(
    model: torch.nn.Module,
    path: str | os.PathLike[str],
    *,
    training: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    notes: str | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``model``'s weights and description to ``path`` (``.safetensors``); returns the path.

    The model must know its registry name and constructor arguments (``arch_name``/``arch_args``,
    set by ``create_model`` and ``load_checkpoint``). ``dtype=torch.float16`` stores floating
    tensors in half precision to keep shipped files small; they load back into float32 models.
    Non-persistent buffers (e.g. a DCT basis) are not part of ``state_dict`` and are not saved.
    The file is written to a temporary name and renamed, so a crash never leaves half a file.
    """
    from safetensors.torch import save_file

    path = Path(path)
    net = _unwrap_model(model)
    arch, args = getattr(net, "arch_name", None), getattr(net, "arch_args", None)
    if arch is None or args is None:
        raise ModelError(
            f"cannot save {path}: {type(net).__name__} has no arch_name/arch_args; "
            "build it with freqvsr.create_model() so the checkpoint can describe it"
        )
    if metrics is not None:
        for m in metrics:
            missing = {"name", "value"} - set(m)
            if missing:
                raise ModelError(f"cannot save {path}: metric {m!r} lacks {sorted(missing)}")
    header = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "args": _jsonable(args, "args"),
        "scale": int(getattr(net, "scale", 0)),
        "freqvsr_version": __version__,
        "storage_dtype": str(dtype).replace("torch.", "") if dtype is not None else None,
        "training": _jsonable(training or {}, "training info"),
        "metrics": _jsonable(metrics or [], "metrics"),
        "notes": notes or "",
    }
    tensors = {}
    for key, value in strip_prefixes(net.state_dict()).items():
        t = value.detach().to("cpu")
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        # clone: safetensors refuses tensors sharing storage (tied weights, views of one buffer).
        tensors[key] = t.contiguous().clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={HEADER_KEY: json.dumps(header)})
    os.replace(tmp, path)
    return path


def read_checkpoint_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a freqvsr checkpoint, without reading its tensors."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for malformed files
        raise ModelError(f"checkpoint {path} is not a safetensors file ({type(exc).__name__})") from None
    if HEADER_KEY not in metadata:
        raise ModelError(f"checkpoint {path} has no freqvsr header (a safetensors file from another tool?)")
    try:
        header = json.loads(metadata[HEADER_KEY])
    except json.JSONDecodeError:
        raise ModelError(f"checkpoint {path} has a corrupt freqvsr header (invalid JSON)") from None
    if not isinstance(header, dict) or "arch" not in header or "args" not in header:
        raise ModelError(f"checkpoint {path} has an incomplete freqvsr header (needs 'arch' and 'args')")
    if int(header.get("format", 0)) > FORMAT_VERSION:
        raise ModelError(
            f"checkpoint {path} has header format {header['format']}; this freqvsr reads up to {FORMAT_VERSION}"
        )
    return header


def update_checkpoint_header(path: str | os.PathLike[str], updates: dict[str, Any]) -> dict[str, Any]:
    """Merge ``updates`` into the JSON header of the freqvsr checkpoint at ``path`` (top-level keys
    replaced), keeping its tensors bit for bit; written to a temporary file and renamed. Returns
    the new header."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = Path(path)
    header = read_checkpoint_header(path)
    header.update(_jsonable(updates, "header update"))
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata() or {})
    metadata[HEADER_KEY] = json.dumps(header)
    tensors = read_checkpoint_tensors(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return header


def read_checkpoint_tensors(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, as stored (no dtype conversion)."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device=str(map_location))
    except Exception as exc:
        raise ModelError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc})") from None


def load_state_dict_strict(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """``model.load_state_dict(strict=True)`` with a one-line ModelError naming ``source``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
        if keys:
            more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
            problems.append(f"{label} {len(keys)}: {', '.join(keys[:3])}{more}")
    if problems:
        raise ModelError(f"weights in {source} do not fit {type(model).__name__}: " + "; ".join(problems))
    # copy_ converts dtypes, so float16-stored weights land in a float32 model as float32.
    model.load_state_dict(state_dict, strict=True)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu", **overrides: Any
) -> VSRModel:
    """Rebuild the model described by a freqvsr checkpoint and load its weights (strictly).

    ``overrides`` replace constructor arguments of the header; the weights must still fit exactly
    (so an override that changes the architecture is refused). The header is kept on the model as
    ``model.checkpoint_header``.
    """
    header = read_checkpoint_header(path)
    try:
        spec = get_spec(header["arch"])
    except ModelError:
        raise ModelError(
            f"checkpoint {path} is for unknown architecture {header['arch']!r}; known: {', '.join(list_models())}"
        ) from None
    args = dict(header["args"])
    args.update(overrides)
    model = build_model(spec, args, source=f"checkpoint {path}")
    if "scale" in header and int(header["scale"]) != model.scale and "scale" not in overrides:
        raise ModelError(
            f"checkpoint {path} says scale {header['scale']} but its arguments build a x{model.scale} model"
        )
    state = read_checkpoint_tensors(path)
    load_state_dict_strict(model, state, f"checkpoint {path}")
    model.checkpoint_header = header
    return model.to(map_location)


def load_pickled_state(path: str | os.PathLike[str]) -> Any:
    """Read an official ``.pth``/``.pt`` file without running any code it may hold.

    ``torch.load(weights_only=True)`` unpickles tensors and plain containers only; anything else
    (a class, ``os.system``) stops the load before it is called. Its error text advises
    retrying with ``weights_only=False``, exactly what a stranger's file must never get, so the
    refusal is reworded: what was found, and what to do if the file is trusted.
    """
    import re
    import warnings

    path = Path(path)
    try:
        with warnings.catch_warnings():
            # "Detected pickle protocol 4 ..." is torch talking to its own developers
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"Unsupported (?:global|class)[: ]+([\w.]+)", text)
        if found:
            what = f"it holds a Python object ({found.group(1)}) that loading would run"
        elif isinstance(exc, (EOFError, RuntimeError)) or "Unsupported operand" in text or "pickle" in text.lower():
            what = "it is not a plain tensor file (corrupt, or holds objects other than tensors)"
        else:
            what = f"{type(exc).__name__}: {text.strip().splitlines()[0] if text.strip() else ''}"
        raise ModelError(
            f"weights file {path} cannot be read safely: {what}; it was not loaded "
            "(if you trust it, re-save only its state dict with torch.save)"
        ) from None
