"""`freqvsr` command line: parse flags, call one API function, print.

Exit status: 0 success, 2 bad usage, 1 failure. Errors are one line
(``freqvsr: error: <file>: <problem>``); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from freqvsr import __version__
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
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
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
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one ``freqvsr: warning: ...`` line: a user needs the message, not our source path."""
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"freqvsr: warning: {text}", file=file or sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    with warnings.catch_warnings():
        if not args.debug:  # --debug keeps Python's format, with the source line
            warnings.showwarning = _show_warning
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except FreqVSRError as exc:
        if args.debug:
            raise
        print(f"freqvsr: error: {exc}", file=sys.stderr)
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
