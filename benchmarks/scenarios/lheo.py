"""LHEO import: a regional flux of 50,000 actions and 100,000 sessions, read and made a catalogue.

- ``lheo_import_50k``: the product's import (``api.services.training_service.LheoImport``, as
  ``POST /trainings:ingest`` and ``passerelles trainings import`` run it) of a generated LHEO 2.3
  file of 25,000 formations, 50,000 actions, 100,000 sessions (about 100 MB), batch by batch
  (``referentiels.lheo.iter_lheo``, streaming and safe, 2,000 actions a batch): what each action
  teaches (``matching.training_skills.derive_teaching``: core skills of its ROME codes and the
  skill normaliser over its objective and content phrases, each phrase matched once for the whole
  offer) and the batch's catalogue with its sessions (``referentiels.trainings.from_lheo``), the
  batches joined at the end. Baseline: the textbook reader — the standard library's
  ``xml.etree.ElementTree.parse`` of the whole file into memory (no streaming, no safety), then a
  ``findall``/``findtext`` walk over the same fields, without validation or skill derivation.
  Target: >= 1,000 actions per second, peak memory bounded (the issue: 60 s, 500 MB).

The file is generated once per run in a temporary folder: 200 distinct formations written by
``write_lheo`` (titles, objectives and contents drawn from the referential's skill labels, two
actions each in basins across France, two sessions each, two funders with financed places),
repeated with fresh ids and a block phrase opening each objective (no two blocks share a text,
so nothing is derived once for two blocks). The skill phrases are those of the 200 formations:
a real regional flux has more distinct phrases, and the normaliser's share of the time grows
with them (it matches thousands of phrases a second).

Work counters: actions, sessions, file bytes, ``phrases`` matched, ``peak_rss_mb``: the peak
resident memory of a child process doing one import (interpreter, libraries, referential and
normaliser included: Linux VmHWM, reset just before the import), and ``import_rss_mb``: that peak
minus the resident memory just before the import (what the import itself adds).
``import_s`` / ``actions_per_s`` (wall) and ``import_cpu_s`` / ``actions_per_cpu_s`` (the child's
CPU time: what the import costs whatever the host's load) are reported as text (timing, not compared).
The store path is measured too, in a second child: ``passerelles trainings import`` as the CLI runs
it (``TrainingService.ingest(..., serve=False)``: read, derive, spool, one transaction into a new
SQLite file): ``store_peak_rss_mb`` (the whole process, VmHWM, from its start: the target is
500 MB), ``store_rss_before_mb`` (state and normaliser built, before the file is read) and
``store_actions_per_s`` (text). Two more children on the same file: ``serve_peak_rss_mb`` (an
ingest that then serves the offer, ``serve=True``, as ``POST /trainings:ingest`` does; target 500
MB) with ``serve_actions_per_s`` (text), and ``restart_peak_rss_mb`` (a process starting on the
store the CLI child wrote: the catalogue and its index read back; target 500 MB) with
``restart_s`` (text).
``--quick``: the demo referential, 5,000 actions and 10,000 sessions.

- ``training_get_50k``: what one ``GET /trainings/{id}`` costs on that catalogue, served
  (``TrainingService.training``: the training's row, its LHEO action and its sessions with their
  places, read through the index built once when the catalogue is served), 50 trainings asked in
  turn. Baseline: the same body built as before the index, joining and sorting every session of
  the catalogue on each call. Counter ``session_rows_read``: the session rows one call reads (the
  training's own); ``actions`` and ``sessions`` for information. Its setup imports the flux once
  more (quick: about 2 s; full: as long as one ``lheo_import_50k`` import).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

import referentiels
from api.services.training_service import LheoImport
from matching.normalise import SkillNormaliser
from referentiels.lheo import NAMESPACES, SESSION_SCHEMA, TRAINING_SCHEMA, write_lheo
from referentiels.territories import default_basins

from ..data import rome_dir
from ..harness import scenario

TEMPLATE_FORMATIONS = 200


def _template(r, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """200 formations x 2 actions x 2 sessions over referential ``r`` (frames for ``write_lheo``)."""
    rng = np.random.default_rng(seed)
    labels = r.skills["label"].to_list()
    occupations = r.occupation_codes
    basins = default_basins().to_dicts()
    kept = json.dumps({"code-FORMACODE@ref": "V13", "code-ROME@ref": "V4", "code-niveau-entree": "1",
                       "parcours-de-formation": "1", "rythme-formation": "Temps plein",
                       "code-public-vise": ["80056"], "code-public-vise@ref": "V13", "niveau-entree-obligatoire": "0",
                       "modalites-alternance": "Aucune", "conditions-specifiques": "Aucune",
                       "prise-en-charge-frais-possible": "1", "numero-activite": "22600000060",
                       "raison-sociale": "Organisme"}, sort_keys=True)
    trainings, sessions = [], []
    first = date(2027, 1, 4)
    for f in range(TEMPLATE_FORMATIONS):
        picks = rng.choice(len(labels), size=6, replace=False)
        occ = [str(occupations[i]) for i in rng.choice(len(occupations), size=2, replace=False)]
        objective = ". ".join(labels[i] for i in picks[:2]) + "."
        content = "\n".join(f"- {labels[i]}" for i in picks[2:])
        for a in range(2):
            b = basins[int(rng.integers(len(basins)))]
            i = f * 2 + a
            trainings.append({
                "id": f"AF{i:06d}", "formation": f"FO{f:05d}", "title": f"Formation {labels[picks[0]][:80]} & co",
                "objective": objective, "content": content, "results": "Attestation de compétences",
                "occupations": occ, "formacodes": [f"{22000 + f:05d}"], "nsf": ["254"], "rncp": [],
                "certifying": bool(f % 2), "organisation": f"Organisme de formation {f % 97}",
                "siret": f"{12345678900000 + f:014d}", "teaching_mode": 0, "remote": False,
                "permanent_entry": bool(a), "address_lines": ["1 place de la Gare"], "postcode": "60000",
                "city": b["name"], "lat": round(b["lat"] + rng.normal(0, 0.05), 5),
                "lon": round(b["lon"] + rng.normal(0, 0.05), 5), "hours": float(rng.integers(35, 800)),
                "cost": float(rng.integers(500, 9000)), "funders": ["2", "4"],
                "funder_places": [int(rng.integers(4, 16)), int(rng.integers(2, 8))], "places": None, "kept": kept,
                "line": None})
            for s in range(2):
                start = first + timedelta(days=int(rng.integers(0, 600)))
                sessions.append({
                    "id": f"SE{i:06d}-{s}", "training": f"AF{i:06d}", "start": start, "start_precision": "day",
                    "end": start + timedelta(days=int(rng.integers(20, 200))), "end_precision": "day",
                    "state": "ouvert", "registration_lines": ["1 place de la Gare"], "registration_postcode": "60000",
                    "registration_city": b["name"], "capacity": None, "line": None})
    return pl.DataFrame(trainings, schema=TRAINING_SCHEMA), pl.DataFrame(sessions, schema=SESSION_SCHEMA)


def generate_flux(r, n_actions: int, folder: Path) -> Path:
    """An LHEO 2.3 file of ``n_actions`` actions (2 sessions each) in ``folder``: the 200-formation
    template written by ``write_lheo``, its formations repeated with a block prefix on every id."""
    import io

    trainings, sessions = _template(r)
    buffer = io.BytesIO()
    write_lheo(trainings, sessions, buffer)
    data = buffer.getvalue()
    head_end = data.index(b"<offres>") + len(b"<offres>")
    tail_start = data.rindex(b"</offres>")
    body = data[head_end:tail_start]
    blocks = -(-n_actions // (2 * TEMPLATE_FORMATIONS))
    path = folder / f"flux-{n_actions}.xml"
    with path.open("wb") as out:
        out.write(data[:head_end])
        for k in range(blocks):
            block = body.replace(b'numero="', f'numero="B{k:04d}-'.encode())  # ids: ASCII, no markup
            # each block's objectives open with their own phrase, so no two blocks share a text
            out.write(block.replace(b"<objectif-formation>", f"<objectif-formation>Bloc {k} : ".encode()))
        out.write(data[tail_start:])
    return path


def import_catalogue(path: Path, r, normaliser):
    """The import the product does (``LheoImport``, as ``POST /trainings:ingest``): read, derive what
    each action teaches and build the catalogue, batch by batch. Returns (catalogue, the import)."""
    run = LheoImport(path, r, normaliser, mode="valid")
    for _ in run.batches():
        pass
    return run.catalogue(), run


def _textbook(path: Path) -> tuple[int, int]:
    ns = {"l": NAMESPACES["2.3"]}
    root = ET.parse(path).getroot()
    actions = sessions = 0
    rows = []
    for f in root.iterfind("l:offres/l:formation", ns):
        title = f.findtext("l:intitule-formation", namespaces=ns)
        rome = [e.text for e in f.iterfind("l:domaine-formation/l:code-ROME", ns)]
        for a in f.iterfind("l:action", ns):
            actions += 1
            city = a.findtext("l:lieu-de-formation/l:coordonnees/l:adresse/l:ville", namespaces=ns)
            for s in a.iterfind("l:session", ns):
                sessions += 1
                rows.append((title, rome, city, s.findtext("l:periode/l:debut", namespaces=ns),
                             s.findtext("l:periode/l:fin", namespaces=ns)))
    return actions, sessions


@lru_cache(maxsize=2)
def _setup(quick: bool) -> dict:
    source = "demo" if quick else f"rome:{rome_dir()}"
    r = referentiels.load(source)
    normaliser = SkillNormaliser.fit(r)
    folder = Path(tempfile.mkdtemp(prefix="passerelles-bench-lheo-"))
    n = 5_000 if quick else 50_000
    path = generate_flux(r, n, folder)
    return {"r": r, "normaliser": normaliser, "path": path, "n": n, "source": source}


_CHILD = """
import gc, json, sys, time
import referentiels
from matching.normalise import SkillNormaliser
from benchmarks.scenarios.lheo import import_catalogue

def status(key):
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:  # not Linux: the peak since the start, in kB
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if key == "VmHWM" else 0

r = referentiels.load(sys.argv[2]); normaliser = SkillNormaliser.fit(r)
gc.collect()
try:
    with open("/proc/self/clear_refs", "w") as handle:  # resets VmHWM (the peak) to the current RSS
        handle.write("5")
except OSError:
    pass
base = status("VmRSS")
t, c = time.perf_counter(), time.process_time()
catalogue, teaching = import_catalogue(sys.argv[1], r, normaliser)
dt, dc = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"actions": len(catalogue), "sessions": catalogue.sessions.height, "import_s": dt, "cpu_s": dc,
                  "phrases": teaching.phrases, "rss_before_kb": base, "peak_kb": status("VmHWM")}))
"""


_STORE_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
from api.settings import Settings
from api.services.state import AppState
from api.services.training_service import TrainingService

def status(key):
    try:
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if key == "VmHWM" else 0

mode, database = sys.argv[3], Path(sys.argv[4])  # store: the CLI's import; serve: an ingest that then
# serves the offer (POST /trainings:ingest); restart: a process starting on the store the first one wrote
service = TrainingService.of(AppState.from_settings(Settings(referentiel=sys.argv[2], database=database)))
service._skill_normaliser(), service._default()  # what the import needs, built before the file is read
base = status("VmRSS")
t = time.perf_counter()
if mode == "restart":
    service.index  # the catalogue and its planner index, as a serving process builds them
    body = {"received": len(service.catalogue)}
else:
    body = service.ingest(Path(sys.argv[1]), fmt="lheo", records="valid", serve=mode == "serve")
dt = time.perf_counter() - t
print(json.dumps({"actions": body["received"], "import_s": dt, "rss_before_kb": base, "peak_kb": status("VmHWM")}))
"""


def _store_counters(ctx: dict) -> dict:
    root = Path(__file__).resolve().parents[2]

    def child(mode: str, database: Path) -> dict:
        args = [str(ctx["path"]), ctx["source"], mode, str(database)]
        done = subprocess.run([sys.executable, "-c", _STORE_CHILD, *args], capture_output=True, text=True, cwd=root,
                              env={"PYTHONPATH": str(root), **_env()}, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory(prefix="passerelles-bench-store-") as folder:
        store = child("store", Path(folder) / "p.sqlite3")
        restart = child("restart", Path(folder) / "p.sqlite3")
        serve = child("serve", Path(folder) / "q.sqlite3")
    return {"store_peak_rss_mb": round(store["peak_kb"] / 1024, 1),
            "store_rss_before_mb": f"{store['rss_before_kb'] / 1024:.1f}",
            "store_actions_per_s": f"{store['actions'] / store['import_s']:.0f}",
            "serve_peak_rss_mb": round(serve["peak_kb"] / 1024, 1),
            "serve_actions_per_s": f"{serve['actions'] / serve['import_s']:.0f}",
            "restart_peak_rss_mb": round(restart["peak_kb"] / 1024, 1),
            "restart_s": f"{restart['import_s']:.2f}"}


def _counters(ctx: dict) -> dict:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _CHILD, str(ctx["path"]), ctx["source"]], capture_output=True,
                          text=True, cwd=root, env={"PYTHONPATH": str(root), **_env()}, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    return {**_store_counters(ctx), "actions": child["actions"], "sessions": child["sessions"], "file_bytes": ctx["path"].stat().st_size,
            "phrases": child["phrases"], "peak_rss_mb": round(child["peak_kb"] / 1024, 1),
            "import_rss_mb": round((child["peak_kb"] - child["rss_before_kb"]) / 1024, 1),
            "rss_before_import_mb": f"{child['rss_before_kb'] / 1024:.1f}",
            "import_s": f"{child['import_s']:.2f}", "actions_per_s": f"{child['actions'] / child['import_s']:.0f}",
            "import_cpu_s": f"{child['cpu_s']:.2f}", "actions_per_cpu_s": f"{child['actions'] / child['cpu_s']:.0f}"}


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


scenario(name="lheo_import_50k", ours=lambda c: import_catalogue(c["path"], c["r"], c["normaliser"]),
         baseline=lambda c: _textbook(c["path"]),
         baseline_name="stdlib ElementTree.parse of the whole file + findall walk (no validation, no skills)",
         target=">= 1,000 actions/s; <= 60 s and <= 500 MB for 50,000 actions", repeats=3, quick_repeats=3,
         counters=_counters, counter_tolerance=0.25, alloc=False)(_setup)



@lru_cache(maxsize=2)
def _get_setup(quick: bool) -> dict:
    """The flux of ``lheo_import_50k`` imported and served by a ``TrainingService`` (no store: the
    capacities are the places left), and the training ids asked for in turn."""
    import itertools

    from api.services.state import AppState
    from api.services.training_service import TrainingService
    from api.settings import Settings

    ctx = _setup(quick)
    catalogue, _ = import_catalogue(ctx["path"], ctx["r"], ctx["normaliser"])
    state = AppState(settings=Settings(referentiel=ctx["source"], database=":memory:"), referentiel=ctx["r"])
    service = TrainingService.of(state)
    with service._lock:
        service._from_store = False
        service._set(catalogue)
    ids = catalogue.ids
    asked = [ids[i] for i in range(0, len(ids), max(1, len(ids) // 50))]
    return {"service": service, "catalogue": catalogue, "ids": itertools.cycle(asked),
            "baseline_ids": itertools.cycle(asked)}


def _get_training_joining_all(ctx: dict) -> dict:
    """GET /trainings/{id}'s body as it was built before the index: filter the trainings, then join
    every session to its training and sort them all, and keep this training's."""
    from api.services.training_service import offer_dict, session_dict, training_dict

    c, training_id = ctx["catalogue"], next(ctx["baseline_ids"])
    row = c.frame.filter(pl.col("id") == training_id).row(0, named=True)
    offer = c.offer.filter(pl.col("id") == training_id)
    sessions = c.session_frame().with_row_index("_row").filter(pl.col("training") == training_id)
    return {**training_dict(row, ctx["service"].referentiel),
            "lheo": offer_dict(offer.row(0, named=True)) if offer.height else None,
            "sessions": [session_dict(s) for s in sessions.to_dicts()]}


def _get_counters(ctx: dict) -> dict:
    c = ctx["catalogue"]
    return {"actions": len(c), "sessions": c.sessions.height,
            "session_rows_read": len(ctx["service"].training(c.ids[0])["sessions"])}


scenario(name="training_get_50k", ours=lambda c: c["service"].training(next(c["ids"])),
         baseline=_get_training_joining_all,
         baseline_name="the same body joining and sorting every session of the catalogue per call (before the index)",
         target="one training's cost, not the catalogue's: <= 5 ms on 50,000 actions / 100,000 sessions",
         repeats=50, quick_repeats=20, counters=_get_counters, counter_kinds={"actions": "info", "sessions": "info"},
         counter_tolerance=0.0)(_get_setup)

__all__ = ["generate_flux", "import_catalogue"]
