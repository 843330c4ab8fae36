"""Benchmarks: parameters, FLOPs per output frame, speed and memory of registered models."""

from freqvsr.bench.speed import bench_model, count_flops
from freqvsr.bench.table import markdown, run_isolated

__all__ = ["bench_model", "count_flops", "markdown", "run_isolated"]  # quality: freqvsr.bench.quality
