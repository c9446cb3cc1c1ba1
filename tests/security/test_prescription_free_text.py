"""Free text in pre-registrations checked at the service depth (issue 20 hardening): a caller that is
not HTTP (the CLI, a batch, a script over ``PrescriptionService``) cannot store a note, a contact's
name or a transition note holding a control or bidirectional character; the refusal names the field,
the character and its position, as the HTTP 422 does. Before, only ``api/http/text.py`` refused
them: ``service.submit`` stored whatever it was given."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.services.errors import PrescriptionError
from api.services.prescription_service import PrescriptionService
from api.storage.keys import Principal

NEW = {"seeker": "P1", "training": "T-SOUD", "session": "S1", "target": "H2913", "origin": "bridge"}
COUNSELLOR = Principal("k-test", "counsellor", prescriber="france-travail")
ORG_A = Principal("k-org", "organisation", organisation="11111111100011")
HOSTILE = [("\x00", "U+0000"), ("\x1b[2J", "U+001B"), ("\x85", "U+0085"), ("\u202e", "U+202E"), ("\u2066", "U+2066"),
           ("\ufffd", "U+FFFD")]


@pytest.fixture
def service(prescription_env):
    with TestClient(prescription_env["app"]):
        yield PrescriptionService.of(prescription_env["app"].state.passerelles)


@pytest.mark.parametrize("character, code", HOSTILE)
@pytest.mark.parametrize("where", ["note", "contact.name"])
def test_the_service_refuses_control_and_bidi_characters_in_a_note_or_contact_name(service, where, character, code):
    text = f"Projet confirmé{character} suite"
    body = {**NEW, "note": text} if where == "note" else {**NEW, "contact": {"name": text}}
    with pytest.raises(PrescriptionError) as refused:
        service.submit(COUNSELLOR, body)
    error = refused.value
    assert error.status == 422 and error.extra["field"] == where, error.extra
    assert f"{code} at position 15" in error.detail and "printable" in error.detail, error.detail
    assert service.store.list(limit=10, offset=0)[1] == 0, "nothing stored"


def test_the_service_refuses_a_bad_contact_shape_or_value(service):
    for contact, field in (({"name": "x", "address": "1 rue"}, "contact.address"), ({"phone": "=1+2"}, "contact.phone"),
                           ({"email": "not an address"}, "contact.email"), ("Jean", "contact"),
                           ({"name": 12}, "contact.name")):
        with pytest.raises(PrescriptionError) as refused:
            service.submit(COUNSELLOR, {**NEW, "contact": contact})
        assert refused.value.extra["field"] == field, (contact, refused.value.detail)
    with pytest.raises(PrescriptionError, match="at most 2000"):
        service.submit(COUNSELLOR, {**NEW, "note": "x" * 2001})
    assert service.store.list(limit=10, offset=0)[1] == 0


def test_the_service_refuses_a_transition_note_with_a_control_character_and_makes_no_move(service):
    record, _ = service.submit(COUNSELLOR, NEW)
    with pytest.raises(PrescriptionError) as refused:
        service.transition(ORG_A, record["id"], "waitlisted", note="vu\x1b]8;;http://x\x07")
    assert refused.value.extra["field"] == "note" and "U+001B at position 2" in refused.value.detail
    assert service.view(COUNSELLOR, record["id"])["state"] == "submitted", "the move was not made"


def test_ordinary_text_still_passes_through_the_service(service):
    note = "Projet confirmé.\n\tDisponible dès janvier — مرحبا (=SUM(A1))"
    record, created = service.submit(COUNSELLOR, {**NEW, "note": note, "contact": {"name": "Zoë O'Brien", "phone":
                                                                                   "+33 6 00 00 00 00"}})
    assert created and record["note"] == note and record["contact"] == {"name": "Zoë O'Brien",
                                                                        "phone": "+33 6 00 00 00 00"}
    moved = service.transition(ORG_A, record["id"], "waitlisted", note="Entretien le 3 mars.\nÀ rappeler.")
    assert moved["state"] == "waitlisted"
