""""Décrire une offre" (issue 21): paste an ad, confirm occupation and skills, see the candidate pool,
in a real headless Chromium against a real server (demo referential, lexical path: no encoder)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

TEXT = ("Vos missions :\n- Appliquer les règles d'hygiène en zone de production alimentaire <b>strictes</b>.\n"
        "- Relever et consigner les températures de la chaîne du froid.\n")


def _call(base: str, method: str, path: str, key: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "X-API-Key": key})
    return json.loads(urllib.request.urlopen(request, timeout=10).read() or b"null")


def test_paste_an_ad_confirm_the_occupation_and_skills_and_see_the_candidates(browser, live_server, tmp_path):
    created = subprocess.run([sys.executable, "-m", "api.cli", "keys", "create", "--role", "counsellor",
                              "--name", "e2e-offer", "--json"], env=live_server.env, capture_output=True, text=True,
                             check=True)
    key = json.loads(created.stdout)["key"]
    _call(live_server.url, "POST", "/seekers", key, {"id": "martin-e2e", "occupation": "H2102", "basin": "beauvais",
                                                     "skills": ["DS0001"], "consent": True})
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(15000)
    blocked: list[str] = []  # the page runs under its Content-Security-Policy: nothing of this flow may be blocked
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: blocked.append(str(e)))
    page.goto(live_server.url + "/")
    page.get_by_label("Intitulé de l'annonce").fill("Conducteur de ligne agroalimentaire (H/F)")
    page.get_by_label("Texte de l'annonce").fill(TEXT)
    page.get_by_role("button", name="Lire l'annonce").click()
    page.wait_for_selector("#offer-proposal:not([hidden])")

    assert page.locator("input[name='offer-occupation']:checked").get_attribute("value") == "H2102"
    assert page.locator("#offer-occupations input").count() >= 2, "the other candidates are offered too"
    skills = page.locator("#offer-skills input[type=checkbox]")
    assert sorted(skills.evaluate_all("xs => xs.map(x => [x.value, x.checked])")) == [["DS0001", True], ["DS0005", True]]
    sentence = page.locator("#offer-skills .choice:has(input[value='DS0001']) .sentence").inner_text()
    assert "<b>strictes</b>" in sentence, "the ad's text is shown as text, never as markup"
    assert page.locator("#offer-skills b").count() == 0
    page.screenshot(path=tmp_path / "offer-1-read.png", full_page=True)

    page.locator("#offer-skills input[value='DS0005']").uncheck()  # the counsellor unticks one
    page.get_by_label("Bassin d'emploi de l'offre").select_option("beauvais")
    page.get_by_label("Identifiant de l'offre").fill("annonce-e2e")
    page.get_by_role("button", name="Enregistrer l'offre et voir les candidats").click()
    page.wait_for_selector("#offer-pool-status.error")
    assert "clé" in page.locator("#offer-pool-status").inner_text(), "without a key the page says what is missing"

    page.get_by_label("Clé d'accès conseiller").fill(key)
    page.get_by_role("button", name="Enregistrer l'offre et voir les candidats").click()
    page.wait_for_selector("#offer-candidates li")
    first = page.locator("#offer-candidates li").first.inner_text()
    assert first.startswith("c-") and "martin-e2e" not in first and "Compétences en commun" in first, first
    stored = _call(live_server.url, "GET", "/offers/annonce-e2e", key)
    assert (stored["occupation"], stored["must"], stored["basin"]) == ("H2102", ["DS0001"], "beauvais")
    page.screenshot(path=tmp_path / "offer-2-candidates.png", full_page=True)
    assert blocked == [], blocked
    page.close()


def test_an_ad_without_title_or_with_a_bad_one_says_so(browser, live_server):
    page = browser.new_page()
    page.set_default_timeout(15000)
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Lire l'annonce").click()
    page.wait_for_selector("#offer-status.error")
    page.get_by_label("Intitulé de l'annonce").fill("Cari\u0007ste")
    page.get_by_role("button", name="Lire l'annonce").click()
    page.wait_for_selector("#offer-status.error:has-text('offers.0.title')")
    assert page.locator("#offer-proposal").is_hidden()
    page.close()
