"""The html kit, opened in a real headless Chromium: the heatmap and the network are visible."""

from __future__ import annotations

import pytest

from api.services.kits.export import write
from api.services.kits.build import build_kit
from api.settings import Settings
from api.services.state import AppState

pytestmark = pytest.mark.e2e


def test_html_kit_shows_heatmap_and_network(browser, tmp_path):
    state = AppState.from_settings(Settings(referentiel="demo", database=tmp_path / "p.sqlite3"))
    kit = build_kit(state.referentiel, state.passerelles, "Industrie - Alimentaire", "Industrie - Métallurgie")
    path = write(kit, "html", tmp_path / "kit.html")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []  # the kit's own CSP (a <meta>: no script, inline style by hash, data: images)
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(path.as_uri())
    assert "default-src 'none'" in page.locator("meta[http-equiv='Content-Security-Policy']").get_attribute("content")
    for image in ("#heatmap", "#network"):
        locator = page.locator(image)
        locator.wait_for(state="visible")
        assert locator.evaluate("img => img.complete && img.naturalWidth > 200 && img.naturalHeight > 200")
        box = locator.bounding_box()
        assert box["width"] > 200 and box["height"] > 150
    assert page.locator("table#bridges tbody tr").count() == kit.bridges.height
    assert page.locator("h1").evaluate("h => getComputedStyle(h).color") == "rgb(11, 79, 156)", "the style applies"
    assert blocked == [], blocked
    page.locator("#heatmap").scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "kit.png")
    assert (tmp_path / "kit.png").stat().st_size > 10_000
    print(f"screenshot in {tmp_path / 'kit.png'}")
    page.close()
