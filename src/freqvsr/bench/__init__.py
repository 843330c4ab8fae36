"""Measuring models: parameters, FLOPs per output frame, speed and memory (:mod:`.speed`,
:mod:`.table`), quality on the public evaluation set (:mod:`.quality`), and the file-level scoring
of predicted videos against ground truth behind `freqvsr eval` (:mod:`.evaluate`)."""

from freqvsr.bench.speed import bench_model, count_flops
from freqvsr.bench.table import markdown, run_isolated

__all__ = ["bench_model", "count_flops", "markdown", "run_isolated"]  # quality, evaluate: import their modules
