"""The regression gate: ``python -m benchmarks gate [--ref REV] [--quick] [--only NAME ...]``.

Compares the current tree (the files on disk, uncommitted changes included) with a reference
revision (default: the merge-base of HEAD and ``main``, else of HEAD and ``origin/main``; HEAD
itself when there is no main branch), checked out in a temporary ``git worktree`` (``git
archive`` when a worktree cannot be added). Two long-lived worker processes, one per tree
(benchmarks/gate_worker.py, each with its own ``PYTHONPATH``), run the same scenario; the driver
asks them for timed samples in turn (current, reference, reference, current, ...), so both trees
see the same machine load. Per scenario:

- a sample is ``number`` back-to-back calls of ``ours`` (calibrated so one lasts ~20-50 ms) and
  each pair of samples gives a ratio current/reference; the scenario's ratio is the **median of
  the paired ratios**, which ignores load spikes hitting a few samples;
- a ratio above the scenario's ``threshold`` (default 1.3; the stricter of the two trees'
  declarations), together with the ratio of the fastest samples, is re-measured with twice as
  many pairs, in two *fresh* worker processes (so a process's unlucky memory layout cannot
  decide), and only a confirmed excess fails;
- work counters (the scenario's own, ``alloc_peak_bytes`` from an untimed tracemalloc pass and
  ``read_bytes`` from ``/proc/self/io``) fail the gate when they grow; counters the scenario
  declares ``throughput`` (``counter_kinds``: requests served in a fixed window) fail when they
  fall, ``info`` ones are only reported (see ``measure.counters_grew``);
- a scenario present in one tree only is reported (``new`` / ``gone``), not failed, and so is a
  scenario module new in this tree that cannot be imported; one whose data is missing is
  ``skipped``; one broken in the reference only is ``ref-error``; one that raises (or hangs, or
  kills its worker) in the current tree but not in the reference fails (``ERROR``);
- past ``--time-limit`` (quick: 420 s) the remaining scenarios are reported ``skipped``, so CI
  stays within its limits whatever the number of scenarios; measuring budgets shrink before that.

Exit code 0: no regression; 1: a regression (or a scenario broken in the current tree); 2: usage
error (bad revision, not a git checkout, unknown scenario name).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Protocol

from .measure import calls_per_sample, counters_grew, percentile, pin_threads, thread_settings

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().with_name("gate_worker.py")
FAILING = ("REGRESSION", "ERROR")


class UsageError(Exception):
    """A bad command line or repository state: exit code 2."""


@dataclass(frozen=True)
class Settings:
    """How long to measure.

    ``budget_s``: timed seconds per scenario and tree in the first round (shrunk when the time
    limit comes near). ``time_limit_s``: wall seconds for the whole gate after which the remaining
    scenarios are skipped (None: no limit). ``answer_timeout_s``: longest wait for one answer of a
    worker (a setup, a sample) before it is declared hung and killed.
    """

    quick: bool = False
    sample_s: float = 0.05
    budget_s: float = 6.0
    min_pairs: int = 15
    max_pairs: int = 61
    remeasure_factor: int = 2
    default_threshold: float = 1.3
    time_limit_s: float | None = None
    answer_timeout_s: float = 1800.0

    @classmethod
    def for_mode(cls, quick: bool, budget_s: float | None = None, time_limit_s: float | None = None) -> "Settings":
        base = (cls(quick=True, sample_s=0.02, budget_s=1.5, min_pairs=9, max_pairs=31, time_limit_s=420.0,
                    answer_timeout_s=300.0) if quick else cls())
        if budget_s is not None:
            base = replace(base, budget_s=budget_s)
        if time_limit_s is not None:
            base = replace(base, time_limit_s=time_limit_s if time_limit_s > 0 else None)
        return base


class Side(Protocol):
    """One tree's worker, as the driver sees it (a subprocess in real runs, a fake in unit tests).

    ``restart()`` (optional) replaces the process with a fresh one and returns its new hello.
    """

    label: str
    hello: dict[str, Any]

    def ask(self, **message: Any) -> dict[str, Any]: ...


class WorkerFailed(RuntimeError):
    """A worker died, hung, or could not start. ``label``: which tree ("current" / "reference")."""

    def __init__(self, label: str, message: str):
        super().__init__(message)
        self.label = label


class TreeProcess:
    """A gate_worker.py subprocess running one tree's code."""

    def __init__(self, label: str, root: Path, env: dict[str, str], log_path: Path, timeout_s: float = 1800.0):
        self.label, self.root, self.env, self.log_path, self.timeout_s = label, root, env, log_path, timeout_s
        self._start()

    def _start(self) -> None:
        self.log = self.log_path.open("a", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-u", str(WORKER), str(self.root)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, cwd=self.root, env=self.env, text=True)
        self.hello = self._read()

    def restart(self) -> dict[str, Any]:
        self.close()
        self._start()
        return self.hello

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 12) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _read(self) -> dict[str, Any]:
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            raise WorkerFailed(self.label, f"{self.label} worker gave no answer within {self.timeout_s:.0f} s "
                                           f"(killed):\n{self.log_tail()}")
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerFailed(self.label, f"{self.label} worker died (exit {self.proc.wait()}):\n{self.log_tail()}")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise WorkerFailed(self.label, f"{self.label} worker wrote {line[:200]!r} on its protocol") from None

    def ask(self, **message: Any) -> dict[str, Any]:
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as error:
            raise WorkerFailed(self.label, f"{self.label} worker is gone ({error}):\n{self.log_tail()}") from error
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.log.close()


@dataclass
class Round:
    """One series of paired samples. Times in ms per call of ``ours``.

    ``ratio``: median of the paired ratios current/reference; ``min_ratio``: fastest current sample
    over fastest reference sample (load only ever adds time, so the minimums are the cleanest
    estimate of each tree's cost). A round is slow when both exceed the threshold.
    """

    ratio: float
    ratio_p25: float
    ratio_p75: float
    min_ratio: float
    current_ms: float
    reference_ms: float
    pairs: int
    number: int

    def slower_than(self, threshold: float) -> bool:
        return self.ratio > threshold and self.min_ratio > threshold


@dataclass
class Row:
    scenario: str
    status: str  # ok | faster | REGRESSION | ERROR | new | gone | skipped | ref-error | noise
    threshold: float | None = None
    rounds: list[Round] = field(default_factory=list)
    counters_current: dict[str, Any] = field(default_factory=dict)
    counters_reference: dict[str, Any] = field(default_factory=dict)
    counters_grown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in FAILING


class ScenarioError(Exception):
    """A scenario raised inside one tree's worker. ``label``: which tree."""

    def __init__(self, label: str, message: str):
        super().__init__(message)
        self.label = label


def _label(side: Side) -> str:
    return getattr(side, "label", "?")


def _ask_ok(side: Side, **message: Any) -> dict[str, Any]:
    answer = side.ask(**message)
    if "error" in answer:
        raise ScenarioError(_label(side), answer["error"])
    return answer


def measure_round(current: Side, reference: Side, number: int, pairs: int) -> Round:
    """``pairs`` paired samples, order alternating (C R, R C, C R, ...) to cancel drift."""
    ratios, cur, ref = [], [], []
    for i in range(pairs):
        if i % 2 == 0:
            a = _ask_ok(current, cmd="time", number=number)["s"]
            b = _ask_ok(reference, cmd="time", number=number)["s"]
        else:
            b = _ask_ok(reference, cmd="time", number=number)["s"]
            a = _ask_ok(current, cmd="time", number=number)["s"]
        cur.append(a)
        ref.append(b)
        ratios.append(a / max(b, 1e-12))
    return Round(ratio=statistics.median(ratios), ratio_p25=percentile(ratios, 25), ratio_p75=percentile(ratios, 75),
                 min_ratio=min(cur) / max(min(ref), 1e-12), current_ms=statistics.median(cur) * 1e3,
                 reference_ms=statistics.median(ref) * 1e3, pairs=pairs, number=number)


def _setup_both(name: str, current: Side, reference: Side, quick: bool, row: Row) -> tuple[dict, dict] | None:
    """Ask both trees to build the scenario; None (and ``row`` filled) when it cannot be compared."""
    a = current.ask(cmd="setup", name=name, quick=quick)
    b = reference.ask(cmd="setup", name=name, quick=quick)
    for answer in (a, b):
        if "skip" in answer:
            row.status = "skipped"
            row.notes.append(f"skipped: {answer['skip']}")
            return None
    if "error" in a and "error" in b:
        row.status = "ref-error"
        row.notes.append(f"broken in both trees (not failed: not caused by this change): {a['error']}")
        return None
    if "error" in a:
        row.status = "ERROR"
        row.notes.append(f"current tree: {a['error']}")
        return None
    if "error" in b:
        row.status = "ref-error"
        row.notes.append(f"reference tree (not failed): {b['error']}")
        return None
    return a, b


def machine_load() -> float:
    """The 1-minute load average (runnable processes), 0.0 where the system does not say."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return 0.0


def confirmations(rounds_so_far: int, load: Callable[[], float]) -> int:
    """How many re-measurements a slow first round needs before it is a regression: one, and a
    second one when the machine is overloaded (load average above its number of cores), where a
    false slowdown can survive one re-measurement."""
    return 2 if rounds_so_far >= 2 and load() > (os.cpu_count() or 1) else 1


def gate_scenario(name: str, current: Side, reference: Side, settings: Settings,
                  log: Callable[[str], None] = lambda _: None, budget_s: float | None = None,
                  identical: bool = False, load: Callable[[], float] | None = None) -> Row:
    """Compare one scenario present in both trees (``budget_s`` overrides ``settings.budget_s``).

    ``identical``: both trees hold the same files (HEAD is the reference and nothing is changed
    or untracked), so a difference can only be machine noise: what would be a ``REGRESSION`` is
    reported as ``noise`` (with its figures), not failed. ``load``: the machine's load average
    (default ``machine_load``), which decides whether a second re-measurement is needed.
    """
    declared = [float(side.hello["scenarios"][name].get("threshold", settings.default_threshold))
                for side in (current, reference)]
    threshold = min(declared)
    tolerance = min(float(side.hello["scenarios"][name].get("counter_tolerance", 0.0)) for side in (current, reference))
    throughput_tolerance = min(float(side.hello["scenarios"][name].get("throughput_tolerance", 0.2))
                               for side in (current, reference))
    # what each counter measures: as the current tree declares it (a counter it no longer declares:
    # as the reference did); undeclared, work
    kinds = {**reference.hello["scenarios"][name].get("counter_kinds", {}),
             **current.hello["scenarios"][name].get("counter_kinds", {})}
    row = Row(scenario=name, status="ok", threshold=threshold)
    budget = settings.budget_s if budget_s is None else budget_s
    load = load or machine_load
    try:
        answers = _setup_both(name, current, reference, settings.quick, row)
        if answers is None:
            return row
        a, b = answers
        per_call = max((a["call_s"] + b["call_s"]) / 2, 1e-9)
        number = calls_per_sample(per_call, settings.sample_s)
        pairs = int(min(settings.max_pairs, max(settings.min_pairs, budget / (2 * number * per_call))))
        row.rounds.append(measure_round(current, reference, number, pairs))
        more = max(pairs, settings.min_pairs * 3 // settings.remeasure_factor) * settings.remeasure_factor
        fresh = all(hasattr(side, "restart") for side in (current, reference))
        while row.rounds[-1].slower_than(threshold) and len(row.rounds) < 1 + confirmations(len(row.rounds), load):
            log(f"  {name}: ratio {row.rounds[-1].ratio:.2f} > {threshold:.2f}, re-measuring"
                + (" in fresh workers" if fresh else ""))
            if fresh:
                for side in (current, reference):
                    side.restart()
                if _setup_both(name, current, reference, settings.quick, row) is None:
                    return row
            row.rounds.append(measure_round(current, reference, number, min(more, 2 * settings.max_pairs)))
        counted_a = _ask_ok(current, cmd="counters")
        counted_b = _ask_ok(reference, cmd="counters")
    except ScenarioError as error:
        if error.label == "reference":
            row.status = "ref-error"
            row.notes.append(f"reference tree, while measuring (not failed): {error}")
        else:
            row.status = "ERROR"
            row.notes.append(f"{error.label} tree, while measuring: {error}")
        return row
    row.counters_current, row.counters_reference = counted_a["counters"], counted_b["counters"]
    row.counters_grown = counters_grew(row.counters_current, row.counters_reference, tolerance=tolerance,
                                       kinds=kinds, throughput_tolerance=throughput_tolerance)
    slow = all(r.slower_than(threshold) for r in row.rounds)
    if len(row.rounds) > 1:
        verdict = "confirmed" if slow else "not confirmed: noise"
        again = ", then ".join(f"{r.ratio:.2f} (min {r.min_ratio:.2f})" for r in row.rounds[1:])
        overloaded = (f"; the machine was overloaded (load {load():.1f} on {os.cpu_count()} cores): one more round"
                      if len(row.rounds) > 2 else "")
        row.notes.append(f"time ratio {row.rounds[0].ratio:.2f} (min {row.rounds[0].min_ratio:.2f}) > "
                         f"{threshold:.2f}, re-measured {again}{overloaded} ({verdict})")
    if (slow or row.counters_grown) and identical:
        row.status = "noise"
        row.notes.append("the two trees hold the same files: this difference is machine noise, not failed"
                         + (f" (work counters that vary between runs: {'; '.join(row.counters_grown)})"
                            if row.counters_grown else ""))
    elif slow or row.counters_grown:
        row.status = "REGRESSION"
        if slow:
            row.notes.append(f"slower: median ratio {row.rounds[-1].ratio:.2f} > limit {threshold:.2f}")
        row.notes.extend(f"throughput fell: {text.removesuffix(' (throughput fell)')}" if text.endswith(
            "(throughput fell)") else f"work grew: {text}" for text in row.counters_grown)
    elif row.rounds[-1].ratio < 1 / threshold:
        row.status = "faster"
    return row


def _recover(sides: tuple[Side, ...], log: Callable[[str], None]) -> None:
    """Restart every worker that died or was killed, so the next scenarios still run."""
    for side in sides:
        if hasattr(side, "restart") and not getattr(side, "alive", True):
            try:
                side.restart()
                log(f"gate: restarted the {_label(side)} worker")
            except WorkerFailed as error:
                log(f"gate: cannot restart the {_label(side)} worker: {error}")


def run_gate(current: Side, reference: Side, settings: Settings, only: list[str] | None = None,
             log: Callable[[str], None] = lambda _: None, clock: Callable[[], float] = time.monotonic,
             identical: bool = False) -> list[Row]:
    """Every scenario of either tree, in the current tree's registration order.

    Within ``settings.time_limit_s`` (counted from this call): each scenario's measuring budget is
    at most its share of the time left, and once the time is up the remaining scenarios are
    ``skipped``.
    """
    started = clock()
    cur = current.hello.get("scenarios", {})
    ref = reference.hello.get("scenarios", {})
    names = [n for n in [*cur, *(n for n in ref if n not in cur)] if not only or n in only]
    compared = [n for n in names if n in cur and n in ref]
    rows = []
    for name in names:
        if name not in ref:
            rows.append(Row(scenario=name, status="new", notes=["not in the reference: nothing to compare"]))
            continue
        if name not in cur:
            rows.append(Row(scenario=name, status="gone", notes=["only in the reference"]))
            continue
        budget = settings.budget_s
        if settings.time_limit_s is not None:
            left = settings.time_limit_s - (clock() - started)
            if left <= 0:
                rows.append(Row(scenario=name, status="skipped", notes=[
                    f"not compared: the gate's time limit ({settings.time_limit_s:.0f} s) was reached "
                    f"(--time-limit to raise it)"]))
                continue
            remaining = len(compared) - compared.index(name)
            budget = min(budget, max(0.0, left / (4 * remaining)))
        log(f"gate: {name} ...")
        try:
            rows.append(gate_scenario(name, current, reference, settings, log, budget_s=budget, identical=identical))
        except WorkerFailed as error:
            if error.label == "reference":
                rows.append(Row(scenario=name, status="ref-error", notes=[f"(not failed) {error}"]))
            else:
                rows.append(Row(scenario=name, status="ERROR", notes=[str(error)]))
            _recover((current, reference), log)
        if identical and rows[-1].status == "ERROR":  # same code, failing on one side only: a flaky scenario
            rows[-1].status = "noise"
            rows[-1].notes.append("failed in the current tree only, but the two trees hold the same files: "
                                  "a flaky scenario (or a hang under load), not a regression; not failed")
    return rows


def module_rows(current: dict[str, Any], reference: dict[str, Any]) -> list[Row]:
    """Rows for the scenario modules that could not be imported (workers' hellos).

    A module that imports in the reference but not in the current tree fails (``ERROR``); a module
    new in this tree that cannot be imported is reported ``new``, one broken in both trees
    ``ref-error`` (neither is caused by this change: not failed); a module that reads absent data
    on import, or that is listed but missing from the tree, is ``skipped``.
    """
    rows = []
    ref_modules = set(reference.get("modules", []))
    ref_errors = reference.get("import_errors", {})
    for module, error in current.get("import_errors", {}).items():
        if module in ref_errors:
            rows.append(Row(scenario=module, status="ref-error",
                            notes=[f"scenario module fails to import in both trees (not failed): {error}"]))
        elif module not in ref_modules:
            rows.append(Row(scenario=module, status="new",
                            notes=[f"new scenario module fails to import (not failed; `python -m benchmarks "
                                   f"--quick` shows it): {error}"]))
        else:
            rows.append(Row(scenario=module, status="ERROR",
                            notes=[f"scenario module fails to import (it does in the reference): {error}"]))
    for module, why in current.get("import_skips", {}).items():
        rows.append(Row(scenario=module, status="skipped", notes=[f"module skipped: {why}"]))
    for module in current.get("absent", []):
        rows.append(Row(scenario=module, status="skipped",
                        notes=["listed in SCENARIO_MODULES but not in this tree (not failed: commit the module)"]))
    return rows


def _work_text(row: Row) -> str:
    if row.counters_grown:
        return "FELL" if all(t.endswith("(throughput fell)") for t in row.counters_grown) else "GREW"
    common = set(row.counters_current) & set(row.counters_reference)
    if not common:
        return "-"
    changed = [k for k in common if row.counters_current[k] != row.counters_reference[k]]
    return "same" if not changed else "within tol."


def table(rows: list[Row]) -> str:
    """The readable verdict: one line per scenario, then the notes."""
    head = (f"{'scenario':<36}{'current ms':>11}{'ref ms':>10}{'ratio':>7}{'p25-p75':>12}{'limit':>7}"
            f"{'samples':>10}  {'work':<11} verdict")
    lines = [head, "-" * len(head)]
    for row in rows:
        if row.rounds:
            r = row.rounds[-1]
            lines.append(f"{row.scenario:<36}{r.current_ms:>11.3f}{r.reference_ms:>10.3f}{r.ratio:>7.2f}"
                         f"{f'{r.ratio_p25:.2f}-{r.ratio_p75:.2f}':>12}{row.threshold:>7.2f}"
                         f"{f'{r.pairs}x{r.number}':>10}  {_work_text(row):<11} {row.status}")
        else:
            lines.append(f"{row.scenario:<36}{'-':>11}{'-':>10}{'-':>7}{'-':>12}{'-':>7}{'-':>10}  {'-':<11} {row.status}")
    notes = [f"  {row.scenario}: {note}" for row in rows for note in row.notes]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def _git(*args: str, cwd: Path = ROOT) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as error:  # no git on this machine
        raise UsageError(f"cannot run git: {error}") from None
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def _commit(rev: str, repo: Path) -> str | None:
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=repo)
    except UsageError:
        return None


def resolve_reference(ref: str | None, repo: Path = ROOT) -> tuple[str, str]:
    """(commit sha, how it was chosen).

    ``ref`` given: that revision (UsageError when unknown). Otherwise the merge-base of HEAD and
    ``main`` (a local branch, else ``origin/main``); the tip of main itself when they have no
    merge-base (a shallow clone, unrelated histories); HEAD when there is no main at all (a clone
    of one feature branch): the gate then compares the tree with its own last commit.
    """
    try:
        _git("rev-parse", "--is-inside-work-tree", cwd=repo)
    except UsageError as error:
        raise UsageError(f"{repo} is not a git checkout (the gate needs git): {error}") from error
    if ref is not None:
        sha = _commit(ref, repo)
        if sha is None:
            raise UsageError(f"unknown git revision {ref!r}")
        return sha, f"--ref {ref}"
    head = _commit("HEAD", repo)
    if head is None:
        raise UsageError(f"{repo} has no commit yet: nothing to compare with")
    for base in ("main", "origin/main"):
        tip = _commit(base, repo)
        if tip is None:
            continue
        try:
            return _git("merge-base", "HEAD", base, cwd=repo), f"merge-base of HEAD and {base}"
        except UsageError:
            return tip, f"tip of {base}: no merge-base with HEAD (shallow clone or unrelated history)"
    return head, "HEAD: no main or origin/main branch here, so the tree is compared with its own last commit"


def add_worktree(sha: str, directory: Path, repo: Path = ROOT) -> str:
    """Check ``sha`` out in ``directory``; returns how ("worktree" or "archive").

    ``git worktree add --detach`` (hooks off; retried: another git command may hold a lock
    briefly), else ``git archive | tar -x`` (a read-only or locked repository): the files of the
    commit either way.
    """
    errors = []
    for attempt in range(3):
        try:
            _git("-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "--quiet", str(directory), sha,
                 cwd=repo)
            return "worktree"
        except UsageError as error:
            errors.append(str(error))
            shutil.rmtree(directory, ignore_errors=True)
            subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True, check=False)
            time.sleep(1 + attempt)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=repo, capture_output=True, check=False)
        if archive.returncode == 0:
            unpack = subprocess.run(["tar", "-x", "-C", str(directory)], input=archive.stdout, capture_output=True,
                                    check=False)
            if unpack.returncode == 0:
                return "archive"
            errors.append(f"tar -x: {unpack.stderr.decode(errors='replace').strip()}")
        else:
            errors.append(f"git archive: {archive.stderr.decode(errors='replace').strip()}")
    except OSError as error:
        errors.append(str(error))
    raise UsageError("; ".join(errors[-2:]))


def remove_worktree(directory: Path, repo: Path = ROOT) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(directory)], cwd=repo, capture_output=True, check=False)
    shutil.rmtree(directory, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True, check=False)


def worker_env(root: Path, scratch: Path) -> dict[str, str]:
    """Same environment for both trees: one thread, fixed hash seed, own cache, same ROME data."""
    env = dict(os.environ)
    pin_threads(env)
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPATH"] = str(root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PASSERELLES_CACHE_DIR"] = str(scratch / "cache")
    rome = Path(os.environ.get("PASSERELLES_ROME_DIR", ROOT.parent / "shared" / "data" / "rome-v460"))
    if rome.is_dir():
        env["PASSERELLES_ROME_DIR"] = str(rome.resolve())  # the worktree's own default would not exist
    return env


def _dirty(repo: Path) -> bool:
    try:
        return bool(_git("status", "--porcelain", "--untracked-files=no", cwd=repo))
    except UsageError:
        return False


def same_files(sha: str, repo: Path = ROOT) -> bool:
    """True when the working tree holds exactly the files of ``sha``: HEAD is ``sha`` and nothing
    is modified or untracked (ignored files such as .venv or benchmarks/results do not count)."""
    try:
        return (_git("rev-parse", "HEAD", cwd=repo) == sha
                and not _git("status", "--porcelain", "--untracked-files=all", cwd=repo))
    except UsageError:
        return False


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # runs the finally blocks: workers stopped, worktree removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks gate",
        description="Fail when the current tree is slower than a reference revision, or does more work.")
    parser.add_argument("--ref", default=None, help="git revision to compare with (default: merge-base of HEAD and main)")
    parser.add_argument("--quick", action="store_true", help="small sizes and fewer samples (CI)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="scenario names to compare")
    parser.add_argument("--budget", type=float, default=None, metavar="S",
                        help="timed seconds per scenario and tree in the first round (default 1.5 quick, 6 full)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="wall seconds for the comparisons, after which the remaining scenarios are skipped "
                             "(default 420 quick, none full; 0 = none)")
    parser.add_argument("--out", type=Path, default=None, help="JSON report (default benchmarks/results/gate-*.json)")
    args = parser.parse_args(argv)
    settings = Settings.for_mode(args.quick, args.budget, args.time_limit)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        sha, how = resolve_reference(args.ref)
    except UsageError as error:
        print(f"gate: error: {error}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _terminate)
    scratch = Path(tempfile.mkdtemp(prefix="passerelles-gate-"))
    worktree = scratch / "tree"
    sides: list[TreeProcess] = []
    rows: list[Row] = []
    identical = False
    blas: dict[str, Any] = {}
    threads: dict[str, Any] = {}
    try:
        try:
            checkout = add_worktree(sha, worktree)
        except UsageError as error:
            print(f"gate: error: cannot check the reference {sha[:12]} out: {error}", file=sys.stderr)
            return 2
        identical = same_files(sha)
        log(f"gate: reference {sha[:12]} ({how}) in {worktree} ({checkout})"
            + ("; the current tree holds the same files" if identical else ""))
        for label, root in (("current", ROOT), ("reference", worktree)):
            (scratch / label).mkdir(exist_ok=True)
            try:
                sides.append(TreeProcess(label, root, worker_env(root, scratch / label), scratch / f"{label}.log",
                                         timeout_s=settings.answer_timeout_s))
            except WorkerFailed as error:
                if label == "current":
                    print(f"gate: error: the current worker did not start: {error}", file=sys.stderr)
                    return 1
                log(f"gate: the reference worker did not start ({error}); nothing compared")
        current = sides[0]
        reference = sides[1] if len(sides) > 1 else None
        if "error" in current.hello:
            print(f"gate: error: the current tree cannot load its scenarios: {current.hello['error']}", file=sys.stderr)
            return 1
        ref_hello = reference.hello if reference is not None else {"error": "no worker"}
        if "error" in ref_hello:  # nothing to compare with: every scenario is reported as new
            log(f"gate: the reference tree cannot load its scenarios ({ref_hello['error']}); nothing compared")
            ref_hello = {"scenarios": {}}
        if reference is not None:
            reference.hello = ref_hello
        for side in sides:
            for module, error in side.hello.get("import_errors", {}).items():
                log(f"gate: {side.label}: cannot import {module}: {error}")
        known = set(current.hello["scenarios"]) | set(ref_hello["scenarios"])
        unknown = sorted(set(args.only or ()) - known)
        if unknown:
            print(f"gate: error: unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                  file=sys.stderr)
            return 2
        if reference is not None:
            rows = run_gate(current, reference, settings, args.only, log, identical=identical)
        else:
            rows = [Row(scenario=name, status="new", notes=["the reference worker did not start"])
                    for name in current.hello["scenarios"] if not args.only or name in args.only]
        if not args.only:
            rows += module_rows(current.hello, ref_hello)
        for side in sides:
            try:
                answer = side.ask(cmd="blas") if side.alive else {}
            except WorkerFailed:
                answer = {}
            blas[side.label] = answer.get("blas")
            threads[side.label] = answer.get("threads") or side.hello.get("threads")
    finally:
        for side in sides:
            side.close()
        remove_worktree(worktree)
        shutil.rmtree(scratch, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
    elapsed = time.perf_counter() - started
    failed = [row for row in rows if row.failed]
    mode = "quick" if args.quick else "full"
    state = " (the same files)" if identical else " (uncommitted changes)" if _dirty(ROOT) else ""
    print(f"gate ({mode}): current tree {ROOT}{state} vs reference {sha[:12]} ({how})")
    print(table(rows))
    pools = sorted({f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} thread"
                    f"{'s' if p.get('num_threads') != 1 else ''})" for pools in blas.values() for p in pools or ()})
    pinned = sorted({f"{k}={v}" for t in threads.values() for k, v in (t or {}).items() if v is not None})
    print(f"\nthreads: {' '.join(pinned) or 'not recorded'}; thread pools (threadpoolctl): "
          f"{', '.join(pools) or 'none loaded'}")
    compared = sum(1 for row in rows if row.rounds)
    if failed:
        print(f"\ngate: FAIL - {len(failed)} of {len(rows)} scenario(s): {', '.join(r.scenario for r in failed)} "
              f"({compared} compared, {elapsed:.0f} s)")
    else:
        print(f"\ngate: PASS - {compared} scenario(s) compared, no regression ({elapsed:.0f} s)")
    out = args.out or ROOT / "benchmarks" / "results" / f"gate-{time.strftime('%Y%m%d-%H%M%S')}.json"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"reference": sha, "how": how, "current": str(ROOT), "identical": identical,
                                   "mode": mode,
                                   "settings": asdict(settings), "seconds": elapsed, "passed": not failed,
                                   "blas": blas, "threads": threads, "driver_threads": thread_settings(),
                                   "rows": [asdict(row) for row in rows]}, indent=2))
    except OSError as error:
        log(f"gate: cannot write {out}: {error}")
    return 1 if failed else 0
