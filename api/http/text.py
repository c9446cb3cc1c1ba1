"""Free text at the HTTP boundary (a note, a contact's name): ``FreeText``.

The rule and its message are ``api.services.free_text`` (the services check it again for the callers
that are not HTTP): no control character but tab, LF and CR, no bidirectional control, nor
U+FFFD-U+FFFF. The refusal is a 422 naming the field, the character and its position.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Strict
from pydantic_core import PydanticCustomError

from api.services.free_text import text_problem


def _checked(value: str | None) -> str | None:
    if value is not None:
        reason = text_problem(value)
        if reason is not None:
            raise PydanticCustomError("invalid_text", "{reason}", {"reason": reason})
    return value


#: Optional free text: a string (never a number or a list turned into text) without the characters above.
FreeText = Annotated[str | None, Strict(), AfterValidator(_checked)]
