"""Resumable training state: everything an uninterrupted run would still have in memory.

``training_state.pt`` holds the model, optimizer, GradScaler, EMA and discriminator states, the
iteration, the data position (``BatchStream.state_dict``), all RNG states (python, numpy, torch
CPU, every CUDA device) and the config it was written with. The learning rate schedule is a pure
function of the iteration (``schedule.py``), so it needs no state. RNG states are stored as plain
lists/tensors so that ``torch.load(weights_only=True)`` can read the file (no pickled objects).
Files are written to a temporary name and renamed: a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from freqvsr.errors import UsageError

STATE_FILE = "training_state.pt"


def capture_rng() -> dict[str, Any]:
    py_version, py_state, py_gauss = random.getstate()
    np_state = np.random.get_state()
    return {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [
            np_state[0],
            torch.from_numpy(np_state[1].astype(np.int64)),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict[str, Any]) -> None:
    version, py_state, gauss = state["python"]
    random.setstate((version, tuple(py_state), gauss))
    name, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])


def save_state(path: Path, state: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_state(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"cannot resume: {path} does not exist (run without resume=True to start)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises several types for a corrupt file
        raise UsageError(f"cannot resume: {path} is not a readable training state ({type(exc).__name__})") from None
