"""Pagination of every list the API returns: ``?limit=&offset=``, a page envelope and a ``Link`` header.

Use in a router::

    @router.get("/things", response_model=page_model(ThingOut))
    def things(page: Annotated[PageParams, Depends(page_params)], response: Response, request: Request):
        items, total = store.list(limit=page.limit, offset=page.offset)
        return paginate(items, total, page, request, response)

The envelope is ``{"items": [...], "total": N, "limit": L, "offset": O, "next": URL | null}``;
``next`` and the ``Link: <...>; rel="next"`` header point to the following page while there is one.

Lists that predate the envelope keep their own name for the items (``{"sectors": [...], "total": ...}``,
so clients reading ``sectors`` or ``basins`` go on working) and get the same four fields and header
through :func:`paginate_as`; small referential lists (sectors, basins, communities, a basin's
occupations) default to a page of ``MAX_LIMIT`` (:func:`wide_page_params`) so that one request still
reads them whole. Top-k endpoints (``k=``, ``top=``, ``n=``) are bounded by their parameter and say so
in their docstring instead of paginating.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Generic, Sequence, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: The largest ``offset`` of any list (larger ones are a 422 naming ``offset``, never an overflow).
MAX_OFFSET = 10**9


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}.")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (from the 'next' link).")] = 0,
) -> PageParams:
    """The ``limit``/``offset`` query parameters, validated (422 naming the field when out of range)."""
    return PageParams(limit=limit, offset=offset)


def wide_page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}.")] = MAX_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (from the 'next' link).")] = 0,
) -> PageParams:
    """``limit``/``offset`` of a short referential list: one page of ``MAX_LIMIT`` unless asked otherwise."""
    return PageParams(limit=limit, offset=offset)


CATALOGUE_LIMIT, CATALOGUE_MAX_LIMIT = 100, 1000


def catalogue_page_params(
    limit: Annotated[int, Query(ge=1, le=CATALOGUE_MAX_LIMIT,
                                description=f"Items per page, 1 to {CATALOGUE_MAX_LIMIT}.")] = CATALOGUE_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (from the 'next' link).")] = 0,
) -> PageParams:
    """``limit``/``offset`` of the training catalogue: pages of 100 by default, 1,000 at most (as
    before the envelope), ``offset`` bounded like every list (422 naming it, never an overflow)."""
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Items in the whole list.")
    limit: int
    offset: int
    next: str | None = Field(description="The path and query of the next page, or null on the last one.")


class PageFields(BaseModel):
    """The page fields of a list that keeps its own name (base class of its response model)."""

    total: int = Field(description="Items in the whole list.")
    limit: int
    offset: int
    next: str | None = Field(description="The path and query of the next page, or null on the last one.")


@lru_cache(maxsize=None)
def page_model(item: type) -> type:
    """The response model of a page of ``item`` (cached, so the OpenAPI names stay stable)."""
    return Page[item]  # type: ignore[valid-type]


def next_url(request: Request, page: PageParams, total: int) -> str | None:
    following = page.offset + page.limit
    if following >= total:
        return None
    # relative (path and query): the same bytes whatever Host the client used, so cacheable (RFC 8288
    # allows a relative reference in Link)
    url = request.url.include_query_params(limit=page.limit, offset=following)
    return f"{url.path}?{url.query}"


def paginate(items: Sequence[Any], total: int, page: PageParams, request: Request,
             response: Response | None = None) -> dict:
    """The page envelope of ``items`` (already sliced by the caller, or sliced here when ``items``
    is the whole list: ``len(items) == total``); sets the ``Link`` header when there is a next page."""
    if len(items) == total and (page.offset or len(items) > page.limit):
        items = items[page.offset:page.offset + page.limit]
    following = next_url(request, page, total)
    if following is not None and response is not None:
        response.headers["Link"] = f'<{following}>; rel="next"'
    return {"items": list(items), "total": total, "limit": page.limit, "offset": page.offset, "next": following}


def paginate_as(name: str, items: Sequence[Any], page: PageParams, request: Request, response: Response | None,
                **extra: Any) -> dict:
    """The page of the whole list ``items`` under its own ``name``, with ``total``, ``limit``,
    ``offset``, ``next`` and the ``Link`` header as :func:`paginate` (``extra``: other fields first)."""
    body = paginate(items, len(items), page, request, response)
    return {**extra, name: body.pop("items"), **body}
