"""What a user types that could not work, refused by train.py in one line, exit 2, before any framework is
imported and with nothing written; what they would naturally type for a path (spaces, quotes, `=`,
non-ASCII letters) works, or is refused with the exact word to type, which then works."""
import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, env_without_full_error, one_line_error

pytestmark = pytest.mark.e2e

FRAMEWORKS = {"torch", "tensorflow", "pytorch_lightning", "jax", "lightning"}


def train_py(*args, cwd=ROOT, timeout=300):
    """train.py as a user runs it, with the modules it imported (-X importtime) returned beside."""
    out = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "train.py"), *args], cwd=cwd,
                         capture_output=True, text=True, timeout=timeout, env=env_without_full_error())
    lines = out.stderr.splitlines()
    imported = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    out.stderr = "\n".join(line for line in lines if not line.startswith("import time:"))
    return out, imported


def refused(*args, words=()) -> str:
    out, imported = train_py(*args)
    assert out.returncode == 2, out.stderr
    assert not FRAMEWORKS & imported, FRAMEWORKS & imported  # refused before any framework import
    line = one_line_error(out)
    assert all(w in line for w in words), line
    return line


def bash_argv(word: str) -> list[str]:
    """What bash makes of `word` when it is pasted into a command line."""
    out = subprocess.run(["bash", "-c", f"printf '%s\\0' {word}"], capture_output=True, text=True, check=True)
    return out.stdout.split("\0")[:-1]


@pytest.mark.parametrize("args, words", [
    (["seed=-1"], ["seed=-1", "0 or more"]),
    (["model.optimizer.lr=inf"], ["model.optimizer.lr=inf", "finite"]),
    (["model.optimizer.lr=-inf"], ["model.optimizer.lr=-inf", "finite"]),
    (["model=dynamic", "model.optimizer.lr=nan"], ["model.optimizer.lr=nan"]),
])
def test_values_that_crashed_or_ran_are_refused(tmp_path, args, words):
    refused(*args, f"hydra.run.dir={tmp_path}/run", words=words)
    assert not (tmp_path / "run").exists()


def test_an_output_location_that_cannot_be_written_is_refused(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    refused("hydra.run.dir=/proc/graphduel_x", words=["hydra.run.dir=/proc/graphduel_x", "cannot be written",
                                                     "/proc"])
    refused(f"hydra.run.dir={a_file}/run", words=[f"{a_file} is a file, not a directory"])
    refused(f"hydra.run.dir={a_file}", words=["it is a file, not a directory"])
    refused("-m", "seed=0,1", f"hydra.sweep.dir={a_file}/sweep", words=["hydra.sweep.dir=", "not a directory"])
    assert a_file.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_read_only_filesystem_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        refused(f"hydra.run.dir={ro}/run", words=[f"hydra.run.dir={ro}/run", "cannot be written",
                                                  "Read-only file system"])
    finally:
        subprocess.run(["umount", str(ro)], check=True)


@pytest.mark.parametrize("name", ["résumé_日本", "it's", "a=b", "x (1)"])
def test_a_path_hydra_reads_only_quoted_gets_the_word_to_type_and_that_word_works(tmp_path, name):
    path = f"{tmp_path}/{name}"
    line = refused(f"hydra.run.dir={path}", words=[f"hydra.run.dir={path}", "only inside quotes: type "])
    word = line.split("only inside quotes: type ", 1)[1]
    (typed,) = bash_argv(word)  # the word pasted into bash gives one argument...
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_override(typed)  # ...that Hydra reads as exactly the path
    assert (parsed.key_or_group, parsed.value()) == ("hydra.run.dir", path)
    out, _ = train_py(typed, "trainer.max_steps=0")  # and the pre-flight takes it (then refuses the 0)
    assert out.returncode == 2 and "trainer.max_steps=0" in one_line_error(out)


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory):
    """A finished 3-step run in a directory whose name needs every kind of quoting."""
    run_dir = tmp_path_factory.mktemp("runs") / "my runs" / "it's é=1, 日本"
    out, _ = train_py(f"hydra.run.dir={_hydra(str(run_dir))}", "trainer.max_steps=3", "trainer.progress_bar=false")
    assert out.returncode == 0, out.stderr
    return run_dir, out


def _hydra(path: str) -> str:
    """`path` as a Hydra quoted string, written by hand (not by the code under test)."""
    assert "\\" not in path
    return "'" + path.replace("'", "\\'") + "'"


def _snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_the_printed_tensorboard_line_pastes_into_bash(odd_run):
    run_dir, out = odd_run
    (line,) = [x for x in out.stdout.splitlines() if "tensorboard --logdir" in x]
    assert bash_argv(line.split("view with", 1)[1].strip()) == ["tensorboard", "--logdir", str(run_dir)]


@pytest.mark.parametrize("how", ["as the shell completes it", "Hydra-quoted"])
def test_resume_takes_the_path_as_typed(odd_run, how):
    run_dir, _ = odd_run
    before = _snapshot(run_dir)
    value = str(run_dir) if how == "as the shell completes it" else _hydra(str(run_dir))
    # Refused for its step count, not for its path: the run was found and understood.
    refused(f"resume={value}", words=["already did 3 steps", "trainer.max_steps=N"])
    assert _snapshot(run_dir) == before


def test_resume_under_another_runtime_is_refused(odd_run):
    run_dir, _ = odd_run
    before = _snapshot(run_dir)
    refused(f"resume={run_dir}", "runtime=tf_session", "trainer.max_steps=10",
            words=["runtime=lightning", "runtime=tf_session", "drop runtime=tf_session"])
    refused(f"resume={run_dir}", "seed=1", "trainer.max_steps=10", words=["seed=0", "seed=1"])
    refused(f"resume={run_dir}", "model=dynamic", "trainer.max_steps=10", words=["model=two_layer"])
    assert _snapshot(run_dir) == before


def test_resume_from_non_finite_weights_is_refused_with_that_reason(tmp_path):
    # lr=1e38 turns the weights to inf in the first update; the loss becomes nan at step 2, after the
    # checkpoint of step 1 was written.
    run_dir = tmp_path / "run"
    out, _ = train_py("model.optimizer.lr=1e38", "trainer.max_steps=20", "trainer.checkpoint_every_n_steps=1",
                      "trainer.progress_bar=false", f"hydra.run.dir={run_dir}")
    assert out.returncode == 1 and json.loads((run_dir / "result.json").read_text())["status"] == "diverged"
    with np.load(run_dir / "checkpoint.npz") as f:
        assert not all(np.isfinite(f[k]).all() for k in f.files if k.startswith("weight/"))
    before = _snapshot(run_dir)
    line = refused(f"resume={run_dir}", "trainer.max_steps=30", "model.optimizer.lr=1e-9",
                   words=["non-finite", "diverged", "start a new run"])
    assert "Try a lower learning rate" not in line
    assert _snapshot(run_dir) == before


def test_more_threads_than_cores_warns_in_one_line(odd_run):
    from src.config import cpu_threads

    run_dir, _ = odd_run  # resumed without more steps: warned, then refused, before any framework import
    n = cpu_threads() + 62
    out, imported = train_py(f"resume={run_dir}", f"trainer.num_threads={n}")
    assert out.returncode == 2 and not FRAMEWORKS & imported
    lines = out.stderr.splitlines()
    assert len(lines) == 2 and "already did 3 steps" in lines[1], out.stderr
    assert lines[0] == (f"graphduel: warning: trainer.num_threads={n} is more than the {cpu_threads()} cores this "
                        f"process can use (os.sched_getaffinity): threads will take turns and steps run slower; "
                        f"use trainer.num_threads={cpu_threads()} or null.")
    out, _ = train_py(f"resume={run_dir}", f"trainer.num_threads={cpu_threads()}")
    assert out.returncode == 2 and "warning" not in out.stderr
