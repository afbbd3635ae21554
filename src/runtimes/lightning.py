"""PyTorch eager under a PyTorch Lightning Trainer: the dynamic graph, rebuilt every forward pass."""
from __future__ import annotations

import logging
import time
import warnings

# Lightning 2.6 on torch 2.13 warns about torch's own pytree API at import: nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from src.errors import ConfigError  # noqa: E402
from src.models.torch_graph import GraphDef, add_step_graph  # noqa: E402
from src.models.torch_nets import build_net  # noqa: E402


class SeedModule(pl.LightningModule):
    """Trains one of the seed nets on the fixed batch; the 'batch' Lightning hands over is the step's
    DynamicNet depth, so the data stays on the device and the loop feeds nothing per step."""

    def __init__(self, problem, recorder):
        super().__init__()
        self.automatic_optimization = False  # one plain SGD step per batch, timed as a whole
        self.net = build_net(problem)
        self.register_buffer("x", torch.from_numpy(problem.x))
        self.register_buffer("y", torch.from_numpy(problem.y))
        self.loss_fn = nn.MSELoss(reduction="sum")
        self.lr, self.momentum = problem.lr, problem.momentum
        self.dynamic = problem.model == "dynamic"
        self.recorder = recorder
        # The graph of the first step at each depth, for TensorBoard's Graphs tab.
        self.graph = GraphDef()
        self._graphed: set[int] = set()
        self._param_names = {id(p): n for n, p in self.net.named_parameters()}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=self.momentum)

    def on_train_start(self) -> None:
        if self.global_rank == 0:
            self.recorder.loop_start(first_step=self.trainer.global_step)

    def training_step(self, depth: int, batch_idx: int) -> None:
        opt = self.optimizers()
        t0 = time.perf_counter()
        loss = self.loss_fn(self.net(self.x, depth), self.y)
        if depth not in self._graphed:  # a few steps only: at most one per depth
            self._graphed.add(depth)
            t_graph = time.perf_counter()
            add_step_graph(self.graph, loss, f"step_depth_{depth}" if self.dynamic else "step", self._param_names)
            t0 += time.perf_counter() - t_graph  # not part of the compute
        # Zeros, not None: a middle layer skipped this step (depth 0) gets a zero gradient and its
        # momentum keeps moving it, as in the seed's torch (and in TensorFlow); None would skip it.
        opt.zero_grad(set_to_none=False)
        self.manual_backward(loss)
        opt.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # kernels are async: wait before reading the clock
        compute_ms = (time.perf_counter() - t0) * 1e3
        if self.global_rank == 0:
            self.recorder.step(loss.item(), compute_ms, depth if self.dynamic else None)


def _accelerator(requested: str) -> str:
    has_gpu = torch.cuda.is_available()
    if requested == "gpu" and not has_gpu:
        raise ConfigError("trainer.accelerator=gpu, but PyTorch sees no CUDA GPU here "
                          "(torch.cuda.is_available() is False): use trainer.accelerator=cpu or auto.")
    if requested == "auto":
        return "gpu" if has_gpu else "cpu"
    return requested


def fit(problem, cfg, recorder, threads: int) -> None:
    accelerator = _accelerator(cfg.trainer.accelerator)
    torch.set_num_threads(threads)
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no "GPU available: ..." banner per run
    recorder.set_accelerator(accelerator)
    module = SeedModule(problem, recorder)
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=cfg.trainer.devices,
        strategy=cfg.trainer.strategy,
        max_steps=cfg.trainer.max_steps,
        max_epochs=1,
        logger=False,  # the recorder writes TensorBoard for every runtime alike
        enable_checkpointing=False,
        enable_progress_bar=False,  # the recorder's bar, the same in every runtime
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=recorder.run_dir,
    )
    depths = problem.depths(0, cfg.trainer.max_steps).tolist()
    try:
        trainer.fit(module, train_dataloaders=depths)
    finally:
        if trainer.global_rank == 0 and len(module.graph.node):
            recorder.write_graph(module.graph.SerializeToString())
