"""National batch matching on Dask: seekers and offers from Parquet, every seeker's top-k offers to
restartable Parquet partitions (docs/batch.md).

    job = BatchJob.plan(seekers="seekers.parquet", offers="offers.parquet", out="out/", k=20,
                        referentiel=referentiels.load("demo"))
    summary = run_batch(job)                     # this process, partition after partition
    summary = run_batch(job, client=client)      # a dask.distributed Client (LocalCluster or a scheduler)

Layout of the inputs (the columns of ``api.store``; extra columns are ignored):

- seekers: ``id`` (string or integer), ``skills`` (list of skill codes), ``occupation`` (code, may be
  null), ``past_occupations`` (list of codes, optional), ``lat``, ``lon``, ``radius_km`` (optional,
  null = unknown: no distance filter)
- offers: ``id``, ``occupation`` (code), ``must`` and ``desired`` (lists of skill codes; a missing
  column is empty), ``lat``, ``lon`` (optional)

Codes unknown to the referential are dropped and counted (the summary reports them). Free-text
skills (``skills_text``) are not read: resolve them to codes first (``passerelles normalise``).

Output: ``OUT/part-00000.parquet`` ... one file per partition of ``partition_rows`` seekers (file
order), rows ``seeker_id, rank (1..k), offer_id, score (float32)`` sorted by seeker then rank, only
pairs the interactive matching would list (score > 0, within the mobility radius);
``OUT/_job.json`` (the job's parameters, checked on restart) and ``OUT/_summary.json``. A partition
is written to a temporary name and renamed, so a file present is complete: a restarted job skips it.

The score is the interactive one (``matching.match.PoolMatcher``), computed by
``matching.batch_pool``: the sparse pre-filter, then exact re-scoring with a certificate.
"""

from __future__ import annotations

import json
import os
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

JOB_FILE = "_job.json"
SUMMARY_FILE = "_summary.json"


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
        entries = pl.concat(parts).with_row_index("i")
        joined = entries.join(self.table(kind), on="code", how="left")
        unknown = int(joined["col"].null_count())
        joined = (joined.drop_nulls("col").sort(["row", "i"]).unique(["row", "col"], keep="first")
                  .sort(["row", "col"]))
        rows = joined["row"].to_numpy()
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
        return ptr, joined["col"].to_numpy().astype(np.int64), (joined["position"] == 0).to_numpy(), unknown


def _floats(frame: pl.DataFrame, column: str, dtype) -> np.ndarray:
    if column not in frame.columns:
        return np.full(frame.height, np.nan, dtype=dtype)
    return frame[column].cast(pl.Float64).fill_null(float("nan")).fill_nan(float("nan")).to_numpy().astype(dtype)


def _ids(frame: pl.DataFrame) -> pl.Series:
    if "id" not in frame.columns:
        raise ValueError("an 'id' column is required")
    return frame["id"]


def _csr(ptr: np.ndarray, ids: np.ndarray, n_cols: int, values: np.ndarray | None = None) -> sp.csr_array:
    data = np.ones(len(ids), np.float32) if values is None else np.asarray(values, np.float32)
    return sp.csr_array((data, ids.astype(np.int32), ptr), shape=(len(ptr) - 1, n_cols))


@dataclass(frozen=True, eq=False)
class OfferPayload:
    """Everything a worker needs besides its seekers: sent once to each worker (``scatter``).

    ``index`` (interactive): the offers ``ProfileIndex``, keys = rows; ``postings`` (cosine): the
    offers' weighted profiles as postings; ``offer_ids``: ids in row order (sorted)."""

    score: str
    offer_ids: pa.Array
    codebook: Codebook
    matcher: dict | None = None
    index: object | None = None
    postings: Postings | None = None
    skill_weight: np.ndarray | None = None
    unknown: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        n = self.offer_ids.nbytes
        if self.index is not None:
            n += self.index.nbytes() + self.matcher["bridge"].nbytes
        if self.postings is not None:
            n += self.postings.nbytes
        return n


def build_payload(offers_path: str | Path, codebook: Codebook, matcher, score: str = "interactive") -> OfferPayload:
    """Read the offers (sorted by id) and index them for ``score`` (once per job, on the client)."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}: expected one of {', '.join(SCORES)}")
    wanted = ["id", "occupation", "must", "desired", "lat", "lon"]
    present = [c for c in wanted if c in pl.read_parquet_schema(offers_path)]
    frame = pl.read_parquet(offers_path, columns=present).sort("id")
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
                            index=index, unknown=unknown)
    from matching.batch import weighted_profiles

    weight = np.asarray(matcher.skill_weight, dtype=np.float32)
    factor = np.where(is_must, 1.0, float(getattr(matcher, "desired_factor", 1.0))).astype(np.float32)
    profiles = weighted_profiles(_csr(ptr, ids, len(codebook.skill_codes)), weight,
                                 boost=_csr(ptr, ids, len(codebook.skill_codes), factor))
    return OfferPayload(score=score, offer_ids=offer_ids, codebook=codebook, postings=Postings.of(profiles),
                        skill_weight=weight, unknown=unknown)


def seekers_from_frame(frame: pl.DataFrame, codebook: Codebook):
    """A ``matching.batch_pool.SeekerSet`` of a frame of seekers (file order) and its unknown-code counts."""
    from matching.batch_pool import SeekerSet

    ptr, ids, _, unknown_skills = codebook.lists(frame, ["skills"], "skill")
    occ_ptr, occ_ids, _, unknown_occ = codebook.lists(frame, ["occupation", "past_occupations"], "occupation")
    seekers = SeekerSet(skills=_csr(ptr, ids, len(codebook.skill_codes)),
                        occupations=_csr(occ_ptr, occ_ids, len(codebook.occupation_codes)),
                        lat=_floats(frame, "lat", np.float32), lon=_floats(frame, "lon", np.float32),
                        radius_km=_floats(frame, "radius_km", np.float32))
    return seekers, {"unknown_skill_codes": unknown_skills, "unknown_occupation_codes": unknown_occ}


def _matcher(payload: OfferPayload):
    """The payload's ``PoolMatcher``, rebuilt for each partition (it holds a lock, so it does not
    pickle; building one is a dataclass constructor, no fitting)."""
    from matching.match import PoolMatcher

    return PoolMatcher(**payload.matcher)


def match_seekers(frame: pl.DataFrame, payload: OfferPayload, k: int, chunk_rows: int = 16_384) -> tuple[TopK, dict]:
    """Top-k offers of every seeker of ``frame`` (pure computation, in chunks of ``chunk_rows``)."""
    seekers, unknown = seekers_from_frame(frame, payload.codebook)
    parts = []
    if payload.score == "interactive":
        from matching.batch_pool import private_copies, top_offers

        matcher, index = private_copies(_matcher(payload), payload.index)
        for start in range(0, len(seekers), chunk_rows):
            stop = min(start + chunk_rows, len(seekers))
            chunk = type(seekers)(skills=seekers.skills[start:stop], occupations=seekers.occupations[start:stop],
                                  lat=seekers.lat[start:stop], lon=seekers.lon[start:stop],
                                  radius_km=seekers.radius_km[start:stop])
            parts.append(top_offers(matcher, index, chunk, k))
    else:
        from matching.batch import topk_sparse, weighted_profiles

        a = weighted_profiles(seekers.skills, payload.skill_weight)
        for start in range(0, a.shape[0], chunk_rows):
            parts.append(topk_sparse(a[start:min(start + chunk_rows, a.shape[0])], payload.postings, k))
    if not parts:
        return TopK(indices=np.empty((0, k), np.int32), scores=np.empty((0, k), np.float32),
                    next_best=np.empty(0, np.float32), certified=np.empty(0, bool), work=0,
                    score_name=payload.score), unknown
    return TopK(indices=np.concatenate([t.indices for t in parts]), scores=np.concatenate([t.scores for t in parts]),
                next_best=np.concatenate([t.next_best for t in parts]),
                certified=np.concatenate([t.certified for t in parts]), work=sum(t.work for t in parts),
                score_name=payload.score), unknown


def result_table(seeker_ids: pa.Array, offer_ids: pa.Array, top: TopK) -> pa.Table:
    """Long table ``seeker_id, rank, offer_id, score`` of the non-empty slots, by seeker then rank."""
    rows, slots = np.nonzero(top.indices >= 0)
    return pa.table({"seeker_id": seeker_ids.take(pa.array(rows)),
                     "rank": pa.array((slots + 1).astype(np.int16)),
                     "offer_id": offer_ids.take(pa.array(top.indices[rows, slots].astype(np.int64))),
                     "score": pa.array(top.scores[rows, slots].astype(np.float32))})


@dataclass(frozen=True)
class BatchJob:
    """A planned job: inputs, output folder, partitions, parameters (saved as ``OUT/_job.json``)."""

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

    @classmethod
    def plan(cls, seekers: str | Path, offers: str | Path, out: str | Path, k: int, referentiel,
             partition_rows: int = 100_000, score: str = "interactive") -> "BatchJob":
        """Count rows (Parquet metadata only) and fix the partitions."""
        for path in (seekers, offers):
            if not Path(path).exists():
                raise FileNotFoundError(f"no such Parquet file: {path}")
        if k < 1:
            raise ValueError(f"--top must be >= 1, got {k}")
        if score not in SCORES:
            raise ValueError(f"unknown score {score!r}: expected one of {', '.join(SCORES)}")
        if partition_rows < 1:
            raise ValueError(f"--partition-rows must be >= 1, got {partition_rows}")
        n_s = pl.scan_parquet(seekers).select(pl.len()).collect().item()
        n_o = pl.scan_parquet(offers).select(pl.len()).collect().item()
        inputs = {str(p): {"bytes": Path(p).stat().st_size, "mtime_ns": Path(p).stat().st_mtime_ns}
                  for p in (seekers, offers)}
        return cls(seekers=str(seekers), offers=str(offers), out=str(out), k=int(k), n_seekers=int(n_s),
                   n_offers=int(n_o), partition_rows=int(partition_rows), score=score,
                   referentiel=str(getattr(referentiel, "fingerprint", "")), inputs=inputs)

    @property
    def partitions(self) -> list[tuple[int, int]]:
        return [(s, min(s + self.partition_rows, self.n_seekers)) for s in range(0, self.n_seekers, self.partition_rows)]

    def part_path(self, i: int) -> Path:
        return Path(self.out) / f"part-{i:05d}.parquet"

    def done(self) -> list[int]:
        return [i for i in range(len(self.partitions)) if self.part_path(i).exists()]

    def prepare(self, overwrite: bool = False) -> None:
        """Create OUT and its ``_job.json``; refuse an OUT that holds another job's partitions."""
        out = Path(self.out)
        out.mkdir(parents=True, exist_ok=True)
        saved = out / JOB_FILE
        mine = asdict(self)
        if saved.exists() and not overwrite:
            theirs = json.loads(saved.read_text())
            if theirs != json.loads(json.dumps(mine)):
                changed = sorted(key for key in set(theirs) | set(mine)
                                 if theirs.get(key) != json.loads(json.dumps(mine)).get(key))
                raise ValueError(f"{out} holds partitions of another job (differs in: {', '.join(changed)}): "
                                 "use another --out, or --overwrite to start again")
        if overwrite:
            for old in out.glob("part-*.parquet"):
                old.unlink()
            (out / SUMMARY_FILE).unlink(missing_ok=True)
        tmp = saved.with_suffix(".tmp")
        tmp.write_text(json.dumps(mine, indent=2))
        os.replace(tmp, saved)


def job_matches(job: BatchJob) -> bool:
    """True when OUT's ``_job.json`` is this very job (its partitions are this job's)."""
    saved = Path(job.out) / JOB_FILE
    return saved.exists() and json.loads(saved.read_text()) == json.loads(json.dumps(asdict(job)))


def run_partition(job: BatchJob, i: int, payload: OfferPayload, chunk_rows: int = 16_384) -> dict:
    """Compute and write partition ``i`` (skipped when its file exists). Returns its statistics."""
    path = job.part_path(i)
    start, stop = job.partitions[i]
    if path.exists():
        return {"partition": i, "skipped": True, "seekers": stop - start}
    began = time.perf_counter()
    frame = pl.scan_parquet(job.seekers).slice(start, stop - start).collect()
    columns = [c for c in ("id", "skills", "occupation", "past_occupations", "lat", "lon", "radius_km")
               if c in frame.columns]
    frame = frame.select(columns)
    top, unknown = match_seekers(frame, payload, job.k, chunk_rows=chunk_rows)
    table = result_table(_ids(frame).to_arrow(), payload.offer_ids, top)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    import pyarrow.parquet as pq

    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return {"partition": i, "skipped": False, "seekers": stop - start, "pairs_listed": table.num_rows,
            "work": int(top.work), "uncertified": int((~top.certified).sum()),
            "seconds": time.perf_counter() - began, **unknown}


class Progress:
    """A one-line progress bar on a stream (partitions done, pairs/s, ETA); silent when ``stream`` is None."""

    def __init__(self, total: int, pairs_per_part: float, stream=None, width: int = 30) -> None:
        self.total, self.pairs_per_part, self.stream, self.width = total, pairs_per_part, stream, width
        self.done = 0
        self.started = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.stream is None:
            return
        elapsed = time.perf_counter() - self.started
        filled = int(self.width * self.done / max(self.total, 1))
        rate = self.done * self.pairs_per_part / max(elapsed, 1e-9)
        eta = (self.total - self.done) * elapsed / max(self.done, 1)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} partitions"
                          f"  {rate / 1e6:,.1f} M pairs/s  ETA {eta:,.0f} s ")
        self.stream.flush()
        if self.done >= self.total:
            self.stream.write("\n")


def run_batch(job: BatchJob, referentiel=None, *, matcher=None, client=None, overwrite: bool = False,
              progress_stream=None, chunk_rows: int = 16_384, log: Callable[[str], None] = lambda _: None) -> dict:
    """Run ``job``: in this process (``client`` None) or on a dask.distributed ``client``.

    ``matcher``: the interactive ``PoolMatcher`` (built from ``referentiel`` when None). Writes the
    partitions not yet written, then ``_summary.json``; returns the summary (pairs scored, seconds,
    pairs/s, partitions written/skipped, listed pairs, uncertified rows, unknown codes)."""
    began = time.perf_counter()
    job.prepare(overwrite=overwrite)
    if matcher is None:
        matcher = build_matcher(referentiel)
    payload = build_payload(job.offers, Codebook.of(referentiel), matcher, job.score)
    unknown_offers = payload.unknown
    todo = [i for i in range(len(job.partitions)) if not job.part_path(i).exists()]
    skipped = len(job.partitions) - len(todo)
    log(f"{job.n_seekers:,} seekers x {job.n_offers:,} offers, {len(job.partitions)} partitions "
        f"({skipped} already written), offers index {payload.nbytes / 2**20:,.1f} MiB")
    bar = Progress(len(todo), job.partition_rows * job.n_offers, progress_stream)
    stats: list[dict] = []
    compute_began = time.perf_counter()
    if client is None:
        for i in todo:
            stats.append(run_partition(job, i, payload, chunk_rows))
            bar.update()
    else:
        from distributed import as_completed

        shared = client.scatter(payload, broadcast=True, hash=False)
        run_id = uuid.uuid4().hex[:12]
        futures = [client.submit(run_partition, job, i, shared, chunk_rows, key=f"batch-match-{run_id}-{i:05d}",
                                 pure=False, retries=2) for i in todo]
        for future in as_completed(futures):
            stats.append(future.result())
            bar.update()
            future.release()
    seconds = time.perf_counter() - began
    compute = time.perf_counter() - compute_began
    computed = [s for s in stats if not s.get("skipped")]
    seekers_done = sum(s["seekers"] for s in computed)
    pairs = seekers_done * job.n_offers
    summary = {
        "seekers": job.n_seekers, "offers": job.n_offers, "k": job.k, "score": job.score,
        "partitions": len(job.partitions), "partitions_written": len(computed),
        "partitions_skipped": skipped + len(stats) - len(computed),
        "pairs_scored": pairs, "seconds": round(seconds, 3), "compute_seconds": round(compute, 3),
        "pairs_per_second": pairs / compute if compute > 0 and pairs else 0.0,
        "pairs_listed": sum(s.get("pairs_listed", 0) for s in computed),
        "postings_visited": sum(s.get("work", 0) for s in computed),
        "uncertified_rows": sum(s.get("uncertified", 0) for s in computed),
        "unknown_codes": {"offers": unknown_offers,
                          "seekers": {key: sum(s.get(key, 0) for s in computed)
                                      for key in ("unknown_skill_codes", "unknown_occupation_codes")}},
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


def read_results(out: str | Path) -> pl.DataFrame:
    """Every written partition of OUT as one frame (partition order: the seekers' file order)."""
    files = sorted(Path(out).glob("part-*.parquet"))
    if not files:
        return pl.DataFrame(schema={"seeker_id": pl.String, "rank": pl.Int16, "offer_id": pl.String,
                                    "score": pl.Float32})
    return pl.concat([pl.read_parquet(f) for f in files])


def synthetic_population(referentiel, n_seekers: int, n_offers: int, seed: int = 0, *, keep: float = 0.7,
                         noise: int = 2, must_share: float = 0.4, zipf: float = 0.8) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Seekers and offers drawn from the referential's occupation profiles (vectorised; for tests and
    benchmarks of the batch): Zipf-like occupation frequencies (exponent ``zipf``; 0 = uniform), each profile skill kept with
    probability ``keep``, ``noise`` random skills added to seekers, coordinates in metropolitan France,
    a mobility radius for half the seekers. Deterministic for a seed."""
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
    return seekers, offers
