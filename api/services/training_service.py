"""Training gaps, plans, basins and tension as the HTTP routes and the CLI serve them (issue 6).

    service = TrainingService.of(state)          # one per AppState, built lazily
    service.occupation_gap("H2102", "H2913", plan=True, basin="beauvais", radius_km=50)
    service.seeker_gap("S0000001", target="H2913")
    service.tension("beauvais")                  # from the store's seekers and offers
    service.training_needs("beauvais")

The catalogue is ``$PASSERELLES_TRAININGS`` (a CSV or JSON file in the documented format) when
set, else the demo catalogue for the demo referential, else a synthetic catalogue (2,000
trainings, seed 0) so any referential has one; plus the trainings ingested earlier, kept in the
SQLite store (table ``trainings``, their sessions in ``training_sessions``), or only those after
an ingest with ``replace``. ``ingest`` validates a body (a CSV / JSON catalogue, or the regional
offer in LHEO XML: each action a training, each session a session, what each teaches derived with
its evidence), writes it to the store in one transaction, then serves it. The skill-support
matrix (which held skill supports which needed one) is built once.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from matching.gaps import TrainingIndex, basin_needs, choose_targets, occupation_need, skill_gap, held_support_for, support_for
from matching.tension import rerank_toward_tension, tension_table, tension_targets, tension_vector
from matching.tension import toward_tension as toward_tension_of
from referentiels import ReferentielError, territories
from matching.training_skills import derive_teaching, explain
from referentiels.lheo import CHUNK_ROWS, LheoProblem, iter_lheo, looks_like_lheo
from referentiels.lheo import TRAINING_SCHEMA as LHEO_SCHEMA
from referentiels.trainings import (FRAME_SCHEMA, SESSION_SCHEMA, TrainingCatalogue, concat_catalogues, demo_trainings,
                                   from_frame, from_lheo, lean_frames, lheo_frames, load_trainings,
                                   synthesize_trainings)

from api.services.errors import UnknownBasin, UnknownSeeker

DEFAULT_RADIUS_KM = 50.0


@dataclass(frozen=True, eq=False)
class CatalogueRows:
    """Where one training's rows are in a served catalogue, built once when it is served
    (:meth:`TrainingService._set`: load, ingest, import, a file chosen) so that a request costs the
    size of its training, not the catalogue's.

    Attributes:
        catalogue: the catalogue these rows are of
        row:       training id -> its row of ``catalogue.frame`` (the first of equal ids)
        offer:     (n,) int64 over the frame's rows: the row of ``catalogue.offer`` of each training
                   (the first of its id), -1 for a training not read from LHEO
        order:     (s,) int64, the positions in ``catalogue.sessions`` of the session rows (the
                   order of ``session_frame()`` and of ``TrainingIndex``'s session arrays: training
                   row i's sessions are ``order[session_indptr[i]:session_indptr[i + 1]]``)
    """

    catalogue: TrainingCatalogue
    row: dict[str, int]
    offer: np.ndarray
    order: np.ndarray

    @classmethod
    def of(cls, catalogue: TrainingCatalogue) -> "CatalogueRows":
        def first(ids: list[str]) -> dict[str, int]:
            return dict(zip(reversed(ids), range(len(ids) - 1, -1, -1)))  # the first row of an id wins

        offer = np.full(len(catalogue), -1, dtype=np.int64)
        if catalogue.offer is not None and catalogue.offer.height:
            o = catalogue.offer.select("id").with_row_index("_o").unique("id", keep="first")
            joined = catalogue.frame.select("id").with_row_index("_r").join(o, on="id", how="inner")
            offer[joined["_r"].to_numpy()] = joined["_o"].to_numpy()
        return cls(catalogue, first(catalogue.ids), offer, catalogue.session_order())

    def sessions(self, index: TrainingIndex, rows: np.ndarray) -> pl.DataFrame:
        """The rows of ``catalogue.session_frame()`` at session ``rows`` (indices of ``index``'s
        session arrays, ``index`` fitted on this catalogue), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        training = np.searchsorted(index.session_indptr, rows, side="right") - 1
        return self.catalogue.session_rows(self.order[rows], training)


def default_catalogue(referentiel, basins: pl.DataFrame | None = None, skill_resolver=None) -> TrainingCatalogue:
    path = os.environ.get("PASSERELLES_TRAININGS")
    if path:
        return load_trainings(path, referentiel, basins=basins, skill_resolver=skill_resolver)
    try:
        return demo_trainings(referentiel)
    except ReferentielError:  # another referential: the demo's skill codes are not its codes
        return from_frame(synthesize_trainings(referentiel, 2000, basins=basins, seed=0), referentiel)


@dataclass(eq=False)
class TrainingService:
    state: object
    _catalogue: TrainingCatalogue | None = None
    _index: TrainingIndex | None = None
    _support: sp.csr_array | None = None
    _near: sp.csr_array | None = None
    _tension: tuple | None = None
    _default_catalogue: TrainingCatalogue | None = None
    _from_store: bool = True
    _store_seen: tuple = (None, 0)  # (store data_version, last trainings ingest seq) when last read
    _session_rows: tuple = (None, {})  # (catalogue, {(training, session): session row}) for places left
    _rows: CatalogueRows | None = None  # where each training's rows are in the served catalogue
    _lock: threading.RLock = field(default_factory=threading.RLock)
    lheo_batch_actions: int = CHUNK_ROWS  # actions per batch of an LHEO ingest (whole formations)

    @classmethod
    def of(cls, state) -> "TrainingService":
        with _LOCK:
            service = state.extras.get("trainings")
            if service is None:
                service = state.extras["trainings"] = cls(state)
            return service

    # ---- shared, built once ---------------------------------------------------------------------
    @property
    def referentiel(self):
        return self.state.referentiel

    @property
    def basins(self) -> pl.DataFrame:
        return territories.default_basins()

    def _skill_normaliser(self):
        """The served skill normaliser, its encoder reading at most ``MAX_SEMANTIC_TEXTS`` distinct texts a batch."""
        from api.services.encoding import MAX_SEMANTIC_TEXTS, BoundedSemantic

        return BoundedSemantic(self.state.skill_normaliser, MAX_SEMANTIC_TEXTS)

    def skill_resolver(self, texts: list[str]) -> list[str | None]:
        normaliser = self._skill_normaliser()
        return [m.best.code if m.best else None for m in normaliser.batch(texts, k=1)]

    @property
    def catalogue(self) -> TrainingCatalogue:
        """The served catalogue: the default one plus the stored trainings, re-read when another
        process (a second worker, ``passerelles``) ingested trainings since; or a file's, after
        :meth:`use_catalogue`. The check costs one ``PRAGMA data_version`` while nobody writes."""
        with self._lock:
            if self._catalogue is None or (self._from_store and self._stored_trainings_moved()):
                self._set(self._with_stored(self._default))
            return self._catalogue

    def _default(self) -> TrainingCatalogue:
        if self._default_catalogue is None:
            self._default_catalogue = default_catalogue(self.referentiel, self.basins, self.skill_resolver)
        return self._default_catalogue

    def _stored_trainings_moved(self) -> bool:
        """True when the store's trainings changed since the catalogue was read from it."""
        store = self._store()
        if store is None:
            return False
        version = store.data_version()
        if version == self._store_seen[0]:
            return False
        seq = store.trainings_seq()
        moved = seq != self._store_seen[1]
        self._store_seen = (version, seq)
        return moved

    def _store(self, create: bool = False):
        """The SQLite store, when there is one (or ``create``): reading trainings never creates a database."""
        if self.state.extras.get("pool") is None and not create:
            path = getattr(getattr(self.state, "settings", None), "database", None)
            if path is None or str(path) == ":memory:" or not Path(path).exists():
                return None
        return self.state.pool.store

    def _with_stored(self, default) -> TrainingCatalogue:
        """The default catalogue plus the trainings ingested earlier (``POST /trainings:ingest``, kept in
        the store), or only those after an ingest with ``mode=replace``."""
        store = self._store()
        self._from_store = True
        self._store_seen = (store.data_version(), store.trainings_seq()) if store is not None else (None, 0)
        replaced, batches = store.training_text_batches() if store is not None else (False, iter(()))
        import tempfile

        # LHEO records carry the action as read: parsed batch by batch, each batch's frames spooled
        # to a temporary folder and read back in one piece (as an ingest does: frames kept batch
        # after batch would pin the memory each batch's parsing freed)
        with tempfile.TemporaryDirectory(prefix="passerelles-stored-") as folder:
            try:
                return self._stored_catalogue(default, store, replaced, batches, Path(folder))
            except ReferentielError as error:  # e.g. codes of another referential: serve the default, say why
                print(f"passerelles: stored trainings not loaded: {error}", file=sys.stderr)
                return default()

    def _stored_catalogue(self, default, store, replaced: bool, batches, folder: Path) -> TrainingCatalogue:
        """:meth:`_with_stored` with its spool ``folder``. Raises ReferentielError."""
        plain, spooled = [], 0
        for texts in batches:
            offered = [t for t in texts if '"offer":' in t]
            plain += [json.loads(t) for t in texts if '"offer":' not in t]
            if offered:  # the large texts stay in the store (read per training when asked)
                frame, offer = offered_frames(offered, self.referentiel, lean=True)
                frame.write_ipc(folder / f"frame-{spooled:05d}.arrow", compression="uncompressed")
                offer.write_ipc(folder / f"offer-{spooled:05d}.arrow", compression="uncompressed")
                spooled += 1
        give_back_freed_memory()  # the parsed texts, before the catalogue is read back
        parts = [] if not spooled else [tuple(
            pl.scan_ipc(sorted(folder.glob(f"{kind}-*.arrow"))).collect() for kind in ("frame", "offer"))]
        if not parts and not plain:
            return default() if not replaced else from_frame(pl.DataFrame(schema=FRAME_SCHEMA), self.referentiel,
                                                             source="store")
        stored = []
        if plain:
            stored.append(load_trainings(json.dumps(plain).encode(), self.referentiel, fmt="json",
                                         name=f"{store.path} (table trainings)", basins=self.basins))
        if parts:
            stored.append(replace(stored_offer_of(parts, store.training_session_text_batches(), self.referentiel,
                                                  spool=folder), texts_stored=True))
        stored = stored[0] if len(stored) == 1 else stored[0].extend(stored[1])
        give_back_freed_memory()  # the sessions' texts, before the catalogue is joined to the default one
        return stored if replaced else default().extend(stored)

    def _set(self, catalogue: TrainingCatalogue) -> None:
        """Serve ``catalogue``: its planner index and its :class:`CatalogueRows`, built once here."""
        give_back_freed_memory()  # what building the catalogue freed, before its index is built
        index = TrainingIndex.fit(catalogue.teaches, **catalogue.arrays())
        rows = CatalogueRows.of(catalogue)
        self._catalogue, self._index, self._rows = catalogue, index, rows

    def _served(self) -> tuple[TrainingCatalogue, TrainingIndex, CatalogueRows]:
        """The served catalogue, its index and its rows, read together (an ingest may swap them)."""
        with self._lock:
            catalogue = self.catalogue
            return catalogue, self._index, self._rows

    @property
    def index(self) -> TrainingIndex:
        self.catalogue
        return self._index

    @property
    def support(self) -> sp.csr_array:
        """Which skill makes which *held* (the same, or one that contains it: matching/relation.py)."""
        with self._lock:
            if self._support is None:
                self._support = held_support_for(self.state.bridges, self.state.relation, self.referentiel.n_skills)
            return self._support

    @property
    def near(self) -> sp.csr_array:
        """Which skill relates to which (the soft kernel): marks the gap's *close* skills."""
        with self._lock:
            if self._near is None:
                self._near = support_for(self.state.bridges, self.referentiel.n_skills)
            return self._near

    def use_catalogue(self, path) -> None:
        """Serve the catalogue of this file (CSV or JSON). Raises ReferentielError."""
        catalogue = load_trainings(path, self.referentiel, basins=self.basins, skill_resolver=self.skill_resolver)
        with self._lock:
            self._from_store = False  # a file chosen explicitly is served as it is
            self._set(catalogue)

    def read_offer(self, data: bytes | Path, *, name: str = "body", records: str = "all"
                   ) -> tuple[TrainingCatalogue, "LheoImport"]:
        """An LHEO document (bytes or a path) as a catalogue: each action a training whose skills are
        derived with their evidence (``matching.training_skills``), each session a session.
        ``records``: ``all`` refuses the file at its first bad record, ``valid`` leaves bad records
        out (listed in the import's ``problems``). Raises ReferentielError."""
        run = LheoImport(data, self.referentiel, self._skill_normaliser(), mode=records, name=name,
                         basins=self.basins)
        for _ in run.batches():
            pass
        return run.catalogue(), run

    def ingest(self, data: bytes | Path, fmt: str | None = None, replace: bool = False, name: str = "body",
               records: str = "all", serve: bool = True) -> dict:
        """Validate a catalogue body and add its trainings (or replace the catalogue). Raises ReferentielError.

        ``fmt``: ``csv``, ``json`` or ``lheo`` (None: guessed; a body starting with ``<`` is LHEO);
        ``records`` (LHEO only): ``all`` or ``valid`` (see :meth:`read_offer`); ``serve`` (LHEO
        only): False when nothing will be served from this process (the CLI): the offer is only
        stored, never built into a catalogue here."""
        if isinstance(data, Path):
            with data.open("rb") as handle:
                head = handle.read(64)
        else:
            head = data[:64]
        if fmt == "lheo" or (fmt is None and looks_like_lheo(head)):
            return self._ingest_offer(data, replace=replace, name=name, records=records, serve=serve)
        if isinstance(data, Path):
            data = data.read_bytes()
        new = load_trainings(data, self.referentiel, fmt=fmt, name=name, basins=self.basins,
                             skill_resolver=self.skill_resolver)
        with self._lock:
            before = len(self.catalogue)
            catalogue = new if replace else self.catalogue.extend(new)
            # persisted first (one transaction): a restart serves the same catalogue; a failed write changes nothing
            store = self._store(create=True)
            seq = store.save_trainings(json.loads(new.frame.write_json()), replace=replace, source=name)
            self._store_seen = (store.data_version(), seq)
            self._set(catalogue)
            return {"received": len(new), "before": before, "trainings": len(self._catalogue), "replaced": replace,
                    "persisted": True}

    def _ingest_offer(self, data: bytes | Path, *, replace: bool, name: str, records: str, serve: bool = True
                      ) -> dict:
        """Read, derive and encode the offer batch by batch (``LheoImport``) into temporary files, one
        batch in memory at a time: its store records (JSON texts) and, when ``serve``, its catalogue
        frames (Arrow IPC); then write the records to the store in one transaction (as short as
        before: no XML is read while it is open) and, when ``serve``, read the catalogue back in one
        piece and serve it. Without ``serve`` (the CLI, which exits) no catalogue is built: the
        next process reads the store.

        Why spool the frames instead of keeping each batch's catalogue: batches kept in memory sit
        between the next batches' temporaries (the XML tree, the rows as Python objects, the skill
        matching), so what is freed cannot be given back and the offer costs about twice its size;
        read back at once, it is laid out contiguously after the reading's memory is free."""
        import pickle
        import tempfile

        run = LheoImport(data, self.referentiel, self._skill_normaliser(), mode=records, name=name,
                         basins=self.basins, keep=False, batch_actions=self.lheo_batch_actions)
        with tempfile.TemporaryDirectory(prefix="passerelles-lheo-") as folder:
            folder = Path(folder)
            teaches, batches = [], 0
            with (folder / "records.pickle").open("w+b") as spool:
                for part in run.batches():
                    pickle.dump(offer_records(part), spool, protocol=pickle.HIGHEST_PROTOCOL)
                    if serve:
                        spool_catalogue(part, folder, batches)
                        teaches.append(part.teaches)
                    batches += 1
                part = None  # the last batch is not kept either

                def spooled():
                    spool.seek(0)
                    for _ in range(batches):
                        yield pickle.load(spool)  # our own file, written just above

                with self._lock:
                    store = self._store(create=True)  # one transaction: the trainings and their sessions
                    before = len(self.catalogue) if serve else self._served_count(store)
                    seq = store.save_training_batches(spooled(), replace=replace, source=name)
                    if not serve:  # the next reader of this service re-reads the store
                        self._catalogue, self._store_seen = None, (None, 0)
                        served = self._served_count(store)
                    else:  # the reading's and the write's Python objects freed before the catalogue is read back
                        give_back_freed_memory()
                        new = unspool_catalogue(folder, teaches, self.referentiel, source=name) if batches else None
                        teaches.clear()
                        catalogue = self.catalogue if new is None else new if replace else self.catalogue.extend(new)
                        if new is None and replace:
                            catalogue = from_frame(pl.DataFrame(schema=FRAME_SCHEMA), self.referentiel, source="store")
                        self._store_seen = (store.data_version(), seq)
                        self._set(catalogue)
                        served = len(catalogue)
        summary = run.summary()
        return {"format": "lheo", "version": run.version, "received": run.trainings, "sessions": summary["sessions"],
                "rome": summary["rome"], "before": before, "trainings": served,
                "replaced": replace, "persisted": True, "left_out": [p.as_dict() for p in run.problems],
                "without_skills": run.without_skills}

    def _served_count(self, store) -> int:
        """How many trainings a process reading ``store`` serves (its stored trainings, plus the
        default catalogue's other ids unless the last ingest replaced it), without building them."""
        replaced, ids = store.training_ids()
        if replaced:
            return len(ids)
        stored = set(ids)
        return len(ids) + sum(1 for i in self._default().ids if i not in stored)

    def export_lheo(self, out, *, version: str = "2.3") -> int:
        """Write the served catalogue as LHEO ``version`` to a path or binary stream; returns formations."""
        from referentiels.lheo import write_lheo

        r = self.referentiel
        labels = dict(zip(r.skills["code"].to_list(), r.skills["label"].to_list()))
        trainings, sessions = lheo_frames(self.full_catalogue(), labels)
        return write_lheo(trainings, sessions, out, version=version)

    def training(self, training_id: str) -> dict | None:
        """One training with what it teaches and why (evidence) and its sessions with their places.
        Costs its own sessions, not the catalogue's (:class:`CatalogueRows`)."""
        catalogue, index, where = self._served()
        i = where.row.get(training_id)
        if i is None:
            return None
        row = catalogue.frame.row(i, named=True)
        o = int(where.offer[i])
        lheo = None
        if o >= 0 and catalogue.texts_stored:  # its large texts: one record of the store
            row["evidence"], lheo = self.stored_texts([training_id]).get(training_id, (row["evidence"], None))
        elif o >= 0:
            lheo = catalogue.offer.row(o, named=True)
        rows = np.arange(index.session_indptr[i], index.session_indptr[i + 1], dtype=np.int64)
        left = self.places_left(catalogue, index, training=i)  # (len(rows),): this training's only
        places = index.session_places[rows] if left is None else left
        sessions = where.sessions(index, rows)
        return {**training_dict(row, self.referentiel),
                "lheo": offer_dict(lheo) if lheo is not None else None,
                "sessions": [session_dict(s, None if np.isnan(p) else int(p))
                             for s, p in zip(sessions.to_dicts(), places.tolist())]}

    def stored_texts(self, ids: list[str]) -> dict[str, tuple[str | None, dict]]:
        """The large texts of the stored LHEO trainings ``ids``: id -> (``evidence`` JSON text, the
        action as read: a row of ``offer`` as a dict), read from their store records (ids not stored,
        or stored without an LHEO action, are left out)."""
        store = self._store()
        texts = [t for t in (store.training_texts_of(ids).values() if store is not None else ()) if '"offer":' in t]
        if not texts:
            return {}
        frame, offer = offered_frames(texts, self.referentiel)
        return {o["id"]: (e, o) for e, o in zip(frame["evidence"].to_list(), offer.iter_rows(named=True))}

    def training_rows(self, frame: pl.DataFrame, catalogue: TrainingCatalogue | None = None) -> list[dict]:
        """Rows of ``catalogue.frame`` (a slice or filter of it; default the served catalogue) as
        dicts with their ``evidence``, read from the store for the LHEO trainings whose texts it keeps
        (``texts_stored``), 2,000 rows at a time."""
        catalogue = self.catalogue if catalogue is None else catalogue
        if not catalogue.texts_stored:
            return frame.to_dicts()
        out = []
        for lo in range(0, frame.height, 2_000):
            rows = frame.slice(lo, 2_000).to_dicts()
            texts = self.stored_texts([r["id"] for r in rows if r["evidence"] is None])
            for r in rows:
                if r["evidence"] is None and r["id"] in texts:
                    r["evidence"] = texts[r["id"]][0]
            out += rows
        return out

    def full_catalogue(self) -> TrainingCatalogue:
        """The served catalogue with the LHEO trainings' texts (``offer`` whole, ``evidence``): read
        back from the store when the served one keeps them there (an export; the whole offer in memory)."""
        catalogue = self.catalogue
        if not catalogue.texts_stored or catalogue.offer is None or catalogue.offer.height == 0:
            return catalogue
        store = self._store()
        frames, offers = [], []
        if store is not None:
            for texts in store.training_text_batches()[1]:
                offered = [t for t in texts if '"offer":' in t]
                if offered:
                    f, o = offered_frames(offered, self.referentiel)
                    frames.append(f.select("id", "evidence"))
                    offers.append(o)
        if not offers:
            return catalogue
        offer = pl.concat(offers).join(catalogue.offer.select("id"), on="id", how="semi")
        evidence = pl.concat(frames).rename({"evidence": "_evidence"})
        frame = (catalogue.frame.join(evidence, on="id", how="left", maintain_order="left")
                 .with_columns(pl.coalesce("evidence", "_evidence").alias("evidence")).drop("_evidence"))
        return replace(catalogue, frame=frame, offer=offer, texts_stored=False)

    # ---- lookups --------------------------------------------------------------------------------
    def basin(self, basin_id: str) -> dict:
        b = self.basins.filter(pl.col("id") == basin_id)
        if b.height == 0:
            raise UnknownBasin(basin_id, self.basins["id"].to_list())
        return b.row(0, named=True)

    def skill_dict(self, col: int, weight: float | None = None, core: bool | None = None) -> dict:
        r = self.referentiel
        out = {"code": r.skill_codes[col], "label": r.skills["label"][int(col)], "kind": r.skills["kind"][int(col)]}
        if weight is not None:
            out["weight"] = round(float(weight), 4)
        if core is not None:
            out["core"] = bool(core)
        return out

    # ---- gaps and plans ---------------------------------------------------------------------------
    def _gap_skill(self, col: int, weight: float, core: bool | None, close_to: int) -> dict:
        """A gap skill; a close one (related to a skill held, not held) says what it is close to."""
        out = self.skill_dict(col, weight, core)
        if close_to >= 0:
            out.update(close_to=self.skill_dict(close_to), possibly_quick_to_acquire=True)
        return out

    def _gap_dict(self, gap, source: dict, target_row: int) -> dict:
        r = self.referentiel
        held_related = [
            {**self.skill_dict(int(t), w, c), "via": self.skill_dict(int(v))}
            for t, w, c, v in zip(gap.need, gap.weight, gap.core, gap.via) if v >= 0]
        close = gap.missing_close
        return {
            "source": source,
            "target": {"code": r.occupation_codes[target_row], "label": r.occupations["label"][target_row]},
            "coverage": round(gap.coverage, 4), "gap_weight": round(gap.gap_weight, 4),
            "total_weight": round(gap.total_weight, 4),
            "missing": [self._gap_skill(int(c), w, k, int(n)) for c, w, k, n in
                        zip(gap.missing, gap.missing_weight, gap.missing_core, close)],
            "close_skills": int((close >= 0).sum()),
            "held_through_related": held_related,
        }

    def plan(self, gap, *, lat=None, lon=None, radius_km=None, earliest=None, latest=None, max_hours=None,
             today: date | None = None) -> dict:
        """The plan of a gap; each training comes with the session chosen for it (``session``: null for
        a training without sessions), sessions past at ``today`` (default: the current date) excluded."""
        catalogue, index, where = self._served()  # one catalogue and its index, even if an ingest swaps them
        frame = catalogue.frame
        today = date.today() if today is None else today
        left = self.places_left(catalogue, index)
        p = index.plan(gap.missing, gap.missing_weight, lat=lat, lon=lon, radius_km=radius_km, earliest=earliest,
                       latest=latest, max_hours=max_hours, today=today, places_left=left)
        chosen_rows = [c for c in p.sessions.tolist() if c >= 0]  # only the chosen sessions' rows, not all
        session_rows = dict(zip(chosen_rows, where.sessions(index, chosen_rows).to_dicts())) if chosen_rows else {}
        weight_of = dict(zip(gap.missing.tolist(), gap.missing_weight.tolist()))
        close_of = dict(zip(gap.missing.tolist(), gap.missing_close.tolist()))
        steps = []
        for step, (row, covers, chosen) in enumerate(zip(p.trainings.tolist(), p.covers, p.sessions.tolist()),
                                                     start=1):
            t = frame.row(row, named=True)
            starts = [d for d in (t["start_dates"] or []) if (earliest is None or d >= earliest)
                      and (latest is None or d <= latest)]
            steps.append({
                "step": step, "id": t["id"], "title": t["title"], "organisation": t["organisation"],
                "hours": t["hours"], "cost": t["cost"], "funder": t["funder"], "basin": t["basin"],
                "remote": t["remote"], "next_start": starts[0].isoformat() if starts else None,
                "permanent_entry": bool(t["permanent_entry"]) or not t["start_dates"],
                "distance_km": None if lat is None or t["lat"] is None else round(float(
                    territories.haversine_km(lat, lon, t["lat"], t["lon"])), 1),
                "covers": [self._gap_skill(int(c), weight_of[int(c)], None, close_of[int(c)]) for c in covers.tolist()],
                "session": None if chosen < 0 else session_dict(session_rows[chosen],
                                                                self._left_at(left, index, chosen)),
            })
            if steps[-1]["session"] is not None and steps[-1]["session"]["start"]:
                steps[-1]["next_start"] = steps[-1]["session"]["start"]
        cost = None if np.isnan(p.cost) else round(p.cost, 2)
        return {"trainings": steps, "hours": p.hours, "cost": cost,
                "covered_weight": round(p.covered_weight, 4), "residual_weight": round(p.residual_weight, 4),
                "residual": [self._gap_skill(int(c), weight_of[int(c)], None, close_of[int(c)])
                             for c in p.residual.tolist()],
                "eligible_trainings": p.eligible, "catalogue": self.catalogue.source,
                "guarantee": "greedy weighted set cover by gap weight per hour, pruned: hours <= (1 + ln(W/w_min)) "
                             "x the fewest hours of a full cover of the coverable gap"}

    def places_left(self, catalogue: TrainingCatalogue | None = None, index: TrainingIndex | None = None,
                    training: int | None = None) -> np.ndarray | None:
        """(s,) float64 over the catalogue's session rows: each session's places minus those held by
        its pre-registrations (accepted, and on through entered / completed / abandoned: the store's
        ``prescription_sessions.accepted``), never below 0; NaN when the places are unknown. None
        when no place is held anywhere (then the capacities themselves) or there is no store.

        ``training`` (a row of the catalogue's frame): only that training's sessions, (k,) in their
        session row order (``index.session_indptr[training]:[training + 1]``), reading only its
        pre-registrations: what one training's page costs, not the catalogue's."""
        if catalogue is None or index is None:
            with self._lock:
                catalogue, index = self.catalogue, self._index
        if not index.n_sessions or self._store() is None:
            return None
        from api.services.prescription_service import PrescriptionService

        store = PrescriptionService.of(self.state).store
        if training is not None:
            return self._training_places_left(catalogue, index, training, store)
        taken = store.taken()
        if not taken:
            return None
        with self._lock:
            if self._session_rows[0] is not catalogue:  # once per catalogue: the keys in session row order
                order = self._rows.order if self._rows is not None and self._rows.catalogue is catalogue \
                    else catalogue.session_order()
                s = catalogue.sessions[order]
                self._session_rows = (catalogue, {key: i for i, key in enumerate(zip(s["training"].to_list(),
                                                                                      s["id"].to_list()))})
            rows = self._session_rows[1]
        left = np.array(index.session_places, dtype=np.float64)
        for key, held in taken.items():
            row = rows.get(key)
            if row is not None and not np.isnan(left[row]):
                left[row] = max(left[row] - held, 0.0)
        return left

    def _training_places_left(self, catalogue: TrainingCatalogue, index: TrainingIndex, training: int, store
                              ) -> np.ndarray | None:
        """:meth:`places_left` of one training's sessions (row ``training`` of the frame)."""
        lo, hi = int(index.session_indptr[training]), int(index.session_indptr[training + 1])
        if lo == hi:
            return None
        taken = store.taken(catalogue.frame["id"][training])
        if not taken:
            return None
        with self._lock:
            where = self._rows if self._rows is not None and self._rows.catalogue is catalogue \
                else CatalogueRows.of(catalogue)
        keys = catalogue.sessions[where.order[lo:hi]].select("training", "id").iter_rows()
        left = np.array(index.session_places[lo:hi], dtype=np.float64)
        for j, key in enumerate(keys):
            held = taken.get(key)
            if held is not None and not np.isnan(left[j]):
                left[j] = max(left[j] - held, 0.0)
        return left

    @staticmethod
    def _left_at(left: np.ndarray | None, index: TrainingIndex, row: int) -> int | None:
        places = (index.session_places if left is None else left)[row]
        return None if np.isnan(places) else int(places)

    def _place(self, basin: str | None, lat: float | None, lon: float | None, radius_km: float | None):
        if basin is not None and (lat is None or lon is None):
            b = self.basin(basin)
            lat, lon = b["lat"], b["lon"]
        if lat is not None and lon is not None and radius_km is None:
            radius_km = DEFAULT_RADIUS_KM
        return lat, lon, radius_km

    def occupation_gap(self, a: str, b: str, *, related: bool = True, plan: bool = True, basin: str | None = None,
                       lat: float | None = None, lon: float | None = None, radius_km: float | None = None,
                       earliest: date | None = None, latest: date | None = None,
                       max_hours: float | None = None) -> dict:
        r, space = self.referentiel, self.state.space
        ra, rb = r.occupation_row(a), r.occupation_row(b)
        held = space.raw.indices[space.raw.indptr[ra]:space.raw.indptr[ra + 1]]
        gap = skill_gap(*occupation_need(space.raw, space.core, rb), held=held,
                        support=self.support if related else None, near=self.near if related else None)
        source = {"code": a, "label": r.occupations["label"][ra]}
        out = self._gap_dict(gap, source, rb)
        if plan:
            lat, lon, radius_km = self._place(basin, lat, lon, radius_km)
            out["plan"] = self.plan(gap, lat=lat, lon=lon, radius_km=radius_km, earliest=earliest, latest=latest,
                                    max_hours=max_hours)
        return out

    def access_routes(self, code: str, basin: str, *, k: int = 10, radius_km: float = DEFAULT_RADIUS_KM,
                      min_score: float = 0.0, today: date | None = None) -> dict:
        """The routes into occupation ``code`` around job ``basin`` (issue 20, the observatory's question).

        Routes: the ``k`` occupations with the best bridge *into* ``code`` (``bridges.matrix[:, b]``,
        ties by code; at least ``min_score``), each with its gap (the skills ``code`` needs that it
        does not hold, exactly or through a related skill) and the plan that closes it with trainings
        within ``radius_km`` of the basin's main town or at a distance, each with its session (not
        past at ``today``, recruiting, places left). ``sessions``: the distinct sessions of those
        plans, soonest first, with the routes each serves. Raises UnknownBasin.
        """
        r, space = self.referentiel, self.state.space
        b_row = r.occupation_row(code)
        place = self.basin(basin)
        today = date.today() if today is None else today
        scores = np.asarray(self.state.bridges.matrix[:, b_row], dtype=np.float32).copy()
        scores[b_row] = -1.0
        scores[np.diff(space.raw.indptr) == 0] = -1.0  # occupations without skills lead nowhere
        candidates = np.flatnonzero(scores >= max(min_score, 1e-9))
        codes = r.occupation_codes
        order = candidates[np.lexsort((codes[candidates], -scores[candidates]))][:k]
        routes, sessions = [], {}
        for a in order.tolist():
            held = space.raw.indices[space.raw.indptr[a]:space.raw.indptr[a + 1]]
            gap = skill_gap(*occupation_need(space.raw, space.core, b_row), held=held, support=self.support,
                            near=self.near)
            plan = self.plan(gap, lat=place["lat"], lon=place["lon"], radius_km=radius_km, today=today)
            source = {"code": str(codes[a]), "label": r.occupations["label"][a]}
            routes.append({
                "source": source, "score": round(float(scores[a]), 4), "coverage": round(gap.coverage, 4),
                "missing": len(gap.missing), "missing_core": int(gap.missing_core.sum()),
                "gap_weight": round(gap.gap_weight, 4), "closable_weight": plan["covered_weight"],
                "residual_weight": plan["residual_weight"],
                "trainings": [{key: t[key] for key in ("id", "title", "organisation", "hours", "remote", "distance_km",
                                                       "session", "next_start", "permanent_entry")}
                              | {"covers": [c["code"] for c in t["covers"]]} for t in plan["trainings"]],
                "residual": [c["code"] for c in plan["residual"]],
            })
            for t in plan["trainings"]:
                if t["session"] is None:
                    continue
                entry = sessions.setdefault(t["session"]["id"], {**t["session"], "title": t["title"],
                                                                 "organisation": t["organisation"],
                                                                 "distance_km": t["distance_km"], "routes": []})
                entry["routes"].append(source["code"])
        listed = sorted(sessions.values(), key=lambda s: (s["start"] is None, s["start"] or "", s["id"]))
        return {"target": {"code": code, "label": r.occupations["label"][b_row]}, "basin": place,
                "radius_km": radius_km, "today": today.isoformat(), "routes": routes, "sessions": listed,
                "catalogue": self.catalogue.source,
                "definition": "inbound bridges ranked by bridge score; each gap closed by a training plan near the "
                              "basin, each training with its next session that recruits and has places left"}

    def seeker_gap(self, seeker_id: str, target: str, *, related: bool = True, plan: bool = True,
                   radius_km: float | None = None, earliest: date | None = None, latest: date | None = None,
                   max_hours: float | None = None) -> dict:
        """The gap of a stored seeker toward occupation ``target``; the plan respects their place and radius."""
        r, space = self.referentiel, self.state.space
        pool = self.state.pool
        record = pool.get("seekers", seeker_id)
        if record is None:
            raise UnknownSeeker(seeker_id)
        rb = r.occupation_row(target)
        codes = [c for c in (record.get("skills") or []) if c in r.skill_index]
        texts = record.get("skills_text") or []
        if texts:
            codes += [c for c, _ in pool.normalise_skill_texts(list(texts)).values() if c]
        held = np.asarray(sorted({r.skill_index[c] for c in codes}), dtype=np.int64)
        gap = skill_gap(*occupation_need(space.raw, space.core, rb), held=held,
                        support=self.support if related else None, near=self.near if related else None)
        out = self._gap_dict(gap, {"seeker": seeker_id, "occupation": record.get("occupation"),
                                   "basin": record.get("basin")}, rb)
        if plan:
            lat, lon = record.get("lat"), record.get("lon")
            if radius_km is None:
                radius_km = record.get("radius_km")
            lat, lon, radius_km = self._place(record.get("basin") if lat is None else None, lat, lon, radius_km)
            out["plan"] = self.plan(gap, lat=lat, lon=lon, radius_km=radius_km, earliest=earliest, latest=latest,
                                    max_hours=max_hours)
        return out

    # ---- basins -----------------------------------------------------------------------------------
    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The store's (seekers, offers) frames (id, occupation, basin, skills ...)."""
        store = self.state.pool.store
        return store.frame("seekers"), store.frame("offers")

    def tension_table(self) -> pl.DataFrame:
        """Tension of every (basin, occupation) of the store, recomputed when the store changed."""
        store = self.state.pool.store
        version = (store.data_version(), store.seq)
        with self._lock:
            if self._tension is None or self._tension[0] != version:
                seekers, offers = self.frames()
                self._tension = (version, tension_table(offers, seekers))
            return self._tension[1]

    def tension(self, basin_id: str, occupations: list[str] | None = None, only_in_tension: bool = False) -> dict:
        b = self.basin(basin_id)
        table = self.tension_table().filter(pl.col("basin") == basin_id)
        if occupations is not None:
            table = tension_table(pl.DataFrame(schema={"basin": pl.String, "occupation": pl.String}),
                                  pl.DataFrame(schema={"basin": pl.String, "occupation": pl.String}),
                                  basins=[basin_id], occupations=occupations).drop("offers", "seekers", "offers_per_seeker",
                                                                                   "tension", "in_tension").join(
                table, on=["basin", "occupation"], how="left").with_columns(
                pl.col("offers").fill_null(0), pl.col("seekers").fill_null(0),
                pl.col("offers_per_seeker").fill_null(0.0), pl.col("tension").fill_null(0.5),
                pl.col("in_tension").fill_null(False))
        if only_in_tension:
            table = table.filter(pl.col("in_tension"))
        labels = dict(zip(self.referentiel.occupation_codes, self.referentiel.occupations["label"].to_list()))
        rows = [{**row, "label": labels.get(row["occupation"]), "tension": round(row["tension"], 4),
                 "offers_per_seeker": round(row["offers_per_seeker"], 3)} for row in table.iter_rows(named=True)]
        return {"basin": b, "occupations": rows,
                "definition": "tension = (offers + 1) / (offers + seekers + 2); in tension when >= 0.6 with >= 3 offers"}

    def tension_frame(self, basin_id: str, occupations) -> pl.DataFrame:
        """For kits: basin, basin_name, occupation, label, offers, seekers, tension."""
        body = self.tension(basin_id, list(occupations))
        return pl.DataFrame([{"basin": basin_id, "basin_name": body["basin"]["name"], "occupation": o["occupation"],
                              "label": o["label"], "offers": o["offers"], "seekers": o["seekers"],
                              "tension": o["tension"]} for o in body["occupations"]])

    def basin_tension(self, basin_id: str) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
        """((n_occ,) tension of every occupation in the basin (0.5 without data), {code: (offers, seekers)}).

        Raises UnknownBasin."""
        self.basin(basin_id)
        table = self.tension_table()
        t = tension_vector(table, basin_id, self.referentiel.occupation_codes)
        local = table.filter(pl.col("basin") == basin_id)
        counts = {o: (f, s) for o, f, s in local.select("occupation", "offers", "seekers").iter_rows()}
        return t, counts

    def passerelles_in_basin(self, a: int, basin_id: str, *, k: int = 10, toward_tension: bool = True,
                             weight: float = 0.5, **filters) -> list[dict]:
        """The passerelles of occupation row ``a`` (``PasserelleIndex.query``, every filter of it in
        ``filters``), each with its target's tension, offers and seekers in the basin and the
        combined value; ranked by the combined value when ``toward_tension``, else by bridge score.
        Raises UnknownBasin."""
        t, counts = self.basin_tension(basin_id)
        index, codes = self.state.passerelles, self.referentiel.occupation_codes
        if toward_tension:
            found = index.query(a, k, tension=t, tension_weight=weight, **filters)
        else:
            found = [replace(p, tension=float(t[p.target]),
                             combined=float(toward_tension_of(np.float32([p.score]), t[p.target:p.target + 1],
                                                              weight)[0]))
                     for p in index.query(a, k, **filters)]
        out = []
        for p in found:
            offers, seekers = counts.get(codes[p.target], (0, 0))
            out.append({**p.to_dict(), "offers": offers, "seekers": seekers})
        return out

    def passerelles_toward_tension(self, code: str, basin_id: str, *, k: int = 10, weight: float = 0.5,
                                   min_score: float = 0.0, cross_sector_only: bool = False, **filters) -> dict:
        """Bridges from ``code`` ranked toward tension in the basin (``/basins/{id}/passerelles/{code}``)."""
        r = self.referentiel
        a = r.occupation_row(code)
        out = self.passerelles_in_basin(a, basin_id, k=k, weight=weight, min_score=min_score,
                                        cross_sector_only=cross_sector_only, **filters)
        return {"source": {"code": code, "label": r.occupations["label"][a]}, "basin": basin_id, "weight": weight,
                "passerelles": out}

    def seeker_offers(self, seeker_id: str, *, k: int = 10, radius_km: float | None = None,
                      require_must: bool = False, weight: float = 0.5) -> dict | None:
        """A stored seeker's top-``k`` offers ranked toward tension: match score blended with the tension
        of the offer's occupation in the offer's basin (the seeker's when the offer has none), as
        ``toward_tension(score, tension, weight)``. Exact: ``rerank_toward_tension`` widens the
        score-ranked fetch until no unfetched offer can win. None when the seeker is unknown."""
        pool = self.state.pool
        record = pool.get("seekers", seeker_id)
        if record is None:
            return None
        home = record.get("basin")
        table = self.tension_table()
        lookup = {(b, o): t for b, o, t in table.select("basin", "occupation", "tension").iter_rows()}
        fetched: list[dict] = []

        def fetch(n: int):
            fetched[:] = pool.offers_for_seeker(seeker_id, k=n, radius_km=radius_km, require_must=require_must) or []
            # a hit's position in the score ranking (score desc, key asc) is its tie-breaking key
            return np.asarray([h["score"] for h in fetched], dtype=np.float32), np.arange(len(fetched))

        def tension_of(positions):
            return np.asarray([lookup.get((fetched[i]["offer"].get("basin") or home, fetched[i]["offer"]["occupation"]),
                                          0.5) for i in positions.tolist()], dtype=np.float64)

        max_tension = max(0.5, float(table["tension"].max())) if table.height else 0.5
        positions, _, tension, combined = rerank_toward_tension(fetch, tension_of, k, weight=weight,
                                                                max_tension=max_tension)
        hits = [{**fetched[i], "tension": round(float(t), 4), "combined": round(float(c), 4)}
                for i, t, c in zip(positions.tolist(), tension, combined)]
        return {"seeker": seeker_id, "k": k, "radius_km": radius_km, "toward_tension": True, "basin": home,
                "tension_weight": weight, "offers": hits}

    def training_needs(self, basin_id: str, *, radius_km: float = DEFAULT_RADIUS_KM, top: int = 20,
                       targets: list[str] | None = None, seekers: pl.DataFrame | None = None,
                       offers: pl.DataFrame | None = None) -> dict:
        """What a basin's seekers miss toward the basin's occupations in tension, and which trainings close it."""
        b = self.basin(basin_id)
        r = self.referentiel
        if seekers is None:
            seekers, _ = self.frames()
            table = self.tension_table()
        else:
            empty = pl.DataFrame(schema={"basin": pl.String, "occupation": pl.String})
            table = tension_table(offers if offers is not None else empty, seekers)
        if targets is None:
            target_rows, rule = tension_targets(table, basin_id, r.occupation_index)
        else:
            target_rows, rule = np.asarray(sorted(r.occupation_row(c) for c in targets), dtype=np.int64), "given"
        local = seekers.filter(pl.col("basin") == basin_id)
        matrix, occ = seeker_matrix(local, r)
        chosen = choose_targets(occ, target_rows, self.state.bridges.matrix)
        index = self.index
        eligible = index.eligible(lat=b["lat"], lon=b["lon"], radius_km=radius_km, today=date.today())
        needs = basin_needs(matrix, chosen, self.state.space.raw, self.state.space.core, self.catalogue.teaches,
                            eligible, support=self.support)
        frame = self.catalogue.frame
        skills = [{**self.skill_dict(int(c)), "group": r.skills["group"][int(c)], "missing_weight": round(float(w), 3),
                   "seekers": int(n), "core_for": int(k), "trainings_nearby": int(t)}
                  for c, w, n, k, t in zip(needs.skills[:top], needs.skill_weight[:top], needs.skill_seekers[:top],
                                           needs.skill_core[:top], needs.skill_trainings[:top])]
        trainings = [{"id": frame["id"][int(t)], "title": frame["title"][int(t)],
                      "organisation": frame["organisation"][int(t)], "hours": frame["hours"][int(t)],
                      "closable_weight": round(float(w), 3), "seekers_helped": int(n)}
                     for t, w, n in zip(needs.trainings[:top], needs.training_weight[:top],
                                        needs.training_seekers[:top])]
        uncovered = needs.skill_trainings == 0
        groups: dict[str, float] = {}
        for c, w in zip(needs.skills[uncovered], needs.skill_weight[uncovered]):
            g = r.skills["group"][int(c)] or r.skills["kind"][int(c)]
            groups[g] = groups.get(g, 0.0) + float(w)
        to_buy = [{"group": g, "missing_weight": round(w, 3)} for g, w in
                  sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))][:top]
        return {
            "basin": b, "radius_km": radius_km, "targets_rule": rule,
            "targets": [{"code": r.occupation_codes[t], "label": r.occupations["label"][int(t)],
                         "seekers": int((chosen == t).sum())} for t in target_rows.tolist()],
            "seekers": int(local.height), "seekers_with_target": needs.seekers,
            "total_gap_weight": round(needs.total_weight, 3),
            "closable_weight": round(needs.closable_weight, 3),
            "closable_share": round(needs.closable_weight / needs.total_weight, 4) if needs.total_weight else None,
            "skills": skills, "trainings": trainings, "missing_trainings": to_buy,
        }


def offers_for_seeker(state, seeker_id: str, *, k: int = 10, radius_km: float | None = None,
                      require_must: bool = False, toward_tension: bool = False, weight: float = 0.5) -> dict | None:
    """A stored seeker's top-``k`` offers, each explained, as ``GET /seekers/{id}/offers`` and
    ``passerelles match offers`` both give them: ``{"seeker", "k", "radius_km", "offers"}``; with
    ``toward_tension``, ranked by match score and tension (:meth:`TrainingService.seeker_offers`:
    each offer then carries ``tension`` and ``combined``). None when the seeker is unknown."""
    if toward_tension:
        return TrainingService.of(state).seeker_offers(seeker_id, k=k, radius_km=radius_km,
                                                       require_must=require_must, weight=weight)
    hits = state.pool.offers_for_seeker(seeker_id, k=k, radius_km=radius_km, require_must=require_must)
    return None if hits is None else {"seeker": seeker_id, "k": k, "radius_km": radius_km, "offers": hits}


def session_dict(s: dict, places_left: int | None = None) -> dict:
    """A session as the surfaces show it: id, period (ISO dates, null unknown, with precision),
    recruiting state, place (city, postcode), capacity (``places``: its own, else the financed places)
    and ``places_left`` (given: the places minus those held by accepted pre-registrations; else the
    places)."""
    return {"id": s["id"], "training": s["training"], "places_left": places_left if places_left is not None
            else s.get("places"),
            "start": s["start"].isoformat() if s["start"] else None, "start_precision": s["start_precision"],
            "end": s["end"].isoformat() if s["end"] else None, "end_precision": s["end_precision"],
            "state": s["state"], "city": s.get("city"), "postcode": s.get("postcode"),
            "registration_city": s["registration_city"], "places": s.get("places"),
            "capacity_set_by_organisation": s["capacity"] is not None,
            "registration": registration_dict(s)}


def registration_dict(s: dict) -> dict | None:
    """A session's registration as LHEO gives it (``periode-inscription``, ``modalites-inscription``):
    ``{"from", "from_precision", "to", "to_precision", "terms"}`` (ISO dates, null unknown), or None
    when the session says nothing of it."""
    keys = ("registration_from", "registration_to", "registration_from_precision", "registration_to_precision",
            "registration_terms")
    if all(s.get(k) is None for k in keys):
        return None
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"from": iso(s.get("registration_from")), "from_precision": s.get("registration_from_precision"),
            "to": iso(s.get("registration_to")), "to_precision": s.get("registration_to_precision"),
            "terms": s.get("registration_terms")}


def offer_dict(o: dict) -> dict:
    """What LHEO says of an action beyond the catalogue's columns, for a counsellor or a funder:
    web addresses, the trainer organisation, hours in centre and in company, hourly price,
    indicative duration, access for disabled people, recruitment scope and the further places."""
    from referentiels.lheo import RECRUITMENT_SCOPES

    scope = o.get("recruitment_scope")
    return {
        "urls": list(o.get("url_action") or []) + [u for u in o.get("url_formation") or []
                                                  if u not in (o.get("url_action") or [])],
        "trainer": None if o.get("trainer_siret") is None else {"siret": o["trainer_siret"],
                                                                 "name": o.get("trainer_name")},
        "hours_centre": o.get("hours_centre"), "hours_company": o.get("hours_company"),
        "hourly_price": o.get("hourly_price"), "indicative_duration": o.get("indicative_duration"),
        "disabled_access": o.get("disabled_access"),
        "recruitment_scope": None if scope is None else {"code": scope, "label": RECRUITMENT_SCOPES.get(scope)},
        "other_places": [json.loads(p) for p in o.get("other_places") or []],
    }


def training_dict(row: dict, referentiel) -> dict:
    """A catalogue row for the surfaces: dates as ISO text, ``evidence`` parsed (ROME and text)."""
    out = {k: v for k, v in row.items() if k != "evidence"}
    out["start_dates"] = [d.isoformat() for d in row.get("start_dates") or []]
    if row.get("evidence") is not None:
        out["evidence"] = explain(referentiel, row.get("occupations") or [], row["evidence"])
    return out


def offer_records(catalogue: TrainingCatalogue) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Store records of an LHEO catalogue, JSON-encoded column-wise by polars (no Python object per
    field): ``(id, text)`` per training (its row with its ``offer``, the action as read) and
    ``(id, training, text)`` per session."""
    offer_schema = {k: v for k, v in LHEO_SCHEMA.items() if k != "line"}
    offer = (catalogue.offer if catalogue.offer is not None else pl.DataFrame(schema=offer_schema))
    rows = catalogue.frame.join(offer.select(pl.col("id"), pl.struct(pl.all()).alias("offer")), on="id", how="left",
                                maintain_order="left")
    texts = rows.select(pl.struct(pl.all()).struct.json_encode().alias("j"))["j"].to_list()
    sessions = catalogue.sessions if catalogue.sessions is not None else pl.DataFrame(schema=SESSION_SCHEMA)
    session_texts = sessions.select(pl.struct(pl.all()).struct.json_encode().alias("j"))["j"].to_list()
    return (list(zip(rows["id"].to_list(), texts)),
            list(zip(sessions["id"].to_list(), sessions["training"].to_list(), session_texts)))


def give_back_freed_memory() -> None:
    """Collect cycles and give the C heap's free pages back to the system (glibc ``malloc_trim``;
    nothing elsewhere). Called once an offer has been read, before its catalogue is read back:
    the reading's Python objects are freed by then, but glibc keeps most of their pages (about
    15-30 MB on 50,000 actions), which would add to the peak of what follows."""
    import ctypes
    import gc

    gc.collect()
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def spool_catalogue(part: TrainingCatalogue, folder: Path, k: int) -> None:
    """Write batch ``k``'s catalogue frames (trainings, offer, sessions) to ``folder`` as Arrow IPC
    (uncompressed: written and read back at memory speed), without the large texts the store keeps
    (``lean_frames``: evidence, the action as read)."""
    frame, offer = lean_frames(part.frame, part.offer)
    frame.write_ipc(folder / f"frame-{k:05d}.arrow", compression="uncompressed")
    offer.write_ipc(folder / f"offer-{k:05d}.arrow", compression="uncompressed")
    part.sessions.write_ipc(folder / f"sessions-{k:05d}.arrow", compression="uncompressed")


def unspool_catalogue(folder: Path, teaches: list[sp.csr_array], referentiel, *, source: str) -> TrainingCatalogue:
    """The catalogue of every batch :func:`spool_catalogue` wrote in ``folder`` (in order; ``teaches``:
    each batch's matrix), as ``concat_catalogues`` of the batches would give it, with ``texts_stored``."""
    def read(kind: str) -> pl.DataFrame:
        return pl.scan_ipc(sorted(folder.glob(f"{kind}-*.arrow"))).collect()

    return TrainingCatalogue(frame=read("frame"), teaches=sp.csr_array(sp.vstack(teaches, format="csr"),
                                                                          dtype=np.float32),
                             source=source, sessions=read("sessions"), offer=read("offer"), texts_stored=True)


def stored_offer(texts: list[str], session_texts: list[str], referentiel) -> TrainingCatalogue:
    """The trainings (and sessions) an LHEO ingest stored, read back from their JSON texts (polars
    reads them as JSON Lines); skill and occupation codes the referential no longer knows are
    dropped (an upgrade of the referential). Sessions of other trainings are ignored."""
    return stored_offer_of([offered_frames(texts, referentiel)], [session_texts] if session_texts else [],
                           referentiel)


def offered_frames(texts: list[str], referentiel, *, lean: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One batch of stored LHEO training texts -> (catalogue frame, offer frame), codes the
    referential no longer knows dropped. ``lean``: as ``lean_frames`` gives them (null ``evidence``,
    the offer's ``id`` only), the large texts not even parsed."""
    import io

    import pyarrow as pa

    known = referentiel.skill_index
    known_occ = referentiel.occupation_index
    offer_schema = {k: v for k, v in LHEO_SCHEMA.items() if k != "line"}
    schema = {**FRAME_SCHEMA, "start_dates": pl.List(pl.String), "offer": pl.Struct(offer_schema)}
    if lean:
        schema = {k: v for k, v in schema.items() if k != "evidence"} | {"offer": pl.Struct({"id": pl.String})}
        offer_schema = {"id": pl.String}
    raw = pl.read_ndjson(io.BytesIO("\n".join(texts).encode()), schema=schema)
    if lean:
        raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias("evidence"))
    skills = [[c for c in v if c in known] for v in raw["skills"].to_list()]
    occupations = [[c for c in v if c in known_occ] for v in raw["occupations"].to_list()]
    as_lists = lambda name, values: pl.from_arrow(  # noqa: E731 (pyarrow: no series per sub-list)
        pa.array(values, type=pa.list_(pa.string()))).cast(pl.List(pl.String)).alias(name)
    frame = raw.select(list(FRAME_SCHEMA)).with_columns(
        pl.col("start_dates").list.eval(pl.element().str.to_date()),
        as_lists("skills", skills), as_lists("occupations", occupations))
    offer = raw["offer"].struct.unnest().select(list(offer_schema)).cast(offer_schema)
    return frame, offer


def stored_offer_of(parts: list[tuple[pl.DataFrame, pl.DataFrame]], session_batches, referentiel,
                    spool: Path | None = None) -> TrainingCatalogue:
    """The catalogue of stored LHEO trainings read in batches (``offered_frames`` of each) and
    their sessions' JSON texts (an iterable of lists), sessions of other trainings ignored.
    ``spool``: a folder where each batch of sessions is written (Arrow IPC) and read back at once."""
    import io

    frame = pl.concat([f for f, _ in parts], rechunk=False)
    offer = pl.concat([o for _, o in parts], rechunk=False)
    ids = frame["id"].implode()
    dates = ("start", "end", "registration_from", "registration_to")
    s_schema = {**SESSION_SCHEMA, **{d: pl.String for d in dates}}
    sessions = (pl.read_ndjson(io.BytesIO("\n".join(texts).encode()), schema=s_schema)
                .filter(pl.col("training").is_in(ids)) for texts in session_batches if texts)
    if spool is not None:
        files = []
        for k, batch in enumerate(sessions):
            files.append(spool / f"sessions-{k:05d}.arrow")
            batch.write_ipc(files[-1], compression="uncompressed")
        sessions = [pl.scan_ipc(files).collect()] if files else []
    else:
        sessions = list(sessions)
    s = pl.concat(sessions, rechunk=False) if sessions else pl.DataFrame(schema=s_schema)
    s = s.with_columns(pl.col(d).str.to_date() for d in dates)
    catalogue = from_frame(frame, referentiel, source="store", sessions=s)
    return replace(catalogue, offer=offer)


class LheoImport:
    """One LHEO import, batch by batch (``referentiels.lheo.iter_lheo``): per batch of about
    ``batch_actions`` actions, what each teaches (``derive_teaching``, phrases matched once for the
    whole offer through a cache) and its catalogue (``from_lheo``). Memory: the catalogue built so
    far plus one batch (the XML, the rows as Python objects, the skill matching and the teaches
    matrix of one batch at a time), never the whole offer as Python objects.

        run = LheoImport(path, referentiel, normaliser, mode="valid")
        for part in run.batches(): ...        # each a TrainingCatalogue (e.g. written to the store)
        run.catalogue()                        # all of them; run.summary(), run.problems
    """

    def __init__(self, source, referentiel, normaliser, *, mode: str = "valid", name: str | None = None,
                 basins: pl.DataFrame | None = None, batch_actions: int = CHUNK_ROWS, keep: bool = True) -> None:
        self.source, self.referentiel, self.normaliser = source, referentiel, normaliser
        self.mode, self.name, self.basins, self.batch_actions = mode, name, basins, batch_actions
        self.keep = keep  # False: the caller takes each batch away (``parts`` stays empty, no ``catalogue()``)
        self.parts: list[TrainingCatalogue] = []
        self.problems: list[LheoProblem] = []
        self.version, self.file, self.formations = "2.3", name or "<lheo>", 0
        self.phrases = self.matched = 0
        self.trainings = self.sessions = self.without_skills = 0
        self.rome: set[str] = set()

    def batches(self):
        """Yields each batch's catalogue (``TrainingCatalogue`` with ``sessions`` and ``offer``).
        Raises ReferentielError as ``read_lheo`` does."""
        cache: dict = {}
        for offer in iter_lheo(self.source, mode=self.mode, name=self.name, batch_actions=self.batch_actions):
            self.problems, self.version, self.file, self.formations = (offer.problems, offer.version, offer.file,
                                                                       offer.formations)
            t = offer.trainings
            if not t.height:  # the last batch may be empty (its records left out)
                continue
            teaching = derive_teaching(self.referentiel, t["occupations"].to_list(),
                                       t.select("objective", "content").to_dicts(), self.normaliser, cache=cache)
            self.phrases += teaching.phrases
            self.matched += teaching.matched
            part = from_lheo(offer, self.referentiel, teaching.skills, teaching.evidence_json, basins=self.basins,
                             source=self.name or offer.file)
            self.trainings += len(part)
            self.sessions += part.sessions.height
            self.without_skills += int((part.frame["skills"].list.len() == 0).sum())
            self.rome.update(part.offer["occupations"].explode().drop_nulls().unique().to_list())
            if self.keep:
                self.parts.append(part)
            yield part

    def catalogue(self) -> TrainingCatalogue:
        """Every batch's catalogue as one (after :meth:`batches` was consumed, with ``keep``)."""
        if not self.keep:
            raise RuntimeError("LheoImport(keep=False) does not keep its batches")
        return concat_catalogues(self.parts, source=self.name or self.file)

    def summary(self) -> dict:
        """As ``LheoOffer.summary``: format, version, file, formations, trainings, sessions, rome, problems."""
        return {"format": "lheo", "version": self.version, "file": self.file, "formations": self.formations,
                "trainings": self.trainings, "sessions": self.sessions, "rome": sorted(self.rome),
                "problems": len(self.problems), "left_out": [p.as_dict() for p in self.problems[:20]]}


def seeker_matrix(seekers: pl.DataFrame, referentiel) -> tuple[sp.csr_array, np.ndarray]:
    """(n, n_skills) CSR of the seekers' skill codes (unknown codes ignored) and (n,) occupation rows (-1 unknown).

    ``seekers``: a frame with ``skills`` (list of codes) and ``occupation`` (code) — the store's or
    ``referentiels.synthetic``'s. Vectorised through polars joins.
    """
    n = seekers.height
    skill_map = pl.DataFrame({"skills": list(referentiel.skill_codes),
                              "col": np.arange(referentiel.n_skills, dtype=np.int32)})
    exploded = (seekers.select(pl.int_range(0, n, dtype=pl.Int64).alias("row"), pl.col("skills"))
                .explode("skills").drop_nulls().join(skill_map, on="skills", how="inner"))
    m = sp.csr_array((np.ones(exploded.height, dtype=np.float32),
                      (exploded["row"].to_numpy(), exploded["col"].to_numpy())), shape=(n, referentiel.n_skills))
    m.sum_duplicates()
    occ_map = pl.DataFrame({"occupation": list(referentiel.occupation_codes),
                            "occ_row": np.arange(referentiel.n_occupations, dtype=np.int64)})
    occ = (seekers.select(pl.col("occupation").cast(pl.String))
           .join(occ_map, on="occupation", how="left", maintain_order="left")["occ_row"].fill_null(-1).to_numpy())
    return m, occ.astype(np.int64)


_LOCK = threading.Lock()
