"""A deterministic synthetic population of job seekers and job offers drawn from a referential.

    population = synthesize(referentiel, n_seekers=100_000, n_offers=20_000, basins=basins, seed=0)
    population.seekers, population.offers      # polars frames, the store's columns
    population.write(out_dir)                  # seekers.parquet, offers.parquet

Seekers: an occupation drawn with Zipf-like frequencies (``zipf`` exponent over a seeded ranking
of the occupations; 0 = uniform), the occupation's skills each dropped with probability ``drop``,
plus noise skills (each kept skill brings a noise skill with probability ``noise``) taken from a
*neighbouring* occupation (an official mobility target, else an occupation of the same domain),
capped at ``max_skills``; for a share ``text_share`` of seekers some skills are given as free text
(the label as people type it: lower case, accents dropped) in ``skills_text`` instead of codes;
0-2 past occupations among the neighbours; a job basin drawn among ``basins`` with coordinates
jittered around its centre (sd ``jitter_km``); a mobility radius; consent for ``consent_share``.

Offers: an occupation (same Zipf ranking), 3-6 must-have skills drawn among its core skills first,
2-8 desired skills among the rest, an employer (Zipf over employers), a basin, a contract type and
an opening date in 2026.

Everything is drawn with one ``numpy.random.default_rng(seed)`` in a fixed order and vectorised
(no Python loop over people): the same arguments give byte-identical Parquet files, and a million
seekers take seconds. A plain function in its own module, so other features (trainings) can extend
the population. ``referentiels`` only: no ``matching`` import.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

CONTRACTS: tuple[str, ...] = ("CDI", "CDD", "Intérim", "Alternance")
CONTRACT_P: tuple[float, ...] = (0.45, 0.30, 0.18, 0.07)
RADII_KM: tuple[float, ...] = (10.0, 20.0, 30.0, 50.0, 80.0)
RADII_P: tuple[float, ...] = (0.15, 0.25, 0.30, 0.20, 0.10)
KM_PER_DEGREE = 111.2


@dataclass(frozen=True)
class Population:
    seekers: pl.DataFrame
    offers: pl.DataFrame
    seed: int

    def write(self, out: str | Path) -> dict[str, Path]:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"seekers": out / "seekers.parquet", "offers": out / "offers.parquet"}
        self.seekers.write_parquet(paths["seekers"], statistics=False)
        self.offers.write_parquet(paths["offers"], statistics=False)
        return paths


def fold_text(text: str) -> str:
    """How people type a skill: lower case, accents dropped."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _folded_labels(referentiel, used: np.ndarray) -> pl.Series:
    """Skill labels as typed (``fold_text``), computed only for the skills in ``used``."""
    labels = referentiel.skills["label"].to_list()
    folded = [""] * len(labels)
    for i in np.unique(used).tolist():
        folded[i] = fold_text(labels[i])
    return pl.Series(folded, dtype=pl.String)


def _csr(referentiel):
    m = referentiel.matrix
    core = referentiel.core_matrix
    return (np.asarray(m.indptr, dtype=np.int64), np.asarray(m.indices, dtype=np.int64),
            np.asarray(core.data > 0, dtype=bool))


def _neighbours(referentiel) -> tuple[np.ndarray, np.ndarray]:
    """CSR (ptr, ids) of each occupation's neighbours: official mobility targets, else same domain."""
    n = referentiel.n_occupations
    index = referentiel.occupation_index
    mob = referentiel.mobilities
    pairs = [(index[a], index[b]) for a, b in zip(mob["occupation"].to_list(), mob["target"].to_list())
             if a in index and b in index and a != b]
    lists: list[list[int]] = [[] for _ in range(n)]
    for a, b in pairs:
        lists[a].append(b)
    domains = referentiel.occupations["domain"].to_list()
    by_domain: dict[str, list[int]] = {}
    for i, d in enumerate(domains):
        by_domain.setdefault(d, []).append(i)
    for i in range(n):
        if not lists[i]:
            lists[i] = [j for j in by_domain.get(domains[i], []) if j != i] or [(i + 1) % n]
        lists[i] = sorted(set(lists[i]))
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=ptr[1:])
    return ptr, np.asarray([j for x in lists for j in x], dtype=np.int64)


def _zipf_p(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    ranking = rng.permutation(n)
    weights = 1.0 / (np.arange(1, n + 1, dtype=np.float64) ** exponent)
    p = np.empty(n)
    p[ranking] = weights
    return p / p.sum()


def _pick(ptr: np.ndarray, ids: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each row r with uniform u, a uniform element of list r of a CSR (lists must be non-empty)."""
    deg = ptr[rows + 1] - ptr[rows]
    return ids[ptr[rows] + np.minimum((u * deg).astype(np.int64), deg - 1)]


def _lists(owner: np.ndarray, vocabulary: pl.Series, ids: np.ndarray, n: int) -> pa.Array:
    """Arrow list array of ``vocabulary[ids]`` grouped by ``owner`` (sorted by owner), one list per row 0..n-1.

    The strings are gathered by polars (multi-threaded), not through Python objects.
    """
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    values = vocabulary.gather(pl.Series(np.asarray(ids, dtype=np.int64))).cast(pl.String).to_arrow()
    values = values.cast(pa.large_string()) if not pa.types.is_large_string(values.type) else values
    return pa.LargeListArray.from_arrays(pa.array(offsets), values)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _locate(basins: pl.DataFrame, n: int, rng: np.random.Generator, jitter_km: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = rng.choice(basins.height, size=n, p=_zipf_p(basins.height, 0.6, rng))
    lat0 = basins["lat"].to_numpy().astype(np.float64)[b]
    lon0 = basins["lon"].to_numpy().astype(np.float64)[b]
    dlat = rng.normal(0.0, jitter_km / KM_PER_DEGREE, size=n)
    dlon = rng.normal(0.0, jitter_km / KM_PER_DEGREE, size=n) / np.cos(np.radians(lat0))
    ids = np.asarray(basins["id"].cast(pl.String).to_list(), dtype=object)[b]
    return ids, np.round(lat0 + dlat, 5), np.round(lon0 + dlon, 5)


def synthesize(referentiel, n_seekers: int, n_offers: int, basins: pl.DataFrame, seed: int = 0,
               drop: float = 0.3, noise: float = 0.1, text_share: float = 0.05, max_skills: int = 30,
               zipf: float = 1.0, consent_share: float = 0.9, jitter_km: float = 8.0,
               occupations: list[str] | None = None) -> Population:
    """Draw ``n_seekers`` seekers and ``n_offers`` offers (see the module docstring).

    ``basins``: frame with ``id``, ``lat``, ``lon`` (e.g. ``referentiels.territories``' basins).
    ``occupations``: restrict the draw to these codes (default: every occupation with skills).
    """
    if n_seekers < 0 or n_offers < 0:
        raise ValueError("n_seekers and n_offers must be >= 0")
    if not 0 <= drop < 1 or not 0 <= noise < 1 or not 0 <= text_share <= 1:
        raise ValueError("drop and noise must be in [0, 1), text_share in [0, 1]")
    if basins is None or basins.height == 0:
        raise ValueError("synthesize needs at least one job basin (id, lat, lon)")
    rng = np.random.default_rng(seed)
    r = referentiel
    indptr, indices, is_core = _csr(r)
    deg = np.diff(indptr)
    pool = np.flatnonzero(deg > 0)
    if occupations is not None:
        wanted = np.asarray([r.occupation_row(c) for c in occupations], dtype=np.int64)
        pool = np.intersect1d(pool, wanted)
    if len(pool) == 0:
        raise ValueError("no occupation with skills to draw from")
    p = _zipf_p(len(pool), zipf, rng)
    nb_ptr, nb_ids = _neighbours(r)
    nb_deg = np.diff(nb_ptr)
    skill_codes = r.skills["code"]
    occ_codes = r.occupations["code"]
    seekers = _seekers(r, n_seekers, rng, pool, p, indptr, indices, deg, nb_ptr, nb_ids, nb_deg, skill_codes,
                       occ_codes, basins, drop, noise, text_share, max_skills, consent_share, jitter_km)
    offers = _offers(n_offers, rng, pool, p, indptr, indices, is_core, skill_codes, occ_codes, basins, jitter_km)
    return Population(seekers=seekers, offers=offers, seed=seed)


def _seekers(r, n, rng, pool, p, indptr, indices, deg, nb_ptr, nb_ids, nb_deg, skill_codes, occ_codes, basins,
             drop, noise, text_share, max_skills, consent_share, jitter_km) -> pl.DataFrame:
    occ = pool[rng.choice(len(pool), size=n, p=p)] if n else np.zeros(0, dtype=np.int64)
    counts = deg[occ]
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    first = np.zeros(n, dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:]) if n else None
    pos = np.arange(len(owner), dtype=np.int64) - first[owner]
    skills = indices[indptr[occ[owner]] + pos]
    kept = rng.random(len(skills)) >= drop
    owner, skills = owner[kept], skills[kept]
    # noise: each kept skill brings, with probability ``noise``, a skill of a neighbouring occupation
    noisy = rng.random(len(owner)) < noise
    noise_owner = owner[noisy]
    neighbour = _pick(nb_ptr, nb_ids, occ[noise_owner], rng.random(len(noise_owner)))
    has_skills = deg[neighbour] > 0
    noise_owner, neighbour = noise_owner[has_skills], neighbour[has_skills]
    noise_skills = _pick(indptr, indices, neighbour, rng.random(len(neighbour)))
    owner = np.concatenate([owner, noise_owner])
    skills = np.concatenate([skills, noise_skills])
    # unique per seeker, then at most ``max_skills`` in a random order
    key = _sorted_unique(owner * len(skill_codes) + skills)
    owner, skills = key // len(skill_codes), key % len(skill_codes)
    # keys are sorted by (owner, skill); rank each seeker's skills in a random order, keep the first ones
    priority = rng.random(len(owner))
    order = np.argsort(owner + 0.5 * priority)
    first = np.zeros(n, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n)[:-1], out=first[1:]) if n else None
    keep = np.empty(len(owner), dtype=bool)
    keep[order] = (np.arange(len(owner)) - first[owner[order]]) < max_skills
    owner, skills = owner[keep], skills[keep]
    # free text for some seekers: about a fifth of their skills, as typed (still sorted by owner, skill)
    text_seeker = rng.random(n) < text_share
    as_text = text_seeker[owner] & (rng.random(len(owner)) < 0.2)
    code_owner, code_skills = owner[~as_text], skills[~as_text]
    text_owner, text_skills = owner[as_text], skills[as_text]
    # past occupations: 0, 1 or 2 neighbours
    n_past = rng.choice(3, size=n, p=(0.5, 0.35, 0.15))
    past_owner = np.repeat(np.arange(n, dtype=np.int64), n_past)
    past = _pick(nb_ptr, nb_ids, occ[past_owner], rng.random(len(past_owner)))
    basin, lat, lon = _locate(basins, n, rng, jitter_km)
    radius = np.asarray(RADII_KM)[rng.choice(len(RADII_KM), size=n, p=RADII_P)]
    consent = rng.random(n) < consent_share
    table = pa.table({
        "id": pa.array([f"S{i:07d}" for i in range(n)], type=pa.string()),
        "skills": _lists(code_owner, skill_codes, code_skills, n),
        "skills_text": _lists(text_owner, _folded_labels(r, text_skills), text_skills, n),
        "occupation": occ_codes.gather(pl.Series(occ)).to_arrow(),
        "past_occupations": _lists(past_owner, occ_codes, past, n),
        "basin": pa.array(basin, type=pa.string()),
        "lat": pa.array(lat), "lon": pa.array(lon),
        "radius_km": pa.array(radius), "consent": pa.array(consent),
    })
    return pl.from_arrow(table)


def _offers(n, rng, pool, p, indptr, indices, is_core, skill_codes, occ_codes, basins, jitter_km) -> pl.DataFrame:
    occ = pool[rng.choice(len(pool), size=n, p=p)] if n else np.zeros(0, dtype=np.int64)
    deg = np.diff(indptr)
    counts = deg[occ]
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    first = np.zeros(n, dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:]) if n else None
    pos = np.arange(len(owner), dtype=np.int64) - first[owner]
    link = indptr[occ[owner]] + pos
    # core skills first, in a random order, then the others
    priority = rng.random(len(owner)) + np.where(is_core[link], 0.0, 1.0)
    order = np.lexsort((priority, owner))
    owner, link = owner[order], link[order]
    rank = np.arange(len(owner)) - first[owner]
    n_must = rng.integers(3, 7, size=n)
    n_desired = rng.integers(2, 9, size=n)
    must = rank < n_must[owner]
    desired = ~must & (rank < (n_must + n_desired)[owner])

    def grouped(mask):
        o, s = owner[mask], indices[link[mask]]
        order = np.lexsort((s, o))
        return _lists(o[order], skill_codes, s[order], n)

    basin, lat, lon = _locate(basins, n, rng, jitter_km)
    n_employers = max(1, n // 20)
    employer = rng.choice(n_employers, size=n, p=_zipf_p(n_employers, 1.0, rng))
    contract = np.asarray(CONTRACTS, dtype=object)[rng.choice(len(CONTRACTS), size=n, p=CONTRACT_P)]
    start = date(2026, 1, 1)
    opening = [(start + timedelta(days=int(d))).isoformat() for d in rng.integers(0, 365, size=n)]
    table = pa.table({
        "id": pa.array([f"O{i:07d}" for i in range(n)], type=pa.string()),
        "employer": pa.array([f"E{e:05d}" for e in employer], type=pa.string()),
        "occupation": occ_codes.gather(pl.Series(occ)).to_arrow(),
        "must": grouped(must), "desired": grouped(desired),
        "basin": pa.array(basin, type=pa.string()),
        "lat": pa.array(lat), "lon": pa.array(lon),
        "contract": pa.array(contract, type=pa.string()),
        "opening": pa.array(opening, type=pa.string()),
    })
    return pl.from_arrow(table)
