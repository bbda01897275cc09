"""`GET /metrics`: Prometheus text, for a scraper (no token, like /health)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from orcrustator.api.deps import ServicesDep
from orcrustator.db.repo import metrics as metrics_repo
from orcrustator.metrics import REGISTRY, DatabaseStateCollector

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(services: ServicesDep) -> Response:
    async with services.db.read() as conn:
        state = await metrics_repo.snapshot(
            conn, now=datetime.now(UTC), lease_seconds=services.settings.lease_seconds
        )
    shared = CollectorRegistry(auto_describe=False)
    shared.register(DatabaseStateCollector(state))
    body = generate_latest(REGISTRY) + generate_latest(shared)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
