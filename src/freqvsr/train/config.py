"""Typed training configuration: YAML -> frozen dataclasses, validated, with typed overrides.

A recipe is one YAML file (see ``configs/``). Every section is a frozen dataclass below; a key that
is not a field is an error naming the key and the file (a typo such as ``lr_rate`` must not be
silently ignored, as it would be with a plain dict). Values are converted to the field's type, so
``lr: 2e-4`` (which YAML 1.1 reads as a *string*) becomes a float.

Overrides on the command line use dotted paths into the same tree and are parsed by the field's
type: ``optimizer.lr=1e-4``, ``train.amp=bf16``, ``optimizer.betas=[0.9,0.999]``,
``loss.0.weight=2`` (list items by index), ``model.args.mid_channels=16`` (free-form dicts).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from freqvsr.errors import UsageError


@dataclass(frozen=True)
class ModelConfig:
    name: str  # registry name, e.g. "basicvsr.small"
    args: dict[str, Any] = field(default_factory=dict)  # constructor overrides (create_model **overrides)
    weights: str | None = None  # initialise from a checkpoint (e.g. stage 1 of a two-stage recipe)
    weights_strict: bool = True  # False: load the tensors that fit, keep the rest random
    # (FastRealVSR stage 2 adds HSA to the stage-1 network)
    flow_weights: str | None = (
        None  # SPyNet state loaded into the model's ``spynet`` (from ``train/spynet_pretrain.py``)
    )


@dataclass(frozen=True)
class DataConfig:
    kind: str = "synthetic"  # synthetic | folder | reds | vimeo | vid4 | ... (freqvsr.data)
    root: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # extra keyword arguments of the dataset
    num_workers: int = 0


@dataclass(frozen=True)
class DegradationConfig:
    preset: str = "bi"  # a freqvsr.degrade preset (bi, bd, crf25, real, ftvsr-mix, ...)
    # or "disk": LQ frames read from the dataset's LQ folder
    scale: int = 4


@dataclass(frozen=True)
class OptimizerConfig:
    kind: Literal["adam", "adamw"] = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    eps: float = 1e-8


@dataclass(frozen=True)
class ScheduleConfig:
    # cosine: mmcv CosineRestart by iteration, lr = min_lr + (base - min_lr)(1 + cos(pi t / period)) / 2
    # per period, restart weights scale the base; empty ``periods`` = one period of train.iterations.
    # multistep: base * gamma ** (number of milestones passed). constant: base.
    kind: Literal["cosine", "multistep", "constant"] = "cosine"
    periods: tuple[int, ...] = ()
    restart_weights: tuple[float, ...] = ()
    min_lr: float = 1e-7
    warmup: int = 0  # linear warm-up iterations (from 0)
    milestones: tuple[int, ...] = ()
    gamma: float = 0.5


@dataclass(frozen=True)
class LossTerm:
    name: str  # charbonnier | l1 | mse | fc | perceptual | gan
    weight: float = 1.0
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FreezeConfig:
    modules: tuple[str, ...]  # sub-module names, e.g. ("spynet",)
    iterations: int  # frozen for iterations [0, iterations)


@dataclass(frozen=True)
class TrainConfig:
    iterations: int = 1000
    batch_size: int = 4  # global batch (split evenly over DDP processes)
    crop_size: int = 64  # GT patch side (LQ patch = crop_size / scale)
    num_frames: int = 7
    grad_clip: float = 0.0  # max global grad norm; 0 = off
    ema_decay: float = 0.0  # 0 = no EMA; BasicSR uses 0.999
    ema_warmup: bool = False  # decay min(ema_decay, (1+it)/(10+it)): for short runs (ema.py)
    amp: Literal["none", "bf16", "fp16"] = "none"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:1
    log_every: int = 10
    val_every: int = 0  # 0 = only at the end (when val is configured)
    ckpt_every: int = 0  # 0 = only at the end
    image_every: int = 0  # image samples at validations; 0 = never
    freeze: tuple[FreezeConfig, ...] = ()
    use_lr_multipliers: bool = True  # per-module multipliers from model.lr_multipliers()
    discriminator_lr: float = 1e-4  # only when a "gan" loss term is present
    max_seconds: float = 0.0  # wall-clock limit of this call; 0 = none. When reached, the
    # run stops after the current iteration and saves its state and
    # final.safetensors (EMA when on) as at the end (lent GPU time)


@dataclass(frozen=True)
class ValConfig:
    data: DataConfig | None = None  # None = no validation
    metric: Literal["psnr", "psnr_y", "ssim", "ssim_y"] = "psnr"
    crop_border: int = 0
    max_clips: int = 0  # 0 = all
    use_ema: bool = True


@dataclass(frozen=True)
class Config:
    model: ModelConfig
    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    degradation: DegradationConfig = field(default_factory=DegradationConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: tuple[LossTerm, ...] = (LossTerm("charbonnier"),)
    train: TrainConfig = field(default_factory=TrainConfig)
    val: ValConfig = field(default_factory=ValConfig)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    # tuples -> lists so the dict round-trips through YAML/JSON unchanged
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------
# Conversion of raw YAML values to typed dataclasses
# ---------------------------------------------------------------------------------------------------


class _Raw(str):
    """A command-line override value: parsed as YAML when the field wants a list/dict/dataclass."""


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return True, args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007 - built at run time
    return False, tp


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` to type ``tp``; UsageError mentioning ``where`` when it cannot."""
    optional, inner = _is_optional(tp)
    if optional:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "~")):
            return None
        return _coerce(value, inner, where)
    origin = typing.get_origin(inner)
    if isinstance(value, _Raw) and (origin in (tuple, list, dict) or dataclasses.is_dataclass(inner)):
        try:
            value = yaml.safe_load(str(value))
        except yaml.YAMLError:
            raise UsageError(f"{where}: cannot parse {str(value)!r}") from None
    if inner is Any:
        return value
    if dataclasses.is_dataclass(inner):
        return _build(inner, value, where)
    if origin is Literal:
        choices = typing.get_args(inner)
        if str(value) not in choices:
            raise UsageError(f"{where}: {value!r} is not one of {', '.join(map(str, choices))}")
        return str(value)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise UsageError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(v, args[0], f"{where}.{i}") for i, v in enumerate(value)]
        else:
            if len(value) != len(args):
                raise UsageError(f"{where}: expected {len(args)} items, got {len(value)}")
            items = [_coerce(v, a, f"{where}.{i}") for i, (v, a) in enumerate(zip(value, args, strict=True))]
        return tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise UsageError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if inner is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise UsageError(f"{where}: expected true/false, got {value!r}")
    if inner is int:
        if isinstance(value, bool):
            raise UsageError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)  # e.g. 4e5 iterations
        if isinstance(value, str):
            try:
                f = float(value.replace("_", ""))
            except ValueError:
                f = None
            if f is not None and f.is_integer():
                return int(f)
        raise UsageError(f"{where}: expected an integer, got {value!r}")
    if inner is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise UsageError(f"{where}: expected a number, got {value!r}")
    if inner is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UsageError(f"{where}: expected a string, got {value!r}")
    raise TypeError(f"unsupported config field type {inner!r} at {where}")  # pragma: no cover


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: expected a mapping for {cls.__name__}, got {raw!r}")
    hints = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            file, _, _ = where.partition(": ")
            dotted = _join(where, key).partition(": ")[2]
            raise UsageError(f"{file}: unknown key {dotted!r} (valid: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        if name in raw:
            kwargs[name] = _coerce(raw[name], hints[name], _join(where, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            file, _, _ = where.partition(": ")
            raise UsageError(f"{file}: missing required key {_join(where, name).partition(': ')[2]!r}")
    return cls(**kwargs)


def _join(where: str, key: str) -> str:
    # ``where`` is "FILE: dotted.path" ("FILE: " at the top level)
    return f"{where}{key}" if where.endswith(": ") else f"{where}.{key}"


# ---------------------------------------------------------------------------------------------------
# Overrides and loading
# ---------------------------------------------------------------------------------------------------


def _field_type_at(path: list[str], root: type) -> Any:
    """The annotated type at a dotted path (list indices and dict keys allowed); None if no such field."""
    tp: Any = root
    for part in path:
        _, tp = _is_optional(tp)
        if dataclasses.is_dataclass(tp):
            hints = _field_types(tp)
            if part not in hints:
                return None
            tp = hints[part]
        elif typing.get_origin(tp) in (tuple, list):
            if not part.isdigit():
                return None
            args = typing.get_args(tp)
            tp = (
                args[0]
                if len(args) == 2 and args[1] is Ellipsis
                else (args[int(part)] if int(part) < len(args) else None)
            )
        elif typing.get_origin(tp) is dict or tp is Any:
            tp = Any
        else:
            return None
    return tp


def apply_override(raw: dict[str, Any], item: str, source: str = "override", root: type | None = None) -> None:
    """Apply one ``a.b.c=value`` to the raw (not yet typed) config dict of ``root`` (default
    :class:`Config`), in place. The value is parsed later, by the field's type."""
    root = root or Config
    if "=" not in item:
        raise UsageError(f"{source}: expected KEY=VALUE, got {item!r}")
    key, value = item.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise UsageError(f"{source}: empty key in {item!r}")
    tp = _field_type_at(path, root)
    if tp is None:
        raise UsageError(f"{source}: unknown key {key!r}")
    node: Any = raw
    for i, part in enumerate(path[:-1]):
        sub_tp = _field_type_at(path[: i + 1], root)
        if isinstance(node, list):
            idx = int(part)
            if idx >= len(node):
                raise UsageError(f"{source}: {'.'.join(path[: i + 1])} is out of range (list has {len(node)} items)")
            node = node[idx]
            continue
        if node.get(part) is None:
            _, sub = _is_optional(sub_tp)
            if typing.get_origin(sub) in (tuple, list):
                raise UsageError(f"{source}: {'.'.join(path[: i + 1])} is empty")
            node[part] = {}
        node = node[part]
    last = path[-1]
    if isinstance(node, list):
        if int(last) >= len(node):
            raise UsageError(f"{source}: {key} is out of range (list has {len(node)} items)")
        node[int(last)] = _Raw(value) if tp is not Any else yaml.safe_load(value)
    else:
        # free-form dicts (model.args) take YAML scalars: mid_channels=16 -> int 16
        node[last] = yaml.safe_load(value) if tp is Any else _Raw(value)


def config_from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    return from_dict(Config, raw, source)


def from_dict(cls: type, raw: dict[str, Any], source: str = "config") -> Any:
    """Build the frozen dataclass ``cls`` from a raw mapping; ``source`` names the file in errors."""
    return _build(cls, raw, f"{source}: ")


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML recipe, apply ``key=value`` overrides and return the typed :class:`Config`."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        raise UsageError(f"{path}: invalid YAML ({first})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: the top level must be a mapping")
    for item in overrides:
        apply_override(raw, item, source=f"{path}: override {item!r}")
    cfg = config_from_dict(raw, str(path))
    validate(cfg, str(path))
    return cfg


def validate(cfg: Config, source: str) -> None:
    """Checks that involve several fields (types are already checked)."""
    t = cfg.train
    if t.iterations < 1 or t.batch_size < 1 or t.num_frames < 1:
        raise UsageError(f"{source}: train.iterations, train.batch_size and train.num_frames must be >= 1")
    if t.crop_size % cfg.degradation.scale:
        raise UsageError(
            f"{source}: train.crop_size {t.crop_size} is not a multiple of the scale {cfg.degradation.scale}"
        )
    if t.max_seconds < 0:
        raise UsageError(f"{source}: train.max_seconds must be >= 0 (0 = no limit), got {t.max_seconds}")
    if not 0.0 <= t.ema_decay < 1.0:
        raise UsageError(f"{source}: train.ema_decay must be in [0, 1), got {t.ema_decay}")
    if not cfg.loss:
        raise UsageError(f"{source}: loss: at least one loss term is needed")
    s = cfg.schedule
    if s.restart_weights and len(s.restart_weights) != len(s.periods):
        raise UsageError(f"{source}: schedule.restart_weights needs one weight per period")
    if any(p < 1 for p in s.periods):
        raise UsageError(f"{source}: schedule.periods must be positive")
