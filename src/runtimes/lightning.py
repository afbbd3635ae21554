"""PyTorch eager under a PyTorch Lightning Trainer: the dynamic graph, rebuilt every forward pass."""
from __future__ import annotations

import logging
import time
import warnings

# Lightning 2.6 on torch 2.13 warns about torch's own pytree API at import: nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
# Where Slurm is installed (a login node), Lightning warns at every run outside a Slurm job that srun was not
# used: a run here is meant to be local (cluster jobs go through submitit, which uses srun). issue 16
warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system but is not used")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from src.errors import ConfigError  # noqa: E402
from src.interrupt import Interrupted  # noqa: E402
from src.models.torch_graph import GraphDef, add_step_graph  # noqa: E402
from src.models.torch_nets import build_net  # noqa: E402


def _problem_name(torch_name: str) -> str:
    return torch_name.replace("_linear", "")  # DynamicNet's input_linear.weight -> input.weight


class SeedModule(pl.LightningModule):
    """Trains one of the seed nets on the fixed batch; the 'batch' Lightning hands over is the step's
    DynamicNet depth, so the data stays on the device and the loop feeds nothing per step."""

    def __init__(self, problem, recorder, checkpoint_every: int, compile_depths: list[int] | None = None):
        super().__init__()
        self.automatic_optimization = False  # one plain SGD step per batch, timed as a whole
        self.net = build_net(problem)
        self.register_buffer("x", torch.from_numpy(problem.x))
        self.register_buffer("y", torch.from_numpy(problem.y))
        self.loss_fn = nn.MSELoss(reduction="sum")
        self.lr, self.momentum = problem.lr, problem.momentum
        self.momentum_state = problem.momentum_state
        self.start_step = problem.start_step
        self.dynamic = problem.model == "dynamic"
        self.recorder = recorder
        self.checkpoint_every = checkpoint_every
        # The graph of the first step at each depth, for TensorBoard's Graphs tab.
        self.graph = GraphDef()
        self._graphed: set[int] = set()
        self._param_names = {id(p): n for n, p in self.net.named_parameters()}
        self.compile_depths = compile_depths  # None: eager; else torch.compile, warmed up at these depths
        object.__setattr__(self, "forward_net", self.net)  # not a submodule: the same parameters

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=self.momentum)

    def on_train_start(self) -> None:
        opt = self.optimizers(use_pl_optimizer=False)
        for name, p in self.net.named_parameters():
            # Zero gradients from the start (see training_step): else a resumed run whose first step
            # skips the middle layer would leave its restored momentum unapplied.
            p.grad = torch.zeros_like(p)
            if _problem_name(name) in self.momentum_state:  # a resumed run's momentum
                opt.state[p]["momentum_buffer"] = torch.from_numpy(self.momentum_state[_problem_name(name)]).to(p)
        if self.compile_depths is not None:
            self._compile()
        if self.global_rank == 0:
            self.recorder.loop_start(first_step=self.start_step)

    def _compile(self) -> None:
        """torch.compile, one static graph per depth (dynamic=False specialises on it), all compiled
        here, before the loop: compile time counts as setup, not as the first steps' time."""
        compiled = torch.compile(self.net, dynamic=False)
        for depth in sorted(set(self.compile_depths)):
            self.loss_fn(compiled(self.x, depth), self.y).backward()  # compiles forward and backward
        for p in self.net.parameters():
            p.grad.zero_()  # the warm-up's gradients are not a training step's
        object.__setattr__(self, "forward_net", compiled)

    def training_step(self, depth: int, batch_idx: int) -> None:
        opt = self.optimizers()
        t0 = time.perf_counter()
        loss = self.loss_fn(self.forward_net(self.x, depth), self.y)
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
            if self.checkpoint_every and self.recorder.step_no % self.checkpoint_every == 0:
                self.save_checkpoint()

    def save_checkpoint(self) -> None:
        if self.global_rank != 0:
            return
        opt = self.optimizers(use_pl_optimizer=False)
        weights, momentum = {}, {}
        for name, p in self.net.named_parameters():
            weights[_problem_name(name)] = p.detach().cpu().numpy()
            buf = opt.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                momentum[_problem_name(name)] = buf.detach().cpu().numpy()
        self.recorder.checkpoint(weights, momentum)


def _accelerator(requested: str) -> str:
    has_gpu = torch.cuda.is_available()
    if requested == "gpu" and not has_gpu:
        raise ConfigError("trainer.accelerator=gpu, but PyTorch sees no CUDA GPU here "
                          "(torch.cuda.is_available() is False): use trainer.accelerator=cpu or auto.")
    if requested == "auto":
        return "gpu" if has_gpu else "cpu"
    return requested


def _strategy(cfg, dynamic: bool):
    if dynamic and cfg.trainer.strategy == "ddp":
        # A depth-0 step leaves the middle layer unused; DDP must be told to expect that.
        from pytorch_lightning.strategies import DDPStrategy

        return DDPStrategy(find_unused_parameters=True)
    return cfg.trainer.strategy


def fit(problem, cfg, recorder, threads: int, compile_net: bool = False) -> None:
    accelerator = _accelerator(cfg.trainer.accelerator)
    torch.set_num_threads(threads)
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no "GPU available: ..." banner per run
    recorder.set_accelerator(accelerator)
    depths = problem.depths(problem.start_step, cfg.trainer.max_steps).tolist()
    module = SeedModule(problem, recorder, cfg.trainer.checkpoint_every_n_steps,
                        compile_depths=depths if compile_net else None)
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=cfg.trainer.devices,
        strategy=_strategy(cfg, module.dynamic),
        max_steps=len(depths),  # this session's steps: a resumed run starts at its checkpoint
        max_epochs=1,
        logger=False,  # the recorder writes TensorBoard for every runtime alike
        enable_checkpointing=False,  # the recorder's checkpoints are framework-neutral
        enable_progress_bar=False,  # the recorder's bar, the same in every runtime
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=recorder.run_dir,
    )
    try:
        trainer.fit(module, train_dataloaders=depths)
    except (Interrupted, SystemExit):
        # Ours, raised between steps; or Lightning's SIGTERMException, raised between batches.
        if recorder.stop_signal is None:
            raise
        module.save_checkpoint()
        raise Interrupted(recorder.stop_signal, recorder.step_no) from None
    finally:
        if trainer.global_rank == 0 and len(module.graph.node):
            recorder.write_graph(module.graph.SerializeToString())
    module.save_checkpoint()
