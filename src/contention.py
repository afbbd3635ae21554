"""Was the machine the run's own while it was timed?  Busy neighbours, stolen CPU, oversubscribed threads.

A timing is only the runtime's own if nothing else competed for its cores.  The noise flag (IQR over 10%
of the median) catches scatter, not a run slowed uniformly: on a 2-core machine shared with other training
processes, every step of a `lightning` run took ~100 ms instead of ~0.5 ms, with a 1% IQR.  So the steady
loop is bracketed by two cheap samples (about 0.1 ms each, none per step) of

- this process's CPU time (all its threads) against the wall time: how many cores' worth it used;
- the time its threads spent runnable but waiting for a CPU (`/proc/self/task/*/schedstat`, the kernel's
  run delay): the direct measure of other work holding its cores;
- the machine's busy and stolen time on the cores it may use (`/proc/stat`): what other processes took,
  and what the hypervisor gave to other VMs (steal);
- the load average, and the CPU quota's throttled time (cgroup `cpu.stat`), where there is one;

and `classify` turns those figures into a verdict, `contended` with its reason in words.  Pure Python,
Linux's /proc only (elsewhere the figures it cannot read are None); no framework imported.
"""
from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

# Thresholds, measured on a 2-core VM (docs/benchmark.md#contention; tests/test_contention.py holds recorded
# figures).  Runs given priority over all other work waited 0-2% of the time on one thread, 4-15% on two;
# beside a busy loop per core, 57-90%.  Steal was at most 1.4%; there was no CPU quota.
WAIT = 0.10  # the run's threads waited for a CPU over this share of the wall time, per thread used,
WAIT_TURN_MS = 0.2  # ... over this long per turn on a CPU (a wake-up waits 25-75 us here, a turn behind another
# process 0.16 ms (JAX's pool) to 22 ms (OpenMP threads that spin)), or while other processes used
OTHERS = 0.15  # over this share of the cores the run's threads needed
STEAL = 0.05  # the hypervisor stole over this share of the usable cores' time
THROTTLED = 0.05  # a CPU quota throttled the run's cgroup over this share of the wall time
MIN_TICKS = 200  # /proc/stat's busy time is counted in ticks: fewer than this is too coarse to tell
TICK_S = 1 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


@dataclass(frozen=True)
class Sample:
    wall: float  # time.perf_counter()
    cpu_s: float  # this process's user + system time, all its threads (getrusage: microseconds)
    wait_s: float | None  # its threads' run delay: runnable, waiting for a CPU (schedstat: nanoseconds)
    slices: int | None  # its threads' turns on a CPU (schedstat's third field): the waits' count
    os_threads: int | None  # its threads now (/proc/self/task)
    busy_ticks: int | None  # the usable cores' busy ticks (/proc/stat), every process's
    steal_ticks: int | None
    total_ticks: int | None
    load: float | None  # the 1-minute load average
    throttled_s: float | None  # the cgroup's CPU-quota throttled time, where there is a quota
    involuntary: int  # involuntary context switches (getrusage)
    cores: int  # the cores the process may use (its affinity), whose /proc/stat lines are read


def _usable() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return list(range(os.cpu_count() or 1))


def _proc_stat(cores: list[int]) -> tuple[int, int, int] | None:
    """(busy, steal, total) ticks of `cores`: busy is user+nice+system+irq+softirq (guest is inside user)."""
    want = {f"cpu{c}" for c in cores}
    busy = steal = total = 0
    try:
        with open("/proc/stat") as f:
            for line in f:
                name, *values = line.split()
                if name not in want:
                    continue
                v = [int(x) for x in values[:8]] + [0] * (8 - len(values[:8]))
                user, nice, system, _idle, _iowait, irq, softirq, st = v
                busy += user + nice + system + irq + softirq
                steal += st
                total += sum(v)
    except (OSError, ValueError):
        return None
    return busy, steal, total


def _run_delay() -> tuple[float, int, int] | None:
    """Seconds the process's threads have waited runnable for a CPU, summed; their turns on a CPU; how many
    threads it has."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    wait_ns = slices = 0
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                _, wait, turns = f.read().split()[:3]
            wait_ns, slices = wait_ns + int(wait), slices + int(turns)
        except (OSError, ValueError):  # a thread that ended meanwhile
            continue
    return wait_ns / 1e9, slices, len(tids)


_CPU_STAT = ("/sys/fs/cgroup/cpu.stat", "/sys/fs/cgroup/cpu/cpu.stat", "/sys/fs/cgroup/cpu,cpuacct/cpu.stat")


def _throttled() -> float | None:
    """Seconds the cgroup's CPU quota held this process's group back (cgroup v2 throttled_usec, v1 ns)."""
    for path in _CPU_STAT:
        try:
            with open(path) as f:
                fields = dict(line.split() for line in f if line.strip())
        except (OSError, ValueError):
            continue
        if "throttled_usec" in fields:
            return int(fields["throttled_usec"]) / 1e6
        if "throttled_time" in fields:
            return int(fields["throttled_time"]) / 1e9
    return None


def sample() -> Sample:
    """One reading of everything `figures` compares; about 0.1 ms (TensorFlow's 50 threads: ~0.5 ms)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    delay = _run_delay()
    cores = _usable()
    stat = _proc_stat(cores)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return Sample(wall=time.perf_counter(), cpu_s=usage.ru_utime + usage.ru_stime,
                  wait_s=delay and delay[0], slices=delay and delay[1], os_threads=delay and delay[2],
                  busy_ticks=stat and stat[0], steal_ticks=stat and stat[1], total_ticks=stat and stat[2],
                  load=load, throttled_s=_throttled(), involuntary=usage.ru_nivcsw, cores=len(cores))


def figures(start: Sample, end: Sample, threads: int, steps: int) -> dict:
    """What happened between two samples, as result.json keeps it: JSON-able, every key always present."""
    wall = max(end.wall - start.wall, 1e-9)
    cores = end.cores
    cpu_cores = (end.cpu_s - start.cpu_s) / wall  # cores' worth this process used
    out = {
        "window_s": wall,
        "steps": steps,
        "threads": threads,
        "cores_usable": cores,
        "os_threads": end.os_threads,
        "cpu_per_wall": cpu_cores,
        "wait_per_wall": None, "wait_per_turn_ms": None, "machine_busy_cores": None, "others_cores": None,
        "others_share": None,
        "steal_share": None, "throttled_share": None,
        "load_start": start.load, "load_end": end.load,
        "involuntary_switches_per_step": (end.involuntary - start.involuntary) / max(steps, 1),
    }
    if start.wait_s is not None and end.wait_s is not None:
        # Per thread used: 0.5 means each of its threads waited, on average, half the time.
        out["wait_per_wall"] = (end.wait_s - start.wait_s) / wall / max(1, min(threads, cores))
        if start.slices is not None and end.slices is not None and end.slices > start.slices:
            # A wake-up on an idle core waits microseconds; a turn behind another process, milliseconds.
            out["wait_per_turn_ms"] = (end.wait_s - start.wait_s) / (end.slices - start.slices) * 1e3
    if start.total_ticks is not None and end.total_ticks is not None:
        ticks = max(end.total_ticks - start.total_ticks, 1)
        busy = (end.busy_ticks - start.busy_ticks) * TICK_S / wall
        out["machine_busy_cores"] = busy
        out["others_cores"] = max(0.0, busy - cpu_cores)
        # Others could use the cores this run's threads left spare without hurting it: what counts is what
        # they took of the cores its threads needed.
        need = max(1, min(threads, cores))
        out["others_share"] = max(0.0, out["others_cores"] - (cores - need)) / need
        out["steal_share"] = (end.steal_ticks - start.steal_ticks) / ticks
    if start.throttled_s is not None and end.throttled_s is not None:
        out["throttled_share"] = (end.throttled_s - start.throttled_s) / wall
    out["oversubscribed"] = threads > cores
    return out


def classify(f: dict) -> tuple[bool, str]:
    """(contended, reason): whether other work competed for the run's cores, or its CPU was stolen or
    throttled, beyond the thresholds above; the reason in words, also when it was not.

    The run's threads' own waiting is the direct measure: another process on a core a thread of the run
    needs makes that thread wait, and a process that only used the cores the run left idle does not (the
    machine's busy figure alone cannot tell the two apart).  Where the kernel does not report the waiting,
    the machine's busy time stands in for it, on a window long enough for /proc/stat's 10 ms ticks."""
    reasons = []
    wait, turn, others = f.get("wait_per_wall"), f.get("wait_per_turn_ms"), f.get("others_share") or 0
    # Waits of a few microseconds each, with no other work on the cores, are wake-ups of idle cores.
    if wait is not None and wait > WAIT and (turn is None or turn > WAIT_TURN_MS or others > OTHERS):
        reasons.append(f"its threads waited for a CPU {wait:.0%} of the time")
    if (wait is None and others > OTHERS
            and (f.get("window_s") or 0) * (f.get("cores_usable") or 1) >= MIN_TICKS * TICK_S):
        reasons.append(f"other processes used {f['others_cores']:.2f} of the {f['cores_usable']} cores")
    if (f.get("steal_share") or 0) > STEAL:
        reasons.append(f"the hypervisor stole {f['steal_share']:.0%} of the CPU time")
    if (f.get("throttled_share") or 0) > THROTTLED:
        reasons.append(f"a CPU quota throttled it {f['throttled_share']:.0%} of the time")
    if reasons:
        if f.get("others_cores") is not None and wait is not None:
            reasons.append(f"other processes used {f['others_cores']:.2f} of the {f['cores_usable']} cores")
        if f.get("oversubscribed"):
            reasons.append(f"{f['threads']} threads on {f['cores_usable']} cores")
        if f.get("load_end") is not None:
            reasons.append(f"load average {f['load_end']:.2f}")
        return True, "; ".join(reasons)
    if wait is None and f.get("others_share") is None:
        return False, "unknown: no /proc to read here"
    return False, "quiet: no other work competed for its cores"


# Steps the benchmark also wants sampled (1-based step numbers), process-wide, the samples at them, and the
# seconds each took (it falls between two steps' events, so the benchmark takes it out of its block's time).
EXTRA: set[int] = set()
TAKEN: dict[int, Sample] = {}
COST: dict[int, float] = {}
LAST: Sample | None = None  # this process's previous run's last sample (see since)


class Watch:
    """The samples a run takes: at the end of its first step (after the first step's builds: the steady loop
    starts there) and at its last, plus any steps asked for through `extra` (the benchmark's blocks).  Its
    per-step cost is one set lookup; a sample is taken outside every step's timed span."""

    def __init__(self, first_step: int, last_step: int):
        self.first, self.last = first_step + 1, last_step
        self.at = {self.first, self.last} | EXTRA
        self.samples: dict[int, Sample] = {}
        TAKEN.clear()
        COST.clear()

    def take(self, step: int) -> None:
        t = time.perf_counter()
        s = self.samples[step] = sample()
        if step in EXTRA:
            TAKEN[step] = s
            COST[step] = time.perf_counter() - t

    def verdict(self, threads: int, step_no: int) -> tuple[dict | None, bool | None, str]:
        """(figures, contended, reason) over the steps after the first up to `step_no`, the last recorded
        (sampled now if the run stopped before its last step)."""
        start = self.samples.get(self.first)
        if start is None or step_no <= self.first:
            return None, None, "too few steps to tell (it needs 2 after the first)"
        end = self.samples.get(step_no) or sample()
        global LAST
        LAST = end
        f = figures(start, end, threads, step_no - self.first)
        contended, reason = classify(f)
        return f, contended, reason


def summary_line(result: dict) -> str | None:
    """The console summary's line for a contended run, else None."""
    if not result.get("contended"):
        return None
    return (f"  contended   {result.get('contended_reason')}: not the runtime's own timing "
            "(docs/benchmark.md#contention)")


def caveat(row: dict, partner: dict | None) -> str | None:
    """For a sweep's answer sentences (src/answer.py caveats): why a break-even of `row` against `partner` (its
    dynamic runtime, or None) is not to be trusted, with the command that measures the pair alone; None when
    both ran uncontended."""
    bad = [r for r in (row, partner) if r and r.get("contended")]
    if not bad:
        return None
    who = " and ".join(f"{r.get('runtime')} ran contended ({r.get('contended_reason')})" for r in bad)
    runtimes = ",".join(dict.fromkeys(r.get("runtime") for r in (row, partner) if r and r.get("runtime")))
    model, steps = row.get("model"), row.get("steps")
    alone = f"python train.py -m model={model} runtime={runtimes}" + (f" trainer.max_steps={steps}" if steps else "")
    return (f"that break-even is not trustworthy: {who}; measure the pair alone, on a quiet machine: {alone}, "
            f"or side by side: python bench.py --models {model} --runners {runtimes}")


RECENT_S = 2.0  # how recent the previous run's last sample must be to stand for this run's import


def since(before: Sample) -> Sample:
    """What to measure the cores other processes kept busy from: `before` (taken before the framework's
    import), or where the framework was imported already (a sweep's later jobs in one process: the import
    takes no time) the previous run's last sample, so the window spans the time between the two runs -- if
    that ended just before (a sweep's next job starts within a second): older, the window would hold whatever
    this process started in between (a test's subprocesses), none of it competing with this run."""
    now = time.perf_counter()
    if LAST is not None and now - before.wall < 0.25 and now - LAST.wall < RECENT_S:
        return LAST
    return before


def fit_threads(threads: int, before: Sample, after: Sample) -> tuple[int, str | None]:
    """The threads a run should use, given what other processes used of its cores between two samples (the
    framework's import, ~0.4-3 s of one thread of the run's own): `threads`, less one per core the others
    kept busy, at least 1; with why, where it is fewer.

    Why: PyTorch's OpenMP threads (libgomp) spin-wait at the end of every parallel op for the others of the
    team; with as many threads as cores and another process busy on them, a step waits for a descheduled
    thread's turn, every op: measured, lightning beside a busy loop per core took 88 ms a step on two threads
    (0.87 ms alone), 4.6 ms on one (docs/benchmark.md#contention)."""
    f = figures(before, after, threads, 1)
    others = f["others_cores"]
    if others is None or f["window_s"] * f["cores_usable"] < MIN_TICKS * TICK_S / 4:
        return threads, None  # no /proc/stat, or too short a window to read it
    free = f["cores_usable"] - int(others + 0.25)  # a core counts as taken from 0.75 of it busy
    fitted = max(1, min(threads, free))
    if fitted >= threads:
        return threads, None
    return fitted, (f"{fitted} thread{'s' * (fitted > 1)}, not {threads}: other processes kept {others:.1f} of the "
                    f"{f['cores_usable']} cores busy as the run started, and threads that outnumber the free cores "
                    "spin-wait for each other (docs/benchmark.md#contention); trainer.num_threads="
                    f"{threads} uses {threads} anyway")


def blocks(samples: dict[int, Sample], bounds: list[tuple[int, int]], threads: int) -> list[tuple[bool | None, str]]:
    """The verdict of each of the benchmark's blocks, (first, last) step-end indices, from the samples taken at
    their steps (step i + 1 ends at index i)."""
    out = []
    for a, b in bounds:
        start, end = samples.get(a + 1), samples.get(b + 1)
        out.append(classify(figures(start, end, threads, b - a)) if start and end else (None, "not sampled"))
    return out
