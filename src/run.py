"""One training run, from a composed config to result.json: validation, the seeded start, the
runtime, and what the user sees when it ends (a summary, or a one-line error)."""
from __future__ import annotations

from src import runtimes
from src.config import cpu_threads, validate
from src.problem import make_problem
from src.recorder import Diverged, Recorder, summary_text


def run(cfg, run_dir: str) -> dict:
    """Trains as `cfg` says, writing everything into `run_dir`; returns result.json's content.

    Raises GraphduelError for what the user can fix (after result.json records it)."""
    validate(cfg)
    runtimes.check(cfg)
    spec = runtimes.spec(cfg.runtime.name)
    problem = make_problem(cfg)
    recorder = Recorder(run_dir, cfg, framework=spec.framework, graph=spec.graph)
    threads = cfg.trainer.num_threads or cpu_threads()
    status = "failed"
    try:
        runtime = runtimes.load(cfg.runtime.name)
        recorder.runtime_imported()
        runtime.fit(problem, cfg, recorder, threads)
        status = "completed"
    except Diverged:
        status = "diverged"
        raise
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        result = recorder.finish(status)
        if result["steps"]:
            print(summary_text(result), flush=True)
    return result
