"""Whole job ads to codes (matching/offers.py, issue 21 item 3) on the demo referential."""

from __future__ import annotations

import pytest

from matching.normalise import SkillNormaliser, TitleNormaliser
from matching.offers import MAX_DESCRIPTION_CHARS, InvalidOffer, OfferText, read_offers, sentences

DESCRIPTION = """Missions :
- Appliquer les règles d&#39;hygiène en zone de production alimentaire.
• Relever et consigner les températures de la chaîne du froid ; vous nettoyez la ligne.
Rémunération :
Poste en CDI, 35 h."""


@pytest.fixture(scope="module")
def normalisers(demo):
    return TitleNormaliser.fit(demo), SkillNormaliser.fit(demo)


def test_sentences_are_list_items_and_sentences_not_headings():
    assert sentences(DESCRIPTION) == [
        "Appliquer les règles d'hygiène en zone de production alimentaire.",
        "Relever et consigner les températures de la chaîne du froid ;",
        "vous nettoyez la ligne.",
        "Poste en CDI, 35 h.",
    ]
    assert sentences("") == [] and sentences("\x00\x01 ok") == []


def test_an_ad_gives_its_occupation_and_the_skills_its_text_names(normalisers):
    titles, skills = normalisers
    (result,) = read_offers(titles, skills, [OfferText("Conducteur de ligne agroalimentaire (H/F)", DESCRIPTION,
                                                       " 10.13a ")], k=3)
    assert result.occupation.candidates[0].code == "H2102" and result.occupation.confident
    found = {s.code: s.sentence for s in result.skills}
    assert found == {"DS0001": "Appliquer les règles d'hygiène en zone de production alimentaire.",
                     "DS0005": "Relever et consigner les températures de la chaîne du froid ;"}
    assert result.naf == "10.13A"
    body = result.as_dict()
    assert body["best"]["code"] == "H2102" and body["skills"][0]["sentence"] and body["naf"] == "10.13A"


def test_one_result_per_ad_in_order_and_a_title_alone_is_enough(normalisers):
    titles, skills = normalisers
    results = read_offers(titles, skills, [OfferText("Cariste"), OfferText("Soudeuse", "Soudure sur inox.")])
    assert [r.occupation.candidates[0].code for r in results] == ["N1101", "H2913"]
    assert results[0].skills == () and results[0].naf is None


@pytest.mark.parametrize(("offer", "field", "reason"), [
    (OfferText("   ", "texte"), "title", "empty"),
    (OfferText("Cariste", "x" * (MAX_DESCRIPTION_CHARS + 1)), "description", "too-long"),
    (OfferText("Cariste", 3), "description", "not-text"),  # type: ignore[arg-type]
    (OfferText("Cariste", "", "boulangerie"), "naf", "invalid"),
    (OfferText("Cari\x00ste"), "title", "binary"),
])
def test_a_bad_ad_is_named_by_index_and_field(normalisers, offer, field, reason):
    titles, skills = normalisers
    with pytest.raises(InvalidOffer) as caught:
        read_offers(titles, skills, [OfferText("Cariste"), offer])
    assert (caught.value.index, caught.value.field, caught.value.reason) == (1, field, reason)
    assert str(caught.value).startswith(f"item 1, {field}: ")
