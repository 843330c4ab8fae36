"""`freqvsr` command line: parse flags, call one API function, print.

Exit status: 0 success, 2 bad usage, 1 failure. Errors are one line
(``freqvsr: error: <file>: <problem>``); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except FreqVSRError as exc:
        if args.debug:
            raise
        print(f"freqvsr: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("freqvsr: interrupted (finished segments are kept; rerun with --resume to continue)", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure is still one line unless --debug
        if args.debug:
            raise
        print(f"freqvsr: error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
