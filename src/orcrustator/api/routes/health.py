"""Liveness that includes the database: load balancers and `make run` poll it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from orcrustator.api.deps import ServicesDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = None


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(services: ServicesDep) -> JSONResponse:
    try:
        await services.db.ping()
    except Exception:  # any failure to reach the database means "not healthy"
        body = Health(status="unavailable", detail="the database does not answer")
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse({"status": "ok"})
