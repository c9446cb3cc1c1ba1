"""The errors services raise on bad input: one base, ``ServiceError``, that the surfaces catch.

Each carries what a person needs to act (``detail``, and fields such as ``field``/``value``) and its
HTTP form (``status``, ``kind``, ``title``): ``api.http.problems`` turns any of them into problem+json
with one exception handler, the CLI prints ``detail`` and exits with status 2. They are deliberately
not ``KeyError``/``ValueError``: a surface catching them cannot mistake a bug for bad input.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Bad input a service refused; ``str(error)`` is ``detail``, a sentence for a person."""

    status: int = 400
    kind: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail, self.extra = detail, extra


class UnknownBasin(ServiceError):
    """A job basin id that no basin has; ``known``: the ids there are (for suggestions)."""

    status, kind, title = 404, "unknown-basin", "Unknown job basin"

    def __init__(self, basin: str, known: list[str], detail: str | None = None, **extra: Any) -> None:
        self.basin, self.known = basin, known
        super().__init__(detail or f"No job basin has the id {basin!r}; GET /basins lists them.",
                         **{"field": "basin", "value": basin, **extra})


class UnknownSeeker(ServiceError):
    """A seeker id that the store does not hold."""

    status, kind, title = 404, "unknown-seeker", "Unknown seeker"

    def __init__(self, seeker_id: str) -> None:
        self.seeker_id = seeker_id
        super().__init__(f"No seeker has the id {seeker_id!r}.", field="id", value=seeker_id)


class IngestError(ServiceError):
    """Seekers or offers data that cannot be read as a whole (format, columns, mode)."""

    status, kind, title = 422, "unreadable-data", "Unreadable data"


class RecordError(ServiceError):
    """One record (POST / PUT) that validation refused; the message is the reason."""

    status, kind, title = 422, "invalid-record", "Invalid record"


class UpgradeError(ServiceError):
    """Stored rows cannot be upgraded to the served referential (nothing is written)."""

    status, kind, title = 409, "upgrade-impossible", "Cannot upgrade"


# -- pre-registrations on training sessions (api.services.prescription_service) ---------------------

class PrescriptionError(ServiceError):
    """A pre-registration body or id that validation refused (the message names the field)."""

    status, kind, title = 422, "invalid-prescription", "Invalid pre-registration"


class UnknownPrescription(ServiceError):
    """A pre-registration id that is not there (or, for an organisation, not on its sessions)."""

    status, kind, title = 404, "unknown-prescription", "Unknown pre-registration"

    def __init__(self, id: str) -> None:
        super().__init__(f"No pre-registration has the id {id!r} (or it is not on your sessions).",
                         field="id", value=id)


class UnknownSession(ServiceError):
    """A (training, session) pair the served catalogue does not have."""

    status, kind, title = 404, "unknown-session", "Unknown session"


class TransitionRefused(ServiceError):
    """A move the state machine does not allow from the current state (or not to this role)."""

    status, kind, title = 409, "transition-not-allowed", "Transition not allowed"


class NoPlace(ServiceError):
    """An acceptance on a session whose places are all taken."""

    status, kind, title = 409, "session-full", "No place left"


class IdempotencyConflict(ServiceError):
    """An ``Idempotency-Key`` sent again with another body."""

    status, kind, title = 422, "idempotency-key-reused", "Idempotency-Key reused with another body"


class AlreadyPreRegistered(ServiceError):
    """The seeker already has an open pre-registration on this session."""

    status, kind, title = 409, "already-pre-registered", "Already pre-registered"


class NotAllowed(ServiceError):
    """A role that may not do this to this pre-registration."""

    status, kind, title = 403, "forbidden", "Forbidden"
