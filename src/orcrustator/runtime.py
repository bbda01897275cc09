"""Run the service's long-lived parts in one event loop and stop them cleanly on a signal.

uvicorn's own signal capture re-raises SIGTERM after shutting down, so the process would end
"killed by signal" even after a clean drain; here the service owns its signals and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from orcrustator.settings import Settings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled by `serve` below, for every component at once.
        yield


async def _serve(app: FastAPI, settings: Settings) -> None:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,  # our middleware logs one structured line per request
        server_header=False,
        proxy_headers=False,
        log_level=settings.log_level.lower(),
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    await server.serve()
    if not server.started:
        raise SystemExit(1)  # e.g. the port is taken; uvicorn has said why


def serve(app: FastAPI, settings: Settings) -> None:
    asyncio.run(_serve(app, settings))
