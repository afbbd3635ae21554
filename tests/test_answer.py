"""The sweep's answer in words (src/answer.py), on summary rows recorded from a real sweep
(tests/data/summary_rows.json says which): one sentence per static runtime, its numbers the table's."""
import copy
import json
import re
from pathlib import Path

import pytest

from src import answer, summary

pytestmark = pytest.mark.unit

RECORDED = json.loads((Path(__file__).parent / "data" / "summary_rows.json").read_text())
NUMBER = re.compile(r"~?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


@pytest.fixture
def rows():
    return copy.deepcopy(RECORDED["rows"]), copy.deepcopy(RECORDED["overrides"])


def _about(lines, model, runtime):
    found = [line for line in lines if line.startswith(f"{model}, {runtime}")]
    assert len(found) == 1, (model, runtime, lines)
    return found[0]


def test_one_sentence_per_static_runtime_per_model_in_job_order(rows):
    rows, overrides = rows
    lines = answer.answer(rows, overrides)
    static = [(r["model"], r["runtime"]) for r in rows if r["graph"] == "static"]
    assert [tuple(re.split(r"[,:]? ", line)[:2]) for line in lines] == static


def test_the_sentences_numbers_are_the_tables(rows):
    """Every number a sentence gives is a cell of its job's or its partner's row, as the table prints it; and
    the numbers the answer rests on are all there."""
    rows, overrides = rows
    by_job = {r["job"]: r for r in rows}
    table = summary.table_text(rows).splitlines()
    lines = answer.answer(rows, overrides)
    for r in rows:
        if r["graph"] != "static":
            continue
        line = _about(lines, r["model"], r["runtime"])
        partner = by_job.get(r.get("break_even_job"))
        cells = {answer.cell(v) for row in (r, partner or {}) for v in row.values() if not isinstance(v, (list, dict))}
        cells |= {m for c in cells for m in NUMBER.findall(c)}  # "never (~13,533 projected)" holds ~13,533
        assert set(NUMBER.findall(line)) <= cells, (line, set(NUMBER.findall(line)) - cells)
        printed = next(t for t in table if t.split()[0] == r["job"])
        for key in ("compiles", "compile_s", "median_steady_ms", "vs_dynamic"):
            if r.get(key) is not None and partner is not None:
                assert answer.cell(r[key]) in line and answer.cell(r[key]) in printed.split(), (key, line)
        k = r.get("break_even_step")
        if isinstance(k, int):
            assert f"from step {k}" in line or (k == 0 and "ahead from the start" in line)
        elif k and "projected" in k:
            assert re.search(r"~[\d,]+", k).group(0) in line and "run ended before" in line
        elif k == "never":
            assert "steps are slower" in line and r["vs_dynamic"] >= 1


def test_ratio_is_steady_static_over_dynamic(rows):
    rows, _ = rows
    by_job = {r["job"]: r for r in rows}
    paired = [r for r in rows if r.get("break_even_job")]
    assert paired
    for r in paired:
        assert r["vs_dynamic"] == pytest.approx(r["median_steady_ms"] / by_job[r["break_even_job"]]["median_steady_ms"])


def test_a_missing_partner_says_which_runtime_to_add(rows):
    rows, overrides = rows
    rows = [r for r in rows if r["runtime"] not in ("tf_eager", "jax_eager")]
    lines = answer.answer(rows, overrides)
    assert "no break-even: add runtime=tf_eager to the sweep" in _about(lines, "dynamic", "tf_session")
    assert "no break-even: add runtime=jax_eager to the sweep" in _about(lines, "dynamic", "jax_jit")


def test_seeds_make_one_sentence_other_settings_one_each(rows):
    rows, overrides = rows
    two = copy.deepcopy(rows)
    for r in two:
        r["job"] = "1" + r["job"]
        r["seed"] = 1
        if r.get("break_even_job"):
            r["break_even_job"] = "1" + r["break_even_job"]
        if r["runtime"] == "tf_session":
            r["compile_s"] *= 2
    both = rows + two
    by_seed = {**{j: {**o, "seed": "0"} for j, o in overrides.items()},
               **{"1" + j: {**o, "seed": "1"} for j, o in overrides.items()}}
    line = _about(answer.answer(both, by_seed), "rnn", "tf_session")
    r0, r1 = (next(r for r in rs if r["model"] == "rnn" and r["runtime"] == "tf_session") for rs in (rows, two))
    assert f"in {answer.cell(r0['compile_s'])}, {answer.cell(r1['compile_s'])} s" in line
    assert "seed 0: " in line and "seed 1: " in line
    by_cache = {**{j: {**o, "trainer.compile_cache": "cold"} for j, o in overrides.items()},
                **{"1" + j: {**o, "trainer.compile_cache": "warm"} for j, o in overrides.items()}}
    lines = answer.answer(both, by_cache)
    cold = [x for x in lines if x.startswith("rnn, tf_session (compile_cache=cold)")]
    warm = [x for x in lines if x.startswith("rnn, tf_session (compile_cache=warm)")]
    assert len(cold) == len(warm) == 1 and "seed" not in cold[0]


def test_a_job_that_did_not_complete_is_said(rows):
    rows, overrides = rows
    for r in rows:
        if r["runtime"] == "tf_function" and r["model"] == "two_layer":
            r["status"], r["break_even_job"] = "diverged", None
    assert "did not complete (diverged)" in _about(answer.answer(rows, overrides), "two_layer", "tf_function")


def test_caveats_are_appended(rows, monkeypatch):
    rows, overrides = rows
    monkeypatch.setattr(answer, "caveats", lambda row, partner: [f"{partner['runtime']} contended"])
    assert _about(answer.answer(rows, overrides), "rnn", "tf_session").endswith("; tf_eager contended.")


def test_console_table_and_answer_fit_120_columns(rows):
    rows, overrides = rows
    for r in rows:
        r["job"] += "_compile_cache=cold_lr=0.0001_precision=64"  # what a wide sweep names its jobs
    printed = summary.table_text(rows)
    assert max(len(line) for line in printed.splitlines()) <= 120
    assert len({line.split()[0] for line in printed.splitlines()}) == len(rows) + 1  # still told apart
    text = answer.text(rows, overrides, width=120)
    assert max(len(line) for line in text.splitlines()) <= 120


def test_build_phases_sum_each_phase_over_the_builds():
    r = {"builds": [{"ms": 3.0, "phases": {"trace_ms": 1000.0, "lower_ms": 2000.0}},
                    {"ms": 5.0, "phases": {"xla_compile_ms": 5000.0}}, {"ms": 1.0, "what": "no phases"}]}
    assert summary.build_phases(r) == "trace 1 + lower 2 + xla_compile 5 s"
    assert summary.build_phases({"builds": []}) is None


def test_why_a_job_did_not_complete_is_its_errors_first_line():
    assert summary._why({"status": "completed", "error": None}) is None
    assert summary._why({"status": "diverged", "error": "the loss became nan at step 3: training diverged.\nTry"}) \
        == "the loss became nan at step 3: training diverged."
    assert "killed" in summary._why({"status": "running"})
