"""The skill relation: when a skill the person has lets us say they already *hold* another one.

    relation = SkillRelation.from_referentiel(referentiel)      # once per referential
    claims = relation.classify(targets, sources)                 # (p,) pairs of skill columns
    claims.held            (p,) bool: the source skill counts as holding the target skill
    claims.rule            (p,) int8: which rule decided (``RULES[code]`` names it)
    claims.evidence        name -> (p,) float32: every signal's value, kept for the page
    claims.record(i)       {"held": bool, "rule": "...", "kinds": [source, target], "signals": {...}}
    relation.held_support(candidates)  -> (n_skills, n_skills) bool CSR, [s, t]: s makes t held

A bridge used to call a target skill "shared" whenever the source had a *related* skill: label
words alike (TF-IDF cosine >= 0.5) or the same ROME macro-competence (a fixed 0.600). Read claim
by claim (benchmarks/labels/held_claims.csv: 440 pairs labelled by a written rule), a third of
those claims hold, and of the fixed 0.600 group fewer than a fifth. This module keeps the soft
kernel for what it is good at (ranking, and naming the skills that are *close*) and decides
*held* from evidence that separated good claims from bad ones on the labelled set's dev half.

**Evidence** (each a float32 in [0, 1] per (target t, source s) pair):

- ``contains``: the share of t's label that s's label carries: the IDF weights of t's stemmed,
  accent-free label words (as ``matching.space.words``) that also occur in s, over all of t's.
  *Directional*: "Gérer les stocks" is contained (1.0) in "Gérer les stocks de médicaments
  vétérinaires", not the reverse. AUC 0.81 on the dev half, where today's similarity has 0.73.
- ``extends``: the same share the other way (how much of s is in t). When both are below 1, the
  source *replaces* some of the target's words ("... de sécurité" <- "... d'hygiène"): on the first
  dev half, such pairs held 17 times in 40 even with ``contains`` >= 0.7; pairs without
  replacement 26 times in 29.
- ``words``: the TF-IDF cosine of the two labels' words (the bridge model's soft kernel).
- ``chars``: the cosine of the sets of character 3-grams of the folded labels (inflections meet:
  "Analyser" / "Analyse").
- ``group``: 1 when both are of one ROME macro-competence (know-how, soft skills). Alone it is
  the fixed 0.600 of the old kernel: 14 of 78 such claims held on the dev half.
- ``cooccurrence``: occupations listing both, over the fewer of the two's occupations. On the dev
  half it does not separate good claims from bad (AUC 0.49; a lift, both x occupations / (t's x
  s's), 0.45 among the held claims): ROME 4.0 has 33,671 skills, most listed by a handful of
  occupations, and the two skills of a claim are listed together by none in most pairs. Shown,
  not used.
- ``same_act``: 1 when both labels start with the same word (the verb of a know-how, "Contrôler"
  vs "Entretenir"; the head of a knowledge item). Shown, not used: "Réaliser la pose" and
  "Réaliser la maintenance" start alike.
- any extra signal given to :meth:`SkillRelation.with_signal` — the hook for the multilingual
  encoder's cosine of the two labels (matching/encoder.py, computed by api/services/encoding.py):
  shown, and used only with a threshold (held at or above) or a veto (not held below). e5-small's
  cosines of ROME labels crowd in [0.85, 1]: on the dev half, AUC 0.73 over all pairs, 0.64 among
  the claims the label rules hold; 0.94 and above, half the *close* pairs hold (no threshold is
  worth it); below ``ENCODER_VETO`` 0.89, 2 of the 14 wrong held claims and none of the 164 right.

**Rules**, in order; the first that applies decides (``RULES`` names them):

0. the same skill: held;
1. a knowledge item (savoir) never stands for a know-how (savoir-faire): knowing is not doing
   (the issue's reader accepted "Appliquer les normes ATEX" <- "Normes relatives aux
   interventions en atmosphères explosives"; this rule shows it as close, 0.94 alike);
2. a soft skill (savoir-être) never stands for another skill, nor any skill for a soft skill;
3. a diploma, title or certification (ROME "Certifications et habilitations") stands for another
   (then by rule 6) only when both labels have the same tokens — stop words, letters and numbers
   included: the same diploma written otherwise. Not "option A" <- "option B", nor "R 484-1" <-
   "R 484-2", nor (since the dev half's third batch: 5 good of 11 such claims) "Doctorat" <-
   "Doctorat eau, environnement", "Mastère spécialisé cybersécurité" <- "... du numérique";
4. nothing but a diploma stands for a diploma (knowing public law is not a master's degree);
5. a target of one content word names a whole field, not held through a skill that mentions it
   ("Psychologie" <- "Soutien psychologique", "Théâtre" <- "Pièces de théâtre": close);
5a. learning is not holding: a source that says the person develops or updates a skill
   ("Développer ses compétences en gestion de projet", "Se tenir informé ...": ``LEARNING``) is close;
5b. a broad field is not held through a corner of it: a knowledge item that at least ``BROAD_SHARE``
   (2.5 %) of the occupations list ("Normes de sécurité", "Règles de sécurité", "Techniques de
   soudure", "Législation sociale") is held only through a source saying no more than it
   (``extends`` = 1) or itself that broad ("Règles et consignes de sécurité"), not through "Normes
   de sécurité pour la coupe" or "Techniques de soudure de verre";
5c. a target that adds a qualifier the source lacks ("Maintenance préventive" <- "Maintenance";
   "Gérer les stocks de médicaments" <- "Gérer les stocks"): close, unless all it adds is a way of
   knowing the same subject (``DETAIL_WORDS``: "Techniques de", "Méthodes de" ...), then rule 7;
5d. a pair the label rules would hold whose vetoing extra signal (the encoder) is below its veto: close;
5e. the same words are not the same phrase: a knowledge target whose first content word (its head)
   comes after its second everywhere in the source (not a diploma) is close ("Techniques de dessin"
   <- "Lecture de dessins techniques", "Communication technique" <- "Techniques de communication en
   milieu industriel", "Audit comptable" <- "Traiter les données comptables pour des audits"); not
   when the two words are members of a list ("Biodiversité et conservation");
5f. checking an act is not doing it: a know-how target whose verb the source, a know-how whose verb
   checks (``CHECKING_ACTS``: contrôler, vérifier, surveiller ...), names only as what it checks
   ("Conditionner des produits" <- "Contrôler le conditionnement d'un produit"; "Respecter les
   procédures" <- "Contrôler le respect des procédures") is close;
5g. a knowledge item is not held through another (not a diploma) mostly about something else:
   ``extends`` < ``MOSTLY_OTHER_MAX`` 0.5 ("Essences de bois" <- "Cycles de séchage des essences de
   bois"; "Techniques de communication" <- "Techniques de communication écrite"). Blunt: on the
   dev half it turned 12 wrong held claims close and 14 right ones ("Techniques de marinade" <-
   "Techniques de marinade pour viandes et poissons"), kept because a wrong *held* hides a gap;
6. the source's label contains the target's (``contains`` = 1; "Gérer les stocks" <- "Gérer les
   stocks de médicaments vétérinaires"): held;
7. the target only adds a way of knowing (``extends`` = 1, ``contains`` >= ``DETAIL_MIN`` 0.8, every
   added word in ``DETAIL_WORDS``; "Techniques de rééducation posturale" <- "Rééducation posturale"): held;
8. an extra signal at or above its threshold (none by default): held;
9. otherwise: close — related, worth checking with the person, never held. A source that
   *replaces* words of the target ("Contrôler la conformité d'un équipement" <- "Entretenir un
   équipement"; "normes de sécurité" <- "normes d'hygiène") stays close, however alike.

The thresholds were tuned on the dev half only (benchmarks/labels/README.md; its third batch, 160
claims this relation used to hold, all in the dev half, is what rules 3 and 5a-5d were designed on;
its fifth batch, 130 more, rules 5e-5g);
``passerelles evaluate`` reports the precision and recall of *held* on the held-out half.

Pure numpy / scipy over arrays; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import scipy.sparse as sp

from .normalise import strip_accents
from .space import STOPWORDS, idf, stem, tfidf_rows

RELATION_VERSION: int = 4
"""Bumped when the rules change what is held (caches of what was built from them key on it:
the calibrated bridge labels of api/storage/bridges_cache.py). 2: rules 3 (same diploma) and 5a-5d;
3: "son" is a word; 4: rules 5e (word order) and 5f (checking is not doing)."""
ENCODER_VETO: float = 0.89
"""Rule 5d: the encoder's cosine below which a pair the labels would hold is close (dev half only)."""
DETAIL_MIN: float = 0.8
"""Rule 7: share of the target's label a more generic source must carry (the rest a detail)."""
DETAIL_WORDS: tuple[str, ...] = ("techniques", "méthodes", "méthodologie", "principes", "notions", "bases",
                                 "connaissances", "fondamentaux")
"""Rule 7: the only words a target may add to a more generic source and still be held: they name a
way of knowing the same subject ("Techniques de rééducation posturale" <- "Rééducation posturale"),
not a narrower one ("Maintenance préventive" <- "Maintenance" adds a qualifier: close)."""
BROAD_SHARE: float = 0.025
"""Rule "broad field": a knowledge item listed by at least this share of the occupations (ROME:
40 of 1,584; "Normes de sécurité", "Règles de sécurité", "Techniques de soudure") names a broad
body of knowledge; a source that says more than it ("... pour la coupe", "... de verre") covers a
corner of it, not most of it. Tuned on the dev half (nothing good lost there at 0.025)."""
MOSTLY_OTHER_MAX: float = 0.5
"""Rule "mostly something else": a knowledge item is not held through another (not a diploma) of which
it is less than half (``extends`` < 0.5: the IDF weight of the source's words that the target has,
over all of the source's): "Cycles de séchage des essences de bois" is about drying, "Techniques de
communication écrite" about writing (the broad-field rule's counterpart for targets of any breadth)."""
BROAD_MIN_OCCUPATIONS: int = 3
"""The broad-field rule never applies to a knowledge item listed by fewer occupations (small referentials)."""
LEARNING = re.compile(
    r"^(?:(?:developper|maintenir|mettre|tenir|actualiser|approfondir|enrichir|perfectionner|renforcer|ameliorer"
    r"|entretenir|elargir)(?: (?:continuellement|regulierement|constamment|en permanence|a jour))*"
    r" (?:ses|son|sa|leurs?) (?:propres )?(?:competences|connaissances|savoirs?|savoir-faire|pratiques?|acquis)"
    r"|se (?:former|perfectionner|tenir (?:informe|au courant|a jour)|mettre a jour|recycler)|s['\u2019]informer"
    r"|suivre (?:une|des) formations?|participer a des (?:formations|ateliers))\b")
"""Rule "learning": a source saying the person *develops*, updates or keeps informed of a skill
("Développer ses compétences en gestion de projet", "Se tenir informé des évolutions ...") is
about learning it, not proof of holding it (matched on the folded label) — unless the target is
itself about learning ("Développer ses compétences en nouvelles technologies" <- "Développer ses
compétences en continu, notamment dans les nouvelles technologies": held on the dev half).
A watch ("Assurer une veille technologique") is not matched: "Veille technologique" is that act."""
CHECKING_ACTS: tuple[str, ...] = ("contrôler", "vérifier", "surveiller", "superviser", "inspecter", "auditer")
"""Rule "checking": the verbs of a know-how that checks an act rather than doing it ("Contrôler le
conditionnement d'un produit" checks what "Conditionner des produits" does). Chosen by their meaning
(the written rule's "maintaining is not checking, checking is not repairing"); "évaluer" and "valider"
are left out: they also mean estimating and approving."""
COORDINATION: frozenset[str] = frozenset({"et", "ou", ","})
"""Tokens that join the members of a list ("Normes d'hygiène et de sécurité"): the members' order is free."""
FIELD_WORDS: int = 2
"""Rules 6-7: a target label of fewer content words names a whole field ("Psychologie")."""

KIND_CODES: dict[str, int] = {"savoir-faire": 0, "savoir": 1, "savoir-être": 2}
CERTIFICATION_GROUP: str = "Certifications et habilitations"
"""Prefix of the ROME knowledge category of diplomas, titles, licences and authorisations."""
EVIDENCE: tuple[str, ...] = ("contains", "extends", "words", "chars", "group", "cooccurrence", "same_act")

RULES: tuple[str, ...] = (
    "same skill",
    "knowledge does not give know-how",
    "a soft skill is only itself",
    "one diploma or certification does not give another",
    "only a diploma gives a diploma",
    "a whole field is not held through one of its objects",
    "the source's label contains the target's",
    "the target only adds a detail",
    "extra signal",
    "related only (close)",
    "learning a skill is not holding it",
    "a broad field is not held through a corner of it",
    "the target adds a qualifier the source lacks",
    "the encoder reads the labels apart",
    "the same words, not the same phrase (head and modifier swapped)",
    "checking an act is not doing it",
    "the source is mostly about something else",
)
(SAME, KNOWLEDGE_FOR_KNOW_HOW, SOFT_SKILL, CERTIFICATE, NOT_A_CERTIFICATE, FIELD, CONTAINS, DETAIL, EXTRA,
 CLOSE, LEARNING_SOURCE, BROAD_FIELD, QUALIFIER, APART, WORD_ORDER, CHECKING, MOSTLY_OTHER) = range(17)
"""Rule codes (``RULES[code]`` names each). The codes after ``CLOSE`` were added later and keep the
earlier codes stable; the order in which the rules apply is :meth:`SkillRelation.classify`'s."""
HELD_RULES: frozenset[int] = frozenset({SAME, CONTAINS, DETAIL, EXTRA})
"""Rules that decide *held* (a certificate whose whole label the source's contains is ``CONTAINS``)."""
_HELD_TABLE = np.isin(np.arange(len(RULES)), sorted(HELD_RULES))
_EPS = 1e-6

Signal = Callable[[np.ndarray, np.ndarray], np.ndarray]

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(STOPWORDS - {"son"})
"""``matching.space.STOPWORDS`` but "son": the sound of "prise de son", "régie son" is a word here
("Techniques de prise de son" is not held through "Techniques de prise de vue": the dev half's 4th batch)."""


def _tokens(text: str) -> tuple[list[str], list[str]]:
    """(words, tokens) of a label: stemmed accent-free words without stop words and single
    characters (as ``matching.space.words``), and every token, stop words, single letters and
    numbers included (what tells "option A" from "option B", "catégorie CE" from "catégorie B",
    "R 484-1" from "R 484-2")."""
    return _phrase(text)[:2]


_PHRASE = re.compile(r"[a-z0-9]+|,")


def _phrase(text: str) -> tuple[list[str], list[str], list[str], bool]:
    """(words, tokens, surface, joined) of a label in one pass: ``_tokens``' words (content stems, in
    order) and tokens, the folded unstemmed tokens, and whether a coordination ("et", "ou", a comma)
    stands between the first two content words (what the word-order and checking rules read)."""
    words: list[str] = []
    tokens: list[str] = []
    surface: list[str] = []
    joined = False
    for w in _PHRASE.findall(strip_accents(text or "")):
        if w == ",":
            joined = joined or len(words) == 1
            continue
        surface.append(w)
        s = stem(w)
        tokens.append(s)
        if w in COORDINATION:
            joined = joined or len(words) == 1
        if len(w) > 1 and w not in _STOPWORDS:
            words.append(s)
    return words, tokens, surface, joined


def _pair_keys(rows: list[list[int]], width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.int64]:
    """Sorted keys ``row * width + item`` of every item of every row, with each item's first and last
    position in its row: (keys, first, last, width), arrays (n,) int64 (what :func:`_lookup` searches)."""
    keys, first, last = [], [], []
    for r, items in enumerate(rows):
        seen: dict[int, list[int]] = {}
        for pos, item in enumerate(items):
            seen.setdefault(item, [pos, pos])[1] = pos
        for item, (a, b) in seen.items():
            keys.append(r * width + item)
            first.append(a)
            last.append(b)
    k = np.asarray(keys, dtype=np.int64)
    order = np.argsort(k, kind="stable")
    return (k[order], np.asarray(first, dtype=np.int64)[order], np.asarray(last, dtype=np.int64)[order],
            np.int64(width))


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """(p,) int64: ``values`` at each wanted key, -1 where the key is absent."""
    if not len(keys):
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, values[at], -1)


def _grams(text: str) -> frozenset[str]:
    """Character 3-grams of the folded label's words, each padded with one space."""
    out: set[str] = set()
    for w in _WORD.findall(strip_accents(text or "")):
        w = f" {w} "
        out.update(w[i:i + 3] for i in range(len(w) - 2))
    return frozenset(out)


def _incidence(docs: list[list[str]]) -> tuple[sp.csr_array, dict[str, int]]:
    """(len(docs), n_words) float32 0/1 CSR of word presence, vocabulary sorted (deterministic)."""
    vocab = {w: i for i, w in enumerate(sorted({w for d in docs for w in d}))}
    rows, cols = [], []
    for i, d in enumerate(docs):
        for w in set(d):
            rows.append(i)
            cols.append(vocab[w])
    m = sp.csr_array((np.ones(len(rows), dtype=np.float32), (np.asarray(rows, dtype=np.int64),
                     np.asarray(cols, dtype=np.int64))), shape=(len(docs), len(vocab)))
    m.sum_duplicates()
    m.sort_indices()
    return m, vocab


def _share(present: sp.csr_array, weight: np.ndarray | None = None) -> sp.csr_array:
    """Rows of a 0/1 matrix weighted (by ``weight`` per column, or 1) and divided by their sum."""
    m = sp.csr_array(present * weight[None, :]) if weight is not None else present.copy()
    totals = np.asarray(m.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    m.data = (m.data / np.repeat(totals, np.diff(m.indptr))).astype(np.float32)
    return sp.csr_array(m, dtype=np.float32)


def _expand(m: sp.csr_array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner, column, value) of every stored entry of ``m``'s ``rows`` (owner: position in rows)."""
    starts, ends = m.indptr[rows], m.indptr[rows + 1]
    lengths = (ends - starts).astype(np.int64)
    total = int(lengths.sum())
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    pos = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    return owner, m.indices[pos].astype(np.int64), m.data[pos]


def _sorted(m) -> sp.csr_array:
    """A float32 CSR copy with summed duplicates and sorted column indices (what the merges need)."""
    out = sp.csr_array(m, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.sort_indices()
    return out


def _overlap(a: sp.csr_array, b: sp.csr_array, rows_a: np.ndarray, rows_b: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pair i, over the columns both row ``rows_a[i]`` of ``a`` and row ``rows_b[i]`` of
    ``b`` store: (sum of a's values, sum of b's values, sum of their products), each (p,) float32.
    A merge of their entries keyed (pair, column) (both CSR with sorted indices): no per-pair
    Python, no sparse fancy indexing."""
    p = len(rows_a)
    ra = np.asarray(rows_a, dtype=np.int64)
    rb = np.asarray(rows_b, dtype=np.int64)
    oa, ca, va = _expand(a, ra)
    ob, cb, vb = _expand(b, rb)
    width = np.int64(max(a.shape[1], 1))
    ka, kb = oa * width + ca, ob * width + cb  # sorted: pairs in order, columns sorted within a row
    if not len(kb) or not len(ka):
        zero = np.zeros(p, dtype=np.float32)
        return zero, zero.copy(), zero.copy()
    hit = np.minimum(np.searchsorted(kb, ka), len(kb) - 1)
    same = kb[hit] == ka
    owner, x, y = oa[same], va[same].astype(np.float64), vb[hit[same]].astype(np.float64)
    return (np.bincount(owner, weights=x, minlength=p).astype(np.float32),
            np.bincount(owner, weights=y, minlength=p).astype(np.float32),
            np.bincount(owner, weights=x * y, minlength=p).astype(np.float32))


def _rowwise_dot(a: sp.csr_array, b: sp.csr_array, rows_a: np.ndarray, rows_b: np.ndarray,
                 chunk: int = 500_000) -> np.ndarray:
    """(p,) float32: dot product of row ``rows_a[i]`` of ``a`` with row ``rows_b[i]`` of ``b``."""
    out = np.zeros(len(rows_a), dtype=np.float32)
    for start in range(0, len(rows_a), chunk):
        out[start:start + chunk] = _overlap(a, b, rows_a[start:start + chunk], rows_b[start:start + chunk])[2]
    return out


def _shares(m: sp.csr_array, rows_t: np.ndarray, rows_s: np.ndarray, chunk: int = 500_000
            ) -> tuple[np.ndarray, np.ndarray]:
    """(contains, extends), each (p,) float32, from the rows' shares ``m`` (each row sums to 1):
    the share of row t stored where row s has an entry too, and the reverse."""
    contains = np.zeros(len(rows_t), dtype=np.float32)
    extends = np.zeros(len(rows_t), dtype=np.float32)
    for start in range(0, len(rows_t), chunk):
        c, e, _ = _overlap(m, m, rows_t[start:start + chunk], rows_s[start:start + chunk])
        contains[start:start + chunk], extends[start:start + chunk] = c, e
    return contains, extends


@dataclass(frozen=True)
class Claims:
    """The relation's verdict on ``p`` (target, source) pairs of skill columns.

    targets, sources: (p,) int64; held: (p,) bool; rule: (p,) int8 (``RULES``); evidence: name ->
    (p,) float32 (see the module docstring); kinds: (p, 2) int8 kind codes (target, source).
    """

    targets: np.ndarray
    sources: np.ndarray
    held: np.ndarray
    rule: np.ndarray
    evidence: dict
    kinds: np.ndarray

    def record(self, i: int) -> dict:
        """The evidence of pair ``i`` as a small JSON-ready record (what the page shows)."""
        names = {v: k for k, v in KIND_CODES.items()}
        return {"held": bool(self.held[i]), "rule": RULES[int(self.rule[i])],
                "kinds": [names[int(self.kinds[i, 1])], names[int(self.kinds[i, 0])]],
                "signals": {k: round(float(v[i]), 3) for k, v in self.evidence.items()}}


@dataclass(frozen=True, eq=False)
class SkillRelation:
    """What deciding *held* needs, per skill column (built once per referential).

    Attributes:
        labels:      (n_skills,) object, the skill labels (character n-grams are built from them)
        word_share:  (n_skills, n_words) float32 CSR, row t = IDF weights of t's label words / their sum
        word_present:(n_skills, n_words) float32 0/1 CSR, the same words' presence
        token_share, token_present: the same unweighted, keeping single letters and numbers
        words:       (n_skills, n_words') L2-normalised TF-IDF rows (the soft kernel's label words)
        head:        (n_skills,) int64 id of the label's first word (-1: none)
        kinds:       (n_skills,) int8 ``KIND_CODES``
        certificate: (n_skills,) bool, a diploma, title, licence or authorisation
        groups:      (n_skills,) int64 macro-competence id (-1: none; knowledge items have none)
        occupations: (n_skills, n_occupations) float32 0/1 CSR (which occupations list the skill)
        signals:     extra name -> (function(targets, sources) -> (p,) floats in [0, 1], threshold or None,
                     veto or None)
        learning:    (n_skills,) bool, the label says the skill is being learnt (rule "learning")
        specific_share: (n_skills, n_words) float32 CSR, the label words other than ``DETAIL_WORDS``,
                     each 1 / their number (rule 7: what a target adds must be none of these)
        n_specific:  (n_skills,) int32, how many such words
        n_occupations: (n_skills,) int32, occupations listing the skill (rule "broad field")
        broad_min:   occupations from which a knowledge item is a broad field (``BROAD_SHARE``)
        phrase_head, phrase_next: (n_skills,) int64 word ids (``word_present``'s columns) of the label's
                     first two content words (-1: none, or a coordination between them) (rule "word order")
        positions:   (keys, first, last, width): int64 arrays, key skill * width + word id -> first and last
                     position of the word among the label's content words (rule "word order")
        checking:    (n_skills,) bool, a know-how whose verb checks (``CHECKING_ACTS``) (rule "checking")
        act:         (n_skills,) int64 id of the label's first token, folded (-1: none) (rule "checking")
        surface:     (keys, first, last, width): the same for the folded tokens of each label (rule "checking")
    """

    labels: np.ndarray
    word_share: sp.csr_array
    word_present: sp.csr_array
    token_share: sp.csr_array
    token_present: sp.csr_array
    words: sp.csr_array
    head: np.ndarray
    kinds: np.ndarray
    certificate: np.ndarray
    groups: np.ndarray
    occupations: sp.csr_array
    signals: dict = field(default_factory=dict)
    detail_min: float = DETAIL_MIN
    field_words: int = FIELD_WORDS
    n_words: np.ndarray | None = None
    learning: np.ndarray | None = None
    specific_share: sp.csr_array | None = None
    n_specific: np.ndarray | None = None
    n_occupations: np.ndarray | None = None
    broad_min: float = np.inf
    mostly_other: float = MOSTLY_OTHER_MAX
    phrase_head: np.ndarray | None = None
    phrase_next: np.ndarray | None = None
    positions: tuple | None = None
    checking: np.ndarray | None = None
    act: np.ndarray | None = None
    surface: tuple | None = None
    _grams: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def fit(cls, labels: list[str], kinds: list[str], groups: np.ndarray, certificate: np.ndarray,
            links: sp.sparray, words: sp.sparray | None = None) -> "SkillRelation":
        """Build from the skills' labels and kinds (n_skills,), group ids ((n_skills,) int, -1 for
        none), certificate flags ((n_skills,) bool), the (n_occupations, n_skills) link matrix and,
        optionally, the soft kernel's word rows (``space.context.skill_words``; built when None)."""
        n = len(labels)
        unknown = sorted({k for k in kinds if k not in KIND_CODES})
        if unknown:
            raise ValueError(f"unknown skill kind(s) {unknown}; expected one of {sorted(KIND_CODES)}")
        n_links = sp.csr_array(links).shape[1]
        if not (len(kinds) == len(groups) == len(certificate) == n_links == n):
            raise ValueError(f"expected labels, kinds, groups, certificate and the links' columns to have one entry per "
                             f"skill; found {n}, {len(kinds)}, {len(groups)}, {len(certificate)}, {n_links}")
        read = [_phrase(t) for t in labels]
        both = [r[:2] for r in read]
        present, vocab = _incidence([w for w, _ in both])
        tok_present, _ = _incidence([t for _, t in both])
        head = np.asarray([vocab[w[0]] if w else -1 for w, _ in both], dtype=np.int64)
        n_words = np.diff(present.indptr).astype(np.int32)
        occ = sp.csr_array(sp.csr_array(links, dtype=np.float32).T)
        occ.data = np.ones_like(occ.data)
        occ = _sorted(occ)
        generic = [vocab[w] for w in _tokens(" ".join(DETAIL_WORDS))[0] if w in vocab]
        specific = present.copy()
        if generic:
            specific = sp.csr_array(specific @ sp.diags_array(np.isin(np.arange(present.shape[1]), generic,
                                                                       invert=True).astype(np.float32)))
            specific.eliminate_zeros()
        n_occ = np.diff(occ.indptr).astype(np.int32)
        width = max(len(vocab), 1)
        stem_ids = [[vocab[w] for w in ws] for ws, _, _, _ in read]
        phrase_head = np.asarray([ids[0] if ids else -1 for ids in stem_ids], dtype=np.int64)
        phrase_next = np.asarray([ids[1] if len(ids) > 1 and not joined else -1
                                  for ids, (_, _, _, joined) in zip(stem_ids, read)], dtype=np.int64)
        tokens = {w: i for i, w in enumerate(sorted({w for _, _, ws, _ in read for w in ws}))}
        token_ids = [[tokens[w] for w in ws] for _, _, ws, _ in read]
        checking_stems = {stem(strip_accents(v)) for v in CHECKING_ACTS}
        kind_codes = [KIND_CODES[k] for k in kinds]
        checking = np.asarray([k == KIND_CODES["savoir-faire"] and bool(ws) and stem(ws[0]) in checking_stems
                               for k, (_, _, ws, _) in zip(kind_codes, read)], dtype=bool)
        return cls(phrase_head=phrase_head, phrase_next=phrase_next, positions=_pair_keys(stem_ids, width),
                   checking=checking, act=np.asarray([ids[0] if ids else -1 for ids in token_ids], dtype=np.int64),
                   surface=_pair_keys(token_ids, max(len(tokens), 1)),
                   learning=np.asarray([bool(LEARNING.match(strip_accents(t or "").strip())) for t in labels], dtype=bool),
                   specific_share=_sorted(_share(specific)), n_specific=np.diff(specific.indptr).astype(np.int32),
                   n_occupations=n_occ, broad_min=float(max(BROAD_MIN_OCCUPATIONS, BROAD_SHARE * occ.shape[1])),labels=np.asarray(labels, dtype=object), word_share=_sorted(_share(present, idf(present))),
                   word_present=present, token_share=_sorted(_share(tok_present)), token_present=tok_present,
                   words=_sorted(words if words is not None else tfidf_rows(list(labels))),
                   head=head, n_words=n_words, kinds=np.asarray([KIND_CODES[k] for k in kinds], dtype=np.int8),
                   certificate=np.asarray(certificate, dtype=bool), groups=np.asarray(groups, dtype=np.int64),
                   occupations=occ)

    @classmethod
    def from_referentiel(cls, referentiel, space=None) -> "SkillRelation":
        """``fit`` on a ``referentiels.Referentiel`` (duck-typed): skills' label, kind and group
        (the macro-competence of know-how and soft skills; a knowledge item whose category starts
        with ``CERTIFICATION_GROUP`` is a certificate)."""
        skills = referentiel.skills
        labels = skills["label"].to_list()
        kinds = skills["kind"].to_list()
        raw_groups = skills["group"].to_list()
        ids: dict[str, int] = {}
        groups = np.full(len(labels), -1, dtype=np.int64)
        for i, (g, k) in enumerate(zip(raw_groups, kinds)):
            if g and k != "savoir":
                groups[i] = ids.setdefault(g, len(ids))
        certificate = np.asarray([k == "savoir" and bool(g) and g.startswith(CERTIFICATION_GROUP)
                                  for g, k in zip(raw_groups, kinds)], dtype=bool)
        context = getattr(space, "context", None) if space is not None else None
        return cls.fit(labels, kinds, groups, certificate, referentiel.matrix,
                       words=None if context is None else context.skill_words)

    @property
    def n_skills(self) -> int:
        return len(self.kinds)

    def with_signal(self, name: str, function: Signal, threshold: float | None = None,
                    veto: float | None = None) -> "SkillRelation":
        """The same relation with one more evidence column ``name``: ``function(targets, sources)``
        gives (p,) floats in [0, 1] (e.g. the encoder's cosine of the two labels). With a
        ``threshold``, a pair reaching it that no kind rule forbids is held (rule "extra signal");
        with a ``veto``, a pair the label rules would hold but whose value is below it is close
        (rule "the encoder reads the labels apart"). Tune both on the dev half of the labelled set."""
        if name in EVIDENCE:
            raise ValueError(f"signal name {name!r} is already an evidence column ({', '.join(EVIDENCE)})")
        for what, value in (("threshold", threshold), ("veto", veto)):
            if value is not None and not (np.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"signal {name!r}: expected a {what} in [0, 1], got {value!r}")
        return replace(self, signals={**self.signals, name: (function, threshold, veto)})

    # ---- evidence and decision -------------------------------------------------------------------
    def _char_sets(self, cols: np.ndarray) -> list[frozenset]:
        memo = self._grams
        for c in np.unique(cols).tolist():
            if c not in memo:
                memo[c] = _grams(self.labels[c])
        return [memo[c] for c in cols.tolist()]

    def char_similarity(self, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """(p,) float32 cosine of the two labels' sets of character 3-grams."""
        t = np.asarray(targets, dtype=np.int64)
        s = np.asarray(sources, dtype=np.int64)
        out = np.zeros(len(t), dtype=np.float32)
        for i, (a, b) in enumerate(zip(self._char_sets(t), self._char_sets(s))):
            if a and b:
                out[i] = len(a & b) / np.sqrt(len(a) * len(b))
        return out

    def evidence(self, targets: np.ndarray, sources: np.ndarray, *, full: bool = True) -> dict[str, np.ndarray]:
        """name -> (p,) float32 evidence of the pairs (``targets[i]`` <- ``sources[i]``); with
        ``full=False`` only what the rules use (``contains``, ``extends`` and extras with a threshold or veto)."""
        t = np.asarray(targets, dtype=np.int64)
        s = np.asarray(sources, dtype=np.int64)
        contains, extends = _shares(self.word_share, t, s)
        out = {"contains": contains, "extends": extends}
        if full:
            both = _rowwise_dot(self.occupations, self.occupations, t, s)
            n_occ = np.diff(self.occupations.indptr)
            out["words"] = _rowwise_dot(self.words, self.words, t, s)
            out["chars"] = self.char_similarity(t, s)
            out["group"] = ((self.groups[t] == self.groups[s]) & (self.groups[t] >= 0)).astype(np.float32)
            out["cooccurrence"] = (both / np.maximum(np.minimum(n_occ[t], n_occ[s]), 1.0)).astype(np.float32)
            out["same_act"] = ((self.head[t] == self.head[s]) & (self.head[t] >= 0)).astype(np.float32)
        for name, (function, threshold, veto) in self.signals.items():
            if full or threshold is not None or veto is not None:
                out[name] = np.asarray(function(t, s), dtype=np.float32)
        same = t == s
        for name, v in out.items():
            np.clip(v, 0.0, 1.0, out=v)
            if name in ("contains", "extends", "words", "chars", "same_act"):
                v[same] = 1.0
        return out

    def classify(self, targets: np.ndarray, sources: np.ndarray, *, full: bool = True) -> Claims:
        """Decide held / close for each pair (``targets[i]`` <- ``sources[i]``), with the evidence
        (all of it, or with ``full=False`` only what the rules use: faster on millions of pairs)."""
        t = np.asarray(targets, dtype=np.int64)
        s = np.asarray(sources, dtype=np.int64)
        ev = self.evidence(t, s, full=full)
        kt, ks = self.kinds[t], self.kinds[s]
        ct, cs = self.certificate[t], self.certificate[s]
        rule = np.full(len(t), CLOSE, dtype=np.int8)
        open_ = np.ones(len(t), dtype=bool)

        def decide(mask: np.ndarray, code: int) -> None:
            hit = mask & open_
            rule[hit] = code
            open_[hit] = False

        decide(t == s, SAME)
        decide((ks == KIND_CODES["savoir"]) & (kt == KIND_CODES["savoir-faire"]), KNOWLEDGE_FOR_KNOW_HOW)
        soft = KIND_CODES["savoir-être"]
        decide((ks == soft) | (kt == soft), SOFT_SKILL)
        both_cert = ct & cs & open_
        if both_cert.any():
            whole = np.zeros(len(t), dtype=bool)
            pick = np.flatnonzero(both_cert)
            inside, outside = _shares(self.token_share, t[pick], s[pick])
            whole[pick] = (inside >= 1.0 - _EPS) & (outside >= 1.0 - _EPS)  # the same diploma, written otherwise
            decide(both_cert & whole, CONTAINS)
            decide(both_cert, CERTIFICATE)  # another diploma: close at best
        decide(ct, NOT_A_CERTIFICATE)
        contains, extends = ev["contains"], ev["extends"]
        would_hold = (contains >= 1.0 - _EPS) | ((extends >= 1.0 - _EPS) & (contains >= self.detail_min - _EPS))
        n_words = self.n_words if self.n_words is not None else np.diff(self.word_present.indptr)
        decide(would_hold & (n_words[t] < self.field_words), FIELD)
        if self.learning is not None:
            decide(would_hold & self.learning[s] & ~self.learning[t], LEARNING_SOURCE)
        if self.n_occupations is not None:
            broad = ((kt == KIND_CODES["savoir"]) & (self.n_occupations[t] >= self.broad_min)
                     & (self.n_occupations[s] < self.broad_min))  # a broad source is a field too
            decide(would_hold & broad & (extends < 1.0 - _EPS), BROAD_FIELD)
        if self.positions is not None:
            self._word_order(decide, would_hold & open_ & (kt == KIND_CODES["savoir"]) & ~cs, t, s)
        if self.checking is not None:
            self._checking(decide, would_hold & open_ & self.checking[s] & (kt == KIND_CODES["savoir-faire"]), t, s)
        knowledge = (kt == KIND_CODES["savoir"]) & (ks == KIND_CODES["savoir"]) & ~cs
        decide(would_hold & knowledge & (extends < self.mostly_other - _EPS), MOSTLY_OTHER)
        detail = (extends >= 1.0 - _EPS) & (contains < 1.0 - _EPS) & open_  # the target says more than the source
        if self.specific_share is not None and detail.any():
            pick = np.flatnonzero(detail)
            carried = _shares(self.specific_share, t[pick], s[pick])[0]
            adds = np.zeros(len(t), dtype=bool)
            adds[pick] = (carried < 1.0 - _EPS) & (self.n_specific[t[pick]] > 0)
            decide(adds, QUALIFIER)
        for name, (_, _, veto) in self.signals.items():
            if veto is not None:
                decide(would_hold & (ev[name] < veto), APART)
        decide(contains >= 1.0 - _EPS, CONTAINS)
        decide((extends >= 1.0 - _EPS) & (contains >= self.detail_min - _EPS), DETAIL)
        for name, (_, threshold, _) in self.signals.items():
            if threshold is not None:
                decide(ev[name] >= threshold, EXTRA)
        held = _HELD_TABLE[rule]
        return Claims(targets=t, sources=s, held=held, rule=rule, evidence=ev, kinds=np.stack([kt, ks], axis=1))

    def _word_order(self, decide, mask: np.ndarray, t: np.ndarray, s: np.ndarray) -> None:
        """Rule "word order" on the pairs of ``mask`` (knowledge targets, sources not a diploma): the
        target's first content word (its head) comes after its second in every place the source has
        them — the same words, another phrase ("Techniques de dessin" <- "Lecture de dessins
        techniques"; "Communication technique" <- "Techniques de communication en milieu industriel").
        Not when the two words are members of a list ("Biodiversité et conservation")."""
        pick = np.flatnonzero(mask & (self.phrase_next[t] >= 0))
        if not len(pick):
            return
        keys, first, last, width = self.positions
        head_at = _lookup(keys, first, s[pick] * width + self.phrase_head[t[pick]])
        next_at = _lookup(keys, last, s[pick] * width + self.phrase_next[t[pick]])
        swapped = np.zeros(len(t), dtype=bool)
        swapped[pick] = (head_at >= 0) & (next_at >= 0) & (head_at > next_at)
        decide(swapped, WORD_ORDER)

    def _checking(self, decide, mask: np.ndarray, t: np.ndarray, s: np.ndarray) -> None:
        """Rule "checking" on the pairs of ``mask`` (know-how targets, checking sources): the target's
        verb is not the source's and the source does not say it as a verb either (only as the object
        it checks: "Conditionner des produits" <- "Contrôler le conditionnement d'un produit";
        "Respecter les procédures" <- "Contrôler le respect des procédures"). A source that also does
        the act keeps it ("Contrôler et régler une machine" still holds "Régler une machine")."""
        pick = np.flatnonzero(mask & (self.act[t] >= 0))
        if not len(pick):
            return
        keys, first, _, width = self.surface
        said = _lookup(keys, first, s[pick] * width + self.act[t[pick]]) >= 0
        other = np.zeros(len(t), dtype=bool)
        other[pick] = (self.act[t[pick]] != self.act[s[pick]]) & ~said
        decide(other, CHECKING)

    def holds(self, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """(p,) bool: ``classify(..., full=False).held``."""
        return self.classify(targets, sources, full=False).held

    def held_support(self, candidates: sp.sparray) -> sp.csr_array:
        """(n_skills, n_skills) bool CSR: ``[s, t]`` True when held skill s makes t *held*.

        ``candidates``: (n_skills, n_skills) sparse, nonzero where s relates to t at all (the soft
        kernel's support, ``matching.gaps.support_for``): *held* is a subset of *related*. The
        diagonal is always True."""
        c = sp.coo_array(candidates)
        s, t = c.row.astype(np.int64), c.col.astype(np.int64)
        keep = s != t
        s, t = s[keep], t[keep]
        ok = self.holds(t, s) if len(t) else np.zeros(0, dtype=bool)
        n = self.n_skills
        m = sp.csr_array((np.ones(int(ok.sum()), dtype=bool), (s[ok], t[ok])), shape=(n, n))
        m = sp.csr_array(m + sp.identity(n, dtype=bool, format="csr"), dtype=bool)
        m.sort_indices()
        return m


def precision_recall(predicted: np.ndarray, labels: np.ndarray) -> dict:
    """Precision and recall of *held* predictions against 0/1 labels, with the counts."""
    p = np.asarray(predicted, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    tp, fp, fn = int((p & y).sum()), int((p & ~y).sum()), int((~p & y).sum())
    return {"pairs": int(len(y)), "labelled_held": int(y.sum()), "claimed_held": int(p.sum()), "true_positives": tp,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None}


__all__ = ["RELATION_VERSION", "BROAD_SHARE", "CERTIFICATION_GROUP", "Claims", "DETAIL_MIN", "DETAIL_WORDS", "ENCODER_VETO", "LEARNING", "EVIDENCE", "FIELD_WORDS", "HELD_RULES", "KIND_CODES", "RULES",
           "SkillRelation", "precision_recall"]
