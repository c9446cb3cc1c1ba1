"""``GET /kits``: the bridge kit of a pair of sectors and a territory, in the format asked for.

Access (api/http/security/roles.py ``kits``): public like the referential; with ``basin=`` the kit
carries tension rows, so the one rule of tension applies (federation, counsellor or admin key).
Cost (issue 17): answers are cached (by query; with basin also by the store's change sequence);
an uncached kit is charged k x the occupations of both sectors to the caller's work budget and built
off the event loop under a heavy-request slot."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.services.kits.export import KIT_CSP, render
from api.services.kits.sources import kit_inputs
from api.services.kits.build import build_kit
from api.http.problems import Problem
from api.http import security
from api.http.dependencies import get_state
from api.http.security import budget
from api.services.state import AppState

router = APIRouter(tags=["kits"], dependencies=[Depends(security.kits)])

MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "html": "text/html; charset=utf-8", "json": "application/json", "csv": "application/zip"}
SUFFIX = {"xlsx": "xlsx", "html": "html", "json": "json", "csv": "zip"}


@router.get("/kits", response_class=Response,
            responses={200: {"content": {m: {} for m in MEDIA.values()},
                             "description": "The kit file (json: see api/http/schemas/kit.schema.json)"},
                       404: {"description": "Unknown sector or basin, with the known ones"},
                       413: {"description": "k x the occupations of both sectors is above the caller's work "
                                            "budget per request; the problem says which k fits"},
                       429: {"description": "Rate limit, or the caller's work budget of the minute spent"},
                       503: {"description": "Too many heavy requests at once, or the server is stopping"}})
async def kit(
    request: Request,
    from_sector: str = Query(..., min_length=1, max_length=200, description="Sector the people come from"),
    to_sector: str = Query(..., min_length=1, max_length=200, description="Sector they move to"),
    basin: list[str] = Query(default=[], description="Job basin ids (repeatable)"),
    format: Literal["xlsx", "html", "json", "csv"] = Query("json", description="File format"),
    k: int = Query(5, ge=1, le=50, description="Bridges kept per source occupation"),
    min_score: float = Query(0.0, ge=0.0, le=1.0),
    state: AppState = Depends(get_state),
) -> Response:
    from matching.passerelles import UnknownSector

    rows = sector_rows(state, from_sector, to_sector)
    budget.charge(request, "rows", k * rows, budget.rows_hint(k, rows))

    def work(_: None) -> bytes:
        result = build_kit(state.referentiel, state.passerelles, from_sector, to_sector, k_per_source=k,
                           min_score=min_score, **kit_inputs(state, basins=basin, catalogue=None))
        return render(result, format)

    try:
        body = (await budget.run_chunks(request, work, [None]))[0]
    except UnknownSector as error:
        raise Problem(404, "unknown-sector", "Unknown sector",
                      f"No sector is named {error.sector!r}.", field="from_sector"
                      if error.sector == from_sector else "to_sector", value=error.sector,
                      suggestions=error.known) from None
    headers: dict[str, str] = {}
    if format == "html":  # a document of referential and store text: no script, no request, never framed
        headers["Content-Security-Policy"] = KIT_CSP + "; frame-ancestors 'none'; sandbox"
        headers["Referrer-Policy"] = "no-referrer"
    name = f"kit-{from_sector}-{to_sector}".replace(" ", "_").replace("/", "-")
    headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(name)}.{SUFFIX[format]}"
    return Response(body, media_type=MEDIA[format], headers=headers)


def sector_rows(state: AppState, *sectors: str) -> int:
    """Occupations ranked by a map of these sectors (both directions): the ``rows`` of its cost;
    0 for an unknown sector (the 404 follows)."""
    from matching.passerelles import UnknownSector

    index = state.passerelles
    try:
        return int(index.membership[:, index.sector_ids(list(sectors))].sum())
    except UnknownSector:
        return 0


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
