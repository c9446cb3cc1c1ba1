"""Bounds of query parameters are declared (``Query(ge=, le=)``, one dependency for code lists), so
the OpenAPI document shows them and a value outside is a 422 problem naming the parameter."""

from __future__ import annotations

import pytest

from api.http.dependencies import MAX_CODES


@pytest.fixture(scope="module")
def env(make_app, serve):
    app = make_app()
    keys = {role: {"Authorization": f"Bearer {app.state.security.keys.create(role)[0]}"}
            for role in ("federation", "counsellor")}
    return serve(app), keys


def parameter(schema: dict, path: str, name: str) -> dict:
    return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)


def test_the_openapi_document_shows_the_bounds(env):
    client, _ = env
    schema = client.get("/openapi.json").json()
    for path in ("/seekers/{id}/offers", "/offers/{id}/candidates"):
        k = parameter(schema, path, "k")["schema"]
        assert (k["minimum"], k["maximum"]) == (1, 100), path
    for path, name in (("/basins/{id}/tension", "occupations"), ("/basins/{id}/training-needs", "targets")):
        found = parameter(schema, path, name)
        assert f"at most {MAX_CODES} codes" in found["description"]
        assert any(option.get("maxLength") for option in found["schema"]["anyOf"]), path


@pytest.mark.parametrize("k", [0, 101])
def test_k_outside_its_bounds_is_a_422_naming_k(env, k):
    client, keys = env
    response = client.get("/seekers/S-none/offers", params={"k": k}, headers=keys["counsellor"])
    assert response.status_code == 422 and response.json()["field"] == "k", response.text


def test_code_lists_are_split_checked_and_bounded(env):
    client, keys = env
    ok = client.get("/basins/beauvais/tension", params={"occupations": " H2913, I1304 ,"}, headers=keys["federation"])
    assert ok.status_code == 200 and {o["occupation"] for o in ok.json()["occupations"]} <= {"H2913", "I1304"}
    unknown = client.get("/basins/beauvais/training-needs", params={"targets": "H2913,H9999"},
                         headers=keys["federation"])
    assert unknown.status_code == 404 and unknown.json()["field"] == "targets" and "H9999" in unknown.json()["detail"]
    many = client.get("/basins/beauvais/tension", params={"occupations": ",".join(["H2913"] * (MAX_CODES + 1))},
                      headers=keys["federation"])
    assert many.status_code == 422 and many.json()["field"] == "occupations"
