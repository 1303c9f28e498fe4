"""Benchmarks that print figures next to baselines measured in the same run (never timed tests)."""
