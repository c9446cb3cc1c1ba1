"""``Security``: the keys, audit log, rate limiter, heavy-request slots and response cache of one app, built once."""

from __future__ import annotations

import threading
from typing import Any

from api.http.security.budget import HeavySlots
from api.http.security.cache import ResponseCache
from api.http.security.rate_limit import RateLimiter
from api.storage.audit import AuditLog
from api.storage.keys import KeyStore
from api.storage.locks import locks_path


class Security:
    """Everything access control needs, built once per app (``app.state.security``)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        # one budget per key across every worker process serving this database (issue 7)
        self.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst,
                                   locks_path(settings.database))
        self.cache = ResponseCache(getattr(settings, "response_cache_entries", 0))
        # heavy requests computed at once in this worker (budget.run_chunks; issue 17)
        self.heavy = HeavySlots(getattr(settings, "heavy_requests", 2))
        self._keys: KeyStore | None = None
        self._audit: AuditLog | None = None
        self._lock = threading.Lock()

    @property
    def keys(self) -> KeyStore:
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    self._keys = KeyStore(self.settings.database)
        return self._keys

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            with self._lock:
                if self._audit is None:
                    self._audit = AuditLog(self.settings.database)
        return self._audit
