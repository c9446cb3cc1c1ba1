"""The normaliser's contract: folding rules, validation, ordering invariants, any referential in any language."""

from __future__ import annotations

import random

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.normalise import (MAX_TEXT_CHARS, InvalidText, SkillNormaliser, TitleNormaliser, acronym_alias,
                                fold, learn_gender_map, split_gendered, validate_text)
from matching.normalise_noise import NOISE_KINDS, add_noise, noisy_titles
from referentiels import Referentiel


# ---- folding ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "folded"), [
    ("Opérateur/trice de PROD (H/F)", "operateur de production"),
    ("Soudeur / Soudeuse TIG", "soudeur tig"),
    ("Agent(e) de quai F/H", "agent de quai"),
    ("Employé.e  d'ŒUVRE", "employe d oeuvre"),
    ("Resp. maint.", "responsable maintenance"),
    ("conducteur de ligne agro", "conducteur de ligne alimentaire"),
    ("Ingénieur·e R&D", "ingenieur r d"),
    ("Straßenbauer", "strassenbauer"),
    ("Ηλεκτρολόγος", "ηλεκτρολογος"),
])
def test_fold(text, folded):
    assert fold(text) == folded


def test_fold_keeps_vowel_signs_of_scripts_that_need_them():
    assert fold("प्रबंधक") != fold("परबधक")


def test_split_gendered_heads_and_tail():
    assert split_gendered("Conducteur / Conductrice de ligne") == ("Conducteur de ligne", "Conductrice de ligne")
    assert split_gendered("Second maître / Seconde maîtresse d'hôtel") == ("Second maître d'hôtel",
                                                                         "Seconde maîtresse d'hôtel")
    assert split_gendered("Import / export manager") is None  # not two forms of one word
    assert split_gendered("Cariste") is None


def test_gender_map_is_learnt_from_the_titles_and_has_no_cycle():
    mapping = learn_gender_map(["Agent / Agente de quai", "Agent / Agente de piste", "Agente / Agent de bio-nettoyage",
                                "Chef / Cheffe de rayon", "Import / export manager"])
    assert mapping == {"agente": "agent", "cheffe": "chef"}
    assert not set(mapping) & set(mapping.values())


def test_acronym_alias():
    assert acronym_alias("Soudeur / Soudeuse Tungsten Inert Gas -TIG-") == "Soudeur / Soudeuse TIG"
    assert acronym_alias("Graphiste en Publication Assistée par Ordinateur (PAO)") == "Graphiste en PAO"
    assert acronym_alias("Agent / Agente technique de l'environnement (ATE)") is None  # would cut the heads
    assert acronym_alias("Cariste") is None


# ---- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "reason"), [
    ("", "empty"), (" \t\n", "empty"), ("x" * (MAX_TEXT_CHARS + 1), "too-long"), ("ab\x00cd", "binary"),
    ("\x1b[31m", "binary"), ("soud\ufffdeur", "binary"), (b"cariste", "binary"), (None, "not-text"), (42, "not-text"),
])
def test_invalid_text_says_why(value, reason):
    with pytest.raises(InvalidText) as caught:
        validate_text(value)
    assert caught.value.reason == reason and str(caught.value)


def test_valid_text_is_trimmed_and_tabs_are_fine():
    assert validate_text("  Soudeur\tTIG \n") == "Soudeur\tTIG"
    assert validate_text("x" * MAX_TEXT_CHARS) == "x" * MAX_TEXT_CHARS


# ---- behaviour on the demo referential ---------------------------------------------------------

@pytest.fixture(scope="module")
def titles(demo) -> TitleNormaliser:
    return TitleNormaliser.fit(demo)


@pytest.fixture(scope="module")
def skills(demo) -> SkillNormaliser:
    return SkillNormaliser.fit(demo)


def test_exact_title_of_each_gender_is_a_perfect_confident_match(titles):
    for text in ("Cariste", "Soudeuse", "soudeur", "SOUDEUR / SOUDEUSE"):
        match = titles.search(text)
        assert match.confident and match.best.score == 1.0


def test_candidates_are_sorted_and_carry_what_matched(titles):
    match = titles.search("conducteur de ligne", k=10)
    scores = [c.score for c in match.candidates]
    assert scores == sorted(scores, reverse=True) and len(match.candidates) == 10
    assert len({c.code for c in match.candidates}) == 10
    assert all("onducteur" in c.matched for c in match.candidates[:3])


def test_ties_are_broken_by_code(titles):
    for match in titles.batch(["agent", "conducteur", "technicien", "opérateur", "chef"], k=20):
        pairs = [(-c.score, c.code) for c in match.candidates]
        assert pairs == sorted(pairs)


def test_gibberish_is_not_confident_but_suggests(titles):
    match = titles.search("qwxzv")
    assert not match.confident and match.best is None and match.candidates
    assert all(c.score < titles.threshold for c in match.candidates)


def test_batch_equals_search_one_by_one(titles):
    texts = ["Cariste", "soudeuse tig", "tech de maint", "opérateur de prod", "xyz", "conductrice de li"]
    assert titles.batch(texts, k=4) == [titles.search(t, k=4) for t in texts]


def test_batch_names_the_bad_item(titles):
    with pytest.raises(InvalidText) as caught:
        titles.batch(["Cariste", "ok", "   "])
    assert caught.value.index == 2 and "item 2" in str(caught.value)
    assert titles.batch([]) == []


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3"])
def test_k_must_be_a_positive_whole_number(titles, k):
    with pytest.raises(ValueError):
        titles.search("cariste", k=k)


def test_skill_phrases_find_their_codes(skills, demo):
    rng = random.Random(4)
    rows = rng.sample(range(demo.skills.height), 40)
    labels = [demo.skills["label"][i] for i in rows]
    found = skills.batch([label.upper() for label in labels], k=1)
    folded = {}
    for label, code in zip(demo.skills["label"].to_list(), demo.skills["code"].to_list()):
        folded.setdefault(skills.fold(label), set()).add(code)
    assert all(m.best and m.best.code in folded[skills.fold(label)] for m, label in zip(found, labels))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=0, max_size=600), k=st.integers(1, 12))
def test_any_text_either_raises_invalid_text_or_gives_a_sound_match(titles, text, k):
    try:
        match = titles.search(text, k=k)
    except InvalidText:
        return
    assert len(match.candidates) <= k
    assert all(0.0 <= c.score <= 1.0 for c in match.candidates)
    assert [(-c.score, c.code) for c in match.candidates] == sorted((-c.score, c.code) for c in match.candidates)
    assert match.confident == bool(match.candidates and match.candidates[0].score >= titles.threshold)
    assert titles.search(text, k=k) == match  # deterministic


# ---- the noise generator -----------------------------------------------------------------------

def test_noise_is_seeded_and_covers_every_kind():
    pairs = [("Conducteur / Conductrice de ligne de production", "H2102"), ("Soudeur / Soudeuse", "H2913"),
             ("Responsable de maintenance", "I1102")]
    first, again = noisy_titles(pairs, 3, seed=7), noisy_titles(pairs, 3, seed=7)
    assert first == again and {n.kind for n in first} == set(NOISE_KINDS) and len(first) == 3 * len(NOISE_KINDS)
    assert noisy_titles(pairs, 3, seed=8) != first
    rng = random.Random(0)
    assert add_noise("Soudeur / Soudeuse", "feminine", rng) == "Soudeuse"
    assert add_noise("Soudeur / Soudeuse", "masculine", rng) == "Soudeur"
    assert "resp" in add_noise("Responsable de maintenance", "abbreviated", random.Random(1)).lower()
    with pytest.raises(ValueError):
        add_noise("x", "nope", rng)


# ---- any referential, any language ------------------------------------------------------------

def _referential(occupations: list[tuple[str, str]], titles: list[tuple[str, str]],
                 skills: list[tuple[str, str]]) -> Referentiel:
    return Referentiel.from_tables(
        name="test", version="1", source="test",
        occupations=pl.DataFrame({"code": [c for c, _ in occupations], "label": [l for _, l in occupations]}),
        skills=pl.DataFrame({"code": [c for c, _ in skills], "label": [l for _, l in skills],
                             "kind": ["savoir-faire"] * len(skills)}),
        links=pl.DataFrame({"occupation": [occupations[0][0]], "skill": [skills[0][0]], "weight": [1.0],
                            "core": [True]}),
        titles=pl.DataFrame({"title": [t for t, _ in titles], "occupation": [o for _, o in titles]}))


def test_an_english_and_german_referential_without_gendered_titles():
    referential = _referential(
        [("E1", "Welder"), ("E2", "Forklift driver"), ("E3", "Production line operator"), ("D1", "Straßenbauer")],
        [("TIG welder", "E1"), ("Fork-lift truck driver", "E2"), ("Machine operator", "E3"),
         ("Tiefbaufacharbeiter", "D1")],
        [("s1", "Weld steel parts"), ("s2", "Drive a forklift truck"), ("s3", "Set up a machine")])
    titles = TitleNormaliser.fit(referential)
    assert titles.gender_map == {}
    assert titles.search("tig welder").best.code == "E1"
    assert titles.search("forklfit driver").best.code == "E2"   # typo
    assert titles.search("operator line production").best.code == "E3"  # swapped
    assert titles.search("strassenbauer").best.code == "D1"    # ß folded
    assert titles.search("tiefbaufach").candidates[0].code == "D1"  # truncated
    skills = SkillNormaliser.fit(referential)
    assert skills.search("drive forklift").best.code == "s2"


def test_a_greek_and_russian_referential():
    referential = _referential(
        [("G1", "Ηλεκτρολόγος"), ("G2", "Συγκολλητής"), ("R1", "Сварщик"), ("R2", "Водитель погрузчика")],
        [("Ηλεκτρολόγος εγκαταστάσεων", "G1"), ("Сварщик аргонодуговой сварки", "R1")],
        [("s1", "Συγκόλληση μετάλλων"), ("s2", "Управление погрузчиком")])
    titles = TitleNormaliser.fit(referential)
    assert titles.search("ηλεκτρολογος").best.code == "G1"  # accents (tonos) dropped
    assert titles.search("СВАРЩИК").best.code == "R1"
    assert titles.search("водитель погрущика").best.code == "R2"  # typo
    assert SkillNormaliser.fit(referential).search("συγκολληση").best.code == "s1"
