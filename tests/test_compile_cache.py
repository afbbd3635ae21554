"""trainer.compile_cache: a cold run compiles with empty caches of its own, whatever ran before it in the process
or on the machine; a warm run reuses trainer.compile_cache_dir, and a second warm run is served from it."""
import pytest

from helpers import train

pytestmark = pytest.mark.contract

STEPS = 3


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """In one process, as a sweep's default launcher runs its jobs: cold, warm, warm again, cold again."""
    d = tmp_path_factory.mktemp("compile_cache")
    cache = d / "cache"
    out = {}
    for runtime in ("lightning_compile", "jax_jit"):
        for name, mode in (("cold", "cold"), ("warm1", "warm"), ("warm2", "warm"), ("cold_after", "cold")):
            out[runtime, name] = train(d / f"{runtime}_{name}", "model=two_layer", f"runtime={runtime}",
                                       f"trainer.max_steps={STEPS}", f"trainer.compile_cache={mode}",
                                       f"trainer.compile_cache_dir={cache}")
    return out, cache


@pytest.mark.parametrize("runtime", ["lightning_compile", "jax_jit"])
def test_a_cold_run_has_no_cache_hits_whatever_ran_before(runs, runtime):
    out, _ = runs
    for name in ("cold", "cold_after"):  # the second after two warm runs of the same step in this process
        r = out[runtime, name]
        assert r["status"] == "completed" and r["compile_cache"] == "cold" and r["cache_hits"] == 0, r
        assert "compile_cache_dir" not in r
        assert not any("cache" in b["what"] for b in r["builds"]), r["builds"]
    # Job order does not change what a cold run builds.
    assert out[runtime, "cold"]["compiles"] == out[runtime, "cold_after"]["compiles"]
    kinds = {name: [b["what"] for b in out[runtime, name]["builds"]] for name in ("cold", "cold_after")}
    assert kinds["cold"] == kinds["cold_after"]


@pytest.mark.parametrize("runtime", ["lightning_compile", "jax_jit"])
def test_a_warm_second_run_is_served_by_the_cache_and_builds_faster(runs, runtime):
    out, cache = runs
    first, second = out[runtime, "warm1"], out[runtime, "warm2"]
    assert first["compile_cache"] == second["compile_cache"] == "warm"
    assert first["compile_cache_dir"] == str(cache)
    assert first["cache_hits"] == 0 and second["cache_hits"] > 0
    assert first["compiles"] == second["compiles"]  # still counted as builds: served, not skipped
    # What the cache serves (torch: the whole compile; jax_jit: XLA's compile, not the trace and lowering, which
    # run either way and, at a fraction of a second, swing with the machine's load) is faster the second time.
    def served_ms(r):
        return sum(b["ms"] for b in r["builds"] if b["what"] != "trace")

    assert served_ms(second) < served_ms(first), (first["builds"], second["builds"])


def test_the_warm_cache_persists_in_its_directory(runs):
    _, cache = runs
    assert any((cache / "inductor").rglob("*")) and any((cache / "jax").iterdir())


def test_compile_cache_is_refused_unless_cold_or_warm():
    from helpers import compose_cfg
    from src.config import validate
    from src.errors import ConfigError

    with pytest.raises(ConfigError, match=r"trainer\.compile_cache=lukewarm is not allowed: use cold or warm"):
        validate(compose_cfg("trainer.compile_cache=lukewarm"))
