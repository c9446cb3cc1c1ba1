"""Benchmarks: ``python -m benchmarks [--quick] [--only NAME ...]``; see benchmarks/README.md."""
