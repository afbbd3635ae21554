"""graphduel's sweeper: Hydra's basic sweeper, which first checks every job of the sweep.

Hydra finds it through the `hydra_plugins` namespace package; conf/config.yaml selects it
(`override hydra/sweeper: graphduel`).  Before any job runs, and before the sweep directory is made, it
expands the sweep exactly as the basic sweeper will (comma lists, range(), choice(), glob(), +key=,
an experiment's hydra.sweeper.params), composes each job's config with Hydra's own config loader, and
runs graphduel's checks on it: a bad value in job 7 stops the sweep before job 1 with one line and exit
code 2, and no framework imported.  Unless the user gave a hydra.sweep.subdir of their own, it names each
job by the values the sweep varies (src/sweeps.py: `1_two_layer_lightning_lr-10`).  Then it launches the
jobs as the basic sweeper does, batch by batch (with `hydra.sweeper.list_jobs=true` it prints the
jobs' names instead and runs nothing), and adds what docs/sweeps.md lists:

- a job that raises is reported by name with what it raised, every other job still runs, and the summary
  is written (the basic sweeper stops at the end of the batch and prints only the traceback);
- Ctrl-C (or SIGTERM) stops the sweep: running jobs stop after their step with a checkpoint, no other job
  starts, the summary of what ran is written, and one printed command continues the sweep: the same
  command with `resume=<sweep dir>`, which keeps the finished jobs, resumes the interrupted ones from their
  checkpoints and runs the rest.
"""

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional  # noqa: UP035  (Hydra's structured config: OmegaConf's typing)

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser

from src.hydra_private import basic_sweeper

# conf/config.yaml's hydra.sweep.subdir: left as it is, graphduel's sweeper names each job by what varies;
# any other value (the user's) is used as Hydra would.  Another sweeper uses this one as it stands.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SUBDIR = "${hydra.job.num}_${model.name}_${runtime.name}"


@dataclass
class GraphduelSweeperConf:
    _target_: str = "hydra_plugins.graphduel_sweeper.GraphduelSweeper"
    max_batch_size: Optional[int] = None  # noqa: UP045
    params: Optional[Dict[str, str]] = None  # noqa: UP006, UP045
    # true: check every job, print their names (one a line), run none (hydra.sweeper.list_jobs=true)
    list_jobs: bool = False


ConfigStore.instance().store(group="hydra/sweeper", name="graphduel", node=GraphduelSweeperConf,
                             provider="graphduel")


@dataclass
class _Job:
    num: int
    overrides: list[str]  # as expanded from the command line
    dir: str  # its output directory (absolute)
    name: str | None  # graphduel's name for it, None under the user's own subdir
    state: str = "start"  # src.sweeps.job_state: start, resume or finished


class GraphduelSweeper(basic_sweeper()):
    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None,
                 list_jobs: bool = False):
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.list_jobs = list_jobs

    def sweep(self, arguments: list[str]) -> Any:
        from src.errors import ConfigError

        try:
            jobs, sweep_dir, resuming = self.plan(arguments)
            if self.list_jobs:  # what the sweep would run, each job composed and checked; nothing run or written
                print("\n".join(os.path.relpath(j.dir, sweep_dir) for j in jobs))
                sys.exit(0)
        except ConfigError as e:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {e}", file=sys.stderr)
            sys.exit(e.exit_code)
        return self.run_jobs(jobs, sweep_dir, resuming)

    # -- before any job runs ---------------------------------------------------------------------------
    def plan(self, arguments: list[str]):
        """Every job, checked, with its directory and (continuing a sweep) what becomes of it."""
        from omegaconf import OmegaConf, open_dict, read_write

        from src import hparams, registry, sweeps
        from src.cli import _resume_dir, check_job, explain
        from src.errors import ConfigError

        resume = _resume_dir(arguments)  # the directory, as the pre-flight reads it
        arguments = [a for a in arguments if not a.startswith("resume=")]
        resuming = resume is not None
        if resuming:
            sweep_dir = os.path.abspath(resume)
            if not os.path.isfile(os.path.join(sweep_dir, "multirun.yaml")):
                raise ConfigError(f"resume={resume} with -m continues a sweep, but that is no sweep's directory "
                                  "(no multirun.yaml there): give the directory the sweep printed.")
            with read_write(self.config), open_dict(self.config):
                self.config.hydra.sweep.dir = sweep_dir
        else:
            sweep_dir = os.path.abspath(str(self.config.hydra.sweep.dir))
        subdir = OmegaConf.to_container(self.config.hydra.sweep, resolve=False).get("subdir")
        named = subdir == DEFAULT_SUBDIR  # else the user's own subdir wins
        expanded = self.jobs(arguments)
        keys = sweeps.varying(expanded)
        jobs, every = [], []
        for num, job in enumerate(expanded):
            extra = [f"hydra.sweep.dir={sweeps.quoted(sweep_dir)}"] if resuming else []
            try:
                cfg = self.hydra_context.config_loader.load_sweep_config(self.config, [*job, *extra])
            except Exception as e:  # Hydra's composition errors: one line, as for a single run
                raise ConfigError(explain(e, list(job))) from None
            check_job(cfg, multirun=True)
            name = sweeps.job_name(num, len(expanded), cfg.model.name, cfg.runtime.name, list(job), keys) \
                if named else None
            if name is None:
                with read_write(cfg), open_dict(cfg):
                    cfg.hydra.job.num = cfg.hydra.job.id = num
                name_dir = str(OmegaConf.select(cfg, "hydra.sweep.subdir"))
            else:
                name_dir = name
            rt = registry.RUNTIMES.get(cfg.runtime.name)
            info = {"model": cfg.model.name, "runtime": cfg.runtime.name, "framework": rt and rt.framework,
                    "graph": rt and rt.graph, "seed": cfg.seed}
            every.append(hparams.values(cfg, info, threads=0))
            jobs.append(_Job(num, list(job), os.path.join(sweep_dir, name_dir), name))
        if resuming:
            self._check_resume(jobs, sweep_dir)
        self._differs = sweeps.differing_hparams(self._swept(arguments))
        self._every = every
        return jobs, sweep_dir, resuming

    def _swept(self, arguments: list[str]) -> set:
        parsed = OverridesParser.create().parse_overrides([*self._parse_config(), *arguments])
        return {p.key_or_group for p in parsed if p.is_sweep_override()}

    def _check_resume(self, jobs: list[_Job], sweep_dir: str) -> None:
        """Continuing a sweep: each job's directory, if it has one, must hold that very job (the same
        overrides), and no directory may hold a job this command does not have; an interrupted job's
        checkpoint must fit it.  Refused in one line, with nothing changed."""
        from omegaconf import OmegaConf

        from src import sweeps
        from src.cli import _task
        from src.errors import ConfigError
        from src.problem import make_problem
        from src.run import resumed

        mine = {os.path.normpath(j.dir) for j in jobs}
        theirs = {os.path.normpath(str(p.parent)) for p in Path(sweep_dir).glob("**/result.json")}
        theirs |= {os.path.normpath(str(p.parent.parent)) for p in Path(sweep_dir).glob("**/.hydra/overrides.yaml")}
        strangers = sorted(os.path.relpath(d, sweep_dir) for d in theirs - mine)
        if strangers:
            raise ConfigError(f"resume={sweep_dir}: the sweep there has jobs this command does not "
                              f"({', '.join(strangers[:3])}{' ...' if len(strangers) > 3 else ''}): continue it with "
                              "the command it printed, the same overrides plus resume=.")
        for j in jobs:
            j.state, _ = sweeps.job_state(j.dir)
            saved = Path(j.dir) / ".hydra" / "overrides.yaml"
            if saved.is_file():
                had = [o for o in OmegaConf.to_container(OmegaConf.load(saved)) if not o.startswith("resume=")]
                now = [o for o in j.overrides if not o.split("=", 1)[0].lstrip("+~").startswith("hydra.")]
                if sorted(had) != sorted(now):
                    was, new = sorted(set(had) - set(now)) or ["defaults"], sorted(set(now) - set(had)) or ["defaults"]
                    raise ConfigError(f"resume={sweep_dir}: job {os.path.relpath(j.dir, sweep_dir)} ran with "
                                      f"{' '.join(was)}, this command gives it {' '.join(new)}: continue the sweep "
                                      "with the command it printed, the same overrides plus resume=.")
            if j.state == "resume":
                cfg = self.hydra_context.config_loader.load_sweep_config(
                    self.config, [*j.overrides, f"resume={sweeps.quoted(j.dir)}"])
                task = _task(cfg)
                resumed(make_problem(task), task)  # refuses a checkpoint that does not fit, or no steps left

    # -- running them -----------------------------------------------------------------------------------
    def run_jobs(self, jobs: list[_Job], sweep_dir: str, resuming: bool) -> Any:
        from omegaconf import OmegaConf

        from src import sweeps

        os.makedirs(sweep_dir, exist_ok=True)
        OmegaConf.save(self.config, os.path.join(sweep_dir, "multirun.yaml"))
        sweeps.write_experiment(sweep_dir, self._every, self._differs)
        sweeps.clear_stop(sweep_dir)
        for j in jobs if resuming else []:  # a continued sweep's jobs that start again: without partial logs
            if j.state == "start":
                sweeps.clear_for_restart(j.dir)
        returns, failed, lost = [], [], None
        first = 0
        with sweeps.SweepStop(sweep_dir) as stop:
            try:
                for batch in self.overrides:
                    for start, run in _runs([j for j in jobs[first:first + len(batch)] if j.state != "finished"]):
                        if stop.signum is not None:
                            break
                        results = self.launcher.launch([self._overrides(j, sweep_dir, resuming) for j in run],
                                                       initial_job_idx=start)
                        returns.append(results)
                        failed += [(j, r) for j, r in zip(run, results) if str(r.status) == "JobStatus.FAILED"]
                    first += len(batch)
            except (KeyboardInterrupt, SystemExit) as e:  # a second Ctrl-C: what ran is summarised all the same
                code = getattr(e, "code", None)
                sweeps.stop_sweep(sweep_dir, code - 128 if isinstance(code, int) and code > 128 else signal.SIGINT)
            except Exception as e:  # a launcher lost a job (a cluster job killed before it returned, say)
                lost = e
        signum = sweeps.stopped(sweep_dir)
        if signum is not None:  # stopped: what its jobs did (a submitit job that stopped did not return)
            self._interrupted(jobs, sweep_dir, signum)
        if lost is not None:
            self._lost(lost, sweep_dir)
        if failed:
            self._failed(failed, sweep_dir)
        return returns

    def _overrides(self, j: _Job, sweep_dir: str, resuming: bool) -> list[str]:
        from src import sweeps

        out = list(j.overrides)
        if j.name is not None:
            out.append(f"hydra.sweep.subdir={sweeps.quoted(j.name)}")
        if resuming:
            out.append(f"hydra.sweep.dir={sweeps.quoted(sweep_dir)}")
        if j.state == "resume":
            out.append(f"resume={sweeps.quoted(j.dir)}")
        return out

    def _lost(self, e: Exception, sweep_dir: str) -> None:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise e
        from src.summary import report

        first = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
        print(f"error: a job of the sweep did not return ({type(e).__name__}: {first}); what the jobs wrote so "
              "far is summarised below. Jobs may still be running on a cluster: when they have ended, "
              f"python -m src.summary {sweep_dir} rebuilds the summary.", file=sys.stderr)
        report(sweep_dir)
        sys.exit(1)

    def _interrupted(self, jobs: list[_Job], sweep_dir: str, signum: int) -> None:
        """The summary of what ran, the jobs that did not finish or did not start, the command that continues."""
        from src import sweeps
        from src.summary import report

        report(sweep_dir)
        unfinished, unstarted = [], []
        for j in jobs:
            state, result = sweeps.job_state(j.dir)
            name = os.path.relpath(j.dir, sweep_dir)
            if state == "finished":
                continue
            if result is None:
                unstarted.append(name)
            else:
                at = result.get("checkpoint_step")
                unfinished.append(f"{name} ({result.get('status')} after step {result.get('steps')}"
                                  + (f", resumes from step {at})" if state == "resume" and at else ", starts again)"))
        sweeps.clear_stop(sweep_dir)
        lines = [f"graphduel: the sweep was stopped by {signal.Signals(signum).name}."]
        if unfinished:
            lines.append(f"  did not finish ({len(unfinished)}): {', '.join(unfinished)}")
        if unstarted:
            lines.append(f"  did not start ({len(unstarted)}): {', '.join(unstarted)}")
        lines.append(f"  continue with: {sweeps.continue_command(sys.argv, sweep_dir)}")
        print("\n".join(lines), file=sys.stderr, flush=True)
        sys.exit(128 + signum)

    def _failed(self, failed: list, sweep_dir: str) -> None:
        """Jobs that raised: which, and what, with Hydra's pointer to the whole traceback; then the summary."""
        from src.summary import report

        report(sweep_dir)
        for j, r in failed:
            e = r._return_value
            where, tb = "", getattr(e, "__traceback__", None)  # the last line of graphduel's own it ran
            while tb is not None:
                path = tb.tb_frame.f_code.co_filename
                if path.startswith(ROOT + os.sep) and os.sep + "site-packages" + os.sep not in path:
                    where = f" (at {os.path.relpath(path, ROOT)}:{tb.tb_lineno})"
                tb = tb.tb_next
            what = next((line.strip() for line in str(e).splitlines() if line.strip()), "")
            print(f"error: job {os.path.relpath(j.dir, sweep_dir)} failed with {type(e).__name__}"
                  f"{': ' + what if what else ''}{where}", file=sys.stderr)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise failed[0][1]._return_value
        print("Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.", file=sys.stderr)
        sys.exit(1)

    def jobs(self, arguments: list[str]) -> list[list[str]]:
        """Every job's overrides, in the order the basic sweeper would launch them (self.overrides: batches)."""
        from src.cli import explain
        from src.errors import ConfigError

        overrides = [*self._parse_config(), *arguments]
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        try:
            parsed = parser.parse_overrides(overrides)
            self.overrides = self.split_arguments(parsed, self.max_batch_size)
        except Exception as e:
            raise ConfigError(explain(e, overrides)) from None
        return [job for batch in self.overrides for job in batch]


def _runs(jobs: list[_Job]):
    """(first job number, jobs) for each run of consecutive job numbers: a launcher numbers the jobs it
    launches from the first one's, and hydra.job.num must stay each job's own."""
    run: list[_Job] = []
    for j in jobs:
        if run and j.num != run[-1].num + 1:
            yield run[0].num, run
            run = []
        run.append(j)
    if run:
        yield run[0].num, run
