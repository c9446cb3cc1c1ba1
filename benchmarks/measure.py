"""Measurement primitives shared by ``python -m benchmarks`` and the gate's workers.

Standard library only, and no import from the rest of the project: the gate's worker loads this
file by path inside *another* tree (the reference revision), whose own ``benchmarks`` package may
be older than this one.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import sys
import time
import tracemalloc
from typing import Any, Callable

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "POLARS_MAX_THREADS", "RAYON_NUM_THREADS")


def pin_threads(environ: dict[str, str] | os._Environ = os.environ) -> dict[str, str]:
    """Set every BLAS/OpenMP/Numba/polars thread-count variable to 1 (before numpy or polars load)."""
    for variable in THREAD_VARIABLES:
        environ[variable] = "1"
    return thread_settings(environ)


def thread_settings(environ: dict[str, str] | os._Environ = os.environ) -> dict[str, str | None]:
    """The thread-count variables as this process sees them (recorded in every report)."""
    return {variable: environ.get(variable) for variable in THREAD_VARIABLES}


def blas_config() -> list[dict[str, Any]]:
    """The thread pools actually loaded (threadpoolctl): library, version, threads, architecture."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return []
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture", "threading_layer")
    return [{k: v for k, v in info.items() if k in keep} for info in threadpool_info()]


class single_thread:
    """Context manager: BLAS/OpenMP pools limited to 1 thread (a no-op when threadpoolctl is absent)."""

    def __enter__(self) -> "single_thread":
        try:
            from threadpoolctl import threadpool_limits

            self._limits = threadpool_limits(limits=1)
        except ImportError:  # pragma: no cover
            self._limits = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._limits is not None:
            self._limits.unregister()


def time_call(fn: Callable[[Any], Any], ctx: Any) -> float:
    """Seconds taken by one call ``fn(ctx)``."""
    start = time.perf_counter()
    fn(ctx)
    return time.perf_counter() - start


def time_calls(fn: Callable[[Any], Any], ctx: Any, number: int) -> float:
    """Mean seconds per call over ``number`` back-to-back calls (one gate sample)."""
    start = time.perf_counter()
    for _ in range(number):
        fn(ctx)
    return (time.perf_counter() - start) / number


def calls_per_sample(seconds_per_call: float, target_s: float, cap: int = 10_000) -> int:
    """How many back-to-back calls make one sample last about ``target_s`` (at least 1)."""
    if seconds_per_call <= 0:
        return cap
    return max(1, min(cap, math.ceil(target_s / seconds_per_call)))


def alloc_peak_bytes(fn: Callable[[Any], Any], ctx: Any, calls: int = 1) -> int:
    """Peak traced heap bytes above the start of one call of ``fn(ctx)`` (tracemalloc, untimed).

    Counts Python objects and numpy/scipy buffers (numpy reports to tracemalloc); memory that a
    Rust or C library allocates on its own (polars, BLAS workspaces) is not seen. With ``calls`` >
    1 the smallest peak is kept: one-time caches filled by the first call do not count.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    peaks = []
    try:
        for _ in range(max(1, calls)):
            gc.collect()
            tracemalloc.reset_peak()
            start, _ = tracemalloc.get_traced_memory()
            fn(ctx)
            _, peak = tracemalloc.get_traced_memory()
            peaks.append(max(0, peak - start))
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return min(peaks)


def _rchar() -> int | None:
    """Bytes this process has read through read(2) and friends so far (Linux ``/proc/self/io``)."""
    try:
        with open("/proc/self/io", "rb") as handle:
            for line in handle:
                if line.startswith(b"rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def read_bytes(fn: Callable[[Any], Any], ctx: Any, calls: int = 2) -> int | None:
    """Bytes read from files (and pipes) during one call of ``fn(ctx)``; None where unmeasurable.

    Linux's ``rchar`` counter of ``/proc/self/io`` before and after the call, smallest of ``calls``
    calls: a machine-independent count of the I/O a call does (a load that starts re-reading or
    hashing every source file shows here even when the disk cache hides its time). Files mapped
    into memory (mmap) are not counted. None on systems without ``/proc/self/io``.
    """
    if _rchar() is None:
        return None
    counts = []
    for _ in range(max(1, calls)):
        first = _rchar()
        before = _rchar()  # first -> before: what reading the counter itself costs
        fn(ctx)
        after = _rchar()
        if first is None or before is None or after is None:
            return None
        counts.append(max(0, (after - before) - (before - first)))
    return min(counts)


def work_counters(scenario: Any, ctx: Any) -> dict[str, Any]:
    """Every work counter of one scenario, in an untimed pass after its timing.

    The scenario's own ``counters(ctx)`` (postings touched, rows scanned ...; numbers), then for
    every scenario ``alloc_peak_bytes`` (tracemalloc peak of one call of ``ours``; absent when the
    scenario sets ``alloc=False``) and ``read_bytes`` (bytes read during one call; Linux only).
    Shared by ``python -m benchmarks`` and the gate's workers, so both count the same way whatever
    the age of the tree whose scenario is counted.
    """
    counters: dict[str, Any] = {}
    own = getattr(scenario, "counters", None)
    for name, value in (own(ctx) if own else {}).items():
        try:
            counters[name] = value if isinstance(value, (int, float)) else float(value)
        except (TypeError, ValueError):
            counters[name] = str(value)
    if getattr(scenario, "alloc", True):
        counters["alloc_peak_bytes"] = alloc_peak_bytes(scenario.ours, ctx, calls=2)
    read = read_bytes(scenario.ours, ctx, calls=2)
    if read is not None:
        counters["read_bytes"] = read
    return counters


def release_context(setup: Any, ctx: Any) -> None:
    """Release a scenario context that is no longer needed: ``cleanup(ctx)`` of the module that
    defines ``setup``, when it has one (``benchmarks/scenarios/batch.py`` closes its Dask
    ``LocalCluster`` and removes its temporary folder).

    A context dropped without it may leave threads running in the process: a local cluster's
    scheduler, client and system monitor wake up several times a second and allocate, and
    ``alloc_peak_bytes`` (tracemalloc, process-wide) then charges their allocations to whatever
    scenario is measured next: the quick gate of 2026-12-05 08:34 saw ``semantic_title_search`` go
    from 82 KB to 321 KB and ``rate_limit_take`` from 2 KB to 42 KB with no change to their code;
    run after the batch scenarios in one process, ``semantic_title_search`` measured 82-160 KB with
    the cluster's 9 threads alive and 85 KB every time once it was closed (as in a fresh process).
    A failing cleanup is reported on stderr, never raised: the next scenario still runs."""
    if ctx is None or setup is None:
        return
    module = sys.modules.get(getattr(setup, "__module__", "") or "")
    cleanup = getattr(module, "cleanup", None)
    if not callable(cleanup):
        return
    try:
        cleanup(ctx)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        print(f"benchmarks: cleanup of {module.__name__} failed: {type(error).__name__}: {error}", file=sys.stderr)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` in [0, 100] (NaN when empty)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def trimmed_mean(values: list[float], cut: float = 0.2) -> float:
    """Mean after dropping the ``cut`` lowest and highest fraction of the values."""
    ordered = sorted(values)
    k = int(len(ordered) * cut)
    kept = ordered[k:len(ordered) - k] or ordered
    return statistics.fmean(kept)


#: What a scenario's counter measures, declared where the scenario defines it (``counter_kinds``):
#: ``work`` (more is worse: postings touched, rows scanned, bytes allocated; the default),
#: ``throughput`` (more is better: requests served in a fixed window, requests per second; a
#: drop is the regression), ``info`` (reported, never compared: latencies, ratios, sizes).
COUNTER_KINDS = ("work", "throughput", "info")


def counters_grew(current: dict[str, float], reference: dict[str, float], tolerance: float = 0.0,
                  alloc_tolerance: float = 0.10, alloc_slack_bytes: int = 64 * 1024,
                  read_tolerance: float = 0.25, read_slack_bytes: int = 1024 * 1024,
                  kinds: dict[str, str] | None = None, throughput_tolerance: float = 0.2) -> list[str]:
    """The counters that regressed from ``reference`` to ``current``, each as ``"name ref -> cur"``
    (a throughput one followed by ``" (throughput fell)"``).

    ``kinds``: {counter: kind} (:data:`COUNTER_KINDS`); a counter not named is ``work``. Work
    counters regress when they grow: scenario counters (postings touched, rows scanned ...) are
    exact, any growth beyond ``tolerance`` (relative) counts. Byte counters (``alloc_*``,
    ``*_bytes``) may grow by ``alloc_tolerance`` (relative) plus ``alloc_slack_bytes`` before they
    count: allocator and interpreter details move them a little between processes. ``read_bytes``
    is process-wide, so a library's background thread (a Dask monitor reading /proc) adds to it: it
    may grow by ``read_tolerance`` plus ``read_slack_bytes`` (it is there to catch a call that
    starts reading megabytes). Throughput counters regress when they fall by more than
    ``throughput_tolerance`` (relative: they depend on timing); serving more is never a
    regression. ``info`` counters and counters present on one side only are ignored.
    """
    kinds = kinds or {}
    unknown = {k for k in kinds.values() if k not in COUNTER_KINDS}
    if unknown:
        raise ValueError(f"unknown counter kind(s) {sorted(unknown)}: expected one of {COUNTER_KINDS}")
    grown = []
    for name in sorted(set(current) & set(reference)):
        cur, ref = current[name], reference[name]
        if not isinstance(cur, (int, float)) or not isinstance(ref, (int, float)):
            continue
        kind = kinds.get(name, "work")
        if kind == "info":
            continue
        if kind == "throughput":
            if cur < ref * (1 - throughput_tolerance):
                grown.append(f"{name} {ref:g} -> {cur:g} (throughput fell)")
            continue
        if name == "read_bytes":
            limit = ref * (1 + read_tolerance) + read_slack_bytes
        elif name.startswith("alloc_") or name.endswith("_bytes"):
            limit = ref * (1 + alloc_tolerance) + alloc_slack_bytes
        else:
            limit = ref * (1 + tolerance) if ref >= 0 else ref * (1 - tolerance)
        if cur > limit:
            grown.append(f"{name} {ref:g} -> {cur:g}")
    return grown
