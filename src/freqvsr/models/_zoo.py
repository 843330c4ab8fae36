"""The model zoo table behind `freqvsr models`: name, parameters, shipped weights, measured quality."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import torch

from freqvsr.models._registry import get_spec, list_models


class _SkipInit(torch.overrides.TorchFunctionMode):
    """Skip the initialisers (``torch.nn.init`` calls and in-place value writes) while a network
    is built only to count its parameters.

    The random initialisers were most of the cost of `freqvsr models` (every registered network
    is built). The meta device is no cheaper here: factory calls such as ``torch.arange`` run as
    Python reference code there (the first one imports torch._dynamo, most of a second:
    ``docs/measurements.md``), and constructors that compute fixed buffers from data (DCT bases)
    cannot run on it at all. On the CPU, parameters are
    ``torch.empty`` until initialised, so skipping the initialisers leaves allocation only. A
    mode, unlike patching ``torch.nn.init``, affects this thread and this block only.
    """

    # In-place writes of values (what the initialisers that do not dispatch, kaiming_normal_ and
    # xavier_*, call, and the ``weight.data.mul_(0.1)`` of residual blocks); none changes a shape.
    _VALUE_WRITES = frozenset(
        getattr(torch.Tensor, n) for n in ("uniform_", "normal_", "zero_", "fill_", "mul_", "clamp_", "erfinv_")
    )

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Collection[type],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if func in self._VALUE_WRITES or getattr(func, "__module__", None) == "torch.nn.init":
            return args[0] if args else (kwargs or {}).get("tensor")  # the tensor, left as allocated
        return func(*args, **(kwargs or {}))


def count_parameters(name: str) -> int:
    """Parameters of a registered entry: built on the CPU with its initialisers skipped (values
    are never read; tests/test_hardening_zoo.py checks the counts against fully built networks)."""
    spec = get_spec(name)
    try:
        with torch.no_grad(), _SkipInit():
            model = spec.builder(**spec.args)
    except Exception:  # a constructor that computes from initial values: build it as it is
        model = spec.builder(**spec.args)
    return sum(p.numel() for p in model.parameters())


def quality_summary(metrics: list[dict[str, Any]]) -> str:
    """One line from a checkpoint's metric rows.

    Rows that come in model/bicubic pairs (``"model"`` key, as ``benchmarks/ship_default_model.py``
    writes them) become the mean PSNR gain over bicubic per degradation, over the datasets of the
    most common protocol, followed by NIQE of model / bicubic / ground truth per degradation where
    recorded (``--niqe``); other rows are listed as they are.
    """
    paired = [m for m in metrics if m.get("model") in ("model", "bicubic") and m.get("name") == "psnr_rgb"]
    if not paired:
        return "; ".join(
            f"{m['name']} {m['value']:.2f} ({m.get('dataset', '')}, {m.get('protocol', '')})" for m in metrics
        )
    return _psnr_summary(paired) + _niqe_summary([m for m in metrics if m.get("name") == "niqe"])


def _niqe_summary(rows: list[dict[str, Any]]) -> str:
    parts = []
    for deg in dict.fromkeys(m.get("degradation", "") for m in rows):
        mean = {}
        for who in ("model", "bicubic", "gt"):
            values = [m["value"] for m in rows if m.get("degradation", "") == deg and m.get("model") == who]
            mean[who] = f"{sum(values) / len(values):.2f}" if values else "?"
        parts.append(f"{deg} {mean['model']}/{mean['bicubic']}/{mean['gt']}")
    datasets = sorted({m.get("dataset", "") for m in rows})
    return f"; NIQE model/bicubic/GT (lower is better): {', '.join(parts)} ({', '.join(datasets)})" if parts else ""


def _psnr_summary(paired: list[dict[str, Any]]) -> str:
    protocols = [m.get("protocol", "") for m in paired if m.get("model") == "bicubic"]
    main = max(set(protocols), key=protocols.count) if protocols else ""
    parts, datasets = [], set()
    for deg in dict.fromkeys(m.get("degradation", "") for m in paired):
        rows = [m for m in paired if m.get("degradation", "") == deg and m.get("protocol", "") == main]
        ours = [m["value"] for m in rows if m["model"] == "model"]
        base = [m["value"] for m in rows if m["model"] == "bicubic"]
        if ours and len(ours) == len(base):
            datasets |= {m.get("dataset", "") for m in rows}
            parts.append(f"{deg} {sum(ours) / len(ours) - sum(base) / len(base):+.2f}")
    return f"PSNR RGB vs bicubic: {', '.join(parts)} dB (mean of {', '.join(sorted(datasets))})"


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
            data, deg = training.get("data") or {}, training.get("degradation") or {}
            if isinstance(data, dict):
                data = f"{data.get('kind', '?')} {data.get('root', '')}".strip()
            if isinstance(deg, dict):
                deg = deg.get("preset", "?")
            row["trained_on"] = f"{data} / {deg}"
            row["quality"] = quality_summary(header.get("metrics", []))
        rows.append(row)
    return rows
