"""The gate's decisions and the harness's work counters, on scripted timings (no subprocess, no git)."""

from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np
import pytest

from benchmarks import gate, harness
from benchmarks.gate import Settings, WorkerFailed, gate_scenario, module_rows, run_gate, table
from benchmarks.measure import alloc_peak_bytes, calls_per_sample, counters_grew, read_bytes, trimmed_mean, work_counters

FAST = Settings(quick=True, sample_s=0.02, budget_s=0.2, min_pairs=9, max_pairs=15)


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine running these tests may be loaded: the scripted gate sees a quiet one."""
    monkeypatch.setattr(gate, "machine_load", lambda: 0.0)


class FakeSide:
    """A worker answering from a script: ``seconds(i)`` is the time per call of the i-th sample."""

    def __init__(self, scenarios: dict[str, dict[str, Any]], seconds: Callable[[int], float] = lambda i: 1e-3,
                 counters: dict[str, float] | None = None, setup: dict[str, Any] | None = None):
        self.hello = {"ok": True, "scenarios": scenarios}
        self.seconds = seconds
        self.samples = itertools.count()
        self.counters = counters if counters is not None else {"postings_touched": 100, "alloc_peak_bytes": 10_000}
        self.setup = setup or {"ok": True, "setup_s": 0.0, "call_s": 1e-3}
        self.log: list[str] = []

    def ask(self, **message: Any) -> dict[str, Any]:
        self.log.append(message["cmd"])
        if message["cmd"] == "setup":
            return self.setup
        if message["cmd"] == "time":
            return {"s": self.seconds(next(self.samples))}
        if message["cmd"] == "counters":
            return {"counters": dict(self.counters), "blas": []}
        raise AssertionError(message)


def sides(current: dict[str, Any] | None = None, reference: dict[str, Any] | None = None,
          scenarios: dict[str, dict[str, Any]] | None = None) -> tuple[FakeSide, FakeSide]:
    scenarios = scenarios or {"s": {"threshold": 1.3}}
    return FakeSide(scenarios, **(current or {})), FakeSide(scenarios, **(reference or {}))


def test_equal_timings_and_counters_pass() -> None:
    current, reference = sides()
    row = gate_scenario("s", current, reference, FAST)
    assert row.status == "ok" and not row.failed
    assert len(row.rounds) == 1 and row.rounds[0].ratio == pytest.approx(1.0)


def test_a_confirmed_2x_slowdown_fails_after_a_re_measurement() -> None:
    current, reference = sides({"seconds": lambda i: 2e-3})
    row = gate_scenario("s", current, reference, FAST)
    assert row.status == "REGRESSION" and row.failed
    assert [round(r.ratio, 2) for r in row.rounds] == [2.0, 2.0]
    assert row.rounds[1].pairs >= 2 * row.rounds[0].pairs


def test_between_identical_trees_a_slowdown_is_noise_not_a_regression() -> None:
    current, reference = sides({"seconds": lambda i: 2e-3, "counters": {"postings_touched": 101}})
    row = gate_scenario("s", current, reference, FAST, identical=True)
    assert row.status == "noise" and not row.failed and len(row.rounds) == 2
    assert "same files" in row.notes[-1] and "postings_touched 100 -> 101" in row.notes[-1]


def test_a_slowdown_that_the_re_measurement_does_not_confirm_is_noise() -> None:
    first_round = FAST.min_pairs
    current, reference = sides({"seconds": lambda i: 3e-3 if i < first_round else 1e-3})
    row = gate_scenario("s", current, reference, FAST)
    assert row.status == "ok"
    assert len(row.rounds) == 2 and "not confirmed" in row.notes[0]


def test_the_median_of_paired_ratios_ignores_a_few_load_spikes() -> None:
    spikes = {2, 5}  # two samples of the current tree hit by another process
    current, reference = sides({"seconds": lambda i: 5e-3 if i in spikes else 1e-3})
    row = gate_scenario("s", current, reference, FAST)
    assert row.status == "ok" and len(row.rounds) == 1


def test_a_slow_median_whose_fastest_samples_match_the_reference_is_load_not_code() -> None:
    loaded = {0, 1, 3, 4, 6, 7}  # most current samples hit by load, the others as fast as the reference
    current, reference = sides({"seconds": lambda i: 2e-3 if i % 9 in loaded else 1e-3})
    row = gate_scenario("s", current, reference, FAST)
    assert row.rounds[0].ratio == pytest.approx(2.0) and row.rounds[0].min_ratio == pytest.approx(1.0)
    assert row.status == "ok" and len(row.rounds) == 1


def test_the_stricter_threshold_of_the_two_trees_applies() -> None:
    current = FakeSide({"s": {"threshold": 3.0}}, seconds=lambda i: 1.5e-3)  # a submission cannot relax its gate
    reference = FakeSide({"s": {"threshold": 1.3}})
    row = gate_scenario("s", current, reference, FAST)
    assert row.threshold == 1.3 and row.status == "REGRESSION"


def test_a_growing_work_counter_fails_even_at_equal_speed() -> None:
    current, reference = sides({"counters": {"postings_touched": 101, "alloc_peak_bytes": 10_000}})
    row = gate_scenario("s", current, reference, FAST)
    assert row.status == "REGRESSION"
    assert row.counters_grown == ["postings_touched 100 -> 101"]


def test_less_work_and_a_faster_tree_pass() -> None:
    current, reference = sides({"seconds": lambda i: 0.5e-3, "counters": {"postings_touched": 50}})
    row = gate_scenario("s", current, reference, FAST)
    assert row.status == "faster" and not row.failed


def test_scenarios_in_one_tree_only_are_reported_not_failed() -> None:
    current = FakeSide({"both": {}, "added": {}})
    reference = FakeSide({"both": {}, "removed": {}})
    rows = run_gate(current, reference, FAST)
    assert [(r.scenario, r.status) for r in rows] == [("both", "ok"), ("added", "new"), ("removed", "gone")]
    assert not any(r.failed for r in rows)
    assert "added" in table(rows) and "removed" in table(rows)


def test_missing_data_skips_and_a_broken_current_scenario_fails() -> None:
    skipped = gate_scenario("s", *sides({"setup": {"skip": "ROME data not found"}}), FAST)
    assert skipped.status == "skipped" and not skipped.failed
    broken = gate_scenario("s", *sides({"setup": {"error": "KeyError: 'H2102'"}}), FAST)
    assert broken.status == "ERROR" and broken.failed
    fixed = gate_scenario("s", *sides(reference={"setup": {"error": "KeyError: 'H2102'"}}), FAST)
    assert fixed.status == "ref-error" and not fixed.failed


def test_only_restricts_the_compared_scenarios() -> None:
    current, reference = sides(scenarios={"a": {}, "b": {}})
    assert [r.scenario for r in run_gate(current, reference, FAST, only=["b"])] == ["b"]


def test_counters_grew_is_exact_for_work_and_tolerant_for_bytes() -> None:
    assert counters_grew({"rows_scanned": 11}, {"rows_scanned": 10}) == ["rows_scanned 10 -> 11"]
    assert counters_grew({"rows_scanned": 11}, {"rows_scanned": 10}, tolerance=0.2) == []
    assert counters_grew({"alloc_peak_bytes": 1_050_000}, {"alloc_peak_bytes": 1_000_000}) == []
    assert counters_grew({"alloc_peak_bytes": 2_000_000}, {"alloc_peak_bytes": 1_000_000}) != []
    assert counters_grew({"only_here": 5}, {}) == []
    assert counters_grew({"read_bytes": 900_000}, {"read_bytes": 200_000}) == []  # a background thread's /proc reads
    assert counters_grew({"read_bytes": 28_000_000}, {"read_bytes": 14_000_000}) != []  # a second pass over the files


def test_alloc_peak_bytes_sees_numpy_buffers_and_ignores_first_call_caches() -> None:
    cache: dict[str, np.ndarray] = {}

    def work(n: int) -> float:
        if "table" not in cache:  # filled once, by the first call only
            cache["table"] = np.ones(4 * n)
        return float(np.ones(n).sum())

    peak = alloc_peak_bytes(work, 1_000_000, calls=2)
    assert 8_000_000 <= peak < 8_000_000 + 100_000


def test_calls_per_sample_and_trimmed_mean() -> None:
    assert calls_per_sample(1e-3, 0.02) == 20
    assert calls_per_sample(1.0, 0.02) == 1
    assert calls_per_sample(0.0, 0.02) == 10_000
    assert trimmed_mean([1, 1, 1, 1, 100], cut=0.2) == 1


@pytest.fixture
def tiny_registry():
    saved = dict(harness.REGISTRY)
    harness.REGISTRY.clear()
    setups: list[bool] = []

    def setup(quick: bool) -> dict:
        setups.append(quick)
        return {"values": np.arange(1000.0)}

    for name in ("first", "second"):
        harness.scenario(name=name, ours=lambda c: c["values"] * 2, baseline=lambda c: c["values"] + 0,
                         baseline_name="add", repeats=3, quick_repeats=3,
                         counters=lambda c: {"rows_scanned": len(c["values"])})(setup)
    yield setups
    harness.REGISTRY.clear()
    harness.REGISTRY.update(saved)


def test_run_all_shares_a_setup_and_reports_counters_and_threads(tiny_registry: list[bool]) -> None:
    results = harness.run_all(None, quick=True)
    assert [r["scenario"] for r in results] == ["first", "second"]
    assert tiny_registry == [True]  # consecutive scenarios with the same setup share its context
    for result in results:
        assert result["threads"] == 1 and result["ours"]["n"] == 3
        assert result["counters"]["rows_scanned"] == 1000
        assert result["counters"]["alloc_peak_bytes"] >= 8000  # the float64 result of ours
    report = harness.Report(quick=True, results=results)
    assert "rows_scanned=1000" in report.table()


class RestartableSide(FakeSide):
    """A fake worker that can be restarted, like a real one (counts restarts)."""

    label = "current"

    def __init__(self, *args: Any, label: str = "current", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.label = label
        self.restarts = 0

    def restart(self) -> dict[str, Any]:
        self.restarts += 1
        return self.hello


def test_a_suspected_regression_is_re_measured_in_fresh_workers() -> None:
    scenarios = {"s": {"threshold": 1.3}}
    current = RestartableSide(scenarios, seconds=lambda i: 2e-3)
    reference = RestartableSide(scenarios, label="reference")
    row = gate_scenario("s", current, reference, FAST)
    assert row.status == "REGRESSION"
    assert current.restarts == reference.restarts == 1
    assert current.log.count("setup") == reference.log.count("setup") == 2  # built again after the restart


def test_a_passing_scenario_does_not_restart_its_workers() -> None:
    scenarios = {"s": {}}
    current, reference = RestartableSide(scenarios), RestartableSide(scenarios, label="reference")
    assert gate_scenario("s", current, reference, FAST).status == "ok"
    assert current.restarts == reference.restarts == 0


class ErrorSide(FakeSide):
    """Raises a scenario error while timing, or a dead worker, labelled with its tree."""

    def __init__(self, scenarios: dict, label: str, dies: bool = False):
        super().__init__(scenarios)
        self.label, self.dies = label, dies

    def ask(self, **message: Any) -> dict[str, Any]:
        if message["cmd"] == "time":
            if self.dies:
                raise WorkerFailed(self.label, f"{self.label} worker died")
            return {"error": "MemoryError: "}
        return super().ask(**message)


@pytest.mark.parametrize("dies", [False, True])
def test_a_failure_in_the_reference_tree_is_not_the_current_trees_fault(dies: bool) -> None:
    scenarios = {"s": {}}
    reference = ErrorSide(scenarios, "reference", dies=dies)
    rows = run_gate(FakeSide(scenarios), reference, FAST)
    assert [r.status for r in rows] == ["ref-error"] and not rows[0].failed
    current = ErrorSide(scenarios, "current", dies=dies)
    rows = run_gate(current, FakeSide(scenarios), FAST)
    assert [r.status for r in rows] == ["ERROR"] and rows[0].failed
    rows = run_gate(current, FakeSide(scenarios), FAST, identical=True)  # same files: flaky, not a regression
    assert [r.status for r in rows] == ["noise"] and not rows[0].failed


def test_past_the_time_limit_the_remaining_scenarios_are_skipped_not_failed() -> None:
    scenarios = {"a": {}, "b": {}, "c": {}}
    now = iter([0.0, 10.0, 50.0, 130.0])  # start, then before a, b, c
    settings = Settings(**{**FAST.__dict__, "time_limit_s": 100.0})
    rows = run_gate(FakeSide(scenarios), FakeSide(scenarios), settings, clock=lambda: next(now))
    assert [(r.scenario, r.status) for r in rows] == [("a", "ok"), ("b", "ok"), ("c", "skipped")]
    assert "time limit" in rows[2].notes[0] and not any(r.failed for r in rows)


def test_quick_mode_has_a_time_limit_and_a_hang_timeout() -> None:
    quick, full = Settings.for_mode(True), Settings.for_mode(False)
    assert quick.time_limit_s == 420 and quick.answer_timeout_s == 300
    assert full.time_limit_s is None
    assert Settings.for_mode(True, time_limit_s=0).time_limit_s is None
    assert Settings.for_mode(True, budget_s=0.5).budget_s == 0.5


def test_module_rows_fail_only_a_module_that_broke_in_this_tree() -> None:
    current = {"modules": ["m.ok", "m.broke", "m.new", "m.both"],
               "import_errors": {"m.broke": "KeyError", "m.new": "ImportError", "m.both": "SyntaxError"},
               "import_skips": {"m.data": "ROME data not found"}, "absent": ["m.listed"]}
    reference = {"modules": ["m.ok", "m.broke", "m.both"], "import_errors": {"m.both": "SyntaxError"}}
    statuses = {row.scenario: row.status for row in module_rows(current, reference)}
    assert statuses == {"m.broke": "ERROR", "m.new": "new", "m.both": "ref-error", "m.data": "skipped",
                        "m.listed": "skipped"}


def test_read_bytes_counts_the_bytes_a_call_reads(tmp_path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 12_345)
    counted = read_bytes(lambda p: p.read_bytes(), path)
    if counted is None:
        pytest.skip("no /proc/self/io on this system")
    assert counted == 12_345
    assert read_bytes(lambda _: sum(range(1000)), None) == 0


def test_work_counters_are_the_scenarios_own_plus_bytes_allocated_and_read() -> None:
    sc = harness.Scenario(name="s", setup=lambda q: None, ours=lambda c: np.ones(10_000), baseline=lambda c: None,
                          baseline_name="-", counters=lambda c: {"rows_scanned": np.int64(7)})
    counters = work_counters(sc, None)
    assert counters["rows_scanned"] == 7 and isinstance(counters["rows_scanned"], float)
    assert counters["alloc_peak_bytes"] >= 80_000
    assert counters.get("read_bytes", 0) == 0
    no_alloc = harness.Scenario(**{**sc.__dict__, "alloc": False})
    assert "alloc_peak_bytes" not in work_counters(no_alloc, None)


def test_run_all_records_missing_data_and_errors_and_runs_the_rest(tiny_registry: list[bool]) -> None:
    def missing(quick: bool) -> None:
        raise FileNotFoundError("ROME data not found at /nowhere")

    def broken(quick: bool) -> None:
        raise KeyError("H2102")

    harness.scenario(name="missing", ours=len, baseline=len, baseline_name="-")(missing)
    harness.scenario(name="broken", ours=len, baseline=len, baseline_name="-")(broken)
    problems: dict = {}
    results = harness.run_all(None, quick=True, problems=problems)
    assert [r["scenario"] for r in results] == ["first", "second"]
    assert problems["skipped"] == {"missing": "ROME data not found at /nowhere"}
    assert problems["errors"] == {"broken": "KeyError: 'H2102'"}
    report = harness.Report(quick=True, results=results, **problems)
    assert "skipped" in report.table() and "KeyError" in report.table()


def test_an_overloaded_machine_needs_a_second_confirmation() -> None:
    current, reference = sides({"seconds": lambda i: 2e-3})
    row = gate_scenario("s", current, reference, FAST, load=lambda: 100.0)
    assert row.status == "REGRESSION" and len(row.rounds) == 3 and "overloaded" in row.notes[0]
    noise_then_clean = sides({"seconds": lambda i: 3e-3 if i < 40 else 1e-3})  # rounds 1-2 slow, round 3 not
    row = gate_scenario("s", *noise_then_clean, FAST, load=lambda: 100.0)
    assert row.status == "ok" and len(row.rounds) == 3 and "not confirmed" in row.notes[0]


def test_counter_kinds_work_grows_throughput_falls_info_is_ignored() -> None:
    kinds = {"requests": "throughput", "paced_p99_ms": "info"}
    # serving more in the same window is not more work (it failed as "work grew" before kinds)
    assert counters_grew({"requests": 1300}, {"requests": 1000}, kinds=kinds) == []
    assert counters_grew({"requests": 1300}, {"requests": 1000}) == ["requests 1000 -> 1300"]  # undeclared: work
    # a throughput drop beyond its tolerance is the regression
    assert counters_grew({"requests": 700}, {"requests": 1000}, kinds=kinds) == ["requests 1000 -> 700 (throughput fell)"]
    assert counters_grew({"requests": 900}, {"requests": 1000}, kinds=kinds) == []  # within 20 %
    assert counters_grew({"requests": 900}, {"requests": 1000}, kinds=kinds, throughput_tolerance=0.05) != []
    # info: reported, never compared, whichever way it moves
    assert counters_grew({"paced_p99_ms": 90.0}, {"paced_p99_ms": 9.0}, kinds=kinds) == []
    with pytest.raises(ValueError, match="unknown counter kind"):
        counters_grew({"x": 1}, {"x": 1}, kinds={"x": "speed"})


def test_the_gate_reads_counter_kinds_from_the_scenario_declaration() -> None:
    """The current tree declares ``requests`` a throughput: more requests served passes, fewer fails
    (the reference, older, declares nothing: the current declaration applies)."""
    declared = {"s": {"threshold": 1.3, "counter_kinds": {"requests": "throughput", "p99_ms": "info"}}}
    base = {"requests": 1000, "errors": 0, "p99_ms": 5.0}
    more = FakeSide(declared, counters={**base, "requests": 1400, "p99_ms": 50.0})
    row = gate_scenario("s", more, FakeSide({"s": {"threshold": 1.3}}, counters=base), FAST)
    assert row.status == "ok" and row.counters_grown == []
    fewer = FakeSide(declared, counters={**base, "requests": 500})
    row = gate_scenario("s", fewer, FakeSide({"s": {"threshold": 1.3}}, counters=base), FAST)
    assert row.status == "REGRESSION" and row.notes == ["throughput fell: requests 1000 -> 500"]
    assert "FELL" in table([row])
    errors = FakeSide(declared, counters={**base, "errors": 3})  # undeclared in kinds: work, must not grow
    row = gate_scenario("s", errors, FakeSide({"s": {"threshold": 1.3}}, counters=base), FAST)
    assert row.status == "REGRESSION" and row.notes == ["work grew: errors 0 -> 3"]


def test_scenarios_declare_their_counter_kinds_and_an_unknown_kind_is_refused() -> None:
    from benchmarks.scenarios import prescriptions

    submit = harness.REGISTRY["prescriptions_submit_50"]
    assert submit.counter_kinds["requests"] == "throughput" and submit.counter_kinds["paced_req_per_s"] == "throughput"
    assert submit.counter_kinds["errors"] == "work" and submit.counter_kinds["paced_submit_p99_ms"] == "info"
    assert prescriptions.STORE_KINDS["normal_bg_n"] == "throughput"
    with pytest.raises(ValueError, match="unknown counter kind"):
        harness.Scenario(name="x", setup=lambda q: None, ours=lambda c: None, baseline=lambda c: None,
                         baseline_name="", counter_kinds={"requests": "faster"})


def test_a_dropped_context_is_released_by_its_modules_cleanup(monkeypatch: pytest.MonkeyPatch) -> None:
    """A context left alive may keep threads (a Dask LocalCluster) that allocate during the next
    scenarios' tracemalloc pass: the harness (and the gate's worker, through the same
    ``measure.release_context``) calls the setup module's ``cleanup(ctx)`` when it moves on."""
    import sys
    import types

    from benchmarks.measure import release_context

    events: list[str] = []
    module = types.ModuleType("fake_scenarios")

    def setup_a(quick):
        events.append("setup a")
        return {"name": "a"}

    def setup_b(quick):
        events.append("setup b")
        return {"name": "b"}

    for f in (setup_a, setup_b):
        f.__module__ = module.__name__
    module.cleanup = lambda ctx: events.append(f"cleanup {ctx['name']}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    registry = {name: harness.Scenario(name=name, setup=setup, ours=lambda c: None, baseline=lambda c: None,
                                       baseline_name="", repeats=1, quick_repeats=1, alloc=False)
                for name, setup in (("a1", setup_a), ("a2", setup_a), ("b", setup_b))}
    monkeypatch.setattr(harness, "REGISTRY", registry)
    harness.run_all(None, quick=True)
    assert events == ["setup a", "cleanup a", "setup b", "cleanup b"]  # shared by a1 and a2, released once
    module.cleanup = lambda ctx: 1 / 0  # a failing cleanup is reported, not raised
    release_context(setup_a, {"name": "a"})
    release_context(len, {})  # a setup whose module has no cleanup: nothing to do


def test_the_batch_scenarios_cleanup_closes_the_cluster_and_the_folder(tmp_path) -> None:
    from benchmarks.scenarios import batch

    closed: list[str] = []
    client = types_namespace(close=lambda: closed.append("client"))
    cluster = types_namespace(close=lambda: closed.append("cluster"))
    folder = tmp_path / "bench-batch"
    folder.mkdir()
    batch.cleanup({"client": client, "cluster": cluster, "folder": folder})
    assert closed == ["client", "cluster"] and not folder.exists()


def types_namespace(**attributes):
    import types

    return types.SimpleNamespace(**attributes)
