"""The lightning runtime with the model under torch.compile: PyTorch's static graph, one per depth."""
from __future__ import annotations

from src.runtimes import lightning


def fit(problem, cfg, recorder, threads: int) -> None:
    lightning.fit(problem, cfg, recorder, threads, compile_net=True)
