"""The contention verdict (src/contention.py): a pure function of a run's figures, tested on figures recorded
on this 2-core VM; the samples' arithmetic; the threads a run takes when other work holds some cores."""
from __future__ import annotations

import pytest

from src import contention

pytestmark = pytest.mark.unit


# Recorded here (/tmp study scripts, 01:20 UTC, load average ~14 from the other helpers' work): the plain torch
# loop, two_layer, 600 steps.  "Quiet": its own autogroup at nice -20, so other work yields to it; "busy": nice
# 0 beside a `while True: pass` per core.
QUIET = {"window_s": 0.201, "steps": 550, "threads": 2, "cores_usable": 2, "os_threads": 4, "cpu_per_wall": 1.845,
         "wait_per_wall": 0.072, "wait_per_turn_ms": 1.214, "machine_busy_cores": 2.036, "others_cores": 0.191,
         "others_share": 0.095, "steal_share": 0.0, "throttled_share": 0.0, "load_start": 14.113, "load_end": 14.113,
         "involuntary_switches_per_step": 0.044, "oversubscribed": False}  # 0.308 ms a step
# OpenMP threads that sleep (OMP_WAIT_POLICY=passive) wait for every wake-up, briefly: 21% of the time, 25 us a turn,
# while other processes ran on the cores they left.
QUIET_PASSIVE = {"window_s": 0.365, "steps": 550, "threads": 2, "cores_usable": 2, "os_threads": 4,
                 "cpu_per_wall": 0.83, "wait_per_wall": 0.207, "wait_per_turn_ms": 0.025, "machine_busy_cores": 1.999,
                 "others_cores": 1.169, "others_share": 0.585, "steal_share": 0.014, "throttled_share": 0.0,
                 "load_start": 14.023, "load_end": 14.023, "involuntary_switches_per_step": 0.016,
                 "oversubscribed": False}  # 0.378 ms a step
# One thread; other work used the core it left idle: not the run's business.
QUIET_SPARE_CORE = {"window_s": 0.22, "steps": 550, "threads": 1, "cores_usable": 2, "os_threads": 2,
                    "cpu_per_wall": 0.981, "wait_per_wall": 0.019, "wait_per_turn_ms": 0.372,
                    "machine_busy_cores": 2.004, "others_cores": 1.023, "others_share": 0.023, "steal_share": 0.0,
                    "throttled_share": 0.0, "load_start": 14.023, "load_end": 14.023,
                    "involuntary_switches_per_step": 0.02, "oversubscribed": False}  # 0.386 ms a step
# Beside a busy loop per core: 23 s for 550 steps (42 ms a step on average, median 0.325 ms).
BUSY = {"window_s": 22.989, "steps": 550, "threads": 2, "cores_usable": 2, "os_threads": 4, "cpu_per_wall": 0.166,
        "wait_per_wall": 0.764, "wait_per_turn_ms": 21.151, "machine_busy_cores": 1.998, "others_cores": 1.832,
        "others_share": 0.916, "steal_share": 0.001, "throttled_share": 0.0, "load_start": 14.018, "load_end": 13.847,
        "involuntary_switches_per_step": 2.3, "oversubscribed": False}


def recorded(**changes) -> dict:
    return {**QUIET, **changes}


# No steal nor quota was seen here (steal at most 1.4%): the quiet figures with 30% stolen, 25% throttled.
STOLEN = recorded(window_s=5.0, steal_share=0.30)
THROTTLED = recorded(window_s=5.0, throttled_share=0.25)


def test_a_quiet_run_is_not_contended():
    assert contention.classify(QUIET) == (False, "quiet: no other work competed for its cores")
    assert contention.classify(QUIET_SPARE_CORE)[0] is False
    # Short waits (wake-ups of sleeping OpenMP threads, 25 us each) on cores nothing else used: not contended.
    assert contention.classify({**QUIET_PASSIVE, "others_cores": 0.1, "others_share": 0.05})[0] is False


def test_a_run_beside_busy_loops_is_contended_with_why():
    contended, reason = contention.classify(BUSY)
    assert contended
    assert "its threads waited for a CPU 76% of the time" in reason
    assert "other processes used 1.83 of the 2 cores" in reason and "load average 13.85" in reason
    assert contention.classify({**BUSY, "wait_per_turn_ms": None})[0]  # a kernel without turns: the share alone


def test_stolen_and_throttled_cpu_make_a_run_contended():
    assert contention.classify(STOLEN) == (True, ("the hypervisor stole 30% of the CPU time; other processes used "
                                                  "0.19 of the 2 cores; load average 14.11"))
    assert contention.classify(THROTTLED)[1].startswith("a CPU quota throttled it 25% of the time")


@pytest.mark.parametrize("key, limit", [("wait_per_wall", contention.WAIT), ("steal_share", contention.STEAL),
                                        ("throttled_share", contention.THROTTLED)])
def test_each_threshold_is_where_the_verdict_turns(key, limit):
    assert contention.classify(recorded(**{key: limit * 0.9}))[0] is False
    assert contention.classify(recorded(**{key: limit * 1.1}))[0] is True


def test_waiting_counts_when_each_wait_is_a_turn_behind_other_work_or_others_held_the_cores():
    waited = recorded(wait_per_wall=0.5)
    assert contention.classify({**waited, "wait_per_turn_ms": contention.WAIT_TURN_MS * 0.9})[0] is False
    assert contention.classify({**waited, "wait_per_turn_ms": contention.WAIT_TURN_MS * 1.1})[0] is True
    # The same short waits while other processes used 1.17 of the 2 cores (recorded): contended.
    assert contention.classify(QUIET_PASSIVE)[1].startswith("its threads waited for a CPU 21% of the time")
    # jax_jit beside a busy loop per core (recorded): many short turns, 57% of the time waiting.
    jax = {**BUSY, "wait_per_wall": 0.568, "wait_per_turn_ms": 0.155, "others_cores": 1.632, "others_share": 0.816}
    assert contention.classify(jax)[0] is True


def test_without_the_kernels_wait_figures_the_machines_busy_time_stands_in():
    # No schedstat: the others' share decides, on a window of enough /proc/stat ticks only.
    assert contention.classify({**BUSY, "wait_per_wall": None})[0]
    assert not contention.classify({**BUSY, "wait_per_wall": None, "window_s": 0.22})[0]
    nothing = recorded(wait_per_wall=None, others_cores=None, others_share=None, steal_share=None)
    assert contention.classify(nothing) == (False, "unknown: no /proc to read here")


def test_oversubscribed_threads_are_named_in_the_reason():
    _, reason = contention.classify(recorded(threads=4, oversubscribed=True, wait_per_wall=0.5))
    assert "4 threads on 2 cores" in reason


def test_figures_from_two_samples():
    a = contention.Sample(wall=10.0, cpu_s=1.0, wait_s=0.5, slices=100, os_threads=3, busy_ticks=1000, steal_ticks=10,
                          total_ticks=2000, load=1.0, throttled_s=None, involuntary=5, cores=2)
    b = contention.Sample(wall=12.0, cpu_s=2.0, wait_s=1.5, slices=150, os_threads=3, busy_ticks=1000 + 300,
                          steal_ticks=30,
                          total_ticks=2000 + 400, load=2.0, throttled_s=None, involuntary=25, cores=2)
    f = contention.figures(a, b, threads=1, steps=10)
    ticks = 300 * contention.TICK_S  # the machine's busy seconds
    assert f["cpu_per_wall"] == pytest.approx(0.5) and f["wait_per_wall"] == pytest.approx(0.5)
    assert f["wait_per_turn_ms"] == pytest.approx(1.0 / 50 * 1e3)
    assert f["machine_busy_cores"] == pytest.approx(ticks / 2)
    assert f["others_cores"] == pytest.approx(ticks / 2 - 0.5)
    assert f["steal_share"] == pytest.approx(20 / 400) and f["throttled_share"] is None
    assert f["involuntary_switches_per_step"] == 2 and f["oversubscribed"] is False


def test_a_sample_reads_this_process():
    s = contention.sample()
    assert s.cpu_s > 0 and s.os_threads >= 1 and s.wait_s is not None and s.total_ticks > 0


def test_the_caveat_names_the_contended_partner_and_the_command():
    row = {"runtime": "lightning_compile", "model": "two_layer", "steps": 200, "contended": False}
    partner = {"runtime": "lightning", "model": "two_layer", "contended": True,
               "contended_reason": "its threads waited for a CPU 82% of the time"}
    assert contention.caveat(row, {**partner, "contended": False}) is None
    assert contention.caveat(row, partner) == (
        "that break-even is not trustworthy: lightning ran contended (its threads waited for a CPU 82% of the time); "
        "measure the pair alone, on a quiet machine: python train.py -m model=two_layer "
        "runtime=lightning_compile,lightning trainer.max_steps=200, or side by side: python bench.py --models "
        "two_layer --runners lightning_compile,lightning")


def _at(wall, cpu_s, busy_ticks):
    return contention.Sample(wall=wall, cpu_s=cpu_s, wait_s=0.0, slices=1, os_threads=1, busy_ticks=busy_ticks,
                             steal_ticks=0, total_ticks=int(wall / contention.TICK_S) * 2, load=1.0, throttled_s=None,
                             involuntary=0, cores=2)


@pytest.mark.parametrize("others, threads, fitted", [(0.0, 2, 2), (0.6, 2, 2), (0.9, 2, 1), (1.8, 2, 1), (1.0, 1, 1)])
def test_a_run_takes_the_cores_other_work_left_free(others, threads, fitted):
    # Over a 2 s import on 2 cores, the run's own thread busy 1 core, others `others` cores.
    ticks = round((1.0 + others) * 2 / contention.TICK_S)
    got, why = contention.fit_threads(threads, _at(10.0, 1.0, 0), _at(12.0, 3.0, ticks))
    assert got == fitted
    assert (why is None) == (fitted == threads)
    if why:
        assert why.startswith(f"{fitted} thread, not {threads}: other processes kept {others:.1f} of the 2 cores busy")
        assert f"trainer.num_threads={threads} uses {threads} anyway" in why


def test_too_short_an_import_to_read_keeps_the_threads():
    assert contention.fit_threads(2, _at(10.0, 1.0, 0), _at(10.05, 1.05, 10)) == (2, None)


def test_a_sweeps_answer_says_a_break_even_against_a_contended_partner_is_not_trustworthy():
    import copy
    import json
    from pathlib import Path

    from src import answer, summary

    recorded = json.loads((Path(__file__).parent / "data" / "summary_rows.json").read_text())
    rows, overrides = copy.deepcopy(recorded["rows"]), recorded["overrides"]
    partner = next(r for r in rows if r["model"] == "rnn" and r["runtime"] == "tf_eager")
    partner.update(contended=True, contended_reason="its threads waited for a CPU 82% of the time")
    sentence = next(line for line in answer.answer(rows, overrides) if line.startswith("rnn, tf_session"))
    assert "; that break-even is not trustworthy: tf_eager ran contended (its threads waited for a CPU 82% of the " \
           "time); measure the pair alone, on a quiet machine: python train.py -m model=rnn " \
           "runtime=tf_session,tf_eager" in sentence
    assert not any("not trustworthy" in line for line in answer.answer(recorded["rows"], overrides))
    # The sweep table's column (summary.md, .csv): the flag's name where it holds.
    table = summary.table_markdown(rows).splitlines()
    at = table[0].split(" | ").index("contended")
    assert [line.split(" | ")[0].strip("| ") for line in table[2:] if line.split(" | ")[at] == "contended"] == [
        partner["job"]]
