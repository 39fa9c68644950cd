"""The benchmark suite behind perf/run."""
