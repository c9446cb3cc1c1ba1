"""Passerelles: from one occupation, the bridges toward others, each explained; sector-pair maps.

    index = PasserelleIndex.fit(referentiel, space, bridges, labeller=labeller)   # once
    index.query(row, k=10, sectors=[...], cross_sector_only=True, min_score=0.2) -> list[Passerelle]
    index.explain(a, b)                      -> Explanation(held, close, missing) of a bridge a -> b
    sector_pair_map(referentiel, space, bridges, "Industrie - Alimentaire", "Industrie - Métallurgie")

A bridge ``a -> b`` is explained on the target's skills, in three kinds (issue 19):

- **held** (``shared`` in the JSON, for the clients that read it before): ``a`` has the skill, or
  has one that a person would say *contains* it — the skill relation (``matching.relation``)
  decides it, among the skills the bridge model's soft kernel relates at or above ``RELATED_MIN``;
  the containing skill is given in ``via`` with the evidence and the rule that decided;
- **close**: ``a`` has a *related* skill (soft kernel >= ``RELATED_MIN``: label words alike, or one
  ROME macro-competence) that does not contain it: worth checking with the person, possibly quick
  to acquire; ``via`` names the related skill, its similarity and why it is not held. A close
  skill is still part of the gap;
- **missing**: everything else.

Each list is sorted core first, then by weight (the skill's weight in ``b``'s vector: IDF x kind
x core x link), then by code. Rankings are sorted by score descending, ties broken by occupation
code (rows are in code order), so the same input always gives the same output.

Pure: numpy / scipy / polars over an already loaded referential; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import polars as pl
import scipy.sparse as sp

from .bridges import RELATED_MIN  # the skill-to-skill kernel's "related" floor, owned by the bridge model
from .calibration import label_rank
from .errors import UnknownSector  # raised by sector_ids; imported from here by the surfaces too
from .ranking import top_k
from .relation import CLOSE as CLOSE_RULE, SAME, SkillRelation
from .tension import toward_tension

HELD, CLOSE, MISSING = 2, 1, 0
"""Kinds of a target skill in an explanation (``_support``'s ``kind`` array): held (the same skill,
or one that contains it), close (related at or above ``RELATED_MIN``, not held), missing."""
SUPPORT_CACHE: int = 4096
"""How many (source, target) pairs' skill support a ``PasserelleIndex`` keeps (a kit re-explains its bridges)."""


class SkillItem(NamedTuple):
    """One skill of a bridge's target. ``weight``: its weight in the target's vector (float, > 0).

    ``via``: for a held skill held through a skill that contains it, or for a close skill, the
    source's skill: its code and label, the kernel similarity (0-1), the ``rule`` that decided
    (``matching.relation.RULES``) and the ``evidence`` (signal -> value); None when held exactly
    (and for missing skills)."""

    code: str
    label: str
    kind: str
    weight: float
    core: bool
    via: dict | None = None

    def to_dict(self) -> dict:
        out = {"code": self.code, "label": self.label, "kind": self.kind,
               "weight": round(self.weight, 4), "core": self.core}
        if self.via is not None:
            out["via"] = self.via
        return out


class Explanation(NamedTuple):
    """The target's skills in three kinds (each sorted core first, weight desc, code)."""

    held: tuple[SkillItem, ...]
    close: tuple[SkillItem, ...]
    missing: tuple[SkillItem, ...]


@dataclass(frozen=True)
class Passerelle:
    """One bridge ``source -> target`` with its scores (all in [0, 1]) and explanation."""

    source: int
    target: int
    code: str
    label: str
    sectors: tuple[str, ...]
    domain: str | None
    score: float
    similarity: float
    coverage: float
    viability: str | None
    shared: tuple[SkillItem, ...] = field(default=())
    """The *held* skills (the same skill, or one that contains it)."""
    missing: tuple[SkillItem, ...] = field(default=())
    """Neither held nor close. The gap is ``close`` + ``missing``."""
    tension: float | None = None
    """The target's tension in the query's job basin (matching/tension.py), when one was given."""
    combined: float | None = None
    """``toward_tension(score, tension, weight)``: the ranking value when ranked toward tension."""
    close: tuple[SkillItem, ...] = field(default=())
    """Related to a skill the source has, not held: worth checking, possibly quick to acquire."""

    @property
    def held(self) -> tuple[SkillItem, ...]:
        return self.shared

    def to_dict(self) -> dict:
        out = {"code": self.code, "label": self.label, "sectors": list(self.sectors), "domain": self.domain,
               "score": round(self.score, 4), "similarity": round(self.similarity, 4),
               "coverage": round(self.coverage, 4), "viability": self.viability,
               "shared": [s.to_dict() for s in self.shared], "close": [s.to_dict() for s in self.close],
               "missing": [s.to_dict() for s in self.missing]}
        if self.tension is not None:
            out["tension"] = round(self.tension, 4)
        if self.combined is not None:
            out["combined"] = round(self.combined, 4)
        return out


@dataclass(frozen=True, eq=False)
class PasserelleIndex:
    """What a passerelles query needs, built once per referential (arrays in occupation row order).

    Attributes:
        codes, labels, domains: (n,) object arrays of occupation code, label, domain
        sector_names:  sorted list of the referential's sectors
        membership:    (n, n_sectors) bool, occupation in sector
        principal:     (n, n_sectors) bool, sector is principal for the occupation
        skill_codes, skill_labels, skill_kinds: (n_skills,) object arrays
        raw, core:     the space's (n, n_skills) float32 CSR weights and core flags
        bridges:       the bridge model (``scores_from``, ``similarity``, ``coverage``, ``related``)
        labeller:      a ``matching.calibration.BridgeLabeller`` or None (viability then None)
        relation:      a ``matching.relation.SkillRelation`` deciding which related skills are held;
                       None: no related skill is ever held (held = the same skill), all are close
    """

    codes: np.ndarray
    labels: np.ndarray
    domains: np.ndarray
    sector_names: list[str]
    membership: np.ndarray
    principal: np.ndarray
    skill_codes: np.ndarray
    skill_labels: np.ndarray
    skill_kinds: np.ndarray
    raw: sp.csr_array
    core: sp.csr_array
    bridges: object
    labeller: object | None = None
    relation: object | None = None
    # (a, b) -> _support of b's skills for a, the last SUPPORT_CACHE pairs: a kit explains the bridges
    # its sector-pair map has just supported. Fresh per instance (init=False: replace() does not share it).
    _support_cache: dict = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def fit(cls, referentiel, space, bridges, labeller=None, relation=None) -> "PasserelleIndex":
        """Build once per referential. ``relation``: a ``SkillRelation`` (built from the referential
        when None: about 2 s on ROME)."""
        occ = referentiel.occupations
        n = occ.height
        sector_names = list(referentiel.sector_names)
        sector_id = {s: i for i, s in enumerate(sector_names)}
        membership = np.zeros((n, len(sector_names)), dtype=bool)
        principal = np.zeros((n, len(sector_names)), dtype=bool)
        sec = referentiel.sectors
        if sec.height:
            rows = np.array([referentiel.occupation_index[c] for c in sec["occupation"].to_list()], dtype=np.int64)
            cols = np.array([sector_id[s] for s in sec["sector"].to_list()], dtype=np.int64)
            membership[rows, cols] = True
            principal[rows, cols] = sec["principal"].fill_null(False).to_numpy()
        return cls(
            codes=np.asarray(occ["code"].to_list(), dtype=object),
            labels=np.asarray(occ["label"].to_list(), dtype=object),
            domains=np.asarray(occ["domain"].to_list(), dtype=object),
            sector_names=sector_names, membership=membership, principal=principal,
            skill_codes=np.asarray(referentiel.skills["code"].to_list(), dtype=object),
            skill_labels=np.asarray(referentiel.skills["label"].to_list(), dtype=object),
            skill_kinds=np.asarray(referentiel.skills["kind"].to_list(), dtype=object),
            raw=sp.csr_array(space.raw), core=sp.csr_array(space.core),
            bridges=bridges, labeller=labeller,
            relation=relation if relation is not None else _relation_of(referentiel, space),
        )

    # ---- filters --------------------------------------------------------------------------------
    def sector_ids(self, sectors) -> np.ndarray:
        """Column ids of sector names (``UnknownSector`` for a name the referential lacks)."""
        ids = []
        for s in sectors:
            try:
                ids.append(self.sector_names.index(s))
            except ValueError:
                raise UnknownSector(s, self.sector_names) from None
        return np.asarray(ids, dtype=np.int64)

    def sectors_of(self, row: int) -> tuple[str, ...]:
        """Sector names of an occupation, principal sectors first, then by name."""
        cols = np.nonzero(self.membership[row])[0]
        order = sorted(cols, key=lambda c: (not self.principal[row, c], self.sector_names[c]))
        return tuple(self.sector_names[c] for c in order)

    def cross_sector_mask(self, a: int) -> np.ndarray:
        """(n,) bool: occupations that share no activity sector with ``a`` (and have one).

        When ``a`` has no sector (a referential without sectors), another professional domain
        stands for another sector."""
        own = self.membership[a]
        if own.any():
            return self.membership.any(axis=1) & ~(self.membership[:, own].any(axis=1))
        return self.domains != self.domains[a]

    def candidate_mask(self, a: int, *, sectors=None, domains=None, cross_sector_only: bool = False) -> np.ndarray:
        """(n,) bool: targets allowed by the filters (never ``a`` itself)."""
        mask = np.ones(len(self.codes), dtype=bool)
        mask[a] = False
        if sectors:
            mask &= self.membership[:, self.sector_ids(sectors)].any(axis=1)
        if domains:
            wanted = set(domains)
            mask &= np.fromiter(((d in wanted) or (d is not None and d[:1] in wanted) for d in self.domains),
                                dtype=bool, count=len(self.domains))
        if cross_sector_only:
            mask &= self.cross_sector_mask(a)
        return mask

    # ---- ranking --------------------------------------------------------------------------------
    def top(self, a: int, k: int = 10, *, sectors=None, domains=None, cross_sector_only: bool = False,
            min_score: float = 0.0, min_label: str | None = None, tension: np.ndarray | None = None,
            tension_weight: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """Rows and ranking values of the ``k`` best targets from ``a`` (value desc, code asc).

        The value is the bridge score, or with ``tension`` ((n,) tension of every occupation in a
        job basin, ``matching.tension.tension_vector``) the toward-tension blend
        ``toward_tension(score, tension, tension_weight)``. Every filter applies the same either
        way; ``min_score`` is always on the bridge score.
        ``min_label`` ("viable", "highly viable", "stretch"): keep bridges labelled at least that
        (matching/calibration.py); needs the index's ``labeller``."""
        scores = np.asarray(self.bridges.scores_from(a), dtype=np.float32)
        mask = self.candidate_mask(a, sectors=sectors, domains=domains, cross_sector_only=cross_sector_only)
        if min_score > 0:
            mask &= scores >= np.float32(min_score)
        if min_label is not None:
            rank = label_rank(min_label)
            if self.labeller is None:
                raise ValueError("min_label needs an index fitted with a labeller (calibrated viability)")
            mask &= self.labeller.labels_from(a) >= rank
        if tension is not None:
            if len(tension) != len(scores):
                raise ValueError(f"tension must have one value per occupation ({len(scores)}), got {len(tension)}")
            scores = toward_tension(scores, tension, tension_weight)
        return top_k(scores, mask, k)

    def query(self, a: int, k: int = 10, *, sectors=None, domains=None, cross_sector_only: bool = False,
              min_score: float = 0.0, min_label: str | None = None, explain: bool = True,
              tension: np.ndarray | None = None, tension_weight: float = 0.5) -> list[Passerelle]:
        """The ``k`` best bridges from occupation row ``a``, filtered, each explained.

        With ``tension`` (see :meth:`top`) they are ranked toward tension and each carries its
        ``tension`` and ``combined`` value; ``score`` stays the bridge score."""
        rows, values = self.top(a, k, sectors=sectors, domains=domains, cross_sector_only=cross_sector_only,
                                min_score=min_score, min_label=min_label, tension=tension,
                                tension_weight=tension_weight)
        if tension is None:
            return [self.passerelle(a, int(b), float(s), explain=explain) for b, s in zip(rows, values)]
        scores = np.asarray(self.bridges.scores_from(a), dtype=np.float32)
        return [replace(self.passerelle(a, int(b), float(scores[b]), explain=explain), tension=float(tension[b]),
                        combined=float(c)) for b, c in zip(rows, values)]

    def passerelle(self, a: int, b: int, score: float | None = None, *, explain: bool = True) -> Passerelle:
        """The bridge ``a -> b`` with its scores, label and (when ``explain``) its skills."""
        if score is None:
            score = float(self.bridges.scores_from(a)[b])
        held, close, missing = self.explain(a, b) if explain else ((), (), ())
        return Passerelle(
            source=a, target=b, code=self.codes[b], label=self.labels[b], sectors=self.sectors_of(b),
            domain=self.domains[b], score=score, similarity=float(self.bridges.similarity(a, b)),
            coverage=float(self.bridges.coverage(a, b)), viability=self.viability(a, b),
            shared=held, close=close, missing=missing)

    def viability(self, a: int, b: int) -> str | None:
        return None if self.labeller is None else self.labeller.label(a, b)

    # ---- explanation ----------------------------------------------------------------------------
    def explain(self, a: int, b: int) -> Explanation:
        """(held, close, missing) skills of ``b`` for a move from ``a``; each core first, weight desc, code."""
        lo, hi = self.raw.indptr[b], self.raw.indptr[b + 1]
        need = self.raw.indices[lo:hi]
        weight = self.raw.data[lo:hi]
        core = self.core.data[lo:hi] > 0
        kind, via, sim, _ = self._support(a, b)
        order = np.lexsort((need, -weight, ~core))  # core first, then weight desc, then code
        records = self._records(need[order], via[order])
        codes, labels, kinds = self.skill_codes, self.skill_labels, self.skill_kinds
        out: tuple[list, list, list] = ([], [], [])
        for t, w, c, k, v, m in zip(need[order].tolist(), weight[order].tolist(), core[order].tolist(),
                                    kind[order].tolist(), via[order].tolist(), sim[order].tolist()):
            item = None
            if v >= 0:
                item = {"code": codes[v], "label": labels[v], "similarity": round(m, 3), **records[(t, v)]}
            out[{HELD: 0, CLOSE: 1, MISSING: 2}[k]].append(SkillItem(codes[t], labels[t], kinds[t], w, c, item))
        return Explanation(tuple(out[0]), tuple(out[1]), tuple(out[2]))

    def _records(self, targets: np.ndarray, via: np.ndarray) -> dict:
        """(target, via) -> {"rule", "evidence"} of the related pairs of an explanation."""
        ok = via >= 0
        if not ok.any():
            return {}
        t, v = targets[ok].astype(np.int64), via[ok].astype(np.int64)
        if self.relation is None:
            return {(x, y): {"rule": "related only (close)", "evidence": {}} for x, y in zip(t.tolist(), v.tolist())}
        claims = self.relation.classify(t, v)
        out = {}
        for i, (x, y) in enumerate(zip(t.tolist(), v.tolist())):
            record = claims.record(i)
            out[(x, y)] = {"rule": record["rule"], "evidence": record["signals"]}
        return out

    def _support(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each skill column of ``b`` (its CSR row order): (kind, via, similarity, rule).

        kind: ``HELD``, ``CLOSE`` or ``MISSING``; via: -1 when held exactly (or missing), else the
        column of ``a``'s skill it is held through (one that contains it: the most related, lowest
        code on ties) or close to (the most related, lowest code); similarity: the soft kernel's
        value (1 exact); rule: ``matching.relation.RULES`` code (-1 missing). Memoised for the last
        ``SUPPORT_CACHE`` pairs; the arrays returned are read-only."""
        key = (int(a), int(b))
        found = self._support_cache.get(key)
        if found is None:
            need = self.raw.indices[self.raw.indptr[b]:self.raw.indptr[b + 1]]
            found = self._support_of(int(a), need)
            for array in found:
                array.flags.writeable = False
            if len(self._support_cache) >= SUPPORT_CACHE:
                self._support_cache.clear()
            self._support_cache[key] = found
        return found

    def forget_support(self) -> None:
        """Empty the memo of :meth:`_support` (benchmarks that time the cold work)."""
        self._support_cache.clear()

    def _support_of(self, a: int, need: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        held = self.raw.indices[self.raw.indptr[a]:self.raw.indptr[a + 1]]
        m = len(need)
        kind = np.full(m, MISSING, dtype=np.int8)
        via = np.full(m, -1, dtype=np.int64)
        sim = np.zeros(m, dtype=np.float32)
        rule = np.full(m, -1, dtype=np.int8)
        exact = np.isin(need, held, assume_unique=True)
        kind[exact], sim[exact], rule[exact] = HELD, 1.0, SAME
        rest = np.flatnonzero(~exact)
        related = getattr(self.bridges, "related", None)
        if len(rest) and len(held) and related is not None:
            kernel = related(need[rest], held)  # (len(rest), len(held))
            ri, hj = np.nonzero(kernel >= RELATED_MIN)
            if len(ri):
                value = kernel[ri, hj]
                if self.relation is not None:
                    claims = self.relation.classify(need[rest][ri], held[hj], full=False)
                    ok, why = claims.held, claims.rule
                else:
                    ok, why = np.zeros(len(ri), dtype=bool), np.full(len(ri), CLOSE_RULE, dtype=np.int8)
                # per needed skill: a holding skill first, then the most related, then the lowest column
                order = np.lexsort((held[hj], -value, ~ok, ri))
                first = order[np.r_[True, ri[order][1:] != ri[order][:-1]]]
                rows = rest[ri[first]]
                kind[rows] = np.where(ok[first], HELD, CLOSE)
                via[rows], sim[rows], rule[rows] = held[hj[first]], value[first], why[first]
        return kind, via, sim, rule

    def explain_indices(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Skill columns of ``b``: (held, via, via_similarity, close, missing); via = -1 for exact matches."""
        need = self.raw.indices[self.raw.indptr[b]:self.raw.indptr[b + 1]]
        kind, via, sim, _ = self._support(a, b)
        h = kind == HELD
        return (need[h].astype(np.int64), via[h], sim[h], need[kind == CLOSE].astype(np.int64),
                need[kind == MISSING].astype(np.int64))

    # ---- sector pairs ---------------------------------------------------------------------------
    def sector_pair_map(self, sector_a: str, sector_b: str, *, k_per_source: int = 5,
                        min_score: float = 0.0) -> "SectorPairMap":
        """Every bridge from ``sector_a`` to ``sector_b`` and back (the ``k_per_source`` best targets
        of the other sector per source, at or above ``min_score``) and the skills they use.

        ``common_skills`` ranks the target skills the bridges' sources *hold* (the same skill or
        one that contains it) by the number of bridges, then by code; ``close_skills`` the target
        skills that are only close (related, not held) the same way, apart."""
        ia, ib = self.sector_ids([sector_a, sector_b])
        bridges_rows: list[dict] = []
        uses: dict[int, list[int]] = {}
        close_uses: dict[int, list[int]] = {}
        for direction, src_col, dst_col in (("a->b", ia, ib), ("b->a", ib, ia)):
            name_from, name_to = self.sector_names[src_col], self.sector_names[dst_col]
            for a in np.flatnonzero(self.membership[:, src_col]):
                allowed = self.membership[:, dst_col].copy()
                allowed[a] = False
                scores = np.asarray(self.bridges.scores_from(int(a)), dtype=np.float32)
                if min_score > 0:
                    allowed &= scores >= np.float32(min_score)
                rows, vals = top_k(scores, allowed, k_per_source)
                for b, s in zip(rows.tolist(), vals.tolist()):
                    lo, hi = self.raw.indptr[b], self.raw.indptr[b + 1]
                    need = self.raw.indices[lo:hi]
                    kind = self._support(int(a), b)[0]
                    is_core = self.core.data[lo:hi] > 0
                    side = 0 if direction == "a->b" else 1
                    for t in need[kind == HELD].tolist():
                        uses.setdefault(t, [0, 0])[side] += 1
                    for t in need[kind == CLOSE].tolist():
                        close_uses.setdefault(t, [0, 0])[side] += 1
                    bridges_rows.append({
                        "direction": f"{name_from} -> {name_to}", "source": self.codes[a],
                        "source_label": self.labels[a], "target": self.codes[b], "target_label": self.labels[b],
                        "score": round(float(s), 4), "similarity": round(float(self.bridges.similarity(int(a), b)), 4),
                        "coverage": round(float(self.bridges.coverage(int(a), b)), 4),
                        "viability": self.viability(int(a), b),
                        "shared_skills": int((kind == HELD).sum()), "close_skills": int((kind == CLOSE).sum()),
                        "missing_skills": int((kind == MISSING).sum()),
                        "close_core": int((is_core & (kind == CLOSE)).sum()),
                        "missing_core": int((is_core & (kind == MISSING)).sum())})
        bridges = pl.DataFrame(bridges_rows, schema=SECTOR_BRIDGE_SCHEMA)
        total = max(bridges.height, 1)

        def table(counts: dict[int, list[int]]) -> pl.DataFrame:
            return pl.DataFrame(
                [{"skill": self.skill_codes[t], "label": self.skill_labels[t], "kind": self.skill_kinds[t],
                  "bridges": c[0] + c[1], "a_to_b": c[0], "b_to_a": c[1], "share": round((c[0] + c[1]) / total, 4)}
                 for t, c in counts.items()], schema=SECTOR_SKILL_SCHEMA,
            ).sort(["bridges", "skill"], descending=[True, False])

        return SectorPairMap(sector_a=self.sector_names[ia], sector_b=self.sector_names[ib],
                             bridges=bridges, common_skills=table(uses), close_skills=table(close_uses))


SECTOR_BRIDGE_SCHEMA = {
    "direction": pl.String, "source": pl.String, "source_label": pl.String, "target": pl.String,
    "target_label": pl.String, "score": pl.Float64, "similarity": pl.Float64, "coverage": pl.Float64,
    "viability": pl.String, "shared_skills": pl.Int64, "close_skills": pl.Int64, "missing_skills": pl.Int64,
    "close_core": pl.Int64, "missing_core": pl.Int64}
SECTOR_SKILL_SCHEMA = {"skill": pl.String, "label": pl.String, "kind": pl.String, "bridges": pl.Int64,
                       "a_to_b": pl.Int64, "b_to_a": pl.Int64, "share": pl.Float64}


@dataclass(frozen=True)
class SectorPairMap:
    """Bridges between two sectors, both directions, and the skills common to them.

    ``bridges``: one row per bridge (columns of ``SECTOR_BRIDGE_SCHEMA``: held skills are
    ``shared_skills``; ``close_skills`` and ``missing_skills`` make the gap), sorted by direction,
    source, score desc. ``common_skills``: ``SECTOR_SKILL_SCHEMA``, the target skills the sources
    *hold*, most used first; ``share`` is the share of all bridges (both directions) where the skill
    is held. ``close_skills``: the same for skills only close (related, not held), apart.
    """

    sector_a: str
    sector_b: str
    bridges: pl.DataFrame
    common_skills: pl.DataFrame
    close_skills: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SECTOR_SKILL_SCHEMA))

    def skills_of(self, kinds=None, *, close: bool = False) -> pl.DataFrame:
        """``common_skills`` (``close``: ``close_skills``) restricted to skill kinds (e.g.
        ["savoir-faire"]: know-how only)."""
        table = self.close_skills if close else self.common_skills
        return table if not kinds else table.filter(pl.col("kind").is_in(list(kinds)))

    def to_dict(self, top_skills: int | None = None, kinds=None) -> dict:
        skills = self.skills_of(kinds)
        skills = skills if top_skills is None else skills.head(top_skills)
        close = self.skills_of(kinds, close=True)
        close = close if top_skills is None else close.head(top_skills)
        return {"sector_a": self.sector_a, "sector_b": self.sector_b,
                "counts": {"bridges": self.bridges.height,
                           "a_to_b": int((self.bridges["direction"].str.starts_with(self.sector_a + " ->")).sum()),
                           "b_to_a": int((self.bridges["direction"].str.starts_with(self.sector_b + " ->")).sum()),
                           "common_skills": self.common_skills.height, "close_skills": self.close_skills.height},
                "bridges": self.bridges.to_dicts(), "common_skills": skills.to_dicts(), "close_skills": close.to_dicts()}


def _relation_of(referentiel, space):
    """The referential's ``SkillRelation`` (None when it has no skill labels to read)."""
    if getattr(referentiel, "skills", None) is None or not referentiel.skills.height:
        return None
    return SkillRelation.from_referentiel(referentiel, space)


def sector_pair_map(referentiel, space, bridges, sector_a: str, sector_b: str, *, k_per_source: int = 5,
                    min_score: float = 0.0, labeller=None, relation=None) -> SectorPairMap:
    """The sector-pair map of two sectors (see :meth:`PasserelleIndex.sector_pair_map`)."""
    index = PasserelleIndex.fit(referentiel, space, bridges, labeller=labeller, relation=relation)
    return index.sector_pair_map(sector_a, sector_b, k_per_source=k_per_source, min_score=min_score)
