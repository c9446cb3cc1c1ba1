"""The regression gate end to end: a real git repository, a real worktree, two worker processes.

The repository is a tiny copy of this project's ``benchmarks`` package plus a toy hot function
(``toy/hot.py``) and one scenario timing it, so each gate run takes a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HOT = '''import numpy as np

ROWS_PER_VALUE = 1


def rank(values: np.ndarray) -> np.ndarray:
    """(n,) int64 positions that sort ``values`` (the hot function of this toy project)."""
    return np.argsort(values, kind="stable")
'''

SLOWED = HOT.replace('''    return np.argsort(values, kind="stable")''', '''    np.argsort(values, kind="stable")  # deliberately 2x slower: the work is done twice
    return np.argsort(values, kind="stable")''')

MORE_WORK = HOT.replace("ROWS_PER_VALUE = 1", "ROWS_PER_VALUE = 2")

SCENARIOS = '''import numpy as np

from benchmarks.harness import scenario
from toy import hot


def _setup(quick: bool) -> dict:
    return {"values": np.random.default_rng(0).random(20_000 if quick else 200_000)}


scenario(name="toy_rank", ours=lambda c: hot.rank(c["values"]), baseline=lambda c: np.sort(c["values"]),
         baseline_name="numpy sort", target="-",
         counters=lambda c: {"rows_scanned": len(c["values"]) * hot.ROWS_PER_VALUE})(_setup)
'''


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=gate-test", "-c", "user.email=gate@test.invalid", *args],
                   cwd=repo, check=True, capture_output=True)


@pytest.fixture
def toy_repo(tmp_path: Path) -> Path:
    """A git repository on ``main`` with one commit: the benchmarks package, toy/hot.py, toybench.py."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "benchmarks", repo / "benchmarks",
                    ignore=shutil.ignore_patterns("results", "__pycache__", "scenarios"))
    (repo / "benchmarks" / "scenarios").mkdir()
    (repo / "benchmarks" / "scenarios" / "__init__.py").write_text("")
    (repo / "toy").mkdir()
    (repo / "toy" / "__init__.py").write_text("")
    (repo / "toy" / "hot.py").write_text(HOT)
    (repo / "toybench.py").write_text(SCENARIOS)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "toy project")
    return repo


def run_gate(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PASSERELLES_BENCH_MODULES"] = "toybench"
    return subprocess.run([sys.executable, "-m", "benchmarks", "gate", "--quick", "--out", str(repo / "gate.json"),
                           *args], cwd=repo, env=env, capture_output=True, text=True, timeout=300)


def _row(repo: Path, name: str) -> dict:
    report = json.loads((repo / "gate.json").read_text())
    return next(row for row in report["rows"] if row["scenario"] == name)


def _worktrees(repo: Path) -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout


def test_gate_passes_on_an_unchanged_tree_and_removes_its_worktree(toy_repo: Path) -> None:
    done = run_gate(toy_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gate: PASS" in done.stdout
    row = _row(toy_repo, "toy_rank")
    assert row["status"] in ("ok", "faster")
    assert row["counters_current"]["rows_scanned"] == row["counters_reference"]["rows_scanned"] == 20_000
    assert row["counters_current"]["alloc_peak_bytes"] >= 20_000 * 8  # the int64 result is allocated
    assert len(_worktrees(toy_repo).splitlines()) == 1  # only the main checkout is left


def test_gate_fails_when_the_hot_function_is_made_twice_as_slow(toy_repo: Path) -> None:
    (toy_repo / "toy" / "hot.py").write_text(SLOWED)  # uncommitted: the current tree differs from main
    done = run_gate(toy_repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gate: FAIL" in done.stdout and "REGRESSION" in done.stdout
    row = _row(toy_repo, "toy_rank")
    assert len(row["rounds"]) == 2  # measured, then re-measured before failing
    assert all(r["ratio"] > 1.5 for r in row["rounds"])
    assert any("slower" in note for note in row["notes"])


def test_gate_fails_when_a_work_counter_grows(toy_repo: Path) -> None:
    (toy_repo / "toy" / "hot.py").write_text(MORE_WORK)
    done = run_gate(toy_repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "work grew: rows_scanned 20000 -> 40000" in done.stdout


def test_gate_reports_scenarios_present_in_one_tree_only_without_failing(toy_repo: Path) -> None:
    (toy_repo / "toybench.py").write_text(SCENARIOS.replace('name="toy_rank"', 'name="toy_rank_renamed"'))
    done = run_gate(toy_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _row(toy_repo, "toy_rank_renamed")["status"] == "new"
    assert _row(toy_repo, "toy_rank")["status"] == "gone"


def test_gate_compares_with_an_explicit_revision_and_rejects_an_unknown_one(toy_repo: Path) -> None:
    (toy_repo / "toy" / "hot.py").write_text(SLOWED)
    _git(toy_repo, "commit", "-q", "-am", "slower")
    assert run_gate(toy_repo, "--only", "toy_rank").returncode == 0  # merge-base with main is HEAD itself
    assert run_gate(toy_repo, "--ref", "HEAD~1").returncode == 1
    bad = run_gate(toy_repo, "--ref", "no-such-revision")
    assert bad.returncode == 2 and "unknown git revision" in bad.stderr
    assert run_gate(toy_repo, "--only", "no_such_scenario").returncode == 2
