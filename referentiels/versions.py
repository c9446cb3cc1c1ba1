"""What changed between two versions of a referential: codes kept, added, removed, renamed, split, merged.

``diff(old, new)`` compares two :class:`~referentiels.model.Referentiel` and returns a
:class:`ReferentialDiff`: for occupations, skills and titles, every change with the old and new
codes, its evidence and a confidence in [0, 1]; and :meth:`ReferentialDiff.mapping`, which turns
it into "old code -> new code(s)" for migrating stored records (``passerelles referentiel upgrade``).

How codes are matched (the same engine for the three kinds, see ``docs/referential-versions.md``):

1. **Identity** — a code present in both versions is *kept* (its label may have changed:
   *relabelled*). Titles have no code in the model: a title is identified by its text.
2. **Content flow** — each item has a *content*: an occupation its skills and its titles, a skill
   the occupations that list it, a title its occupation(s); contents are compared in the new
   version's codes (old codes translated through the mappings already found). What an old item
   *gives away* is its whole content if its code disappeared, or the part it lost if the code was
   kept; what a new item *receives* is its whole content if its code is new, or the part it gained.
   An edge old -> new carries ``carried`` (share of what the old item gave away that the new item
   received) and ``explained`` (share of what the new item received that came from the old one).
3. **Labels** — rapidfuzz ``token_sort_ratio`` of the normalised labels. For items without content
   (a skill no occupation lists) or titles, a near-identical label is the evidence.
4. **Structure** — the retained edges form connected components: 1 old -> 1 new is *renamed*
   (same content, new code), 1 -> n a *split*, n -> 1 a *merge*, n -> m *reorganised*; an old
   code with no edge is *removed*, a new one *added*. A code kept that gives content to new codes
   is part of a split (it is listed among the new codes); a kept code that receives content from
   disappearing codes is the target of a merge.

Confidence of an edge: ``0.6 * content + 0.2 * label + 0.2 * profile``, where ``content`` is
``sqrt(carried * explained)`` for a rename, ``explained`` for a split part and ``carried`` for a
merge part; ``label`` the label similarity and ``profile`` the cosine of the two items' whole
contents. Label-only edges (no content on either side) have confidence ``0.8 * label``.
Pure and deterministic: results sorted by code; no file access here.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from rapidfuzz import fuzz, process

from .model import Referentiel

KINDS: tuple[str, ...] = ("occupation", "skill", "title")
CHANGES: tuple[str, ...] = ("renamed", "split", "merged", "reorganised", "removed", "added", "relabelled",
                            "moved")


@dataclass(frozen=True)
class Params:
    """Thresholds of the matching (documented in docs/referential-versions.md)."""

    min_shared: int = 2
    """Fewest content items an edge must share (1 for titles, whose content is one occupation)."""
    min_carried: float = 0.15
    """An edge needs this share of what the old item gave away ..."""
    min_explained: float = 0.15
    """... and this share of what the new item received ..."""
    min_strong: float = 0.5
    """... and one of the two at least this high."""
    label_only: float = 0.92
    """Label similarity that alone makes an edge between a disappeared and a new item."""
    title_label: float = 0.8
    """For titles: label similarity needed on top of a shared occupation."""


DEFAULT_PARAMS = Params()


@dataclass(frozen=True)
class Change:
    """One change of one kind of code between two versions.

    ``old`` and ``new`` are sorted tuples of codes (titles: their text). ``pairs`` gives, for each
    retained edge old -> new, its evidence: ``label_similarity``, ``profile_cosine``, ``carried``,
    ``explained``, ``shared`` (content items in common) and ``confidence``.
    """

    kind: str
    change: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    confidence: float
    pairs: tuple[dict, ...] = ()
    labels: dict = field(default_factory=dict)
    suggestions: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "change": self.change, "old": list(self.old), "new": list(self.new),
               "confidence": self.confidence, "labels": self.labels, "evidence": list(self.pairs)}
        if self.suggestions:
            out["suggestions"] = list(self.suggestions)
        return out


@dataclass(frozen=True)
class Target:
    """Where an old code goes: a new code, how sure, and through which change."""

    code: str
    confidence: float
    change: str


@dataclass(frozen=True)
class ReferentialDiff:
    """The changes between ``old`` and ``new``, per kind, and the old -> new mappings."""

    old: dict
    new: dict
    kept: dict[str, int]
    changes: tuple[Change, ...]
    _mappings: dict = field(default_factory=dict, repr=False, compare=False)

    def of(self, kind: str, change: str | None = None) -> list[Change]:
        """The changes of one kind (``occupation``, ``skill``, ``title``), optionally of one type."""
        return [c for c in self.changes if c.kind == kind and (change is None or c.change == change)]

    def mapping(self, kind: str) -> dict[str, tuple[Target, ...]]:
        """Old code -> its targets in the new version, best first (empty tuple: removed).

        Kept codes map to themselves with confidence 1 (also those that gave part of their content
        to a split: they are listed first, then the new parts). Only codes of the old version are keys.
        """
        return self._mappings[kind]

    def is_empty(self) -> bool:
        return not any(c.change != "relabelled" for c in self.changes)

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for kind in KINDS:
            counts = {"kept": self.kept.get(kind, 0)}
            for change in CHANGES:
                counts[change] = len(self.of(kind, change))
            out[kind] = counts
        return out

    def to_dict(self) -> dict:
        return {"old": self.old, "new": self.new, "summary": self.summary(),
                "changes": [c.to_dict() for c in self.changes]}


# ---- helpers ------------------------------------------------------------------------------------
@lru_cache(maxsize=1 << 18)
def normalise_label(text: str | None) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed (for label similarity)."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    kept = "".join(ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(kept.split())


def label_similarity(a: str | None, b: str | None) -> float:
    """rapidfuzz token_sort_ratio of the normalised labels, in [0, 1]."""
    return fuzz.token_sort_ratio(normalise_label(a), normalise_label(b)) / 100.0


def _incidence(rows: list[str], items: list[str], row_codes: list[str], vocab: dict[str, int]) -> sp.csr_array:
    """Binary (len(row_codes), len(vocab)) CSR from (row code, item) pairs; unknown rows dropped."""
    index = {c: i for i, c in enumerate(row_codes)}
    r, c = [], []
    for row, item in zip(rows, items):
        i = index.get(row)
        j = vocab.get(item)
        if i is not None and j is not None:
            r.append(i)
            c.append(j)
    m = sp.csr_array((np.ones(len(r), dtype=np.float32), (np.asarray(r, dtype=np.int64),
                                                          np.asarray(c, dtype=np.int64))),
                     shape=(len(row_codes), len(vocab)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _translate(pairs: Iterable[tuple[str, str]], mapping: dict[str, tuple[Target, ...]] | None) -> tuple[list[str], list[str]]:
    """(row, item) pairs with each item translated to its new code(s) (identity when unmapped)."""
    rows, items = [], []
    for row, item in pairs:
        targets = mapping.get(item) if mapping is not None else None
        if targets:
            for t in targets:
                rows.append(row)
                items.append(t.code)
        else:
            rows.append(row)
            items.append(item)
    return rows, items


def _prefixed(prefix: str, values: list[str]) -> list[str]:
    return [f"{prefix}{v}" for v in values]


# ---- the engine ---------------------------------------------------------------------------------
@dataclass
class _Side:
    codes: list[str]
    labels: dict[str, str]
    content: sp.csr_array  # binary (n, vocab)
    anchors: sp.csr_array | None = None  # binary (n, anchors): for occupations, their titles

    @property
    def normalised(self) -> list[str]:
        cached = self.__dict__.get("_normalised")
        if cached is None:
            cached = [normalise_label(self.labels.get(c)) for c in self.codes]
            self.__dict__["_normalised"] = cached
        return cached


def _match(kind: str, old: _Side, new: _Side, params: Params, *, title_mode: bool = False
           ) -> tuple[int, list[Change], dict[str, tuple[Target, ...]]]:
    old_index = {c: i for i, c in enumerate(old.codes)}
    new_index = {c: i for i, c in enumerate(new.codes)}
    kept = sorted(set(old_index) & set(new_index))
    removed = sorted(set(old_index) - set(new_index))
    added = sorted(set(new_index) - set(old_index))
    changes: list[Change] = []
    for code in kept:
        if normalise_label(old.labels.get(code)) != normalise_label(new.labels.get(code)):
            changes.append(Change(kind, "relabelled", (code,), (code,),
                                  round(label_similarity(old.labels.get(code), new.labels.get(code)), 3),
                                  labels={"old": {code: old.labels.get(code)}, "new": {code: new.labels.get(code)}}))

    oc, nc = old.content, new.content
    kept_old_rows = np.array([old_index[c] for c in kept], dtype=np.int64)
    kept_new_rows = np.array([new_index[c] for c in kept], dtype=np.int64)
    out, inc = _give_receive(oc, nc, kept_old_rows, kept_new_rows)
    out_total = np.asarray(out.sum(axis=1)).ravel()
    inc_total = np.asarray(inc.sum(axis=1)).ravel()
    flow = (out @ inc.T).tocoo()  # [i, j] = items given by old i and received by new j
    anchored = old.anchors is not None and new.anchors is not None
    if anchored:  # occupations: their titles, the units ROME moves from code to code
        whole = sp.csr_array(old.anchors @ new.anchors.T)
        a_old = np.asarray(old.anchors.sum(axis=1)).ravel()
        a_new = np.asarray(new.anchors.sum(axis=1)).ravel()
        a_out, a_inc = _give_receive(old.anchors, new.anchors, kept_old_rows, kept_new_rows)
        a_out_total = np.asarray(a_out.sum(axis=1)).ravel()
        a_inc_total = np.asarray(a_inc.sum(axis=1)).ravel()
        a_flow = (a_out @ a_inc.T).tocoo()

    old_is_kept = np.zeros(len(old.codes), dtype=bool)
    old_is_kept[kept_old_rows] = True
    new_is_kept = np.zeros(len(new.codes), dtype=bool)
    new_is_kept[kept_new_rows] = True
    full_old = np.asarray(oc.sum(axis=1)).ravel()
    full_new = np.asarray(nc.sum(axis=1)).ravel()

    edges: dict[tuple[int, int], dict] = {}
    min_shared = 1 if title_mode else params.min_shared
    for i, j, shared in zip(flow.row, flow.col, flow.data):
        if old_is_kept[i] and new_is_kept[j]:
            continue  # content moving between kept codes is not a code change
        carried = shared / out_total[i]
        explained = shared / inc_total[j]
        o_code, n_code = old.codes[i], new.codes[j]
        lab = label_similarity(old.labels.get(o_code), new.labels.get(n_code))
        if title_mode:
            if lab < params.title_label:
                continue
        elif (shared < min_shared or carried < params.min_carried or explained < params.min_explained
              or max(carried, explained) < params.min_strong):
            continue
        if anchored and a_old[i] > 0 and a_new[j] > 0 and whole[i, j] == 0:
            continue  # both have titles and not one of them followed: a neighbour, not a successor
        edges[(int(i), int(j))] = {"shared": int(shared), "carried": float(carried),
                                   "explained": float(explained), "label_similarity": lab}
    if anchored:
        # titles that moved make an edge even when the skills were rewritten
        for i, j, moved in zip(a_flow.row, a_flow.col, a_flow.data):
            if (old_is_kept[i] and new_is_kept[j]) or (int(i), int(j)) in edges:
                continue
            carried, explained = moved / a_out_total[i], moved / a_inc_total[j]
            if (carried < params.min_carried or explained < params.min_explained
                    or max(carried, explained) < params.min_strong):
                continue
            edges[(int(i), int(j))] = {
                "shared": 0, "carried": float(carried), "explained": float(explained),
                "label_similarity": label_similarity(old.labels.get(old.codes[i]), new.labels.get(new.codes[j])),
                "by_titles": True}
        for (i, j), e in edges.items():
            e["shared_titles"] = int(whole[i, j])
    # label-only edges between disappeared and new items
    if removed and added:
        r_labels = [normalise_label(old.labels.get(c)) for c in removed]
        a_labels = [normalise_label(new.labels.get(c)) for c in added]
        threshold = (params.title_label if title_mode else params.label_only) * 100
        sims = process.cdist(r_labels, a_labels, scorer=fuzz.token_sort_ratio, score_cutoff=threshold,
                             dtype=np.uint8, workers=1)
        for ri, ai in zip(*np.nonzero(sims)):
            i, j = old_index[removed[ri]], new_index[added[ai]]
            if (i, j) in edges:
                continue
            if not title_mode and full_old[i] > 0 and full_new[j] > 0:
                continue  # both have content and it does not flow: labels alone do not decide
            if not r_labels[ri]:
                continue
            edges[(i, j)] = {"shared": 0, "carried": 0.0, "explained": 0.0,
                             "label_similarity": float(sims[ri, ai]) / 100.0, "label_only": True}
        if title_mode:
            # a title is one text: when its text changes, keep only its closest successor(s)
            best: dict[int, float] = defaultdict(float)
            for (i, j), e in edges.items():
                best[i] = max(best[i], e["label_similarity"])
            edges = {k: e for k, e in edges.items() if e["label_similarity"] >= best[k[0]] - 0.05}

    # profile cosine of whole contents, for evidence
    for (i, j), e in edges.items():
        dot = float(oc[[i]].multiply(nc[[j]]).sum())
        denom = math.sqrt(full_old[i] * full_new[j])
        e["profile_cosine"] = dot / denom if denom else 0.0

    # components of the bipartite graph old rows -> new rows (new row j is vertex len(old.codes) + j)
    groups: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    if edges:
        ends = np.array(list(edges), dtype=np.int64)
        n_vertices = len(old.codes) + len(new.codes)
        graph = sp.coo_array((np.ones(len(ends), dtype=np.int8), (ends[:, 0], ends[:, 1] + len(old.codes))),
                             shape=(n_vertices, n_vertices))
        component = connected_components(graph, directed=False)[1]
    for i, j in edges:
        olds, news = groups[int(component[i])]
        if i not in olds:
            olds.append(i)
        if j not in news:
            news.append(j)

    mapping: dict[str, list[Target]] = {c: [Target(c, 1.0, "kept")] for c in kept}
    for c in removed:
        mapping[c] = []
    involved_old: set[int] = set()
    involved_new: set[int] = set()
    for olds, news in groups.values():
        involved_old.update(olds)
        involved_new.update(news)
        o_codes = sorted(old.codes[i] for i in olds)
        n_codes = sorted(new.codes[j] for j in news)
        # a kept code on one side of a split/merge belongs on the other side too
        o_all = sorted(set(o_codes) | {new.codes[j] for j in news if new_is_kept[j]})
        n_all = sorted(set(n_codes) | {old.codes[i] for i in olds if old_is_kept[i]})
        if len(o_all) == 1 and len(n_all) == 1:
            change = "renamed"
        elif len(o_all) == 1:
            change = "split"
        elif len(n_all) == 1:
            change = "merged"
        else:
            change = "reorganised"
        pairs = []
        for (i, j), e in sorted(edges.items(), key=lambda kv: (old.codes[kv[0][0]], new.codes[kv[0][1]])):
            if i not in olds:
                continue
            if e.get("label_only"):
                content = 0.0
                conf = 0.8 * e["label_similarity"]
            else:
                if change == "split":
                    content = e["explained"]
                elif change == "merged":
                    content = e["carried"]
                else:
                    content = math.sqrt(e["carried"] * e["explained"])
                conf = 0.6 * content + 0.2 * e["label_similarity"] + 0.2 * e["profile_cosine"]
            conf = round(min(max(conf, 0.0), 1.0), 3)
            o_code, n_code = old.codes[i], new.codes[j]
            pairs.append({"old": o_code, "new": n_code, "confidence": conf,
                          **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in e.items()}})
            mapping.setdefault(o_code, []).append(Target(n_code, conf, change))
        confidence = round(min(p["confidence"] for p in pairs), 3)
        labels = {"old": {c: old.labels.get(c) for c in o_all}, "new": {c: new.labels.get(c) for c in n_all}}
        changes.append(Change(kind, change, tuple(o_all), tuple(n_all), confidence, tuple(pairs), labels))

    unmatched_new = [j for j in range(len(new.codes)) if not new_is_kept[j] and j not in involved_new]
    gone = [old_index[c] for c in removed if old_index[c] not in involved_old]
    suggestions = _suggest_all(old, new, gone, full_old, full_new, by_label=title_mode)
    for i in gone:
        c = old.codes[i]
        changes.append(Change(kind, "removed", (c,), (), 1.0, labels={"old": {c: old.labels.get(c)}},
                              suggestions=tuple(suggestions[i])))
    for j in unmatched_new:
        c = new.codes[j]
        changes.append(Change(kind, "added", (), (c,), 1.0, labels={"new": {c: new.labels.get(c)}}))

    final: dict[str, tuple[Target, ...]] = {}
    for code, targets in mapping.items():
        # kept first, then by confidence, then by code; one entry per target code
        seen: dict[str, Target] = {}
        for t in targets:
            if t.code not in seen or t.confidence > seen[t.code].confidence:
                seen[t.code] = t
        final[code] = tuple(sorted(seen.values(), key=lambda t: (t.change != "kept", -t.confidence, t.code)))
    order = {c: k for k, c in enumerate(CHANGES)}
    changes.sort(key=lambda c: (order[c.change], c.old, c.new))
    return len(kept), changes, final


def _give_receive(oc: sp.csr_array, nc: sp.csr_array, kept_old_rows: np.ndarray, kept_new_rows: np.ndarray
                  ) -> tuple[sp.csr_array, sp.csr_array]:
    """What each old row gives away (all, or what a kept code lost) and each new row receives."""
    out = sp.csr_array(oc, copy=True)
    inc = sp.csr_array(nc, copy=True)
    if len(kept_old_rows):
        o_k = oc[kept_old_rows]
        n_k = nc[kept_new_rows]
        out = _replace_rows(out, kept_old_rows, (o_k - o_k.multiply(n_k)).tocsr())
        inc = _replace_rows(inc, kept_new_rows, (n_k - n_k.multiply(o_k)).tocsr())
    out.eliminate_zeros()
    inc.eliminate_zeros()
    return out, inc


def _replace_rows(matrix: sp.csr_array, rows: np.ndarray, values: sp.csr_array) -> sp.csr_array:
    """``matrix`` with ``matrix[rows[k]] = values[k]`` (CSR, no densifying)."""
    keep = np.ones(matrix.shape[0], dtype=np.float32)
    keep[rows] = 0.0
    cleared = sp.csr_array(sp.diags_array(keep) @ matrix)
    placed = sp.csr_array((np.ones(len(rows), dtype=np.float32), (rows, np.arange(len(rows)))),
                          shape=(matrix.shape[0], len(rows))) @ values
    return sp.csr_array(cleared + placed)


def _suggest_all(old: _Side, new: _Side, rows: list[int], full_old: np.ndarray, full_new: np.ndarray,
                 *, by_label: bool, k: int = 3) -> dict[int, list[dict]]:
    """Closest new items of removed old items, for a human to check (never applied).

    By content cosine when the item has content (and ``by_label`` is False), else by label."""
    out: dict[int, list[dict]] = {i: [] for i in rows}
    if not rows or not new.codes:
        return out
    content_rows = [i for i in rows if full_old[i] > 0 and not by_label]
    if content_rows:
        dots = sp.csr_array(old.content[content_rows] @ new.content.T).toarray()
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = np.where(full_new[None, :] > 0, dots / np.sqrt(full_new[None, :] * full_old[content_rows][:, None]), 0.0)
        for r, i in enumerate(content_rows):
            for j in np.argsort(-cos[r], kind="stable")[:k]:
                if cos[r, j] > 0:
                    out[i].append({"code": new.codes[j], "label": new.labels.get(new.codes[j]),
                                   "profile_cosine": round(float(cos[r, j]), 3)})
    label_rows = [i for i in rows if not out[i] and old.labels.get(old.codes[i])]
    if label_rows:
        sims = process.cdist([old.normalised[i] for i in label_rows], new.normalised,
                             scorer=fuzz.token_sort_ratio, processor=None, dtype=np.uint8, workers=-1)
        for r, i in enumerate(label_rows):
            for j in np.argsort(-sims[r], kind="stable")[:k]:
                if sims[r, j] > 0:
                    out[i].append({"code": new.codes[j], "label": new.labels.get(new.codes[j]),
                                   "label_similarity": round(float(sims[r, j]) / 100, 3)})
    return out


# ---- the three kinds ------------------------------------------------------------------------------
def _occupation_sides(old: Referentiel, new: Referentiel, skill_map) -> tuple[_Side, _Side]:
    """Content of an occupation: its skills (in new codes) and its titles (text)."""
    vocab_items = (_prefixed("s:", new.skills["code"].to_list()) + _prefixed("s:", old.skills["code"].to_list())
                   + _prefixed("t:", new.titles["title"].to_list()) + _prefixed("t:", old.titles["title"].to_list()))
    vocab: dict[str, int] = {}
    for item in vocab_items:
        vocab.setdefault(item, len(vocab))
    title_vocab: dict[str, int] = {}
    for item in new.titles["title"].to_list() + old.titles["title"].to_list():
        title_vocab.setdefault(item, len(title_vocab))

    def side(r: Referentiel, mapping) -> _Side:
        rows, items = _translate(zip(r.links["occupation"].to_list(), r.links["skill"].to_list()), mapping)
        rows += r.titles["occupation"].to_list()
        items = _prefixed("s:", items) + _prefixed("t:", r.titles["title"].to_list())
        codes = r.occupations["code"].to_list()
        anchors = _incidence(r.titles["occupation"].to_list(), r.titles["title"].to_list(), codes, title_vocab)
        return _Side(codes, dict(zip(codes, r.occupations["label"].to_list())),
                     _incidence(rows, items, codes, vocab), anchors)

    return side(old, skill_map), side(new, None)


def _skill_sides(old: Referentiel, new: Referentiel, occupation_map) -> tuple[_Side, _Side]:
    """Content of a skill: the occupations that list it (in new codes)."""
    vocab: dict[str, int] = {}
    for c in new.occupations["code"].to_list() + old.occupations["code"].to_list():
        vocab.setdefault(c, len(vocab))

    def side(r: Referentiel, mapping) -> _Side:
        rows, items = _translate(zip(r.links["skill"].to_list(), r.links["occupation"].to_list()), mapping)
        codes = r.skills["code"].to_list()
        return _Side(codes, dict(zip(codes, r.skills["label"].to_list())), _incidence(rows, items, codes, vocab))

    return side(old, occupation_map), side(new, None)


def _title_sides(old: Referentiel, new: Referentiel, occupation_map) -> tuple[_Side, _Side]:
    """A title is identified by its text; its content is the occupation(s) it names (in new codes)."""
    vocab: dict[str, int] = {}
    for c in new.occupations["code"].to_list() + old.occupations["code"].to_list():
        vocab.setdefault(c, len(vocab))

    def side(r: Referentiel, mapping) -> _Side:
        rows, items = _translate(zip(r.titles["title"].to_list(), r.titles["occupation"].to_list()), mapping)
        codes = sorted(set(r.titles["title"].to_list()))
        return _Side(codes, {c: c for c in codes}, _incidence(rows, items, codes, vocab))

    return side(old, occupation_map), side(new, None)


def diff(old: Referentiel, new: Referentiel, params: Params = DEFAULT_PARAMS) -> ReferentialDiff:
    """Compare two referentials; see the module docstring for the method.

    Order: skills (occupations by identity), occupations (skills through the skill mapping),
    skills again (occupations through the occupation mapping), occupations again, then titles.
    """
    _, _, skill_map = _match("skill", *_skill_sides(old, new, None), params)
    _, _, occ_map = _match("occupation", *_occupation_sides(old, new, skill_map), params)
    n_skills, skill_changes, skill_map = _match("skill", *_skill_sides(old, new, occ_map), params)
    n_occ, occ_changes, occ_map = _match("occupation", *_occupation_sides(old, new, skill_map), params)
    n_titles, title_changes, title_map = _match("title", *_title_sides(old, new, occ_map), params,
                                                title_mode=True)
    # a title kept with the same text but whose occupation changed otherwise than by the mapping
    moved = _moved_titles(old, new, occ_map)
    return ReferentialDiff(
        old={"name": old.name, "version": old.version, "fingerprint": old.fingerprint},
        new={"name": new.name, "version": new.version, "fingerprint": new.fingerprint},
        kept={"occupation": n_occ, "skill": n_skills, "title": n_titles},
        changes=tuple(occ_changes + skill_changes + title_changes + moved),
        _mappings={"occupation": occ_map, "skill": skill_map, "title": title_map},
    )


def _moved_titles(old: Referentiel, new: Referentiel, occ_map) -> list[Change]:
    """Titles whose text is kept but now name an occupation other than the mapped old one."""
    old_t = old.titles.group_by("title").agg(pl.col("occupation").sort())
    new_t = new.titles.group_by("title").agg(pl.col("occupation").sort())
    joined = old_t.join(new_t, on="title", suffix="_new").sort("title")
    out = []
    for title, olds, news in joined.iter_rows():
        expected = sorted({t.code for o in olds for t in (occ_map.get(o) or ())})
        if not set(news) <= set(expected) | set(olds):
            out.append(Change("title", "moved", (title,), (title,), 1.0,
                              labels={"old": {"occupations": list(olds)}, "new": {"occupations": list(news)}}))
    return out


# ---- migrating the codes of a stored record -------------------------------------------------------
@dataclass(frozen=True)
class CodeMigration:
    """The codes of one field of one record, carried to the new version.

    ``codes``: the new codes, in the record's order, without duplicates; ``unmapped``: old codes
    with no target (removed), never dropped silently — the caller lists them with their record;
    ``audit``: one entry per old code that did not stay as it was (old code, new codes, change,
    confidence, and the alternatives not taken when a single code had to be chosen).
    """

    codes: tuple[str, ...]
    unmapped: tuple[str, ...]
    audit: tuple[dict, ...]

    @property
    def changed(self) -> bool:
        return bool(self.audit) or bool(self.unmapped)


def migrate_codes(mapping: dict[str, tuple[Target, ...]], codes: Iterable[str], *, single: bool = False,
                  known: set[str] | frozenset[str] | None = None) -> CodeMigration:
    """Carry ``codes`` (one field of a record) through ``mapping`` (``ReferentialDiff.mapping(kind)``).

    A list field (skills) takes every target of a split; a single-valued field (``single=True``: an
    offer's occupation) takes the best target and records the others in the audit. A code absent
    from the old version (not a key of ``mapping``) is kept if the new version knows it (``known``),
    else reported unmapped.
    """
    out: list[str] = []
    unmapped: list[str] = []
    audit: list[dict] = []
    for code in codes:
        targets = mapping.get(code)
        if targets is None:
            if known is not None and code in known:
                out.append(code)
            else:
                unmapped.append(code)
                audit.append({"old": code, "new": [], "change": "unknown", "confidence": 0.0})
            continue
        if not targets:
            unmapped.append(code)
            audit.append({"old": code, "new": [], "change": "removed", "confidence": 0.0})
            continue
        chosen = targets[:1] if single else targets
        if not (len(targets) == 1 and targets[0].change == "kept"):
            entry = {"old": code, "new": [t.code for t in chosen],
                     "change": "+".join(sorted({t.change for t in targets} - {"kept"})) or "kept",
                     "confidence": min(t.confidence for t in chosen)}
            if single and len(targets) > 1:
                entry["alternatives"] = [{"code": t.code, "confidence": t.confidence} for t in targets[1:]]
            audit.append(entry)
        out.extend(t.code for t in chosen)
    return CodeMigration(tuple(dict.fromkeys(out)), tuple(unmapped), tuple(audit))
