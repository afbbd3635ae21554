"""The PyTorch Lightning driver shared by the torch runtimes: a LightningModule that trains a model's
torch Net one Problem step per batch, and the Trainer around it.

The 'batch' Lightning hands over is the step's inputs (DynamicNet's depth): the data stays on the device
as buffers, and the loop feeds nothing else.  Manual optimization, so one plain SGD step per batch is
timed as a whole; on one device without Lightning's optimizer wrapper (see on_train_start)."""
from __future__ import annotations

import time
from typing import Callable

import torch

from src.frameworks import Start
from src.frameworks import torch as torchw
from src.interrupt import Interrupted

pl = torchw.import_lightning()


def begin(problem, cfg, recorder, threads: int) -> Start:
    """What every lightning runtime does first: torch's start (threads, device, recorder.start, the model's
    torch.py); the Trainer moves the module to the device itself."""
    return torchw.begin(problem, cfg, recorder, threads)


class StepModule(pl.LightningModule):
    def __init__(self, problem, recorder, model, checkpoint_every: int, on_step: Callable | None = None):
        """`model`: the model's torch.py (Start.model), whose Net the module trains."""
        super().__init__()
        self.automatic_optimization = False
        self.net = model.Net(problem)
        self.problem, self.recorder, self.checkpoint_every = problem, recorder, checkpoint_every
        # Called with (loss, inputs) after the forward pass (to count or capture its graph); returns the
        # seconds it spent, which are not the step's compute.
        self.on_step = on_step
        self.loss_of = self.net.loss  # what a step calls; a runtime may replace it (torch.compile)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.net.parameters(), lr=self.problem.lr, momentum=self.problem.momentum)

    def on_train_start(self) -> None:
        opt = self.optimizers(use_pl_optimizer=False)
        # One process, one device: the step drives the optimizer and autograd directly (loss.backward(),
        # opt.step()), the cheapest correct way through a Lightning Trainer.  Lightning's wrappers
        # (LightningOptimizer, manual_backward) add nothing to that here but time (a tenth of a millisecond,
        # docs/measurements.md#lightning-wrappers); under DDP they do (the strategy's backward and step), so
        # they stay.
        # The loop still ends after the run's steps: the dataloader holds exactly them, max_epochs=1.
        self.single = self.trainer.world_size == 1
        self.opt = opt if self.single else self.optimizers()
        for name, p in self.net.named_parameters():
            # Zero gradients from the start (see training_step): else a resumed run whose first step
            # skips the middle layer would leave its restored momentum unapplied.
            p.grad = torch.zeros_like(p)
            if name in self.problem.momentum_state:  # a resumed run's momentum
                opt.state[p]["momentum_buffer"] = torch.from_numpy(self.problem.momentum_state[name]).to(p)
        if self.global_rank == 0:
            self.recorder.loop_start(first_step=self.problem.start_step)

    def training_step(self, inputs: dict, batch_idx: int) -> None:
        opt = self.opt
        t0 = time.perf_counter()
        loss = self.loss_of(inputs)
        if self.on_step is not None:
            t0 += self.on_step(loss, inputs)  # seconds it spent, not part of the compute
        # Zeros, not None: a layer skipped this step (DynamicNet at depth 0) gets a zero gradient and its
        # momentum keeps moving it, as in the seed's torch (and in TensorFlow); None would skip it.
        opt.zero_grad(set_to_none=False)
        if self.single:
            loss.backward()
        else:
            self.manual_backward(loss)
        opt.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # kernels are async: wait before reading the clock
        compute_ms = (time.perf_counter() - t0) * 1e3
        if self.global_rank == 0:
            self.recorder.step(loss.item(), compute_ms)
            if self.checkpoint_every and self.recorder.step_no % self.checkpoint_every == 0:
                self.save_checkpoint()

    def save_checkpoint(self) -> None:
        if self.global_rank != 0:
            return
        opt = self.optimizers(use_pl_optimizer=False)
        weights, momentum = {}, {}
        for name, p in self.net.named_parameters():
            weights[name] = p.detach().cpu().numpy()
            buf = opt.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                momentum[name] = buf.detach().cpu().numpy()
        self.recorder.checkpoint(weights, momentum)


def _strategy(cfg):
    if cfg.trainer.strategy == "ddp":
        # A step may leave a layer unused (DynamicNet at depth 0); DDP must be told to expect that.
        from pytorch_lightning.strategies import DDPStrategy

        return DDPStrategy(find_unused_parameters=True)
    return cfg.trainer.strategy


def fit(module: StepModule, cfg, accelerator: str) -> None:
    """Trains `module` for the problem's remaining steps under a Lightning Trainer."""
    problem, recorder = module.problem, module.recorder
    steps = problem.inputs(problem.start_step, cfg.trainer.max_steps)
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=cfg.trainer.devices,
        strategy=_strategy(cfg),
        precision="64-true" if problem.precision == 64 else "32-true",
        max_steps=len(steps),  # this session's steps: a resumed run starts at its checkpoint
        max_epochs=1,
        logger=False,  # the recorder writes TensorBoard for every runtime alike
        enable_checkpointing=False,  # the recorder's checkpoints are framework-neutral
        enable_progress_bar=False,  # the recorder's bar, the same in every runtime
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=recorder.run_dir,
    )
    try:
        trainer.fit(module, train_dataloaders=steps)
    except (Interrupted, SystemExit):
        # Ours, raised between steps; or Lightning's SIGTERMException, raised between batches.
        if recorder.stop_signal is None:
            raise
        module.save_checkpoint()
        raise Interrupted(recorder.stop_signal, recorder.step_no) from None
    module.save_checkpoint()
