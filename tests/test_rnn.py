"""model=rnn: sequences of different lengths.  The seeded pool and its step inputs; padding that changes
nothing, in each framework; what each static-graph runtime builds for changing lengths (one tf.function
trace, a bounded number of torch.compile graphs); and a loss that drops.  (Every runtime keeps the contract
and matches lightning's loss curve: tests/test_runtimes.py and test_parity.py, driven by the registry.)"""
from dataclasses import replace

import numpy as np
import pytest

from helpers import compose_cfg, scalars, train
from src.models.rnn.spec import DECAY, compiled_length
from src.problem import make_problem

pytestmark = pytest.mark.contract


def _problem(*overrides):
    return make_problem(compose_cfg("model=rnn", *overrides))


def _run(tmp_path, runtime, steps, *overrides):
    result = train(tmp_path, "model=rnn", f"runtime={runtime}", f"trainer.max_steps={steps}", *overrides)
    return result, scalars(tmp_path)


def test_pool_lengths_padding_and_target():
    p = _problem("data.batch_size=32")
    x, lengths, y = p.data["x"], p.data["lengths"], p.data["y"]
    cfg = p.cfg
    assert x.shape == (cfg.pool, 32, cfg.max_len, cfg.d_in) and y.shape == (cfg.pool, 32, cfg.d_out)
    assert lengths.dtype == np.int64 and lengths.min() == 1 and lengths.max() == cfg.max_len
    valid = np.arange(cfg.max_len) < lengths[..., None]
    assert not x[~valid].any() and np.all(x[valid] != 0)  # zeros past each sequence's end, data before
    # The target is one fixed linear map of each sequence's fading sum, sum_t DECAY^(L-1-t) x_t: least squares
    # over all the pool's sequences finds that map, and it fits every target.
    fade = np.where(valid, DECAY ** (lengths[..., None] - 1 - np.arange(cfg.max_len)), 0.0)
    sums = np.einsum("pbt,pbti->pbi", fade, x).reshape(-1, cfg.d_in)
    a = np.linalg.lstsq(sums, y.reshape(-1, cfg.d_out), rcond=None)[0]
    np.testing.assert_allclose(sums @ a, y.reshape(-1, cfg.d_out), atol=1e-4)
    assert np.abs(y).mean() > 0.3  # a target worth learning


def test_step_inputs_every_batch_once_per_pass_stable_and_resumable():
    p = _problem()
    cols = p.input_columns(0, 160)
    pool = p.cfg.pool
    for k in range(0, 160, pool):  # each pass: a permutation of the pool
        assert sorted(cols["batch"][k:k + pool].tolist()) == list(range(pool))
    assert cols["batch"][:pool].tolist() != cols["batch"][pool:2 * pool].tolist()  # a new order each pass
    # A step's `longest` is the longest sequence of its batch, as the data holds it.
    np.testing.assert_array_equal(cols["longest"], p.data["lengths"].max(axis=1)[cols["batch"]])
    assert len(set(cols["longest"][:pool].tolist())) > pool // 2  # the longest changes from step to step
    for name, col in cols.items():
        np.testing.assert_array_equal(p.input_columns(0, 1000)[name][:160], col)  # a prefix never changes
        np.testing.assert_array_equal(p.input_columns(37, 160)[name], col[37:])  # a resumed run continues it
    # The data's batch size changes the sequences, never the order or the longest lengths.
    np.testing.assert_array_equal(_problem("data.batch_size=5").input_columns(0, 160)["longest"], cols["longest"])
    assert p.step_scalars(0, 160)["model/max_len"].tolist() == cols["longest"].tolist()


def test_compiled_length_pads_up_to_the_bucket():
    cfg = _problem().cfg  # max_len 20
    assert [compiled_length(cfg, n) for n in (1, 7, 20)] == [20, 20, 20]  # one bucket: max_len
    cfg = replace(cfg, compile_buckets=4)
    assert [compiled_length(cfg, n) for n in (1, 5, 6, 11, 16, 20)] == [5, 5, 10, 15, 20, 20]
    cfg = replace(cfg, max_len=7, compile_buckets=7)  # one bucket per length: no padding
    assert [compiled_length(cfg, n) for n in range(1, 8)] == list(range(1, 8))


# -- padding changes nothing, in each framework -------------------------------------------------------------
def _padded_and_alone(problem, batch: int):
    """The problem with junk (not zeros) in the padding, and one problem per sequence of `batch`, unpadded:
    a pool of one batch of one sequence, max_len its length."""
    x, lengths, y = (problem.data[k] for k in ("x", "lengths", "y"))
    valid = np.arange(problem.cfg.max_len) < lengths[..., None]
    junk = np.where(valid[..., None], x, np.random.default_rng(7).standard_normal(x.shape) * 3)
    padded = replace(problem, data={**problem.data, "x": junk})
    alone = [replace(problem, cfg=replace(problem.cfg, max_len=int(n), pool=1),
                     data={"x": x[batch, i:i + 1, :n][None], "lengths": lengths[batch, i:i + 1][None],
                           "y": y[batch, i:i + 1][None]})
             for i, n in enumerate(lengths[batch])]
    return padded, alone


def _torch_loss_and_grads(problem, inputs):
    from src.models.rnn.torch import Net

    net = Net(problem)
    loss = net.loss(inputs)
    loss.backward()
    return loss.item(), {k: p.grad.numpy() for k, p in net.named_parameters()}


def _tf_loss_and_grads(problem, inputs, traced=False):
    from src.frameworks.tf import tf
    from src.models.rnn import tf as model

    params = {k: tf.Variable(v) for k, v in problem.weights.items()}
    data = {k: tf.constant(v) for k, v in problem.data.items()}

    def step(inputs):
        with tf.GradientTape() as tape:
            loss = model.loss(params, data, inputs, problem)
        return loss, tape.gradient(loss, list(params.values()))

    if traced:  # the in-graph loop of tf_session and tf_function
        step = tf.function(step, input_signature=[{k: tf.TensorSpec([], tf.int32) for k in inputs}])
        inputs = {k: tf.constant(v, tf.int32) for k, v in inputs.items()}
    loss, grads = step(inputs)
    return float(loss), {k: g.numpy() for k, g in zip(params, grads)}


def _jax_loss_and_grads(problem, inputs, jitted=False):
    import jax

    from src.frameworks import jax as jaxw
    from src.models.rnn import jax as model

    with jaxw.precision(problem):
        params, data = jaxw.arrays(problem.weights, jax.devices("cpu")[0]), jaxw.arrays(problem.data, None)
        fn = jax.value_and_grad(lambda params, data, inputs: model.loss(params, data, inputs, problem))
        if jitted:  # the inputs traced: the in-graph fori_loop + cond of jax_jit
            fn = jax.jit(fn)
            inputs = {k: np.int32(v) for k, v in inputs.items()}
        loss, grads = fn(params, data, inputs)
        return float(loss), {k: np.asarray(g) for k, g in grads.items()}


@pytest.mark.parametrize("framework", ["torch", "tf_eager", "tf_graph", "jax", "jax_jit"])
def test_padding_changes_neither_the_loss_nor_the_gradients(framework):
    """The loss of a padded batch (junk in the padding) and its gradients equal the sums of those of its
    sequences run alone, unpadded, each for exactly its own length: MSELoss(sum) adds over sequences."""
    problem = _problem("data.batch_size=6", "trainer.precision=64")
    batch = int(np.argmax(problem.data["lengths"].max(axis=1)))  # the batch with the longest sequence
    longest = int(problem.data["lengths"][batch].max())
    assert len(set(problem.data["lengths"][batch].tolist())) > 2  # sequences of several lengths, padded
    run = {"torch": _torch_loss_and_grads, "tf_eager": _tf_loss_and_grads,
           "tf_graph": lambda p, i: _tf_loss_and_grads(p, i, traced=True),
           "jax": _jax_loss_and_grads, "jax_jit": lambda p, i: _jax_loss_and_grads(p, i, jitted=True)}[framework]
    padded, alone = _padded_and_alone(problem, batch)
    loss, grads = run(padded, {"batch": batch, "longest": longest})
    parts = [run(p, {"batch": 0, "longest": p.cfg.max_len}) for p in alone]
    assert loss == pytest.approx(sum(lp for lp, _ in parts), rel=1e-12)
    for k, g in grads.items():
        np.testing.assert_allclose(g, sum(gp[k] for _, gp in parts), rtol=1e-10, atol=1e-14, err_msg=k)
    assert all(np.abs(g).max() > 0 for g in grads.values())  # every weight learns from the batch


# -- what the static graphs build for changing lengths -------------------------------------------------------
def test_tf_function_traces_once_with_a_signature_and_per_input_without():
    from src.frameworks.tf import TF2Step, tf
    from src.models.rnn import tf as model

    problem = _problem()
    steps = list(problem.inputs(0, 24))
    signed, by_value, by_tensor = (TF2Step(problem, model) for _ in range(3))
    f = tf.function(signed.step, input_signature=signed.input_signature())
    a = [float(f({k: tf.constant(v) for k, v in s.items()})) for s in steps]
    g = tf.function(by_value.step)  # no signature, Python ints: every new value is a new trace
    b = [float(g(s)) for s in steps]
    h = tf.function(by_tensor.step)  # no signature, int32 tensors: their shape and dtype never change
    c = [float(h({k: tf.constant(v) for k, v in s.items()})) for s in steps]
    assert signed.traces == 1 and by_tensor.traces == 1
    assert by_value.traces == len({tuple(s.values()) for s in steps}) > 8  # one per (batch, longest)
    np.testing.assert_allclose(b, a, rtol=1e-5)
    np.testing.assert_allclose(c, a, rtol=1e-5)


@pytest.mark.parametrize("runtime, buckets", [
    ("tf_session", 1), ("tf_function", 1),  # one graph, its while_loop run `longest` times
    ("tf_xla", 1), ("jax_jit", 1),  # one graph compiled by XLA once, its loop bounded by max_len
    ("lightning_compile", 1), ("lightning_compile", 3),  # one graph per bucket of lengths, padded to it
])
def test_static_runtimes_build_one_graph_per_bucket_whatever_the_lengths(tmp_path, runtime, buckets):
    steps = 40
    result, s = _run(tmp_path, runtime, steps, "model.max_len=9", f"model.compile_buckets={buckets}")
    cfg = _problem("model.max_len=9", f"model.compile_buckets={buckets}").cfg
    longest = [v for _, v in s["model/max_len"]]
    assert len(set(longest)) > 3  # lengths the loop could have been built for, one by one
    assert result["warnings"] == []  # no retrace warning, never past torch.compile's recompile limit
    if runtime != "lightning_compile":
        assert result["compiles"] == 1 and {b["step"] for b in result["builds"]} == {0}  # built in the setup
        return
    padded = [compiled_length(cfg, n) for n in longest]
    assert result["compiles"] == len(set(padded)) == buckets
    # Each graph compiled by the first step of its bucket; recompiled because a guard on the length failed.
    assert sorted({b["step"] for b in result["builds"]}) == sorted(padded.index(n) + 1 for n in set(padded))
    forward = [b for b in result["builds"] if "backward" not in b["what"]]
    assert forward[0]["reason"] is None and all("inputs['longest']" in b["reason"] for b in forward[1:])


def test_eager_graphs_grow_with_the_length(tmp_path):
    """What an eager step rebuilds is the graph of its batch's longest sequence: the same size at the same
    length, bigger for a longer one."""
    for runtime in ("lightning", "tf_eager"):
        _, s = _run(tmp_path / runtime, runtime, 40)
        by_length = {}
        for (_, n), (_, length) in zip(s["graph/nodes"][1:], s["model/max_len"]):
            by_length.setdefault(length, set()).add(n)
        assert all(len(v) == 1 for v in by_length.values()), (runtime, by_length)
        sizes = [by_length[n].pop() for n in sorted(by_length)]
        assert len(sizes) > 5 and sizes == sorted(sizes) and len(set(sizes)) == len(sizes), (runtime, sizes)


def test_the_loss_drops_tenfold_in_500_steps(tmp_path):
    for seed in range(3):
        r = train(tmp_path / str(seed), "model=rnn", "runtime=tf_function", f"seed={seed}")
        assert r["final_loss"] < r["first_loss"] / 10, (seed, r["first_loss"], r["final_loss"])
