"""Pre-registration on a training session (the prescription), its follow-up, and the funders' figures.

    service = PrescriptionService.of(state)
    record, created = service.submit(principal, body, idempotency_key="...")   # counsellor
    service.transition(principal, "pr-...", to="accepted")                     # organisation, counsellor
    service.view(principal, "pr-...")                                         # the record and its timeline
    service.dashboard(year=None, limit=50, offset=0)                          # funders: aggregates only

**The state machine** (who may make each move; anything else is a 409 naming the current state
and the moves allowed from it)::

    submitted  -> accepted | refused | waitlisted   (organisation of the session)
               -> withdrawn                         (counsellor)
    waitlisted -> accepted | refused                (organisation)
               -> withdrawn                         (counsellor)
    accepted   -> entered                           (organisation or counsellor)
               -> refused                           (organisation: a reason, the place is freed)
               -> withdrawn                         (counsellor: the place is freed)
    entered    -> completed | abandoned             (organisation or counsellor)
    completed, abandoned -> employed-target | employed-other   (counsellor, with the date)
    refused, withdrawn, employed-target, employed-other: final

**Places.** ``accepted`` takes a place of the session (its ``capacity``, else the action's financed
places; unknown: not bounded) only if one is left, checked and taken in one SQLite transaction
(``api.storage.prescriptions``): never more accepted than places, however many answers arrive at
once. A place stays taken through entered / completed / abandoned. A withdrawal or a refusal after
acceptance (or an erasure) frees it, and in the same transaction the first person on the session's
waiting list (the earliest ``waitlisted``, then the smallest id) becomes ``accepted``: the
organisation had already judged them admissible, so the place is given without a new answer; the
event says "place freed by ...", and the counsellor can still withdraw them.

**Who sees what.** Counsellors: every pre-registration, with the seeker id and the contact given at
submission. An organisation key (bound to a SIRET or id): the pre-registrations on its own
sessions only (a session is its own when its training's SIRET or organisation equals the key's),
the seeker as a pseudonym (the store's HMAC of the organisation and the seeker: its own, which
no other organisation nor any employer sees) until accepted; from acceptance on, the contact the
counsellor gave (name, phone, email: all optional; with none, contact goes through the prescriber,
whose key id is shown). Funders: counts only, never a record.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import polars as pl

from referentiels.ids import RULE, id_problem

from api.services import statistical_secret as secret
from api.services.free_text import text_problem
from api.services.errors import (AlreadyPreRegistered, IdempotencyConflict, NoPlace, NotAllowed, PrescriptionError,
                                 TransitionRefused, UnknownPrescription, UnknownSession)
from api.storage.keys import Principal
from api.storage.prescriptions import (AuditRows, Duplicate, IdempotencyMismatch, NoPlaceLeft, PrescriptionStore,
                                       StaleState, dumps_contact)
from api.storage.sqlite import utc_now

ORIGINS = ("gap-plan", "bridge", "search")
REFUSAL_REASONS = ("prerequisites-not-met", "session-full", "no-show-at-information-meeting", "not-reachable",
                   "funding-not-granted", "project-not-confirmed", "other")
OUTCOMES = ("employed-target", "employed-other")
ORG, COUNSELLOR = frozenset({"organisation"}), frozenset({"counsellor"})
BOTH = ORG | COUNSELLOR
TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "submitted": {"accepted": ORG, "refused": ORG, "waitlisted": ORG, "withdrawn": COUNSELLOR},
    "waitlisted": {"accepted": ORG, "refused": ORG, "withdrawn": COUNSELLOR},
    "accepted": {"entered": BOTH, "refused": ORG, "withdrawn": COUNSELLOR},
    "entered": {"completed": BOTH, "abandoned": BOTH},
    "completed": {"employed-target": COUNSELLOR, "employed-other": COUNSELLOR},
    "abandoned": {"employed-target": COUNSELLOR, "employed-other": COUNSELLOR},
    "refused": {}, "withdrawn": {}, "employed-target": {}, "employed-other": {},
}
STATES = tuple(TRANSITIONS)
TENSION_MAX_AGE_S = 60.0
"""Oldest tension table a pre-registration is flagged with once the stored records changed (s)."""
#: States from which the person holds a place of the session (the seeker's contact is visible).
HOLDS_PLACE = ("accepted", "entered", "completed", "abandoned", "employed-target", "employed-other")
#: Bounds of the free text and the contact (the HTTP models use the same; the service checks them
#: again for every other caller: CLI, batch, tests).
NOTE_MAX, TRANSITION_NOTE_MAX, CONTACT_NAME_MAX = 2000, 500, 200
PHONE_PATTERN = r"^[0-9 +().-]{4,40}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CONTACT_FIELDS = ("name", "phone", "email")


def check_id(value: Any, field_name: str) -> str:
    """The canonical form of ``value`` under the project's id rule (``referentiels.ids``), else a
    422 naming ``field_name`` and the rule."""
    text, problem = id_problem(value)
    if problem is not None:
        raise PrescriptionError(f"'{field_name}' {problem}: {RULE}.", field=field_name, rule=RULE,
                                value=value if isinstance(value, str) and len(value) <= 200 else None)
    return text


def check_free_text(value: Any, field_name: str, max_length: int) -> str | None:
    """``value`` if it is free text a person may read (``api.services.free_text``: no control or
    bidirectional character) of at most ``max_length`` characters, or None; else a 422 naming
    ``field_name``, the character and its position (the message the HTTP layer gives)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise PrescriptionError(f"'{field_name}' must be text (a string), not {type(value).__name__}.",
                                field=field_name)
    if len(value) > max_length:
        raise PrescriptionError(f"'{field_name}' has {len(value)} characters: at most {max_length}.",
                                field=field_name)
    problem = text_problem(value)
    if problem is not None:
        raise PrescriptionError(f"'{field_name}' {problem}.", field=field_name)
    return value


def check_contact(contact: Any) -> dict | None:
    """The contact of a pre-registration ({name, phone, email}, all optional, nothing else) checked
    field by field (``contact.name`` as free text), or None when empty; else a 422 naming the field."""
    if contact is None:
        return None
    if not isinstance(contact, dict):
        raise PrescriptionError("'contact' must be an object {name, phone, email}.", field="contact")
    extra = sorted(str(k)[:40] for k in contact if k not in CONTACT_FIELDS)
    if extra:
        raise PrescriptionError(f"'contact' holds {', '.join(extra)}: only {', '.join(CONTACT_FIELDS)}.",
                                field="contact." + extra[0])
    out = {"name": check_free_text(contact.get("name"), "contact.name", CONTACT_NAME_MAX)}
    for name, pattern, what in (("phone", PHONE_PATTERN, "4 to 40 digits, spaces and + ( ) . -"),
                                ("email", EMAIL_PATTERN, "an address name@domain.tld")):
        value = contact.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 254 or not re.match(pattern, value)):
            raise PrescriptionError(f"'contact.{name}' is not {what}.", field=f"contact.{name}")
        out[name] = value
    return {k: v for k, v in out.items() if v is not None} or None


@dataclass(eq=False)
class PrescriptionService:
    """Pre-registrations over the served catalogue's sessions and the store's seekers."""

    state: Any
    store: PrescriptionStore
    _sessions: tuple = (None, None)
    _tension: tuple = (None, frozenset(), 0.0)
    _secret_figures: tuple = (None, None)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, state) -> "PrescriptionService":
        with _LOCK:
            service = state.extras.get("prescriptions")
            if service is None:
                service = state.extras["prescriptions"] = cls(state, PrescriptionStore(
                    state.settings.database, getattr(state.settings, "prescriptions_synchronous", "FULL")))
            return service

    # ---- what the catalogue and the store say ----------------------------------------------------
    def sessions(self) -> dict[tuple[str, str], dict]:
        """(training, session) -> {organisation ids, basin, places, state, start}, rebuilt when the
        served catalogue changes (one polars pass)."""
        from api.services.training_service import TrainingService

        catalogue = TrainingService.of(self.state).catalogue
        with self._lock:
            if self._sessions[0] is not catalogue:
                s = catalogue.session_frame().join(
                    catalogue.frame.select(pl.col("id").alias("training"), "siret", "organisation", "basin"),
                    on="training", how="left")
                table = {(r["training"], r["id"]): r for r in s.select(
                    "training", "id", "siret", "organisation", "basin", "places", "state", "start").iter_rows(named=True)}
                self._sessions = (catalogue, table)
            return self._sessions[1]

    def in_tension(self) -> frozenset[tuple[str, str]]:
        """(basin, occupation) pairs in tension (``matching.tension`` over the stored offers and
        seekers). Recomputed when the seekers or offers changed (the store's sequence) and the last
        computation is more than ``TENSION_MAX_AGE_S`` old: a statistic of thousands of records
        moves slowly, and reading every record on each pre-registration after a seeker's update
        would cost the submission hundreds of milliseconds."""
        from matching.tension import tension_table

        store = self.state.pool.store
        seq = store.seq
        with self._lock:
            seen, pairs, at = self._tension
            if seen != seq and (seen is None or time.monotonic() - at > TENSION_MAX_AGE_S):
                table = tension_table(store.frame("offers"), store.frame("seekers"))
                pairs = frozenset(table.filter(pl.col("in_tension")).select("basin", "occupation").iter_rows())
                self._tension = (seq, pairs, time.monotonic())
            return pairs

    @staticmethod
    def owns(principal: Principal, session: dict | None, record: dict | None = None) -> bool:
        """True when an organisation key's SIRET or id is the session's (or the record's)."""
        if principal.role != "organisation":
            return True
        if record is not None:
            return record.get("organisation") == principal.organisation
        return session is not None and principal.organisation in (session.get("siret"), session.get("organisation"))

    # ---- submit ------------------------------------------------------------------------------------
    def submit(self, principal: Principal, body: dict, idempotency_key: str | None = None,
               audit: AuditRows | None = None) -> tuple[dict, bool]:
        """A counsellor pre-registers a stored seeker on a session. ``body``: seeker, training,
        session, target (occupation code), origin (gap-plan | bridge | search), note, contact.
        ``audit``: the creation's audit rows, written in its transaction (not for a replay).
        Returns (the record as the counsellor sees it, created)."""
        body = {**body, **{name: check_id(body.get(name), name) for name in ("seeker", "training", "session")}}
        # free text another party reads: checked here for every caller, not only at the HTTP boundary
        body["note"] = check_free_text(body.get("note"), "note", NOTE_MAX)
        body["contact"] = check_contact(body.get("contact"))
        if idempotency_key is not None:
            idempotency_key = check_id(idempotency_key, "Idempotency-Key")
        target = body.get("target")
        if target not in self.state.referentiel.occupation_index:
            suggestions = self.state.occupation_suggester.suggest(str(target)[:100]) if target else []
            raise PrescriptionError(f"target {target!r} is not an occupation code of the referential.",
                                    field="target", value=str(target)[:100],
                                    suggestions=[s["code"] for s in suggestions][:3] or None)
        if body.get("origin") not in ORIGINS:
            raise PrescriptionError(f"origin must be one of {', '.join(ORIGINS)}.", field="origin")
        seeker = self.state.pool.get("seekers", body["seeker"])
        if seeker is None:
            raise PrescriptionError(f"No seeker has the id {body['seeker']!r}: store the seeker first "
                                    "(POST /seekers).", field="seeker", value=body["seeker"])
        session = self.sessions().get((body["training"], body["session"]))
        if session is None:
            raise UnknownSession(f"The training {body['training']!r} has no session {body['session']!r} in the "
                                 "served catalogue (GET /trainings/{id} lists its sessions).",
                                 field="session", value=body["session"])
        if session.get("state") in ("fermé", "suspendu"):
            raise PrescriptionError(f"The session {body['session']!r} is {session['state']}: it does not recruit.",
                                    field="session", value=body["session"])
        basin = session.get("basin") or seeker.get("basin") or "unknown"
        record = {"seeker": body["seeker"], "training": body["training"], "session": body["session"],
                  "organisation": session.get("siret") or session.get("organisation"),
                  "prescriber_key": principal.key_id, "prescriber_type": principal.prescriber or "other",
                  "origin": body["origin"], "target": target, "note": body.get("note"),
                  "contact": dumps_contact(body.get("contact")), "basin": basin,
                  "in_tension": int((basin, target) in self.in_tension())}
        digest = None
        if idempotency_key is not None:
            canonical = json.dumps({k: body.get(k) for k in ("seeker", "training", "session", "target", "origin",
                                                              "note", "contact")}, sort_keys=True, ensure_ascii=False)
            digest = hashlib.sha256(canonical.encode()).hexdigest()
        try:
            row, created = self.store.create(record, places=session.get("places"), key_id=principal.key_id,
                                             role=principal.role,
                                             idempotency=(idempotency_key, digest) if digest else None,
                                             audit=audit)
        except IdempotencyMismatch as error:
            raise IdempotencyConflict(
                f"The Idempotency-Key {idempotency_key!r} was used for another request (pre-registration "
                f"{error.args[0]!r}) with a different body: use a new key for a new pre-registration.",
                field="Idempotency-Key", prescription=error.args[0]) from None
        except Duplicate as error:
            raise AlreadyPreRegistered(f"The seeker {body['seeker']!r} already has an open pre-registration "
                                       f"({error.existing!r}) on this session.", field="seeker",
                                       prescription=error.existing) from None
        return self.shape(principal, row), created

    # ---- read ------------------------------------------------------------------------------------
    def shape(self, principal: Principal, row: dict, timeline: bool = False) -> dict:
        """The record as ``principal`` may see it (the organisation: a pseudonym until accepted)."""
        out = {k: row[k] for k in ("id", "training", "session", "organisation", "prescriber_type", "origin", "target",
                                   "basin", "state", "reason", "submitted_at", "answered_at", "entered_at",
                                   "exited_at", "outcome_at")}
        out["in_tension"] = bool(row["in_tension"])
        contact = json.loads(row["contact"]) if row.get("contact") else None
        if principal.role == "organisation":
            # a pseudonym of this organisation's own: the store's HMAC of (organisation, seeker), so two
            # organisations, or an organisation and an employer (who sees pseudonym(seeker) in matches),
            # cannot link their records of the same person (the separator U+001F is in no id)
            out["seeker"] = self.state.pool.store.pseudonym(f"{principal.organisation}\x1f{row['seeker']}")
            if row["state"] in HOLDS_PLACE:
                out["contact"] = contact
                out["prescriber_key"] = row["prescriber_key"]
        else:
            out.update(seeker=row["seeker"], note=row["note"], contact=contact, prescriber_key=row["prescriber_key"])
        out["allowed"] = sorted(to for to, roles in TRANSITIONS[row["state"]].items()
                                if principal.role in roles or principal.role == "admin")
        if timeline:
            out["timeline"] = [{k: e[k] for k in ("at", "state", "role", "detail")}
                               for e in self.store.events(row["id"])]
        return out

    def get_visible(self, principal: Principal, id: str) -> dict:
        id = check_id(id, "id")
        row = self.store.get(id)
        if row is None or not self.owns(principal, None, row):
            raise UnknownPrescription(id)  # another organisation's: not even its existence
        return row

    def view(self, principal: Principal, id: str) -> dict:
        return self.shape(principal, self.get_visible(principal, id), timeline=True)

    def list(self, principal: Principal, *, seeker: str | None = None, state: str | None = None,
             training: str | None = None, session: str | None = None, limit: int = 50, offset: int = 0
             ) -> tuple[list[dict], int]:
        seeker, training, session = (check_id(v, n) if v is not None else None
                                     for n, v in (("seeker", seeker), ("training", training), ("session", session)))
        if state is not None and state not in STATES:
            raise PrescriptionError(f"state must be one of {', '.join(STATES)}.", field="state", value=state[:100])
        organisation = principal.organisation if principal.role == "organisation" else None
        if principal.role == "organisation" and seeker is not None:
            raise NotAllowed("An organisation key cannot search by seeker id.", field="seeker")
        rows, total = self.store.list(organisation=organisation, seeker=seeker, state=state, training=training,
                                      session=session, limit=limit, offset=offset)
        return [self.shape(principal, r) for r in rows], total

    # ---- transitions -------------------------------------------------------------------------------
    def transition(self, principal: Principal, id: str, to: str, *, reason: str | None = None,
                   at: date | None = None, note: str | None = None, catalogue: bool = True,
                   audit: AuditRows | None = None) -> dict:
        """Move a pre-registration along the state machine; returns the record with its timeline
        and ``changed``: every (id, state) the move made (a promotion from the waiting list too).
        ``catalogue``: refresh the session's places from the served catalogue before accepting
        (False: the places stored at the last pre-registration, as the CLI does without a server).
        ``audit``: the audit rows of every change, written in the move's transaction."""
        note = check_free_text(note, "note", TRANSITION_NOTE_MAX)
        row = self.get_visible(principal, id)
        id, current = row["id"], row["state"]
        allowed = TRANSITIONS[current]
        if to not in STATES:
            raise PrescriptionError(f"to must be one of {', '.join(STATES)}.", field="to", value=str(to)[:100])
        mine = sorted(t for t, roles in allowed.items() if principal.role in roles)
        if to not in allowed:
            raise TransitionRefused(f"A pre-registration in state {current!r} cannot become {to!r}; from "
                                    f"{current!r} it can become: {', '.join(sorted(allowed)) or 'nothing (final state)'}.",
                                    field="to", value=to, current=current, allowed=sorted(allowed))
        if principal.role not in allowed[to]:
            raise NotAllowed(f"A {principal.role} key cannot move a pre-registration to {to!r} (that is for "
                             f"{' or '.join(sorted(allowed[to]))} keys); from {current!r} yours can make: "
                             f"{', '.join(mine) or 'none'}.", field="to", value=to, current=current, allowed=mine)
        if to == "refused" and reason not in REFUSAL_REASONS:
            raise PrescriptionError(f"A refusal needs a reason among {', '.join(REFUSAL_REASONS)}.", field="reason",
                                    value=str(reason)[:100] if reason else None, allowed=list(REFUSAL_REASONS))
        if to != "refused" and reason is not None:
            raise PrescriptionError("Only a refusal carries a reason.", field="reason")
        stamp = utc_now()
        if at is not None:
            if to not in ("entered", "completed", "abandoned", "employed-target", "employed-other"):
                raise PrescriptionError("A date (at) is given only for entered, completed, abandoned and the "
                                        "outcomes; answers are dated when they are made.", field="at")
            # never before the step it follows: entered after the answer, the end after the entry, an
            # outcome after the end (else the six-month outcomes and the days to an answer lie)
            last, step = max((row[c][:10], c.removesuffix("_at")) for c in ("submitted_at", "answered_at", "entered_at",
                                                                            "exited_at") if row[c])
            if at > datetime.now(timezone.utc).date() or at.isoformat() < last:
                raise PrescriptionError(f"at {at.isoformat()} must lie between the last step ({step} on {last}) "
                                        "and today.", field="at", value=at.isoformat(), after=last)
            stamp = at.isoformat() + "T00:00:00.000+00:00"
        places = None
        if to == "accepted" and catalogue:
            session = self.sessions().get((row["training"], row["session"]))
            places = session.get("places") if session is not None else None
        frees = current == "accepted" and to in ("refused", "withdrawn")
        try:
            changes = self.store.transition(id, expected=current, to=to, at=stamp, reason=reason,
                                            key_id=principal.key_id, role=principal.role, places=places,
                                            takes_place=to == "accepted", frees_place=frees,
                                            detail=note or None, audit=audit)
        except NoPlaceLeft:
            raise NoPlace(f"Every place of the session {row['session']!r} is taken: waitlist the person "
                          "(to=waitlisted) or refuse (reason session-full).", field="to", value=to,
                          current=current, allowed=sorted(allowed)) from None
        except StaleState as error:
            raise TransitionRefused(f"The pre-registration changed meanwhile: it is now {error.current!r}.",
                                    field="to", value=to, current=error.current,
                                    allowed=sorted(TRANSITIONS.get(error.current, {}))) from None
        out = self.view(principal, id)
        out["changed"] = [{"id": i, "state": s} for i, s in changes]
        return out

    def erase_seeker(self, seeker: str) -> list[str]:
        """Erase the seeker's pre-registrations (called when the seeker is deleted)."""
        return self.store.erase_seeker(seeker)

    # ---- funders ---------------------------------------------------------------------------------
    def dashboard(self, *, year: int | None = None, limit: int = 50, offset: int = 0,
                  today: date | None = None, threshold: int | None = None) -> dict:
        """Aggregates only (no id of a person, no record): fill rate per session (a page, fullest
        first), pre-registrations by prescriber type, by basin, by target occupation, the share aimed
        at occupations in tension in their basin, the median days to an answer, outcomes at six
        months. ``year``: the pre-registrations submitted that year (the counts by prescriber, basin,
        occupation and in tension); answers, outcomes and sessions cover every year kept. Read from
        the tallies kept on write (a few thousand rows at most). Under the statistical secret
        (api/services/statistical_secret.py): a count of fewer than ``k`` people, or one a total
        would give away, is ``null`` and named in the row's ``secret`` list (``k``:
        ``settings.statistical_secret_threshold``; ``threshold`` overrides it for a caller inside the
        process, 1 turning the secret off to check the arithmetic: never exposed over HTTP)."""
        k = threshold if threshold is not None else int(getattr(getattr(self.state, "settings", None), "statistical_secret_threshold", secret.DEFAULT_THRESHOLD))
        today = today or datetime.now(timezone.utc).date()
        # every year and all years are protected together (one table, cached until the tallies
        # change): this answer and any other (another year, all years) are slices of it, so that
        # subtracting one from another gives nothing
        tables, cube, sessions_cache = self._figures_under_secret(k)
        column = secret.ALL if year is None else year
        sessions = self._sessions_page(sessions_cache, limit, offset)

        def cell(per_year: dict) -> tuple[int, int]:
            if column is secret.ALL:
                return sum(n for n, _ in per_year.values()), sum(t for _, t in per_year.values())
            return per_year.get(column, (0, 0))

        total, in_tension = 0, 0
        for per_year in tables.get("prescriber_type", {}).values():
            n, t = cell(per_year)
            total, in_tension = total + n, in_tension + t
        hide_total = column in cube.hidden_total
        hide_tension = column in cube.hidden_part_total
        tables_out = {}
        for dim, name in (("prescriber_type", "prescriber_type"), ("basin", "basin"), ("occupation", "occupation")):
            rows = []
            for value, per_year in tables.get(dim, {}).items():
                n, t = cell(per_year)
                if n <= 0:
                    continue
                row = {name: value, "pre_registrations": n, "in_tension": t, "secret": []}
                for key, hidden in (("pre_registrations", cube.hidden_n[dim]), ("in_tension", cube.hidden_p[dim])):
                    if (value, column) in hidden:
                        row[key] = None
                        row["secret"].append(key)
                rows.append(row)
            # by the published count (most first), hidden ones last, then by value: the place of a
            # hidden row among the shown ones would bound it
            rows.sort(key=lambda r: (r["pre_registrations"] is None, -(r["pre_registrations"] or 0), str(r[name])))
            tables_out[dim] = rows
        tables = tables_out
        labels = self.state.referentiel.occupation_index
        names = self.state.referentiel.occupations["label"]
        occupations = [{**o, "label": names[labels[o["occupation"]]] if o["occupation"] in labels else None}
                       for o in tables["occupation"]]
        days = self.store.answer_days()
        answered = sum(n for _, n in days)
        median = None
        if answered:  # the middle one or two values of the histogram, without expanding it
            cumulative = np.cumsum([n for _, n in days])
            values = np.asarray([d for d, _ in days])
            low = values[np.searchsorted(cumulative, (answered - 1) // 2, side="right")]
            high = values[np.searchsorted(cumulative, answered // 2, side="right")]
            median = float(low + high) / 2
        hide_answers = secret.small(answered, k)
        outcomes = self.store.outcomes_at_six_months(today)
        # the three outcomes have no published total: each is hidden on its own when small
        hidden_outcomes = [o for o, n in outcomes.items() if secret.small(n, k)]
        outcomes = {o: (None if o in hidden_outcomes else n) for o, n in outcomes.items()}
        return {
            "year": year, "pre_registrations": None if hide_total else total,
            "secret": ["pre_registrations"] if hide_total else [],
            "statistical_secret": {"threshold": k, "rule": secret.RULE.format(k=k, k1=k - 1)},
            "by_prescriber_type": tables["prescriber_type"], "by_basin": tables["basin"],
            "by_occupation": occupations,
            "in_tension": {"pre_registrations": None if hide_tension else in_tension,
                           "share": round(in_tension / total, 4) if total and not hide_tension else None,
                           "secret": ["pre_registrations", "share"] if hide_tension else [],
                           "definition": "the target occupation is in tension in the session's basin when "
                                         "pre-registered (offers + 1) / (offers + seekers + 2) >= 0.6 with >= 3 offers"},
            "answers": {"answered": None if hide_answers else answered,
                        "median_days_to_answer": None if hide_answers else median,
                        "secret": ["answered", "median_days_to_answer"] if hide_answers else [],
                        "definition": "calendar days (UTC) from submission to the organisation's first answer (all years)"},
            "outcomes_at_six_months": {**outcomes, "as_of": today.isoformat(), "secret": hidden_outcomes,
                                       "definition": "trainings ended (completed or abandoned) at least 183 days "
                                                     "ago, by the employment recorded within 183 days of the end"},
            "sessions": sessions,
        }

    def _figures_under_secret(self, k: int) -> tuple[dict, "secret.YearCube", tuple]:
        """The tallies of every year ({dim: {value: {year: (n, in tension)}}}), the hidden cells of every
        year's and of the all-years breakdowns decided together (``statistical_secret.protect_years``)
        and the sessions under the secret (rows, hidden, no accepted, fill rates, order), the basins
        the sessions would give away hidden in the breakdowns and the sessions of a hidden basin
        hidden, until neither adds any. Kept until the tables change (``store.version``): 20,000
        sessions and a few thousand tallies, ~0.1-0.3 s."""
        version = (self.store.version(), k)
        cached = self._secret_figures
        if cached[0] == version:
            return cached[1]
        tables = self.store.tallies_by_year()
        rows = self.store.sessions_all()
        basins = [{"basin": v, "pre_registrations": sum(n for n, _ in per.values()),
                   "in_tension": sum(t for _, t in per.values())} for v, per in tables.get("basin", {}).items()]
        forced: set[str] = set()
        for _ in range(len(rows) + len(basins) + 2):  # forced only grows
            cube = secret.protect_years(tables, k, {"basin": forced})
            hidden_basins = {str(v) for v, c in cube.hidden_n.get("basin", ()) if c is secret.ALL}
            hidden, no_accepted, more = secret.protect_sessions(
                [r[2] for r in rows], [r[4] for r in rows], [r[5] or 0 for r in rows], basins, k, hidden_basins)
            if more <= hidden_basins:
                break
            forced |= more
        if secret.ALL in cube.hidden_total:  # the sessions add up to the grand total
            hidden = no_accepted = set(range(len(rows)))
        rates = [None if i in no_accepted or not r[3] or r[3] <= 0 else round((r[5] or 0) / r[3], 4)
                 for i, r in enumerate(rows)]
        order = sorted(range(len(rows)), key=lambda i: (rates[i] is None, -(rates[i] or 0.0)))  # stable
        figures = (tables, cube, (rows, hidden, no_accepted, rates, order))
        self._secret_figures = (version, figures)
        return figures

    @staticmethod
    def _sessions_page(cache: tuple, limit: int, offset: int) -> dict:
        """A page of sessions (fullest first, then by training and session; those whose fill rate is
        hidden or unknown last) under the statistical secret."""
        rows, hidden, no_accepted, rates, order = cache
        items = []
        for i in order[offset:offset + limit]:
            training, session, basin, places, submitted, accepted = rows[i]
            items.append({"training": training, "session": session, "basin": basin, "places": places,
                          "submitted": None if i in hidden else submitted,
                          "accepted": None if i in no_accepted else accepted, "fill_rate": rates[i],
                          "secret": (["submitted"] if i in hidden else []) + (["accepted", "fill_rate"]
                                                                              if i in no_accepted else [])})
        return {"items": items, "total": len(rows), "limit": limit, "offset": offset}


_LOCK = threading.Lock()


SECRET_CELL = "secret"
"""What a hidden cell reads in the workbook (the JSON has null and the row's ``secret`` list)."""


def _cell(item: dict, column: str) -> Any:
    return SECRET_CELL if column in item.get("secret", ()) else item.get(column)


def dashboard_xlsx(body: dict) -> bytes:
    """The funders' dashboard as an xlsx workbook (sheets: summary, by prescriber type, by basin, by
    occupation, sessions); every text cell a string cell through ``api.storage.exports``; a cell
    under the statistical secret reads ``secret`` (never blank, never 0) and the summary states
    the rule and its threshold."""
    import io

    from api.storage.exports import workbook, write_row

    buffer = io.BytesIO()
    book = workbook(buffer)
    summary = book.add_worksheet("summary")
    tension, answers, outcomes = body["in_tension"], body["answers"], body["outcomes_at_six_months"]
    rows = [("year", body["year"] if body["year"] is not None else "all"),
            ("pre-registrations", _cell(body, "pre_registrations")),
            ("aimed at occupations in tension", _cell(tension, "pre_registrations")),
            ("share in tension", _cell(tension, "share")),
            ("answered", _cell(answers, "answered")),
            ("median days to an answer", _cell(answers, "median_days_to_answer")),
            ("outcomes as of", outcomes["as_of"]),
            ("employed in the target occupation at six months", _cell(outcomes, "employed-target")),
            ("employed in another occupation at six months", _cell(outcomes, "employed-other")),
            ("no employment recorded at six months", _cell(outcomes, "none")),
            ("statistical secret threshold (people)", body["statistical_secret"]["threshold"]),
            ("statistical secret", body["statistical_secret"]["rule"])]
    for i, row in enumerate(rows):
        write_row(summary, i, 0, row)
    for name, key, columns in (("by prescriber type", "by_prescriber_type", ("prescriber_type", "pre_registrations",
                                                                             "in_tension")),
                               ("by basin", "by_basin", ("basin", "pre_registrations", "in_tension")),
                               ("by occupation", "by_occupation", ("occupation", "label", "pre_registrations",
                                                                   "in_tension"))):
        sheet = book.add_worksheet(name)
        write_row(sheet, 0, 0, columns)
        for i, item in enumerate(body[key], start=1):
            write_row(sheet, i, 0, [_cell(item, c) for c in columns])
    sheet = book.add_worksheet("sessions")
    columns = ("training", "session", "basin", "places", "submitted", "accepted", "fill_rate")
    write_row(sheet, 0, 0, columns)
    for i, item in enumerate(body["sessions"]["items"], start=1):
        write_row(sheet, i, 0, [_cell(item, c) for c in columns])
    book.close()
    return buffer.getvalue()
