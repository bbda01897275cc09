"""Contract adapter for the `http` extractor: a local JSON API serving the table page by page.

The server (a `ThreadingHTTPServer` on 127.0.0.1) answers `GET /items?page=N` with
`{"items": [...], "next": "/items?page=N+1"}` (`next` null on the last page), records as JSON
the way an API writes them (decimals, dates and timestamps as strings); the extractor declares
every column's type in `columns`, follows `next` and batches as many rows as a page holds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from tests.contract.conftest import (
    ContractEnv,
    ExtractorAdapter,
    Source,
    _json_value,
    declared_types,
    register,
)


@dataclass(frozen=True)
class JsonServer:
    url: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    pages: list[bytes]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        page = parse_qs(parts.query).get("page", ["1"])[0]
        number = int(page) if page.isdigit() else 0
        if parts.path != "/items" or not 1 <= number <= len(self.server.pages):
            self.send_error(404)
            return
        data = self.server.pages[number - 1]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def _pages(table: pa.Table, page_size: int) -> list[bytes]:
    rows = table.to_pylist()
    starts = range(0, len(rows), page_size) if rows else range(1)
    pages = []
    for number, start in enumerate(starts, start=1):
        last = start + page_size >= len(rows)
        body = {
            "items": rows[start : start + page_size],
            "next": None if last else f"/items?page={number + 1}",
        }
        pages.append(json.dumps(body, ensure_ascii=False, default=_json_value).encode())
    return pages


@contextmanager
def serve_json(table: pa.Table, *, page_size: int) -> Iterator[JsonServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.pages = _pages(table, page_size)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield JsonServer(f"http://127.0.0.1:{server.server_port}/items")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@register
class HttpExtractorAdapter(ExtractorAdapter):
    name = "http"

    def source(self, table: pa.Table, env: ContractEnv, *, batch_rows: int) -> Source:
        server = env.cleanup.enter_context(serve_json(table, page_size=batch_rows))
        config = {
            "type": "http",
            "url": server.url,
            "records_path": "items",
            "pagination": {"kind": "next_link", "next_path": "next"},
            "batch_size": batch_rows,
            "columns": declared_types(table.schema),
            "max_retries": 0,
        }
        return Source(config, table)
