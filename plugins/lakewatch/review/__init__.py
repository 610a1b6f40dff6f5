"""Analyst review: the scorer's findings read back, and labels and suppressions kept as data."""
