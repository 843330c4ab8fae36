"""Enforce the import directions of ARCHITECTURE.md by reading every module's imports (AST)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "freqvsr"

# package -> freqvsr packages it may import (itself always allowed). Top-level helper modules
# (errors, __init__) are importable from anywhere.
ALLOWED: dict[str, set[str]] = {
    "functional": set(),
    "layers": {"functional"},
    "models": {"layers", "functional"},
    "metrics": {"functional"},
    "io": {"functional"},
    "degrade": {"functional", "io"},
    "data": {"degrade", "io", "functional"},
    "losses": {"functional", "layers"},
    "inference": {"models", "io", "functional", "layers"},
    "train": {"models", "data", "degrade", "losses", "metrics", "inference", "io", "functional", "layers"},
    "bench": {"inference", "metrics", "data", "models", "io", "functional", "degrade", "layers"},
    "report": {"inference", "metrics", "data", "models", "io", "functional", "degrade", "layers"},
    "cli": {"*"},
}
ROOT_MODULES = {"errors", "_version", "api"}


def _freqvsr_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}: use absolute imports (from freqvsr.x import y)")
        for n in names:
            parts = n.split(".")
            if parts[0] == "freqvsr" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_import_directions(package: str) -> None:
    allowed = ALLOWED[package]
    bad = []
    for path in sorted((SRC / package).rglob("*.py")):
        for target in _freqvsr_imports(path) - {package} - ROOT_MODULES:
            if "*" in allowed:
                continue
            if target not in allowed:
                bad.append(f"{path.relative_to(SRC)} imports freqvsr.{target}")
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


def test_nothing_imports_cli_train_or_bench() -> None:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        pkg = path.relative_to(SRC).parts[0]
        for target in _freqvsr_imports(path) & {"cli", "train", "bench"}:
            if target != pkg and pkg != "cli":
                bad.append(f"{path.relative_to(SRC)} imports freqvsr.{target}")
    assert not bad, "\n".join(bad)


def test_models_import_is_light() -> None:
    # `import freqvsr.models` must not pull in PyAV, OpenCV, data or degrade code.
    code = (
        "import sys, freqvsr.models\n"
        "bad = [m for m in ('av', 'cv2', 'freqvsr.data', 'freqvsr.degrade', 'freqvsr.io') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import freqvsr.models imported: {out}"


def test_import_freqvsr_is_cheap() -> None:
    code = "import sys, freqvsr\nprint(','.join(m for m in ('torch', 'av') if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
