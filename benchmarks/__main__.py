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

SCENARIO_MODULES = ["benchmarks.scenarios.referential_load", "benchmarks.scenarios.space", "benchmarks.scenarios.normalise"]


def scenario_modules() -> list[str]:
    """``SCENARIO_MODULES``, or the comma-separated ``PASSERELLES_BENCH_MODULES`` when set."""
    override = os.environ.get("PASSERELLES_BENCH_MODULES", "").strip()
    return [m.strip() for m in override.split(",") if m.strip()] if override else list(SCENARIO_MODULES)


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
    for module in scenario_modules():
        importlib.import_module(module)
    unknown = sorted(set(args.only or ()) - set(REGISTRY))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    report = Report(quick=args.quick)
    started = time.perf_counter()
    report.results = run_all(args.only, args.quick, log=lambda line: print(line, file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - started
    out = args.out or Path("benchmarks/results") / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    report.write(out)
    print(report.table())
    print(f"\nmachine: {report.machine['cpu']}, {report.machine['cores']} cores; "
          f"{len(report.results)} scenarios in {elapsed:.1f} s; report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
