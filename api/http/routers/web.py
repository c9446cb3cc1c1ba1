"""The counsellors' page: ``/`` and its three static files, shipped inside the package (api/http/web/)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.http.problems import Problem

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type=MEDIA_TYPES[".html"],
                        headers={"Cache-Control": "no-cache"})


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = WEB_DIR / name
    if name not in {p.name for p in WEB_DIR.iterdir()} or path.suffix not in MEDIA_TYPES:
        raise Problem(404, "unknown-static-file", "Unknown static file",
                      f"No static file is named {name!r}.", field="name", value=name)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
