"""What the ``lakewatch`` command's groups share: argument types and the operate context."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from err


def positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return n


def fraction(text: str, most: float = 1.0) -> float:
    """A command-line share: a number from 0 to ``most``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= most:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and {most:g}")
    return value


def context() -> tuple[Any, Any]:
    """Settings and AWS clients for the configured backend."""
    from lakewatch.backends import clients_for
    from lakewatch.settings import load_settings

    settings = load_settings()
    return settings, clients_for(settings)
