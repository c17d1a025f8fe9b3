"""Benchmarks and the ProMark experiment, beside the product: run as ``python -m benchmarks.<name>``."""
