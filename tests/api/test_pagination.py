"""Every list endpoint pages the same way: ``limit``/``offset``, ``total``, ``next`` and a ``Link``
header (api/http/pagination.py); top-k endpoints are bounded by their ``k``/``top`` instead."""

from __future__ import annotations


import pytest


# (path, its own query, name of the list in the body, needs a key)
LISTS = [("/sectors", {}, "sectors", False), ("/basins", {}, "basins", False),
         ("/graph/communities", {}, "communities", False), ("/trainings", {}, "trainings", False),
         ("/basins/beauvais/tension", {"occupations": "H2913,I1304,H2102,H2906"}, "occupations", True)]


@pytest.fixture(scope="module")
def env(make_app, serve):
    app = make_app()
    key, _ = app.state.security.keys.create("federation")
    return serve(app), {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("path,query,name,keyed", LISTS)
def test_list_pages_follow_the_next_link(env, path, query, name, keyed):
    client, headers = env
    headers = headers if keyed else {}
    whole = client.get(path, params={**query, "limit": 500}, headers=headers).json()
    assert whole["total"] == len(whole[name]) and whole["total"] > 2 and whole["next"] is None
    first = client.get(path, params={**query, "limit": 2}, headers=headers)
    body = first.json()
    assert body[name] == whole[name][:2] and body["total"] == whole["total"] and body["offset"] == 0
    assert body["next"] and first.headers["Link"] == f'<{body["next"]}>; rel="next"'
    second = client.get(body["next"], headers=headers).json()
    assert second["offset"] == 2 and second[name] == whole[name][2:4]
    last = client.get(path, params={**query, "limit": 2, "offset": whole["total"] - 1}, headers=headers)
    assert len(last.json()[name]) == 1 and last.json()["next"] is None and "Link" not in last.headers


@pytest.mark.parametrize("path,query,name,keyed", LISTS)
def test_bad_page_parameters_are_422_naming_the_field(env, path, query, name, keyed):
    client, headers = env
    for params, field in (({"limit": 0}, "limit"), ({"offset": -1}, "offset")):
        response = client.get(path, params={**query, **params}, headers=headers if keyed else {})
        assert response.status_code == 422 and response.json()["field"] == field


def test_short_referential_lists_come_whole_by_default(env):
    """The web page reads /sectors and /basins in one request: their default page is 500."""
    client, _ = env
    basins = client.get("/basins").json()
    assert basins["limit"] == 500 and len(basins["basins"]) == basins["total"] == basins["count"] > 50
