"""The XLA runtimes beyond the contract (tests/test_runtimes.py) and parity (tests/test_parity.py): one compile
serves every depth, in JAX and in TensorFlow's XLA, counted by each one's own compile events; jax_jit
donates its buffers without touching the Problem; the plain JAX loop computes jax_jit's curve; trainer.
num_threads sizes XLA's CPU pool."""
import importlib
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, compose_cfg, env_without_full_error, scalars, train
from src.problem import make_problem

pytestmark = pytest.mark.contract

STEPS = 40  # DynamicNet's first 40 depths hold every depth 0..3 (asserted below)


def _depths(steps: int) -> list[int]:
    depths = make_problem(compose_cfg("model=dynamic")).input_columns(0, steps)["depth"].tolist()
    assert set(depths) == {0, 1, 2, 3}
    return depths


def test_jax_jit_compiles_once_for_every_depth(tmp_path):
    import jax

    _depths(STEPS)
    events = []

    def on_duration(event, secs, fun_name=None, **_):
        if event.startswith("/jax/core/compile/") and fun_name in ("train_step", "jit(train_step)"):
            events.append((event.rsplit("/", 1)[1], secs))

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    try:
        result = train(tmp_path, "model=dynamic", "runtime=jax_jit", f"trainer.max_steps={STEPS}")
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
    assert result["status"] == "completed" and result["steps"] == STEPS
    kinds = [kind for kind, _ in events]
    # Traced once, lowered once, compiled by XLA once: all 40 steps, all four depths, run that one executable.
    assert sorted(kinds) == ["backend_compile_duration", "jaxpr_to_mlir_module_duration", "jaxpr_trace_duration"]
    assert all(secs > 0 for _, secs in events)


def test_jax_jit_donates_its_buffers_and_never_the_problems():
    from src.frameworks import jax as jaxw
    from src.runtimes.jax_jit import compile_step

    problem = make_problem(compose_cfg("model=dynamic"))
    before = {k: v.copy() for k, v in problem.weights.items()}
    dev = jaxw.device("cpu")
    with jaxw.precision(problem):
        params, buffers = jaxw.arrays(problem.weights, dev), jaxw.momentum_buffers(problem, dev)
        data = jaxw.arrays(problem.data, dev)
        step = compile_step(problem, importlib.import_module("src.models.dynamic.jax"), params, buffers, data)
        assert "input_output_alias" in step.as_text()  # XLA writes the new weights into the donated ones
        new, new_buffers, loss = step(params, buffers, data, {"depth": np.int32(2)})
        assert all(a.is_deleted() for a in [*params.values(), *buffers.values()])  # donated: gone
        step(new, new_buffers, data, {"depth": np.int32(0)})
    assert all(np.array_equal(before[k], v) for k, v in problem.weights.items())  # the Problem's own arrays


def test_the_plain_jax_loop_computes_jax_jits_curve():
    """The model's two ways through the depth (a Python loop op by op; fori_loop + cond compiled) agree."""
    from src.parity import curve
    from src.reference import jax_loop

    plain = []
    jax_loop.run(make_problem(compose_cfg("model=dynamic", "trainer.precision=64")), STEPS, 1, plain.append)
    np.testing.assert_allclose(plain, curve("dynamic", "jax_jit", 0, 64, STEPS), rtol=1e-12)


def _run_script(code: str, tmp_path, env=None):
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(tmp_path)], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_tf_xla_compiles_the_step_once_with_xla(tmp_path):
    """XLA's own compile log (TF_CPP_VMODULE=device_compilation_profiler=1, read before TensorFlow starts):
    the step's function is compiled once, for 40 steps of all four depths, in the setup: not in step 1."""
    _depths(STEPS)
    env = {**env_without_full_error(), "TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "device_compilation_profiler=1"}
    out = _run_script("import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests']\n"
                      "from helpers import train\n"
                      f"train(sys.argv[2], 'model=dynamic', 'runtime=tf_xla', 'trainer.max_steps={STEPS}')\n",
                      tmp_path, env)
    compiles = [(times, us) for times, us in re.findall(r"Compiled __inference_step_\d+ (\d+) times, "
                                                          r"compile time: (\d+) us", out.stderr)]
    assert len(compiles) == 1 and compiles[0][0] == "1" and int(compiles[0][1]) > 0, compiles
    step_ms = [v for _, v in scalars(tmp_path)["time/step_ms"]]
    assert len(step_ms) == STEPS and step_ms[0] < 20 * float(np.median(step_ms)) + 100  # compiling takes 0.3 s+


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs 2 or more cores")
def test_num_threads_sizes_xlas_cpu_pool(tmp_path):
    """XLA names its CPU pool's workers tf_XLAEigen: trainer.num_threads=1 leaves one, free to run anywhere."""
    out = _run_script("import os, sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests']\n"
                      "from helpers import train\n"
                      "train(sys.argv[2], 'runtime=jax_jit', 'trainer.max_steps=3', 'trainer.num_threads=1')\n"
                      "tasks = os.listdir('/proc/self/task')\n"
                      "names = [open(f'/proc/self/task/{t}/comm').read().strip() for t in tasks]\n"
                      "print(names.count('tf_XLAEigen'), min(len(os.sched_getaffinity(int(t))) for t in tasks))\n",
                      tmp_path, env_without_full_error())
    pool, narrowest = map(int, out.stdout.split()[-2:])
    assert pool == 1 and narrowest == len(os.sched_getaffinity(0))
