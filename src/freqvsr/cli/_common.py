"""What every subcommand shares: the parent parsers, ``--json`` output, and the translation of
library messages (which name API parameters) into the flags of the command that was run.

One parent parser per shared flag, so a flag is spelled, defaulted and explained once:

* ``--debug`` (:func:`common_parser`, passed down by ``main``) and ``--quiet``
  (:func:`quiet_parser`) on every subcommand;
* ``--json [FILE]`` on every subcommand: its result as JSON, to FILE or, with ``-`` or no FILE,
  to standard output (:func:`json_parser`);
* ``--device`` (default ``auto``) on every subcommand that runs a network: ``upscale``, ``demo``,
  ``bench``, ``train`` (:func:`device_parser`). The others (``degrade``, ``eval``, ``compare``,
  ``models``, ``data``) compute nothing on an accelerator, so they do not take it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freqvsr.errors import OutputError


def common_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors (default: one line)")
    return p


def quiet_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--quiet",
        action="store_true",
        help="print no progress and no summary; errors and warnings still show (default: off)",
    )
    return p


def json_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="FILE",
        help="also write the result as JSON to FILE; '-' or no FILE: standard output (default: none)",
    )
    return p


def device_parser(default: str | None = "auto", help_default: str = "auto") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--device",
        default=default,
        metavar="DEVICE",
        help=f"auto | cpu | cuda | cuda:N; auto = the first CUDA GPU when there is one, else the CPU "
        f"(default: {help_default})",
    )
    return p


def jsonable(obj: Any) -> Any:
    """``obj`` with what JSON cannot hold made plain: paths as strings, +inf PSNR (identical frames)
    as the string ``"inf"``, NaN as null, tuples as lists."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else None)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def check_json_target(target: str | None) -> None:
    """Refuse, before any work, a --json FILE whose folder does not exist."""
    if target is not None and target != "-" and not Path(target).parent.is_dir():
        raise OutputError(f"{target}: folder {Path(target).parent} does not exist")


def write_json(target: str | None, data: Any) -> None:
    """``data`` as JSON to the --json target: a file, or standard output for ``-``."""
    if target is None:
        return
    text = json.dumps(jsonable(data), indent=2, ensure_ascii=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from exc


def finish(args: argparse.Namespace, result: Any, summary: Callable[[], str]) -> int:
    """A subcommand's ending: its summary line on stderr (unless --quiet), its result as --json asks."""
    if not args.quiet:
        print(summary(), file=sys.stderr)
    write_json(args.json, result)
    return 0


class DeprecatedAlias(argparse.Action):
    """An old spelling of a flag: hidden from --help, still works, warns once with the new one."""

    def __init__(self, option_strings, dest, new: str, **kwargs) -> None:
        self.new = new
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        warnings.warn(
            f"{option_string} is deprecated here and will be removed; use {self.new}", FutureWarning, stacklevel=2
        )
        setattr(namespace, self.dest, values)


# ----------------------------------------------------------------------------- messages -> flags

# A parameter as library messages name it: ``chunk=32``, ``device='cuda:3'``, ``overwrite=True``,
# or ``crf=`` (the parameter alone).
_PARAMETER = re.compile(r"(?<![\w.=-])([a-z][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s,;:)]*)")


def flag_map(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """API parameter name -> the visible option that sets it, for one (sub)command's parser.

    ``parser._actions`` is argparse's list of a parser's arguments; it has no public spelling.
    """
    out: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if action.option_strings and action.help is not argparse.SUPPRESS and action.dest not in out:
            out[action.dest] = action
    return out


def to_flags(message: str, flags: dict[str, argparse.Action]) -> str:
    """``message`` with every parameter the command has a flag for written as that flag:
    ``chunk=0: must be at least 1`` -> ``--chunk 0: must be at least 1``, ``pass overwrite=True``
    -> ``pass --overwrite``. Parameters the command has no flag for are left as they are."""

    def flag(m: re.Match[str]) -> str:
        action = flags.get(m.group(1))
        if action is None:
            return m.group(0)
        option = max(action.option_strings, key=len)  # --tile-overlap rather than a short form
        value = m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if action.nargs == 0:  # store_true flags: "resume=True" is just "--resume"
            return option if value in ("True", "") else m.group(0)
        return f"{option} {value}" if value else option

    return _PARAMETER.sub(flag, message)
