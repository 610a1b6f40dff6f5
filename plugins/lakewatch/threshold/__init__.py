"""Anomaly thresholds: choose, check, publish and explain the score below which a pair is an
anomaly, for a target false-positive rate on normal traffic."""
