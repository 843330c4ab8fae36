"""`freqvsr` command line: parse flags, call one API function, print.

Exit status: 0 success, 2 bad usage, 1 failure. Errors are one line
(``freqvsr: error: <file>: <problem>``); ``--debug`` shows the traceback. The library names its
parameters in messages (``chunk=0``); here they become the command's flags (``--chunk 0``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from freqvsr._version import __version__
from freqvsr.cli._common import common_parser, flag_map, to_flags
from freqvsr.errors import FreqVSRError


class _Parser(argparse.ArgumentParser):
    # argparse exits with 2 on bad usage already; keep its message to one line plus usage.
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from freqvsr.cli import bench, compare, data, degrade, demo, models, train, upscale
    from freqvsr.cli import eval as eval_cmd  # not `eval`: keep the builtin visible

    parser = _Parser(prog="freqvsr", description="Super-resolution of low-quality video (×4), CPU or GPU.")
    parser.add_argument("--version", action="version", version=f"freqvsr {__version__}")
    common = common_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    upscale.add_parser(sub, common)
    degrade.add_parser(sub, common)
    models.add_parser(sub, common)
    demo.add_parser(sub, common)
    eval_cmd.add_parser(sub, common)
    bench.add_parser(sub, common)
    compare.add_parser(sub, common)
    data.add_parser(sub, common)
    train.add_parser(sub, common)
    for command in _subcommands(parser):
        command.set_defaults(_flags=flag_map(command))
    return parser


def _subcommands(parser: argparse.ArgumentParser):
    """Every (nested) subcommand parser, outermost first, so an inner command's flags win."""
    for action in parser._actions:  # argparse keeps a parser's arguments here (no public spelling)
        if isinstance(action.choices, dict):
            for child in dict.fromkeys(action.choices.values()):
                yield child
                yield from _subcommands(child)


def _one_line_warnings(flags: dict) -> object:
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        """Warnings as one ``freqvsr: warning: ...`` line: a user needs the message (in the
        command's flags), not our source path."""
        text = " ".join(to_flags(str(message), flags).split())  # one line, whatever the message held
        print(f"freqvsr: warning: {text}", file=file or sys.stderr, flush=True)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    with warnings.catch_warnings():
        python_format = warnings.showwarning
        # One-line warnings from the start: a deprecated flag warns while it is parsed.
        warnings.showwarning = _one_line_warnings({})
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return 2
        flags = getattr(args, "_flags", {})
        # --debug keeps Python's format, with the source line
        warnings.showwarning = python_format if args.debug else _one_line_warnings(flags)
        return _run(args, flags)


def _run(args: argparse.Namespace, flags: dict) -> int:
    try:
        return int(args.func(args) or 0)
    except FreqVSRError as exc:
        if args.debug:
            raise
        print(f"freqvsr: error: {to_flags(str(exc), flags)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C (130) or SIGTERM (143), after the job cleaned up
        if getattr(exc, "resumable", False):
            print("freqvsr: interrupted (finished segments are kept; rerun with --resume to continue)", file=sys.stderr)
        else:
            print("freqvsr: interrupted", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))
    except Exception as exc:  # an unexpected failure is still one line unless --debug
        if args.debug:
            raise
        print(f"freqvsr: error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
