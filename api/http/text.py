"""Free text at the HTTP boundary (a note, a contact's name): ``FreeText``.

Text written by one party and read by another (a counsellor's note read by the training
organisation, in the page, the CLI and the logs) holds no control character but tab, LF and CR (a
NUL truncates it in C tools; ESC sequences rewrite a terminal when ``passerelles prescriptions show``
prints it) and no bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069: the
text would read otherwise than it is stored, "Trojan source"); nor U+FFFD-U+FFFF (binary data
decoded). The refusal is a 422 naming the field, the character and its position.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Strict
from pydantic_core import PydanticCustomError

#: The characters free text may not hold (the control class of ``matching.normalise.validate_text``
#: plus C1 controls and the bidirectional controls).
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffd\ufffe\uffff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable free text, else None."""
    bad = FORBIDDEN.search(value)
    if bad is None:
        return None
    kind = "a bidirectional control" if "\u202a" <= bad.group() <= "\u2069" else "a control or invalid character"
    return (f"holds {kind} (U+{ord(bad.group()):04X} at position {bad.start()}): expected printable text "
            "(tab and line breaks allowed)")


def _checked(value: str | None) -> str | None:
    if value is not None:
        reason = text_problem(value)
        if reason is not None:
            raise PydanticCustomError("invalid_text", "{reason}", {"reason": reason})
    return value


#: Optional free text: a string (never a number or a list turned into text) without the characters above.
FreeText = Annotated[str | None, Strict(), AfterValidator(_checked)]
