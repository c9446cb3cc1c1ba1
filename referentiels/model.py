"""The `Referentiel`: an occupational referential as immutable tables plus its occupation x skill matrix.

Tables (polars, sorted so that content, not file order, decides everything downstream):

- ``occupations``: code, label, domain, domain_label, parent
- ``skills``:      code, label, kind (savoir-faire | savoir | savoir-être), group
- ``links``:       occupation, skill, weight (float64 > 0), core (bool)
- ``titles``:      title, occupation           (appellations: a job title -> its occupation)
- ``sectors``:     sector, occupation, principal (bool)
- ``mobilities``:  occupation, target, rank     (official mobilities, rank 1 = first listed)

Codes are strings here and at every boundary; inside ``matching`` they are int32 row indices,
translated only through the maps of this object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl
import scipy.sparse as sp

from .errors import UnknownOccupation, UnknownSkill

SKILL_KINDS: tuple[str, ...] = ("savoir-faire", "savoir", "savoir-être")

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "occupations": {
        "code": pl.String, "label": pl.String, "domain": pl.String,
        "domain_label": pl.String, "parent": pl.String,
    },
    "skills": {"code": pl.String, "label": pl.String, "kind": pl.String, "group": pl.String},
    "links": {"occupation": pl.String, "skill": pl.String, "weight": pl.Float64, "core": pl.Boolean},
    "titles": {"title": pl.String, "occupation": pl.String},
    "sectors": {"sector": pl.String, "occupation": pl.String, "principal": pl.Boolean},
    "mobilities": {"occupation": pl.String, "target": pl.String, "rank": pl.Int64},
}
SORT_KEYS: dict[str, list[str]] = {
    "occupations": ["code"],
    "skills": ["code"],
    "links": ["occupation", "skill"],
    "titles": ["occupation", "title"],
    "sectors": ["sector", "occupation"],
    "mobilities": ["occupation", "target"],
}
TABLES: tuple[str, ...] = tuple(SCHEMAS)


def canonical(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Cast ``frame`` to the schema of table ``name``, keep its columns in order, sort by its key."""
    schema = SCHEMAS[name]
    columns = []
    for column, dtype in schema.items():
        if column in frame.columns:
            columns.append(pl.col(column).cast(dtype))
        else:
            columns.append(pl.lit(None, dtype=dtype).alias(column))
    return frame.select(columns).sort(SORT_KEYS[name], nulls_last=True, maintain_order=True)


def empty_table(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[name])


@dataclass(frozen=True, eq=False)
class Referentiel:
    """An immutable referential. Build it with :meth:`from_tables`; read it, never mutate it.

    Attributes that are arrays follow the row order of ``occupations`` and ``skills`` (sorted by
    code), so row ``i`` of :attr:`matrix` is ``occupation_codes[i]``.
    """

    name: str
    version: str
    source: str
    occupations: pl.DataFrame
    skills: pl.DataFrame
    links: pl.DataFrame
    titles: pl.DataFrame
    sectors: pl.DataFrame
    mobilities: pl.DataFrame
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_tables(
        cls,
        *,
        name: str,
        version: str,
        source: str,
        occupations: pl.DataFrame,
        skills: pl.DataFrame,
        links: pl.DataFrame,
        titles: pl.DataFrame | None = None,
        sectors: pl.DataFrame | None = None,
        mobilities: pl.DataFrame | None = None,
    ) -> "Referentiel":
        """Canonicalise (types, column order, sort) already validated tables into a referential."""
        tables = {
            "occupations": occupations, "skills": skills, "links": links,
            "titles": titles if titles is not None else empty_table("titles"),
            "sectors": sectors if sectors is not None else empty_table("sectors"),
            "mobilities": mobilities if mobilities is not None else empty_table("mobilities"),
        }
        return cls(name=name, version=version, source=source,
                   **{k: canonical(k, v) for k, v in tables.items()})

    # ---- code <-> row maps -------------------------------------------------------------------
    @cached_property
    def occupation_codes(self) -> np.ndarray:
        """(n_occupations,) object array of occupation codes, in row order."""
        return np.array(self.occupations["code"].to_list(), dtype=object)

    @cached_property
    def skill_codes(self) -> np.ndarray:
        """(n_skills,) object array of skill codes, in column order."""
        return np.array(self.skills["code"].to_list(), dtype=object)

    @cached_property
    def occupation_index(self) -> dict[str, int]:
        return {code: i for i, code in enumerate(self.occupations["code"].to_list())}

    @cached_property
    def skill_index(self) -> dict[str, int]:
        return {code: i for i, code in enumerate(self.skills["code"].to_list())}

    @property
    def n_occupations(self) -> int:
        return self.occupations.height

    @property
    def n_skills(self) -> int:
        return self.skills.height

    def occupation_row(self, code: str) -> int:
        """Row of an occupation code; :class:`~referentiels.errors.UnknownOccupation` when unknown."""
        row = self.occupation_index.get(code)
        if row is None:
            raise UnknownOccupation(code)
        return row

    def skill_column(self, code: str) -> int:
        """Column of a skill code; :class:`~referentiels.errors.UnknownSkill` when unknown."""
        column = self.skill_index.get(code)
        if column is None:
            raise UnknownSkill(code)
        return column

    # ---- matrices ---------------------------------------------------------------------------
    @cached_property
    def _link_rows_cols(self) -> tuple[np.ndarray, np.ndarray]:
        occ = pl.DataFrame({"occupation": self.occupations["code"]}).with_row_index("row")
        sk = pl.DataFrame({"skill": self.skills["code"]}).with_row_index("col")
        joined = self.links.join(occ, on="occupation", how="left").join(sk, on="skill", how="left")
        return (joined["row"].to_numpy().astype(np.int32), joined["col"].to_numpy().astype(np.int32))

    def _csr(self, values: np.ndarray) -> sp.csr_array:
        rows, cols = self._link_rows_cols
        m = sp.csr_array((values, (rows, cols)), shape=(self.n_occupations, self.n_skills))
        m.sum_duplicates()
        m.sort_indices()
        return m

    @cached_property
    def matrix(self) -> sp.csr_array:
        """(n_occupations, n_skills) float32 CSR of link weights (0 where no link)."""
        return self._csr(self.links["weight"].to_numpy().astype(np.float32))

    @cached_property
    def core_matrix(self) -> sp.csr_array:
        """(n_occupations, n_skills) float32 CSR, 1.0 where the link is core, same pattern as matrix."""
        return self._csr(self.links["core"].cast(pl.Float32).to_numpy().astype(np.float32) + 0.0)

    @cached_property
    def skill_kinds(self) -> np.ndarray:
        """(n_skills,) int8: index into SKILL_KINDS."""
        lookup = {k: i for i, k in enumerate(SKILL_KINDS)}
        return np.array([lookup[k] for k in self.skills["kind"].to_list()], dtype=np.int8)

    # ---- lookups ----------------------------------------------------------------------------
    def occupation(self, code: str) -> dict:
        """One occupation as a plain dict: label, domain, parent, sectors, skills, titles, official mobilities
        (``mobilities``: codes by rank; ``mobility_labels``: the same as ``{"code", "label"}``).

        :class:`~referentiels.errors.UnknownOccupation` when the code is unknown."""
        row = self.occupation_row(code)
        occ = self.occupations.row(row, named=True)
        skills = (
            self.links.filter(pl.col("occupation") == code)
            .join(self.skills, left_on="skill", right_on="code", how="left")
            .sort(["core", "weight", "skill"], descending=[True, True, False])
        )
        return {
            **occ,
            "sectors": self.sectors.filter(pl.col("occupation") == code)
            .select("sector", "principal").to_dicts(),
            "skills": [
                {"code": s["skill"], "label": s["label"], "kind": s["kind"], "group": s["group"],
                 "weight": s["weight"], "core": s["core"]}
                for s in skills.iter_rows(named=True)
            ],
            "titles": self.titles.filter(pl.col("occupation") == code)["title"].to_list(),
            "mobilities": (mobilities := self.mobilities.filter(pl.col("occupation") == code)
                           .sort("rank", nulls_last=True)["target"].to_list()),
            "mobility_labels": [{"code": target, "label": self.occupations["label"][self.occupation_row(target)]}
                                for target in mobilities if target in self.occupation_index],
        }

    def counts(self) -> dict[str, int]:
        return {
            "occupations": self.occupations.height,
            "skills": self.skills.height,
            "linked_skills": self.links["skill"].n_unique(),
            "links": self.links.height,
            "core_links": int(self.links["core"].sum()),
            "titles": self.titles.height,
            "sectors": self.sectors["sector"].n_unique(),
            "sector_memberships": self.sectors.height,
            "mobilities": self.mobilities.height,
        }

    @cached_property
    def sector_names(self) -> list[str]:
        return sorted(self.sectors["sector"].unique().to_list())

    # ---- identity ---------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical content of every table (not of name, version or source).

        Two referentials with the same occupations, skills, links, titles, sectors and
        mobilities have the same fingerprint, whatever format or row order they came from.
        """
        digest = hashlib.sha256()
        for name in TABLES:
            frame: pl.DataFrame = getattr(self, name)
            digest.update(name.encode())
            digest.update(frame.write_csv(float_precision=None).encode())
        return digest.hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "source": self.source,
                "fingerprint": self.fingerprint, "counts": self.counts()}
