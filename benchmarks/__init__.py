"""Benchmarks of sb3-sarsa: run as ``python -m benchmarks.<name>`` from the repository root."""
