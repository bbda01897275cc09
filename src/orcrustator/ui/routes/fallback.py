"""Designed 404 pages for unknown addresses under the dashboard's own paths."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from orcrustator.ui.routing import SessionDep, UIRoute, error_page

router = APIRouter(route_class=UIRoute, include_in_schema=False)


@router.get("/jobs/{rest:path}")
@router.get("/runs/{rest:path}")
@router.get("/users/{rest:path}")
async def not_found(rest: str, request: Request, session: SessionDep) -> Response:
    return error_page(request, 404, session=session)
