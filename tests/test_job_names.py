"""A sweep's job names and what it varies (src/sweeps.py), from overrides as Hydra's sweeper gives them."""
import pytest

from src.sweeps import differing_hparams, job_name, varying

pytestmark = pytest.mark.unit


def test_the_keys_that_vary_between_jobs_in_their_order():
    jobs = [["model=dynamic", "runtime=lightning", "seed=0", "+x=1"], ["model=dynamic", "runtime=tf_eager", "seed=1"],
            ["model=dynamic", "runtime=lightning", "seed=1", "hydra.job.chdir=false"]]
    assert varying(jobs) == ["runtime", "seed", "x"]  # not model (the same), nor hydra.* keys


def test_a_job_is_named_by_number_model_runtime_and_what_else_varies():
    keys = ["model", "runtime", "model.optimizer.lr"]
    assert job_name(0, "two_layer", "lightning", ["model.optimizer.lr=1e-06"], keys) == "0_two_layer_lightning_lr=1e-06"
    assert job_name(1, "two_layer", "lightning", [], keys) == "1_two_layer_lightning_lr=default"
    # Two keys of one short name keep their full names; what a file name cannot hold becomes '-'.
    clash = ["model.optimizer.lr", "other.lr"]
    assert job_name(2, "m", "r", ["model.optimizer.lr=1", "other.lr=a/b c"], clash) == (
        "2_m_r_model.optimizer.lr=1_other.lr=a-b-c")
    assert len(job_name(3, "m", "r", ["k=" + "v" * 300], ["k"])) == 120


def test_hparams_that_tell_runs_apart():
    assert differing_hparams({"model", "runtime", "trainer.precision"}) == {
        "model", "runtime", "framework", "graph", "lr", "precision"}
