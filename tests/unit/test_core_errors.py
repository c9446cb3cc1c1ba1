"""The core's own exceptions: each names what was wrong, and none is a KeyError or a ValueError, so a
surface's ``except KeyError`` can no longer swallow a lookup bug as a user error (issue 17)."""

from __future__ import annotations

import polars as pl
import pytest

from matching import MatchingError, SkillSpace, UnknownSector
from matching.passerelles import PasserelleIndex
from referentiels import (NotYesNo, ReferentielError, UnknownBasin, UnknownCode, UnknownOccupation,
                          UnknownSkill)
from referentiels.csvfiles import LINE, NO_WORDS, YES_WORDS, parse_bool, parse_yes_no
from referentiels.territories import basins_within

CLASSES = (ReferentielError, NotYesNo, UnknownCode, UnknownOccupation, UnknownSkill, UnknownBasin,
           MatchingError, UnknownSector)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_no_core_error_is_a_key_error_or_a_value_error(cls):
    assert not issubclass(cls, (KeyError, ValueError, LookupError))


def _not_swallowed_by_key_error(call, expected: type[Exception]) -> Exception:
    """``call()`` raises ``expected`` through a surface's ``except KeyError`` (which would hide it)."""
    with pytest.raises(expected) as caught:
        try:
            call()
        except KeyError:  # what api/cli.py catches for its own errors: ours must go past it
            pytest.fail("a core error was caught as a KeyError")
    return caught.value


def test_unknown_occupation_names_the_code(demo):
    error = _not_swallowed_by_key_error(lambda: demo.occupation_row("H9999"), UnknownOccupation)
    assert isinstance(error, UnknownCode) and isinstance(error, ReferentielError)
    assert error.code == "H9999" and str(error) == "unknown occupation code 'H9999'"
    assert _not_swallowed_by_key_error(lambda: demo.occupation("Z0000"), UnknownOccupation).code == "Z0000"
    assert demo.occupation_row("H2102") == demo.occupation_index["H2102"]


def test_unknown_skill_names_the_code(demo):
    error = _not_swallowed_by_key_error(lambda: demo.skill_column("NOPE"), UnknownSkill)
    assert isinstance(error, UnknownCode) and error.code == "NOPE"
    assert str(error) == "unknown skill code 'NOPE'"
    code = demo.skills["code"][0]
    assert demo.skill_column(code) == 0


def test_unknown_basin_names_the_basin():
    error = _not_swallowed_by_key_error(lambda: basins_within("atlantis", 10), UnknownBasin)
    assert isinstance(error, UnknownCode) and error.code == "atlantis"
    assert str(error) == "unknown job basin 'atlantis'"


def test_unknown_code_names_the_field_when_given():
    error = UnknownOccupation("H9999", field="target")
    assert str(error) == "column 'target': unknown occupation code 'H9999'"
    assert error.as_dict()["column"] == "target"


def test_unknown_sector_names_the_sector_and_lists_the_known(demo):
    index = PasserelleIndex.fit(demo, SkillSpace.from_referentiel(demo), bridges=None)
    error = _not_swallowed_by_key_error(lambda: index.sector_ids([index.sector_names[0], "Nowhere"]),
                                        UnknownSector)
    assert isinstance(error, MatchingError) and not isinstance(error, ReferentielError)
    assert error.sector == "Nowhere" and str(error) == "unknown sector 'Nowhere'"
    assert error.known == index.sector_names and len(error.known) > 1


@pytest.mark.parametrize("word", [*YES_WORDS, "TRUE", " Oui ", "Vrai"])
def test_yes_words(word):
    assert parse_yes_no(word, "consent") is True


@pytest.mark.parametrize("word", [*NO_WORDS, "FALSE", " Non ", "Faux"])
def test_no_words(word):
    assert parse_yes_no(word, "consent") is False


@pytest.mark.parametrize("empty", [None, "", "  "])
def test_empty_is_no_answer(empty):
    assert parse_yes_no(empty, "consent") is None


@pytest.mark.parametrize("word", ["x", "y", "n", "o", "maybe", "2", "si"])
def test_other_words_are_refused_naming_the_field_and_the_words(word):
    error = _not_swallowed_by_key_error(lambda: parse_yes_no(word, "consent"), NotYesNo)
    assert isinstance(error, ReferentielError) and error.field == "consent" and error.found == word
    text = str(error)
    assert "column 'consent'" in text and f"found {word!r}" in text
    assert all(w in text for w in YES_WORDS + NO_WORDS)


def test_a_csv_column_uses_the_same_words():
    frame = pl.DataFrame({"core": ["oui", None, "FAUX", "1"], LINE: [2, 3, 4, 5]})
    assert parse_bool(frame, "core", "links.csv").to_list() == [True, False, False, True]
    bad = pl.DataFrame({"core": ["true", "x"], LINE: [2, 3]})
    with pytest.raises(NotYesNo) as caught:
        parse_bool(bad, "core", "links.csv")
    assert str(caught.value).startswith("links.csv, line 3, column 'core': not a yes/no value; expected one of true")
