"""graphduel's sweeper: Hydra's basic sweeper, which first checks every job of the sweep.

Hydra finds it through the `hydra_plugins` namespace package; conf/config.yaml selects it
(`override hydra/sweeper: graphduel`).  Before any job runs, and before the sweep directory is made, it
expands the sweep exactly as the basic sweeper will (comma lists, range(), choice(), glob(), +key=,
an experiment's hydra.sweeper.params), composes each job's config with Hydra's own config loader, and
runs graphduel's checks on it: a bad value in job 7 stops the sweep before job 1 with one line and exit
code 2, and no framework imported.  Then it names each job by the values the sweep varies
(src/sweeps.py: `1_two_layer_lightning_lr=10`) and runs them as the basic sweeper does; with
`hydra.sweeper.list_jobs=true` it prints those names instead and runs nothing.
"""

import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser

from src.hydra_private import basic_sweeper


@dataclass
class GraphduelSweeperConf:
    _target_: str = "hydra_plugins.graphduel_sweeper.GraphduelSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None
    # true: check every job, print their names (one a line), run none (hydra.sweeper.list_jobs=true)
    list_jobs: bool = False


ConfigStore.instance().store(group="hydra/sweeper", name="graphduel", node=GraphduelSweeperConf,
                             provider="graphduel")


class GraphduelSweeper(basic_sweeper()):
    def __init__(self, max_batch_size: Optional[int] = None, params: Optional[Dict[str, str]] = None,
                 list_jobs: bool = False):
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.list_jobs = list_jobs

    def sweep(self, arguments: List[str]) -> Any:
        from src.cli import check_job, explain
        from src.errors import ConfigError
        from src.sweeps import job_name, varying

        try:
            jobs, names = self.jobs(arguments), []
            keys = varying(jobs)
            for num, job in enumerate(jobs):
                try:
                    cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(job))
                except Exception as e:  # Hydra's composition errors: one line, as for a single run
                    raise ConfigError(explain(e, list(job))) from None
                check_job(cfg, multirun=True)
                names.append(job_name(num, cfg.model.name, cfg.runtime.name, list(job), keys))
            self._names = names
            if self.list_jobs:  # what the sweep would run, each job composed and checked; nothing run or written
                print("\n".join(names))
                sys.exit(0)
        except ConfigError as e:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {e}", file=sys.stderr)
            sys.exit(e.exit_code)
        try:
            return super().sweep(arguments)
        except Exception as e:  # a launcher lost a job (a cluster job killed before it returned, say)
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            from src.summary import report

            first = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
            print(f"error: a job of the sweep did not return ({type(e).__name__}: {first}); what the jobs wrote so "
                  "far is summarised below. Jobs may still be running on a cluster: when they have ended, "
                  f"python -m src.summary {self.config.hydra.sweep.dir} rebuilds the summary.", file=sys.stderr)
            report(self.config.hydra.sweep.dir)
            sys.exit(1)

    def get_job_batch(self):
        """The next batch, each job named by what the sweep varies (src/sweeps.py)."""
        batch = super().get_job_batch()
        first = sum(len(b) for b in self.overrides[:self.batch_index - 1])
        return [[*job, f"hydra.sweep.subdir='{self._names[first + i]}'"] for i, job in enumerate(batch)]

    def jobs(self, arguments: List[str]) -> List[List[str]]:
        """Every job's overrides, in the order the basic sweeper will launch them."""
        from src.cli import explain
        from src.errors import ConfigError

        overrides = [*self._parse_config(), *arguments]
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        try:
            parsed = parser.parse_overrides(overrides)
            batches = self.split_arguments(parsed, self.max_batch_size)
        except Exception as e:
            raise ConfigError(explain(e, overrides)) from None
        return [job for batch in batches for job in batch]
