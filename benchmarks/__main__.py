"""``python -m benchmarks [--quick] [--only NAME ...] [--out FILE]``: run the scenarios, print a table.

``python -m benchmarks gate [--ref REV] [--quick]``: compare this tree against a git revision and
fail on a latency or work regression (see benchmarks/gate.py and benchmarks/README.md).
``PASSERELLES_BENCH_MODULES=mod1,mod2`` replaces ``SCENARIO_MODULES`` (used by the gate's tests).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

from .measure import pin_threads  # noqa: E402  (standard library only)

# Latency figures are single-threaded and stable; set before numpy loads BLAS.
pin_threads()

from .harness import REGISTRY, Report, run_all  # noqa: E402

SCENARIO_MODULES = ["benchmarks.scenarios.referential_load", "benchmarks.scenarios.space", "benchmarks.scenarios.normalise",
                    "benchmarks.scenarios.bridges", "benchmarks.scenarios.kits", "benchmarks.scenarios.pool",
                    "benchmarks.scenarios.batch", "benchmarks.scenarios.gaps", "benchmarks.scenarios.rate_limit",
                    "benchmarks.scenarios.encoder", "benchmarks.scenarios.skills_semantic", "benchmarks.scenarios.lheo", "benchmarks.scenarios.prescriptions"]
# Full runs only (`make bench`): a 2-worker server under wrk for minutes is no quick figure and no
# gate material (a second server per tree, seconds of warm-up): it is measured, not gated. The same
# for the first build of ROME's title vectors (minutes on 2 cores).
FULL_ONLY_MODULES = ["benchmarks.scenarios.api_load", "benchmarks.scenarios.encoder_build"]


def scenario_modules(full: bool = False) -> list[str]:
    """``SCENARIO_MODULES`` (plus ``FULL_ONLY_MODULES`` when ``full``), or the comma-separated
    ``PASSERELLES_BENCH_MODULES`` when set."""
    override = os.environ.get("PASSERELLES_BENCH_MODULES", "").strip()
    if override:
        return [m.strip() for m in override.split(",") if m.strip()]
    return list(SCENARIO_MODULES) + (list(FULL_ONLY_MODULES) if full else [])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["gate"]:
        from .gate import main as gate_main

        return gate_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     epilog="python -m benchmarks gate --help: the regression gate")
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--only", nargs="*", default=None, help="scenario names to run")
    parser.add_argument("--out", type=Path, default=None, help="JSON report path")
    args = parser.parse_args(argv)
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = Report(quick=args.quick)
    for module in scenario_modules(full=not args.quick):
        try:
            importlib.import_module(module)
        except FileNotFoundError as error:  # a module that reads its data on import: data missing
            report.skipped[module] = str(error)
            log(f"skipped {module}: {error}")
        except Exception as error:  # noqa: BLE001 - one broken module must not hide the others' figures
            report.errors[module] = f"cannot import: {type(error).__name__}: {error}"
            log(f"ERROR: cannot import {module}: {type(error).__name__}: {error}")
    unknown = sorted(set(args.only or ()) - set(REGISTRY))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    started = time.perf_counter()
    problems = {"skipped": report.skipped, "errors": report.errors}
    report.results = run_all(args.only, args.quick, log=log, problems=problems)
    elapsed = time.perf_counter() - started
    out = args.out or Path("benchmarks/results") / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    report.write(out)
    print(report.table())
    print(f"\nmachine: {report.machine['cpu']}, {report.machine['cores']} cores; "
          f"{len(report.results)} scenarios in {elapsed:.1f} s; BLAS/OpenMP/polars threads pinned to 1; "
          f"report: {out}")
    if report.errors:
        print(f"{len(report.errors)} error(s): {', '.join(report.errors)}", file=sys.stderr)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
