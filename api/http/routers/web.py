"""The counsellors' page: ``/`` and its three static files, shipped inside the package (api/http/web/)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.http.problems import Problem

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8"}

#: The page's Content-Security-Policy: its own scripts, styles and API only, no inline script or
#: style, no plugin, no <base>, never framed (clickjacking), forms only to itself. img-src allows
#: data:/blob: images (the funder's charts are inline SVG elements, the xlsx export a blob: link,
#: which is a navigation and needs no directive). A page test loads it without bypass_csp and
#: fails on any violation (tests/e2e/test_csp.py).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = {"Cache-Control": "no-cache", "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type=MEDIA_TYPES[".html"], headers=HEADERS)


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = WEB_DIR / name
    if name not in {p.name for p in WEB_DIR.iterdir()} or path.suffix not in MEDIA_TYPES:
        raise Problem(404, "unknown-static-file", "Unknown static file",
                      f"No static file is named {name!r}.", field="name", value=name)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)
