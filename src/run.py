"""One training run, from a composed config to result.json: validation, the seeded start, the
runtime, and what the user sees when it ends (a summary, or a one-line error)."""
from __future__ import annotations

from src import runtimes
from src.config import cpu_threads, validate
from src.problem import make_problem
from src.recorder import Diverged, Recorder, summary_text


def _launcher() -> dict:
    from hydra.core.hydra_config import HydraConfig

    return (HydraConfig.get().get("launcher") or {}) if HydraConfig.initialized() else {}


def resolve_threads(cfg) -> int:
    """trainer.num_threads; else what a cluster launcher reserved per job; else all cores, split
    between the jobs that a parallel launcher runs side by side on this machine."""
    if cfg.trainer.num_threads:
        return cfg.trainer.num_threads
    launcher = _launcher()
    if launcher.get("cpus_per_task"):  # submitit (local or Slurm) reserved these for the job
        return int(launcher["cpus_per_task"])
    target, cores = str(launcher.get("_target_", "")), cpu_threads()
    if "joblib" in target:
        n = launcher.get("n_jobs") or 1
        side_by_side = n if n > 0 else cores + 1 + n  # joblib: -1 = all cores, -2 = all but one
    elif "LocalLauncher" in target:  # submitit_local starts every job of the sweep at once
        side_by_side = cores
    else:
        side_by_side = 1
    return max(1, cores // max(1, side_by_side))


def run(cfg, run_dir: str) -> dict:
    """Trains as `cfg` says, writing everything into `run_dir`; returns result.json's content.

    Raises GraphduelError for what the user can fix, after result.json has recorded it."""
    recorder, status, error = None, "failed", None
    try:
        validate(cfg)
        runtimes.check(cfg)
        spec = runtimes.spec(cfg.runtime.name)
        problem = make_problem(cfg)
        threads = resolve_threads(cfg)
        recorder = Recorder(run_dir, cfg, framework=spec.framework, graph=spec.graph, threads=threads)
        runtime = runtimes.load(cfg.runtime.name)
        recorder.runtime_imported()
        runtime.fit(problem, cfg, recorder, threads)
        status = "completed"
    except Diverged as e:
        status, error = "diverged", str(e)
        raise
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except BaseException as e:
        error = str(e) or type(e).__name__
        raise
    finally:
        if recorder is None:  # refused before it started: still leave a result.json saying why
            known = runtimes.RUNTIMES.get(cfg.runtime.name)
            recorder = Recorder(run_dir, cfg, framework=known and known.framework, graph=known and known.graph,
                                threads=cfg.trainer.num_threads or 0)
        result = recorder.finish(status, error)
        if result["steps"]:
            print(summary_text(result), flush=True)
    return result
