"""The id rule (``referentiels.ids``) at the HTTP boundary: the ``Id`` type of request bodies and
``path_id`` for ``/{kind}/{id}`` paths.

``Id`` is a strict string (a number, a list or an object is a 422, never turned into text) taken in
its canonical form (NFC, trimmed); a body breaking the rule answers 422 ``invalid-request`` whose
``field`` is the body field and whose detail names the rule. A path id is canonicalised the same way
(so ``/seekers/S-e%CC%81`` reaches the seeker stored as ``S-é``); one breaking the rule answers 422
``invalid-id`` naming ``id`` (nothing stored can have it).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from referentiels.ids import MAX_ID_LENGTH, RULE, id_problem

from api.http.problems import Problem


def _canonical(value: str) -> str:
    text, reason = id_problem(value)
    if reason is not None:
        raise PydanticCustomError("invalid_id", "{reason}", {"reason": reason, "rule": RULE})
    return text  # type: ignore[return-value]


def _schema(description: str) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": "^[^/]+$",
            "description": f"{description} Rule: {RULE}; taken in Unicode NFC, trimmed."}


#: A resource id in a request body (seeker, offer).
Id = Annotated[str, Strict(), AfterValidator(_canonical), WithJsonSchema(_schema("The record's identifier."))]
#: An optional id-like reference (an employer id).
OptionalId = Annotated[str | None, AfterValidator(lambda v: v if v is None else _canonical(v)),
                       WithJsonSchema({"anyOf": [_schema("An employer's identifier."), {"type": "null"}]})]


def path_id(value: str, field: str = "id") -> str:
    """The canonical form of the path's id, or a 422 ``invalid-id`` problem naming ``field`` and the rule."""
    text, reason = id_problem(value)
    if reason is not None:
        raise Problem(422, "invalid-id", "Invalid id", f"'{field}' {reason}: {RULE}.", field=field,
                      location="path", rule=RULE)
    return text  # type: ignore[return-value]
