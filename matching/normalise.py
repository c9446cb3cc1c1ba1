"""Free text to codes: job titles and skill phrases, as people type them, to referential codes.

Interface (what the rest of the project calls)::

    titles = TitleNormaliser.fit(referentiel)        # once per referential (about 0.3 s on ROME)
    match = titles.search("Soudeuse TIG", k=5)        # -> Match: .best, .candidates, .confident
    matches = titles.batch(list_of_texts, k=5)        # -> list[Match], thousands per second
    skills = SkillNormaliser.fit(referentiel)         # same interface over the skills
    validate_text(text)                               # raises InvalidText (empty, > 500 chars, binary)

How a text is matched (the same for any referential, in any language):

1. **Folding** (:func:`fold`): Unicode NFKD, accents and case dropped, ligatures spelled out
   (``œ`` -> ``oe``), job-ad gender markers removed (``(H/F)``, ``Opérateur/trice``,
   ``Agent(e)``), words split on anything that is not a letter or a digit. Then two word maps:
   the common abbreviations of French job ads (``prod`` -> ``production``), and the feminine ->
   masculine word map that :meth:`fit` *learns from the referential's own titles*
   ("Conducteur / Conductrice de ligne" teaches ``conductrice`` -> ``conducteur``). These two
   steps are the only language-specific parts; a referential without "X / Y" titles simply
   learns an empty map.
2. **Retrieval**: every occupation label and title (every skill label, and a title's acronym form:
   "Soudeur TIG" for "Soudeur Tungsten Inert Gas -TIG-") is a bag of words weighted by IDF in a
   sparse matrix. A word of the query that the referential does not know is resolved to known
   words by edit similarity (typos: rapidfuzz ``cdist`` over the vocabulary, once per distinct
   unknown word of a batch) and by prefix (truncated words; the last word from two letters, as
   it is being typed). One sparse product per 2,048 queries finds the candidates through the
   query's selective words (the long posting lists of common words such as "de" are skipped and
   their share of the cosine added afterwards from a small dense block): an IDF-weighted
   cosine, order-free, so swapped words cost nothing.
3. **Re-ranking**: the best entries of each query are re-scored with rapidfuzz ``ratio`` on the
   folded strings (``process.cpdist``, native threads), which rewards the right word order and
   prefix: ``score = 0.7 * cosine + 0.3 * ratio``, a float32 in [0, 1].
4. **Aggregation**: an occupation (a skill) scores the best of its entries and reports the entry
   that matched. Candidates are sorted by score, ties broken by code. Below ``threshold`` the
   match is not ``confident``; its candidates are still returned as suggestions.

Pure: no file, network or database access; the objects are immutable after ``fit``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, process

from .errors import MatchingError

MAX_TEXT_CHARS = 500
"""Longest accepted input text, in characters (after trimming)."""
DEFAULT_THRESHOLD = 0.6
"""Below this score, a match is reported as not confident."""

COSINE_WEIGHT = 0.7
RATIO_WEIGHT = 1.0 - COSINE_WEIGHT
PREFIX_SIMILARITY = 0.9   # a known word that starts with the typed (truncated) word
MIN_PREFIX_CHARS = 3
MIN_LAST_PREFIX_CHARS = 2  # the last word of a query, being typed
MAX_PREFIX_EXPANSIONS = 40
TYPO_CUTOFF = 75.0        # rapidfuzz ratio (0-100) above which an unknown word is a typo of a known one
MIN_TYPO_CHARS = 4
MAX_TYPO_EXPANSIONS = 3
RERANK_PER_QUERY = 48     # entries per query re-scored by rapidfuzz
RERANK_MARGIN = 0.35      # ... among those within this cosine of the query's best entry
COMMON_SHARE = 0.01       # a word in more than this share of the entries is "common" (not used to retrieve)
COMMON_MIN_DF = 50
QUERY_CHUNK = 2048        # queries per sparse product (bounds memory in batch mode)
RANK_CHUNK = 32768        # queries ranked together (their row numbers fit the 16 bits of a sort key)
SCORE_STEPS = 10_000      # scores are multiples of 1e-4
FALLBACK_ENTRIES = 20
FALLBACK_QUERY_CHARS = 64
"""The first characters of a folded text that the character-level fallback compares (``WRatio``
costs about the product of the two lengths, for every entry): a text of another script or of
gibberish, or one that compatibility decomposition inflates (U+FDFA is 18 characters once folded),
would otherwise cost seconds per text (issue 17 red team: 21 s for 500 x U+FDFA on the demo; 0.05 s
with this cap, against 0.18 s at 120 characters)."""


class InvalidText(ValueError):
    """A text the normaliser refuses: empty, longer than MAX_TEXT_CHARS, or binary.

    ``reason`` is one of ``"empty"``, ``"too-long"``, ``"binary"``, ``"not-text"``; ``index`` is the
    position of the text in a batch (None for a single text).
    """

    def __init__(self, reason: str, message: str, index: int | None = None) -> None:
        super().__init__(message if index is None else f"item {index}: {message}")
        self.reason, self.index, self.message = reason, index, message


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ufffe\uffff]")


def validate_text(text: object, index: int | None = None) -> str:
    """Return ``text`` trimmed, or raise :class:`InvalidText` saying what is wrong with it."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        raise InvalidText("binary", "expected text, got bytes", index)
    if not isinstance(text, str):
        raise InvalidText("not-text", f"expected text, got {type(text).__name__}", index)
    stripped = text.strip()
    if not stripped:
        raise InvalidText("empty", "the text is empty", index)
    if len(stripped) > MAX_TEXT_CHARS:
        raise InvalidText("too-long", f"the text has {len(stripped)} characters; at most {MAX_TEXT_CHARS} "
                                      "are accepted", index)
    bad = _CONTROL.search(stripped)
    if bad:
        raise InvalidText("binary", f"the text contains the control or invalid character "
                                    f"U+{ord(bad.group()):04X} at position {bad.start()}: binary data?", index)
    return stripped


# ---- folding ---------------------------------------------------------------------------------

# Common abbreviations of French job ads (folded form -> folded words). Applied to the referential's
# entries and to queries alike, so an expansion is always consistent on both sides.
ABBREVIATIONS: dict[str, str] = {
    "prod": "production", "agro": "alimentaire", "agroalim": "alimentaire", "agroalimentaire": "alimentaire",
    "iaa": "industrie alimentaire",
    "maint": "maintenance", "tech": "technicien", "techn": "technicien", "techni": "technicien",
    "resp": "responsable", "respo": "responsable", "assist": "assistant", "asst": "assistant",
    "cond": "conducteur", "op": "operateur", "ope": "operateur", "opera": "operateur",
    "agt": "agent", "adj": "adjoint", "dir": "directeur", "ing": "ingenieur", "ingé": "ingenieur",
    "cial": "commercial", "comm": "commercial", "admin": "administratif", "adm": "administratif",
    "compta": "comptable", "log": "logistique", "logist": "logistique", "appro": "approvisionnement",
    "info": "informatique", "dev": "developpeur", "mgr": "manager", "sce": "service",
    "rh": "ressources humaines", "grh": "gestion des ressources humaines", "sav": "service apres vente",
    "vl": "vehicule leger", "pl": "poids lourd", "spl": "super poids lourd", "ets": "etablissement",
    "elec": "electricite", "electromeca": "electromecanique", "meca": "mecanique", "mecan": "mecanicien",
    "qual": "qualite", "manut": "manutention", "prepa": "preparateur", "ouv": "ouvrier",
    "aux": "auxiliaire", "cons": "conseiller", "coord": "coordinateur", "ass": "assistant",
    "secr": "secretaire", "sec": "secretaire", "vend": "vendeur", "hab": "habilitation",
    "magas": "magasinier", "mag": "magasinier", "dpt": "departement", "ent": "entretien",
    "inst": "installateur", "instal": "installateur", "prof": "professeur", "ens": "enseignant",
    "pharma": "pharmaceutique", "hosp": "hospitalier", "chir": "chirurgical", "med": "medical",
    "anim": "animateur", "ctrl": "controle", "cde": "commande", "equip": "equipe",
}

# Job-ad gender markers: "(H/F)", "H/F", "F/H", "(M/F)", "(m/w/d)" ...
_AD_GENDER = re.compile(r"[\(\[]?\b(?:h\s*/\s*f|f\s*/\s*h|m\s*/\s*f|f\s*/\s*m|m\s*/\s*w\s*/\s*d|h\s*/\s*f\s*/\s*x)\b[\)\]]?",
                        re.IGNORECASE)
# Feminine endings written after the masculine word: "Opérateur/trice", "Agent(e)", "employé.e", "chef·fe".
_SUFFIX_GENDER = re.compile(
    r"(?<=\w)(?:\s*/\s*|\(|\.|·|•)(e|ne|se|fe|le|euse|rice|trice|ere|ère|ière|iere|ienne|esse|sse|ve)\)?(?=\W|$)",
    re.IGNORECASE)
_MARKS = re.compile(r"[/(.·•]")  # cheap test before the costlier _SUFFIX_GENDER
_WORD = re.compile(r"\w+")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "ø": "o", "Ø": "o",
                            "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ı": "i", "’": "'"})


_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def strip_accents(text: str) -> str:
    """Lower case, ligatures spelled out, diacritical marks (accents) removed.

    Only the combining *diacritical* blocks are dropped, so scripts whose vowels are combining
    signs (Devanagari, Arabic harakat ...) keep them.
    """
    text = text.translate(_LIGATURES).lower()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def fold_words(text: str) -> list[str]:
    """Words of ``text`` after removing job-ad gender markers, accents and case (no word maps)."""
    if "/" in text:
        text = _AD_GENDER.sub(" ", text)
    if _MARKS.search(text):
        text = _SUFFIX_GENDER.sub("", text)
    return _WORD.findall(strip_accents(text).replace("_", " "))


_SLASH = re.compile(r"\s*/\s*")


def split_gendered(title: str) -> tuple[str, str] | None:
    """``"Conducteur / Conductrice de ligne"`` -> ``("Conducteur de ligne", "Conductrice de ligne")``.

    The referential's "masculine / feminine" convention: the part before ``/`` is the masculine
    head, the part after is the feminine head followed by the rest of the title. None when the
    title has no single ``/`` or its two heads do not look like two forms of the same words (each
    pair of words must share its first three letters, as in "Chef / Cheffe", "Hôte / Hôtesse").
    """
    parts = _SLASH.split(title)
    if len(parts) != 2:
        return None
    left, right = parts
    masc_head, fem_all = left.split(), right.split()
    n = len(masc_head)
    if n == 0 or len(fem_all) < n:
        return None
    for m, f in zip(masc_head, fem_all[:n]):
        if strip_accents(m)[:3] != strip_accents(f)[:3]:
            return None
    return " ".join(masc_head + fem_all[n:]), right


def learn_gender_map(titles: Iterable[str]) -> dict[str, str]:
    """Feminine folded word -> masculine folded word, learnt from "Masc / Fém ..." titles.

    A pair seen in both orders ("Agente / Agent de bio-nettoyage") keeps its majority direction, so
    no word is both a key and a value.
    """
    votes: Counter = Counter()
    for title in titles:
        pair = split_gendered(title)
        if pair is None:
            continue
        masc, fem = pair
        for m, f in zip(fold_words(masc), fold_words(fem)):
            if m != f:
                votes[f, m] += 1
    best: dict[str, tuple[int, str]] = {}
    for (f, m), n in sorted(votes.items()):
        if n > votes[m, f] or (n == votes[m, f] and len(m) < len(f)):
            if n > best.get(f, (0, ""))[0]:
                best[f] = (n, m)
    mapping = {f: m for f, (_, m) in best.items()}
    return {f: m for f, m in sorted(mapping.items()) if m not in mapping}


def fold(text: str, gender_map: dict[str, str] | None = None,
         abbreviations: dict[str, str] | None = ABBREVIATIONS) -> str:
    """The folded form of ``text``: the words that retrieval and re-ranking compare, space-joined.

    >>> fold("Opérateur/trice de PROD (H/F)")
    'operateur de production'
    """
    if "/" in text:
        text = _AD_GENDER.sub(" ", text)
    pair = split_gendered(text)
    if pair is not None:
        text = pair[0]
    words: list[str] = []
    for word in fold_words(text):
        if abbreviations and word in abbreviations:
            words.extend(abbreviations[word].split())
        elif gender_map and word in gender_map:
            words.append(gender_map[word])
        else:
            words.append(word)
    return " ".join(words)


# ---- results ---------------------------------------------------------------------------------

class Candidate(NamedTuple):
    """One code proposed for a text: ``score`` in [0, 1], ``matched`` the title or label that matched.

    (A named tuple: immutable, and cheap to build by the tens of thousands in a batch.)
    """

    code: str
    label: str
    score: float
    matched: str

    def as_dict(self) -> dict:
        return {"code": self.code, "label": self.label, "score": self.score, "matched": self.matched}


class Match(NamedTuple):
    """The answer for one text: candidates sorted by score (ties by code), best first."""

    text: str
    candidates: tuple[Candidate, ...]
    confident: bool

    @property
    def best(self) -> Candidate | None:
        """The best candidate if the match is confident, else None (see ``candidates`` for suggestions)."""
        return self.candidates[0] if self.confident and self.candidates else None

    def as_dict(self) -> dict:
        return {"text": self.text, "confident": self.confident,
                "best": self.best.as_dict() if self.best else None,
                "candidates": [c.as_dict() for c in self.candidates]}


# ---- the index -------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _Index:
    """Entries (folded strings) pointing at targets (codes), with the sparse IDF word matrix.

    Shapes: ``words_by_entry`` (n_words, n_entries) float32 CSR, IDF weights with every entry's
    column L2-normalised; ``common_dense`` (n_common, n_entries) float32, the rows of the common
    words (in more than ``COMMON_SHARE`` of the entries) as a dense block; ``entry_target``
    (n_entries,) int32 row into ``codes``; ``idf`` (n_words,) float32.
    """

    codes: tuple[str, ...]
    labels: tuple[str, ...]
    entry_text: tuple[str, ...]        # folded, compared by rapidfuzz
    entry_display: tuple[str, ...]     # as written in the referential
    entry_target: np.ndarray
    vocabulary: dict[str, int]
    words_list: tuple[str, ...]        # vocabulary by id
    sorted_words: tuple[str, ...]      # vocabulary in sorted order (prefix search)
    sorted_ids: np.ndarray
    typo_words: tuple[str, ...]        # vocabulary + the feminine words of the gender map
    typo_ids: np.ndarray               # ... and the vocabulary id each stands for
    idf: np.ndarray
    unknown_idf: float
    words_by_entry: sp.csr_array
    common_slot: np.ndarray            # (n_words,) int32: row in common_dense, -1 if not common
    common_dense: np.ndarray
    gender_map: dict[str, str] = field(repr=False)

    @classmethod
    def build(cls, codes: Sequence[str], labels: Sequence[str], entries: Sequence[tuple[str, int]],
              gender_map: dict[str, str]) -> "_Index":
        """``entries``: (text as written, target row) pairs; duplicates (same folded text and target) dropped."""
        seen: set[tuple[str, int]] = set()
        texts, display, target = [], [], []
        for written, row in entries:
            folded = fold(written, gender_map)
            if not folded or (folded, row) in seen:
                continue
            seen.add((folded, row))
            texts.append(folded)
            display.append(written)
            target.append(row)
        vocabulary: dict[str, int] = {}
        rows, cols = [], []
        for i, text in enumerate(texts):
            for word in dict.fromkeys(text.split()):
                rows.append(i)
                cols.append(vocabulary.setdefault(word, len(vocabulary)))
        n_entries, n_words = len(texts), len(vocabulary)
        rows_a, cols_a = np.asarray(rows, dtype=np.int32), np.asarray(cols, dtype=np.int32)
        df = np.bincount(cols_a, minlength=n_words)
        idf = (np.log((n_entries + 1) / (df + 1)) + 1.0).astype(np.float32)
        values = idf[cols_a]
        norms = np.sqrt(np.bincount(rows_a, weights=values.astype(np.float64) ** 2, minlength=n_entries))
        values = (values / norms[rows_a]).astype(np.float32)
        words_by_entry = sp.csr_array((values, (cols_a, rows_a)), shape=(n_words, n_entries))
        words_by_entry.sort_indices()
        common = np.flatnonzero(df > max(COMMON_MIN_DF, COMMON_SHARE * n_entries)).astype(np.int32)
        common_slot = np.full(n_words, -1, dtype=np.int32)
        common_slot[common] = np.arange(common.size, dtype=np.int32)
        common_dense = words_by_entry[common].toarray().astype(np.float32) if common.size else \
            np.zeros((0, n_entries), dtype=np.float32)
        words_list = [""] * n_words
        for word, i in vocabulary.items():
            words_list[i] = word
        order = sorted(range(n_words), key=words_list.__getitem__)
        feminine = [(f, vocabulary[m]) for f, m in gender_map.items() if m in vocabulary and f not in vocabulary]
        return cls(codes=tuple(codes), labels=tuple(labels), entry_text=tuple(texts), entry_display=tuple(display),
                   entry_target=np.asarray(target, dtype=np.int32), vocabulary=vocabulary,
                   words_list=tuple(words_list), sorted_words=tuple(words_list[i] for i in order),
                   sorted_ids=np.asarray(order, dtype=np.int32),
                   typo_words=tuple(words_list) + tuple(f for f, _ in feminine),
                   typo_ids=np.asarray(list(range(n_words)) + [m for _, m in feminine], dtype=np.int32),
                   idf=idf, unknown_idf=float(math.log(n_entries + 1) + 1.0), words_by_entry=words_by_entry,
                   common_slot=common_slot, common_dense=common_dense, gender_map=gender_map)

    # -- query side ------------------------------------------------------------------------------
    def _prefixed(self, word: str, min_chars: int = MIN_PREFIX_CHARS) -> list[int]:
        """Ids of known words that start with ``word`` (a truncated or abbreviated word), the most
        common first when there are more than ``MAX_PREFIX_EXPANSIONS``."""
        if len(word) < min_chars:
            return []
        lo = bisect_left(self.sorted_words, word)
        hi = bisect_left(self.sorted_words, word + "\U0010ffff", lo)
        ids = self.sorted_ids[lo:hi]
        if ids.size > MAX_PREFIX_EXPANSIONS:
            ids = ids[np.argsort(self.idf[ids], kind="stable")[:MAX_PREFIX_EXPANSIONS]]
        return ids.tolist()

    def _resolve_unknown(self, words: list[str], workers: int) -> dict[str, list[tuple[int, float]]]:
        """Each unknown word -> [(known word id, similarity in (0, 1])]: typos (edit ratio) and prefixes."""
        resolved: dict[str, dict[int, float]] = {w: {} for w in words}
        typo_words = [w for w in words if len(w) >= MIN_TYPO_CHARS]
        for start in range(0, len(typo_words) if self.typo_words else 0, 1024):
            chunk = typo_words[start:start + 1024]
            scores = process.cdist(chunk, self.typo_words, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF,
                                   dtype=np.uint8, workers=workers)
            qi, wi = np.nonzero(scores)
            for q, w, score in zip(qi.tolist(), wi.tolist(), scores[qi, wi].tolist()):
                found = resolved[chunk[q]]
                j = int(self.typo_ids[w])
                found[j] = max(found.get(j, 0.0), score / 100.0)
        out = {}
        for word, found in resolved.items():
            if len(found) > MAX_TYPO_EXPANSIONS:
                found = dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TYPO_EXPANSIONS])
            for j in self._prefixed(word):
                found[j] = max(found.get(j, 0.0), PREFIX_SIMILARITY)
            out[word] = sorted(found.items())
        return out

    def _query_matrix(self, folded: list[str], workers: int) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
        """(n_queries, n_words) float32 CSR of query word weights, the (n_queries,) query norms, and
        (n_queries,) bool: whether a word of the query (or a typo's resolution) is not common.

        A known word weighs its IDF; an unknown word its resolutions' similarity x IDF (and, in the
        norm, its best resolution's IDF, or the IDF of a word never seen when it has none, so that
        unknown words lower the score).
        """
        vocabulary, idf = self.vocabulary, self.idf
        unknown = sorted({w for text in folded for w in text.split() if w not in vocabulary})
        resolved = self._resolve_unknown(unknown, workers) if unknown else {}
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        norms = np.empty(len(folded), dtype=np.float32)
        selective = np.zeros(len(folded), dtype=bool)
        common_slot = self.common_slot
        for q, text in enumerate(folded):
            weights: dict[int, float] = {}
            readings: list[tuple[float, list[tuple[int, float]]]] = []  # (idf counted in the norm, [(id, similarity)])
            norm2 = 0.0
            words = list(dict.fromkeys(text.split()))
            for position, word in enumerate(words):
                j = vocabulary.get(word)
                if j is not None:
                    w = float(idf[j])
                    weights[j] = w
                    norm2 += w * w
                    selective[q] |= common_slot[j] < 0
                    # The last word may be cut short (search as you type): its longer forms count, half.
                    if position == len(words) - 1:
                        longer = [(k, 0.5 * PREFIX_SIMILARITY) for k in self._prefixed(word) if k != j]
                        if longer:
                            readings.append((w, longer))
                    continue
                matches = resolved.get(word, ())
                if not matches and position == len(words) - 1:
                    # A short last word being typed ("conducteur de li"): its completions.
                    matches = [(k, PREFIX_SIMILARITY) for k in self._prefixed(word, MIN_LAST_PREFIX_CHARS)]
                if not matches:
                    norm2 += self.unknown_idf ** 2  # a word nobody knows lowers the score
                    continue
                top = min(matches, key=lambda m: (-m[1], float(idf[m[0]]), m[0]))[0]
                norm2 += float(idf[top]) ** 2
                readings.append((float(idf[top]), list(matches)))
                selective[q] |= common_slot[top] < 0  # only the closest reading decides
            norm = math.sqrt(norm2) if norm2 > 0 else 1.0
            # Scale each reading k of an unresolved word so that dot / norm is the cosine the query
            # would have had with k written instead: a rare and a common completion compete evenly.
            for counted, matches in readings:
                rest = norm2 - counted * counted
                for k, similarity in matches:
                    w_k = float(idf[k])
                    w = similarity * w_k * norm / math.sqrt(rest + w_k * w_k)
                    if w > weights.get(k, 0.0):
                        weights[k] = w
            for k in sorted(weights):
                indices.append(k)
                data.append(weights[k])
            indptr.append(len(indices))
            norms[q] = norm
        matrix = sp.csr_array((np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32),
                               np.asarray(indptr, dtype=np.int64)), shape=(len(folded), len(self.words_list)))
        return matrix, norms, selective

    def _cosines(self, queries: sp.csr_array, norms: np.ndarray, selective: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate (query row, entry, cosine) triples of a chunk of queries.

        Candidates come from the query's selective words only (the posting lists of common words
        such as "de" or "technicien" are long); the common words' share of each candidate's cosine
        is then added from the dense block. A query made only of common words (``selective`` False)
        retrieves with them.
        """
        n_q = queries.shape[0]
        common = self.common_slot[queries.indices] >= 0
        q_rows = np.repeat(np.arange(n_q, dtype=np.int32), np.diff(queries.indptr))
        dropped = common & selective[q_rows]
        retrieval = queries.copy()
        retrieval.data[dropped] = 0.0
        retrieval.eliminate_zeros()
        scores = (retrieval @ self.words_by_entry).tocsr()
        rows = np.repeat(np.arange(n_q, dtype=np.int32), np.diff(scores.indptr))
        entries = scores.indices.astype(np.int32)
        dots = scores.data.astype(np.float32)
        if dropped.any() and rows.size:
            # Add q[row, c] * W[c, entry] for every dropped common word c of each candidate's row.
            d_rows, d_slots, d_vals = q_rows[dropped], self.common_slot[queries.indices[dropped]], queries.data[dropped]
            d_indptr = np.searchsorted(d_rows, np.arange(n_q + 1))
            per = np.diff(d_indptr)[rows]
            owner = np.repeat(np.arange(rows.size), per)
            position = np.repeat(d_indptr[rows], per) + (np.arange(owner.size) - np.repeat(np.cumsum(per) - per, per))
            extra = d_vals[position] * self.common_dense[d_slots[position], entries[owner]]
            dots = dots + np.bincount(owner, weights=extra, minlength=rows.size).astype(np.float32)
        return rows, entries, np.minimum(dots / norms[rows], 1.0).astype(np.float32)

    def _top_entries(self, folded: list[str], k: int, workers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Re-scored candidate entries of every query: (query row, entry, score) arrays."""
        out_q, out_e, out_s = [], [], []
        for start in range(0, len(folded), QUERY_CHUNK):
            chunk = folded[start:start + QUERY_CHUNK]
            rows, entries, cosine = self._cosines(*self._query_matrix(chunk, workers))
            if rows.size == 0:
                continue
            # Keep, per query, the entries close to its best one (all of them when fewer than 2k are),
            # then its best max(RERANK_PER_QUERY, 2k). ``rows`` come sorted from the sparse product.
            n = len(chunk)
            starts = np.searchsorted(rows, np.arange(n))
            nonempty = np.bincount(rows, minlength=n) > 0
            row_max = np.zeros(n, dtype=np.float32)
            row_max[nonempty] = np.maximum.reduceat(cosine, starts[nonempty])
            close = cosine >= row_max[rows] - RERANK_MARGIN
            keep = close | (np.bincount(rows[close], minlength=n) < 2 * k)[rows]
            rows, entries, cosine = rows[keep], entries[keep], cosine[keep]
            order = np.argsort(_sort_key(rows, 1.0 - cosine, entries))  # by row, cosine desc, entry
            rows, entries, cosine = rows[order], entries[order], cosine[order]
            rank = np.arange(rows.size) - np.searchsorted(rows, rows, side="left")
            keep = rank < max(RERANK_PER_QUERY, 2 * k)
            rows, entries, cosine = rows[keep], entries[keep], cosine[keep]
            ratio = process.cpdist([chunk[r] for r in rows.tolist()], [self.entry_text[e] for e in entries.tolist()],
                                   scorer=fuzz.ratio, dtype=np.float32, workers=workers) / 100.0
            out_q.append(rows + start)
            out_e.append(entries)
            out_s.append((COSINE_WEIGHT * cosine + RATIO_WEIGHT * ratio).astype(np.float32))
        # A text none of whose words resolves (gibberish, another script): character-level suggestions only,
        # scored at most RATIO_WEIGHT, so never confident.
        found = np.zeros(len(folded), dtype=bool)
        for q in out_q:
            found[q] = True
        for q in np.flatnonzero(~found).tolist():
            hits = process.extract(folded[q][:FALLBACK_QUERY_CHARS], self.entry_text, scorer=fuzz.WRatio,
                                   limit=max(FALLBACK_ENTRIES, 4 * k))
            if hits:
                out_q.append(np.full(len(hits), q, dtype=np.int32))
                out_e.append(np.asarray([h[2] for h in hits], dtype=np.int32))
                out_s.append(np.asarray([RATIO_WEIGHT * h[1] / 100.0 for h in hits], dtype=np.float32))
        if not out_q:
            return np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.float32)
        return np.concatenate(out_q), np.concatenate(out_e), np.concatenate(out_s)

    def rank(self, texts: Sequence[str], k: int, threshold: float, workers: int) -> list[Match]:
        results: list[Match] = []
        for start in range(0, len(texts), RANK_CHUNK):
            results += self._rank_chunk(texts[start:start + RANK_CHUNK], k, threshold, workers)
        return results

    def _rank_chunk(self, texts: Sequence[str], k: int, threshold: float, workers: int) -> list[Match]:
        folded = [fold(t, self.gender_map) for t in texts]
        rows, entries, scores = self._top_entries(folded, k, workers)
        targets = self.entry_target[entries]
        # Scores are rounded once (to 1e-4) so that ties are exact and their order is the same on every run.
        steps = np.rint(scores.astype(np.float64) * SCORE_STEPS).astype(np.int64)
        # Best entry per (query, target): sort by query, score desc, entry; keep each pair's first.
        order = np.argsort(_sort_key(rows, SCORE_STEPS - steps, entries, scale=1))
        rows, entries, steps, targets = rows[order], entries[order], steps[order], targets[order]
        _, first = np.unique(rows.astype(np.int64) * len(self.codes) + targets, return_index=True)
        rows, entries, steps, targets = rows[first], entries[first], steps[first], targets[first]
        # Targets by score desc, then code asc (target rows follow the codes' sorted order).
        order = np.argsort(_sort_key(rows, SCORE_STEPS - steps, targets, scale=1))
        rows, entries, steps, targets = rows[order], entries[order], steps[order], targets[order]
        bounds = np.searchsorted(rows, np.arange(len(texts) + 1))
        codes, labels, display = self.codes, self.labels, self.entry_display
        results = []
        for q, text in enumerate(texts):
            lo = int(bounds[q])
            hi = min(int(bounds[q + 1]), lo + k)
            candidates = tuple(Candidate(codes[t], labels[t], s / SCORE_STEPS, display[e]) for t, e, s in
                               zip(targets[lo:hi].tolist(), entries[lo:hi].tolist(), steps[lo:hi].tolist()))
            results.append(Match(text, candidates, bool(candidates) and candidates[0].score >= threshold))
        return results


def _sort_key(rows: np.ndarray, low_first: np.ndarray, ids: np.ndarray, scale: float = 2.0 ** 20) -> np.ndarray:
    """One int64 key ordering by (row, low_first ascending, id): 16 bits of row, 22 of value, 25 of id.

    ``low_first``: floats in [0, 1] quantised by ``scale`` (2**20 steps), or integers (``scale=1``).
    """
    value = np.rint(low_first * scale).astype(np.int64) if scale != 1 else low_first.astype(np.int64)
    return (rows.astype(np.int64) << 47) | (value << 25) | ids.astype(np.int64)


class _Normaliser:
    """Shared behaviour of :class:`TitleNormaliser` and :class:`SkillNormaliser`."""

    def __init__(self, index: _Index, threshold: float = DEFAULT_THRESHOLD, semantic: "_Semantic | None" = None,
                 fusion: "Fusion | None" = None) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        self._index = index
        self.threshold = float(threshold)
        self._semantic = semantic
        self.fusion = fusion or self.default_fusion()
        self._code_row = {code.upper(): row for row, code in enumerate(index.codes)}

    @classmethod
    def default_fusion(cls) -> "Fusion":
        """The fusion used by :meth:`with_encoder` when none is given (titles: :class:`Fusion`'s defaults)."""
        return Fusion()

    @property
    def n_entries(self) -> int:
        """How many distinct folded labels and titles are indexed."""
        return len(self._index.entry_text)

    @property
    def gender_map(self) -> dict[str, str]:
        """The feminine -> masculine word map learnt from the referential (a copy)."""
        return dict(self._index.gender_map)

    @property
    def semantic_texts(self) -> tuple[str, ...]:
        """The texts to embed for :meth:`with_encoder`: every indexed label and title as written,
        in index order (duplicates possible: an encoder's batch helper encodes each once)."""
        return self._index.entry_display

    @property
    def encoder(self):
        """The encoder of the semantic path, or None (lexical only)."""
        return self._semantic.encoder if self._semantic is not None else None

    def with_encoder(self, encoder, vectors: np.ndarray, fusion: "Fusion | None" = None):
        """A copy of this normaliser that also reads texts with ``encoder``.

        ``vectors``: (len(semantic_texts), encoder.dim) unit rows, float16 or float32 (a memory-mapped
        cache is fine: it is read once, into a float32 copy grouped by code), the embeddings of
        :attr:`semantic_texts` by this encoder with role ``"query"``.
        """
        semantic = _Semantic.build(encoder, vectors, self._index.entry_target, len(self._index.codes))
        return type(self)(self._index, self.threshold, semantic, fusion or self.fusion)

    def fold(self, text: str) -> str:
        """The folded form of ``text`` as this normaliser compares it."""
        return fold(text, self._index.gender_map)

    def search(self, text: str, k: int = 5, semantic: bool = True) -> Match:
        """The top-``k`` codes for one text. Raises :class:`InvalidText` on empty, too long or binary text.

        ``semantic=False``: lexical only even with an encoder (search as you type, where the text
        is still incomplete and every keystroke counts).
        """
        _check_k(k)
        return self._rank([validate_text(text)], k, workers=1, semantic=semantic)[0]

    def batch(self, texts: Sequence[str], k: int = 5, workers: int = -1, semantic: bool = True) -> list[Match]:
        """The top-``k`` codes for each text, in input order (``workers``: rapidfuzz threads, -1 = all cores).

        Raises :class:`InvalidText` naming the first invalid item's index.
        """
        _check_k(k)
        clean = [validate_text(t, i) for i, t in enumerate(texts)]
        if not clean:
            return []
        return self._rank(clean, k, workers, semantic=semantic)

    def semantic_search(self, text: str, k: int = 5) -> Match:
        """The top-``k`` codes for one text by the encoder alone (cosine of the best entry per code).

        Raises :class:`InvalidText` on bad text, :class:`SemanticUnavailable` without an encoder.
        """
        _check_k(k)
        if self._semantic is None:
            raise SemanticUnavailable("this normaliser has no encoder (see with_encoder)")
        clean = validate_text(text)
        vector = self._semantic.encoder.encode([clean], "query")
        targets, cosines, entries = self._semantic.top(vector, k)
        return self._match(clean, targets[0], cosines[0], entries[0])

    # -- ranking ---------------------------------------------------------------------------------
    def _match(self, text: str, targets, scores, entries) -> Match:
        codes, labels, display = self._index.codes, self._index.labels, self._index.entry_display
        candidates = tuple(Candidate(codes[t], labels[t], s, display[e]) for t, s, e in
                           zip(np.asarray(targets).tolist(), np.asarray(scores).tolist(),
                               np.asarray(entries).tolist()))
        return Match(text, candidates, bool(candidates) and candidates[0].score >= self.threshold)

    def _rank(self, texts: list[str], k: int, workers: int, semantic: bool = True) -> list[Match]:
        """Exact codes first, then the lexical ranking, then the semantic fusion where it is uncertain."""
        results: list[Match | None] = [None] * len(texts)
        rest: list[int] = []
        code_row = self._code_row
        for i, text in enumerate(texts):
            row = code_row.get(text.upper()) if len(text) <= 24 else None
            if row is None:
                rest.append(i)
            else:
                code = self._index.codes[row]
                results[i] = Match(text, (Candidate(code, self._index.labels[row], 1.0, code),), True)
        if not rest:
            return results  # type: ignore[return-value]
        lexical_texts = texts if len(rest) == len(texts) else [texts[i] for i in rest]
        lexical = self._index.rank(lexical_texts, max(k, 2), self.threshold, workers)
        if semantic and self._semantic is not None:
            uncertain = [j for j, match in enumerate(lexical) if not self.fusion.certain(match)]
            if uncertain:
                fused = self._fuse([lexical_texts[j] for j in uncertain], k, workers)
                for j, match in zip(uncertain, fused):
                    lexical[j] = match
        for i, match in zip(rest, lexical):
            if len(match.candidates) > k:
                match = match._replace(candidates=match.candidates[:k])
            results[i] = match
        return results  # type: ignore[return-value]

    def _fuse(self, texts: list[str], k: int, workers: int) -> list[Match]:
        """Lexical and semantic candidates of ``texts`` fused by :attr:`fusion` (see :class:`Fusion`)."""
        semantic, fusion = self._semantic, self.fusion
        n_targets = len(self._index.codes)
        pool = self._index.rank(texts, fusion.pool, self.threshold, workers)
        row_of = {code: row for row, code in enumerate(self._index.codes)}
        unique = list(dict.fromkeys(texts))
        vectors = semantic.encoder.encode(unique, "query")
        position = {text: i for i, text in enumerate(unique)}
        results = []
        for start in range(0, len(texts), SEMANTIC_CHUNK):
            chunk = texts[start:start + SEMANTIC_CHUNK]
            cos_entries = vectors[[position[t] for t in chunk]] @ semantic.vectors.T   # (n, n_entries) by row
            cos_targets = semantic.by_target(cos_entries)                               # (n, n_targets)
            for q, text in enumerate(chunk):
                match = pool[start + q]
                lex = np.zeros(n_targets, dtype=np.float32)
                lex_entry: dict[int, str] = {}
                for c in match.candidates:
                    row = row_of[c.code]
                    lex[row] = c.score
                    lex_entry[row] = c.matched
                scores = fusion.fuse(lex, cos_targets[q])
                steps = np.rint(scores.astype(np.float64) * SCORE_STEPS).astype(np.int64)
                top = np.argpartition(-steps, min(k, n_targets - 1))[:k + 1] if n_targets > k + 1 else np.arange(n_targets)
                top = top[np.lexsort((top, -steps[top]))][:k]    # score desc, then code (row) asc
                top = top[steps[top] > 0]
                candidates = []
                for t in top.tolist():
                    matched = lex_entry.get(t)
                    if matched is None:
                        matched = self._index.entry_display[semantic.best_entry(cos_entries[q], t)]
                    candidates.append(Candidate(self._index.codes[t], self._index.labels[t],
                                                int(steps[t]) / SCORE_STEPS, matched))
                results.append(Match(text, tuple(candidates),
                                     bool(candidates) and candidates[0].score >= self.threshold))
        return results


class SemanticUnavailable(MatchingError):
    """A semantic operation asked of a normaliser that has no encoder."""


SEMANTIC_CHUNK = 256   # queries whose (n, n_entries) cosine block is held at once


@dataclass(frozen=True)
class Fusion:
    """How lexical and semantic candidates are combined, and when the encoder is asked at all.

    A lexical answer is *certain* when its best score is >= ``certain_score`` and leads the second
    by >= ``certain_margin``: such texts never reach the encoder (that keeps batches fast and the
    lexical normaliser's precision where it is already right). For the others, every code gets

        fused = (1 - semantic_weight) * lexical + semantic_weight * calibrated(cosine)

    where ``lexical`` is the code's lexical score (0 outside the lexical top ``pool``),
    ``cosine`` the best cosine between the text and the code's labels and titles, and
    ``calibrated(c) = clip((c - cosine_floor) / (1 - cosine_floor), 0, 1)`` (e5 cosines of unrelated
    short texts sit around 0.75, so the floor maps "unrelated" to 0). The fused score is in [0, 1].
    ``method="rrf"`` uses reciprocal rank fusion instead (the baseline, ``1/(rrf_k + rank)``, scaled to [0, 1]).

    Measured (docs/normalise.md, ``python -m benchmarks.normalise_eval``): on 2,100 noisy ROME titles
    and 2,000 offers-dev ads (top-1/top-5), lexical 0.979/0.994 and 0.458/0.631; reciprocal rank
    0.973/0.995 and 0.472/0.681 (it costs the noisy titles 0.6 point of top-1); these defaults
    0.981/0.995 and 0.488/0.674. 5 % of the noisy titles and 70 % of the ads reach the encoder.
    """

    certain_score: float = 0.85
    certain_margin: float = 0.05
    semantic_weight: float = 0.7
    cosine_floor: float = 0.82
    pool: int = 50
    method: str = "weighted"
    rrf_k: int = 60

    def certain(self, match: Match) -> bool:
        c = match.candidates
        if not c:
            return False
        second = c[1].score if len(c) > 1 else 0.0
        return c[0].score >= self.certain_score and c[0].score - second >= self.certain_margin

    def fuse(self, lexical: np.ndarray, cosine: np.ndarray) -> np.ndarray:
        """(n_targets,) float32 fused scores in [0, 1] from (n_targets,) lexical scores and cosines."""
        if self.method == "rrf":
            return _rrf(lexical, cosine, self.pool, self.rrf_k)
        calibrated = np.clip((cosine - self.cosine_floor) / (1.0 - self.cosine_floor), 0.0, 1.0)
        return ((1.0 - self.semantic_weight) * lexical + self.semantic_weight * calibrated).astype(np.float32)


def _rrf(lexical: np.ndarray, cosine: np.ndarray, pool: int, rrf_k: int) -> np.ndarray:
    """Reciprocal rank fusion of the lexical top ``pool`` and the semantic top ``pool``, scaled so
    that first in both lists scores 1."""
    out = np.zeros(lexical.shape, dtype=np.float64)
    for scores in (lexical, cosine):
        order = np.lexsort((np.arange(scores.size), -scores))[:pool]
        order = order[scores[order] > 0]
        out[order] += 1.0 / (rrf_k + 1 + np.arange(order.size))
    return (out * (rrf_k + 1) / 2.0).astype(np.float32)


@dataclass(frozen=True, eq=False)
class _Semantic:
    """The encoder and the entries' unit vectors, rows grouped by target.

    ``vectors``: (n_entries, d) float32, row r is the index entry ``entry_of_row[r]``; the rows of
    target t are ``starts[t]:ends[t]`` (every target with no entry has ``has_entry`` False).
    """

    encoder: object
    vectors: np.ndarray
    entry_of_row: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    has_entry: np.ndarray

    @classmethod
    def build(cls, encoder, vectors: np.ndarray, entry_target: np.ndarray, n_targets: int) -> "_Semantic":
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != entry_target.size:
            raise ValueError(f"expected ({entry_target.size}, d) entry vectors, got shape {vectors.shape}")
        if encoder is not None and vectors.shape[1] != encoder.dim:
            raise ValueError(f"the vectors have {vectors.shape[1]} dimensions, the encoder {encoder.dim}")
        order = np.argsort(entry_target, kind="stable").astype(np.int32)
        grouped = np.ascontiguousarray(vectors[order], dtype=np.float32)
        sorted_targets = entry_target[order]
        starts = np.searchsorted(sorted_targets, np.arange(n_targets))
        ends = np.searchsorted(sorted_targets, np.arange(n_targets), side="right")
        return cls(encoder, grouped, order, starts.astype(np.int64), ends.astype(np.int64), ends > starts)

    def by_target(self, cos_entries: np.ndarray) -> np.ndarray:
        """(n, n_entries) cosines by row -> (n, n_targets) best cosine per target (-1 without entries)."""
        if cos_entries.shape[1] == 0:
            return np.full((cos_entries.shape[0], self.starts.size), -1.0, dtype=np.float32)
        best = np.maximum.reduceat(cos_entries, np.minimum(self.starts, cos_entries.shape[1] - 1), axis=1)
        best[:, ~self.has_entry] = -1.0
        return best

    def best_entry(self, cos_row: np.ndarray, target: int) -> int:
        """The index entry of ``target`` closest to the query whose row of cosines is ``cos_row``."""
        lo, hi = int(self.starts[target]), int(self.ends[target])
        return int(self.entry_of_row[lo + int(np.argmax(cos_row[lo:hi]))])

    def top(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per query, the ``k`` targets of highest best-entry cosine: (n, k') targets, cosines, entries,
        sorted by cosine desc then target (one vectorised product over the whole matrix)."""
        cos_entries = np.asarray(query_vectors, dtype=np.float32) @ self.vectors.T
        cos_targets = self.by_target(cos_entries)
        k = min(k, int(self.has_entry.sum()))
        n_targets = cos_targets.shape[1]
        part = np.argpartition(-cos_targets, k - 1, axis=1)[:, :k] if k < n_targets else \
            np.tile(np.arange(n_targets), (cos_targets.shape[0], 1))
        targets = np.empty_like(part)
        for q in range(part.shape[0]):
            cand = part[q]
            targets[q] = cand[np.lexsort((cand, -cos_targets[q, cand]))]
        cosines = np.take_along_axis(cos_targets, targets, axis=1)
        cosines = np.rint(np.clip(cosines, 0.0, 1.0).astype(np.float64) * SCORE_STEPS) / SCORE_STEPS
        entries = np.array([[self.best_entry(cos_entries[q], t) for t in row] for q, row in
                            enumerate(targets.tolist())], dtype=np.int64).reshape(targets.shape)
        return targets, cosines, entries


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")


_ACRONYM = re.compile(r"[\(\-]\s*([A-Z]{2,8})\s*[\)\-]")


def acronym_alias(title: str) -> str | None:
    """The title with a spelt-out phrase replaced by its acronym, when the title gives both.

    ``"Soudeur / Soudeuse Tungsten Inert Gas -TIG-"`` -> ``"Soudeur / Soudeuse TIG"``: the words
    before "(XYZ)" or "-XYZ-" whose initials spell XYZ (short words such as "de" may sit between).
    None when the title has no such acronym.
    """
    found = _ACRONYM.search(title)
    if not found:
        return None
    acronym = found.group(1)
    spans = [(m.start(), m.group()) for m in re.finditer(r"\S+", title[:found.start()])]
    needed = len(acronym) - 1
    for i in range(len(spans) - 1, -1, -1):
        start, word = spans[i]
        if word == "/" or (i > 0 and spans[i - 1][1] == "/"):
            return None  # never eat into the "masculine / feminine" heads
        core = word.rsplit("'", 1)[-1].rsplit("’", 1)[-1].strip("(),")
        if core and core[0].upper() == acronym[needed]:
            needed -= 1
            if needed < 0:
                return (title[:start] + acronym + title[found.end():]).strip()
        elif len(core) > 3:
            return None
    return None


class TitleNormaliser(_Normaliser):
    """Job titles as people type them -> occupation codes.

    Indexes every occupation label and every title (appellation) of the referential; a candidate's
    ``matched`` is the title or label that matched best.
    """

    @classmethod
    def fit(cls, referentiel, threshold: float = DEFAULT_THRESHOLD) -> "TitleNormaliser":
        """Build the index of ``referentiel`` (a :class:`referentiels.Referentiel`)."""
        occupations = referentiel.occupations
        codes = occupations["code"].to_list()
        labels = occupations["label"].to_list()
        row_of = {code: i for i, code in enumerate(codes)}
        titles = referentiel.titles
        title_texts = titles["title"].to_list()
        entries = [(label, i) for i, label in enumerate(labels)]
        entries += [(t, row_of[o]) for t, o in zip(title_texts, titles["occupation"].to_list()) if o in row_of]
        entries += [(alias, row) for alias, row in ((acronym_alias(t), row) for t, row in entries) if alias]
        gender_map = learn_gender_map(labels + title_texts)
        return cls(_Index.build(codes, labels, entries, gender_map), threshold)


class SkillNormaliser(_Normaliser):
    """Skill phrases as people type them -> skill codes of the referential (one entry per skill label).

    With an encoder (:meth:`with_encoder`, the vectors of :attr:`semantic_texts`: the skill labels),
    uncertain phrases are fused by :data:`SKILL_FUSION` (see there for how and what it measured).
    """

    @classmethod
    def default_fusion(cls) -> "Fusion":
        return SKILL_FUSION

    @classmethod
    def fit(cls, referentiel, threshold: float = DEFAULT_THRESHOLD) -> "SkillNormaliser":
        skills = referentiel.skills
        codes = skills["code"].to_list()
        labels = skills["label"].to_list()
        occupation_texts = referentiel.occupations["label"].to_list() + referentiel.titles["title"].to_list()
        gender_map = learn_gender_map(occupation_texts)
        return cls(_Index.build(codes, labels, [(label, i) for i, label in enumerate(labels)], gender_map),
                   threshold)



SKILL_FUSION = Fusion(certain_score=0.85, certain_margin=0.05, semantic_weight=0.7, cosine_floor=0.86)
"""The skill normaliser's fusion (issue 21 item 5): lexical certainty first (a best score >= 0.85
leading by >= 0.05 stands, the encoder is not asked), else ``0.3 x lexical + 0.7 x calibrated
cosine`` with the floor at 0.86 (skill labels are longer than titles: unrelated ones sit closer).
Chosen on the dev half of benchmarks/labels/free_text_skills.csv among 63 settings
(``python -m benchmarks.normalise_eval --skills --tune``): top-1 / top-5 0.516 / 0.739 -> 0.571 /
0.807, precision of confident answers 0.66 -> 0.72, of claims >= 0.75 0.71 -> 0.78; reciprocal rank
fusion reaches 0.553 / 0.807 but with precision 0.54 (every phrase confident). Held-out half and the
other rows: docs/normalise.md."""
