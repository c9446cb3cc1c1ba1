"""The skill space: every occupation as an L2-normalised float32 sparse vector over skills.

Weight of skill ``s`` for occupation ``o``::

    w(o, s) = link_weight(o, s) * (CORE_BOOST if core(o, s) else 1) * KIND_WEIGHTS[kind(s)] * idf(s)
    idf(s)  = log((1 + n_occupations) / (1 + n_occupations_with(s))) + 1      (smooth IDF, sklearn's)

then each row is divided by its L2 norm. Rare skills weigh more than skills that every occupation
lists ("Respecter les règles de sécurité"), core skills more than peripheral ones, and know-how
more than soft skills (savoir-être are few in ROME and shared by thousands of occupations).

The factors were checked against the official mobilities of ROME v460 (recall@10 of the cosine,
`passerelles evaluate`): kinds (1, 1, 0.5) and a core boost of 1.5 give 0.290, as plain TF-IDF;
the first guess (1, 0.8, 0.4) with a core boost of 2 gave 0.273.

Built :meth:`SkillSpace.from_referentiel`, the space also carries the referential's
:class:`OccupationContext` (skill-label words, skill groups, titles, domains, families, sectors):
what the bridge model needs for its soft skill-to-skill kernel and its other signals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .normalise import strip_accents

KIND_WEIGHTS: dict[str, float] = {"savoir-faire": 1.0, "savoir": 1.0, "savoir-être": 0.5}
CORE_BOOST: float = 1.5

STOPWORDS: frozenset[str] = frozenset(
    "a au aux avec ce ces d dans de des du en et l la le les leur leurs ou par pour sa selon ses son sur "
    "un une".split())
_WORD = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    """A crude French stem: plural s/x dropped from words of 5+ letters, then the first 7 letters.

    ("réglages" -> "reglage", "contrôler" / "contrôle" -> "control", "machines" -> "machine")."""
    if len(word) > 4 and word[-1] in "sx":
        word = word[:-1]
    return word[:7]


def words(text: str) -> list[str]:
    """Stemmed, accent-free words of a label, stop words and single letters left out."""
    return [stem(w) for w in _WORD.findall(strip_accents(text or "")) if len(w) > 1 and w not in STOPWORDS]


def tfidf_rows(texts: list[str], min_df: int = 1) -> sp.csr_array:
    """(len(texts), n_words) float32 CSR: smooth-IDF weighted, L2-normalised bags of :func:`words`.

    The vocabulary is sorted, so the result depends only on the texts and their order. Texts
    without a word give empty rows; when none has one the matrix has no column.

    This is scikit-learn's ``TfidfVectorizer(analyzer=words, binary=True)`` (smooth IDF, L2 rows),
    written by hand because the library is slower here for the same matrix. Measured on ROME v460
    (issue 18): max abs difference 1.2e-7 with the same sparsity on the 33,671 skill labels and the
    1,584 occupation titles (6.0e-8 on the demo; tests/unit/test_space.py pins it); the two builds
    of a context (labels + titles), 16 alternating runs on a loaded 2-core host: 1.70 s by hand vs
    1.87 s with the library (medians; fastest runs 1.05 s vs 1.39 s). Past :func:`words` (shared),
    the counting, IDF and norms take 0.29 s by hand vs 0.42 s in the library on the labels. The
    library also refuses a vocabulary with no word, which a referential may give."""
    docs = [words(t) for t in texts]
    vocab_counts: dict[str, int] = {}
    for d in docs:
        for w in set(d):
            vocab_counts[w] = vocab_counts.get(w, 0) + 1
    vocab = {w: i for i, w in enumerate(sorted(w for w, c in vocab_counts.items() if c >= min_df))}
    rows, cols = [], []
    for i, d in enumerate(docs):
        for w in d:
            j = vocab.get(w)
            if j is not None:
                rows.append(i)
                cols.append(j)
    m = sp.csr_array((np.ones(len(rows), dtype=np.float32), (np.asarray(rows, dtype=np.int64),
                      np.asarray(cols, dtype=np.int64))), shape=(len(docs), len(vocab)))
    m.sum_duplicates()
    m.data = np.minimum(m.data, 1.0).astype(np.float32)  # presence, not counts
    return l2_normalise(sp.csr_array(m * idf(m)[None, :]))


def idf(matrix: sp.csr_array) -> np.ndarray:
    """(n_skills,) float32 smooth inverse document frequency of each skill over occupations.

    scikit-learn's ``TfidfTransformer(smooth_idf=True).idf_`` (equal within 4.8e-7 on ROME's links),
    by hand: ``SkillSpace.fit`` needs the vector alone (times the kind weights), and this takes
    0.45 ms where fitting the transformer takes 0.8 ms."""
    n_rows = matrix.shape[0]
    df = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
    return (np.log((1.0 + n_rows) / (1.0 + df)) + 1.0).astype(np.float32)


def l2_normalise(matrix: sp.csr_array) -> sp.csr_array:
    """Rows divided by their L2 norm (empty rows stay empty). float32 CSR."""
    m = sp.csr_array(matrix, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    m.data /= np.repeat(norms, np.diff(m.indptr)).astype(np.float32)
    return m


@dataclass(frozen=True, eq=False)
class OccupationContext:
    """What a referential says of its occupations and skills beyond the links (row / column order).

    Attributes:
        skill_words:  (n_skills, n_words) float32 CSR, L2-normalised TF-IDF of the stemmed words of
                      each skill label (the soft skill-to-skill kernel is ``skill_words @ skill_words.T``)
        skill_groups: (n_skills,) int64 group id (macro-competence) of know-how and soft skills;
                      -1 for knowledge items (savoirs), whose categories are far too broad
        titles:       (n_occupations, n_title_words) float32 CSR, L2-normalised TF-IDF of the words
                      of the occupation's label and its job titles (appellations)
        domains:      (n_occupations,) object, professional domain (e.g. "H21") or None
        families:     (n_occupations,) object, the parent code, or the own code when no parent
        sectors:      (n_occupations, n_sectors) bool, membership of activity sectors
    """

    skill_words: sp.csr_array
    skill_groups: np.ndarray
    titles: sp.csr_array
    domains: np.ndarray
    families: np.ndarray
    sectors: np.ndarray

    @classmethod
    def from_referentiel(cls, referentiel) -> "OccupationContext":
        """Build from a ``referentiels.Referentiel`` (duck-typed: polars tables and code maps)."""
        occ = referentiel.occupations
        codes = occ["code"].to_list()
        skills = referentiel.skills
        groups = skills["group"].to_list()
        kinds = skills["kind"].to_list()
        ids: dict[str, int] = {}
        skill_groups = np.full(len(groups), -1, dtype=np.int64)
        for i, (g, k) in enumerate(zip(groups, kinds)):
            if g and k != "savoir":
                skill_groups[i] = ids.setdefault(g, len(ids))
        by_occ: dict[str, list[str]] = {}
        for title, code in referentiel.titles.select("title", "occupation").iter_rows():
            by_occ.setdefault(code, []).append(title)
        texts = [" ".join([label or ""] + by_occ.get(code, [])) for code, label in zip(codes, occ["label"].to_list())]
        parents = occ["parent"].to_list()
        names = sorted(set(referentiel.sectors["sector"].to_list()))
        col = {s: i for i, s in enumerate(names)}
        member = np.zeros((len(codes), len(names)), dtype=bool)
        row = {c: i for i, c in enumerate(codes)}
        for sector, code in referentiel.sectors.select("sector", "occupation").iter_rows():
            if code in row:
                member[row[code], col[sector]] = True
        return cls(skill_words=tfidf_rows(skills["label"].to_list()), skill_groups=skill_groups,
                   titles=tfidf_rows(texts), domains=np.asarray(occ["domain"].to_list(), dtype=object),
                   families=np.asarray([p or c for p, c in zip(parents, codes)], dtype=object), sectors=member)


@dataclass(frozen=True, eq=False)
class SkillSpace:
    """Weighted skill vectors of a referential's occupations. Build once with :meth:`fit`.

    Attributes:
        raw:           (n_occupations, n_skills) float32 CSR, un-normalised weights w(o, s)
        vectors:       same, rows L2-normalised (the occupation vectors)
        skill_weight:  (n_skills,) float32, idf(s) * KIND_WEIGHTS[kind(s)]: the weight a skill
                       carries in any profile (seeker, offer, training) before core/link factors
        core:          (n_occupations, n_skills) float32 CSR, 1.0 on core links
        context:       the referential's :class:`OccupationContext` when built with
                       :meth:`from_referentiel` (built lazily, on first use), else None
    """

    raw: sp.csr_array
    vectors: sp.csr_array
    skill_weight: np.ndarray
    core: sp.csr_array
    referentiel: object | None = field(default=None, repr=False)

    @cached_property
    def context(self) -> OccupationContext | None:
        return None if self.referentiel is None else OccupationContext.from_referentiel(self.referentiel)

    @classmethod
    def fit(
        cls,
        links: sp.csr_array,
        core: sp.csr_array,
        skill_kinds: np.ndarray,
        kind_weights: tuple[float, float, float] = tuple(KIND_WEIGHTS.values()),
        core_boost: float = CORE_BOOST,
    ) -> "SkillSpace":
        """Build from a referential's link matrix (weights), core matrix, and (n_skills,) kind ids."""
        links = sp.csr_array(links, dtype=np.float32)
        core = sp.csr_array(core, dtype=np.float32)
        skill_weight = idf(links) * np.asarray(kind_weights, dtype=np.float32)[skill_kinds]
        raw = links.copy()
        raw.data = raw.data * (1.0 + (core_boost - 1.0) * core.data) * skill_weight[raw.indices]
        raw.data = raw.data.astype(np.float32)
        return cls(raw=raw, vectors=l2_normalise(raw), skill_weight=skill_weight.astype(np.float32), core=core)

    @classmethod
    def from_referentiel(cls, referentiel) -> "SkillSpace":
        """``fit`` on a ``referentiels.Referentiel`` (duck-typed, no import), with its context."""
        space = cls.fit(referentiel.matrix, referentiel.core_matrix, referentiel.skill_kinds)
        return cls(raw=space.raw, vectors=space.vectors, skill_weight=space.skill_weight, core=space.core,
                   referentiel=referentiel)

    @property
    def shape(self) -> tuple[int, int]:
        return self.vectors.shape

    def similarity(self, a: int, b: int) -> float:
        """Cosine of occupations ``a`` and ``b`` (row indices), in [0, 1], symmetric."""
        value = float(self.vectors[[a]].multiply(self.vectors[[b]]).sum())
        return min(max(value, 0.0), 1.0)

    def coverage(self, a: int, b: int) -> float:
        """Share of ``b``'s weighted skills that ``a`` holds, in [0, 1]; coverage(a, a) = 1."""
        target = self.raw[[b]]
        total = float(target.sum())
        if total == 0.0:
            return 0.0
        held = (self.raw[[a]] != 0).astype(np.float32)
        return float(target.multiply(held).sum()) / total
