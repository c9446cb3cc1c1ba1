"""The regression gate: ``python -m benchmarks gate [--ref REV] [--quick] [--only NAME ...]``.

Compares the current tree (the files on disk, uncommitted changes included) with a reference
revision (default: the merge-base of HEAD and ``main``), checked out in a temporary ``git
worktree``. Two long-lived worker processes, one per tree (benchmarks/gate_worker.py, each with
its own ``PYTHONPATH``), run the same scenario; the driver asks them for timed samples in turn
(current, reference, reference, current, ...), so both trees see the same machine load. Per
scenario:

- a sample is ``number`` back-to-back calls of ``ours`` (calibrated so one lasts ~20-50 ms) and
  each pair of samples gives a ratio current/reference; the scenario's ratio is the **median of
  the paired ratios**, which ignores load spikes hitting a few samples;
- a ratio above the scenario's ``threshold`` (default 1.3; the stricter of the two trees'
  declarations), together with the ratio of the fastest samples, is re-measured with twice as
  many pairs, and only a confirmed excess fails;
- work counters (the scenario's own, and ``alloc_peak_bytes`` from an untimed tracemalloc pass)
  fail the gate when they grow (see ``measure.counters_grew``);
- a scenario present in one tree only is reported, not failed; one whose data is missing is
  skipped; one that raises in the current tree fails.

Exit code 0: no regression; 1: a regression (or a scenario broken in the current tree); 2: usage
error (bad revision, not a git checkout, unknown scenario name).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from .measure import calls_per_sample, counters_grew, percentile, pin_threads

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().with_name("gate_worker.py")
FAILING = ("REGRESSION", "ERROR")


class UsageError(Exception):
    """A bad command line or repository state: exit code 2."""


@dataclass(frozen=True)
class Settings:
    """How long to measure. ``budget_s``: timed seconds per scenario and tree in the first round."""

    quick: bool = False
    sample_s: float = 0.05
    budget_s: float = 6.0
    min_pairs: int = 15
    max_pairs: int = 61
    remeasure_factor: int = 2
    default_threshold: float = 1.3

    @classmethod
    def for_mode(cls, quick: bool, budget_s: float | None = None) -> "Settings":
        base = cls(quick=True, sample_s=0.02, budget_s=1.5, min_pairs=9, max_pairs=31) if quick else cls()
        return base if budget_s is None else Settings(**{**asdict(base), "budget_s": budget_s})


class Side(Protocol):
    """One tree's worker, as the driver sees it (a subprocess in real runs, a fake in unit tests)."""

    hello: dict[str, Any]

    def ask(self, **message: Any) -> dict[str, Any]: ...


class WorkerFailed(RuntimeError):
    pass


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

    def restart(self) -> None:
        self.close()
        self._start()

    def log_tail(self, lines: int = 12) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _read(self) -> dict[str, Any]:
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
        if not ready:
            raise WorkerFailed(f"{self.label} worker gave no answer within {self.timeout_s:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerFailed(f"{self.label} worker died (exit {self.proc.wait()}):\n{self.log_tail()}")
        return json.loads(line)

    def ask(self, **message: Any) -> dict[str, Any]:
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise WorkerFailed(f"{self.label} worker is gone ({error}):\n{self.log_tail()}") from error
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
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
    status: str  # ok | faster | REGRESSION | ERROR | new | gone | skipped | ref-error
    threshold: float | None = None
    rounds: list[Round] = field(default_factory=list)
    counters_current: dict[str, Any] = field(default_factory=dict)
    counters_reference: dict[str, Any] = field(default_factory=dict)
    counters_grown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in FAILING


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
                 min_ratio=min(cur) / max(min(ref), 1e-12), current_ms=statistics.median(cur) * 1e3, reference_ms=statistics.median(ref) * 1e3,
                 pairs=pairs, number=number)


class ScenarioError(Exception):
    pass


def _ask_ok(side: Side, **message: Any) -> dict[str, Any]:
    answer = side.ask(**message)
    if "error" in answer:
        raise ScenarioError(answer["error"])
    return answer


def gate_scenario(name: str, current: Side, reference: Side, settings: Settings,
                  log: Callable[[str], None] = lambda _: None) -> Row:
    """Compare one scenario present in both trees."""
    declared = [float(side.hello["scenarios"][name].get("threshold", settings.default_threshold))
                for side in (current, reference)]
    threshold = min(declared)
    tolerance = min(float(side.hello["scenarios"][name].get("counter_tolerance", 0.0)) for side in (current, reference))
    row = Row(scenario=name, status="ok", threshold=threshold)
    a = current.ask(cmd="setup", name=name, quick=settings.quick)
    b = reference.ask(cmd="setup", name=name, quick=settings.quick)
    for answer in (a, b):
        if "skip" in answer:
            row.status = "skipped"
            row.notes.append(f"skipped: {answer['skip']}")
            return row
    if "error" in a:
        row.status = "ERROR"
        row.notes.append(f"current tree: {a['error']}")
        return row
    if "error" in b:
        row.status = "ref-error"
        row.notes.append(f"reference tree (not failed): {b['error']}")
        return row
    try:
        per_call = max((a["call_s"] + b["call_s"]) / 2, 1e-9)
        number = calls_per_sample(per_call, settings.sample_s)
        pairs = int(min(settings.max_pairs, max(settings.min_pairs, settings.budget_s / (2 * number * per_call))))
        row.rounds.append(measure_round(current, reference, number, pairs))
        if row.rounds[-1].slower_than(threshold):
            log(f"  {name}: ratio {row.rounds[-1].ratio:.2f} > {threshold:.2f}, re-measuring")
            row.rounds.append(measure_round(current, reference, number, pairs * settings.remeasure_factor))
        counted_a = _ask_ok(current, cmd="counters")
        counted_b = _ask_ok(reference, cmd="counters")
    except ScenarioError as error:
        row.status = "ERROR"
        row.notes.append(f"while measuring: {error}")
        return row
    row.counters_current, row.counters_reference = counted_a["counters"], counted_b["counters"]
    row.counters_grown = counters_grew(row.counters_current, row.counters_reference, tolerance=tolerance)
    slow = all(r.slower_than(threshold) for r in row.rounds)
    if len(row.rounds) > 1:
        verdict = "confirmed" if slow else "not confirmed: noise"
        row.notes.append(f"time ratio {row.rounds[0].ratio:.2f} (min {row.rounds[0].min_ratio:.2f}) > "
                         f"{threshold:.2f}, re-measured {row.rounds[1].ratio:.2f} (min {row.rounds[1].min_ratio:.2f}, "
                         f"{verdict})")
    if slow or row.counters_grown:
        row.status = "REGRESSION"
        if slow:
            row.notes.append(f"slower: median ratio {row.rounds[-1].ratio:.2f} > limit {threshold:.2f}")
        row.notes.extend(f"work grew: {text}" for text in row.counters_grown)
    elif row.rounds[-1].ratio < 1 / threshold:
        row.status = "faster"
    return row


def run_gate(current: Side, reference: Side, settings: Settings, only: list[str] | None = None,
             log: Callable[[str], None] = lambda _: None) -> list[Row]:
    """Every scenario of either tree, in the current tree's registration order."""
    cur = current.hello.get("scenarios", {})
    ref = reference.hello.get("scenarios", {})
    rows = []
    for name in [*cur, *(n for n in ref if n not in cur)]:
        if only and name not in only:
            continue
        if name not in ref:
            rows.append(Row(scenario=name, status="new", notes=["not in the reference: nothing to compare"]))
        elif name not in cur:
            rows.append(Row(scenario=name, status="gone", notes=["only in the reference"]))
        else:
            log(f"gate: {name} ...")
            try:
                rows.append(gate_scenario(name, current, reference, settings, log))
            except WorkerFailed as error:
                rows.append(Row(scenario=name, status="ERROR", notes=[str(error)]))
                for side in (current, reference):
                    if hasattr(side, "restart") and side.proc.poll() is not None:
                        side.restart()
    return rows


def _work_text(row: Row) -> str:
    if row.counters_grown:
        return "GREW"
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
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def resolve_reference(ref: str | None, repo: Path = ROOT) -> tuple[str, str]:
    """(commit sha, how it was chosen). Default: merge-base of HEAD and main (or origin/main), else HEAD."""
    try:
        _git("rev-parse", "--is-inside-work-tree", cwd=repo)
    except (UsageError, OSError) as error:
        raise UsageError(f"{repo} is not a git checkout (the gate needs git): {error}") from error
    if ref is not None:
        try:
            return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repo), f"--ref {ref}"
        except UsageError:
            raise UsageError(f"unknown git revision {ref!r}") from None
    head = _git("rev-parse", "--verify", "HEAD^{commit}", cwd=repo)
    for base in ("main", "origin/main"):
        try:
            _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", cwd=repo)
        except UsageError:
            continue
        return _git("merge-base", "HEAD", base, cwd=repo), f"merge-base of HEAD and {base}"
    return head, "HEAD (no main branch found)"


def add_worktree(sha: str, directory: Path, repo: Path = ROOT) -> None:
    """``git worktree add --detach`` (retried: other git commands may hold a lock briefly)."""
    for attempt in range(5):
        try:
            _git("worktree", "add", "--detach", "--quiet", str(directory), sha, cwd=repo)
            return
        except UsageError:
            if attempt == 4:
                raise
            time.sleep(2)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks gate",
        description="Fail when the current tree is slower than a reference revision, or does more work.")
    parser.add_argument("--ref", default=None, help="git revision to compare with (default: merge-base of HEAD and main)")
    parser.add_argument("--quick", action="store_true", help="small sizes and fewer samples (CI)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="scenario names to compare")
    parser.add_argument("--budget", type=float, default=None, metavar="S",
                        help="timed seconds per scenario and tree in the first round (default 1.5 quick, 6 full)")
    parser.add_argument("--out", type=Path, default=None, help="JSON report (default benchmarks/results/gate-*.json)")
    args = parser.parse_args(argv)
    settings = Settings.for_mode(args.quick, args.budget)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        sha, how = resolve_reference(args.ref)
    except UsageError as error:
        print(f"gate: error: {error}", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="passerelles-gate-"))
    worktree = scratch / "tree"
    sides: list[TreeProcess] = []
    try:
        try:
            add_worktree(sha, worktree)
        except UsageError as error:
            print(f"gate: error: cannot build the reference worktree: {error}", file=sys.stderr)
            return 2
        log(f"gate: reference {sha[:12]} ({how}) in {worktree}")
        for label, root in (("current", ROOT), ("reference", worktree)):
            (scratch / label).mkdir(exist_ok=True)
            try:
                sides.append(TreeProcess(label, root, worker_env(root, scratch / label), scratch / f"{label}.log"))
            except WorkerFailed as error:
                print(f"gate: error: the {label} worker did not start: {error}", file=sys.stderr)
                return 1
        current, reference = sides
        if "error" in current.hello:
            print(f"gate: error: the current tree cannot load its scenarios: {current.hello['error']}", file=sys.stderr)
            return 1
        if "error" in reference.hello:  # nothing to compare with: every scenario is reported as new
            log(f"gate: the reference tree cannot load its scenarios ({reference.hello['error']}); nothing compared")
            reference.hello = {"scenarios": {}}
        for side in sides:
            for module, error in side.hello.get("import_errors", {}).items():
                log(f"gate: {side.label}: cannot import {module}: {error}")
        known = set(current.hello["scenarios"]) | set(reference.hello["scenarios"])
        unknown = sorted(set(args.only or ()) - known)
        if unknown:
            print(f"gate: error: unknown scenario(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                  file=sys.stderr)
            return 2
        rows = run_gate(current, reference, settings, args.only, log)
        broken = [m for m in current.hello.get("import_errors", {}) if m not in reference.hello.get("import_errors", {})]
        for module in broken:
            rows.append(Row(scenario=module, status="ERROR",
                            notes=[f"scenario module fails to import: {current.hello['import_errors'][module]}"]))
        blas: dict[str, Any] = {}
        for side in sides:
            try:
                blas[side.label] = side.ask(cmd="blas").get("blas")
            except WorkerFailed:
                blas[side.label] = None
    finally:
        for side in sides:
            side.close()
        remove_worktree(worktree)
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.perf_counter() - started
    failed = [row for row in rows if row.failed]
    mode = "quick" if args.quick else "full"
    print(f"gate ({mode}): current tree {ROOT}{' (uncommitted changes)' if _dirty(ROOT) else ''} "
          f"vs reference {sha[:12]} ({how}); BLAS/OpenMP threads pinned to 1")
    print(table(rows))
    pools = sorted({f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} thread"
                    f"{'s' if p.get('num_threads') != 1 else ''})" for pools in blas.values() for p in pools or ()})
    print(f"\nthread pools (threadpoolctl, both trees): {', '.join(pools) or 'none loaded'}")
    compared = sum(1 for row in rows if row.rounds)
    if failed:
        print(f"\ngate: FAIL - {len(failed)} of {len(rows)} scenario(s): {', '.join(r.scenario for r in failed)} "
              f"({compared} compared, {elapsed:.0f} s)")
    else:
        print(f"\ngate: PASS - {compared} scenario(s) compared, no regression ({elapsed:.0f} s)")
    out = args.out or ROOT / "benchmarks" / "results" / f"gate-{time.strftime('%Y%m%d-%H%M%S')}.json"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"reference": sha, "how": how, "current": str(ROOT), "mode": mode,
                                   "settings": asdict(settings), "seconds": elapsed, "passed": not failed, "blas": blas,
                                   "rows": [asdict(row) for row in rows]}, indent=2))
    except OSError as error:
        log(f"gate: cannot write {out}: {error}")
    return 1 if failed else 0
