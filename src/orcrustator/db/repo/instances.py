"""Liveness of scheduler and worker processes."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db.repo._rows import Record, as_records
from orcrustator.db.repo._upsert import insert_for
from orcrustator.db.tables import service_instances


def new_instance_id(role: str) -> str:
    return f"{role}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def beat(conn: AsyncConnection, *, instance_id: str, role: str, now: datetime) -> None:
    statement = insert_for(conn, service_instances).values(
        instance_id=instance_id,
        role=role,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        started_at=now,
        heartbeat_at=now,
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["instance_id"], set_={"heartbeat_at": now, "stopped_at": None}
        )
    )


async def stopped(conn: AsyncConnection, *, instance_id: str, now: datetime) -> None:
    await conn.execute(
        sa.update(service_instances)
        .where(service_instances.c.instance_id == instance_id)
        .values(stopped_at=now)
    )


async def live(conn: AsyncConnection, *, within_seconds: float, now: datetime) -> list[Record]:
    rows = await conn.execute(
        sa.select(service_instances).where(
            service_instances.c.stopped_at.is_(None),
            service_instances.c.heartbeat_at >= now - timedelta(seconds=within_seconds),
        )
    )
    return as_records(rows)
