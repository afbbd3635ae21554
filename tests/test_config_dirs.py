"""--config-dir, --config-name and --config-path as stock Hydra reads them: train.py's pre-flight composes with
Hydra's own search path and primary config, so it accepts and refuses what a stock @hydra.main app over the
same conf/ accepts and refuses (tests/stock_hydra/app.py), and a refusal keeps Hydra's remedy lines."""
import json
import subprocess
import sys

import pytest

from helpers import ROOT, env_without_full_error

pytestmark = pytest.mark.e2e

STOCK = ROOT / "tests" / "stock_hydra" / "app.py"


@pytest.fixture(scope="module")
def conf_dirs(tmp_path_factory):
    """A user's extra config dir D: a group of its own, an experiment, an alternative primary config that
    picks model=rnn, one with a mandatory default; and D2, a primary config dir for --config-path."""
    d = tmp_path_factory.mktemp("confs")
    files = {
        "D/extra/fast.yaml": "# @package _global_\ntrainer:\n  max_steps: 7\n",
        "D/experiment/tiny.yaml": "# @package _global_\ntrainer:\n  max_steps: 5\n",
        "D/alt.yaml": "defaults:\n  - config\n  - override model: rnn\n  - _self_\n",
        "D/mand.yaml": "defaults:\n  - config\n  - extra: ???\n  - _self_\n",
        "D2/primary.yaml": "defaults:\n  - config\n  - _self_\nseed: 3\n",
    }
    for name, text in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    # D2's primary config extends graphduel's, found through D2 itself: a copy of conf/ beside it.
    subprocess.run(["cp", "-r", f"{ROOT}/conf/.", str(d / "D2")], check=True)
    return d


def cases(d):
    D, D2 = str(d / "D"), str(d / "D2")
    return {
        "a group only in D": ["--config-dir", D, "+extra=fast"],
        "an alternative primary config": ["--config-dir", D, "--config-name", "alt"],
        "both": ["--config-dir", D, "--config-name=alt", "+extra=fast"],
        "an experiment of D": ["--config-dir", D, "experiment=tiny"],
        "a duplicate default": ["--config-dir", D, "+experiment=tiny"],
        "a mandatory default": ["--config-dir", D, "--config-name", "mand"],
        "the mandatory default given": ["--config-dir", D, "--config-name", "mand", "extra=fast"],
        "another primary config path": ["--config-path", D2, "--config-name", "primary"],
        "no such config dir": ["--config-dir", str(d / "nope")],
        "no such primary config": ["--config-name", "nope"],
        "+ on a key that exists": ["+seed=1"],
        "++ on a key that exists": ["++seed=1"],
    }


def stock(args, tmp_path):
    out = subprocess.run([sys.executable, str(STOCK), *args], cwd=tmp_path,  # its outputs/ under tmp_path
                         capture_output=True, text=True, timeout=120, env={**env_without_full_error(),
                                                                            "PYTHONPATH": str(ROOT)})
    return out


def preflight(args):
    from src import cli
    from src.errors import ConfigError

    try:
        argv = cli.preflight(["train.py", *args])
    except ConfigError as e:
        return None, str(e)
    run_dir = next(a for a in argv if a.startswith("hydra.run.dir="))
    cfg = cli.composed
    return {"model": cfg.model.name, "runtime": cfg.runtime.name, "max_steps": cfg.trainer.max_steps,
            "seed": cfg.seed, "run_dir_name": run_dir.split("=", 1)[1].rsplit("/", 1)[-1]}, None


def _hydra_message(stderr: str) -> list[str]:
    return [line.rstrip() for line in stderr.split("\nConfig search path:")[0].splitlines()
            if line.strip() and not line.startswith("Set the environment variable HYDRA_FULL_ERROR")]


@pytest.mark.parametrize("case", list(cases(ROOT)))  # names only; the paths come from the fixture
def test_the_pre_flight_accepts_and_refuses_what_stock_hydra_does(conf_dirs, tmp_path, case):
    args = cases(conf_dirs)[case]
    theirs = stock(args, tmp_path)
    ours, error = preflight(args)
    if theirs.returncode == 0:
        expected = json.loads(theirs.stdout.strip().splitlines()[-1])
        assert error is None, error
        # The run directory is named by the model and runtime Hydra composed (was: always two_layer).
        assert expected.pop("run_dir_name").split("_", 1)[1] == ours.pop("run_dir_name").split("_", 1)[1]
        assert ours == expected
    else:
        assert ours is None, f"stock Hydra refused it: {theirs.stderr}"
        # Hydra's own message, remedy lines and all, through the real command line.
        out = subprocess.run([sys.executable, str(ROOT / "train.py"), *args, f"hydra.run.dir={tmp_path}/run"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120, env=env_without_full_error())
        assert out.returncode == 2 and "Traceback" not in out.stderr
        lines = out.stderr.strip().splitlines()
        assert lines[0].startswith("error: ")
        hydra_lines = _hydra_message(theirs.stderr)
        assert [lines[0][len("error: "):], *lines[1:]] == hydra_lines, (out.stderr, theirs.stderr)
        assert not (tmp_path / "run").exists()


def test_remedy_lines_survive(conf_dirs):
    _, error = preflight(["+seed=1"])
    assert "'++seed=1'" in error
    _, error = preflight(cases(conf_dirs)["a mandatory default"])
    assert "Available options:" in error and "\tfast" in error


def test_a_run_with_a_config_dir_and_name_trains_what_hydra_composed(conf_dirs, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), *cases(conf_dirs)["both"],
                          "trainer.progress_bar=false"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=env_without_full_error())
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "outputs").glob("*/*_rnn_lightning")
    result = json.loads((run_dir / "result.json").read_text())
    assert (result["model"], result["steps"]) == ("rnn", 7)
    # Resumed without the flags: the run's own --config-dir and --config-name, from its .hydra/hydra.yaml.
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), f"resume={run_dir}", "trainer.max_steps=9",
                          "trainer.progress_bar=false"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=env_without_full_error())
    assert out.returncode == 0, out.stderr
    result = json.loads((run_dir / "result.json").read_text())
    assert (result["model"], result["steps"], result["status"]) == ("rnn", 9, "completed")
