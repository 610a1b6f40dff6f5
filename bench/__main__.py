"""Run lakewatch's benchmarks and print their figures: ``python -m bench [NAME ...] [--quick]``."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time

BENCHMARKS = [
    "quality",
    "signin_model",
    "generator",
    "model",
    "history",
    "extract",
    "scorer",
    "rcf",
    "backtest",
    "loadtest",
    "sizing",
]


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], default=[])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    names = args.names or BENCHMARKS
    print(
        f"lakewatch benchmarks on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}{' (quick)' if args.quick else ''}"
    )
    for name in names:
        started = time.perf_counter()
        lines = importlib.import_module(f"bench.{name}").run(quick=args.quick)
        print("\n".join(lines))
        print(f"  ({name}: {time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
