"""Training logs: always a JSONL file, TensorBoard too when it is installed.

``metrics.jsonl`` has one JSON object per event (``{"iter": 10, "loss": ..., "lr": ...}``); it is
what tests and scripts read, and it never depends on an optional package. TensorBoard gets the
same scalars plus image samples; without it, image samples are written as PNG files instead.
Only the main process logs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch


class Logger:
    def __init__(self, out_dir: Path, enabled: bool = True, tensorboard: bool = True) -> None:
        self.out_dir, self.enabled = Path(out_dir), enabled
        self.writer = None
        if not enabled:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # kept open for the whole run (closed by close()); appending continues a resumed run's log
        self._jsonl = open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # optional: JSONL (and PNG samples) are complete on their own
                SummaryWriter = None
            if SummaryWriter is not None:
                self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))

    def scalars(self, iteration: int, values: dict[str, float], kind: str = "train") -> None:
        if not self.enabled:
            return
        clean = {k: (float(v) if math.isfinite(float(v)) else str(float(v))) for k, v in values.items()}
        self._jsonl.write(json.dumps({"kind": kind, "iter": iteration, **clean}) + "\n")
        self._jsonl.flush()
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(f"{kind}/{k}", float(v), iteration)

    def image(self, iteration: int, name: str, image: torch.Tensor) -> None:
        """``image``: (3, H, W) in [0, 1]."""
        if not self.enabled:
            return
        image = image.detach().float().clamp(0, 1).cpu()
        if self.writer is not None:
            self.writer.add_image(name, image, iteration)
            return
        from PIL import Image

        folder = self.out_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        array = (image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        Image.fromarray(array).save(folder / f"{name.replace('/', '_')}_{iteration:08d}.png")

    def text(self, iteration: int, record: dict[str, Any]) -> None:
        if self.enabled:
            self._jsonl.write(json.dumps({"iter": iteration, **record}, default=str) + "\n")
            self._jsonl.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        self._jsonl.close()
        if self.writer is not None:
            self.writer.close()


def read_log(path: str | Path, kind: str = "train") -> list[dict[str, Any]]:
    """The records of ``kind`` in a ``metrics.jsonl`` (later records for the same iteration win,
    so a resumed run's log reads as one curve)."""
    by_iter: dict[int, dict[str, Any]] = {}
    for line in Path(path).read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") == kind:
            by_iter[rec["iter"]] = rec
    return [by_iter[i] for i in sorted(by_iter)]
