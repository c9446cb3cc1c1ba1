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

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"

_PARAMETER = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.\-]*[_.\-])?(?:api[_\-]?key|apikey|key|token|access[_\-]?token|refresh[_\-]?token"
    r"|id[_\-]?token|auth|authorization|bearer|secret|client[_\-]?secret|password|passwd|pwd|session|sig|signature)"
    r"(?:%5B%5D|\[\])?=)[^&;#\s]*")
_KEY_SHAPE = re.compile(r"psl_[0-9A-Za-z]{4,}_[0-9A-Za-z_\-]{8,}")


def redact(text: str) -> str:
    """``text`` (a path with its query) with key-like parameters' values and key-shaped strings redacted."""
    if "=" in text:
        text = _PARAMETER.sub(lambda m: m.group(1) + REDACTED, text)
    if "psl_" in text:
        text = _KEY_SHAPE.sub(REDACTED, text)
    return text


class RedactKeys(logging.Filter):
    """Rewrites the arguments of an access-log record (uvicorn: client, method, path with query,
    HTTP version, status) so that no key is written; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(redact(a) if isinstance(a, str) and ("=" in a or "psl_" in a) else a for a in args)
        elif isinstance(record.msg, str) and ("=" in record.msg or "psl_" in record.msg):
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
