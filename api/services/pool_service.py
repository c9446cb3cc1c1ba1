"""Seekers and offers as a service: the store, the pool index that follows it, validation, matching.

    pool = Pool(store, referentiel, space, bridges, skill_normaliser=..., basins=...)   # loads the index
    report = pool.ingest("seekers", frame, mode="all")    # validated, one transaction, index updated
    pool.offers_for_seeker("S1", k=10)                    # explained, codes and labels
    pool.candidates_for_offer("O1", k=20)                 # consenting seekers only, pseudonymous ids

The index is built from the store once (``Pool.__init__``) and then follows the store's change
sequence (:meth:`sync`, run before every query and after every write): a write by this process or
by another one (``passerelles ingest`` while the server runs) reaches the index without a rebuild.

Validation is vectorised (polars): every rejected row is reported with its line (CSV: the file's
line, header = line 1; JSON Lines: the line; Parquet / JSON arrays: the record's 1-based position)
and its reason. ``mode="all"`` writes nothing when a row is rejected; ``mode="valid"`` writes the
valid rows and lists the rejected lines, so exactly which rows were taken is known.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from matching.match import MatchHit, PoolMatcher
from matching.pool import ProfileIndex, unique_per_row
from referentiels import ReferentielError
from referentiels.csvfiles import NO_WORDS, YES_WORDS
from referentiels.ids import check_ids, check_json_depth

from api.services.errors import IngestError, RecordError
from api.storage.store import ANY_EMPLOYER, COLUMNS, KEY_COLUMNS, LIST_COLUMNS, Store


MODES = ("all", "valid")
MAX_RADIUS_KM = 1000.0
#: Columns whose values are ids (the id rule of ``referentiels.ids`` applies).
ID_COLUMNS = ("id", "employer")
#: Characters no text field may hold (binary data: controls but tab, LF, CR; U+FFFD-U+FFFF), as in
#: ``matching.normalise.validate_text``; a polars (Rust) regex.
CONTROL_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\x{FFFD}\x{FFFE}\x{FFFF}]"


@dataclass
class IngestReport:
    kind: str
    mode: str
    rows: int
    taken: int
    rejected: list[dict] = field(default_factory=list)
    written: bool = False

    def to_dict(self, max_rejected: int = 1000) -> dict:
        return {"kind": self.kind, "mode": self.mode, "rows": self.rows, "taken": self.taken,
                "written": self.written, "rejected_count": len(self.rejected),
                "rejected": self.rejected[:max_rejected]}


def load_basins() -> pl.DataFrame | None:
    """Job basins (id, name, region, lat, lon) from ``referentiels.territories`` when it is there."""
    try:
        from referentiels import territories  # owned by the training-gaps work (issue 6)
    except ImportError:
        return None
    for name in ("default_basins", "basins", "load_basins"):
        function = getattr(territories, name, None)
        if callable(function):
            frame = function()
            if not isinstance(frame, pl.DataFrame):
                frame = pl.DataFrame(frame)
            return frame.select(pl.col("id").cast(pl.String), pl.col("name").cast(pl.String),
                                pl.col("lat").cast(pl.Float64), pl.col("lon").cast(pl.Float64))
    return None


# ---- reading files ---------------------------------------------------------------------------

def read_records(data: bytes | str | Path, fmt: str | None = None) -> tuple[pl.DataFrame, int]:
    """Read CSV / Parquet / JSON Lines / a JSON array into a frame; returns (frame, first line number).

    ``fmt``: csv | parquet | jsonl | json (default: from the file suffix). CSV list columns hold
    codes separated by ``|``. The first line number maps row 0 to its line in the file.
    """
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"no such file: {path}")
        fmt = fmt or {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
                      ".ndjson": "jsonl", ".json": "json"}.get(path.suffix.lower())
        if fmt is None:
            raise IngestError(f"{path.name}: unknown format; use .csv, .parquet, .jsonl or .json")
        data = path.read_bytes()
    if fmt in ("json", "jsonl"):
        try:
            check_json_depth(data)
        except ReferentielError as error:
            raise IngestError(f"cannot read the {fmt} data: {error}") from None
    try:
        if fmt == "csv":
            frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
            return frame, 2
        if fmt == "parquet":
            return pl.read_parquet(io.BytesIO(data)), 1
        if fmt == "jsonl":
            return pl.read_ndjson(io.BytesIO(data), infer_schema_length=None), 1
        if fmt == "json":
            return pl.read_json(io.BytesIO(data), infer_schema_length=None), 1
    except Exception as error:  # polars' parse errors: the whole file is refused
        raise IngestError(f"cannot read the {fmt} data: {str(error).splitlines()[0]}") from None
    raise IngestError(f"unknown format {fmt!r}: expected csv, parquet, jsonl or json")


def _kind_of(dtype: pl.DataType) -> str:
    """A dtype in the words of a JSON value: 'a list', 'an object', 'a number', 'a boolean', 'text'."""
    if isinstance(dtype, (pl.List, pl.Array)):
        return "a list"
    if isinstance(dtype, pl.Struct):
        return "an object"
    if dtype == pl.Boolean:
        return "a boolean"
    if dtype.is_numeric():
        return "a number"
    return "text" if dtype in (pl.String, pl.Categorical, pl.Null) else str(dtype)


def shape_problems(frame: pl.DataFrame, kind: str) -> dict[str, str]:
    """{column: what is wrong with its type} for the columns of ``kind`` whose values cannot be what
    the column holds: an id that is not text, a list of lists where a list of codes is expected, a
    list or an object where one value is expected. Every non-null cell of such a column is refused."""
    out = {}
    for column in COLUMNS[kind]:
        if column not in frame.columns:
            continue
        dtype = frame.schema[column]
        if column in LIST_COLUMNS:
            inner = dtype.inner if isinstance(dtype, (pl.List, pl.Array)) else None
            if isinstance(dtype, pl.Struct):
                out[column] = f"{column} must be a list of codes (text), not an object"
            elif inner is not None and inner.is_nested():
                found = "objects" if isinstance(inner, pl.Struct) else "lists"
                out[column] = f"{column} must be a list of codes (text), not a list of {found}"
        elif column in ID_COLUMNS:
            if dtype not in (pl.String, pl.Null):
                out[column] = f"{column} must be text, not {_kind_of(dtype)}"
        elif dtype.is_nested():
            out[column] = f"{column} must be one value, not {_kind_of(dtype)}"
    return out


def _code_point(character: pl.Expr) -> pl.Expr:
    """``"U+0000"`` for a one-character string (evaluated on the few rejected rows only)."""
    return character.map_elements(lambda c: f"U+{ord(c):04X}", return_dtype=pl.String)


def _reject_control_characters(f: pl.DataFrame, kind: str, reject) -> pl.DataFrame:
    """Reject (``reject(mask, reason)``) every row whose text fields, ids aside (the id rule names
    those), hold a control character such as a NUL byte, naming the field and the character; the
    characters are then dropped from ``f`` so that nothing later (the skill normaliser) reads them.
    One vectorised scan of the text; the rest runs only for a column that has such a row."""
    columns = [c for c in COLUMNS[kind] if c not in ID_COLUMNS]
    text = {c: pl.col(c).list.join("|") if c in LIST_COLUMNS else pl.col(c) for c in columns}
    found = f.select([(pl.col(c).explode() if c in LIST_COLUMNS else pl.col(c)).str.contains(CONTROL_CHARACTERS)
                      .any().alias(c) for c in columns]).row(0)
    for column, any_bad in zip(columns, found):
        if not any_bad:
            continue
        character = text[column].str.extract(f"({CONTROL_CHARACTERS})")
        reject(character.is_not_null(), pl.lit(f"{column} holds the control character ") + _code_point(character)
               + pl.lit(" (binary data?): expected printable text"))
        if column in LIST_COLUMNS:
            cleaned = pl.col(column).list.eval(pl.element().filter(~pl.element().str.contains(CONTROL_CHARACTERS)))
        else:
            cleaned = pl.when(character.is_not_null()).then(None).otherwise(pl.col(column))
        f = f.with_columns(cleaned.alias(column))
    return f


def _list_column(frame: pl.DataFrame, column: str) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit([], dtype=pl.List(pl.String)).alias(column)
    dtype = frame.schema[column]
    if isinstance(dtype, pl.List):
        return pl.col(column).cast(pl.List(pl.String)).fill_null([]).alias(column)
    if dtype == pl.Null:
        return pl.lit([], dtype=pl.List(pl.String)).alias(column)
    text = pl.col(column).cast(pl.String).fill_null("").str.strip_chars()
    return (pl.when(text == "").then(pl.lit([], dtype=pl.List(pl.String)))
            .otherwise(text.str.split("|").list.eval(pl.element().str.strip_chars()).list.filter(pl.element() != ""))
            .alias(column))


def resolve_skill_texts(normaliser, texts: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """{text: (code or None, suggestion label or None)}: free-text skills through a ``SkillNormaliser``,
    as ingest reads them (the confident best code; else the first candidate's label as a hint).
    Empty or over-long texts resolve to (None, None). Shared by ingest and ``api.services.batch_jobs``."""
    out = {}
    clean = [t for t in texts if t and t.strip() and len(t) <= 500]
    for text, match in zip(clean, normaliser.batch(clean, k=1)):
        best = match.best
        out[text] = (best.code, None) if best else (None, match.candidates[0].label if match.candidates else None)
    for t in texts:
        out.setdefault(t, (None, None))
    return out


def _explode_codes(frame: pl.DataFrame, column: str, mapping: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) int64 of every code of a list column that ``mapping`` (code -> col) knows, in frame order.
    A code the mapping lacks keeps its place as col -1."""
    exploded = (frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), pl.col(column)).explode(column)
                .select("row", pl.col(column).replace_strict(mapping["code"], mapping["col"], default=-1,
                                                             return_dtype=pl.Int64).alias("col")))
    return exploded["row"].to_numpy(), exploded["col"].to_numpy()


# ---- the service -----------------------------------------------------------------------------

class Pool:
    """Store + indexes + matcher over one referential. Thread-safe (writes and syncs under one lock)."""

    def __init__(self, store: Store, referentiel, space, bridges, skill_normaliser=None,
                 basins: pl.DataFrame | None = None, matcher: PoolMatcher | None = None) -> None:
        self.store, self.referentiel = store, referentiel
        if store.referentiel is None:  # rows written from here carry the referential their codes come from
            store.referentiel = referentiel.fingerprint
        self.matcher = matcher or PoolMatcher.fit(space, bridges)
        self._skill_normaliser = skill_normaliser
        self.basins = basins
        r = referentiel
        self.skill_map = pl.DataFrame({"code": list(r.skill_codes), "col": np.arange(r.n_skills, dtype=np.int32)})
        self.occ_map = pl.DataFrame({"code": list(r.occupation_codes), "col": np.arange(r.n_occupations, dtype=np.int32)})
        self.seekers = ProfileIndex(r.n_skills, r.n_occupations)
        self.offers = ProfileIndex(r.n_skills, r.n_occupations, weighted=True)
        self._seq = {"seekers": 0, "offers": 0}
        self._version = None
        self._lock = threading.RLock()
        self._prescriptions = None  # api.storage.prescriptions.PrescriptionStore, opened on the first erasure
        self.sync(force=True)

    # ---- following the store ----------------------------------------------------------------------
    def sync(self, force: bool = False) -> None:
        """Apply to the indexes what the store committed since they last looked (cheap when nothing did)."""
        with self._lock:
            version = (self.store.data_version(), self.store.seq)
            if not force and version == self._version:
                return
            if not force and all(seq == version[1] for seq in self._seq.values()):
                # another table of the database changed (audit log, keys), not seekers or offers
                self._version = version
                return
            for kind in ("seekers", "offers"):
                changes = self.store.changes_since(kind, self._seq[kind])
                index = self.index(kind)
                for key in changes.deleted:
                    index.delete(key)
                if changes.rows.height:
                    self._apply(kind, changes.rows)
                self._seq[kind] = changes.seq
            self._version = (self.store.data_version(), self.store.seq)

    def index(self, kind: str) -> ProfileIndex:
        return self.seekers if kind == "seekers" else self.offers

    def _codes_to_cols(self, frame: pl.DataFrame, column: str, mapping: pl.DataFrame, keep_order: bool = False
                       ) -> tuple[np.ndarray, np.ndarray]:
        """(ptr (n+1,), ids) of a list column of codes, codes the referential lacks dropped, each code once
        per row; ids sorted per row, or in their first order with ``keep_order`` (numpy, no frame sort)."""
        rows, cols = _explode_codes(frame, column, mapping)
        known = cols >= 0
        ptr, kept = unique_per_row(rows[known], cols[known], frame.height, keep_order)
        return ptr, cols[known][kept]

    def _apply(self, kind: str, rows: pl.DataFrame) -> None:
        """Bulk upsert of stored rows into the index (vectorised)."""
        n = rows.height
        keys = rows["key"].to_numpy()
        lat = rows["lat"].fill_null(np.nan).to_numpy().astype(np.float32)
        lon = rows["lon"].fill_null(np.nan).to_numpy().astype(np.float32)
        if kind == "seekers":
            occ_frame = rows.select(pl.concat_list([pl.col("occupation"), pl.col("past_occupations")]).alias("occ"))
            occ_ptr, occ_ids = self._codes_to_cols(occ_frame, "occ", self.occ_map, keep_order=True)
            skill_ptr, skill_ids = self._codes_to_cols(rows, "skills", self.skill_map)
            radius = rows["radius_km"].fill_null(np.nan).to_numpy().astype(np.float32)
            visible = rows["consent"].cast(pl.Int8).fill_null(0).to_numpy().astype(bool)
            self.seekers.extend(keys, skill_ptr, skill_ids, occ_ptr, occ_ids, lat, lon, radius, visible)
            return
        occ_ptr, occ_ids = self._codes_to_cols(rows.select(pl.concat_list("occupation").alias("occupation")),
                                               "occupation", self.occ_map)
        # must-haves first so a skill both must and desired counts as must (the first occurrence is kept)
        both = rows.select(pl.concat_list([pl.col("must"), pl.col("desired")]).alias("skills"))
        owner, cols = _explode_codes(both, "skills", self.skill_map)
        n_must = rows["must"].list.len().fill_null(0).to_numpy().astype(np.int64)
        first_of_row = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=n), out=first_of_row[1:])
        is_must = (np.arange(len(owner)) - first_of_row[owner]) < n_must[owner]  # position in the row's list
        known = cols >= 0
        skill_ptr, kept = unique_per_row(owner[known], cols[known], n, False)
        owner, cols, is_must = owner[known][kept], cols[known][kept], is_must[known][kept]
        cov, must = self.matcher.offer_weights(owner, cols, is_must, n)
        self.offers.extend(keys, skill_ptr, cols, occ_ptr, occ_ids, lat, lon, np.full(n, np.nan, np.float32),
                           np.ones(n, dtype=bool), cov=cov, must=must)

    # ---- validation ---------------------------------------------------------------------------
    def normalise_skill_texts(self, texts: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """{text: (code or None, suggestion label or None)} through the skill normaliser."""
        if not texts:
            return {}
        if self._skill_normaliser is None:
            return {t: (None, None) for t in texts}
        normaliser = self._skill_normaliser() if callable(self._skill_normaliser) and not hasattr(
            self._skill_normaliser, "batch") else self._skill_normaliser
        return resolve_skill_texts(normaliser, texts)

    def validate(self, kind: str, frame: pl.DataFrame, first_line: int = 1) -> tuple[pl.DataFrame, list[dict]]:
        """(valid records with the store's columns, rejections [{line, id, reason}]) — vectorised."""
        if kind not in COLUMNS:
            raise IngestError(f"unknown kind {kind!r}: expected seekers or offers")
        if "id" not in frame.columns:
            raise IngestError(f"the {kind} data has no 'id' column (columns: {', '.join(frame.columns) or 'none'})")
        shapes = shape_problems(frame, kind)
        bad_rows = [frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
                                 pl.col(c).is_not_null().alias("_bad")).filter("_bad")
                    .select("_row", pl.lit(reason).alias("reason")) for c, reason in shapes.items()]
        frame = frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in shapes])
        lists = [c for c in COLUMNS[kind] if c in LIST_COLUMNS]
        exprs = [pl.col("id").cast(pl.String).alias("id")]
        exprs += [_list_column(frame, c) for c in lists]
        for c in COLUMNS[kind]:
            if c in LIST_COLUMNS or c == "id":
                continue
            if c not in frame.columns:
                exprs.append(pl.lit(None, dtype=pl.String).alias(c))
            else:
                exprs.append(pl.col(c).cast(pl.String).str.strip_chars().alias(c))
        f = frame.select(exprs).with_row_index("_row").with_columns(
            (pl.col("_row").cast(pl.Int64) + first_line).alias("_line"),
            pl.concat_list(pl.col("occupation")).list.drop_nulls().list.filter(pl.element() != "").alias("_occupation"))
        reasons: list[pl.DataFrame] = [b for b in bad_rows if b.height]

        def reject(mask: pl.Expr, reason: pl.Expr) -> None:
            bad = f.filter(mask.fill_null(False)).select("_row", reason.alias("reason"))
            if bad.height:
                reasons.append(bad)

        # the id rule (referentiels.ids): ids in their canonical form (NFC, trimmed) or refused, naming the rule
        for column in ID_COLUMNS:
            if column not in f.columns or (column != "id" and f[column].null_count() == f.height):
                continue
            canonical, why = check_ids(f[column])
            f = f.with_columns(pl.coalesce(canonical, pl.col(column)).alias(column), why.alias("_why"))
            reject(pl.col("_why").is_not_null() & (pl.lit(column == "id") | (pl.col("_why") != "is missing")),
                   pl.lit(f"{column} ") + pl.col("_why"))
            f = f.drop("_why")
        f = _reject_control_characters(f, kind, reject)
        key = [c for c in KEY_COLUMNS[kind] if c != "employer"] + (
            [pl.col("employer").fill_null("")] if kind == "offers" else [])  # an offer: (employer, id)
        reject(pl.struct(key).is_duplicated() & (pl.int_range(pl.len()).over(key) > 0),
               pl.lit("id ") + pl.col("id") + pl.lit(" appears again in the same data"
                                                     + (" (for the same employer)" if kind == "offers" else "")))
        # codes
        for column, mapping, what in self._code_columns(kind):
            exploded = (f.select("_row", pl.col(column)).explode(column).drop_nulls(column)
                        .join(mapping, left_on=column, right_on="code", how="anti"))
            if exploded.height:
                first = exploded.group_by("_row", maintain_order=True).agg(pl.col(column).first())
                reasons.append(first.select("_row", (pl.lit(f"unknown {what} code '") + pl.col(column) + pl.lit("'"))
                                            .alias("reason")))
        if kind == "seekers":
            f = self._resolve_texts(f, reasons)
            reject((pl.col("skills").list.len() == 0) & pl.col("occupation").is_null(),
                   pl.lit("a seeker needs skills or an occupation"))
            f = f.with_columns(pl.col("radius_km").cast(pl.Float64, strict=False).alias("_radius"),
                               pl.col("consent").str.to_lowercase().replace("", None).alias("_consent"))
            reject(pl.col("radius_km").is_not_null() & (pl.col("_radius").is_null() | (pl.col("_radius") < 0)
                                                         | (pl.col("_radius") > MAX_RADIUS_KM)),
                   pl.lit(f"radius_km must be a number of km between 0 and {MAX_RADIUS_KM:g}, got '")
                   + pl.col("radius_km") + pl.lit("'"))
            reject(pl.col("_consent").is_not_null() & ~pl.col("_consent").is_in(YES_WORDS + NO_WORDS),
                   pl.lit(f"consent must be a yes/no word ({', '.join(YES_WORDS + NO_WORDS)}), got '")
                   + pl.col("consent") + pl.lit("'"))
            f = f.with_columns(pl.col("_radius").alias("radius_km"),
                               pl.col("_consent").is_in(YES_WORDS).fill_null(False).alias("consent"))
        else:
            reject(pl.col("occupation").is_null() | (pl.col("occupation") == ""), pl.lit("an offer needs an occupation"))
            reject(pl.col("opening").is_not_null()
                   & pl.col("opening").str.to_date("%Y-%m-%d", strict=False).is_null(),
                   pl.lit("opening must be a date YYYY-MM-DD, got '") + pl.col("opening") + pl.lit("'"))
        f = self._locate(f)
        self._location_rejects(reject)
        if self.basins is not None:
            f = f.with_columns(pl.coalesce("_lat", "_blat").alias("_lat"), pl.coalesce("_lon", "_blon").alias("_lon"))
        f = f.with_columns(pl.col("_lat").alias("lat"), pl.col("_lon").alias("lon"))
        rejected = (pl.concat(reasons) if reasons else pl.DataFrame(schema={"_row": pl.UInt32, "reason": pl.String}))
        rejected = rejected.with_columns(pl.col("_row").cast(pl.UInt32)).group_by("_row", maintain_order=True).agg(
            pl.col("reason").first()).sort("_row")
        report = (rejected.join(f.select("_row", "_line", "id"), on="_row", how="left")
                  .select(pl.col("_line").alias("line"), "id", "reason").to_dicts())
        valid = f.join(rejected.select("_row"), on="_row", how="anti").sort("_row").select(COLUMNS[kind])
        return valid, report

    def _code_columns(self, kind: str):
        if kind == "seekers":
            return [("skills", self.skill_map, "skill"), ("past_occupations", self.occ_map, "occupation"),
                    ("_occupation", self.occ_map, "occupation")]
        return [("must", self.skill_map, "skill"), ("desired", self.skill_map, "skill"),
                ("_occupation", self.occ_map, "occupation")]

    def _resolve_texts(self, f: pl.DataFrame, reasons: list) -> pl.DataFrame:
        """Free-text skills (``skills_text``) -> codes through the normaliser, added to ``skills``."""
        texts = f.select(pl.col("skills_text").explode().drop_nulls().unique())["skills_text"].to_list()
        if not texts:
            return f
        resolved = self.normalise_skill_texts(sorted(texts))
        table = pl.DataFrame({"skills_text": list(resolved), "code": [v[0] for v in resolved.values()],
                              "hint": [v[1] for v in resolved.values()]}, schema={"skills_text": pl.String,
                                                                                  "code": pl.String, "hint": pl.String})
        exploded = f.select("_row", "skills_text").explode("skills_text").drop_nulls().join(table, on="skills_text")
        unreadable = exploded.filter(pl.col("code").is_null())
        if unreadable.height:
            first = unreadable.group_by("_row", maintain_order=True).first()
            reasons.append(first.select("_row", (pl.lit("could not read the skill '") + pl.col("skills_text") + pl.lit("'")
                                                 + pl.when(pl.col("hint").is_not_null()).then(
                                                     pl.lit(" (did you mean '") + pl.col("hint") + pl.lit("'?)"))
                                                 .otherwise(pl.lit(""))).alias("reason")))
        codes = exploded.drop_nulls("code").group_by("_row").agg(pl.col("code").alias("_resolved"))
        return (f.join(codes, on="_row", how="left")
                .with_columns(pl.concat_list([pl.col("skills"), pl.col("_resolved").fill_null([])])
                              .list.unique(maintain_order=True).alias("skills")).drop("_resolved"))

    def _locate(self, f: pl.DataFrame) -> pl.DataFrame:
        """Parse lat / lon (``_lat``, ``_lon``); fill them from the basin's centre when missing."""
        f = f.with_columns(pl.col("lat").cast(pl.Float64, strict=False).alias("_lat"),
                           pl.col("lon").cast(pl.Float64, strict=False).alias("_lon"),
                           pl.lit(True).alias("_known"))
        if self.basins is not None:
            basins = self.basins.select(pl.col("id").alias("basin"), pl.col("lat").alias("_blat"),
                                        pl.col("lon").alias("_blon"), pl.lit(True).alias("_in"))
            f = f.join(basins, on="basin", how="left", maintain_order="left").with_columns(
                pl.col("_in").is_not_null().alias("_known"))
        return f

    def _location_rejects(self, reject) -> None:
        reject((pl.col("lat").is_not_null() & pl.col("_lat").is_null()) | (pl.col("_lat").abs() > 90),
               pl.lit("lat must be a latitude in degrees, got '") + pl.col("lat") + pl.lit("'"))
        reject((pl.col("lon").is_not_null() & pl.col("_lon").is_null()) | (pl.col("_lon").abs() > 180),
               pl.lit("lon must be a longitude in degrees, got '") + pl.col("lon") + pl.lit("'"))
        reject(pl.col("_lat").is_null() != pl.col("_lon").is_null(), pl.lit("give both lat and lon, or neither"))
        reject(pl.col("basin").is_not_null() & ~pl.col("_known"),
               pl.lit("unknown job basin '") + pl.col("basin") + pl.lit("'"))

    # ---- writes -------------------------------------------------------------------------------
    def ingest(self, kind: str, frame: pl.DataFrame, mode: str = "all", first_line: int = 1,
               source: str | None = None) -> IngestReport:
        """Validate then write in one transaction. ``mode``: all (nothing if a row is rejected) | valid."""
        if mode not in MODES:
            raise IngestError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        valid, rejected = self.validate(kind, frame, first_line)
        report = IngestReport(kind=kind, mode=mode, rows=frame.height, taken=0, rejected=rejected)
        if (rejected and mode == "all") or valid.height == 0:
            return report
        with self._lock:
            self.sync()
            keys, seq = self.store.upsert_many_seq(kind, valid, source=source, rejected=len(rejected))
            if all(s == seq - 1 for s in self._seq.values()):
                # nothing was written between the index's last look and this transaction: the index takes
                # the validated rows as written instead of reading them back from the store
                self._apply(kind, valid.with_columns(pl.Series("key", keys, dtype=pl.Int64)))
                self._seq[kind] = seq
            self.sync()  # whatever another process wrote meanwhile
        report.taken, report.written = valid.height, True
        return report

    def put(self, kind: str, record: dict, create: bool = False, owner: str | None = None) -> tuple[dict, bool]:
        """Validate and write one record (create: 409-style ``Conflict`` if it exists). Returns (stored, created).

        An offer's key is its employer and id: a record of another employer's id is another offer.
        ``owner``: the employer writing an offer (the record's employer must be it: ``NotOwner``)."""
        from api.storage.store import Conflict

        frame = pl.DataFrame([{k: v for k, v in record.items()}], infer_schema_length=None)
        valid, rejected = self.validate(kind, frame)
        if rejected:
            raise RecordError(rejected[0]["reason"])
        row = valid.to_dicts()[0]
        with self._lock:
            employer = (row.get("employer") or None) if kind == "offers" else ANY_EMPLOYER
            if create:
                if self.store.key_of(kind, row["id"], employer=employer) is not None:
                    raise Conflict(f"{kind[:-1]} {row['id']!r} already exists; PUT /{kind}/{row['id']} replaces it")
                self.store.create(kind, row)
                created = True
            else:
                _, created = self.store.put(kind, row, owner=owner)
            self.sync()
        return self.store.get(kind, row["id"], employer=employer), created

    def delete(self, kind: str, id: str, owner: str | None = None, employer=ANY_EMPLOYER) -> bool:
        """Delete by id (True when it was there). An offer: of ``employer`` (``api.storage.store``:
        ``ANY_EMPLOYER`` is whichever holds it, ``Ambiguous`` when several do); ``owner``: the
        employer deleting, which reaches only its own offers. A seeker's pre-registrations (and
        their timelines) are erased first."""
        with self._lock:
            if kind == "seekers" and str(self.store.path) != ":memory:":
                from api.storage.prescriptions import PrescriptionStore

                if self._prescriptions is None:
                    self._prescriptions = PrescriptionStore(self.store.path)
                self._prescriptions.erase_seeker(id)
            key = self.store.delete(kind, id, owner=owner, employer=employer)
            self.sync()
        return key is not None

    def get(self, kind: str, id: str, employer=ANY_EMPLOYER) -> dict | None:
        """The stored record (an offer: of ``employer``, as :meth:`delete`), or None."""
        return self.store.get(kind, id, employer=employer)

    # ---- matching -----------------------------------------------------------------------------
    def offers_for_seeker(self, id: str, k: int = 10, radius_km: float | None = None,
                          require_must: bool = False) -> list[dict] | None:
        """Top-k offers for a stored seeker, explained; None when the seeker is unknown."""
        self.sync()
        key = self.store.key_of("seekers", id)
        if key is None:
            return None
        with self._lock:
            seeker = self.seekers.profile(key)
            hits = self.matcher.offers_for(self.offers, seeker, k=k, radius_km=radius_km, require_must=require_must)
        records = self.store.by_keys("offers", [h.key for h in hits])
        return [self._hit_dict(h, records[h.key], "offer") for h in hits if h.key in records]

    def candidates_for_offer(self, id: str, k: int = 20, radius_km: float | None = None,
                             require_must: bool = False, employer=ANY_EMPLOYER) -> list[dict] | None:
        """Top-k consenting seekers for a stored offer (of ``employer``, as :meth:`delete`),
        pseudonymous, explained; None when unknown."""
        self.sync()
        key = self.store.key_of("offers", id, employer=employer)
        if key is None:
            return None
        with self._lock:
            offer = self.offers.profile(key)
            hits = self.matcher.candidates(self.seekers, offer, k=k, radius_km=radius_km, require_must=require_must)
        records = self.store.by_keys("seekers", [h.key for h in hits])
        return [self._hit_dict(h, records[h.key], "candidate") for h in hits if h.key in records]

    def _hit_dict(self, hit: MatchHit, record: dict, side: str) -> dict:
        r = self.referentiel
        labels = r.skills["label"].to_list() if not hasattr(self, "_skill_labels") else self._skill_labels
        self._skill_labels = labels
        occ_labels = getattr(self, "_occ_labels", None) or r.occupations["label"].to_list()
        self._occ_labels = occ_labels

        def skill(s) -> dict:
            return {"code": r.skill_codes[s.skill], "label": labels[s.skill], "weight": round(s.weight, 4),
                    "must": s.must}

        def occ(row):
            return None if row is None else {"code": r.occupation_codes[row], "label": occ_labels[row]}

        out = {"score": round(hit.score, 4), "coverage": round(hit.coverage, 4),
               "must_coverage": None if hit.must_coverage is None else round(hit.must_coverage, 4),
               "bridge": {"from": occ(hit.bridge_from), "to": occ(hit.bridge_to), "score": round(hit.bridge, 4),
                          "same_occupation": hit.bridge_from is not None and hit.bridge_from == hit.bridge_to},
               "distance_km": None if hit.distance_km is None else round(hit.distance_km, 1),
               "matched": [skill(s) for s in hit.matched], "missing": [skill(s) for s in hit.missing]}
        if side == "offer":
            out = {"offer": {k: record.get(k) for k in ("id", "employer", "occupation", "basin", "contract", "opening")},
                   **out}
            row = r.occupation_index.get(record["occupation"])  # None: a code an upgrade could not map
            out["offer"]["occupation_label"] = None if row is None else occ_labels[row]
        else:
            out = {"candidate": {"pseudonym": self.store.pseudonym(record["id"]), "basin": record.get("basin"),
                                 "occupation": record.get("occupation")}, **out}
        return out


