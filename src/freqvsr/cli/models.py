"""`freqvsr models`: the zoo table."""

from __future__ import annotations

import argparse
import re

from freqvsr.cli._common import json_parser, quiet_parser, write_json


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "models",
        parents=[common, quiet_parser(), json_parser()],
        help="list registered models: params, weights, measured quality",
        description="The model zoo: every registered name with its parameters, temporal kind, shipped "
        "weights, training data and measured quality. --json gives the same rows as JSON.",
    )
    p.set_defaults(func=run)


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k" if n else "0"


_ABSOLUTE_PATH = re.compile(r"(?<!\S)/\S+")


def _public(text: str) -> str:
    """Training data as recorded names a folder on the machine that trained the model (e.g.
    ``/tmp/corpus-full``); a user's table shows only the folder's name."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def run(args: argparse.Namespace) -> int:
    from freqvsr.inference import DEFAULT_MODEL
    from freqvsr.models._zoo import zoo_rows

    rows = zoo_rows()
    for r in rows:
        r["trained_on"] = _public(r["trained_on"] or "")
    write_json(args.json, rows)
    if args.quiet or args.json == "-":  # the JSON on standard output is the table
        return 0
    headers = ["name", "params", "temporal", "weights", "trained on", "quality"]
    table = [
        [
            r["name"] + (" (default)" if r["name"] == DEFAULT_MODEL else ""),
            _fmt_params(r["params"]),
            r["temporal"],
            r["weights"],
            r["trained_on"] or "-",
            r["quality"] or "-",
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0
