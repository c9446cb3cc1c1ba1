"""Training catalogues: the documented CSV / JSON format, a strict loader, and a synthetic generator.

    from referentiels.trainings import load_trainings, demo_trainings, synthesize_trainings
    catalogue = load_trainings("catalogue.csv", referentiel)          # -> TrainingCatalogue
    catalogue.frame        # polars: one row per training (columns of ``FRAME_SCHEMA``)
    catalogue.teaches      # (n_trainings, n_skills) float32 CSR, 1.0 where a training teaches a skill

The format is documented for users in ``docs/trainings-format.md``. One row per training:

==============  ========  ===============================================================
column          required  meaning
==============  ========  ===============================================================
id              yes       unique identifier of the training in the catalogue
title           yes       the training's title
organisation    yes       the training organisation
skills          yes*      skill codes of the referential it teaches, separated by ``|``
skills_text     yes*      skills in free text, ``|``-separated (read by the skill normaliser)
hours           yes       duration in hours (> 0)
basin           no**      job basin id where it takes place
lat, lon        no**      coordinates (degrees) where it takes place
remote          no        true when it is followed at a distance (no place constraint)
start_dates     no        ISO dates ``YYYY-MM-DD`` separated by ``|``; empty = permanent entry
cost            no        cost in euros (>= 0; empty = unknown)
funder          no        who pays (e.g. Région, France Travail, OPCO, CPF)
formacode       no        Formacode (5 digits)
occupations     no        occupation codes it prepares for, ``|``-separated
==============  ========  ===============================================================

\\* at least one skill, by code or free text. \\** a basin, coordinates, or ``remote``; a basin
without coordinates places the training at the basin's main town.

Every bad value raises ``ReferentielError`` naming the file, line, column, what was expected and
what was found. JSON input is an array of objects (or JSON Lines) with the same keys; lists may be
JSON arrays or ``|``-separated strings.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import polars as pl
import scipy.sparse as sp

from .csvfiles import LINE, parse_bool, read_csv, require_unique, require_values
from .errors import ReferentielError
from .ids import InvalidId, check_ids, check_json_depth, id_problem
from .territories import default_basins

REQUIRED = ("id", "title", "organisation", "hours")
OPTIONAL = ("skills", "skills_text", "basin", "lat", "lon", "remote", "start_dates", "cost", "funder",
            "formacode", "occupations")
LIST_COLUMNS = ("skills", "skills_text", "start_dates", "occupations")
SEPARATOR = "|"
DEMO_CATALOGUE = Path(__file__).parent / "demo" / "trainings.csv"

BASE_SCHEMA = {
    "id": pl.String, "title": pl.String, "organisation": pl.String, "skills": pl.List(pl.String),
    "hours": pl.Float64, "basin": pl.String, "lat": pl.Float64, "lon": pl.Float64, "remote": pl.Boolean,
    "start_dates": pl.List(pl.Date), "cost": pl.Float64, "funder": pl.String, "formacode": pl.String,
    "occupations": pl.List(pl.String),
}
OFFER_SCHEMA = {
    "formation": pl.String, "siret": pl.String, "city": pl.String, "postcode": pl.String, "places": pl.Int64,
    "permanent_entry": pl.Boolean, "evidence": pl.String,
}
"""Columns a training read from the regional offer (LHEO) carries besides the base ones, null for a
CSV training: ``formation`` (the LHEO offer it belongs to), ``siret`` of the responsible
organisation, ``city``/``postcode`` of its place, ``places`` financed by its funders (the default
capacity of its sessions), ``permanent_entry`` (LHEO modalites-entrees-sorties 1) and
``evidence`` (JSON list: why it is said to teach each skill, see ``matching.training_skills``).
The action as read stays in ``TrainingCatalogue.offer`` (for the LHEO export)."""
FRAME_SCHEMA = BASE_SCHEMA | OFFER_SCHEMA

SESSION_SCHEMA = {
    "id": pl.String, "training": pl.String, "start": pl.Date, "start_precision": pl.String, "end": pl.Date,
    "end_precision": pl.String, "state": pl.String, "registration_lines": pl.List(pl.String),
    "registration_postcode": pl.String, "registration_city": pl.String, "capacity": pl.Int64,
    "registration_terms": pl.String, "registration_from": pl.Date, "registration_from_precision": pl.String,
    "registration_to": pl.Date, "registration_to_precision": pl.String,
}
"""A session of a training (``referentiels.lheo.SESSION_SCHEMA`` without ``line``): its period
(``start``/``end`` null when unknown), recruiting ``state`` (ouvert / fermé / suspendu / null),
registration address and the ``capacity`` its organisation sets (null: the training's financed
``places``). Its place is its training's place."""

CLOSED_STATES = ("fermé", "suspendu")
UNKNOWN_START = -(2 ** 31)
UNKNOWN_END = 2 ** 31 - 1

SkillResolver = Callable[[list[str]], list[str | None]]
"""Free-text skill phrases -> skill codes (None when nothing matches well enough)."""


@dataclass(frozen=True, eq=False)
class TrainingCatalogue:
    """A validated catalogue bound to one referential's skill columns.

    Attributes:
        frame:   polars DataFrame, one row per training, columns of ``FRAME_SCHEMA`` (row i = training i)
        teaches: (n_trainings, n_skills) float32 CSR, 1.0 where training i teaches skill column j
        source:  where it came from (a path, "demo", "synthetic")
        sessions: polars DataFrame (``SESSION_SCHEMA``) of the trainings' sessions, or None (a CSV
                 catalogue: start dates only)
        offer:   the LHEO actions as read (``referentiels.lheo.TRAINING_SCHEMA`` without ``line``),
                 one row per training imported from LHEO, or None
        texts_stored: True when the large texts of the LHEO trainings are kept by whoever serves
                 the catalogue (the store of ``api``), not here: ``offer`` then holds only the
                 ``id`` column and those trainings' ``evidence`` is null in ``frame`` (a served
                 offer of 50,000 actions: about 90 MB less); other trainings keep theirs
    """

    frame: pl.DataFrame
    teaches: sp.csr_array
    source: str = ""
    sessions: pl.DataFrame | None = None
    offer: pl.DataFrame | None = None
    texts_stored: bool = False

    def __len__(self) -> int:
        return self.frame.height

    @property
    def ids(self) -> list[str]:
        return self.frame["id"].to_list()

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-training arrays the planner needs: hours, cost (NaN unknown), lat, lon (NaN), remote,
        the start dates as (indptr (n+1,), days since 1970 (total,) int32) for vectorised filters,
        ``permanent`` (n,) bool (permanent entry), and the sessions grouped by training:
        ``session_indptr`` (n+1,), ``session_start`` / ``session_end`` (s,) int32 days
        (``UNKNOWN_START`` / ``UNKNOWN_END`` when unknown), ``session_open`` (s,) bool (state not
        fermé / suspendu) and ``session_places`` (s,) float64 capacity (NaN unknown)."""
        f = self.frame
        starts = f["start_dates"]
        lengths = starts.list.len().fill_null(0).to_numpy().astype(np.int64)
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        days = starts.explode().drop_nulls().cast(pl.Int32).to_numpy() if indptr[-1] else np.zeros(0, np.int32)
        out = {
            "hours": f["hours"].to_numpy().astype(np.float64),
            "cost": f["cost"].fill_null(float("nan")).to_numpy().astype(np.float64),
            "lat": f["lat"].fill_null(float("nan")).to_numpy().astype(np.float64),
            "lon": f["lon"].fill_null(float("nan")).to_numpy().astype(np.float64),
            "remote": f["remote"].to_numpy().astype(bool),
            "start_indptr": indptr, "start_days": days.astype(np.int32),
        }
        out.update(self.session_arrays())
        return out

    def session_frame(self) -> pl.DataFrame:
        """The sessions with their training's row (``row``) and place, sorted by row then start:
        ``SESSION_SCHEMA`` + row, lat, lon, city, postcode, places (capacity, else financed places)."""
        sessions = self.sessions if self.sessions is not None else pl.DataFrame(schema=SESSION_SCHEMA)
        f = self.frame.select(pl.col("id").alias("training"), pl.int_range(0, pl.len(), dtype=pl.Int64).alias("row"),
                              "lat", "lon", "city", "postcode", pl.col("places").alias("_financed"))
        return (sessions.join(f, on="training", how="inner")
                .with_columns(pl.coalesce("capacity", "_financed").alias("places")).drop("_financed")
                .sort(["row", "start", "id"], nulls_last=True))

    def session_order(self) -> np.ndarray:
        """(s,) int64: the positions in ``sessions`` of :meth:`session_frame`'s rows, in its order
        (sessions of no training left out). Built once per catalogue, it lets :meth:`session_rows`
        give one training's sessions without joining and sorting them all."""
        if self.sessions is None or self.sessions.height == 0:
            return np.zeros(0, dtype=np.int64)
        f = self.frame.select(pl.col("id").alias("training"), pl.int_range(0, pl.len(), dtype=pl.Int64).alias("row"))
        keys = self.sessions.select("id", "training", "start").with_row_index("_pos")
        return (keys.join(f, on="training", how="inner").sort(["row", "start", "id"], nulls_last=True)["_pos"]
                .to_numpy().astype(np.int64))

    def session_rows(self, positions: np.ndarray, rows: np.ndarray) -> pl.DataFrame:
        """The rows of :meth:`session_frame` for the sessions at ``positions`` of ``sessions`` (from
        :meth:`session_order`), whose trainings are at ``rows`` of ``frame`` (same length), in that
        order: same columns and values, at the cost of those rows only."""
        positions = np.asarray(positions, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        sessions = self.sessions if self.sessions is not None else pl.DataFrame(schema=SESSION_SCHEMA)
        # the columns first, then the rows: a gather from a frame of many chunks (read back batch by
        # batch) copies the columns it touches whole, and keeps the copy (18 MB for all of 50,000 trainings)
        place = self.frame.select("lat", "lon", "city", "postcode", pl.col("places").alias("_financed"))[rows]
        return (sessions[positions].with_columns(pl.Series("row", rows, dtype=pl.Int64)).hstack(place)
                .with_columns(pl.coalesce("capacity", "_financed").alias("places")).drop("_financed"))

    def _session_keys(self) -> pl.DataFrame:
        """:meth:`session_frame` with only what :meth:`session_arrays` needs (row, start, end, state,
        places), in the same order: no copy of the sessions' texts."""
        sessions = self.sessions if self.sessions is not None else pl.DataFrame(schema=SESSION_SCHEMA)
        f = self.frame.select(pl.col("id").alias("training"), pl.int_range(0, pl.len(), dtype=pl.Int64).alias("row"),
                              pl.col("places").alias("_financed"))
        return (sessions.select("id", "training", "start", "end", "state", "capacity").join(f, on="training", how="inner")
                .with_columns(pl.coalesce("capacity", "_financed").alias("places")).drop("_financed")
                .sort(["row", "start", "id"], nulls_last=True))

    def session_arrays(self) -> dict[str, np.ndarray]:
        """The session part of :meth:`arrays` (empty arrays without sessions)."""
        n = self.frame.height
        s = self._session_keys()
        counts = np.bincount(s["row"].to_numpy(), minlength=n) if s.height else np.zeros(n, np.int64)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        permanent = self.frame["permanent_entry"].fill_null(False).to_numpy().astype(bool)
        no_dates = (self.frame["start_dates"].list.len().fill_null(0).to_numpy() == 0) & (counts == 0)
        return {
            "permanent": permanent | no_dates,
            "session_indptr": indptr,
            "session_start": s["start"].cast(pl.Int32).fill_null(UNKNOWN_START).to_numpy().astype(np.int32),
            "session_end": s["end"].cast(pl.Int32).fill_null(UNKNOWN_END).to_numpy().astype(np.int32),
            "session_open": (~s["state"].is_in(list(CLOSED_STATES)).fill_null(False)).to_numpy().astype(bool),
            "session_places": s["places"].cast(pl.Float64).fill_null(float("nan")).to_numpy().astype(np.float64),
        }

    def extend(self, other: "TrainingCatalogue") -> "TrainingCatalogue":
        """This catalogue plus ``other``'s trainings (same referential); ``other`` replaces equal ids
        (and their sessions). When one of the two has ``texts_stored``, so has the result (the other's
        LHEO trainings keep only their id in ``offer``: their texts are read where the first's are)."""
        if self.texts_stored != other.texts_stored:
            self, other = self.without_texts(), other.without_texts()
        keep = ~self.frame["id"].is_in(other.frame["id"].implode()).to_numpy()
        frame = pl.concat([self.frame.filter(pl.Series(keep)), other.frame])
        teaches = sp.csr_array(sp.vstack([self.teaches[np.flatnonzero(keep)], other.teaches]), dtype=np.float32)
        replaced = other.frame["id"].implode()
        sessions = offer = None
        if self.sessions is not None or other.sessions is not None:
            mine = self.sessions if self.sessions is not None else pl.DataFrame(schema=SESSION_SCHEMA)
            theirs = other.sessions if other.sessions is not None else pl.DataFrame(schema=SESSION_SCHEMA)
            sessions = pl.concat([mine.filter(~pl.col("training").is_in(replaced)), theirs])
        if self.offer is not None or other.offer is not None:
            parts = [f for f in (self.offer.filter(~pl.col("id").is_in(replaced)) if self.offer is not None else None,
                                 other.offer) if f is not None]
            offer = pl.concat(parts)
        return TrainingCatalogue(frame=frame, teaches=teaches, source=self.source, sessions=sessions, offer=offer,
                                 texts_stored=self.texts_stored)

    def without_texts(self) -> "TrainingCatalogue":
        """This catalogue with ``texts_stored``: the LHEO trainings' ``evidence`` and ``offer``
        columns other than ``id`` dropped (already so: itself)."""
        if self.texts_stored:
            return self
        if self.offer is None or self.offer.height == 0:
            return replace(self, texts_stored=True)
        frame, offer = lean_frames(self.frame, self.offer)
        return replace(self, frame=frame, offer=offer, texts_stored=True)


def lean_frames(frame: pl.DataFrame, offer: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(``frame`` with a null ``evidence`` for the trainings of ``offer``, ``offer``'s ``id`` column):
    what a catalogue with ``texts_stored`` holds of them."""
    lheo = pl.col("id").is_in(offer["id"].implode())
    return (frame.with_columns(pl.when(lheo).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col("evidence"))
                               .alias("evidence")),
            offer.select("id"))


# ---- reading -------------------------------------------------------------------------------------

def read_frame(data: str | Path | bytes, fmt: str | None = None, *, name: str | None = None) -> tuple[pl.DataFrame, str]:
    """Raw rows (all strings, trimmed, ``_line``) of a CSV, JSON array or JSON Lines catalogue."""
    if isinstance(data, (str, Path)) and not isinstance(data, bytes):
        path = Path(data)
        file = name or str(path)
        fmt = fmt or ("json" if path.suffix.lower() in (".json", ".jsonl", ".ndjson") else "csv")
        if fmt == "csv":
            return read_csv(path, required=REQUIRED, optional=OPTIONAL), file
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ReferentielError("file not found", file=file, expected="an existing file") from None
    else:
        raw, file = data, name or "<body>"
        fmt = fmt or ("json" if raw.lstrip()[:1] in (b"[", b"{") else "csv")
        if fmt == "csv":
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "trainings.csv"
                path.write_bytes(raw)
                try:
                    return read_csv(path, required=REQUIRED, optional=OPTIONAL), file
                except ReferentielError as error:
                    raise ReferentielError(error.message, file=file, line=error.line, column=error.column,
                                           expected=error.expected, found=error.found) from None
    return _json_rows(raw, file), file


def _json_rows(raw: bytes, file: str) -> pl.DataFrame:
    check_json_depth(raw, file)  # before json.loads, whose recursion would fail on a deep body
    try:
        text = raw.decode("utf-8-sig", errors="strict") if raw else ""
    except UnicodeDecodeError as error:
        raise ReferentielError(f"cannot decode byte {raw[error.start:error.start + 1]!r}", file=file,
                               line=raw.count(b"\n", 0, error.start) + 1, expected="UTF-8 text") from None
    stripped = text.strip()
    if not stripped:
        raise ReferentielError("the file is empty", file=file, expected="a JSON array of trainings", found="")
    records: list[tuple[int, object]] = []
    if stripped.startswith("["):
        try:
            values = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise ReferentielError(f"malformed JSON: {error.msg}", file=file, line=error.lineno,
                                   expected="a JSON array of objects") from None
        records = [(i + 1, v) for i, v in enumerate(values)]  # element number, not text line
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((number, json.loads(line)))
                except json.JSONDecodeError as error:
                    raise ReferentielError(f"malformed JSON line: {error.msg}", file=file, line=number,
                                           expected="one JSON object per line", found=line) from None
    if not records:
        raise ReferentielError("no trainings", file=file, expected="at least one training", found="[]")
    rows = []
    for number, value in records:
        if not isinstance(value, dict):
            raise ReferentielError("not an object", file=file, line=number, expected="a JSON object per training",
                                   found=json.dumps(value)[:80])
        row: dict[str, object] = {LINE: number}
        for column in REQUIRED + OPTIONAL:
            v = value.get(column)
            if column == "id" and v is not None:
                if not isinstance(v, str):
                    raise InvalidId("id", id_problem(v)[1] or "must be text", v, file=file, line=number)
                row[column] = v  # as given: the id rule (validate) trims and normalises it, nothing else
                continue
            if isinstance(v, dict) or (isinstance(v, list) and column not in LIST_COLUMNS):
                raise ReferentielError("not a single value", file=file, line=number, column=column,
                                       expected="text or a number" + (" or a list" if column in LIST_COLUMNS else ""),
                                       found=json.dumps(v)[:80])
            if isinstance(v, list) and any(isinstance(x, (list, dict)) for x in v):
                raise ReferentielError("a list of lists or objects", file=file, line=number, column=column,
                                       expected="a list of texts", found=json.dumps(v)[:80])
            if isinstance(v, list):
                v = SEPARATOR.join(str(x) for x in v)
            elif isinstance(v, bool):
                v = "true" if v else "false"
            row[column] = None if v is None or str(v).strip() == "" else str(v).strip()
        rows.append(row)
    missing = [c for c in REQUIRED if all(r[c] is None for r in rows)]
    if missing:
        raise ReferentielError(f"missing key(s) {', '.join(repr(m) for m in missing)}", file=file, line=1,
                               expected=f"keys {', '.join(REQUIRED)}", found=", ".join(sorted(records[0][1])))
    schema = {c: pl.String for c in REQUIRED + OPTIONAL} | {LINE: pl.Int64}
    return pl.DataFrame(rows, schema=schema).select(list(REQUIRED + OPTIONAL) + [LINE])


def _split(frame: pl.DataFrame, column: str) -> pl.Series:
    return (frame[column].str.split(SEPARATOR)
            .list.eval(pl.element().str.strip_chars().replace("", None).drop_nulls())
            .fill_null(pl.lit([], dtype=pl.List(pl.String))))


def _number(frame: pl.DataFrame, column: str, file: str, *, low: float, high: float, strict_low: bool,
            expected: str) -> pl.Series:
    values = frame[column].str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
    bad = frame.filter(frame[column].is_not_null() & (values.is_null() | values.is_nan() | values.is_infinite()))
    if bad.height:
        raise ReferentielError("not a number", file=file, line=int(bad[LINE][0]), column=column,
                               expected=expected, found=str(bad[column][0]))
    out_of_range = (values <= low) if strict_low else (values < low)
    bad = frame.filter(values.is_not_null() & (out_of_range | (values > high)))
    if bad.height:
        raise ReferentielError("value out of range", file=file, line=int(bad[LINE][0]), column=column,
                               expected=expected, found=str(bad[column][0]))
    return values


def validate(
    frame: pl.DataFrame,
    referentiel,
    *,
    file: str,
    basins: pl.DataFrame | None = None,
    skill_resolver: SkillResolver | None = None,
) -> pl.DataFrame:
    """Validate raw string rows (``read_frame``) into the typed ``FRAME_SCHEMA`` frame; raise on the first bad row."""
    basins = default_basins() if basins is None else basins
    require_values(frame, REQUIRED, file)
    canonical, reasons = check_ids(frame["id"])  # the id rule of referentiels.ids (NFC, printable, no '/' ...)
    bad = frame.filter(reasons.is_not_null())
    if bad.height:
        row = int(reasons.is_not_null().arg_true()[0])
        raise InvalidId("id", reasons[row], frame["id"][row], file=file, line=int(frame[LINE][row]))
    frame = frame.with_columns(canonical.alias("id"))
    require_unique(frame, ["id"], file, "training id")
    hours = _number(frame, "hours", file, low=0.0, high=10_000.0, strict_low=True,
                    expected="a duration in hours, > 0 and <= 10000")
    cost = _number(frame, "cost", file, low=0.0, high=1e7, strict_low=False, expected="a cost in euros, >= 0")
    lat = _number(frame, "lat", file, low=-90.0, high=90.0, strict_low=False, expected="degrees between -90 and 90")
    lon = _number(frame, "lon", file, low=-180.0, high=180.0, strict_low=False,
                  expected="degrees between -180 and 180")
    half = frame.filter(lat.is_null() != lon.is_null())
    if half.height:
        column = "lon" if half["lat"][0] is not None else "lat"
        raise ReferentielError("coordinates need both lat and lon", file=file, line=int(half[LINE][0]),
                               column=column, expected="a value", found="")
    remote = parse_bool(frame, "remote", file, default=False)
    # basin: known id; coordinates default to the basin's main town
    known = basins["id"].cast(pl.String)
    bad = frame.filter(frame["basin"].is_not_null() & ~frame["basin"].is_in(known.implode()))
    if bad.height:
        raise ReferentielError("unknown job basin", file=file, line=int(bad[LINE][0]), column="basin",
                               expected="a basin id such as " + ", ".join(known.head(3).to_list()),
                               found=str(bad["basin"][0]))
    centre = frame.select("basin").join(basins.select(pl.col("id").cast(pl.String).alias("basin"),
                                                      pl.col("lat").alias("_blat"), pl.col("lon").alias("_blon")),
                                        on="basin", how="left", maintain_order="left")
    lat = lat.fill_null(centre["_blat"])
    lon = lon.fill_null(centre["_blon"])
    nowhere = frame.filter(lat.is_null() & ~remote)
    if nowhere.height:
        raise ReferentielError("no place", file=file, line=int(nowhere[LINE][0]), column="basin",
                               expected="a basin, lat and lon, or remote=true", found="")
    # start dates
    starts = _split(frame, "start_dates")
    parsed = starts.list.eval(pl.element().str.to_date("%Y-%m-%d", strict=False))
    bad_mask = (starts.list.len() != parsed.list.eval(pl.element().drop_nulls()).list.len())
    bad = frame.filter(bad_mask)
    if bad.height:
        i = int(np.flatnonzero(bad_mask.to_numpy())[0])
        wrong = [s for s, d in zip(starts[i].to_list(), parsed[i].to_list()) if d is None][0]
        raise ReferentielError("not a date", file=file, line=int(bad[LINE][0]), column="start_dates",
                               expected="ISO dates YYYY-MM-DD separated by '|'", found=wrong)
    formacode = frame["formacode"]
    bad = frame.filter(formacode.is_not_null() & ~formacode.str.contains(r"^\d{5}$"))
    if bad.height:
        raise ReferentielError("not a Formacode", file=file, line=int(bad[LINE][0]), column="formacode",
                               expected="5 digits such as 23054", found=str(bad["formacode"][0]))
    # occupations it prepares for
    occupations = _split(frame, "occupations")
    known_occ = set(referentiel.occupation_index)
    for i, values in enumerate(occupations.to_list()):
        unknown = [v for v in values if v not in known_occ]
        if unknown:
            raise ReferentielError("unknown occupation", file=file, line=int(frame[LINE][i]), column="occupations",
                                   expected="occupation codes of the referential", found=unknown[0])
    skills = _resolve_skills(frame, referentiel, file, skill_resolver)
    return pl.DataFrame({
        "id": frame["id"], "title": frame["title"], "organisation": frame["organisation"], "skills": skills,
        "hours": hours, "basin": frame["basin"], "lat": lat, "lon": lon, "remote": remote,
        "start_dates": parsed.list.sort(), "cost": cost, "funder": frame["funder"], "formacode": formacode,
        "occupations": occupations,
    }, schema=BASE_SCHEMA).with_columns([pl.lit(None, dtype=t).alias(c) for c, t in OFFER_SCHEMA.items()])


def _resolve_skills(frame: pl.DataFrame, referentiel, file: str, resolver: SkillResolver | None) -> pl.Series:
    codes = _split(frame, "skills")
    texts = _split(frame, "skills_text")
    known = referentiel.skill_index
    code_lists = codes.to_list()
    text_lists = texts.to_list()
    pending = sorted({t for ts in text_lists for t in ts})
    if pending and resolver is None:
        i = next(i for i, ts in enumerate(text_lists) if ts)
        raise ReferentielError("free-text skills need the skill normaliser", file=file, line=int(frame[LINE][i]),
                               column="skills_text", expected="skill codes in 'skills'", found=text_lists[i][0])
    resolved = dict(zip(pending, resolver(pending))) if pending else {}
    out = []
    for i, (cs, ts) in enumerate(zip(code_lists, text_lists)):
        unknown = [c for c in cs if c not in known]
        if unknown:
            raise ReferentielError("unknown skill", file=file, line=int(frame[LINE][i]), column="skills",
                                   expected="skill codes of the referential", found=unknown[0])
        unmatched = [t for t in ts if resolved.get(t) is None]
        if unmatched:
            raise ReferentielError("no skill of the referential matches this text", file=file,
                                   line=int(frame[LINE][i]), column="skills_text",
                                   expected="a skill phrase close to a referential skill label", found=unmatched[0])
        merged = sorted(set(cs) | {resolved[t] for t in ts})
        if not merged:
            raise ReferentielError("a training teaches no skill", file=file, line=int(frame[LINE][i]),
                                   column="skills", expected="at least one skill code (or skills_text)", found="")
        out.append(merged)
    return pl.Series("skills", out, dtype=pl.List(pl.String))


def teaches_matrix(frame: pl.DataFrame, referentiel, *, batch_rows: int = 5_000) -> sp.csr_array:
    """(n_trainings, n_skills) float32 CSR of a validated frame: 1.0 where a training teaches a skill.

    Codes are mapped to columns by a polars join (no Python string per taught skill: a regional
    offer on ROME teaches millions), ``batch_rows`` trainings at a time (the exploded pairs of a
    50,000-training offer on ROME weigh hundreds of MB at once). Raises ``ReferentielError`` on a
    code the referential lacks."""
    columns = pl.DataFrame({"skills": referentiel.skill_codes.astype(str).tolist(),
                            "col": np.arange(referentiel.n_skills, dtype=np.int32)})
    parts = []
    for lo in range(0, max(frame.height, 1), batch_rows):
        part = frame.slice(lo, batch_rows)
        pairs = (part.select(pl.int_range(0, pl.len(), dtype=pl.Int64).alias("row"), pl.col("skills"))
                 .explode("skills").drop_nulls("skills"))
        mapped = pairs.join(columns, on="skills", how="left")
        unknown = mapped.filter(pl.col("col").is_null())
        if unknown.height:
            raise ReferentielError("unknown skill", column="skills", expected="skill codes of the referential",
                                   found=str(unknown["skills"][0]))
        m = sp.csr_array((np.ones(mapped.height, dtype=np.float32),
                          (mapped["row"].to_numpy(), mapped["col"].to_numpy())), shape=(part.height, referentiel.n_skills))
        m.sum_duplicates()
        m.sort_indices()
        parts.append(m)
    if len(parts) == 1:
        return parts[0]
    m = sp.csr_array(sp.vstack(parts, format="csr"), dtype=np.float32)
    m.sort_indices()
    return m


def load_trainings(
    data: str | Path | bytes,
    referentiel,
    *,
    fmt: str | None = None,
    name: str | None = None,
    basins: pl.DataFrame | None = None,
    skill_resolver: SkillResolver | None = None,
) -> TrainingCatalogue:
    """Read and validate a training catalogue (CSV, JSON array or JSON Lines) against ``referentiel``.

    ``data``: a path, or the bytes of a body (``name`` then names it in errors). ``basins``: the
    job basins (default ``territories.default_basins()``). ``skill_resolver`` turns free-text skills
    into codes (e.g. ``lambda texts: [hit.code or None ...]`` over the skill normaliser).
    Raises ``ReferentielError`` on the first bad row.
    """
    raw, file = read_frame(data, fmt, name=name)
    frame = validate(raw, referentiel, file=file, basins=basins, skill_resolver=skill_resolver)
    return TrainingCatalogue(frame=frame, teaches=teaches_matrix(frame, referentiel), source=file)


def demo_trainings(referentiel) -> TrainingCatalogue:
    """The demo catalogue (``referentiels/demo/trainings.csv``) bound to the demo referential."""
    catalogue = load_trainings(DEMO_CATALOGUE, referentiel)
    return TrainingCatalogue(frame=catalogue.frame, teaches=catalogue.teaches, source="demo")


def from_frame(frame: pl.DataFrame, referentiel, source: str = "synthetic",
               sessions: pl.DataFrame | None = None) -> TrainingCatalogue:
    """A catalogue from an already typed frame (``FRAME_SCHEMA``; missing offer columns are null),
    e.g. ``synthesize_trainings``'s, with its ``sessions`` (``SESSION_SCHEMA``) if any."""
    frame = frame.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in FRAME_SCHEMA.items()
                                if c not in frame.columns])
    frame = frame.select(list(FRAME_SCHEMA)).cast(FRAME_SCHEMA)
    if sessions is not None:
        sessions = sessions.select(list(SESSION_SCHEMA)).cast(SESSION_SCHEMA)
    return TrainingCatalogue(frame=frame, teaches=teaches_matrix(frame, referentiel), source=source,
                             sessions=sessions)


def from_lheo(offer, referentiel, skills: list[list[str]], evidence: list[str] | list[list[dict]] | None = None, *,
              basins: pl.DataFrame | None = None, source: str | None = None) -> TrainingCatalogue:
    """The catalogue of an LHEO offer (``referentiels.lheo.read_lheo``): one training per action,
    its sessions, and what each teaches (``skills``: n lists of codes, ``evidence``: n JSON arrays
    (or lists of dicts), as ``matching.training_skills.derive_teaching`` gives them in
    ``skills`` / ``evidence_json``; unknown codes are dropped).

    Place: the action's coordinates, else the main town of the first basin of its postcode's
    department (as a CSV training with a basin and no coordinates); ``basin``: the nearest basin
    when the place is known. Hours: ``nombre-heures-total``, else 35 h a week over its first dated
    session (at least 7 h), else 35 h. ``occupations``: the ROME codes the referential knows (all of
    them stay in ``offer``); ``funder``: the first funder's label (dict-financeurs);
    ``start_dates``: the known session starts. Column-wise (polars): no Python object per row.
    """
    import orjson

    from .lheo import FUNDERS
    from .territories import haversine_km

    basins = default_basins() if basins is None else basins
    t = offer.trainings.drop("line") if "line" in offer.trainings.columns else offer.trainings
    n = t.height
    sessions = offer.sessions.drop("line") if "line" in offer.sessions.columns else offer.sessions
    sessions = sessions.select(list(SESSION_SCHEMA)).cast(SESSION_SCHEMA)
    # place: coordinates, else the first basin of the postcode's department; basin: the nearest
    b_id = np.asarray(basins["id"].cast(pl.String).to_list(), dtype=object)
    b_lat, b_lon = basins["lat"].to_numpy(), basins["lon"].to_numpy()
    deps = basins["department"].cast(pl.String).to_list() if "department" in basins.columns else [None] * len(b_id)
    first_of_dep: dict[str, int] = {}
    for j, d in enumerate(deps):
        first_of_dep.setdefault(d, j)
        if d in ("2A", "2B"):
            first_of_dep.setdefault("20", j)
    dep = (pl.when(t["postcode"].str.starts_with("97")).then(t["postcode"].str.slice(0, 3))
           .otherwise(t["postcode"].str.slice(0, 2)))
    dep_row = t.select(dep.alias("d"))["d"].replace_strict(first_of_dep, default=None, return_dtype=pl.Int64)
    lat = t["lat"].fill_null(float("nan")).to_numpy().astype(np.float64)
    lon = t["lon"].fill_null(float("nan")).to_numpy().astype(np.float64)
    guess = np.isnan(lat) & ~t["remote"].to_numpy().astype(bool) & dep_row.is_not_null().to_numpy()
    if guess.any():
        j = dep_row.to_numpy()[guess].astype(np.int64)
        lat[guess], lon[guess] = b_lat[j], b_lon[j]
    placed = np.flatnonzero(~np.isnan(lat))
    basin = np.full(n, None, dtype=object)
    for lo in range(0, len(placed), 4096):  # (rows x basins) distances by blocks
        rows = placed[lo:lo + 4096]
        d = haversine_km(lat[rows, None], lon[rows, None], b_lat[None, :], b_lon[None, :])
        basin[rows] = b_id[np.argmin(d, axis=1)]
    # hours: the action's, else 35 h a week over the first dated session, else 35 h (aligned on t by id,
    # no join: the columns taken from t stay shared with the offer frame instead of being copied)
    import pyarrow as pa

    first_period = (sessions.filter(pl.col("start").is_not_null() & pl.col("end").is_not_null())
                    .group_by("training", maintain_order=True).first()
                    .select("training", ((pl.col("end") - pl.col("start")).dt.total_days() + 1).alias("days")))
    period = dict(zip(first_period["training"].to_list(), first_period["days"].to_list()))
    starts = (sessions.filter(pl.col("start").is_not_null()).group_by("training")
              .agg(pl.col("start").unique().sort()))
    start_of = dict(zip(starts["training"].to_list(), starts["start"].to_list()))
    ids = t["id"].to_list()
    days = pl.Series("_days", [period.get(i) for i in ids], dtype=pl.Int64)
    start_dates = pl.from_arrow(pa.array([start_of.get(i, []) for i in ids], type=pa.list_(pa.date32()))
                                ).cast(pl.List(pl.Date)).alias("start_dates")
    known_skills = referentiel.skill_index
    kept_skills = [sorted({c for c in (skills[i] if i < len(skills) else []) if c in known_skills}) for i in range(n)]
    if evidence is None:
        evidence_text = ["[]"] * n
    else:
        evidence_text = [("[]" if i >= len(evidence) else evidence[i] if isinstance(evidence[i], str)
                          else orjson.dumps(evidence[i]).decode()) for i in range(n)]
    known_occ = referentiel.occupation_index
    occupations = [[c for c in v if c in known_occ] for v in t["occupations"].to_list()]  # a list.eval is_in
    # against the referential's codes would repeat them for every row (gigabytes on ROME)
    frame = (t.with_columns(days, start_dates)
             .select(
                 "id", "title", "organisation",
                 pl.from_arrow(pa.array(kept_skills, type=pa.list_(pa.string()))).cast(pl.List(pl.String))
                 .alias("skills"),
                 pl.coalesce(pl.col("hours"), (pl.col("_days") / 7 * 35).round(0).clip(7, None), pl.lit(35.0))
                 .clip(None, 10_000.0).cast(pl.Float64).alias("hours"),
                 pl.Series("basin", basin.tolist(), dtype=pl.String),
                 pl.Series("lat", lat).fill_nan(None), pl.Series("lon", lon).fill_nan(None),
                 pl.col("remote").fill_null(False),
                 "start_dates",
                 "cost",
                 pl.col("funders").list.first().replace_strict(FUNDERS, default=pl.lit("code ") + pl.col(
                     "funders").list.first(), return_dtype=pl.String).alias("funder"),
                 pl.col("formacodes").list.first().alias("formacode"),
                 pl.from_arrow(pa.array(occupations, type=pa.list_(pa.string()))).cast(pl.List(pl.String))
                 .alias("occupations"),
                 "formation", "siret", "city", "postcode", "places", pl.col("permanent_entry").fill_null(False),
                 pl.Series("evidence", evidence_text, dtype=pl.String),
             ).cast(FRAME_SCHEMA))
    return TrainingCatalogue(frame=frame, teaches=teaches_matrix(frame, referentiel), source=source or offer.file,
                             sessions=sessions, offer=t)


def concat_catalogues(parts: Sequence[TrainingCatalogue], source: str | None = None) -> TrainingCatalogue:
    """One catalogue of ``parts`` (same referential, no id in two parts: the batches of one import),
    in order. No row is copied into Python: frames are concatenated, ``teaches`` stacked."""
    if not parts:
        raise ValueError("no catalogue to concatenate")
    if len(parts) == 1:
        return parts[0] if source is None else replace(parts[0], source=source)
    frame = pl.concat([p.frame for p in parts], rechunk=False)
    teaches = sp.csr_array(sp.vstack([p.teaches for p in parts], format="csr"), dtype=np.float32)
    sessions = [p.sessions for p in parts if p.sessions is not None]
    offers = [p.offer for p in parts if p.offer is not None]
    return TrainingCatalogue(frame=frame, teaches=teaches, source=parts[0].source if source is None else source,
                             sessions=pl.concat(sessions, rechunk=False) if sessions else None,
                             offer=pl.concat(offers, rechunk=False) if offers else None)


def lheo_frames(catalogue: TrainingCatalogue, skill_labels: dict[str, str] | None = None
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(trainings, sessions) frames in ``referentiels.lheo``'s schemas for the LHEO export of a catalogue.

    A training imported from LHEO is given back as it was read (its row of ``catalogue.offer``,
    with its sessions as they are now, own capacities included). A CSV training is described from
    its columns: objective and content list the skills it teaches (``skill_labels``: code ->
    label), one session per start date (end unknown), its basin as registration place; what the
    CSV format does not hold (SIRET, postcode, public, rhythm...) is missing from the export.
    """
    from . import lheo

    offer = catalogue.offer if catalogue.offer is not None else pl.DataFrame(schema=lheo.TRAINING_SCHEMA).drop("line")
    from_offer = catalogue.frame.select("id").join(offer, on="id", how="inner", maintain_order="left")
    csv_rows = catalogue.frame.filter(~pl.col("id").is_in(from_offer["id"].implode()))
    rows = []
    for r in csv_rows.to_dicts():
        labels = [(skill_labels or {}).get(c, c) for c in r["skills"] or []]
        described = "Compétences visées : " + " ; ".join(labels) if labels else r["title"]
        rows.append({
            "id": r["id"], "formation": r["id"], "title": r["title"], "objective": described, "content": described,
            "results": None, "occupations": r["occupations"] or [], "formacodes": [r["formacode"]] if r["formacode"] else [],
            "nsf": [], "rncp": [], "certifying": None, "organisation": r["organisation"], "siret": r.get("siret"),
            "teaching_mode": 2 if r["remote"] else 0, "remote": bool(r["remote"]), "permanent_entry": not r["start_dates"],
            "address_lines": [], "postcode": r.get("postcode"), "city": r.get("city") or r.get("basin"),
            "lat": r["lat"], "lon": r["lon"], "hours": r["hours"], "cost": r["cost"], "funders": [],
            "funder_places": [], "places": None, "kept": "{}",
        })
    schema = {k: v for k, v in lheo.TRAINING_SCHEMA.items() if k != "line"}
    described = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    trainings = pl.concat([from_offer.select(list(schema)).cast(schema), described])
    sessions = catalogue.sessions if catalogue.sessions is not None else pl.DataFrame(schema=SESSION_SCHEMA)
    extra = [{"id": f"{r['id']}-{d.isoformat()}", "training": r["id"], "start": d, "start_precision": "day",
              "end": None, "end_precision": None, "state": None, "registration_lines": [],
              "registration_postcode": r.get("postcode"), "registration_city": r.get("city") or r.get("basin"),
              "capacity": None} for r in csv_rows.to_dicts() for d in r["start_dates"] or []]
    sessions = pl.concat([sessions.filter(pl.col("training").is_in(from_offer["id"].implode())),
                          pl.DataFrame(extra, schema=SESSION_SCHEMA) if extra else pl.DataFrame(schema=SESSION_SCHEMA)])
    return (trainings.with_columns(pl.lit(None, dtype=pl.Int64).alias("line")),
            sessions.with_columns(pl.lit(None, dtype=pl.Int64).alias("line")))


def csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A typed catalogue frame as the documented CSV columns, in order, lists joined by ``|``."""
    return frame.with_columns(
        [pl.col(c).cast(pl.List(pl.String)).list.join(SEPARATOR) for c in LIST_COLUMNS if c in frame.columns]
    ).select([c for c in REQUIRED + OPTIONAL if c in frame.columns])


def to_csv(frame: pl.DataFrame) -> str:
    """The documented CSV text of a typed catalogue frame (lists joined by ``|``), raw: a file for
    people goes through ``api.storage.exports`` (``passerelles trainings synth`` does)."""
    buffer = io.StringIO()
    csv_frame(frame).write_csv(buffer)
    return buffer.getvalue()


# ---- synthetic catalogue ---------------------------------------------------------------------

ORGANISATIONS = ("AFPA", "GRETA", "Pôle formation UIMM", "CNAM", "IFRIA", "AFPI", "Institut de Soudure",
                 "APAVE", "Bureau Veritas Formation", "CFA de l'industrie", "AFTRAL", "Promotrans", "CCI Formation",
                 "Compagnons du Devoir", "INHNI", "IRFSS Croix-Rouge")
FUNDERS = ("Région", "France Travail", "OPCO 2i", "OCAPIAT", "CPF", "Employeur")
FORMAT_PREFIX = ("Module", "Certificat de compétences", "Parcours", "Formation courte", "CQP", "Titre professionnel")


def synthesize_trainings(referentiel, n: int, *, basins: pl.DataFrame | None = None, seed: int = 0,
                         start: date = date(2026, 1, 5)) -> pl.DataFrame:
    """A plausible catalogue of ``n`` trainings over ``referentiel`` (typed ``FRAME_SCHEMA`` frame).

    Each training teaches 2-8 skills of one macro-competence (skill group) of the referential, plus
    sometimes one skill of a related group; lasts 14-600 h (log-uniform, rounded to 7 h); costs
    12-25 EUR an hour; takes place in a basin (Zipf) or at a distance (10 %); starts 0-6 times in
    the year or is permanent entry (20 %). Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    basins = default_basins() if basins is None else basins
    skills = referentiel.skills
    codes = np.asarray(skills["code"].to_list(), dtype=object)
    labels = skills["label"].to_list()
    groups = skills["group"].fill_null(skills["kind"]).to_list()
    group_names = sorted(set(groups))
    members = {g: np.flatnonzero(np.asarray(groups, dtype=object) == g) for g in group_names}
    # skills linked to occupations only (a training for an unused skill is useless)
    used = np.zeros(len(codes), dtype=bool)
    used[np.unique(referentiel.matrix.indices)] = True
    members = {g: m[used[m]] for g, m in members.items() if used[m].any()}
    group_names = sorted(members)
    g_pick = rng.integers(0, len(group_names), size=n)
    size = rng.integers(2, 9, size=n)
    hours = np.maximum(7, np.round(np.exp(rng.uniform(np.log(14), np.log(600), size=n)) / 7) * 7)
    rate = rng.uniform(12, 25, size=n)
    remote = rng.random(n) < 0.10
    weights = 1.0 / np.arange(1, basins.height + 1) ** 0.6
    b = rng.choice(basins.height, size=n, p=weights / weights.sum())
    basin_ids = np.asarray(basins["id"].cast(pl.String).to_list(), dtype=object)[b]
    lat = basins["lat"].to_numpy()[b] + rng.normal(0, 0.05, size=n)
    lon = basins["lon"].to_numpy()[b] + rng.normal(0, 0.07, size=n)
    n_starts = np.where(rng.random(n) < 0.2, 0, rng.integers(1, 7, size=n))
    occ_of_skill = referentiel.matrix.tocsc()
    occ_codes = referentiel.occupation_codes
    rows = []
    for i in range(n):
        g = group_names[g_pick[i]]
        pool = members[g]
        k = int(min(size[i], len(pool)))
        chosen = rng.choice(pool, size=k, replace=False)
        if rng.random() < 0.3:
            other = members[group_names[rng.integers(0, len(group_names))]]
            chosen = np.union1d(chosen, rng.choice(other, size=1))
        chosen = np.sort(chosen)
        first = int(chosen[0])
        title_skill = labels[first]
        title = f"{FORMAT_PREFIX[i % len(FORMAT_PREFIX)]} — {g}: {title_skill[0].lower()}{title_skill[1:]}"
        days = np.sort(rng.choice(365, size=int(n_starts[i]), replace=False)) if n_starts[i] else []
        prep = occ_of_skill.indices[occ_of_skill.indptr[first]:occ_of_skill.indptr[first + 1]]
        prepares = sorted({str(occ_codes[o]) for o in prep[:3]})
        rows.append({
            "id": f"T{i:06d}", "title": title, "organisation": ORGANISATIONS[int(rng.integers(0, len(ORGANISATIONS)))],
            "skills": [str(c) for c in codes[chosen]], "hours": float(hours[i]),
            "basin": None if remote[i] else str(basin_ids[i]),
            "lat": None if remote[i] else round(float(lat[i]), 4), "lon": None if remote[i] else round(float(lon[i]), 4),
            "remote": bool(remote[i]),
            "start_dates": [date.fromordinal(start.toordinal() + int(d)) for d in days],
            "cost": round(float(hours[i] * rate[i]), 0), "funder": FUNDERS[int(rng.integers(0, len(FUNDERS)))],
            "formacode": f"{int(rng.integers(10000, 99999)):05d}", "occupations": prepares,
        })
    return pl.DataFrame(rows, schema=BASE_SCHEMA).with_columns(
        [pl.lit(None, dtype=t).alias(c) for c, t in OFFER_SCHEMA.items()])


__all__ = ["BASE_SCHEMA", "CLOSED_STATES", "DEMO_CATALOGUE", "FRAME_SCHEMA", "OFFER_SCHEMA", "SESSION_SCHEMA",
           "TrainingCatalogue", "UNKNOWN_END", "UNKNOWN_START", "concat_catalogues", "csv_frame", "demo_trainings", "from_frame", "from_lheo",
           "lheo_frames", "load_trainings",
           "read_frame", "synthesize_trainings", "teaches_matrix", "to_csv", "validate"]
