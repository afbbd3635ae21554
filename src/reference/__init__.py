"""Each framework's plain loop, the seeds' way: the benchmark's baseline (src/registry.py FRAMEWORKS)."""
