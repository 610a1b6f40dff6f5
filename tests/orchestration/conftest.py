"""The review desk's test reads the review tests' day of findings on the emulator."""

from tests.review.conftest import reviewed

__all__ = ["reviewed"]
