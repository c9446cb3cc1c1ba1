"""The HTTP API under load (issue 7): a real server, a real load tool, and where the time goes.

Setup: a deterministic synthetic population (``referentiels.synthetic``: 100,000 seekers and 2,000
offers; quick: 2,000 and 200) ingested into a fresh SQLite database, an employer key, then
``uvicorn api.http.app:create_app --factory --workers 2`` on 127.0.0.1 (uvloop + httptools when
installed), warmed up until every worker has built its indexes. The load tool is ``wrk`` (C,
keep-alive, closed loop; Debian package ``wrk``), one thread and ``CONNECTIONS`` connections, with a
Lua script that cycles over a mix of real requests:

- ``GET /occupations/{code}/passerelles?k=10`` over every occupation of the referential,
- ``GET /occupations?q=...`` over noisy job titles (search as you type),
- ``GET /offers/{id}/candidates?k=20`` over the employer's offers (100k seekers), with its key.

Figures (``counters`` of the report, and logged): ``*_cpu_us_per_req``, the server's CPU per request
(all processes, from ``/proc``) over a sequential keep-alive pass of ``/health`` and of the mix (and of
the mix with the cache off): the cost of a request, robust to other work on the machine; ``req_per_s``, ``p50_ms``, ``p90_ms``, ``p99_ms``,
``errors`` (non-2xx, socket errors, timeouts) for the mix over ``DURATION`` s (60; quick 3), and
p50/p99 and req/s of each kind alone (10 s each; quick 1), then each kind alone again on a
second server with the response cache off (``*_uncached_*``: the cost of computing every answer). The target of the issue: >= 1,000 req/s,
p99 <= 25 ms, zero errors on 2 cores. Then ``py-spy`` samples both workers for 10 s of the mix (quick:
2 s; ``--gil``: only the thread running Python, so idle threads and the event loop's wait are not
counted) and the report lists where the CPU time of Python goes: by layer (our handlers, matching core, FastAPI and
pydantic, Starlette, uvicorn and the event loop, SQLite) and the top functions by own time; the
collapsed stacks are written next to the JSON report.

Timed samples (``ours`` vs ``baseline``): one request of the mix, sequential on a keep-alive
connection, against ``GET /health`` (the framework's floor on this server).

Without ``wrk`` on the PATH the scenario is skipped with the reason (``apt-get install wrk``).
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from ..harness import scenario

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
CONNECTIONS = 8
SIZES = {False: {"seekers": 100_000, "offers": 2_000, "duration": 60, "each": 10, "profile": 10, "sequential": 4000},
         True: {"seekers": 2_000, "offers": 200, "duration": 3, "each": 1, "profile": 2, "sequential": 400}}

LUA = r"""
local paths = {%(paths)s}
local headers = {["Authorization"] = "Bearer %(key)s"}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKJSON {\"requests\": %%d, \"duration_us\": %%d, \"p50_us\": %%d, \"p90_us\": %%d, " ..
    "\"p99_us\": %%d, \"max_us\": %%d, \"status_errors\": %%d, \"socket_errors\": %%d, \"timeouts\": %%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write, e.timeout))
end
"""


def _log(line: str) -> None:
    print(f"  api_load: {line}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _population(folder: Path, n_seekers: int, n_offers: int) -> tuple[Path, list[str]]:
    """Synthetic seekers and offers in a fresh database; the offers' ids by employer."""
    import polars as pl

    import referentiels
    from api.services.pool_service import Pool, load_basins
    from api.storage.store import Store
    from matching import SkillSpace
    from matching.bridges import BridgeModel
    from referentiels.synthetic import synthesize
    from referentiels.territories import default_basins

    referential = referentiels.load("demo")
    population = synthesize(referential, n_seekers, n_offers, default_basins(), seed=0)
    paths = population.write(folder / "synth")
    database = folder / "load.sqlite3"
    space = SkillSpace.from_referentiel(referential)
    pool = Pool(Store(database), referential, space, BridgeModel.from_referentiel(referential, space),
                basins=load_basins())
    for kind in ("seekers", "offers"):
        report = pool.ingest(kind, pl.read_parquet(paths[kind]), mode="valid", source="bench")
        _log(f"ingested {report.taken:,} {kind} ({len(report.rejected)} rejected)")
    offers = pl.read_parquet(paths["offers"]).select("id", "employer")
    return database, offers


def _start_server(database: Path, port: int, folder: Path, cache: bool = True) -> subprocess.Popen:
    env = {**os.environ, "PASSERELLES_DATABASE": str(database), "PASSERELLES_RATE_LIMIT_PER_MINUTE": "1000000000",
           "PASSERELLES_RATE_LIMIT_BURST": "1000000000", "PYTHONWARNINGS": "ignore",
           # a load test of one client: the per-minute work budgets (issue 17) out of the way like the rate
           **{f"PASSERELLES_WORK_{unit}_PER_MINUTE_{who}": "1000000000000"
              for unit in ("CHARS", "ROWS") for who in ("ANONYMOUS", "KEY")}}
    if not cache:
        env["PASSERELLES_RESPONSE_CACHE_ENTRIES"] = "0"
    command = [sys.executable, "-m", "uvicorn", "api.http.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(WORKERS), "--log-level", "warning", "--no-access-log",
               "--no-proxy-headers"]  # loopback clients, no proxy in front: no X-Forwarded-For check per request
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    atexit.register(_stop, process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {(folder / 'server.log').read_text()[-2000:]}")
        try:
            status, _ = _get(port, "/health")
            if status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer /health within 120 s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # our own server's process group only
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _get(port: int, path: str, headers: dict | None = None, conn: http.client.HTTPConnection | None = None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, body
    finally:
        if own:
            conn.close()


def _wrk(port: int, paths: list[str], key: str, seconds: float, folder: Path, name: str) -> dict:
    script = folder / f"{name}.lua"
    quoted = ", ".join(json.dumps(p) for p in paths)
    script.write_text(LUA % {"paths": quoted, "key": key})
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, int(round(seconds)))}s", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"WRKJSON (\{.*\})", out.stdout)
    if match is None:
        raise RuntimeError(f"wrk gave no figures: {out.stdout[-1000:]} {out.stderr[-1000:]}")
    raw = json.loads(match.group(1))
    seconds_run = raw["duration_us"] / 1e6
    return {"req_per_s": raw["requests"] / seconds_run, "requests": raw["requests"],
            "p50_ms": raw["p50_us"] / 1e3, "p90_ms": raw["p90_us"] / 1e3, "p99_ms": raw["p99_us"] / 1e3,
            "max_ms": raw["max_us"] / 1e3, "errors": raw["status_errors"] + raw["socket_errors"] + raw["timeouts"]}


def _mix(port: int, key: str, offers, employer: str, quick: bool) -> dict[str, list[str]]:
    import referentiels
    from matching.normalise_noise import noisy_titles
    from urllib.parse import quote

    r = referentiels.load("demo")
    codes = r.occupations["code"].to_list()
    pairs = list(zip(r.titles["title"].to_list(), r.titles["occupation"].to_list()))
    titles = [n.text for n in noisy_titles(pairs, 60, seed=0)][:300]
    titles = [t for t in titles if t.strip()]
    own = offers.filter(offers["employer"] == employer)["id"].to_list()[:200]
    return {"passerelles": [f"/occupations/{c}/passerelles?k=10" for c in codes],
            "search": [f"/occupations?q={quote(t[:40])}&k=5" for t in titles],
            "candidates": [f"/offers/{quote(o)}/candidates?k=20" for o in own]}


def _interleave(groups: list[list[str]]) -> list[str]:
    n = max(len(g) for g in groups)
    return [g[i % len(g)] for i in range(n) for g in groups]


def _warm(port: int, paths: list[str], key: str) -> None:
    """Every worker builds its indexes and caches its answers on first use: send every path on
    ``4 x WORKERS`` parallel connections (the kernel hands each connection to one worker; with 8 of
    them, a worker gets none with probability 2 x 2^-8), so that the measure is the steady state."""
    from concurrent.futures import ThreadPoolExecutor

    headers = {"Authorization": f"Bearer {key}"}
    n = 4 * WORKERS

    def run(start: int) -> list[int]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            return [_get(port, p, headers, conn)[0] for p in paths[start:] + paths[:start]]
        finally:
            conn.close()

    for _ in range(2):
        with ThreadPoolExecutor(n) as executor:
            statuses = [s for chunk in executor.map(run, [i * len(paths) // n for i in range(n)]) for s in chunk]
    bad = Counter(s for s in statuses if s != 200)
    if bad:
        raise RuntimeError(f"warm-up answers that are not 200: {dict(bad)}")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (the uvicorn supervisor and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def _cpu_per_request(server: subprocess.Popen, port: int, paths: list[str], key: str, n: int) -> float:
    """Server CPU (µs) per request of ``paths`` sent one at a time on one keep-alive connection: the
    cost of a request, far less sensitive to other work on the machine than a rate under wrk."""
    headers = {"Authorization": f"Bearer {key}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        before = _cpu_seconds(server.pid)
        for i in range(n):
            status, _ = _get(port, paths[i % len(paths)], headers, conn)
            if status != 200:
                raise RuntimeError(f"{paths[i % len(paths)]}: {status}")
        return (_cpu_seconds(server.pid) - before) / n * 1e6
    finally:
        conn.close()


def _profile(server: subprocess.Popen, port: int, paths: list[str], key: str, seconds: float, folder: Path) -> dict:
    """py-spy over the server's processes while wrk drives the mix; by layer and top own-time functions."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return {"error": "py-spy not installed"}
    raw = folder / f"profile-{port}.txt"
    spy = subprocess.Popen([py_spy, "record", "--pid", str(server.pid), "--subprocesses", "--duration",
                            str(int(seconds) + 1), "--rate", "200", "--format", "raw", "--output", str(raw),
                            "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    _wrk(port, paths, key, seconds, folder, "profile")
    try:
        _, err = spy.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        return {"error": "py-spy did not finish"}
    if not raw.exists():
        return {"error": f"py-spy failed: {err.strip()[-300:]}"}
    return summarise_profile(raw.read_text())


# py-spy frames read "function (package/module.py:line)": "(api/" is ours, "fastapi/" is not.
LAYERS = [("sqlite", ("sqlite3", "(api/storage/")), ("matching core", ("(matching/",)),
          ("our API code", ("(api/",)), ("pydantic", ("pydantic",)), ("FastAPI", ("(fastapi/",)),
          ("Starlette", ("starlette/",)), ("uvicorn + event loop", ("uvicorn/", "asyncio/", "uvloop", "httptools")),
          ("orjson", ("orjson",)), ("threads, waiting", ("threading.py", "concurrent/futures", "anyio/"))]


def summarise_profile(collapsed: str) -> dict:
    """Collapsed stacks (``frame;frame;... count``) -> share of samples by layer (the innermost frame
    of a known layer) and the 12 functions with the most own samples."""
    layers: Counter = Counter()
    leaves: Counter = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaves[re.sub(r"^process \d+:\"[^\"]*\";?", "", frames[-1])[:120]] += n
        layer = "other"
        for frame in reversed(frames):
            found = next((name for name, marks in LAYERS if any(m in frame for m in marks)), None)
            if found:
                layer = found
                break
        layers[layer] += n
    if not total:
        return {"samples": 0}
    return {"samples": total,
            "by_layer": {k: round(v / total, 3) for k, v in layers.most_common()},
            "top_own": [(k, round(v / total, 3)) for k, v in leaves.most_common(12)]}


def _ours(ctx: dict) -> None:
    ctx["i"] = (ctx["i"] + 1) % len(ctx["mix"])
    status, _ = _get(ctx["port"], ctx["mix"][ctx["i"]], ctx["headers"], ctx["conn"])
    assert status == 200, status


def _baseline(ctx: dict) -> None:
    status, _ = _get(ctx["port"], "/health", None, ctx["conn"])
    assert status == 200, status


@scenario(name="api_load", ours=_ours, baseline=_baseline,
          baseline_name="GET /health on the same server (framework floor)", repeats=200,
          quick_repeats=20, target=">= 1,000 req/s, p99 <= 25 ms, 0 errors (2 workers, wrk, 60 s)",
          counters=lambda ctx: ctx["figures"], counter_tolerance=1e9, alloc=False, threshold=2.0)
def _setup(quick: bool) -> dict:
    if shutil.which("wrk") is None:
        raise FileNotFoundError("wrk is not installed (apt-get install wrk): the load scenario needs a real load tool")
    from api.storage.keys import KeyStore

    size = SIZES[quick]
    folder = Path(tempfile.mkdtemp(prefix="passerelles-load-"))
    started = time.perf_counter()
    database, offers = _population(folder, size["seekers"], size["offers"])
    employer = offers["employer"].value_counts(sort=True)["employer"][0]
    keys = KeyStore(database)
    key, _ = keys.create("employer", employer=employer, name="api_load benchmark")
    keys.close()
    port = _free_port()
    server = _start_server(database, port, folder)
    _log(f"population and server ready in {time.perf_counter() - started:.1f} s (port {port}, {WORKERS} workers)")
    groups = _mix(port, key, offers, employer, quick)
    mix = _interleave(list(groups.values()))
    _warm(port, mix, key)
    figures: dict = {"seekers": size["seekers"], "connections": CONNECTIONS, "workers": WORKERS}
    for name, paths in (("health", ["/health"]), ("mix", mix)):
        cost = _cpu_per_request(server, port, paths, key, size["sequential"])
        figures[f"{name}_cpu_us_per_req"] = round(cost, 1)
        _log(f"{name}: {cost:.0f} µs of server CPU per request (sequential, keep-alive, {size['sequential']:,})")
    run = _wrk(port, mix, key, size["duration"], folder, "mix")
    figures.update({f"mix_{k}": round(v, 3) for k, v in run.items()})
    _log(f"mix of {len(mix)} requests, {size['duration']} s: {run['req_per_s']:.0f} req/s, p50 {run['p50_ms']:.2f} ms, "
         f"p99 {run['p99_ms']:.2f} ms, errors {run['errors']}")
    for name, paths in groups.items():
        alone = _wrk(port, paths, key, size["each"], folder, name)
        figures.update({f"{name}_req_per_s": round(alone["req_per_s"], 1), f"{name}_p50_ms": round(alone["p50_ms"], 3),
                        f"{name}_p99_ms": round(alone["p99_ms"], 3), f"{name}_errors": alone["errors"]})
        _log(f"{name} alone: {alone['req_per_s']:.0f} req/s, p50 {alone['p50_ms']:.2f} ms, p99 {alone['p99_ms']:.2f} ms, "
             f"errors {alone['errors']}")
    profile = _profile(server, port, mix, key, size["profile"], folder)
    _log(f"profile ({profile.get('samples', 0)} samples): {profile.get('by_layer', profile.get('error'))}")
    for name, share in profile.get("top_own", [])[:6]:
        _log(f"  {share:6.1%}  {name}")
    _stop(server)
    # The same, each kind alone, with the response cache off: the cost of computing every answer.
    cold_port = _free_port()
    cold = _start_server(database, cold_port, folder, cache=False)
    _warm(cold_port, mix, key)
    cost = _cpu_per_request(cold, cold_port, mix, key, size["sequential"] // 4)
    figures["mix_uncached_cpu_us_per_req"] = round(cost, 1)
    _log(f"mix, cache off: {cost:.0f} µs of server CPU per request (sequential)")
    for name, paths in groups.items():
        alone = _wrk(cold_port, paths, key, size["each"], folder, f"{name}-uncached")
        figures.update({f"{name}_uncached_req_per_s": round(alone["req_per_s"], 1),
                        f"{name}_uncached_p50_ms": round(alone["p50_ms"], 3),
                        f"{name}_uncached_p99_ms": round(alone["p99_ms"], 3), f"{name}_uncached_errors": alone["errors"]})
        _log(f"{name} alone, cache off: {alone['req_per_s']:.0f} req/s, p50 {alone['p50_ms']:.2f} ms, "
             f"p99 {alone['p99_ms']:.2f} ms, errors {alone['errors']}")
    cold_profile = _profile(cold, cold_port, mix, key, size["profile"], folder)
    _log(f"profile, cache off ({cold_profile.get('samples', 0)} samples): "
         f"{cold_profile.get('by_layer', cold_profile.get('error'))}")
    for name, share in cold_profile.get("top_own", [])[:6]:
        _log(f"  {share:6.1%}  {name}")
    _stop(cold)
    server = _start_server(database, port, folder)
    _warm(port, mix, key)
    out = ROOT / "benchmarks" / "results" / f"api_load-profile-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"figures": figures, "profile": profile, "profile_uncached": cold_profile}, indent=2))
    _log(f"figures and profile: {out}")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    return {"figures": figures, "conn": conn, "port": port, "mix": mix, "i": 0,
            "headers": {"Authorization": f"Bearer {key}"}, "server": server}
