"""Run the service's long-lived parts in one event loop and stop them cleanly on a signal.

`orc up` runs the API, the scheduler and a worker side by side; `orc api`, `orc scheduler` and
`orc worker` run one each. SIGTERM or SIGINT sets one stop event for all of them: the API stops
accepting connections, the scheduler stops, the worker drains. uvicorn's own signal capture is
bypassed because it re-raises the signal after shutdown, ending a clean drain as "killed".
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI

from orcrustator.settings import Settings

Component = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

log = structlog.get_logger("orcrustator.runtime")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals are handled by `run_components` for every component at once


def api_component(app: FastAPI, settings: Settings) -> Component:
    async def serve(stop: asyncio.Event) -> None:
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
        watcher = asyncio.create_task(stop.wait())
        serving = asyncio.create_task(server.serve())
        await asyncio.wait({watcher, serving}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        watcher.cancel()
        await serving
        if not server.started:
            raise SystemExit(1)  # e.g. the port is taken; uvicorn has said why

    return serve


async def run_components(components: list[Component]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(c(stop)) for c in components]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()  # one part ending (or failing) stops the others
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
