"""Files only their owner may read: the local servers' passwords, configs and keys.

Opened with mode 0600, so the text is never readable by others, not even between the create
and a chmod; an older file is set to 0600 too (``O_TRUNC`` keeps the mode it had)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_owner_only(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def secret(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in ``path``, made by ``make`` and written owner-only the first time."""
    if not path.exists():
        write_owner_only(path, make())
    return path.read_text().strip()
