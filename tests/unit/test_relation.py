"""`matching.relation`: when a related skill counts as held — direction, kinds, certificates, fields."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matching.relation import (APART, BROAD_FIELD, CHECKING, CLOSE, CONTAINS, DETAIL, EXTRA, FIELD, HELD_RULES,
                               KNOWLEDGE_FOR_KNOW_HOW, LEARNING_SOURCE, MOSTLY_OTHER, NOT_A_CERTIFICATE, QUALIFIER,
                               RULES, SAME, SOFT_SKILL, CERTIFICATE, WORD_ORDER, SkillRelation, precision_recall)

SKILLS = [  # label, kind, group, certificate
    ("Gérer les stocks", "savoir-faire", 0, False),                                   # 0
    ("Gérer les stocks de médicaments vétérinaires", "savoir-faire", 0, False),       # 1
    ("Normes qualité", "savoir", -1, False),                                          # 2
    ("Normes de sécurité", "savoir", -1, False),                                      # 3
    ("Optimisation des flux de production", "savoir", -1, False),                     # 4
    ("Optimiser les flux de production", "savoir-faire", 1, False),                   # 5
    ("Faire preuve d'autonomie", "savoir-être", 2, False),                            # 6
    ("Faire preuve de rigueur", "savoir-être", 3, False),                             # 7
    ("Bac pro maintenance des véhicules option A", "savoir", -1, True),               # 8
    ("Bac pro maintenance des véhicules option B", "savoir", -1, True),               # 9
    ("Doctorat", "savoir", -1, True),                                                 # 10
    ("Doctorat eau, environnement", "savoir", -1, True),                              # 11
    ("Droit public", "savoir", -1, False),                                            # 12
    ("Master mention droit public", "savoir", -1, True),                              # 13
    ("Psychologie", "savoir", -1, False),                                             # 14
    ("Soutien psychologique", "savoir", -1, False),                                   # 15
    ("Rééducation posturale", "savoir", -1, False),                                   # 16
    ("Techniques de rééducation posturale", "savoir", -1, False),                     # 17
    ("Contrôler la conformité d'un équipement", "savoir-faire", 4, False),            # 18
    ("Entretenir un équipement", "savoir-faire", 4, False),                           # 19
    ("Réaliser une étude d'impact environnemental", "savoir-faire", 5, False),        # 20
    ("Etude d'impact environnemental", "savoir", -1, False),                          # 21
    ("Réaliser la maintenance préventive", "savoir-faire", 6, False),                 # 22
    ("Réaliser la maintenance", "savoir-faire", 6, False),                            # 23
    ("Développer ses compétences en gestion de projet", "savoir-faire", 7, False),    # 24
    ("Gestion de projet", "savoir", -1, False),                                       # 25
    ("Normes de sécurité pour la coupe", "savoir", -1, False),                        # 26
    ("Doctorat (eau, environnement)", "savoir", -1, True),                            # 27
    ("Conduite de projet", "savoir", -1, False),                                      # 28
    ("Gestion de projet informatique", "savoir", -1, False),                          # 29
    ("Développer ses compétences en gestion de projet agile", "savoir-faire", 7, False),  # 30
    ("Techniques de prise de son", "savoir", -1, False),                              # 31
    ("Techniques de prise de vue", "savoir", -1, False),                              # 32
    ("Techniques de dessin", "savoir", -1, False),                                    # 33
    ("Lecture de dessins techniques", "savoir", -1, False),                           # 34
    ("Sécurité et hygiène", "savoir", -1, False),                                     # 35
    ("Règles d'hygiène et de sécurité", "savoir", -1, False),                         # 36
    ("Conditionner des produits", "savoir-faire", 8, False),                          # 37
    ("Contrôler le conditionnement d'un produit", "savoir-faire", 8, False),          # 38
    ("Régler une machine", "savoir-faire", 9, False),                                 # 39
    ("Contrôler et régler une machine", "savoir-faire", 9, False),                    # 40
    ("Essences de bois", "savoir", -1, False),                                        # 41
    ("Cycles de séchage des essences de bois", "savoir", -1, False),                  # 42
    ("Gestion des stocks", "savoir", -1, False),                                      # 43
    ("Gestion des stocks de pièces", "savoir", -1, False),                            # 44
] + [(f"Techniques de {w}{v}", "savoir", -1, False) for w in ("vente", "soudage", "coupe", "pose", "taille", "tri")
     for v in ("", " fine", " lourde", " rapide", " manuelle")]
# (the filler makes "Techniques" a common word, as in a real referential: its IDF weighs little)


@pytest.fixture(scope="module")
def relation():
    labels = [s[0] for s in SKILLS]
    # occupations: 8 list one of skills 0-3 each; 6 more list "Normes de sécurité" (3): 8 of the 14
    # occupations list it, a broad field; every other skill is listed by none or one
    rows = [0, 1, 2, 3] * 2 + [3] * 6
    links = sp.csr_array(np.eye(len(SKILLS), dtype=np.float32)[rows])
    return SkillRelation.fit(labels, [s[1] for s in SKILLS], np.array([s[2] for s in SKILLS]),
                             np.array([s[3] for s in SKILLS]), links)


def decide(relation, target: int, source: int) -> tuple[bool, int]:
    claims = relation.classify(np.array([target]), np.array([source]))
    return bool(claims.held[0]), int(claims.rule[0])


@pytest.mark.parametrize("target, source, held, rule", [
    (0, 0, True, SAME),
    (0, 1, True, CONTAINS),            # a specific skill contains the generic one ...
    (1, 0, False, QUALIFIER),          # ... not the reverse: the target adds a qualifier
    (2, 3, False, CLOSE),              # one standard is not another
    (5, 4, False, KNOWLEDGE_FOR_KNOW_HOW),  # knowing is not doing, even with the same words
    (21, 20, True, CONTAINS),          # doing is knowing the very same subject
    (6, 7, False, SOFT_SKILL),         # one soft skill never stands for another
    (8, 9, False, CERTIFICATE),        # option A is not option B (single letters count)
    (10, 11, False, CERTIFICATE),      # one diploma is not another, even a doctorate in a field for a doctorate
    (11, 10, False, CERTIFICATE),
    (11, 27, True, CONTAINS),          # the same diploma, written otherwise
    (22, 23, False, QUALIFIER),        # a target that adds a qualifier the source lacks is not held
    (25, 24, False, LEARNING_SOURCE),  # developing one's skills in project management is not holding it
    (24, 30, True, CONTAINS),          # ... but it is developing one's skills in it
    (31, 32, False, CLOSE),            # sound is not image: "son" is a word, not only a possessive
    (3, 26, False, BROAD_FIELD),       # safety standards for cutting are a corner of safety standards
    (25, 29, True, CONTAINS),          # ... a knowledge item few occupations list is held through a narrower one
    (13, 12, False, NOT_A_CERTIFICATE),  # knowing public law is not a master's degree
    (14, 15, False, FIELD),            # a whole field is not held through one of its objects
    (17, 16, True, DETAIL),            # the target only adds a light detail
    (18, 19, False, CLOSE),            # maintaining is not checking (same macro-competence)
    (33, 34, False, WORD_ORDER),       # the same words, another phrase: reading technical drawings is not drawing
    (35, 36, True, CONTAINS),          # ... but the members of a list may come in any order
    (37, 38, False, CHECKING),         # checking the packaging is not packaging
    (39, 40, True, CONTAINS),          # ... but a source that checks and also does the act holds it
    (41, 42, False, MOSTLY_OTHER),     # drying cycles of wood species are about drying, not the species
    (43, 44, True, CONTAINS),          # ... a source that is mostly the target holds it
    (12, 13, True, CONTAINS),          # a diploma stands for the knowledge it is named after, however long its name
])
def test_the_rules(relation, target, source, held, rule):
    assert decide(relation, target, source) == (held, rule)
    assert (rule in HELD_RULES) == held


def test_direction_is_in_the_evidence_and_each_claim_keeps_its_record(relation):
    claims = relation.classify(np.array([0, 1]), np.array([1, 0]))
    assert claims.evidence["contains"][0] == pytest.approx(1.0) and claims.evidence["contains"][1] < 0.8
    assert claims.evidence["extends"][1] == pytest.approx(1.0)
    record = claims.record(0)
    assert record == {"held": True, "rule": RULES[CONTAINS], "kinds": ["savoir-faire", "savoir-faire"],
                      "signals": record["signals"]}
    assert set(record["signals"]) == {"contains", "extends", "words", "chars", "group", "cooccurrence", "same_act"}
    assert record["signals"]["group"] == 1.0 and 0 <= record["signals"]["chars"] <= 1


def test_the_macro_competence_alone_never_makes_a_skill_held(relation):
    same_group = [(t, s) for t in range(len(SKILLS)) for s in range(len(SKILLS))
                  if t != s and SKILLS[t][2] >= 0 and SKILLS[t][2] == SKILLS[s][2]]
    t, s = np.array(same_group).T
    claims = relation.classify(t, s)
    assert (claims.evidence["group"] == 1).all()
    assert (claims.evidence["contains"][claims.held] >= 0.8).all()  # held only with other evidence


def test_a_narrowing_qualifier_is_close_but_a_way_of_knowing_is_a_detail(relation):
    """The target may add "Techniques de" to its source (held), not "préventive" (close); the
    reverse direction (a specific source for its generic form) is held."""
    assert decide(relation, 17, 16) == (True, DETAIL)
    assert decide(relation, 22, 23) == (False, QUALIFIER)
    assert decide(relation, 23, 22) == (True, CONTAINS)
    claims = relation.classify(np.array([22]), np.array([23]))
    assert claims.evidence["extends"][0] == pytest.approx(1.0) and claims.record(0)["rule"] == RULES[QUALIFIER]


def test_the_broad_field_rule_counts_occupations(relation):
    """"Normes de sécurité" is listed by 8 of 14 occupations (>= 3): not held through a narrower
    source. The same pair with every skill listed once is held (its words are all in the source)."""
    assert relation.n_occupations[3] == 8 and relation.broad_min == 3
    assert decide(relation, 3, 26) == (False, BROAD_FIELD)
    labels = [s[0] for s in SKILLS]
    flat = SkillRelation.fit(labels, [s[1] for s in SKILLS], np.array([s[2] for s in SKILLS]),
                             np.array([s[3] for s in SKILLS]), sp.csr_array(np.eye(len(SKILLS), dtype=np.float32)))
    assert decide(flat, 3, 26) == (True, CONTAINS)


def test_the_encoder_veto_is_used_when_given(relation):
    """With the encoder's cosine (``with_signal(..., veto=)``), a pair the labels would hold is
    close when the cosine is below the veto, held when above; the value is kept as evidence."""
    def cosine(value):
        return lambda t, s: np.full(len(t), value, dtype=np.float32)

    assert decide(relation, 0, 1) == (True, CONTAINS)
    low = relation.with_signal("encoder", cosine(0.5), veto=0.89)
    assert decide(low, 0, 1) == (False, APART)
    claims = low.classify(np.array([0]), np.array([1]), full=False)
    assert claims.evidence["encoder"][0] == pytest.approx(0.5)  # what the rule used, even without full evidence
    assert decide(relation.with_signal("encoder", cosine(0.95), veto=0.89), 0, 1) == (True, CONTAINS)
    assert decide(low, 2, 3) == (False, CLOSE)  # the veto only takes held away
    assert decide(low, 0, 0) == (True, SAME)
    with pytest.raises(ValueError, match="veto in"):
        relation.with_signal("encoder", cosine(0.5), veto=1.5)


def test_an_extra_signal_is_evidence_and_decides_only_with_a_threshold(relation):
    cosine = lambda t, s: np.full(len(t), 0.95, dtype=np.float32)  # noqa: E731 (the encoder's hook)
    shown = relation.with_signal("encoder", cosine)
    claims = shown.classify(np.array([2]), np.array([3]))
    assert claims.evidence["encoder"][0] == pytest.approx(0.95) and not claims.held[0]
    deciding = relation.with_signal("encoder", cosine, threshold=0.9)
    assert decide(deciding, 2, 3) == (True, EXTRA)
    assert decide(deciding, 5, 4) == (False, KNOWLEDGE_FOR_KNOW_HOW)  # kind rules come first
    with pytest.raises(ValueError, match="already an evidence column"):
        relation.with_signal("contains", cosine)


def test_held_support_is_within_the_candidates_and_keeps_the_diagonal(relation):
    n = relation.n_skills
    candidates = sp.csr_array(np.ones((n, n), dtype=bool))
    held = relation.held_support(candidates)
    assert held.diagonal().all() and held[1, 0] and not held[0, 1] and not held[19, 18]
    assert relation.held_support(sp.csr_array((n, n), dtype=bool)).nnz == n


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown skill kind"):
        SkillRelation.fit(["x"], ["compétence"], np.array([-1]), np.array([False]), sp.csr_array((1, 1)))
    with pytest.raises(ValueError, match="one entry per skill"):
        SkillRelation.fit(["x", "y"], ["savoir"], np.array([-1]), np.array([False]), sp.csr_array((1, 2)))


def test_precision_recall_counts():
    pr = precision_recall(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool))
    assert (pr["precision"], pr["recall"], pr["true_positives"], pr["claimed_held"]) == (0.5, 0.5, 1, 2)
    assert precision_recall(np.zeros(2, bool), np.zeros(2, bool))["precision"] is None


def test_the_word_order_rule_reads_the_head_of_a_knowledge_item(relation):
    """"Techniques de dessin" <- "Lecture de dessins techniques": every word is there (contains 1), so
    without the order the pair would be held; the reverse pair, where the source says more in the
    same order, is not this rule's; a know-how target is not read this way."""
    claims = relation.classify(np.array([33, 36]), np.array([34, 35]))
    assert claims.evidence["contains"][0] == pytest.approx(1.0) and claims.rule[0] == WORD_ORDER
    assert claims.record(0)["rule"] == RULES[WORD_ORDER] and "phrase" in RULES[WORD_ORDER]
    assert claims.rule[1] != WORD_ORDER  # the target says more than the source: not held, another rule
    assert decide(relation, 33, 33) == (True, SAME)


def test_the_mostly_other_rule_is_a_share_of_the_source(relation):
    """The source's words the target has weigh less than half of it (``extends`` < 0.5): close; the
    same pair with the threshold at 0 is held, so the rule (not another) decided."""
    claims = relation.classify(np.array([41, 43]), np.array([42, 44]))
    assert claims.evidence["extends"][0] < 0.5 <= claims.evidence["extends"][1]
    from dataclasses import replace
    assert decide(replace(relation, mostly_other=0.0), 41, 42) == (True, CONTAINS)
