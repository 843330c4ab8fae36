"""Hold the code to ARCHITECTURE.md's import rules, read from every module's imports (AST).

Every import counts, the ones inside functions too: a lazy import is still a dependency, and a
cycle hidden behind one is still a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "freqvsr"

# ARCHITECTURE.md "Import directions", transcribed: package -> the packages it may import directly.
# A package may also use what those may use (layers below stay available higher up: train may call
# functional maths without going through models).
DIRECTIONS: dict[str, set[str]] = {
    "functional": set(),
    "layers": {"functional"},
    "models": {"layers", "functional"},
    "metrics": {"functional"},
    "io": {"functional"},
    "degrade": {"functional", "io"},
    "data": {"degrade"},
    "inference": {"models", "io", "functional"},
    "losses": set(),
    "train": {"models", "data", "degrade", "losses", "metrics", "inference"},
    "bench": {"inference", "metrics", "data", "models"},
    "report": {"inference", "metrics", "data", "models"},
    "cli": {"*"},
}

# Where the code does what the diagram does not say, and why. Each entry must still be needed
# (test_every_relaxed_rule_is_used), so a reason cannot outlive its import.
RELAXED: dict[tuple[str, str], str] = {
    ("losses", "functional"): "the diagram names losses only as a part of train; the frequency-aware "
    "contrastive loss needs the DWT and the perceptual fallback a Gaussian "
    "filter, pure maths that belong in functional, not copies in losses",
}

# Top-level modules any package may import: they import nothing of freqvsr but each other
# (_extras raises an error of errors).
ROOT_MODULES = {"errors", "_version", "_extras"}

# Nothing imports these (ARCHITECTURE: "nothing imports cli, train or bench").
LEAVES = {"cli", "train", "bench"}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (``freqvsr.io`` = io/__init__.py)."""
    out = {}
    for path in SRC.rglob("*.py"):
        parts = ("freqvsr", *path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(dotted target, line) of every freqvsr import in ``path``: ``from freqvsr.io import probe``
    gives ``freqvsr.io.probe``, ``import freqvsr`` gives ``freqvsr``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}:{node.lineno}: use absolute imports (from freqvsr.x import y)")
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "freqvsr" or name.startswith("freqvsr."):
                yield name, node.lineno


def _resolve(name: str) -> str:
    """The module an import names: the longest dotted prefix that is a module of the package."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _package(module: str) -> str:
    """``freqvsr.io.encode`` -> ``io``; a top-level module is its own name (``errors``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _ in _imports(path):
            target = _resolve(name)
            if target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _allowed(package: str) -> set[str]:
    """What ``package`` may import: DIRECTIONS closed over the packages below it."""
    seen: set[str] = set()
    todo = list(DIRECTIONS[package])
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(DIRECTIONS.get(p, ()))
    return seen


def _cross_package_imports() -> Iterator[tuple[str, str, str]]:
    """(importing package, imported package, "file:line") for imports between packages."""
    for module, path in MODULES.items():
        pkg = _package(module)
        for name, line in _imports(path):
            target = _package(_resolve(name))
            if target != pkg and pkg in DIRECTIONS:
                yield pkg, target, f"{path.relative_to(SRC)}:{line} imports {name}"


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (every import counts, lazy ones too):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_cycle_finder_finds_a_cycle() -> None:
    # The check above is only as good as this: a two-module loop and a loop through a package.
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert _cycles({"p": {"p.x"}, "p.x": {"p.y"}, "p.y": {"p"}}) == [["p", "p.x", "p.y"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_bare_package_import_inside_the_package() -> None:
    # `import freqvsr` (or `from freqvsr import __version__`) inside the package runs the root's
    # lazy public API and ties every module to all of it; import the module you mean.
    bad = []
    for module, path in MODULES.items():
        if module == "freqvsr":
            continue
        for name, line in _imports(path):
            if _resolve(name) == "freqvsr":
                bad.append(f"{path.relative_to(SRC)}:{line} imports {name}")
    assert not bad, "import the module, not the package root:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", sorted(DIRECTIONS))
def test_import_directions(package: str) -> None:
    allowed = _allowed(package)
    bad = [
        where
        for pkg, target, where in _cross_package_imports()
        if pkg == package
        and "*" not in allowed
        and target not in allowed | ROOT_MODULES
        and (pkg, target) not in RELAXED
    ]
    assert not bad, "imports against ARCHITECTURE.md (add to RELAXED only with a reason):\n" + "\n".join(bad)


def test_every_package_is_in_the_rules() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - {"weights"} == set(DIRECTIONS), "a new package needs its line in DIRECTIONS and ARCHITECTURE.md"


def test_every_relaxed_rule_is_used() -> None:
    used = {(pkg, target) for pkg, target, _ in _cross_package_imports()}
    stale = [f"{a} -> {b}" for a, b in RELAXED if (a, b) not in used]
    assert not stale, "relaxed rules no import needs any more (remove them): " + ", ".join(stale)
    for (a, b), reason in RELAXED.items():
        assert b not in _allowed(a), f"{a} -> {b} is allowed by DIRECTIONS already"
        assert len(reason) > 40, f"{a} -> {b}: say why"


def test_nothing_imports_cli_train_or_bench() -> None:
    bad = [where for pkg, target, where in _cross_package_imports() if target in LEAVES and pkg != "cli"]
    assert not bad, "\n".join(bad)


@pytest.mark.spawns
def test_models_import_is_light() -> None:
    # `import freqvsr.models` must not pull in PyAV, OpenCV, data or degrade code.
    code = (
        "import sys, freqvsr.models\n"
        "bad = [m for m in ('av', 'cv2', 'freqvsr.data', 'freqvsr.degrade', 'freqvsr.io') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import freqvsr.models imported: {out}"


@pytest.mark.spawns
def test_import_freqvsr_is_cheap() -> None:
    code = "import sys, freqvsr\nprint(','.join(m for m in ('torch', 'av') if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_module_names_are_unique() -> None:
    # One name, one module: `flow.py` in three packages made every import line need a second look.
    # Package faces (__init__), private helpers (_name) and cli/ do not count: cli's modules are
    # named after the subcommand they parse (cli/compare.py parses `freqvsr compare`).
    seen: dict[str, list[str]] = {}
    for module in MODULES:
        leaf = module.rpartition(".")[2]
        if module.count(".") >= 2 and not leaf.startswith("_") and _package(module) != "cli":
            seen.setdefault(leaf, []).append(module)
    dupes = {k: v for k, v in seen.items() if len(v) > 1}
    assert not dupes, f"module names used twice: {dupes}"
