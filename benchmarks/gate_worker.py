"""One side of the gate: a long-lived process that runs one tree's scenarios, sample by sample.

Started by benchmarks/gate.py as ``python gate_worker.py TREE_ROOT`` with ``PYTHONPATH=TREE_ROOT``,
so ``benchmarks``, ``referentiels``, ``matching`` and ``api`` are imported from TREE_ROOT only (the
current checkout for one worker, the reference worktree for the other): import state cannot leak
between the trees. This file itself always comes from the *current* tree and depends only on the
standard library plus ``measure.py`` next to it (loaded by path), because the reference tree's
``benchmarks`` package may be older.

Protocol: one JSON object per line on stdin, one JSON answer per line on stdout. Anything the
scenarios print goes to stderr.

    {"cmd": "setup", "name": N, "quick": bool} -> {"ok": true, "setup_s", "call_s"} | {"skip": why} | {"error": why}
    {"cmd": "time", "number": k}               -> {"s": seconds per call of ours, mean over k calls}
    {"cmd": "counters"}                        -> {"counters": {...}} (measure.work_counters: the scenario's
                                                  own, alloc_peak_bytes, read_bytes)
    {"cmd": "blas"}                            -> {"blas": [...], "threads": {...}} (threadpoolctl pools;
                                                  the thread-count variables)
    {"cmd": "quit"}
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

PROJECT_PACKAGES = ("benchmarks", "referentiels", "matching", "api")


def _load_measure() -> Any:
    path = Path(__file__).resolve().with_name("measure.py")
    spec = importlib.util.spec_from_file_location("_passerelles_gate_measure", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _leaks(root: Path) -> list[str]:
    """Project packages imported from anywhere else than ``root``."""
    leaks = []
    for name in PROJECT_PACKAGES:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None) if module else None
        if file and not Path(file).resolve().is_relative_to(root):
            leaks.append(f"{name} from {file}")
    return leaks


class Worker:
    def __init__(self, root: Path, measure: Any) -> None:
        self.root = root
        self.measure = measure
        self.registry: dict[str, Any] = {}
        self.import_errors: dict[str, str] = {}
        self.import_skips: dict[str, str] = {}
        self.absent: list[str] = []
        self.scenario: Any = None
        self.ctx: Any = None
        self.ctx_key: tuple[Any, bool] | None = None
        self.limits: Any = None

    def hello(self) -> dict[str, Any]:
        if not (self.root / "benchmarks" / "harness.py").exists():
            return {"ok": True, "scenarios": {}, "note": "this tree has no benchmarks/harness.py"}
        main = importlib.import_module("benchmarks.__main__")
        harness = importlib.import_module("benchmarks.harness")
        override = os.environ.get("PASSERELLES_BENCH_MODULES", "").strip()
        modules = ([m.strip() for m in override.split(",") if m.strip()] if override
                   else list(getattr(main, "SCENARIO_MODULES", [])))
        for module in modules:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as error:
                if error.name and (module == error.name or module.startswith(error.name + ".")):
                    self.absent.append(module)  # not in this tree at all (e.g. newer than the reference)
                else:
                    self.import_errors[module] = f"{type(error).__name__}: {error}"
            except FileNotFoundError as error:  # reads its data on import: the data is missing here
                self.import_skips[module] = str(error)
            except Exception as error:  # noqa: BLE001 - reported, the other modules still run
                self.import_errors[module] = f"{type(error).__name__}: {error}"
        self.registry = dict(harness.REGISTRY)
        leaks = _leaks(self.root)
        if leaks:
            return {"error": "imported outside the tree: " + "; ".join(leaks)}
        scenarios = {}
        for name, sc in self.registry.items():
            scenarios[name] = {"threshold": float(getattr(sc, "threshold", 1.3)),
                               "counter_tolerance": float(getattr(sc, "counter_tolerance", 0.0)),
                               # a tree older than the declaration: every counter is work
                               "counter_kinds": dict(getattr(sc, "counter_kinds", None) or {}),
                               "throughput_tolerance": float(getattr(sc, "throughput_tolerance", 0.2)),
                               "target": getattr(sc, "target", ""), "baseline": getattr(sc, "baseline_name", "")}
        modules = [m for m in modules if m not in self.absent]
        return {"ok": True, "scenarios": scenarios, "modules": modules, "import_errors": self.import_errors,
                "import_skips": self.import_skips, "absent": self.absent, "root": str(self.root), "python": sys.version.split()[0],
                "pid": os.getpid(), "threads": self.measure.thread_settings()}

    def setup(self, name: str, quick: bool) -> dict[str, Any]:
        sc = self.registry[name]
        key = (sc.setup, quick)
        started = time.perf_counter()
        if self.ctx_key is None or self.ctx_key[0] is not key[0] or self.ctx_key[1] != quick:
            if self.ctx_key is not None:  # its threads (a Dask cluster) would allocate during later measures
                self.measure.release_context(self.ctx_key[0], self.ctx)
            self.ctx = self.ctx_key = None
            gc.collect()
            try:
                self.ctx = sc.setup(quick)
            except FileNotFoundError as error:
                return {"skip": str(error)}
            self.ctx_key = key
        setup_s = time.perf_counter() - started
        self.scenario = sc
        if self.limits is not None:
            self.limits.__exit__(None, None, None)
        self.limits = self.measure.single_thread().__enter__()
        first = self.measure.time_call(sc.ours, self.ctx)  # warm-up: imports, caches, page faults
        call = self.measure.time_call(sc.ours, self.ctx)
        return {"ok": True, "setup_s": setup_s, "first_call_s": first, "call_s": call}

    def time(self, number: int) -> dict[str, Any]:
        return {"s": self.measure.time_calls(self.scenario.ours, self.ctx, int(number))}

    def counters(self) -> dict[str, Any]:
        return {"counters": self.measure.work_counters(self.scenario, self.ctx), "blas": self.measure.blas_config()}


def serve(root: Path) -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # scenario output (Python or C level) goes to stderr, never into the protocol
    sys.stdout = sys.stderr
    measure = _load_measure()
    measure.pin_threads()
    worker = Worker(root, measure)

    def answer(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
        answer(worker.hello())
    except Exception as error:  # noqa: BLE001
        answer({"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()})
        return
    for line in sys.stdin:
        request = json.loads(line)
        command = request.get("cmd")
        if command == "quit":
            answer({"ok": True})
            return
        try:
            if command == "setup":
                answer(worker.setup(request["name"], bool(request["quick"])))
            elif command == "time":
                answer(worker.time(request["number"]))
            elif command == "counters":
                answer(worker.counters())
            elif command == "blas":
                answer({"blas": measure.blas_config(), "threads": measure.thread_settings()})
            else:
                answer({"error": f"unknown command {command!r}"})
        except Exception as error:  # noqa: BLE001 - the driver reports it against the scenario
            answer({"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()})


if __name__ == "__main__":
    tree = Path(sys.argv[1]).resolve()
    script_dir = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path(script_dir)]
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    serve(tree)
