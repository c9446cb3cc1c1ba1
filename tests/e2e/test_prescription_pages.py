"""Pre-registration pages (issue 20 item 5) in a real headless Chromium against a real server: a
counsellor pre-registers a person from a bridge's training plan in two clicks and sees the state; a
training organisation answers on its own sessions only (the full session said clearly); a funder
sees the figures and the charts, never a person.

One server for the module, on its own database: the LHEO fixture ingested over HTTP, with the
distance-learning session SE-QUAL-27 (organisation 98765432100028, on the plan H2102 -> H2906 of the
demo referential) given one place.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import serve

pytestmark = pytest.mark.e2e

LHEO = Path(__file__).resolve().parents[1] / "data" / "lheo" / "valid-2.3.xml"
ORG_B, ORG_A = "98765432100028", "12345678900017"  # SE-QUAL-27 is ORG_B's; ORG_A has the welding sessions
NOTE = "Projet confirmé en entretien, disponible dès janvier"
MARKUP = ' <img src=x onerror="window.__xss = 1">'  # shown as text, never run


def _key(env: dict, role: str, *extra: str) -> str:
    out = subprocess.run([sys.executable, "-m", "api.cli", "keys", "create", "--role", role, "--name", f"e2e-{role}",
                          *extra, "--json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["key"]


def _call(base: str, path: str, key: str, body=None, *, content_type: str = "application/json",
          headers: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": content_type, "X-API-Key": key, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("prescriptions")) as server:
        env = server.env
        keys = {"admin": _key(env, "admin"), "counsellor": _key(env, "counsellor", "--prescriber", "mission-locale"),
                "org-b": _key(env, "organisation", "--organisation", ORG_B),
                "org-a": _key(env, "organisation", "--organisation", ORG_A), "funder": _key(env, "funder")}
        xml = LHEO.read_text(encoding="utf-8")
        one_place = ("<etat-recrutement>1</etat-recrutement>\n"
                     '          <extras info="passerelles"><extra info="capacite">1</extra></extras>\n'
                     "        </session>\n        <prix-total-TTC>1190</prix-total-TTC>")
        anchor = "<etat-recrutement>1</etat-recrutement>\n        </session>\n        <prix-total-TTC>1190</prix-total-TTC>"
        assert xml.count(anchor) == 1, "the fixture's SE-QUAL-27 session moved: update this test"
        status, body = _call(server.url, "/trainings:ingest", keys["admin"], xml.replace(anchor, one_place).encode(),
                             content_type="application/xml")
        assert status == 200, body
        for seeker in ("martin-e2e", "org-p1", "org-p2"):
            status, body = _call(server.url, "/seekers", keys["counsellor"],
                                 {"id": seeker, "occupation": "H2102", "basin": "beauvais", "consent": True})
            assert status == 201, body
        yield server, keys


def _page(browser, world):
    server, _ = world
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(15000)
    page.goto(server.url + "/")
    page.wait_for_selector("#prescriptions [role=tab]")
    return page


def test_the_page_runs_its_main_flows_under_its_content_security_policy(browser, world, tmp_path):
    """First in the module (the plan of H2102 -> H2906 still offers SE-QUAL-27: its one place is free).

    The page is served with a strict CSP (api/http/routers/web.py) and the browser enforces it
    here (no ``bypass_csp``): a search, a bridge's plan, a pre-registration, an organisation's list,
    the funder's charts and xlsx export report no violation. The listener is proven to hear one: an
    inline script added at the end is blocked and reported."""
    server, keys = world
    status, body = _call(server.url, "/seekers", keys["counsellor"],
                         {"id": "csp-e2e", "occupation": "H2102", "basin": "beauvais", "consent": True})
    assert status == 201, body
    context = browser.new_context(viewport={"width": 1366, "height": 900}, bypass_csp=False)
    violations: list = []
    context.expose_function("__cspViolation", lambda v: violations.append(v))
    context.add_init_script("document.addEventListener('securitypolicyviolation', e => window.__cspViolation("
                            "{directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample}))")
    page = context.new_page()
    page.set_default_timeout(15000)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: console.append(str(e)))
    response = page.goto(server.url + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]
    page.wait_for_selector("#prescriptions [role=tab]")

    page.get_by_label("Identifiant de la personne").fill("csp-e2e")
    page.get_by_label("Clé d'accès conseiller").fill(keys["counsellor"])
    page.get_by_label("Intitulé ou code du métier").fill("H2102")
    page.get_by_label("Intitulé ou code du métier").press("Enter")
    page.wait_for_selector("#card-title:has-text('H2102')")
    page.locator("#bridges-table tbody tr[data-code='H2906'] button").click()
    page.locator("#detail-plan").get_by_role("button", name="Pré-inscrire").first.click()
    page.locator("#prescribe-dialog").get_by_role("button", name="Confirmer la pré-inscription").click()
    page.wait_for_selector("#prescriptions-counsellor tbody tr[data-state='submitted']")

    page.get_by_role("tab", name="Organisme de formation").click()
    page.get_by_label("Clé d'accès de l'organisme").fill(keys["org-b"])
    page.get_by_role("button", name="Voir les pré-inscriptions").click()
    page.locator("#prescriptions-organisation tbody tr").first.wait_for()

    page.get_by_role("tab", name="Financeur").click()
    page.get_by_label("Clé d'accès du financeur").fill(keys["funder"])
    page.get_by_role("button", name="Voir le tableau de bord").click()
    page.locator("#chart-fill").wait_for(state="attached")
    with page.expect_download() as download:
        page.get_by_role("button", name="Exporter (xlsx)").click()
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    page.screenshot(path=tmp_path / "csp.png", full_page=True)
    assert violations == [] and console == [], (violations, console)

    # the control: an inline script is blocked, and the listener hears it
    try:
        page.add_script_tag(content="window.__inline = 1")
    except Exception:  # Playwright reports the blocked script as an error
        pass
    page.wait_for_timeout(300)
    assert page.evaluate("window.__inline") is None
    assert [v["directive"] for v in violations] and all(v["directive"].startswith("script-src") for v in violations)
    context.close()


def test_a_counsellor_pre_registers_from_a_bridge_plan_in_two_clicks_and_sees_the_state(browser, world, tmp_path):
    server, keys = world
    page = _page(browser, world)
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" and "/prescriptions" in r.url else None)
    page.get_by_label("Identifiant de la personne").fill("martin-e2e")
    page.get_by_label("Clé d'accès conseiller").fill(keys["counsellor"])
    page.get_by_label("Intitulé ou code du métier").fill("H2102")
    page.get_by_label("Intitulé ou code du métier").press("Enter")
    page.locator("#bridges-table tbody tr[data-code='H2906'] button").click()
    row = page.locator("#detail-plan tr[data-session='SE-QUAL-27']")
    row.wait_for()
    assert "1 place restante" in row.inner_text()

    row.get_by_role("button", name="Pré-inscrire").click()                          # click 1
    dialog = page.locator("#prescribe-dialog")
    assert dialog.is_visible()
    assert page.locator("#prescribe-seeker").input_value() == "martin-e2e", "the person of the page, prefilled"
    assert page.locator("#prescribe-target").input_value() == "H2906", "the bridge's target, prefilled"
    page.get_by_label("Note pour l'organisme (facultatif)").fill(NOTE + MARKUP)
    page.screenshot(path=tmp_path / "1-confirm.png", full_page=True)
    dialog.get_by_role("button", name="Confirmer la pré-inscription").click()       # click 2

    mine = page.locator("#prescriptions-counsellor tbody tr")
    mine.first.wait_for()
    assert dialog.is_hidden()
    assert "envoyée" in mine.first.locator("[data-state]").inner_text()
    assert "SE-QUAL-27" in mine.first.inner_text()
    assert "Pré-inscription envoyée" in page.locator("#plan-prescribe-status").inner_text()
    page.screenshot(path=tmp_path / "2-sent.png", full_page=True)

    assert len(posts) == 1
    sent = posts[0]
    assert sent.headers.get("idempotency-key", "").startswith("pr-"), "a retried POST is safe"
    assert "martin" not in sent.url and "Projet" not in sent.url, "no personal data in the URL"
    record = json.loads(sent.post_data)
    assert record == {"seeker": "martin-e2e", "training": "AF-QUAL-DIST", "session": "SE-QUAL-27",
                      "target": "H2906", "origin": "bridge", "note": NOTE + MARKUP}
    # the page's retry of that POST (same Idempotency-Key, same body) gives the same record, nothing new
    status, replay = _call(server.url, "/prescriptions", keys["counsellor"], record,
                           headers={"Idempotency-Key": sent.headers["idempotency-key"]})
    assert status == 201 and replay["id"] == mine.first.get_attribute("data-id"), replay
    assert mine.count() == 1
    assert "note : " + NOTE + MARKUP in mine.first.inner_text(), "the note, as text"
    assert page.evaluate("window.__xss") is None and page.locator("#prescriptions img").count() == 0

    # the counsellor withdraws it: the state follows
    mine.first.get_by_role("button", name="Retirer").click()
    page.wait_for_selector("#prescriptions-counsellor tbody tr[data-state='withdrawn']")
    assert "retirée" in mine.first.inner_text()
    page.close()


def test_an_organisation_answers_on_its_own_sessions_only_and_a_full_session_says_so(browser, world, tmp_path):
    server, keys = world
    ids = {}
    for seeker in ("org-p1", "org-p2"):
        status, body = _call(server.url, "/prescriptions", keys["counsellor"],
                             {"seeker": seeker, "training": "AF-QUAL-DIST", "session": "SE-QUAL-27",
                              "target": "H2906", "origin": "gap-plan", "note": NOTE})
        assert status == 201, body
        ids[seeker] = body["id"]
    page = _page(browser, world)
    page.get_by_role("tab", name="Organisme de formation").click()
    page.get_by_label("Clé d'accès de l'organisme").fill(keys["org-b"])
    page.get_by_role("button", name="Voir les pré-inscriptions").click()
    first = page.locator(f"#prescriptions-organisation tr[data-id='{ids['org-p1']}']")
    second = page.locator(f"#prescriptions-organisation tr[data-id='{ids['org-p2']}']")
    first.wait_for()
    listed = page.locator("#prescriptions-organisation tbody").inner_text()
    assert "org-p1" not in listed and "org-p2" not in listed and NOTE not in listed, "a pseudonym until accepted"

    first.get_by_role("button", name="Accepter").click()
    page.wait_for_selector(f"#prescriptions-organisation tr[data-id='{ids['org-p1']}'][data-state='accepted']")
    assert "contact par le prescripteur" in first.inner_text(), "accepted: how to reach the person"
    assert "acceptée" in page.locator("#prescriptions-organisation .status").inner_text()

    second.get_by_role("button", name="Accepter").click()
    page.wait_for_selector("#prescriptions-organisation .status.error")
    said = page.locator("#prescriptions-organisation .status").inner_text()
    assert "Session complète" in said and "liste d'attente" in said, said
    assert "Session complète" in second.locator(".row-error").inner_text()
    page.screenshot(path=tmp_path / "3-full.png", full_page=True)
    second.get_by_label("Motif du refus").select_option("session-full")
    second.get_by_role("button", name="Refuser").click()
    page.wait_for_selector(f"#prescriptions-organisation tr[data-id='{ids['org-p2']}'][data-state='refused']")
    assert "session complète" in second.inner_text()

    # another organisation: none of these, not even by id
    page.get_by_label("Clé d'accès de l'organisme").fill(keys["org-a"])
    page.get_by_role("button", name="Voir les pré-inscriptions").click()
    page.wait_for_selector("#prescriptions-organisation .status:has-text('Aucune pré-inscription sur vos sessions')")
    assert page.locator("#prescriptions-organisation tbody tr").count() == 0
    assert _call(server.url, f"/prescriptions/{ids['org-p1']}", keys["org-a"])[0] == 404

    # the counsellor sees the answers
    page.get_by_role("tab", name="Conseiller").click()
    page.get_by_label("Clé d'accès conseiller").fill(keys["counsellor"])
    page.locator("#my-seeker").fill("org-p1")
    page.get_by_role("button", name="Voir ses pré-inscriptions").click()
    page.wait_for_selector("#prescriptions-counsellor tbody tr[data-state='accepted']")
    page.locator("#my-seeker").fill("org-p2")
    page.get_by_role("button", name="Voir ses pré-inscriptions").click()
    page.wait_for_selector("#prescriptions-counsellor tbody tr[data-state='refused']")
    assert "session complète" in page.locator("#prescriptions-counsellor tbody").inner_text()
    page.close()


def test_a_funder_sees_the_figures_and_the_charts_and_no_person(browser, world, tmp_path):
    server, keys = world
    status, body = _call(server.url, "/prescriptions", keys["counsellor"],
                         {"seeker": "martin-e2e", "training": "AF-SOUD-BVS", "session": "SE-BVS-2703",
                          "target": "H2913", "origin": "search", "note": NOTE})
    assert status == 201, body
    page = _page(browser, world)
    page.get_by_role("tab", name="Financeur").click()
    page.get_by_label("Clé d'accès du financeur").fill(keys["funder"])
    page.get_by_role("button", name="Voir le tableau de bord").click()
    page.wait_for_selector("#funder-figures dl.figures")
    figures = page.locator("#funder-figures dl.figures").inner_text()
    expected = _call(server.url, "/funders/dashboard", keys["funder"])[1]
    total = "secret" if "pre_registrations" in expected["secret"] else expected["pre_registrations"]
    assert f"Pré-inscriptions\n{total}" in figures.replace("\t", "\n")
    assert "Délai médian de réponse" in figures and "Vers un métier en tension" in figures
    # the statistical secret: a hidden figure reads "secret" and gets no bar (never a bar of 0)
    sessions = expected["sessions"]["items"]
    secret_sessions = [s for s in sessions if "fill_rate" in s["secret"]]
    assert page.locator("#chart-fill rect").count() == len(sessions) - len(secret_sessions)
    assert page.locator("#chart-fill [data-secret]").count() == len(secret_sessions) and len(sessions) >= 1
    prescribers = expected["by_prescriber_type"]
    secret_prescribers = [p for p in prescribers if "pre_registrations" in p["secret"]]
    assert page.locator("#chart-prescribers rect").count() == len(prescribers) - len(secret_prescribers)
    assert page.locator("#chart-prescribers [data-secret]").count() == len(secret_prescribers)
    assert len(prescribers) >= 1 and "Mission locale" in page.locator("#chart-prescribers").inner_html()
    shown_values = page.locator("#funder-figures svg text:not(.secret)").all_text_contents()
    assert not any(t.strip() in {str(i) for i in range(1, 5)} for t in shown_values), shown_values
    if secret_sessions or secret_prescribers:
        assert "moins de 5 personnes" in page.locator("#funder-secret").inner_text()
    shown = page.locator("#prescriptions-funder").inner_text() + page.locator("#funder-figures").inner_html()
    for personal in ("martin-e2e", "org-p1", "org-p2", NOTE, "psl_"):
        assert personal not in shown, personal
    page.screenshot(path=tmp_path / "4-funder.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("button", name="Exporter (xlsx)").click()
    path = download.value.path()
    assert download.value.suggested_filename == "pre-inscriptions.xlsx"
    assert Path(path).read_bytes()[:2] == b"PK", "an xlsx workbook (a zip)"

    # a funder key is no organisation key: the view says so instead of showing anything
    page.get_by_role("tab", name="Organisme de formation").click()
    page.get_by_label("Clé d'accès de l'organisme").fill(keys["funder"])
    page.get_by_role("button", name="Voir les pré-inscriptions").click()
    page.wait_for_selector("#prescriptions-organisation .status.error")
    assert page.locator("#prescriptions-organisation tbody tr").count() == 0
    page.close()
