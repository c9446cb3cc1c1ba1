"""The skill normaliser's semantic signal (issue 21 item 5), with a tiny fake vector table.

The "encoder" here is a table: a few texts get chosen unit vectors (a phrase and the skill label it
means share one), every other text a vector of its own, orthogonal to all the others. So what the
fusion does with a cosine is known exactly, and no model is needed (the real encoder on ROME is in
tests/integration/test_rome_normalise_skills_semantic.py).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from matching.normalise import SKILL_FUSION, Fusion, SemanticUnavailable, SkillNormaliser, TitleNormaliser

FORKLIFT = "DS0352"   # "Conduire un chariot élévateur"
TIG = "DS0190"        # "Souder au procédé TIG"
HYGIENE = "DS0001"    # "Appliquer les règles d'hygiène en zone de production alimentaire"


class TableEncoder:
    """Texts -> unit vectors from a table: ``same`` groups of texts share one axis; any other text
    gets its own axis (so its cosine with every other text is 0). ``dim`` is fixed at construction."""

    name = "table-encoder-test"

    def __init__(self, texts, same: list[list[str]]) -> None:
        self.axis: dict[str, int] = {}
        for group in same:
            axis = len(self.axis)
            for text in group:
                self.axis[text] = axis
        for text in texts:
            self.axis.setdefault(text, len(self.axis))
        self.extra = len(self.axis)
        self.dim = self.extra + 64
        self.calls: list[list[str]] = []

    def encode(self, texts, role="query") -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            axis = self.axis.get(text)
            if axis is None:  # an unknown query: a free axis among the extra ones (deterministic)
                axis = self.extra + int(hashlib.sha256(text.encode()).hexdigest(), 16) % 64
            out[i, axis] = 1.0
        return out


@pytest.fixture(scope="module")
def lexical(demo) -> SkillNormaliser:
    return SkillNormaliser.fit(demo)


def _label(demo, code: str) -> str:
    return demo.skills.filter(demo.skills["code"] == code)["label"].item()


@pytest.fixture(scope="module")
def table(lexical, demo) -> TableEncoder:
    return TableEncoder(lexical.semantic_texts, same=[
        ["forklift driving", _label(demo, FORKLIFT)],
        # a phrase whose words are certain (a label, in lower case) and whose vector (wrongly)
        # points at another skill: certainty must win
        ["TIG welding", "appliquer les règles d'hygiène en zone de production alimentaire", _label(demo, TIG)],
    ])


@pytest.fixture(scope="module")
def fused(lexical, table) -> SkillNormaliser:
    vectors = table.encode(list(lexical.semantic_texts)).astype(np.float16)
    return lexical.with_encoder(table, vectors)


def test_the_skill_normaliser_uses_its_own_fusion(lexical, fused, demo):
    assert fused.fusion == SKILL_FUSION and lexical.fusion == SKILL_FUSION
    assert TitleNormaliser.fit(demo).fusion == Fusion()


def test_a_phrase_whose_words_match_nothing_is_read_by_the_encoder(lexical, fused):
    assert lexical.search("forklift driving", k=5).candidates[0].code != FORKLIFT
    match = fused.search("forklift driving", k=5)
    assert match.candidates[0].code == FORKLIFT and match.confident
    assert match.candidates[0].matched == "Conduire un chariot élévateur"
    assert fused.batch(["TIG welding"], k=3)[0].candidates[0].code == TIG


def test_a_lexically_certain_phrase_never_reaches_the_encoder(fused, table, lexical):
    text = "appliquer les règles d'hygiène en zone de production alimentaire"
    assert float(table.encode([text])[0] @ table.encode(["TIG welding"])[0]) == 1.0  # the encoder would say TIG
    before = len(table.calls)
    match = fused.search(text, k=3)
    assert match.candidates[0].code == HYGIENE and match == lexical.search(text, k=3)
    assert len(table.calls) == before  # certain: not encoded at all


def test_an_unrelated_phrase_keeps_its_lexical_order_and_stays_unconfident(lexical, fused):
    text = "zzkq vbnw"   # no word, no neighbour: cosine 0 with every label
    assert not fused.search(text, k=5).confident
    assert not lexical.search(text, k=5).confident


def test_fused_scores_are_sorted_in_range_and_deterministic(fused):
    texts = ["forklift driving", "soudure tig", "hygiene alimentaire", "stock", "zzkq vbnw"]
    first = fused.batch(texts, k=5)
    assert first == fused.batch(texts, k=5)
    for match in first:
        scores = [c.score for c in match.candidates]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)


def test_reciprocal_rank_fusion_is_the_baseline(lexical, table):
    vectors = table.encode(list(lexical.semantic_texts))
    rrf = lexical.with_encoder(table, vectors, Fusion(method="rrf"))
    match = rrf.search("forklift driving", k=5)
    # first in the semantic list, absent from the lexical one: half the maximum
    assert match.candidates[0].code == FORKLIFT and match.candidates[0].score == pytest.approx(0.5, abs=1e-3)


def test_without_an_encoder_the_normaliser_is_lexical(lexical):
    assert lexical.encoder is None
    with pytest.raises(SemanticUnavailable):
        lexical.semantic_search("forklift driving")


def test_vectors_of_another_table_are_refused(lexical, table):
    with pytest.raises(ValueError, match="expected"):
        lexical.with_encoder(table, np.zeros((3, table.dim), dtype=np.float32))
