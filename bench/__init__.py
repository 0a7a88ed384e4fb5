"""Benchmarks (`make bench`): every figure measured side by side in one run."""
