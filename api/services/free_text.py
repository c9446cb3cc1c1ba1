"""Free text one party writes and another reads (a counsellor's note read by the training
organisation, a contact's name), checked at the service depth so that every caller (HTTP, CLI, a
batch, a test) gets the same rule: ``text_problem(value)`` says why a text is refused, else None.

The rule: no control character but tab, LF and CR (a NUL truncates the text in C tools; ESC
sequences rewrite a terminal when ``passerelles prescriptions show`` prints it), no bidirectional
embedding, override or isolate (U+202A-U+202E, U+2066-U+2069: the text would read otherwise than it
is stored, "Trojan source"), nor U+FFFD-U+FFFF (binary data decoded). ``api.http.text.FreeText``
applies the same function at the HTTP boundary (a 422 naming the field, the character and its
position, before the service is called); the service repeats it for the callers that are not HTTP.
"""

from __future__ import annotations

import re

#: The characters free text may not hold (the control class of ``matching.normalise.validate_text``
#: plus C1 controls and the bidirectional controls).
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffd\ufffe\uffff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable free text (the character as U+XXXX and its 0-based position),
    else None."""
    bad = FORBIDDEN.search(value)
    if bad is None:
        return None
    kind = "a bidirectional control" if "\u202a" <= bad.group() <= "\u2069" else "a control or invalid character"
    return (f"holds {kind} (U+{ord(bad.group()):04X} at position {bad.start()}): expected printable text "
            "(tab and line breaks allowed)")
