"""Each graph build split into its phases, from the framework's own accounting (torch.compile: Dynamo's capture,
AOTAutograd, Inductor; jax_jit: trace, lowering, XLA compile; tf_function/tf_xla: trace, XLA compile; tf_session:
construction and the first run, where Grappler optimizes): in result.json's builds, as graph/phase_s/ tags, and
adding up to the build (within 5%, or 1 ms for a build of a few: two clocks).  And torch.compile's graph breaks, counted with their reasons."""
import pytest

from helpers import scalars, train

pytestmark = pytest.mark.contract

STEPS = 3
STATIC = ["lightning_compile", "tf_session", "tf_function", "tf_xla", "jax_jit"]
PHASES = {"lightning_compile": {"dynamo_ms", "aot_autograd_ms", "inductor_ms"},
          "tf_session": {"construction_ms", "first_run_ms"}, "tf_function": {"trace_ms", "function_ms"},
          "tf_xla": {"trace_ms", "function_ms", "xla_compile_ms"}, "jax_jit": {"trace_ms", "lower_ms", "xla_compile_ms"}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("phases")
    return {rt: (train(d / rt, "model=two_layer", f"runtime={rt}", f"trainer.max_steps={STEPS}"), d / rt)
            for rt in STATIC}


@pytest.mark.parametrize("runtime", STATIC)
def test_phases_add_up_to_each_build(runs, runtime):
    result, run_dir = runs[runtime]
    builds = [b for b in result["builds"] if "phases" in b]
    assert builds and {p for b in builds for p in b["phases"]} == PHASES[runtime]
    assert builds == result["builds"]  # every build, a lazily compiled backward's too
    for b in builds:
        assert all(ms >= 0 for ms in b["phases"].values()), b
        assert sum(b["phases"].values()) == pytest.approx(b["ms"], rel=0.05, abs=1.0), b
    # TensorBoard: running totals, each phase's and all builds', at the last step the result's.
    s = scalars(run_dir)
    assert s["graph/build_s_total"][-1][1] == pytest.approx(result["compile_s"], rel=1e-4)
    assert sum(ms for b in builds for ms in b["phases"].values()) / 1e3 == pytest.approx(result["compile_s"], rel=0.05)
    for phase in PHASES[runtime]:
        total = sum(b["phases"].get(phase, 0) for b in builds) / 1e3
        assert s[f"graph/phase_s/{phase[:-3]}"][-1][1] == pytest.approx(total, rel=1e-4, abs=1e-6)


def test_inductor_is_most_of_a_cold_torch_compile(runs):
    """What the phases are for: on a cold cache, Inductor's code generation and C++ compile is the bulk."""
    result, _ = runs["lightning_compile"]
    phases = next(b["phases"] for b in result["builds"] if "phases" in b)
    assert phases["inductor_ms"] > phases["dynamo_ms"] and phases["inductor_ms"] > phases["aot_autograd_ms"]


def test_a_forward_that_prints_breaks_the_graph_and_says_where_and_why(tmp_path, monkeypatch):
    import src.models.two_layer.torch as model

    loss = model.Net.loss

    def printing_loss(self, inputs):  # a model whose forward prints, as a user's debugging would
        print("loss computed")
        return loss(self, inputs)

    monkeypatch.setattr(model.Net, "loss", printing_loss)
    result = train(tmp_path, "model=two_layer", "runtime=lightning_compile", f"trainer.max_steps={STEPS}")
    assert result["status"] == "completed"
    (brk,) = result["graph_breaks"]
    assert brk["step"] == 1 and "print" in brk["reason"]
    # Dynamo compiled two frames, the one that breaks and the rest after the print, with one graph between
    # them (nothing to compute before the print).
    assert result["compiles"] == 2 and result["dynamo_graphs"] == 1
    assert any("broke the graph 1 time(s), first at step 1" in w for w in result["warnings"])


def test_a_model_that_does_not_break_has_no_graph_breaks(runs):
    result, _ = runs["lightning_compile"]
    assert result["graph_breaks"] == [] and result["dynamo_graphs"] == result["compiles"] == 1


@pytest.mark.parametrize("backend", ["aot_eager", "eager"])
def test_torch_compile_backends_peel_off_its_layers(tmp_path, backend):
    """runtime.backend=aot_eager stops after AOTAutograd (no Inductor), eager after Dynamo's capture."""
    result = train(tmp_path, "model=two_layer", "runtime=lightning_compile", f"runtime.backend={backend}",
                   f"trainer.max_steps={STEPS}")
    assert result["status"] == "completed" and result["compile_backend"] == backend
    (forward,) = [b for b in result["builds"] if b["what"] == "compile"]
    assert (forward["phases"]["aot_autograd_ms"] > 0) == (backend == "aot_eager")
    for b in result["builds"]:  # a backward too, if AOTAutograd compiled one lazily
        assert b["phases"]["inductor_ms"] == 0
        assert sum(b["phases"].values()) == pytest.approx(b["ms"], rel=0.05, abs=1.0)


def test_compile_options_are_checked():
    from helpers import compose_cfg
    from src.config import validate
    from src.errors import ConfigError

    with pytest.raises(ConfigError, match="runtime.backend=tvm is not allowed: use one of inductor, aot_eager, eager"):
        validate(compose_cfg("runtime=lightning_compile", "runtime.backend=tvm"))
    with pytest.raises(ConfigError, match="a mode is Inductor's"):
        validate(compose_cfg("runtime=lightning_compile", "runtime.backend=eager", "runtime.mode=max-autotune"))
    validate(compose_cfg("runtime=lightning_compile", "runtime.mode=max-autotune"))
