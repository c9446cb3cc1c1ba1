"""A person's own words to a seeker's profile (matching/profile.py, issue 21 item 4) on the demo referential."""

from __future__ import annotations

import pytest

from matching.normalise import SkillNormaliser, TitleNormaliser
from matching.profile import MAX_EXPERIENCES, Experience, InvalidProfile, read_profile


@pytest.fixture(scope="module")
def normalisers(demo):
    return TitleNormaliser.fit(demo), SkillNormaliser.fit(demo)


def test_the_seeker_fields_follow_the_experiences_most_recent_first(normalisers):
    profile = read_profile(*normalisers, [Experience("xqzv wrtp"), Experience("cariste"), Experience("Cariste (H/F)"),
                                          Experience("préparateur de commandes")], k=2)
    assert profile.experiences[0].occupation.best is None  # gibberish: no confident occupation
    assert profile.seeker() == {"occupation": None, "past_occupations": ["N1101", "N1103"], "skills": []}
    assert [o.code for o in profile.occupations] == ["N1101", "N1103"] and profile.occupations[0].experience == 1
    same = read_profile(*normalisers, [Experience("cariste"), Experience("cariste")])
    assert same.seeker()["past_occupations"] == [], "the current occupation is not also a past one"


def test_a_skill_named_twice_is_kept_once_where_it_was_said_best(normalisers):
    profile = read_profile(*normalisers, [Experience("cariste", "conduite de chariot élévateur")],
                           text="Conduire un chariot élévateur, et aussi d'autres choses")
    (skill,) = [s for s in profile.skills if s.code == "DS0352"]
    assert (skill.source, skill.sentence, skill.score) == ("text", "Conduire un chariot élévateur", 1.0)
    assert [s.code for s in profile.experiences[0].skills] == ["DS0352"]  # and still under its experience


@pytest.mark.parametrize(("experiences", "text", "field"), [
    ([], "", "experiences"),
    ([], " \n ", "experiences"),
    ([Experience("cariste"), Experience(" ")], "", "experiences.1.title"),
    ([Experience("cariste", "x" * 20_001)], "", "experiences.0.description"),
    ([Experience("cariste", b"bytes")], "", "experiences.0.description"),  # type: ignore[arg-type]
    ([Experience("cariste")], 42, "text"),
    ([Experience("cariste")] * (MAX_EXPERIENCES + 1), "", "experiences"),
    (["cariste"], "", "experiences.0"),
])
def test_a_bad_profile_names_its_field(normalisers, experiences, text, field):
    with pytest.raises(InvalidProfile) as caught:
        read_profile(*normalisers, experiences, text)
    assert caught.value.field == field
