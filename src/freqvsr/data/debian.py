"""Fetching and unpacking Debian packages: where the training corpus's raw material comes from.

:func:`fetch_packages` runs ``apt-get download`` into a cache folder (``apt-get update`` once and
retry when apt cannot find them; ``.deb`` files already there are reused); :func:`extract_packages`
runs ``dpkg -x PACKAGE.deb STAGING``, with a pure-Python reader of the ``ar`` + ``data.tar.*``
format standing in where ``dpkg`` is missing. Commands get argument lists, never shell strings,
through a :data:`Runner` that tests replace. What is made from the packages is
:mod:`freqvsr.data.corpus`'s business.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

from freqvsr.errors import FreqVSRError, InputError, MissingDependencyError

__all__ = ["DEBIAN_PACKAGES", "Runner", "debs_in", "extract_packages", "fetch_packages", "run_command"]

DEBIAN_PACKAGES = ("opencv-doc", "plasma-workspace-wallpapers")  # the camera kind's packages

# A command runner: (argument list, working folder) -> CompletedProcess. Injected in tests.
Runner = Callable[[Sequence[str], "Path | None"], subprocess.CompletedProcess]


def run_command(args: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``args`` (a list: never a shell string) and capture its output as text."""
    try:
        return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise MissingDependencyError(f"{args[0]}: command not found") from None


def _cached_deb(cache: Path, package: str) -> Path | None:
    found = sorted(cache.glob(f"{package}_*.deb"))
    return found[-1] if found else None


def fetch_packages(
    cache_dir, packages: Sequence[str] = DEBIAN_PACKAGES, runner: Runner | None = None
) -> dict[str, Path]:
    """Download ``packages`` with ``apt-get download`` into ``cache_dir`` (already present .deb files
    are reused). Returns ``{package: .deb path}``."""
    runner = runner or run_command
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if _cached_deb(cache, p) is None]
    if missing:
        try:
            result = runner(["apt-get", "download", *missing], cache)
            if result.returncode != 0:
                # A fresh container has empty package lists: refresh them once and retry.
                runner(["apt-get", "update"], None)
                result = runner(["apt-get", "download", *missing], cache)
        except MissingDependencyError:
            raise MissingDependencyError(
                "apt-get not found: build-corpus downloads the Debian packages "
                f"{', '.join(packages)} with apt; fetch their .deb files elsewhere and pass packages_dir="
            ) from None
        if result.returncode != 0:
            last = (result.stderr or result.stdout or "").strip().splitlines()
            raise FreqVSRError(
                f"apt-get download {' '.join(missing)} failed: {last[-1] if last else 'exit ' + str(result.returncode)}"
            )
    return debs_in(cache, packages)


def debs_in(folder: Path, packages: Sequence[str]) -> dict[str, Path]:
    """``{package: newest .deb}`` of ``packages`` in ``folder``; InputError naming the first missing one."""
    debs = {}
    for p in packages:
        deb = _cached_deb(folder, p)
        if deb is None:
            raise InputError(f"{folder}: no {p}_*.deb found")
        debs[p] = deb
    return debs


def _extract_deb_python(deb: Path, dest: Path) -> None:
    """``dpkg -x`` without dpkg: a .deb is an ``ar`` archive holding ``data.tar.{xz,gz,zst,...}``."""
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise InputError(f"{deb}: not a Debian package (no ar header)")
        while True:
            header = f.read(60)
            if len(header) < 60:
                raise InputError(f"{deb}: no data.tar member")
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            if name.startswith("data.tar"):
                if name.endswith(".zst"):
                    raise MissingDependencyError(f"{deb}: zstd-compressed data needs dpkg (install dpkg)")
                data = io.BytesIO(f.read(size))
                with tarfile.open(fileobj=data, mode="r:*") as tar:
                    # Only files and folders: packages' symlinks often point to absolute system
                    # paths, which the safe "data" filter refuses and the corpus does not need.
                    members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
                    tar.extractall(dest, members=members, filter="data")
                return
            f.seek(size + (size & 1), os.SEEK_CUR)  # members are 2-byte aligned


def extract_packages(debs: Sequence[Path], staging, runner: Runner | None = None) -> Path:
    """Unpack every ``.deb`` into ``staging`` (``dpkg -x``; the Python reader if dpkg is missing)."""
    staging = Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    use_dpkg = runner is not None or shutil.which("dpkg") is not None
    runner = runner or run_command
    for deb in debs:
        if use_dpkg:
            result = runner(["dpkg", "-x", str(deb), str(staging)], None)
            if result.returncode != 0:
                last = (result.stderr or "").strip().splitlines()
                raise InputError(f"{deb}: dpkg -x failed: {last[-1] if last else result.returncode}")
        else:
            _extract_deb_python(Path(deb), staging)
    return staging
