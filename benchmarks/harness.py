"""Timing harness: each scenario times this project and a named baseline in the same process.

Machines here are noisy, so a scenario's verdict is the *ratio* of its median to the median of a
baseline measured alternately in the same run (ours, baseline, baseline, ours, ...), plus work
counters that do not depend on timing at all: the scenario's own (postings touched, rows scanned)
and ``alloc_peak_bytes``, the peak heap bytes of one call of ``ours`` measured by tracemalloc in a
separate, untimed pass. BLAS/OpenMP thread pools are pinned to one thread while timing.

Regressions against another git revision: ``python -m benchmarks gate`` (benchmarks/gate.py).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from .measure import COUNTER_KINDS, THREAD_VARIABLES, blas_config, release_context, single_thread, time_call
from .measure import percentile as percentile
from .measure import work_counters as _work_counters

REGISTRY: dict[str, "Scenario"] = {}


@dataclass
class Scenario:
    """A timed operation and its baseline.

    ``setup(quick)`` returns a context passed to ``ours(ctx)`` and ``baseline(ctx)``; each call is
    one timed sample. ``counters(ctx)`` returns counters, by default machine-independent work
    counters, where more is worse (postings touched, rows scanned, candidates scored): the gate
    fails when one grows by more than ``counter_tolerance`` (relative; 0 = any growth).
    ``counter_kinds``: {counter: kind} for the others (``measure.COUNTER_KINDS``): ``throughput``
    (more is better, e.g. requests served in a fixed window: the gate fails when one falls by more
    than ``throughput_tolerance``) and ``info`` (latencies, ratios: reported, never compared); an
    undeclared counter is ``work``. ``threshold``: the gate fails when
    the median time ratio current/reference exceeds it. ``alloc``: measure ``alloc_peak_bytes``
    (set False when tracing allocations would take too long for this scenario).
    """

    name: str
    setup: Callable[[bool], Any]
    ours: Callable[[Any], Any]
    baseline: Callable[[Any], Any]
    baseline_name: str
    repeats: int = 30
    quick_repeats: int = 7
    target: str = ""
    counters: Callable[[Any], dict[str, float]] | None = None
    threshold: float = 1.3
    counter_tolerance: float = 0.0
    alloc: bool = True
    counter_kinds: dict[str, str] = field(default_factory=dict)
    throughput_tolerance: float = 0.2

    def __post_init__(self) -> None:
        unknown = {k: v for k, v in self.counter_kinds.items() if v not in COUNTER_KINDS}
        if unknown:
            raise ValueError(f"scenario {self.name}: unknown counter kind(s) {unknown}: expected one of {COUNTER_KINDS}")


def scenario(**kwargs: Any) -> Callable[[Callable], Callable]:
    """Decorator form: ``@scenario(name=..., baseline=..., ...)`` on the ``setup`` function."""

    def register(setup: Callable) -> Callable:
        REGISTRY[kwargs["name"]] = Scenario(setup=setup, **kwargs)
        return setup

    return register


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(samples) * 1e3, "p99_ms": percentile(samples, 99) * 1e3,
            "min_ms": min(samples) * 1e3, "n": len(samples)}


def work_counters(sc: Scenario, ctx: Any) -> dict[str, float]:
    """The scenario's own counters, ``alloc_peak_bytes`` and ``read_bytes`` of one ``ours`` call
    (untimed pass; see ``measure.work_counters``)."""
    return _work_counters(sc, ctx)


def run_scenario(sc: Scenario, quick: bool, ctx: Any = None) -> dict[str, Any]:
    """Time ``ours`` and ``baseline`` alternately (ABBA order), then count work in an untimed pass.

    ``ctx``: an already built ``sc.setup(quick)`` (scenarios sharing a setup share it).
    """
    if ctx is None:
        ctx = sc.setup(quick)
    with single_thread():
        sc.ours(ctx)  # warm-up: imports, caches, page faults
        sc.baseline(ctx)
        ours: list[float] = []
        base: list[float] = []
        for i in range(sc.quick_repeats if quick else sc.repeats):
            if i % 2 == 0:
                ours.append(time_call(sc.ours, ctx))
                base.append(time_call(sc.baseline, ctx))
            else:
                base.append(time_call(sc.baseline, ctx))
                ours.append(time_call(sc.ours, ctx))
        counters = work_counters(sc, ctx)
    result = {"scenario": sc.name, "target": sc.target, "baseline": sc.baseline_name,
              "ours": summary(ours), "baseline_timing": summary(base), "threads": 1}
    result["ratio_to_baseline"] = result["ours"]["median_ms"] / max(result["baseline_timing"]["median_ms"], 1e-9)
    result["counters"] = counters
    if sc.counter_kinds:
        result["counter_kinds"] = dict(sc.counter_kinds)
    return result


def run_all(names: list[str] | None, quick: bool, log: Callable[[str], None] = lambda _: None,
            problems: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """Run the registered scenarios (all, or those in ``names``) in registration order.

    Consecutive scenarios registered with the same ``setup`` function share one context. A
    scenario whose data is missing (``FileNotFoundError``) is skipped, one that raises is
    recorded as an error, and the others still run: ``problems`` (when given) receives
    ``{"skipped": {name: why}, "errors": {name: why}}``.
    """
    problems = problems if problems is not None else {}
    skipped, errors = problems.setdefault("skipped", {}), problems.setdefault("errors", {})
    results = []
    shared: tuple[Any, Any] | None = None  # (setup function, ctx)
    for name, sc in REGISTRY.items():
        if names and name not in names:
            continue
        log(f"running {name} ...")
        try:
            if shared is None or shared[0] is not sc.setup:
                if shared is not None:  # its threads (a Dask cluster) would allocate during later measures
                    release_context(*shared)
                shared = None
                shared = (sc.setup, sc.setup(quick))
            results.append(run_scenario(sc, quick, ctx=shared[1]))
        except FileNotFoundError as error:  # e.g. no ROME data on this machine
            skipped[name] = str(error)
            log(f"  skipped {name}: {error}")
        except Exception as error:  # noqa: BLE001 - reported; the other scenarios still run
            errors[name] = f"{type(error).__name__}: {error}"
            log(f"  ERROR in {name}: {type(error).__name__}: {error}")
    if shared is not None:
        release_context(*shared)
    return results


def machine() -> dict[str, Any]:
    """CPU, cores, memory, Python and library versions, BLAS threading."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        memory_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        memory_gib = None
    versions = {}
    for package in ("numpy", "scipy", "polars", "rapidfuzz", "networkx", "scikit-learn", "fastapi"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory_gib, "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions, "blas": blas_config(), "commit": commit,
            "env": {k: os.environ.get(k) for k in (*THREAD_VARIABLES, "OPENBLAS_CORETYPE", "PYTHONHASHSEED")}}


@dataclass
class Report:
    """One run of ``python -m benchmarks``: machine, results, and what could not run.

    ``skipped``: scenario or module -> why (data missing); ``errors``: scenario or module -> the
    exception it raised.
    """

    quick: bool
    machine: dict[str, Any] = field(default_factory=machine)
    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path) -> Path:
        self.machine["blas"] = blas_config()  # now that the scenarios have loaded every library
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"quick": self.quick, "machine": self.machine, "results": self.results,
                                    "skipped": self.skipped, "errors": self.errors},
                                   indent=2, ensure_ascii=False))
        return path

    def table(self) -> str:
        lines = [f"{'scenario':<34}{'median ms':>11}{'p99 ms':>10}{'baseline ms':>13}{'ratio':>8}"
                 f"{'alloc KiB':>11}{'read KiB':>10}  target | counters"]
        for r in self.results:
            counters = dict(r.get("counters") or {})
            alloc, read = counters.pop("alloc_peak_bytes", None), counters.pop("read_bytes", None)
            alloc_text = f"{alloc / 1024:>11.1f}" if alloc is not None else f"{'-':>11}"
            read_text = f"{read / 1024:>10.1f}" if read is not None else f"{'-':>10}"
            shown = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                              for k, v in counters.items())
            lines.append(f"{r['scenario']:<34}{r['ours']['median_ms']:>11.3f}{r['ours']['p99_ms']:>10.3f}"
                         f"{r['baseline_timing']['median_ms']:>13.3f}{r['ratio_to_baseline']:>8.3f}{alloc_text}"
                         f"{read_text}  {r['target']}" + (f" | {shown}" if shown else ""))
        lines += [f"{name:<34}{'skipped':>11}  {why}" for name, why in self.skipped.items()]
        lines += [f"{name:<34}{'ERROR':>11}  {why}" for name, why in self.errors.items()]
        return "\n".join(lines)
