"""Benchmarks: `make bench name=<name>` runs `python -m benchmarks.<name>`, writing docs/results/<name>.md."""
