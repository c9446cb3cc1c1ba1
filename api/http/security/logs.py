"""Keys never in logs: a filter on uvicorn's access log that redacts key-like query parameters.

A key belongs in a header (``Authorization: Bearer`` or ``X-API-Key``); one wrongly sent as
``?api_key=...`` (or ``token=``, ``key=``, ``access_token=``...) is refused with a 401, but uvicorn's
access log writes the request line as sent, secret included (issue 17). :class:`RedactKeys` rewrites
the logged path: those parameters' values, and anything shaped like a Passerelles key
(``psl_<id>_<secret>``) wherever it appears, become ``[redacted]``. ``install()`` adds it once to
the ``uvicorn.access`` logger (``create_app`` calls it, so every worker of ``passerelles serve`` has it).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"

_NAME = re.compile(
    r"(?i)(?:[a-z0-9_.\-]*[_.\-])?(?:api[_\-]?key|apikey|key|token|access[_\-]?token|refresh[_\-]?token"
    r"|id[_\-]?token|auth|authorization|bearer|secret|client[_\-]?secret|password|passwd|pwd|session|sig|signature)"
    r"(?:\[\])?")
_KEY_SHAPE = re.compile(r"psl_[0-9A-Za-z]{4,}_[0-9A-Za-z_\-]{8,}")
_SEPARATOR = re.compile(r"([&;])")


def _parameter(part: str) -> str:
    """One ``name=value`` of a query, its value redacted when the name, percent-decoded, is key-like
    (``api%5Fkey``, ``X%2DApi%2DKey`` are ``api_key``, ``X-Api-Key``) or the decoded value holds a key."""
    name, equals, value = part.partition("=")
    if equals and _NAME.fullmatch(unquote_plus(name)):
        return f"{name}={REDACTED}"
    if "psl" in part or "%" in part:
        decoded = unquote_plus(part)
        if _KEY_SHAPE.search(decoded):
            return f"{name}={REDACTED}" if equals and not _KEY_SHAPE.search(unquote_plus(name)) else REDACTED
    return part


def redact(text: str) -> str:
    """``text`` (a path with its query) with key-like parameters' values and key-shaped strings redacted,
    names and values read percent-decoded."""
    path, mark, query = text.partition("?")
    if "psl_" in path:
        path = _KEY_SHAPE.sub(REDACTED, path)
    if not mark:
        return path
    fragment = ""
    if "#" in query:
        query, hash_, rest = query.partition("#")
        fragment = hash_ + _KEY_SHAPE.sub(REDACTED, unquote_plus(rest))
    parts = _SEPARATOR.split(query)  # names and values, separators kept at odd positions
    return path + mark + "".join(p if i % 2 else _parameter(p) for i, p in enumerate(parts)) + fragment


def _suspect(text: str) -> bool:
    return "=" in text or "psl" in text or "%" in text


class RedactKeys(logging.Filter):
    """Rewrites the arguments of an access-log record (uvicorn: client, method, path with query,
    HTTP version, status) so that no key is written; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(redact(a) if isinstance(a, str) and _suspect(a) else a for a in args)
        elif isinstance(record.msg, str) and _suspect(record.msg):
            record.msg = redact(record.msg)
        return True


def install(logger_name: str = ACCESS_LOGGER) -> RedactKeys:
    """Add :class:`RedactKeys` to ``logger_name`` unless it is already there; returns the filter."""
    logger = logging.getLogger(logger_name)
    for existing in logger.filters:
        if isinstance(existing, RedactKeys):
            return existing
    found = RedactKeys()
    logger.addFilter(found)
    return found
