"""lakewatch benchmarks: ``make bench`` (``python -m bench``) prints figures, never asserts."""
