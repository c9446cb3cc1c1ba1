"""A counsellor's path through the page, in a real headless Chromium against a real server."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_search_open_h2102_go_cross_sector_and_read_one_bridge(browser, live_server, tmp_path):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.set_default_timeout(15000)
    page.goto(live_server + "/")
    page.wait_for_selector("#referential:has-text('Référentiel')")

    page.get_by_label("Intitulé ou code du métier").type("conducteur de ligne", delay=20)
    option = page.locator("#suggestions li[data-code='H2102']")
    option.wait_for()
    page.screenshot(path=tmp_path / "1-search.png")
    option.click()

    page.wait_for_selector("#card-title:has-text('H2102')")
    assert page.locator("#card-skills li").count() >= 20
    assert "cœur" in page.locator("#card-skills li").first.inner_text()
    page.wait_for_selector("#bridges-table tbody tr")

    page.get_by_label("Autres secteurs seulement").check()
    page.wait_for_selector("#bridges-status:has-text('passerelle')")
    page.wait_for_function("document.querySelectorAll('#bridges-table tbody tr').length > 0")
    targets = page.locator("#bridges-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert "H2102" not in targets and all(re.fullmatch(r"[A-Z]\d{4}", code) for code in targets)
    assert page.locator("#network circle").count() == len(targets[:20]) + 1
    page.screenshot(path=tmp_path / "2-passerelles.png", full_page=True)

    page.locator("#bridges-table tbody tr").first.get_by_role("button").click()
    page.wait_for_selector("#detail:not([hidden])")
    shared = page.locator("#detail-shared li").all_inner_texts()
    missing = page.locator("#detail-missing li").all_inner_texts()
    assert shared and shared != ["Aucune"], "a bridge shares skills with its source"
    assert missing, "the missing skills are listed (or 'Aucune')"
    page.screenshot(path=tmp_path / "3-bridge.png", full_page=True)
    print(f"screenshots in {tmp_path}")
    page.close()


def test_keyboard_only_search_opens_the_card(browser, live_server):
    page = browser.new_page()
    page.goto(live_server + "/")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    page.keyboard.type("soudeur")
    page.wait_for_selector("#suggestions li")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#card:not([hidden])")
    assert re.match(r"[A-Z]\d{4} — ", page.locator("#card-title").inner_text())
    page.close()
