"""trainer.steps_per_call=K: K training steps in one graph call (tf_session, tf_function, tf_xla, jax_jit).

Each step's loss is still logged with its own step number, once; at float64 the loss curve is K=1's to
1e-12 (the same steps, in the same order, in an in-graph loop); a run's last call may be shorter (max_steps
not a multiple of K); checkpoints fall at call boundaries and a resumed run continues the same curve;
signals are acted on after a call's last step.  Runtimes that cannot are refused before any framework.
"""
from __future__ import annotations

import numpy as np
import pytest

from src.config import compose_config, validate
from src.errors import ConfigError
from src.event_file import read_scalars
from src.registry import RUNTIMES
from tests.helpers import train

pytestmark = pytest.mark.contract

ABLE = [n for n, r in RUNTIMES.items() if r.steps_per_call]
K, STEPS = 50, 70  # calls of 50 and 20 steps


def _curve(run_dir) -> list[tuple[int, float]]:
    return sorted(read_scalars(run_dir)["train/loss_float64"])


@pytest.mark.parametrize("runtime", ABLE)
def test_k_steps_per_call_follow_the_one_step_curve_at_float64(tmp_path, runtime):
    common = [f"runtime={runtime}", "model=dynamic", "trainer.precision=64", f"trainer.max_steps={STEPS}",
              "trainer.checkpoint_every_n_steps=30"]
    one = train(tmp_path / "k1", *common)
    many = train(tmp_path / "k50", *common, f"trainer.steps_per_call={K}")
    a, b = _curve(tmp_path / "k1"), _curve(tmp_path / "k50")
    assert [s for s, _ in b] == list(range(1, STEPS + 1))  # every step once, by its own number
    rel = max(abs(x - y) / abs(x) for (_, x), (_, y) in zip(a, b))
    assert rel <= 1e-12, rel
    assert many["steps"] == STEPS and many["steps_per_call"] == K and many["checkpoint_step"] == STEPS
    assert one["compiles"] == many["compiles"]  # one graph (and compile) for every call, the short last one too
    times = [v for _, v in sorted(read_scalars(tmp_path / "k50")["time/step_ms"])]
    for a0, a1 in ((0, 50), (50, 70)):  # a step's time: its call's over its steps
        assert len(set(times[a0:a1])) == 1


@pytest.mark.parametrize("runtime", ["jax_jit", "tf_session"])
def test_a_resumed_run_continues_the_same_curve(tmp_path, runtime):
    common = [f"runtime={runtime}", "model=rnn", "trainer.precision=64", f"trainer.steps_per_call={K}"]
    train(tmp_path / "whole", *common, f"trainer.max_steps={STEPS}")
    part = train(tmp_path / "part", *common, "trainer.max_steps=60")  # calls of 50 and 10
    assert part["checkpoint_step"] == 60
    resumed = train(tmp_path / "part", *common, f"trainer.max_steps={STEPS}", f"resume={tmp_path / 'part'}")
    assert resumed["steps"] == STEPS
    whole, again = _curve(tmp_path / "whole"), _curve(tmp_path / "part")
    assert [s for s, _ in again] == list(range(1, STEPS + 1))
    assert np.allclose([v for _, v in again], [v for _, v in whole], rtol=1e-12, atol=0)


def test_a_signal_is_acted_on_at_the_calls_boundary(tmp_path):
    from src.interrupt import GracefulStop, Interrupted
    from src.problem import make_problem
    from src.recorder import Recorder

    cfg = compose_config("trainer.progress_bar=false", "trainer.max_steps=10")
    stop = GracefulStop()
    rec = Recorder(str(tmp_path), cfg, "jax", "static", 1, stop=stop, problem=make_problem(cfg))
    rec.start("cpu")
    rec.loop_start(0)
    rec.steps([5.0, 4.0, 3.0], 3.0)
    stop.signum = 2  # arrived during the second call
    with pytest.raises(Interrupted):
        rec.steps([2.0, 1.0, 0.5], 3.0)
    assert rec.step_no == 6 and rec.losses == [5.0, 4.0, 3.0, 2.0, 1.0, 0.5]  # the whole call recorded


@pytest.mark.parametrize("runtime", [n for n in RUNTIMES if n not in ABLE])
def test_runtimes_that_cannot_are_refused(runtime):
    cfg = compose_config(f"runtime={runtime}", "trainer.steps_per_call=10")
    with pytest.raises(ConfigError, match="steps_per_call=10 is not supported by runtime=" + runtime):
        validate(cfg)
