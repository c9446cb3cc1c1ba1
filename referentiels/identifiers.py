"""The one rule for identifiers (seekers, offers, trainings, sessions, keys) at every input path.

    problem = identifier_problem(value)   # None when valid, else what is wrong, in a few words

An identifier is an NFC string of 1 to ``MAX_IDENTIFIER_CHARS`` printable characters, without
``/`` and without control, format (bidirectional overrides, zero-width) or surrogate characters.
"""

from __future__ import annotations

import unicodedata

MAX_IDENTIFIER_CHARS = 100
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def identifier_problem(value: object) -> str | None:
    """None when ``value`` is a valid identifier, else the reason (e.g. ``"contains '/'"``)."""
    if not isinstance(value, str):
        return "not a string"
    if value.isascii() and value.isprintable() and 0 < len(value) <= MAX_IDENTIFIER_CHARS and "/" not in value \
            and value.strip() == value:
        return None  # the common case, without a look at each character
    if not value:
        return "empty"
    if len(value) > MAX_IDENTIFIER_CHARS:
        return f"longer than {MAX_IDENTIFIER_CHARS} characters"
    if unicodedata.normalize("NFC", value) != value:
        return "not in Unicode NFC form"
    if "/" in value:
        return "contains '/'"
    if value != value.strip():
        return "starts or ends with a space"
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return f"contains the control or invisible character U+{ord(ch):04X}"
    return None


__all__ = ["MAX_IDENTIFIER_CHARS", "identifier_problem"]
