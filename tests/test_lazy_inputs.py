"""Per-step inputs are drawn a block at a time, with the very numbers drawing them all at once gave: a run of
any trainer.max_steps costs no memory up front, and a resumed run starts at its step without drawing the
ones before."""
import resource
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, compose_cfg
from src.models.base import DATA, INPUTS, stream
from src.problem import BLOCK, make_problem

pytestmark = pytest.mark.unit


def _depths_drawn_at_once(seed: int, stop: int, max_depth: int = 3) -> np.ndarray:
    """DynamicNet's depths as they were drawn before blocks: all `stop` at once."""
    raw = stream(seed, INPUTS).integers(0, 2**32, size=stop, dtype=np.uint64)
    return ((raw * np.uint64(max_depth + 1)) >> np.uint64(32)).astype(np.int64)


def _rnn_drawn_at_once(cfg, seed: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """rnn's batch order and longest lengths as they were drawn before blocks: every pass's draws at once."""
    from src.models.rnn.spec import _longest

    passes = -(-stop // cfg.pool)
    order = stream(seed, INPUTS).random((passes, cfg.pool)).argsort(axis=1, kind="stable").ravel()[:stop]
    return order, _longest(cfg, stream(seed, DATA))[order]


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("start, stop", [(0, 1), (0, 500), (1, 500), (7, 8), (137, 1000), (999, 1000)])
def test_dynamic_depths_are_the_same_numbers_from_any_start(seed, start, stop):
    p = make_problem(compose_cfg("model=dynamic", f"seed={seed}"))
    expected = _depths_drawn_at_once(seed, stop)[start:]
    np.testing.assert_array_equal(p.input_columns(start, stop)["depth"], expected)
    assert [s["depth"] for s in p.inputs(start, stop)] == expected.tolist()
    assert p.step_scalars(start, stop)["model/depth"].tolist() == expected.tolist()


@pytest.mark.parametrize("overrides", [[], ["model.pool=5"], ["model.pool=1"], ["seed=2", "model.max_len=7"]])
@pytest.mark.parametrize("start, stop", [(0, 1), (0, 160), (37, 160), (16, 17), (15, 33)])
def test_rnn_batches_are_the_same_numbers_from_any_start(overrides, start, stop):
    p = make_problem(compose_cfg("model=rnn", *overrides))
    order, longest = _rnn_drawn_at_once(p.cfg, p.seed, stop)
    cols = p.input_columns(start, stop)
    np.testing.assert_array_equal(cols["batch"], order[start:])
    np.testing.assert_array_equal(cols["longest"], longest[start:])
    assert list(p.inputs(start, stop)) == [{"batch": b, "longest": n} for b, n in
                                           zip(order[start:].tolist(), longest[start:].tolist())]
    assert p.step_scalars(start, stop)["model/max_len"].tolist() == longest[start:].tolist()


@pytest.mark.parametrize("model", ["dynamic", "rnn"])
def test_steps_across_block_boundaries_are_the_same_numbers(model):
    p = make_problem(compose_cfg(f"model={model}"))
    stop = 2 * BLOCK + 5
    name = "depth" if model == "dynamic" else "longest"
    at_once = p.input_columns(0, stop)[name]  # one draw of all
    walked = [s[name] for s in p.inputs(0, stop)]  # three blocks
    assert walked == at_once.tolist()
    resumed = p.inputs(BLOCK - 3, stop)  # a resumed run's blocks start at its own step
    assert [resumed[i][name] for i in (0, 2, 3, len(resumed) - 1, -1)] == [
        at_once[BLOCK - 3], at_once[BLOCK - 1], at_once[BLOCK], at_once[-1], at_once[-1]]
    tag = next(iter(p.step_scalars(0, 1)))
    column = p.step_scalars(7, stop)[tag]
    assert len(column) == stop - 7 and column[BLOCK] == at_once[7 + BLOCK] and column[-1] == at_once[-1]
    with pytest.raises(IndexError):
        column[stop - 7]


@pytest.mark.parametrize("model", ["dynamic", "rnn"])
def test_ten_billion_steps_cost_no_memory_up_front(model):
    """What a run does with its inputs before step 1, at max_steps=1e10: its columns, their first and
    last steps, and a resume near the end; in a fresh process, whose peak memory is then measured."""
    code = (
        "import resource, sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests']\n"
        "from helpers import compose_cfg\n"
        "from src.problem import make_problem\n"
        f"p = make_problem(compose_cfg('model={model}', 'trainer.max_steps=10000000000'))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "steps = p.inputs(0, 10**10); scalars = p.step_scalars(0, 10**10)\n"
        "first, last = steps[0], steps[-1]\n"
        "tail = p.inputs(10**10 - 3, 10**10); rows = list(tail)\n"
        "assert len(steps) == 10**10 and len(rows) == 3 and rows[-1] == last, (rows, last)\n"
        "assert all(len(c) == 10**10 for c in scalars.values())\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 64  # MiB above what composing the config took (was 74.5 GiB)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0  # ru_maxrss is in KiB here (Linux)
