"""Official-checkpoint key maps shared by the BasicVSR family (BasicVSR, BasicVSR++, IconVSR).

mmediting/mmagic checkpoints use our key names; BasicSR names the same modules differently. Each
architecture lists the renames it needs (its own, plus these shared ones) and calls
:func:`rename_keys` from its ``convert_state_dict``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch

from freqvsr.layers.spynet import SPyNet

Rename = tuple["re.Pattern[str]", "str | Callable[[re.Match[str]], str]"]

# BasicSR's SpyNet stores bare convs at even Sequential indices (conv, ReLU, conv, ...) where
# mmediting has ConvModules: ``basic_module.{2j}.weight`` -> ``basic_module.{j}.conv.weight``.
BASICSR_SPYNET: Rename = (
    re.compile(r"^spynet\.basic_module\.(\d+)\.basic_module\.(\d+)\.(weight|bias)$"),
    lambda m: f"spynet.basic_module.{m[1]}.basic_module.{int(m[2]) // 2}.conv.{m[3]}",
)
BASICSR_UPCONV: Rename = (re.compile(r"^upconv([12])\."), lambda m: f"upsample{m[1]}.upsample_conv.")
BASICSR_TRUNKS: Rename = (re.compile(r"^(backward|forward)_trunk\."), lambda m: f"{m[1]}_resblocks.")


def rename_keys(state_dict: dict[str, torch.Tensor], renames: Sequence[Rename]) -> dict[str, torch.Tensor]:
    """Apply ``renames`` (pattern, replacement) in order to every key. SPyNet's normalisation
    buffers, which some exports drop, are restored: they are fixed ImageNet statistics, and a
    strict load would otherwise fail on them."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        for pattern, repl in renames:
            key = pattern.sub(repl, key)
        out[key] = value
    if any(k.startswith("spynet.") for k in out):
        ref = SPyNet()
        out.setdefault("spynet.mean", ref.mean)
        out.setdefault("spynet.std", ref.std)
    return out
