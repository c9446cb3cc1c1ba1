"""The regression gate end to end: real git repositories, real worktrees, two worker processes.

Two kinds of repositories, each built in a temporary folder and committed on ``main``:

- a copy of this project's ``benchmarks``, ``matching`` and ``referentiels`` packages, timed on
  the real ``skill_space_fit`` scenario (full ROME): the hot function ``SkillSpace.fit`` is
  patched, uncommitted, into a version that does its work twice, and the gate must fail;
- a tiny toy project (this project's ``benchmarks`` package, ``toy/hot.py`` and one scenario over
  it), so each gate run takes a few seconds: counters, scenarios in one tree only, revisions,
  detached HEADs and clones without a main branch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.gate import UsageError, resolve_reference

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns("results", "__pycache__", "*.pyc")

HOT = '''import numpy as np

ROWS_PER_VALUE = 1


def rank(values: np.ndarray) -> np.ndarray:
    """(n,) int64 positions that sort ``values`` (the hot function of this toy project)."""
    return np.argsort(values, kind="stable")
'''

MORE_WORK = HOT.replace("ROWS_PER_VALUE = 1", "ROWS_PER_VALUE = 2")

SCENARIOS = '''import os
from pathlib import Path

import numpy as np

from benchmarks.harness import scenario
from toy import hot


def _setup(quick: bool) -> dict:
    return {"values": np.random.default_rng(0).random(20_000 if quick else 200_000)}


scenario(name="toy_rank", ours=lambda c: hot.rank(c["values"]), baseline=lambda c: np.sort(c["values"]),
         baseline_name="numpy sort", target="-",
         counters=lambda c: {"rows_scanned": len(c["values"]) * hot.ROWS_PER_VALUE})(_setup)


def _needs_data(quick: bool) -> dict:  # like a scenario over ROME on a machine without it
    return {"data": Path(os.environ.get("TOY_DATA", "/nonexistent/toy-data.csv")).read_bytes()}


scenario(name="toy_needs_data", ours=lambda c: len(c["data"]), baseline=lambda c: 0,
         baseline_name="nothing")(_needs_data)
'''

# The real hot function made twice as slow: appended to matching/space.py, uncommitted.
SLOW_FIT = '''

_fit_once = SkillSpace.fit.__func__


def _fit_twice(cls, *args, **kwargs):  # deliberately 2x slower: the same work done twice
    _fit_once(cls, *args, **kwargs)
    return _fit_once(cls, *args, **kwargs)


SkillSpace.fit = classmethod(_fit_twice)
'''


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=gate-test", "-c", "user.email=gate@test.invalid", *args],
                          cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _commit_all(repo: Path, message: str) -> None:
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def toy_repo(tmp_path: Path) -> Path:
    """A git repository on ``main`` with one commit: the benchmarks package, toy/hot.py, toybench.py."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "benchmarks", repo / "benchmarks", ignore=shutil.ignore_patterns(
        "results", "__pycache__", "scenarios"))
    (repo / "benchmarks" / "scenarios").mkdir()
    (repo / "benchmarks" / "scenarios" / "__init__.py").write_text("")
    (repo / "toy").mkdir()
    (repo / "toy" / "__init__.py").write_text("")
    (repo / "toy" / "hot.py").write_text(HOT)
    (repo / "toybench.py").write_text(SCENARIOS)
    _commit_all(repo, "toy project")
    return repo


@pytest.fixture
def project_repo(tmp_path: Path, rome_dir: Path) -> Path:
    """This project's benchmarks, matching and referentiels packages (working tree), committed on main."""
    repo = tmp_path / "project"
    for package in ("benchmarks", "matching", "referentiels"):
        shutil.copytree(ROOT / package, repo / package, ignore=IGNORE)
    _commit_all(repo, "project copy")
    return repo


def run_gate(repo: Path, *args: str, modules: str = "toybench", budget: str = "0.6",
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TOY_DATA")}
    environ["PASSERELLES_BENCH_MODULES"] = modules
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "benchmarks", "gate", "--quick", "--budget", budget,
                           "--out", str(repo / "gate.json"), *args],
                          cwd=repo, env=environ, capture_output=True, text=True, timeout=300)


def _report(repo: Path) -> dict:
    return json.loads((repo / "gate.json").read_text())


def _row(repo: Path, name: str) -> dict:
    return next(row for row in _report(repo)["rows"] if row["scenario"] == name)


def _worktrees(repo: Path) -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout


@pytest.mark.slow
def test_gate_fails_when_the_real_skill_space_fit_is_made_twice_as_slow(project_repo: Path, rome_dir: Path) -> None:
    space = project_repo / "matching" / "space.py"
    space.write_text(space.read_text() + SLOW_FIT)  # uncommitted: the current tree differs from main
    done = run_gate(project_repo, "--only", "skill_space_fit", modules="benchmarks.scenarios.space", budget="0.5",
                    env={"PASSERELLES_ROME_DIR": str(rome_dir)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gate: FAIL" in done.stdout and "REGRESSION" in done.stdout
    row = _row(project_repo, "skill_space_fit")
    assert row["status"] == "REGRESSION"
    assert len(row["rounds"]) >= 2  # measured, then re-measured in fresh workers (twice if overloaded)
    assert all(r["ratio"] > 1.5 and r["min_ratio"] > 1.5 for r in row["rounds"])
    assert any("slower" in note for note in row["notes"]) and any("confirmed" in n for n in row["notes"])
    assert row["counters_current"]["links_scanned"] == row["counters_reference"]["links_scanned"]
    assert _report(project_repo)["identical"] is False
    assert len(_worktrees(project_repo).splitlines()) == 1  # the reference worktree is gone


def test_gate_passes_on_an_unchanged_tree_and_removes_its_worktree(toy_repo: Path) -> None:
    done = run_gate(toy_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gate: PASS" in done.stdout and "merge-base of HEAD and main" in done.stdout
    row = _row(toy_repo, "toy_rank")
    assert row["status"] in ("ok", "faster")
    assert row["counters_current"]["rows_scanned"] == row["counters_reference"]["rows_scanned"] == 20_000
    assert row["counters_current"]["alloc_peak_bytes"] >= 20_000 * 8  # the int64 result is allocated
    assert row["counters_current"]["read_bytes"] == 0  # (Linux) no file read by an argsort
    assert _row(toy_repo, "toy_needs_data")["status"] == "skipped"  # its data is absent: reported, not failed
    report = _report(toy_repo)
    assert report["identical"] is True and "(the same files)" in done.stdout  # HEAD = main, nothing changed
    assert report["threads"]["current"]["OMP_NUM_THREADS"] == report["threads"]["reference"]["OMP_NUM_THREADS"] == "1"
    assert all(pool["num_threads"] == 1 for pool in report["blas"]["current"])
    assert len(_worktrees(toy_repo).splitlines()) == 1  # only the main checkout is left


def test_gate_fails_when_a_work_counter_grows(toy_repo: Path) -> None:
    (toy_repo / "toy" / "hot.py").write_text(MORE_WORK)
    done = run_gate(toy_repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "work grew: rows_scanned 20000 -> 40000" in done.stdout


def test_new_renamed_and_unimportable_new_scenarios_are_reported_not_failed(toy_repo: Path) -> None:
    (toy_repo / "toybench.py").write_text(SCENARIOS.replace('name="toy_rank"', 'name="toy_rank_renamed"'))
    (toy_repo / "newbench.py").write_text("import no_such_dependency_for_the_gate_test\n")
    (toy_repo / "freshbench.py").write_text(SCENARIOS.replace('"toy_rank"', '"toy_fresh"').replace(
        '"toy_needs_data"', '"toy_fresh_data"'))
    done = run_gate(toy_repo, modules="toybench,newbench,freshbench,listedbutmissing")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _row(toy_repo, "toy_rank_renamed")["status"] == "new"
    assert _row(toy_repo, "toy_fresh")["status"] == "new"
    assert _row(toy_repo, "toy_rank")["status"] == "gone"
    assert _row(toy_repo, "newbench")["status"] == "new"  # fails to import, but is new: not failed
    assert _row(toy_repo, "listedbutmissing")["status"] == "skipped"


def test_a_scenario_that_breaks_in_the_current_tree_fails(toy_repo: Path) -> None:
    (toy_repo / "toy" / "hot.py").write_text(HOT.replace('return np.argsort(values, kind="stable")',
                                                         'raise ValueError("broken")'))
    done = run_gate(toy_repo, "--only", "toy_rank")
    assert done.returncode == 1, done.stdout + done.stderr
    assert _row(toy_repo, "toy_rank")["status"] == "ERROR" and "broken" in done.stdout


def test_gate_compares_with_an_explicit_revision_and_rejects_an_unknown_one(toy_repo: Path) -> None:
    (toy_repo / "toy" / "hot.py").write_text(MORE_WORK)
    _git(toy_repo, "commit", "-q", "-am", "more work")
    assert run_gate(toy_repo, "--only", "toy_rank").returncode == 0  # merge-base with main is HEAD itself
    assert run_gate(toy_repo, "--only", "toy_rank", "--ref", "HEAD~1").returncode == 1
    bad = run_gate(toy_repo, "--ref", "no-such-revision")
    assert bad.returncode == 2 and "unknown git revision" in bad.stderr
    assert run_gate(toy_repo, "--only", "no_such_scenario").returncode == 2


def test_a_ci_clone_on_a_detached_head_without_main_compares_with_its_own_commit(toy_repo: Path,
                                                                                  tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(toy_repo), str(clone)], check=True, capture_output=True)
    _git(clone, "checkout", "-q", "--detach", "HEAD")
    _git(clone, "branch", "-q", "-D", "main")
    _git(clone, "update-ref", "-d", "refs/remotes/origin/main")
    _git(clone, "update-ref", "-d", "refs/remotes/origin/HEAD")
    done = run_gate(clone, "--only", "toy_rank")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no main or origin/main branch" in done.stdout
    assert _row(clone, "toy_rank")["status"] in ("ok", "faster")


def test_resolve_reference_in_the_shapes_a_ci_clone_takes(toy_repo: Path, tmp_path: Path) -> None:
    head = _git(toy_repo, "rev-parse", "HEAD")
    assert resolve_reference(None, toy_repo) == (head, "merge-base of HEAD and main")
    (toy_repo / "toy" / "extra.py").write_text("X = 1\n")
    _git(toy_repo, "checkout", "-q", "-b", "feature")
    _git(toy_repo, "add", ".")
    _git(toy_repo, "commit", "-q", "-m", "feature work")
    assert resolve_reference(None, toy_repo)[0] == head  # a feature branch: its fork point from main
    clone = tmp_path / "clone"  # only origin/main: a clone of the feature branch
    subprocess.run(["git", "clone", "-q", "-b", "feature", str(toy_repo), str(clone)], check=True, capture_output=True)
    assert resolve_reference(None, clone) == (head, "merge-base of HEAD and origin/main")
    _git(toy_repo, "checkout", "-q", "--orphan", "unrelated")  # no common history with main
    _git(toy_repo, "commit", "-q", "-m", "unrelated root")
    sha, how = resolve_reference(None, toy_repo)
    assert sha == head and how.startswith("tip of main")
    with pytest.raises(UsageError, match="unknown git revision"):
        resolve_reference("no-such-revision", toy_repo)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError, match="not a git checkout"):
        resolve_reference(None, plain)
