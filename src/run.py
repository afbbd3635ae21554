"""One training run, from a composed config to result.json: validation, the seeded start, the
runtime, and what the user sees when it ends (a summary, or a one-line error)."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os

from src import checkpoint, compile_cache, contention, debugging, flops, owner, registry, runtimes
from src.config import cpu_threads, validate
from src.errors import ConfigError
from src.interrupt import GracefulStop, Interrupted
from src.problem import make_problem
from src.recorder import Diverged, Recorder, summary_text


def _launcher() -> dict:
    from hydra.core.hydra_config import HydraConfig

    return (HydraConfig.get().get("launcher") or {}) if HydraConfig.initialized() else {}


def resolve_threads(cfg) -> int:
    """trainer.num_threads; else what a cluster launcher reserved per job; else all cores, split
    between the jobs that a parallel launcher runs side by side on this machine.  A job run side by side
    never gets more threads than that share, even when trainer.num_threads asks for more (thread_warning
    says so); a job alone gets what it asks for (its timing then says it was oversubscribed)."""
    share, _, side_by_side = _share()
    asked = cfg.trainer.num_threads
    if asked:
        return min(asked, share) if side_by_side > 1 else asked
    return share


def _run_threads(run_dir: str) -> int | None:
    """The threads a resumed run trained with (its result.json), or None."""
    try:
        with open(os.path.join(run_dir, "result.json")) as f:
            return int(json.load(f)["threads"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def thread_warning(cfg) -> str | None:
    """One line when the job asked for more threads than the cores it may use (its share, beside the jobs a
    parallel launcher runs with it), since its threads would wait for each other's cores; else None."""
    share, reserved, side_by_side = _share()
    cores = cpu_threads()
    many = f"{share} core{'s' * (share > 1)}"
    asked = cfg.trainer.num_threads
    if asked and asked > share and side_by_side > 1:
        return (f"trainer.num_threads={asked} is more than the {many} this job may use beside the {side_by_side} "
                f"jobs run side by side on {cores}: it uses {share} (more would wait for each other's cores)")
    if asked and asked > share:
        return (f"trainer.num_threads={asked} is more than the {many} this job may use: its threads will wait "
                f"for each other's cores, so its timing is not the runtime's own; null uses {share}")
    if not asked and reserved and reserved > share:
        where = f" beside the {side_by_side} jobs run side by side on {cores}" if side_by_side > 1 else ""
        return (f"hydra.launcher.cpus_per_task={reserved} is more than the {many} this job may use{where}: "
                f"it uses {share}")
    return None


def _share() -> tuple[int, int | None, int]:
    """(the cores a job may use, what the launcher reserved for it if it did, the jobs run side by side)."""
    launcher = _launcher()
    target, cores = str(launcher.get("_target_", "")), cpu_threads()
    reserved = int(launcher["cpus_per_task"]) if launcher.get("cpus_per_task") else None
    if "joblib" in target:
        n = launcher.get("n_jobs") or 1
        side_by_side = n if n > 0 else cores + 1 + n  # joblib: -1 = all cores, -2 = all but one
    elif "LocalLauncher" in target:  # submitit_local starts every job of the sweep at once
        side_by_side = cores
    else:  # one job here (under Slurm, cpu_threads() already is the job's allocation)
        side_by_side = 1
    side_by_side = max(1, side_by_side)
    share = max(1, cores // side_by_side)
    return (min(reserved, share) if reserved else share), reserved, side_by_side


def is_rank_zero() -> bool:
    """False in the extra processes a DDP launcher starts (they re-run train.py with LOCAL_RANK)."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def run(cfg, run_dir: str, list_refused: bool = False) -> dict:
    """Trains as `cfg` says, writing everything into `run_dir`; returns result.json's content.

    Raises GraphduelError for what the user can fix (ConfigError, Diverged, Interrupted).  A run refused
    before it starts (a ConfigError, say trainer.accelerator=gpu without a GPU) writes nothing at all,
    unless `list_refused` (a sweep's job), where its result.json says why, for the sweep summary.  A
    directory that another process owns, or that holds another run, is refused with nothing written, even
    in a sweep (src/owner.py)."""
    recorder, status, error, held, untouched = None, "failed", None, None, False
    phase, failed = None, None  # what a debug.* run reports of a failure (src/debugging.py)
    with GracefulStop() as stop:
        try:
            validate(cfg)
            rt = registry.runtime(cfg.runtime.name)
            if is_rank_zero():  # one owner per run directory; DDP's other ranks write nothing
                held = owner.Owner.acquire(run_dir, resume=bool(cfg.resume))
                if not cfg.resume:
                    owner.refuse_if_holds_run(run_dir, sweep=list_refused)
            problem = make_problem(cfg)
            if cfg.resume:
                problem = resumed(problem, cfg)
            if held is not None:  # room for what it will write, checked before any framework is imported
                held.reserve(*(owner.resume_needs(run_dir, problem.start_step, cfg.trainer.max_steps)
                               if cfg.resume else ()), resume=bool(cfg.resume))
            threads = resolve_threads(cfg)
            recorder = Recorder(run_dir, cfg, framework=rt.framework, graph=rt.graph, threads=threads,
                                stop=stop, enabled=is_rank_zero(), problem=problem)
            if debugging.used(cfg):  # a probe or a fault: what came of it is measured (src/debugging.py)
                phase = debugging.Phase(recorder)
                debugging.record(recorder, "debug", {k: cfg.debug[k] for k in ("probe", "fault", "fault_step")})
            if (asked := thread_warning(cfg)) is not None:  # beyond every core the pre-flight said it already
                recorder.warn(asked, said=(cfg.trainer.num_threads or 0) > cpu_threads())
            recorder.status(f"{cfg.model.name} on {cfg.runtime.name}: importing {rt.framework}...")
            with compile_cache.active(cfg) as cache:  # before the import: the frameworks read it there
                recorder.record("compile_cache", cache.mode)
                if cache.mode == "warm":
                    recorder.record("compile_cache_dir", cache.dir)
                before = contention.sample()
                runtime = runtimes.load(cfg.runtime.name)
                if stop.signum is not None:  # stopped during the import: before the run builds or writes anything
                    raise Interrupted(stop.signum, problem.start_step)
                recorder.runtime_imported()
                kept = _run_threads(run_dir) if problem.start_step and cfg.trainer.num_threads is None else None
                if kept:  # a resume goes on with its run's threads: float32 sums in another order differ
                    threads = recorder.threads = min(kept, threads)
                elif cfg.trainer.num_threads is None:  # all cores by default: those other processes left free
                    threads, why = contention.fit_threads(threads, contention.since(before), contention.sample())
                    if why:
                        recorder.threads = threads
                        recorder.warn(why)
                with debugging.session(cfg, recorder) if phase else contextlib.nullcontext():
                    runtime.fit(problem, cfg, recorder, threads)
            status = "completed"
        except Diverged as e:
            status, error, failed = "diverged", str(e), e
            raise
        except (Interrupted, KeyboardInterrupt) as e:
            status, error = "interrupted", str(e) or "KeyboardInterrupt"
            raise
        except owner.Refused as e:
            untouched, error = True, str(e)
            raise
        except owner.DiskFull as e:
            if held is not None:
                held.free_reserve()  # room for result.json to say so
            explain_disk_full(e, recorder, cfg, run_dir)
            error = str(e)
            raise
        except BaseException as e:
            error, failed = str(e) or type(e).__name__, e
            raise
        finally:
            try:
                if recorder is None or not recorder.started:  # refused (or failed) before the run began
                    if list_refused and not cfg.resume and not untouched:
                        known = registry.RUNTIMES.get(cfg.runtime.name)
                        recorder = Recorder(run_dir, cfg, framework=known and known.framework,
                                            graph=known and known.graph, threads=cfg.trainer.num_threads or 0,
                                            enabled=is_rank_zero())
                        recorder.start(None)
                    else:
                        recorder = None
                if phase is not None and failed is not None and recorder is not None and recorder.started:
                    debugging.failure(cfg, recorder, phase, failed)
                if recorder is not None and recorder.started and recorder.problem is not None and recorder.step_ms:
                    flops.record(recorder, recorder.problem, cfg.trainer.peak_file)
                    recorder.record("steps_per_call", cfg.trainer.steps_per_call)
                try:
                    result = recorder.finish(status, error) if recorder else {"status": status, "steps": 0}
                except owner.DiskFull:  # not even the reserve was room enough: the error line says what is full
                    result = recorder.result(status, error)
                if result["steps"] and recorder.enabled:
                    print(summary_text(result), flush=True)
            finally:
                if held is not None:
                    held.release()
    return result


def explain_disk_full(e: owner.DiskFull, recorder, cfg, run_dir: str) -> None:
    """What the run needs to finish, from what it wrote so far, and how to continue it: added to e's line."""
    if recorder is None or not recorder.started:
        e.explain("nothing of the run was written; free some space and run this again")
        return
    recorder.abandon_events()
    logged = recorder.tblog.size
    per_step = logged / max(recorder.step_no, 1)
    done = recorder.checkpoint_step or 0
    ckpt = os.path.getsize(os.path.join(run_dir, checkpoint.FILE)) if done else \
        2 * sum(w.nbytes for w in recorder.problem.weights.values()) if recorder.problem else 0
    need = owner.needs(per_step, done, cfg.trainer.max_steps, per_step * done, logged, ckpt)
    text = owner.needs_text(per_step, done, cfg.trainer.max_steps, ckpt, need)
    more = max(need - owner.free_bytes(run_dir)[0], 0)
    how = f"continue it from its checkpoint with: {owner.resume_command(recorder.run_dir)}" if done else \
        "start it again in another directory (it stopped before its first checkpoint)"
    e.explain(f"{text}; free {owner.size_text(more)} more, then {how}")


def resumed(problem, cfg):
    """The problem, starting from the checkpoint in cfg.resume (refused, with why, if it can't)."""
    ckpt = checkpoint.load(cfg.resume)
    checkpoint.check_fits(ckpt, cfg.resume, problem.model, problem.weights, cfg_seed=cfg.seed)
    if ckpt.step >= cfg.trainer.max_steps:
        raise ConfigError(f"resume={cfg.resume}: that run already did {ckpt.step} steps; "
                          f"continue it with trainer.max_steps=N for some N above {ckpt.step}.")

    def cast(arrays):  # a checkpoint of the other precision continues at this run's
        return {k: v.astype(problem.dtype) for k, v in arrays.items()}

    return dataclasses.replace(problem, weights=cast(ckpt.weights), momentum_state=cast(ckpt.momentum),
                               start_step=ckpt.step)
