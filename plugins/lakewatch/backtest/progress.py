"""What a backtest prints while it runs: a line per stage, and a bar for the long ones."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR = 24


class Stage:
    """``[2/5] extracting ...`` then, for a stage of many steps, a bar at most every
    ``every_s`` seconds once it has run longer than that (lines, not carriage returns, so a
    log or a CI page shows it as well as a terminal)."""

    def __init__(
        self, number: int, total: int, text: str, out: TextIO | None = None, every_s: float = 3.0
    ):
        self.out = out or sys.stdout
        self.every_s = every_s
        self.started = time.perf_counter()
        self._shown = self.started
        print(f"[{number}/{total}] {text}", file=self.out, flush=True)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def step(self, done: int, of: int, unit: str, note: str = "") -> None:
        now = time.perf_counter()
        if now - self._shown < self.every_s and done < of:
            return
        if now - self.started < self.every_s:
            return
        self._shown = now
        filled = round(BAR * done / of) if of else BAR
        bar = "#" * filled + "-" * (BAR - filled)
        tail = f"; {note}" if note else ""
        print(
            f"      [{bar}] {done:,}/{of:,} {unit} ({self.elapsed:.0f}s{tail})",
            file=self.out,
            flush=True,
        )

    def say(self, text: str) -> None:
        print(f"      {text}", file=self.out, flush=True)
