"""National batch matching on Dask: seekers and offers from Parquet, every seeker's top-k offers and
every offer's top-k candidates to restartable Parquet partitions (docs/batch.md).

    job = BatchJob.plan(seekers="seekers.parquet", offers="offers.parquet", out="out/", k=20,
                        referentiel=referentiels.load("demo"), direction="both", pseudonym=store.pseudonym)
    summary = run_batch(job, referentiel)                 # this process, partition after partition
    summary = run_batch(job, referentiel, client=client)  # a dask.distributed Client (LocalCluster or a scheduler)

Layout of the inputs (the columns of ``api.storage.store``; extra columns are ignored):

- seekers: ``id`` (text, the id rule of ``referentiels.ids``), ``skills`` (list of skill codes), ``skills_text`` (free-text
  skills: a list of strings, or one string of ``|``-separated texts, as ingest reads it; optional),
  ``occupation`` (code, may be null), ``past_occupations`` (list of codes, optional), ``lat``,
  ``lon``, ``radius_km`` (optional, null = unknown: no distance filter), ``consent`` (bool, or a yes/no
  word of ``referentiels.csvfiles.YES_WORDS`` / ``NO_WORDS``; missing or null = no consent: never listed as a candidate)
- offers: ``id``, ``occupation`` (code), ``must`` and ``desired`` (lists of skill codes; a missing
  column is empty), ``lat``, ``lon`` (optional)

Codes unknown to the referential are dropped and counted (the summary reports them). Free-text
skills go through the referential's ``SkillNormaliser`` exactly as ingest reads them
(``api.services.pool_service.resolve_skill_texts``: the confident best code is added to the seeker's skills); each
distinct text is normalised once per job, on the client, and the texts it could not read are
counted (``unreadable_skill_texts``), not fatal.

Directions (``direction``): ``seekers`` (every seeker's best offers), ``offers`` (every offer's best
candidates: consenting seekers only, by pseudonym) or ``both``. Output, one file per partition of
``partition_rows`` rows of the query side:

- ``OUT/part-00000.parquet`` ... (seekers, file order): ``seeker_id, rank (1..k), offer_id, score``;
- ``OUT/candidates-00000.parquet`` ... (offers, sorted by id): ``offer_id, rank, candidate, score``,
  (offer ids are per employer, docs/offers.md: when the offers file has an ``employer`` column,
  the offers are sorted by id then employer and both tables carry ``offer_employer`` after
  ``offer_id``, so two employers' ``REF-001`` are told apart)
  ``candidate`` the seeker's pseudonym (``c-`` + HMAC of the id under the store's secret: the very
  pseudonym ``GET /offers/{id}/candidates`` shows, never the id);

sorted by query row then rank, only pairs the interactive matching would list (score > 0, within the
mobility radius); ``OUT/_job.json`` (the job's parameters, checked on restart) and
``OUT/_summary.json``. A partition is written to a temporary name and renamed, so a file present is
complete: a restarted job skips it. The direction is not part of a job's identity: ``seekers``
tonight and ``offers`` tomorrow in the same OUT add the candidates to the offers already written.

The score is the interactive one (``matching.match.PoolMatcher``), computed by
``matching.batch_pool`` (each row is the interactive query itself), or the skill-space cosine.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl
import pyarrow as pa
import scipy.sparse as sp

from matching.batch import Postings, TopK

from api.storage.files import atomic_path, atomic_write_text

JOB_FILE = "_job.json"
SUMMARY_FILE = "_summary.json"
DIRECTIONS: tuple[str, ...] = ("seekers", "offers", "both")
"""``seekers``: every seeker's top-k offers; ``offers``: every offer's top-k consenting candidates."""
PREFIXES: dict[str, str] = {"seekers": "part", "offers": "candidates"}
COLUMNS_OUT: dict[str, tuple[str, str]] = {"seekers": ("seeker_id", "offer_id"), "offers": ("offer_id", "candidate")}
PSEUDONYM_PROBE = "passerelles-batch-pseudonym-probe"
SEEKER_COLUMNS = ("id", "skills", "skills_text", "occupation", "past_occupations", "lat", "lon", "radius_km", "consent")


SCORES: tuple[str, ...] = ("interactive", "cosine")
"""``interactive``: the score of ``matching.match.PoolMatcher`` (coverage, bridge, must-haves,
mobility radius), exactly as ``GET /seekers/{id}/offers`` ranks; ``cosine``: the cosine of the
weighted skill profiles in the referential's skill space (``matching.batch.topk_sparse``), no
bridge and no distance — a pure sparse product, the fastest national screen."""


def matcher_fields(matcher) -> dict:
    """The init fields of a ``PoolMatcher`` minus its lock and last query's statistics (picklable)."""
    import dataclasses

    return {f.name: getattr(matcher, f.name) for f in dataclasses.fields(matcher)
            if f.init and f.name not in ("lock", "last_stats")}


@dataclass(frozen=True, eq=False)
class Codebook:
    """Code <-> row of the referential's skills and occupations (what workers need, nothing more)."""

    skill_codes: tuple[str, ...]
    occupation_codes: tuple[str, ...]
    fingerprint: str = ""

    @classmethod
    def of(cls, referentiel) -> "Codebook":
        return cls(skill_codes=tuple(str(c) for c in referentiel.skill_codes),
                   occupation_codes=tuple(str(c) for c in referentiel.occupation_codes),
                   fingerprint=str(getattr(referentiel, "fingerprint", "")))

    def table(self, kind: str) -> pl.DataFrame:
        codes = self.skill_codes if kind == "skill" else self.occupation_codes
        return pl.DataFrame({"code": list(codes), "col": np.arange(len(codes), dtype=np.int64)})

    def lists(self, frame: pl.DataFrame, columns: list[str], kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """CSR of the codes of list (or scalar) ``columns`` of ``frame``, concatenated per row in that
        order, mapped to rows of the referential: (ptr (n+1,), ids, first_column (bool: the entry
        came from ``columns[0]``), unknown codes). Duplicates keep their first occurrence; ids are
        sorted within a row."""
        n = frame.height
        parts = []
        for position, column in enumerate(columns):
            if column not in frame.columns:
                continue
            expr = pl.col(column)
            if frame.schema[column] != pl.List(pl.String):
                expr = pl.concat_list(pl.col(column).cast(pl.String))
            parts.append(frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), expr.alias("code"))
                         .explode("code").drop_nulls("code").with_columns(pl.lit(position).alias("position")))
        if not parts:
            return np.zeros(n + 1, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0, bool), 0
        entries = pl.concat(parts)
        joined = entries.join(self.table(kind), on="code", how="left", maintain_order="left")
        unknown = int(joined["col"].null_count())
        joined = joined.drop_nulls("col")
        rows = joined["row"].to_numpy().astype(np.int64)
        cols = joined["col"].to_numpy().astype(np.int64)
        first = (joined["position"] == 0).to_numpy()
        # one stable sort by (row, col): entries keep their file order within a pair, so the first
        # occurrence of a code in a row (the earliest column) is the one kept
        order = np.argsort(rows * max(len(self.skill_codes), len(self.occupation_codes), 1) + cols, kind="stable")
        rows, cols, first = rows[order], cols[order], first[order]
        keep = np.ones(len(rows), dtype=bool)
        keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, first = rows[keep], cols[keep], first[keep]
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
        return ptr, cols, first, unknown


def _floats(frame: pl.DataFrame, column: str, dtype) -> np.ndarray:
    if column not in frame.columns:
        return np.full(frame.height, np.nan, dtype=dtype)
    return frame[column].cast(pl.Float64).fill_null(float("nan")).fill_nan(float("nan")).to_numpy().astype(dtype)


def _ids(frame: pl.DataFrame, column: str = "id") -> pl.Series:
    """The ``id`` column (or an ``employer`` one: nulls allowed), checked against the id rule
    (``referentiels.ids``): text, NFC, printable, no '/', at most 100 characters; the first id
    breaking it raises ``IngestError`` naming it."""
    from api.services.errors import IngestError
    from referentiels.ids import check_ids

    if column not in frame.columns:
        raise IngestError(f"an {column!r} column is required")
    ids = frame[column]
    if column != "id" and ids.dtype == pl.Null:
        return ids.cast(pl.String)
    if ids.dtype != pl.String:
        raise IngestError(f"the {column!r} column must hold text, not {ids.dtype}")
    canonical, reasons = check_ids(ids)
    bad = reasons.is_not_null() if column == "id" else reasons.is_not_null() & ids.is_not_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise IngestError(f"{'' if column == 'id' else column + ' '}id {ids[row]!r} (row {row + 1}) {reasons[row]}")
    return canonical


def _csr(ptr: np.ndarray, ids: np.ndarray, n_cols: int, values: np.ndarray | None = None) -> sp.csr_array:
    data = np.ones(len(ids), np.float32) if values is None else np.asarray(values, np.float32)
    return sp.csr_array((data, ids.astype(np.int32), ptr), shape=(len(ptr) - 1, n_cols))


@dataclass(frozen=True, eq=False)
class OfferPayload:
    """Everything a worker needs besides its rows: sent once to each worker (``scatter``).

    ``index`` (interactive): the offers ``ProfileIndex``, keys = rows; ``postings`` (cosine): the
    offers' weighted profiles as postings; ``offer_ids``: ids in row order (sorted); ``offer_employers``:
    their employers (None: the file has no ``employer`` column); ``texts``:
    free-text skill -> code (None: no ``skills_text`` column). The offers direction adds the
    seekers side (:func:`add_seekers`): ``seekers_index`` (interactive) or ``seeker_postings`` with
    ``offer_profiles`` (cosine), and ``pseudonyms`` (one per seeker row sorted by id; null for a
    seeker without consent, who is never listed)."""

    score: str
    offer_ids: pa.Array
    codebook: Codebook
    matcher: dict | None = None
    index: object | None = None
    postings: Postings | None = None
    skill_weight: np.ndarray | None = None
    unknown: dict = field(default_factory=dict)
    texts: pl.DataFrame | None = None
    offer_profiles: sp.csr_array | None = None
    seekers_index: object | None = None
    seeker_postings: Postings | None = None
    pseudonyms: pa.Array | None = None
    seekers_unknown: dict = field(default_factory=dict)
    offer_employers: pa.Array | None = None

    @property
    def nbytes(self) -> int:
        n = self.offer_ids.nbytes + (self.offer_employers.nbytes if self.offer_employers is not None else 0)
        if self.index is not None:
            n += self.index.nbytes() + self.matcher["bridge"].nbytes
        if self.postings is not None:
            n += self.postings.nbytes
        if self.seekers_index is not None:
            n += self.seekers_index.nbytes()
        if self.seeker_postings is not None:
            n += self.seeker_postings.nbytes
        if self.pseudonyms is not None:
            n += self.pseudonyms.nbytes
        return n


def build_payload(offers_path: str | Path, codebook: Codebook, matcher, score: str = "interactive",
                  texts: pl.DataFrame | None = None) -> OfferPayload:
    """Read the offers (sorted by id) and index them for ``score`` (once per job, on the client)."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}: expected one of {', '.join(SCORES)}")
    wanted = ["id", "employer", "occupation", "must", "desired", "lat", "lon"]
    present = [c for c in wanted if c in pl.read_parquet_schema(offers_path)]
    frame = pl.read_parquet(offers_path, columns=present)
    # offer ids are per employer: (id, employer) orders and names an offer when the file says whose
    frame = frame.sort(["id", "employer"], nulls_last=False) if "employer" in frame.columns else frame.sort("id")
    employers = _ids(frame, "employer").to_arrow() if "employer" in frame.columns else None
    ptr, ids, is_must, unknown_skills = codebook.lists(frame, ["must", "desired"], "skill")
    occ_ptr, occ_ids, _, unknown_occ = codebook.lists(frame, ["occupation"], "occupation")
    occupation = np.full(frame.height, -1, dtype=np.int64)
    occupation[np.flatnonzero(np.diff(occ_ptr) > 0)] = occ_ids
    unknown = {"unknown_skill_codes": unknown_skills, "unknown_occupation_codes": unknown_occ}
    offer_ids = _ids(frame).to_arrow()
    if score == "interactive":
        from matching.batch_pool import offer_index

        index = offer_index(matcher, len(codebook.skill_codes), len(codebook.occupation_codes), ptr, ids, is_must,
                            occupation, _floats(frame, "lat", np.float32), _floats(frame, "lon", np.float32))
        return OfferPayload(score=score, offer_ids=offer_ids, codebook=codebook, matcher=matcher_fields(matcher),
                            index=index, unknown=unknown, texts=texts, offer_employers=employers)
    from matching.batch import weighted_profiles

    weight = np.asarray(matcher.skill_weight, dtype=np.float32)
    factor = np.where(is_must, 1.0, float(getattr(matcher, "desired_factor", 1.0))).astype(np.float32)
    profiles = weighted_profiles(_csr(ptr, ids, len(codebook.skill_codes)), weight,
                                 boost=_csr(ptr, ids, len(codebook.skill_codes), factor))
    return OfferPayload(score=score, offer_ids=offer_ids, codebook=codebook, postings=Postings.of(profiles),
                        skill_weight=weight, unknown=unknown, texts=texts, offer_profiles=profiles,
                        offer_employers=employers)


def consent_of(frame: pl.DataFrame) -> np.ndarray:
    """(n,) bool: each seeker's consent to be listed as a candidate, read as ingest reads it: a
    boolean, or one of the documented yes/no words (``referentiels.csvfiles.YES_WORDS`` /
    ``NO_WORDS``, which include 1 and 0); a missing column or a null is no consent. Any other value
    raises ``IngestError`` naming it (never guessed)."""
    from api.services.errors import IngestError
    from referentiels.csvfiles import NO_WORDS, YES_WORDS

    if "consent" not in frame.columns:
        return np.zeros(frame.height, dtype=bool)
    column = frame["consent"]
    if column.dtype == pl.Boolean:
        return column.fill_null(False).to_numpy().astype(bool)
    if column.dtype.is_nested():
        raise IngestError(f"consent must be a yes/no value, not a column of {column.dtype}")
    words = column.cast(pl.String).str.strip_chars().str.to_lowercase().replace("", None)
    bad = words.is_not_null() & ~words.is_in(YES_WORDS + NO_WORDS)
    if bad.any():
        row = int(bad.arg_true()[0])
        raise IngestError(f"consent must be a yes/no word ({', '.join(YES_WORDS + NO_WORDS)}), "
                          f"got {column[row]!r} (row {row + 1})")
    return words.is_in(YES_WORDS).fill_null(False).to_numpy().astype(bool)


def skill_texts(seekers_path: str | Path, normaliser) -> pl.DataFrame | None:
    """``text -> code`` of every distinct free-text skill of the seekers file, through ``normaliser``
    as ingest reads them (``api.services.pool_service.resolve_skill_texts``); None when the file has no ``skills_text``.
    ``normaliser`` may be a callable returning it (fitted only when there are texts)."""
    from matching.normalise import InvalidText

    from api.services.pool_service import _list_column, resolve_skill_texts

    if "skills_text" not in pl.read_parquet_schema(seekers_path):
        return None
    frame = pl.read_parquet(seekers_path, columns=["skills_text"])
    texts = sorted(frame.select(_list_column(frame, "skills_text")).explode("skills_text")
                   .drop_nulls()["skills_text"].unique().to_list())
    if texts and callable(normaliser) and not hasattr(normaliser, "batch"):
        normaliser = normaliser()
    try:
        resolved = resolve_skill_texts(normaliser, texts) if texts else {}
    except InvalidText as error:
        raise ValueError(f"{seekers_path}: column skills_text: {error}") from None
    return pl.DataFrame({"text": list(resolved), "code": [v[0] for v in resolved.values()]},
                        schema={"text": pl.String, "code": pl.String})


def seekers_from_frame(frame: pl.DataFrame, codebook: Codebook, texts: pl.DataFrame | None = None):
    """A ``matching.batch_pool.SeekerSet`` of a frame of seekers (file order) and its counts of unknown
    codes and unreadable free texts. ``texts`` (:func:`skill_texts`) adds the codes of the
    ``skills_text`` column to ``skills``, as ingest does."""
    from matching.batch_pool import SeekerSet

    from api.services.pool_service import _list_column

    columns, unreadable = ["skills"], 0
    if texts is not None and "skills_text" in frame.columns:
        exploded = (frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"), _list_column(frame, "skills_text"))
                    .explode("skills_text").drop_nulls("skills_text")
                    .join(texts, left_on="skills_text", right_on="text", how="left"))
        unreadable = int(exploded["code"].null_count())
        codes = (exploded.drop_nulls("code").group_by("_row").agg(pl.col("code").alias("_text_codes")))
        frame = (frame.with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
                 .join(codes, on="_row", how="left", maintain_order="left").drop("_row"))
        columns.append("_text_codes")
    ptr, ids, _, unknown_skills = codebook.lists(frame, columns, "skill")
    occ_ptr, occ_ids, _, unknown_occ = codebook.lists(frame, ["occupation", "past_occupations"], "occupation")
    seekers = SeekerSet(skills=_csr(ptr, ids, len(codebook.skill_codes)),
                        occupations=_csr(occ_ptr, occ_ids, len(codebook.occupation_codes)),
                        lat=_floats(frame, "lat", np.float32), lon=_floats(frame, "lon", np.float32),
                        radius_km=_floats(frame, "radius_km", np.float32))
    counts = {"unknown_skill_codes": unknown_skills, "unknown_occupation_codes": unknown_occ}
    if texts is not None:
        counts["unreadable_skill_texts"] = unreadable
    return seekers, counts


def add_seekers(payload: OfferPayload, seekers_path: str | Path, pseudonym: Callable[[str], str]) -> OfferPayload:
    """The payload of the offers direction: every seeker (sorted by id: ties by id, as offers) indexed
    for ``payload.score``, consent as the only way in, and the pseudonym of each consenting seeker
    (``pseudonym(id)``, computed here on the client: the secret never reaches a worker)."""
    import dataclasses

    present = [c for c in SEEKER_COLUMNS if c in pl.read_parquet_schema(seekers_path)]
    frame = pl.read_parquet(seekers_path, columns=present).sort("id")
    seekers, unknown = seekers_from_frame(frame, payload.codebook, payload.texts)
    consent = consent_of(frame)
    ids = _ids(frame).cast(pl.String)
    names = [pseudonym(i) if ok else None for i, ok in zip(ids.to_list(), consent.tolist())]
    extra: dict = {"pseudonyms": pa.array(names, type=pa.string()), "seekers_unknown": unknown}
    if payload.score == "interactive":
        from matching.batch_pool import seeker_index

        extra["seekers_index"] = seeker_index(len(payload.codebook.skill_codes), len(payload.codebook.occupation_codes),
                                              seekers, consent)
    else:
        from matching.batch import weighted_profiles

        profiles = weighted_profiles(seekers.skills, payload.skill_weight)
        profiles = sp.csr_array(sp.diags_array(consent.astype(np.float32)) @ profiles)
        profiles.eliminate_zeros()
        extra["seeker_postings"] = Postings.of(profiles)
    return dataclasses.replace(payload, **extra)


def _matcher(payload: OfferPayload):
    """The payload's ``PoolMatcher``, rebuilt for each partition (it holds a lock, so it does not
    pickle; building one is a dataclass constructor, no fitting)."""
    from matching.match import PoolMatcher

    return PoolMatcher(**payload.matcher)


def match_seekers(frame: pl.DataFrame, payload: OfferPayload, k: int, chunk_rows: int = 16_384) -> tuple[TopK, dict]:
    """Top-k offers of every seeker of ``frame`` (pure computation, in chunks of ``chunk_rows``)."""
    from matching.batch import map_chunks

    seekers, counts = seekers_from_frame(frame, payload.codebook, payload.texts)
    if payload.score == "interactive":
        from matching.batch_pool import SeekerSet, private_copies, top_offers

        matcher, index = private_copies(_matcher(payload), payload.index)

        def compute(start: int, stop: int) -> TopK:
            chunk = SeekerSet(skills=seekers.skills[start:stop], occupations=seekers.occupations[start:stop],
                              lat=seekers.lat[start:stop], lon=seekers.lon[start:stop],
                              radius_km=seekers.radius_km[start:stop])
            return top_offers(matcher, index, chunk, k)
    else:
        from matching.batch import topk_sparse, weighted_profiles

        a = weighted_profiles(seekers.skills, payload.skill_weight)

        def compute(start: int, stop: int) -> TopK:
            return topk_sparse(a[start:stop], payload.postings, k)
    return map_chunks(len(seekers), chunk_rows, k, compute, payload.score), counts


def match_offers(start: int, stop: int, payload: OfferPayload, k: int, chunk_rows: int = 16_384) -> TopK:
    """Top-k consenting candidates of offers ``start:stop`` (rows sorted by id), in chunks of ``chunk_rows``:
    seeker rows (sorted by id) best first, each row what ``PoolMatcher.top_candidates`` lists."""
    from matching.batch import map_chunks

    if payload.pseudonyms is None:
        raise ValueError("the offers direction needs the seekers side of the payload (add_seekers)")
    if payload.score == "interactive":
        from matching.batch_pool import private_copies, top_candidates

        matcher, offers, seekers = private_copies(_matcher(payload), payload.index, payload.seekers_index)

        def compute(s: int, e: int) -> TopK:
            return top_candidates(matcher, seekers, offers, np.arange(start + s, start + e), k)
    else:
        from matching.batch import topk_sparse

        def compute(s: int, e: int) -> TopK:
            return topk_sparse(payload.offer_profiles[start + s:start + e], payload.seeker_postings, k)
    return map_chunks(stop - start, chunk_rows, k, compute, payload.score)


def result_table(query_ids: pa.Array, target_ids: pa.Array, top: TopK,
                 names: tuple[str, str] = COLUMNS_OUT["seekers"], offer_employers: pa.Array | None = None
                 ) -> pa.Table:
    """Long table ``<query>, rank, <target>, score`` of the non-empty slots, by query row then rank
    (``names``: ``seeker_id, offer_id`` or ``offer_id, candidate``). ``offer_employers``: the
    employers of the offer side's rows (of ``target_ids`` when the offers are the targets, else of
    ``query_ids``), written as ``offer_employer`` after ``offer_id`` (offer ids are per employer)."""
    rows, slots = np.nonzero(top.indices >= 0)
    targets = pa.array(top.indices[rows, slots].astype(np.int64))
    columns = {names[0]: query_ids.take(pa.array(rows))}
    if offer_employers is not None and names[0] == "offer_id":
        columns["offer_employer"] = offer_employers.take(pa.array(rows))
    columns["rank"] = pa.array((slots + 1).astype(np.int16))
    columns[names[1]] = target_ids.take(targets)
    if offer_employers is not None and names[1] == "offer_id":
        columns["offer_employer"] = offer_employers.take(targets)
    columns["score"] = pa.array(top.scores[rows, slots].astype(np.float32))
    return pa.table(columns)


@dataclass(frozen=True)
class BatchJob:
    """A planned job: inputs, output folder, partitions, parameters (saved as ``OUT/_job.json``).

    ``direction`` selects which partitions this run computes (``seekers``, ``offers``, ``both``);
    it is not part of the job's identity (:meth:`identity`). ``pseudonyms`` fingerprints the
    pseudonym function (the store's secret) so that a restart cannot mix candidates under two secrets."""

    seekers: str
    offers: str
    out: str
    k: int
    n_seekers: int
    n_offers: int
    partition_rows: int
    score: str = "interactive"
    referentiel: str = ""
    inputs: dict = field(default_factory=dict)
    direction: str = "seekers"
    pseudonyms: str = ""

    @classmethod
    def plan(cls, seekers: str | Path, offers: str | Path, out: str | Path, k: int, referentiel,
             partition_rows: int = 100_000, score: str = "interactive", direction: str = "seekers",
             pseudonym: Callable[[str], str] | None = None) -> "BatchJob":
        """Count rows (Parquet metadata only) and fix the partitions. The offers direction needs
        ``pseudonym`` (e.g. ``api.storage.store.Store.pseudonym``): candidates are listed by pseudonym only."""
        for path in (seekers, offers):
            if not Path(path).exists():
                raise FileNotFoundError(f"no such Parquet file: {path}")
        if k < 1:
            raise ValueError(f"--top must be >= 1, got {k}")
        if score not in SCORES:
            raise ValueError(f"unknown score {score!r}: expected one of {', '.join(SCORES)}")
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}: expected one of {', '.join(DIRECTIONS)}")
        if partition_rows < 1:
            raise ValueError(f"--partition-rows must be >= 1, got {partition_rows}")
        fingerprint = ""
        if direction != "seekers":
            if pseudonym is None:
                raise ValueError("the offers direction lists candidates by pseudonym only: it needs the store whose "
                                 "secret makes them (--database, or PASSERELLES_DATABASE)")
            fingerprint = hashlib.sha256(pseudonym(PSEUDONYM_PROBE).encode()).hexdigest()[:16]
        n_s = pl.scan_parquet(seekers).select(pl.len()).collect().item()
        n_o = pl.scan_parquet(offers).select(pl.len()).collect().item()
        inputs = {str(p): {"bytes": Path(p).stat().st_size, "mtime_ns": Path(p).stat().st_mtime_ns}
                  for p in (seekers, offers)}
        return cls(seekers=str(seekers), offers=str(offers), out=str(out), k=int(k), n_seekers=int(n_s),
                   n_offers=int(n_o), partition_rows=int(partition_rows), score=score,
                   referentiel=str(getattr(referentiel, "fingerprint", "")), inputs=inputs, direction=direction,
                   pseudonyms=fingerprint)

    @property
    def directions(self) -> tuple[str, ...]:
        return ("seekers", "offers") if self.direction == "both" else (self.direction,)

    def partitions_of(self, direction: str) -> list[tuple[int, int]]:
        """Row ranges of the query side: seekers in file order, or offers sorted by id."""
        n = self.n_seekers if direction == "seekers" else self.n_offers
        return [(s, min(s + self.partition_rows, n)) for s in range(0, n, self.partition_rows)]

    @property
    def partitions(self) -> list[tuple[int, int]]:
        return self.partitions_of("seekers")

    def part_path(self, i: int, direction: str = "seekers") -> Path:
        return Path(self.out) / f"{PREFIXES[direction]}-{i:05d}.parquet"

    def tasks(self) -> list[tuple[str, int]]:
        """(direction, partition) of every partition of this run's directions."""
        return [(d, i) for d in self.directions for i in range(len(self.partitions_of(d)))]

    def todo(self) -> list[tuple[str, int]]:
        return [(d, i) for d, i in self.tasks() if not self.part_path(i, d).exists()]

    def identity(self) -> dict:
        """What must not change between the runs that fill one OUT (everything but the direction and
        the pseudonym fingerprint, checked apart)."""
        mine = json.loads(json.dumps(asdict(self)))
        return {key: value for key, value in mine.items() if key not in ("direction", "pseudonyms")}

    def prepare(self, overwrite: bool = False) -> None:
        """Create OUT and its ``_job.json``; refuse an OUT that holds another job's partitions, or
        candidates made under another pseudonym secret."""
        out = Path(self.out)
        out.mkdir(parents=True, exist_ok=True)
        saved = out / JOB_FILE
        record = json.loads(json.dumps(asdict(self)))
        if saved.exists() and not overwrite:
            theirs = json.loads(saved.read_text())
            theirs_identity = {key: value for key, value in theirs.items() if key not in ("direction", "pseudonyms")}
            mine = self.identity()
            if theirs_identity != mine:
                changed = sorted(key for key in set(theirs_identity) | set(mine)
                                 if theirs_identity.get(key) != mine.get(key))
                raise ValueError(f"{out} holds partitions of another job (differs in: {', '.join(changed)}): "
                                 "use another --out, or --overwrite to start again")
            before = theirs.get("pseudonyms", "")
            if self.pseudonyms and before and before != self.pseudonyms and any(out.glob("candidates-*.parquet")):
                raise ValueError(f"{out} holds candidates pseudonymised under another secret (another store): "
                                 "use the same --database, another --out, or --overwrite")
            record["pseudonyms"] = self.pseudonyms or before
        if overwrite:
            for prefix in PREFIXES.values():
                for old in out.glob(f"{prefix}-*.parquet"):
                    old.unlink()
            (out / SUMMARY_FILE).unlink(missing_ok=True)
        atomic_write_text(saved, json.dumps(record, indent=2))


def job_matches(job: BatchJob) -> bool:
    """True when OUT's ``_job.json`` is this very job (its partitions are this job's)."""
    saved = Path(job.out) / JOB_FILE
    if not saved.exists():
        return False
    theirs = json.loads(saved.read_text())
    return ({key: value for key, value in theirs.items() if key not in ("direction", "pseudonyms")} == job.identity()
            and (not job.pseudonyms or theirs.get("pseudonyms") == job.pseudonyms))


def run_partition(job: BatchJob, i: int, payload: OfferPayload, chunk_rows: int = 16_384,
                  direction: str = "seekers") -> dict:
    """Compute and write partition ``i`` of ``direction`` (skipped when its file exists). Returns its statistics."""
    path = job.part_path(i, direction)
    start, stop = job.partitions_of(direction)[i]
    pairs = (stop - start) * (job.n_offers if direction == "seekers" else job.n_seekers)
    if path.exists():
        return {"direction": direction, "partition": i, "skipped": True, "rows": stop - start, "pairs": pairs}
    began = time.perf_counter()
    counts: dict = {}
    if direction == "seekers":
        frame = pl.scan_parquet(job.seekers).slice(start, stop - start).collect()
        frame = frame.select([c for c in SEEKER_COLUMNS if c in frame.columns and c != "consent"])
        top, counts = match_seekers(frame, payload, job.k, chunk_rows=chunk_rows)
        table = result_table(_ids(frame).to_arrow(), payload.offer_ids, top,
                             offer_employers=payload.offer_employers)
    else:
        top = match_offers(start, stop, payload, job.k, chunk_rows=chunk_rows)
        employers = payload.offer_employers
        table = result_table(payload.offer_ids.slice(start, stop - start), payload.pseudonyms, top,
                             COLUMNS_OUT["offers"],
                             offer_employers=None if employers is None else employers.slice(start, stop - start))
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return {"direction": direction, "partition": i, "skipped": False, "rows": stop - start, "pairs": pairs,
            "pairs_listed": table.num_rows, "work": int(top.work), "uncertified": int((~top.certified).sum()),
            "seconds": time.perf_counter() - began, **counts}


#: ``progress(done, total, pairs)``: partitions done of ``total`` and the pairs they scored (the CLI
#: draws it with ``rich.progress``; the service prints nothing).
ProgressCallback = Callable[[int, int, int], None]


def run_batch(job: BatchJob, referentiel=None, *, matcher=None, client=None, overwrite: bool = False,
              progress: ProgressCallback | None = None, chunk_rows: int = 16_384, log: Callable[[str], None] = lambda _: None,
              pseudonym: Callable[[str], str] | None = None, normaliser=None) -> dict:
    """Run ``job``: in this process (``client`` None) or on a dask.distributed ``client``.

    ``matcher``: the interactive ``PoolMatcher`` (built from ``referentiel`` when None).
    ``pseudonym``: ``id -> pseudonym`` of the offers direction (the store's, so the batch lists the
    pseudonyms the API shows); it must be the function ``job`` was planned with. ``normaliser``: the
    ``progress(done, total, pairs)``: called before the first partition and after each one.
    ``SkillNormaliser`` of free-text skills (or a callable returning it; default: fitted on
    ``referentiel`` when the seekers file has a ``skills_text`` column). Writes the partitions not
    yet written, then ``_summary.json``; returns the summary (pairs scored, seconds, pairs/s,
    partitions written/skipped, listed pairs, unknown codes and unreadable texts), in total and
    ``by_direction``."""
    began = time.perf_counter()
    job.prepare(overwrite=overwrite)
    if job.pseudonyms and (pseudonym is None
                           or hashlib.sha256(pseudonym(PSEUDONYM_PROBE).encode()).hexdigest()[:16] != job.pseudonyms):
        raise ValueError("run_batch needs the pseudonym function the job was planned with")
    if matcher is None:
        matcher = build_matcher(referentiel)
    todo = job.todo()
    tasks = job.tasks()
    texts, payload = None, None
    if todo:  # nothing is read nor indexed when every partition is written
        if normaliser is None:
            def normaliser():
                from matching.normalise import SkillNormaliser

                return SkillNormaliser.fit(referentiel)
        texts = skill_texts(job.seekers, normaliser)
        payload = build_payload(job.offers, Codebook.of(referentiel), matcher, job.score, texts=texts)
        if any(d == "offers" for d, _ in todo):
            payload = add_seekers(payload, job.seekers, pseudonym)
    offers_unknown = payload.unknown if payload is not None else {}
    seekers_unknown = payload.seekers_unknown if payload is not None else {}
    log(f"{job.n_seekers:,} seekers x {job.n_offers:,} offers, {len(tasks)} partitions of "
        f"{'+'.join(job.directions)} ({len(tasks) - len(todo)} already written), "
        f"indexes {(payload.nbytes if payload is not None else 0) / 2**20:,.1f} MiB")
    stats: list[dict] = []
    scored = [0]

    def done(stat: dict) -> None:
        stats.append(stat)
        scored[0] += stat["pairs"]
        if progress is not None:
            progress(len(stats), len(todo), scored[0])

    if progress is not None:
        progress(0, len(todo), 0)
    compute_began = time.perf_counter()
    if client is None or not todo:
        for d, i in todo:
            done(run_partition(job, i, payload, chunk_rows, d))
    else:
        from distributed import as_completed

        shared = client.scatter(payload, broadcast=True, hash=False)
        run_id = uuid.uuid4().hex[:12]
        futures = [client.submit(run_partition, job, i, shared, chunk_rows, d,
                                 key=f"batch-match-{run_id}-{d}-{i:05d}", pure=False, retries=2) for d, i in todo]
        for future in as_completed(futures):
            done(future.result())
            future.release()
    seconds = time.perf_counter() - began
    compute = time.perf_counter() - compute_began
    computed = [s for s in stats if not s.get("skipped")]

    def totals(rows: list[dict]) -> dict:
        pairs = sum(s["pairs"] for s in rows)
        busy = sum(s["seconds"] for s in rows)
        return {"partitions_written": len(rows), "pairs_scored": pairs,
                "pairs_listed": sum(s.get("pairs_listed", 0) for s in rows),
                "postings_visited": sum(s.get("work", 0) for s in rows),
                "task_seconds": round(busy, 3), "pairs_per_task_second": pairs / busy if busy > 0 else 0.0}

    by_direction = {}
    for d in job.directions:
        mine = [s for s in computed if s["direction"] == d]
        n_parts = len(job.partitions_of(d))
        by_direction[d] = {"partitions": n_parts, **totals(mine), "partitions_skipped": n_parts - len(mine)}
    pairs = sum(s["pairs"] for s in computed)
    seekers_counts = {key: sum(s.get(key, 0) for s in computed)
                      for key in ("unknown_skill_codes", "unknown_occupation_codes")}
    if "seekers" not in job.directions and seekers_unknown:
        seekers_counts = {key: seekers_unknown.get(key, 0) for key in seekers_counts}
    summary = {
        "seekers": job.n_seekers, "offers": job.n_offers, "k": job.k, "score": job.score,
        "direction": job.direction,
        "partitions": len(tasks), "partitions_written": len(computed),
        "partitions_skipped": len(tasks) - len(computed),
        "pairs_scored": pairs, "seconds": round(seconds, 3), "compute_seconds": round(compute, 3),
        "pairs_per_second": pairs / compute if compute > 0 and pairs else 0.0,
        "pairs_listed": sum(s.get("pairs_listed", 0) for s in computed),
        "postings_visited": sum(s.get("work", 0) for s in computed),
        "uncertified_rows": sum(s.get("uncertified", 0) for s in computed),
        "unknown_codes": {"offers": offers_unknown, "seekers": seekers_counts},
        "skill_texts": None if texts is None else {
            "distinct": texts.height, "unreadable_distinct": int(texts["code"].null_count()),
            "unreadable": (sum(s.get("unreadable_skill_texts", 0) for s in computed if s["direction"] == "seekers")
                           if "seekers" in job.directions else seekers_unknown.get("unreadable_skill_texts", 0))},
        "by_direction": by_direction,
        "workers": len(client.scheduler_info().get("workers", {})) if client is not None else 0,
        "out": str(job.out),
    }
    (Path(job.out) / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return summary


def build_matcher(referentiel):
    """The interactive ``PoolMatcher`` of a referential (skill space + bridge model, as the API builds it)."""
    from matching import SkillSpace
    from matching.bridges import BridgeModel
    from matching.match import PoolMatcher

    if referentiel is None:
        raise ValueError("a referential (or a matcher) is needed")
    space = SkillSpace.from_referentiel(referentiel)
    return PoolMatcher.fit(space, BridgeModel.from_referentiel(referentiel, space))


def read_results(out: str | Path, direction: str = "seekers") -> pl.DataFrame:
    """Every written partition of OUT for ``direction`` as one frame (partition order: the seekers' file
    order, or the offers sorted by id)."""
    files = sorted(Path(out).glob(f"{PREFIXES[direction]}-*.parquet"))
    first, second = COLUMNS_OUT[direction]
    if not files:
        return pl.DataFrame(schema={first: pl.String, "rank": pl.Int16, second: pl.String, "score": pl.Float32})
    return pl.concat([pl.read_parquet(f) for f in files])


def synthetic_population(referentiel, n_seekers: int, n_offers: int, seed: int = 0, *, keep: float = 0.7,
                         noise: int = 2, must_share: float = 0.4, zipf: float = 0.8, consent: float = 0.7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Seekers and offers drawn from the referential's occupation profiles (vectorised; for tests and
    benchmarks of the batch): Zipf-like occupation frequencies (exponent ``zipf``; 0 = uniform), each profile skill kept with
    probability ``keep``, ``noise`` random skills added to seekers, coordinates in metropolitan France,
    a mobility radius for half the seekers, consent to be listed for a share ``consent`` of them (drawn
last: the other columns do not depend on it). Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    links = sp.csr_array(referentiel.matrix)
    n_occ = links.shape[0]
    skill_codes = np.asarray(referentiel.skill_codes, dtype=object)
    occ_codes = np.asarray(referentiel.occupation_codes, dtype=object)
    popularity = 1.0 / np.arange(1, n_occ + 1) ** zipf
    popularity = popularity[rng.permutation(n_occ)]
    popularity /= popularity.sum()

    def draw(n: int, extra: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        occ = rng.choice(n_occ, size=n, p=popularity)
        lengths = np.diff(links.indptr)[occ]
        starts = np.repeat(links.indptr[occ], lengths)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        skills = links.indices[starts + within]
        owner = np.repeat(np.arange(n), lengths)
        kept = rng.random(len(skills)) < keep
        skills, owner = skills[kept], owner[kept]
        if extra:
            owner = np.concatenate([owner, np.repeat(np.arange(n), extra)])
            skills = np.concatenate([skills, rng.integers(0, links.shape[1], n * extra)])
        order = np.lexsort((skills, owner))
        owner, skills = owner[order], skills[order]
        first = np.ones(len(owner), bool)
        first[1:] = (owner[1:] != owner[:-1]) | (skills[1:] != skills[:-1])
        return occ, owner[first], skills[first]

    def lists(owner: np.ndarray, values: np.ndarray, n: int) -> pa.Array:
        offsets = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.tolist(), type=pa.string()))

    s_occ, s_owner, s_skills = draw(n_seekers, noise)
    o_occ, o_owner, o_skills = draw(n_offers, 0)
    is_must = rng.random(len(o_skills)) < must_share
    seekers = pl.from_arrow(pa.table({
        "id": pa.array([f"S{i:08d}" for i in range(n_seekers)]),
        "skills": lists(s_owner, skill_codes[s_skills], n_seekers),
        "occupation": pa.array(occ_codes[s_occ].tolist(), type=pa.string()),
        "lat": rng.uniform(43.0, 50.5, n_seekers), "lon": rng.uniform(-1.5, 7.5, n_seekers),
        "radius_km": np.where(rng.random(n_seekers) < 0.5, np.nan, rng.uniform(20.0, 400.0, n_seekers)),
    }))
    seekers = seekers.with_columns(pl.col("radius_km").fill_nan(None))
    offers = pl.from_arrow(pa.table({
        "id": pa.array([f"O{i:08d}" for i in range(n_offers)]),
        "occupation": pa.array(occ_codes[o_occ].tolist(), type=pa.string()),
        "must": lists(o_owner[is_must], skill_codes[o_skills[is_must]], n_offers),
        "desired": lists(o_owner[~is_must], skill_codes[o_skills[~is_must]], n_offers),
        "lat": rng.uniform(43.0, 50.5, n_offers).astype(np.float32),
        "lon": rng.uniform(-1.5, 7.5, n_offers).astype(np.float32),
    }))
    seekers = seekers.with_columns(pl.Series("consent", rng.random(n_seekers) < consent))
    return seekers, offers
