"""The ``lakewatch`` command: one module per command group, each with its handlers and its
part of the parser (``register``).

Sub-commands import their modules lazily so ``lakewatch --help`` stays fast.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from lakewatch.cli import (
    aws,
    backtest,
    demo,
    findings,
    lake,
    loadtest,
    local,
    model,
    operate,
    scorer,
    sizing,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakewatch",
        description="Find anomalous network behaviour in Amazon Security Lake with IP Insights.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (
        lake,
        local,
        model,
        scorer,
        operate,
        demo,
        findings,
        backtest,
        loadtest,
        aws,
        sizing,
    ):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.func is not model.cmd_train:  # only train takes SageMaker's --name value
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, RuntimeError, TimeoutError, FileNotFoundError, OSError) as err:
        print(f"lakewatch: error: {err}", file=sys.stderr)
        return 2


def run(argv: Sequence[str] | None = None) -> None:
    """The console script: ``main``, and an exit that skips the interpreter's last garbage
    collections over everything the command made (``gc.freeze``): 0.5 s of a training run's
    end, with torch loaded. Not for callers in a process that goes on (tests): ``main``."""
    code = main(argv)
    sys.stdout.flush()
    gc.freeze()
    raise SystemExit(code)
