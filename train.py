"""graphduel: train a seed model under one runtime.  `python train.py --help` lists the options."""
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

# Jobs that a launcher starts in new processes (submitit: local or on Slurm nodes) unpickle this
# module's task function: they need the project importable wherever their working directory is.
ROOT = os.path.dirname(os.path.abspath(__file__))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)

from src import cli, sweeps  # noqa: E402
from src.config import register_configs  # noqa: E402
from src.errors import ConfigError, GraphduelError  # noqa: E402
from src.interrupt import Interrupted  # noqa: E402
from src.requeue import preempted, resume_dir  # noqa: E402
from src.run import is_rank_zero, run  # noqa: E402

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    sweep = hydra_cfg.mode == RunMode.MULTIRUN
    if sweep and sweeps.stopped(hydra_cfg.sweep.dir) is not None:  # the sweep was stopped: no new job starts
        sweeps.not_started(hydra_cfg.runtime.output_dir)
        return
    # A requeued cluster job (preempted, or at its time limit) continues from its own checkpoint.
    cfg.resume = cfg.resume or resume_dir(hydra_cfg.runtime.output_dir)
    try:
        run(cfg, hydra_cfg.runtime.output_dir, list_refused=sweep)
    except Interrupted as e:
        if preempted(e):  # a cluster job warned of its end: requeued (exits here) or not
            return  # not requeued: result.json says interrupted, and the sweep summary lists it
        # In a submitit job, argv[0] is submitit's script: name ours.
        script = sys.argv[0] if sys.argv[0].endswith("train.py") else os.path.join(ROOT, "train.py")
        print(f"graphduel: {e}; its checkpoint and logs are saved.\n"
              f"  resume with: python {script} resume={hydra_cfg.runtime.output_dir}", file=sys.stderr)
        if sweep and not os.environ.get("SUBMITIT_EXECUTOR"):  # a local sweep stops, and says how to continue
            sweeps.stop_sweep(hydra_cfg.sweep.dir, e.signum)
            return
        sys.exit(e.exit_code)
    except GraphduelError as e:
        if isinstance(e, ConfigError) and not sweep:
            cli.remove_refused_run_dirs()  # refused before it started: nothing is left behind
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {e}", file=sys.stderr)
        if sweep:
            return  # result.json says why; the sweep summary lists it and the sweep exits non-zero
        sys.exit(e.exit_code)


if __name__ == "__main__":
    if is_rank_zero():  # DDP's extra processes re-run this command: it was checked already
        sys.argv = cli.main_guard(sys.argv)
    main()
