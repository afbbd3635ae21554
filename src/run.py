"""One training run, from a composed config to result.json: validation, the seeded start, the
runtime, and what the user sees when it ends (a summary, or a one-line error)."""
from __future__ import annotations

from src import runtimes
from src.config import cpu_threads, validate
from src.problem import make_problem
from src.recorder import Diverged, Recorder, summary_text


def concurrent_jobs() -> int:
    """How many jobs a parallel Hydra launcher runs side by side on this machine (1 otherwise)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return 1
    launcher = HydraConfig.get().get("launcher") or {}
    target = str(launcher.get("_target_", ""))
    if "joblib" in target:
        n = launcher.get("n_jobs") or 1
        return max(1, n if n > 0 else cpu_threads() + 1 + n)  # joblib: -1 = all cores, -2 = all but one
    if "LocalLauncher" in target:  # submitit_local: the whole array at once, up to array_parallelism
        return max(1, min(launcher.get("array_parallelism") or 1, cpu_threads()))
    return 1


def resolve_threads(cfg) -> int:
    """trainer.num_threads, or all cores split between the jobs running side by side."""
    if cfg.trainer.num_threads:
        return cfg.trainer.num_threads
    return max(1, cpu_threads() // concurrent_jobs())


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
