"""The funders' dashboard under the statistical secret (red team: a funder who knows one person was
pre-registered on a rare session, basin or target read that person's figures in cells of 1).

A rare person (their own session, basin, target occupation and prescriber type, employed six months
after) among large groups: no published count of people is below the threshold, none can be had by
subtracting published cells from a published total (per breakdown, per column, and the sessions
within their basin), in the JSON and in the xlsx read back; large groups keep their figures."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.services import statistical_secret as secret
from api.services.prescription_service import PrescriptionService
from api.storage.prescriptions import COLUMNS
from security_helpers import replace_prescriptions

K = 5
TODAY = date(2027, 1, 1)
BREAKDOWNS = (("by_prescriber_type", "prescriber_type"), ("by_basin", "basin"), ("by_occupation", "occupation"))


def rows(groups: list[dict]) -> list[tuple]:
    """Pre-registrations: each group {n, session, basin, target, prescriber, accepted, in_tension,
    outcome} gives n rows (the first ``accepted`` accepted and ended in 2026-01 with ``outcome``)."""
    out, i = [], 0
    for g in groups:
        for j in range(g["n"]):
            accepted = j < g.get("accepted", 0)
            ended = "2026-01-10T00:00:00.000+00:00" if accepted else None
            outcome = g.get("outcome", "employed-other") if accepted else None
            values = {"id": f"pr-{i:06d}", "seeker": f"S{i}", "training": "T-" + g["session"], "session": g["session"],
                      "organisation": "ORG", "prescriber_key": "k", "prescriber_type": g["prescriber"],
                      "origin": "gap-plan", "target": g["target"], "basin": g["basin"],
                      "in_tension": int(j < g.get("in_tension", 0)), "year": 2025,
                      "state": outcome if accepted else "submitted", "submitted_at": "2025-06-02T09:00:00.000+00:00",
                      "answered_at": "2025-06-05T09:00:00.000+00:00" if accepted else None,
                      "entered_at": ended, "exited_at": ended, "outcome_at": "2026-03-01T00:00:00.000+00:00" if accepted
                      else None, "updated_at": "2025-06-02T09:00:00.000+00:00"}
            out.append(tuple(values.get(c) for c in COLUMNS))
            i += 1
    return out


LARGE = [dict(n=40, session="S-BIG1", basin="beauvais", target="H2913", prescriber="france-travail", accepted=20,
              in_tension=30, outcome="employed-target"),
         dict(n=30, session="S-BIG2", basin="compiegne", target="H2102", prescriber="mission-locale", accepted=10,
              in_tension=0),
         dict(n=25, session="S-MID", basin="amiens", target="H2102", prescriber="france-travail", accepted=6,
              in_tension=10, outcome="employed-target")]
RARE = dict(n=1, session="S-RARE", basin="laon", target="K2111", prescriber="cap-emploi", accepted=1, in_tension=1,
            outcome="employed-target")


@pytest.fixture
def dashboard(prescription_env):
    """load(groups) -> (the JSON over HTTP, the xlsx workbook over HTTP, the figures with the secret off)."""
    env = prescription_env
    with TestClient(env["app"]) as client:
        service = PrescriptionService.of(env["app"].state.passerelles)

        def load(groups: list[dict]):
            replace_prescriptions(service, rows(groups))
            auth = env["auth"](env["keys"]["funder"])
            body = client.get("/funders/dashboard?limit=500", headers=auth).json()
            r = client.get("/funders/dashboard?format=xlsx&limit=500", headers=auth)
            assert r.status_code == 200
            return body, openpyxl.load_workbook(io.BytesIO(r.content)), service.dashboard(limit=500, threshold=1)
        load.service = service
        yield load


def assert_safe_column(published_total, cells: list, k: int = K, why: str = "") -> None:
    """Cells of one column with a published total: none shown is 1..k-1, and what the total minus the
    shown cells leaves is spread over >= 2 hidden cells, enough that each may be >= k."""
    shown = [c for c in cells if c is not None]
    hidden = len(cells) - len(shown)
    assert not any(secret.small(c, k) for c in shown), (why, cells)
    if published_total is not None and hidden:
        rest = published_total - sum(shown)
        assert hidden >= 2 and rest >= k + hidden - 1, (why, published_total, cells)


def assert_protected(body: dict) -> None:
    total = body["pre_registrations"]
    assert total is None or total >= K
    tension = body["in_tension"]["pre_registrations"]
    for key, _ in BREAKDOWNS:
        items = body[key]
        assert_safe_column(total, [i["pre_registrations"] for i in items], why=key)
        assert_safe_column(tension, [i["in_tension"] for i in items], why=key + " in tension")
        complement = [None if i["in_tension"] is None or i["pre_registrations"] is None
                      else i["pre_registrations"] - i["in_tension"] for i in items]
        assert_safe_column(None if tension is None or total is None else total - tension, complement,
                           why=key + " not in tension")
        for item in items:  # a hidden cell is null and named, a shown one is not named
            assert {f for f in ("pre_registrations", "in_tension") if item[f] is None} == set(item["secret"])
    sessions = body["sessions"]["items"]
    assert_safe_column(total, [s["submitted"] for s in sessions], why="sessions")
    for basin in body["by_basin"]:  # the sessions of a basin against the basin's published count
        assert_safe_column(basin["pre_registrations"], [s["submitted"] for s in sessions if s["basin"] == basin["basin"]],
                           why=f"sessions of {basin['basin']}")
    for s in sessions:
        assert not secret.small(s["accepted"], K) and not (s["accepted"] is not None and s["submitted"] is not None
                                                         and secret.small(s["submitted"] - s["accepted"], K))
        assert (s["fill_rate"] is None) or s["accepted"] is not None
    out = body["outcomes_at_six_months"]
    assert not any(secret.small(out[o], K) for o in ("employed-target", "employed-other", "none"))
    assert not secret.small(body["answers"]["answered"], K)


def sheet(book, name: str) -> list[tuple]:
    return list(book[name].iter_rows(min_row=2, values_only=True))


def test_a_rare_session_basin_target_and_prescriber_type_never_show_nor_subtract(dashboard):
    body, book, clear = dashboard(LARGE + [RARE])
    assert clear["pre_registrations"] == 96  # the data: one person alone in laon, K2111, cap-emploi, S-RARE
    assert [b["pre_registrations"] for b in clear["by_basin"] if b["basin"] == "laon"] == [1]
    assert_protected(body)
    assert body["statistical_secret"]["threshold"] == K and "fewer than 5 people" in body["statistical_secret"]["rule"]
    for key, name in BREAKDOWNS:
        rare = {"by_prescriber_type": "cap-emploi", "by_basin": "laon", "by_occupation": "K2111"}[key]
        row = next(i for i in body[key] if i[name] == rare)
        assert row["pre_registrations"] is None and row["in_tension"] is None
    session = next(s for s in body["sessions"]["items"] if s["session"] == "S-RARE")
    assert session["submitted"] is None and session["accepted"] is None and "submitted" in session["secret"]
    # the hidden session is not placed by its fill rate either: hidden ones come last
    order = [s["fill_rate"] is None for s in body["sessions"]["items"]]
    assert order == sorted(order)
    # the xlsx says the same, "secret" in place of every hidden cell, never a small number
    for name, key, col in (("by prescriber type", "by_prescriber_type", 1), ("by basin", "by_basin", 1),
                           ("by occupation", "by_occupation", 2)):
        got = sheet(book, name)
        assert [r[col:col + 2] for r in got] == [tuple("secret" if c is None else c for c in
                                                       (i["pre_registrations"], i["in_tension"])) for i in body[key]]
        assert not any(isinstance(c, (int, float)) and 0 < c < K for r in got for c in r[col:])
    sessions = sheet(book, "sessions")
    assert [r[4] for r in sessions] == ["secret" if s["submitted"] is None else s["submitted"]
                                        for s in body["sessions"]["items"]]
    assert not any(isinstance(c, (int, float)) and 0 < c < K for r in sessions for c in r[4:6])
    summary = dict(r[:2] for r in book["summary"].iter_rows(values_only=True))
    assert summary["statistical secret threshold (people)"] == K
    # one year's figures (the sessions cover every year): protected the same way
    year = dashboard.service.dashboard(year=2025, limit=500)
    assert year["year"] == 2025 and year["pre_registrations"] == 96
    assert_protected(year)


def test_large_groups_keep_their_figures(dashboard):
    """Nothing small: the answer is the plain figures, nothing hidden; with the rare person added,
    only the smallest large group is hidden beside it, the largest keep their figures."""
    body, book, clear = dashboard(LARGE)
    strip = lambda d: {k: v for k, v in d.items() if k not in ("secret", "statistical_secret")}
    for key, _ in BREAKDOWNS:
        assert body[key] == clear[key] and all(i["secret"] == [] for i in body[key])
    assert body["sessions"] == clear["sessions"]
    assert strip(body["in_tension"]) == strip(clear["in_tension"]) and body["pre_registrations"] == 95
    assert strip(body["outcomes_at_six_months"]) == strip(clear["outcomes_at_six_months"])
    assert body["answers"] == clear["answers"]
    assert sheet(book, "by basin")[0] == ("beauvais", 40, 30)

    body, _, clear = dashboard(LARGE + [RARE])
    basins = {b["basin"]: b for b in body["by_basin"]}
    assert basins["beauvais"] == {"basin": "beauvais", "pre_registrations": 40, "in_tension": 30, "secret": []}
    assert basins["compiegne"]["pre_registrations"] == 30
    assert basins["amiens"]["pre_registrations"] is None  # the secondary secret: the smallest beside laon
    assert body["pre_registrations"] == 96


def test_outcomes_answers_and_a_tiny_total_are_hidden(dashboard):
    body, book, clear = dashboard([dict(RARE), dict(RARE, session="S-RARE2", basin="laon")])
    assert clear["pre_registrations"] == 2 and clear["outcomes_at_six_months"]["employed-target"] == 2
    assert body["pre_registrations"] is None and body["secret"] == ["pre_registrations"]
    assert body["outcomes_at_six_months"]["employed-target"] is None
    assert "employed-target" in body["outcomes_at_six_months"]["secret"]
    assert body["answers"]["median_days_to_answer"] is None and body["answers"]["answered"] is None
    assert body["in_tension"]["share"] is None
    assert_protected(body)
    summary = dict(r[:2] for r in book["summary"].iter_rows(values_only=True))
    assert summary["pre-registrations"] == "secret" and summary["median days to an answer"] == "secret"
    assert summary["employed in the target occupation at six months"] == "secret"


def test_a_hidden_total_is_not_rebuilt_from_another_breakdown(dashboard):
    """Six people alone each in their basin but all in one session, prescriber type and target: the
    six basin cells cannot be protected (6 < 5 + 6 - 1), so the total is hidden, and the other
    breakdowns (one cell of 6 each) must not give it back, nor the session."""
    body, book, _ = dashboard([dict(n=1, session="S-ONE", basin=f"b{i}", target="H2913", prescriber="france-travail",
                                    accepted=0) for i in range(6)])
    assert body["pre_registrations"] is None
    for key, _ in BREAKDOWNS:
        assert all(i["pre_registrations"] is None for i in body[key]), key
    assert all(s["submitted"] is None for s in body["sessions"]["items"])
    assert_protected(body)


def test_the_threshold_is_a_setting_with_a_safe_floor(prescription_env):
    from api.settings import Settings

    assert Settings().statistical_secret_threshold == 5
    assert Settings(statistical_secret_threshold=11).statistical_secret_threshold == 11
    for unsafe in (0, 1, 2):
        with pytest.raises(ValidationError):
            Settings(statistical_secret_threshold=unsafe)


@pytest.mark.parametrize("values, primary, hidden, total_hidden", [
    ([40, 30, 25, 1], {3}, {2, 3}, False),        # the smallest published cell goes with the small one
    ([40, 30, 3, 2], {2, 3}, {1, 2, 3}, False),   # 3 + 2 = 5 < 5 + 1: one more
    ([2, 1], {0, 1}, {0, 1}, True),               # everything small: the total goes too
    ([40, 30], set(), set(), False),              # nothing small: nothing hidden
])
def test_the_secondary_secret(values, primary, hidden, total_hidden):
    assert secret.secondary(values, primary, 5) == (hidden, total_hidden)
