"""Step timing and its statistics: each step's loss and times, the graph builds and the steps they fell in,
the per-step values a runtime reported (Recorder.scalar), and their medians, worst and spread over the
steady steps.  Pure Python: no file, no framework."""
from __future__ import annotations

import statistics

NOISY = 0.10  # an interquartile range over this share of the median marks a timing noisy (torch.utils.benchmark's)
MAX_BUILDS = 100  # builds listed in result.json (all are counted)


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def spread(xs: list[float]) -> float | None:
    """The interquartile range of xs (None for fewer than 4)."""
    if len(xs) < 4:
        return None
    q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q3 - q1


class Steps:
    """What the steps of one run measured, in step order.  A step's number is its position: the last recorded
    step is `step_no`, the first `step_no - len(step_ms) + 1` (a resumed run's kept steps included)."""

    def __init__(self) -> None:
        self.step_no = 0
        self.losses: list[float] = []
        self.step_ms: list[float] = []
        self.compute_ms: list[float] = []
        self.nodes: list[int] = []  # graph nodes built per step (eager: every step; static: at builds)
        # Graph builds (traces, compiles), as the runtime reports them: counted, timed, and the steps they
        # fell in.
        self.compiles = 0
        self.compile_s = 0.0
        self.builds: list[dict] = []  # the first MAX_BUILDS, with their step, time, kind and reason
        self.build_steps: set[int] = set()
        self.pending_ms = 0.0  # build time reported since the last step (or before the loop)
        self.pending_nodes = 0
        # The runtime's own per-step values (Recorder.scalar): tag -> {step: value}, and those of the step in
        # flight, until it is recorded.
        self.values: dict[str, dict[int, float]] = {}
        self.pending_values: dict[str, float] = {}

    def build(self, step: int, seconds: float, what: str, reason: str | None, nodes: int, count: bool) -> dict:
        self.compiles += count
        self.compile_s += seconds
        self.pending_ms += seconds * 1e3
        self.pending_nodes += nodes
        self.build_steps.add(step)
        build = {"step": step, "ms": round(seconds * 1e3, 3), "what": what, "reason": reason}
        if len(self.builds) < MAX_BUILDS:
            self.builds.append(build)
        return build

    def take_setup(self) -> tuple[float, int]:
        """The builds reported before the first step (the setup's): their ms and nodes, now counted."""
        out = self.pending_ms, self.pending_nodes
        self.pending_ms, self.pending_nodes = 0.0, 0
        return out

    def add(self, loss: float, step_ms: float, compute_ms: float) -> tuple[float, float, int, dict[str, float]]:
        """Records step `step_no + 1`; returns its compute ms (less the builds inside it), its builds' ms,
        its graph nodes and the runtime's values for it."""
        self.step_no += 1
        build_ms = self.pending_ms
        in_step_ms = build_ms if self.step_no in self.build_steps else 0.0  # builds inside this step
        compute_ms = max(compute_ms - in_step_ms, 0.0)
        nodes, values = self.pending_nodes, self.pending_values
        self.losses.append(loss)
        self.step_ms.append(step_ms)
        self.compute_ms.append(compute_ms)
        self.nodes.append(nodes)
        self.pending_ms = 0.0
        self.pending_nodes = 0
        if values:
            for tag, v in values.items():
                self.values.setdefault(tag, {})[self.step_no] = v
            self.pending_values = {}
        return compute_ms, build_ms, nodes, values

    def steady_ms(self) -> list[float]:
        """The steady state: the step times of the steps that built no graph (a static runtime's first
        steps of each kind did)."""
        first = self.step_no - len(self.step_ms) + 1
        return [ms for i, ms in enumerate(self.step_ms, first) if i not in self.build_steps]

    def summary(self) -> dict[str, dict]:
        """Each reported value's median and worst (its largest) over the steady steps that reported it; over
        all that did, where none was steady (a value reported only when a graph was built)."""
        out = {}
        for tag, by_step in self.values.items():
            steady = [v for s, v in by_step.items() if s not in self.build_steps] or list(by_step.values())
            out[tag] = {"median": median(steady), "worst": max(steady) if steady else None, "steps": len(by_step)}
        return out

    def fields(self) -> dict:
        """result.json's statistics of the steps."""
        steady = self.steady_ms()
        iqr = spread(steady)
        return {
            "steps": self.step_no,
            "first_loss": self.losses[0] if self.losses else None,
            "final_loss": self.losses[-1] if self.losses else None,
            "median_step_ms": median(self.step_ms),
            "median_compute_ms": median(self.compute_ms),
            "median_steady_ms": median(steady),
            # How far the steady-state times can be trusted: their interquartile range, and whether it is
            # over NOISY of their median (then compare runs only side by side, as the benchmark does).
            "iqr_steady_ms": iqr,
            "noisy": None if iqr is None else iqr > NOISY * statistics.median(steady),
            "compiles": self.compiles,
            "compile_s": self.compile_s,
            "nodes_per_step": median(self.nodes),
            "builds": self.builds,
            "summary": self.summary(),
        }
