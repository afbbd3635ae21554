"""graphduel: train a seed model under one runtime.  `python train.py --help` lists the options."""
import os
import signal
import sys

if __name__ == "__main__":  # Ctrl-C while Hydra and the pre-flight load: one line, not a traceback
    signal.signal(signal.SIGINT, lambda *_: (print("graphduel: Ctrl-C before the run started: nothing was written.",
                                                    file=sys.stderr), os._exit(130)))

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

# Jobs that a launcher starts in new processes (submitit: local or on Slurm nodes) unpickle this
# module's task function: they need the project importable wherever their working directory is.
ROOT = os.path.dirname(os.path.abspath(__file__))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)

from src import cli, interrupt, sweeps  # noqa: E402
from src.config import register_configs  # noqa: E402
from src.errors import ConfigError, GraphduelError  # noqa: E402
from src.interrupt import Interrupted  # noqa: E402
from src.requeue import preempted, resume_dir  # noqa: E402
from src.run import is_rank_zero, run  # noqa: E402
from src.shell import bash_word, override_word  # noqa: E402

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
        local_sweep = sweep and not os.environ.get("SUBMITIT_EXECUTOR")  # jobs in this machine's processes
        if not cfg.resume and not os.path.exists(os.path.join(hydra_cfg.runtime.output_dir, "checkpoint.npz")):
            if not sweep:
                cli.remove_refused_run_dirs()  # stopped during the framework import: nothing to keep
            print(f"graphduel: {e.signal_name} before the run started: nothing was written.", file=sys.stderr)
            if local_sweep:
                sweeps.stop_sweep(hydra_cfg.sweep.dir, e.signum)
                return
            sys.exit(e.exit_code)
        # In a submitit job, argv[0] is submitit's script: name ours.
        script = sys.argv[0] if sys.argv[0].endswith("train.py") else os.path.join(ROOT, "train.py")
        resume = override_word("resume", hydra_cfg.runtime.output_dir)  # pastes into bash, whatever the path
        print(f"graphduel: {e}; its checkpoint and logs are saved.\n"
              f"  resume with: python {bash_word(script)} {resume}", file=sys.stderr)
        if local_sweep:  # the sweep stops, and says how to continue (src/sweeps.py)
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
    try:
        if is_rank_zero():  # DDP's extra processes re-run this command: it was checked already
            sys.argv = cli.main_guard(sys.argv)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Hydra's and the run's own handling from here
        main()
    except KeyboardInterrupt:  # one line, not a traceback
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if interrupt.stopped_now:
            print("graphduel: stopped at once by a second Ctrl-C: result.json says interrupted, and a resume "
                  "continues from the last checkpoint.", file=sys.stderr)
        else:
            cli.remove_refused_run_dirs()
            print("graphduel: Ctrl-C before the run started: nothing was written.", file=sys.stderr)
        sys.exit(130)
