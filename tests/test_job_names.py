"""A sweep's job names and what it varies (src/sweeps.py), from overrides as Hydra's sweeper gives them."""
import re

import pytest

from src.sweeps import continue_command, differing_hparams, job_name, varying

pytestmark = pytest.mark.unit


def test_the_keys_that_vary_between_jobs_in_their_order():
    jobs = [["model=dynamic", "runtime=lightning", "seed=0", "+x=1"], ["model=dynamic", "runtime=tf_eager", "seed=1"],
            ["model=dynamic", "runtime=lightning", "seed=1", "hydra.job.chdir=false"]]
    assert varying(jobs) == ["runtime", "seed", "x"]  # not model (the same), nor hydra.* keys


def test_a_job_is_named_by_number_model_runtime_and_what_else_varies():
    keys = ["model", "runtime", "model.optimizer.lr"]
    assert job_name(0, 2, "two_layer", "lightning", ["model.optimizer.lr=1e-06"], keys) == (
        "0_two_layer_lightning_lr-1e-06")
    assert job_name(1, 2, "two_layer", "lightning", [], keys) == "1_two_layer_lightning_lr-default"
    # Two keys of one short name keep their full names; what bash or Hydra would need quoted becomes '-'.
    clash = ["model.optimizer.lr", "other.lr"]
    assert job_name(2, 3, "m", "r", ["model.optimizer.lr=1", "other.lr=a/b c"], clash) == (
        "2_m_r_model.optimizer.lr-1_other.lr-a-b-c")
    assert len(job_name(3, 4, "m", "r", ["k=" + "v" * 300], ["k"])) == 120


def test_job_numbers_are_padded_to_the_sweeps_width():
    """So that `ls`, TensorBoard and the HParams table (which sort by name) list jobs in job order."""
    names = [job_name(i, 11, "m", "r", [], []) for i in range(11)]
    assert names == [f"{i:02d}_m_r" for i in range(11)] == sorted(names)
    assert job_name(7, 10, "m", "r", [], []) == "7_m_r" and job_name(7, 101, "m", "r", [], []) == "007_m_r"


def test_unsafe_characters_in_values_become_dashes():
    """What bash or a Hydra override would need quoted (a space, a quote, `/`, `=`, `,`, non-ASCII letters)."""
    overrides = ["model=two_layer", "+tag='a b/c=d,é'", "seed=0"]
    name = job_name(3, 12, "two_layer", "lightning", overrides, ["model", "tag", "seed"])
    assert name == "03_two_layer_lightning_tag--a-b-c-d---_seed-0"
    assert re.fullmatch(r"[A-Za-z0-9._+-]+", name)


def test_the_command_that_continues_a_sweep_pastes():
    import shlex

    argv = ["train.py", "-m", "runtime=glob(tf_*)", "seed=0,1", "resume=/old", "hydra.sweep.dir=/a b"]
    command = continue_command(argv, "/a b")
    assert command == 'python train.py -m "runtime=glob(tf_*)" seed=0,1 "hydra.sweep.dir=/a b" "resume=/a b"'
    assert shlex.split(command)[1:] == [*argv[:3], argv[3], argv[5], "resume=/a b"]


def test_hparams_that_tell_runs_apart():
    assert differing_hparams({"model", "runtime", "trainer.precision"}) == {
        "model", "runtime", "framework", "graph", "lr", "precision"}
