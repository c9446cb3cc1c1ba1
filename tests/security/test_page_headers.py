"""Security headers (red team, session of the pre-registration pages): the page and its static files
carry a strict Content-Security-Policy, no-referrer and nosniff; every API answer is nosniff; the html
kit is a sandboxed document that may run no script and fetch nothing."""

from __future__ import annotations

import pytest

from tests.security.conftest import key

STRICT = {"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'",
          "frame-ancestors 'none'", "connect-src 'self'", "form-action 'self'"}


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/prescriptions.js", "/static/style.css"])
def test_the_page_and_its_files_carry_a_strict_policy(env, path):
    response = env["client"].get(path)
    assert response.status_code == 200
    policy = {d.strip() for d in response.headers["content-security-policy"].split(";")}
    assert STRICT <= policy, policy
    assert not any("unsafe" in d for d in policy), "no 'unsafe-inline' nor 'unsafe-eval'"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path, role", [("/health", None), ("/prescriptions", "counsellor"),
                                        ("/prescriptions?limit=0", "counsellor"), ("/no-such-thing", None),
                                        ("/static/nothing.js", None)])
def test_every_answer_is_nosniff_errors_too(env, path, role):
    response = env["client"].get(path, headers=key(env, role))
    assert response.headers["x-content-type-options"] == "nosniff", (path, response.status_code)


def test_a_refused_body_is_nosniff(env):
    response = env["client"].post("/prescriptions", content=b"x" * 20_000_000, headers={
        **key(env, "counsellor"), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.headers["x-content-type-options"] == "nosniff"


def test_the_html_kit_is_a_sandboxed_document_without_script(env):
    response = env["client"].get("/kits", params={"from_sector": "Industrie - Alimentaire",
                                                  "to_sector": "Industrie - Métallurgie", "format": "html", "k": 1},
                                 headers=key(env, "counsellor"))
    assert response.status_code == 200, response.text[:300]
    policy = {d.strip() for d in response.headers["content-security-policy"].split(";")}
    assert {"default-src 'none'", "img-src data:", "sandbox", "frame-ancestors 'none'"} <= policy, policy
    assert "<script" not in response.text
    style = next(d for d in policy if d.startswith("style-src"))
    assert "sha256-" in style and "unsafe" not in style
    assert 'http-equiv="Content-Security-Policy"' in response.text, "the policy holds once saved to disk too"
