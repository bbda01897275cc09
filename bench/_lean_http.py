"""A lean keep-alive HTTP/1.1 GET client for the load benches.

Why not httpx (or aiohttp): a load generator on the same two-core machine as the server it
measures must cost the server as little CPU as possible. httpx's AsyncClient spends about a
millisecond of CPU per request, so 50 clients saturated a core by themselves and capped even
`GET /health` near 300 requests/s: the bench measured its own client. This one writes a
prepared request and reads a `Content-Length` response on asyncio streams, tens of
microseconds a request. It speaks only what our api answers (no chunked bodies, no
redirects, no TLS) and fails loudly on anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass


class LeanHttpError(Exception):
    """The connection broke, or the server answered in a way this client does not speak."""


@dataclass
class LeanResponse:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class LeanConnection:
    """One persistent connection; reconnects when the server has closed an idle one."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self._host, self._port = host, port
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._head_suffix = f" HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self._reader, self._writer

    async def get(self, path: str) -> LeanResponse:
        # A keep-alive connection the server closed while idle fails on first use: one retry
        # on a fresh connection, as browsers and HTTP libraries do for idempotent requests.
        for attempt in (1, 2):
            reader, writer = await self._connect()
            try:
                writer.write(b"GET " + path.encode("latin-1") + self._head_suffix)
                response = await self._read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                await self.close()
                if attempt == 2:
                    raise LeanHttpError(f"{type(exc).__name__}: {exc}") from exc
                continue
            if response.headers.get("connection", "").lower() == "close":
                await self.close()
            return response
        raise AssertionError("unreachable")

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> LeanResponse:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise LeanHttpError(f"not an HTTP/1.x status line: {status_line!r}")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise LeanHttpError("a response without Content-Length (chunked is not spoken here)")
        body = await reader.readexactly(int(headers["content-length"]))
        return LeanResponse(int(parts[1]), headers, body)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
