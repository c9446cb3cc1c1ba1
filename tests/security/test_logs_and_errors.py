"""Issue 17, finding 10 (a key sent as ``?api_key=`` was written in clear in uvicorn's access log)
and the "500 replies carry ``Connection: close``" part of finding 6."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from api.http.problems import Problem
from tests.security.conftest import make_env

SECRET = "psl_0123abcd_S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tX"


def test_the_access_log_record_of_a_key_in_the_query_is_redacted(env, caplog):
    """create_app installed the filter on uvicorn.access: the record uvicorn writes for the request
    line (client, method, path with query, version, status) no longer holds the key."""
    from api.http.security.logs import RedactKeys

    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, RedactKeys) for f in access.filters)
    assert env["client"].get("/seekers/S-1", params={"api_key": SECRET}).status_code == 401
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                    f"/seekers/S-1?k=3&api_key={SECRET}&access_token=abc.def&Token=zz&key=k1&x-api-key=k2", "1.1", 401)
    logged = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert logged == ['127.0.0.1:5000 - "GET /seekers/S-1?k=3&api_key=[redacted]&access_token=[redacted]'
                      '&Token=[redacted]&key=[redacted]&x-api-key=[redacted] HTTP/1.1" 401'], logged


def test_redaction_keeps_other_parameters_and_catches_a_key_anywhere():
    from api.http.security.logs import redact

    assert redact("/occupations?q=soudeur&k=5&monkey=1") == "/occupations?q=soudeur&k=5&monkey=1"
    assert redact(f"/x/{SECRET}?a=1") == "/x/[redacted]?a=1"
    assert redact(f"/x?q={SECRET}") == "/x?q=[redacted]"


def test_a_500_reply_carries_connection_close(tmp_path):
    made = make_env(tmp_path / "p.sqlite3")
    app = made["app"]

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("a bug")

    @app.get("/boom-problem")
    def boom_problem() -> dict:
        raise Problem(500, "internal-error", "Internal error", "a 500 answered as a problem")

    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/boom", "/boom-problem"):
            response = client.get(path)
            assert response.status_code == 500, path
            assert response.headers["connection"] == "close", (path, dict(response.headers))
            assert response.headers["content-type"].startswith("application/problem+json")
        ok = client.get("/basins")
        assert ok.status_code == 200 and ok.headers.get("connection") != "close"
