"""Benchmarks: `make bench` (or `python -m bench [name ...]`) runs every `bench/bench_*.py`.

Each benchmark measures its figures beside their floors — the same work done the cheapest
possible way on the same machine, in the same run — so the ratio means something on a noisy
machine. See `bench/README.md`.
"""
