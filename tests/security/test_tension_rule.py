"""Issue 17, finding 2: a kit with ``basin=`` showed a basin's tension (counted from stored seekers
and offers) to anyone, while ``/basins/{id}/tension`` refused the same callers. Now one rule
(``api.http.security.roles.TENSION_ROLES`` / ``tension_access``) holds on every surface: anonymous
401, employer 403, federation / counsellor / admin served."""

from __future__ import annotations

import pytest

from api.http.security import guard_of, iter_routes
from tests.security.conftest import PROBLEM, key

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"
TENSION_ROLES = frozenset({"federation", "counsellor", "admin"})  # api.http.security.roles.TENSION_ROLES

SURFACES = {
    "basin tension": ("/basins/beauvais/tension", {}),
    "basin passerelles": ("/basins/beauvais/passerelles/H2102", {}),
    "basin training needs": ("/basins/beauvais/training-needs", {}),
    "bridges with basin": ("/occupations/H2102/passerelles", {"basin": "beauvais"}),
    "bridges toward tension": ("/occupations/H2102/passerelles", {"basin": "beauvais", "toward_tension": "true"}),
    **{f"kit {fmt} with basin": ("/kits", {"from_sector": FOOD, "to_sector": METAL, "basin": "beauvais",
                                           "format": fmt}) for fmt in ("json", "html", "xlsx", "csv")},
}


@pytest.fixture(scope="module", autouse=True)
def stored(env):
    """A seeker and an offer in Beauvais: the tension rows count them."""
    pool = env["app"].state.passerelles.pool
    pool.put("seekers", {"id": "S-T1", "occupation": "H2102", "basin": "beauvais", "skills": [], "consent": True})
    pool.put("offers", {"id": "O-T1", "employer": "E1", "occupation": "H2102", "must": [], "desired": [],
                        "basin": "beauvais", "contract": "CDI"})


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_tension_is_refused_to_anonymous_and_employer_callers_on_every_surface(env, surface):
    path, params = SURFACES[surface]
    client = env["client"]
    anonymous = client.get(path, params=params)
    assert anonymous.status_code == 401, (surface, anonymous.text[:300])
    assert anonymous.headers["content-type"].startswith(PROBLEM)
    employer = client.get(path, params=params, headers=key(env, "employer"))
    assert employer.status_code == 403, (surface, employer.text[:300])
    for role in sorted(TENSION_ROLES):
        served = client.get(path, params=params, headers=key(env, role))
        assert served.status_code == 200, (surface, role, served.text[:300])
    # once served (and cached for a kit), still refused to the others: the cache's fast lane repeats the rule
    assert client.get(path, params=params).status_code == 401
    assert client.get(path, params=params, headers=key(env, "employer")).status_code == 403


def test_the_kit_with_basin_carries_the_stored_counts_to_a_federation_key(env):
    params = {"from_sector": FOOD, "to_sector": METAL, "basin": "beauvais", "format": "json"}
    body = env["client"].get("/kits", params=params, headers=key(env, "federation")).json()
    rows = [r for r in body["tension"] if r["occupation"] == "H2102"]
    assert rows and rows[0]["seekers"] >= 1 and rows[0]["offers"] >= 1


def test_kits_without_basin_stay_public(env):
    response = env["client"].get("/kits", params={"from_sector": FOOD, "to_sector": METAL, "format": "json"})
    assert response.status_code == 200 and response.json()["tension"] == []


def test_every_basin_aggregate_route_has_the_one_rule(env):
    """Structural: each ``/basins/{id}/...`` route is guarded by exactly the tension roles (a new
    aggregate route added with another guard fails here); ``/seekers/{id}/passerelles`` is
    counsellor-only, stricter."""
    checked = 0
    for route in iter_routes(env["app"].routes):
        path = getattr(route, "path", "")
        if path.startswith("/basins/{id}/"):
            roles, public, _ = guard_of(route)
            assert roles == TENSION_ROLES and public is None, (path, roles, public)
            checked += 1
    assert checked == 3


def test_the_page_calls_the_guarded_surfaces_and_says_a_key_is_needed():
    """The page asks tension only through /occupations/{code}/passerelles?basin= (guarded above) and
    explains a 401/403 there."""
    from pathlib import Path

    import api.http

    script = (Path(api.http.__file__).parent / "web" / "app.js").read_text(encoding="utf-8")
    assert 'params.set("basin", basin); params.set("toward_tension", "true")' in script
    assert "error.status === 401 || error.status === 403" in script
    assert "/tension" not in script and "/kits" not in script
