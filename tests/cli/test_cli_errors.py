"""Services' errors: one base the surfaces catch (exit 2, problem+json), never a KeyError or ValueError,
so that a bug (a plain KeyError) keeps its traceback instead of passing for bad input."""

from __future__ import annotations

import pytest

import api.cli.referentiel as referentiel_cli
from api.cli import main
from api.services import errors


@pytest.mark.parametrize("cls", [errors.UnknownBasin, errors.UnknownSeeker, errors.IngestError,
                                 errors.RecordError, errors.UpgradeError])
def test_service_errors_are_not_builtin_lookup_or_value_errors(cls):
    assert issubclass(cls, errors.ServiceError)
    assert not issubclass(cls, (KeyError, ValueError, LookupError))


def test_a_service_error_is_exit_2_with_its_detail(monkeypatch, capsys):
    def refuse(source):
        raise errors.UnknownBasin("atlantis", ["beauvais"])

    monkeypatch.setattr(referentiel_cli.referentiels, "load", refuse)
    assert main(["referentiel", "info", "demo"]) == 2
    assert capsys.readouterr().err.strip() == "error: No job basin has the id 'atlantis'; GET /basins lists them."


def test_a_plain_key_error_is_a_bug_not_bad_input(monkeypatch):
    def bug(source):
        return {}["missing"]

    monkeypatch.setattr(referentiel_cli.referentiels, "load", bug)
    with pytest.raises(KeyError, match="missing"):
        main(["referentiel", "info", "demo"])
