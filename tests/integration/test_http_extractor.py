"""The http extractor against a real HTTP server on 127.0.0.1 (no mocks of HTTP).

A `ThreadingHTTPServer` in a background thread serves deterministic fixtures from per-test
routes and records every request, so tests can count requests and see headers and timings.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
import pytest

from orcrustator.errors import InvalidInput
from orcrustator.plugins import registry
from orcrustator.plugins.base import (
    PluginError,
    RunContext,
    TaskCancelled,
    TransientPluginError,
)
from orcrustator.plugins.builtin.http import HttpExtractor, retry_after_seconds
from orcrustator.worker.executor_child import ChildResult, TaskSpec, _Reporter, run_task

pytestmark = pytest.mark.timeout(30)

RECORDS = [{"id": i, "name": f"n{i}"} for i in range(1, 8)]  # 7 records: pages of 3, 3, 1
FAST = {"backoff_seconds": 0.01}


# --- the server --------------------------------------------------------------------------
@dataclass
class Hit:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float


Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON-able value or raw bytes


@dataclass
class FakeApi:
    base: str
    routes: dict[str, Callable[[Hit], Reply]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def json(self, path: str, value: Any, status: int = 200) -> str:
        """Serve the same reply at `path` every time; returns the full URL."""
        self.routes[path] = lambda hit: (status, {}, value)
        return self.base + path

    def route(self, path: str, handler: Callable[[Hit], Reply]) -> str:
        self.routes[path] = handler
        return self.base + path

    def requests(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeApi


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        hit = Hit(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            at=time.monotonic(),
        )
        api = self.server.api
        with api.lock:
            api.hits.append(hit)
        handler = api.routes.get(parts.path)
        reply: Reply = (404, {}, {"error": "no such route"})
        if handler is not None:
            reply = handler(hit)
        status, headers, payload = reply
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        if not any(k.lower() == "content-type" for k in headers):
            self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.api = FakeApi(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- helpers -----------------------------------------------------------------------------
@dataclass
class Extracted:
    table: pa.Table | None
    batches: list[pa.RecordBatch]
    logs: list[tuple[str, str]]

    def rows(self) -> list[dict[str, Any]]:
        return [] if self.table is None else list(self.table.to_pylist())

    def warnings(self) -> list[str]:
        return [m for level, m in self.logs if level == "WARNING"]


def extract(
    config: dict[str, Any],
    *,
    cancelled: Callable[[], bool] = lambda: False,
    logs: list[tuple[str, str]] | None = None,
) -> Extracted:
    """Validate through the registry (the entry point) and read every batch."""
    logs = [] if logs is None else logs
    model = registry.validate_config("extractor", {"type": "http", **config})
    sink = logs
    ctx = RunContext(
        run_id="run",
        job_id="job",
        task_id="task",
        task_order=1,
        data_dir=Path(),
        log=lambda level, message: sink.append((level, message)),
        progress=lambda *counters: None,
        cancelled=cancelled,
    )
    extractor = registry.get_spec("extractor", "http").factory(model, ctx)
    assert isinstance(extractor, HttpExtractor)
    batches = list(extractor.batches())
    table = pa.Table.from_batches(batches) if batches else None
    return Extracted(table, batches, logs)


def run(
    extractor: dict[str, Any], data_dir: Path, loader: dict[str, Any] | None = None
) -> tuple[ChildResult, list[tuple[Any, ...]]]:
    """Through the executor's real task path: secret resolution, validation, loader."""
    messages: list[tuple[Any, ...]] = []
    spec = TaskSpec(
        run_id=str(uuid.uuid4()),
        job_id="job-1",
        task_id="task-1",
        task_order=1,
        extractor_config={"type": "http", **extractor},
        loader_config=loader or {"type": "null"},
        data_dir=str(data_dir),
    )
    return run_task(spec, _Reporter(messages.append), lambda: False), messages


def page_of(page: int, size: int = 3) -> list[dict[str, Any]]:
    return RECORDS[(page - 1) * size : page * size]


# --- shapes of responses -----------------------------------------------------------------
def test_plain_list(api: FakeApi) -> None:
    url = api.json("/items", RECORDS)
    out = extract({"url": url})
    assert out.rows() == RECORDS
    assert out.table is not None
    assert out.table.schema == pa.schema([("id", pa.int64()), ("name", pa.string())])
    hit = api.requests("/items")[0]
    assert hit.method == "GET"
    assert hit.headers["accept"] == "application/json"


def test_single_object_is_one_record(api: FakeApi) -> None:
    url = api.json("/one", {"id": 1, "name": "x"})
    assert extract({"url": url}).rows() == [{"id": 1, "name": "x"}]


def test_records_path(api: FakeApi) -> None:
    url = api.json("/wrapped", {"data": {"items": RECORDS[:2]}, "meta": {"total": 2}})
    assert extract({"url": url, "records_path": "data.items"}).rows() == RECORDS[:2]


def test_params_and_post_body(api: FakeApi) -> None:
    def echo(hit: Hit) -> Reply:
        return 200, {}, [{"method": hit.method, "q": json.loads(hit.body)["q"], **hit.query}]

    url = api.route("/search", echo)
    out = extract(
        {
            "url": url + "?fixed=1",
            "method": "POST",
            "body": {"q": "find"},
            "params": {"flag": True, "n": 5},
        }
    )
    assert out.rows() == [{"method": "POST", "q": "find", "fixed": "1", "flag": "true", "n": "5"}]
    assert api.requests("/search")[0].headers["content-type"] == "application/json"


def test_no_content_is_no_records(api: FakeApi) -> None:
    url = api.json("/empty", b"", status=204)
    out = extract({"url": url})
    assert out.batches == []


# --- pagination --------------------------------------------------------------------------
def test_next_link_in_body_relative_then_absolute(api: FakeApi) -> None:
    def pages(hit: Hit) -> Reply:
        page = int(hit.query.get("page", "1"))
        nxt = {1: "pages?page=2", 2: f"{api.base}/api/pages?page=3", 3: None}[page]
        return 200, {}, {"items": page_of(page), "links": {"next": nxt}}

    url = api.route("/api/pages", pages)
    out = extract(
        {
            "url": url,
            "params": {"token_type": "x"},
            "records_path": "items",
            "pagination": {"kind": "next_link", "next_path": "links.next"},
        }
    )
    assert out.rows() == RECORDS
    hits = api.requests("/api/pages")
    assert [h.query.get("page") for h in hits] == [None, "2", "3"]
    assert all(h.query["token_type"] == "x" for h in hits)  # params the link lacks are kept


def test_link_header(api: FakeApi) -> None:
    def pages(hit: Hit) -> Reply:
        page = int(hit.query.get("page", "1"))
        headers: dict[str, str] = {}
        if page < 3:
            headers["Link"] = (
                f'<{api.base}/linked?page=1>; rel="first", '
                f'</linked?page={page + 1}>; rel="next", <{api.base}/linked?page=3>; rel="last"'
            )
        return 200, headers, page_of(page)

    url = api.route("/linked", pages)
    out = extract({"url": url, "pagination": {"kind": "next_link"}})
    assert out.rows() == RECORDS
    assert len(api.requests("/linked")) == 3


@pytest.mark.parametrize(
    ("pagination", "requests"),
    [
        ({"kind": "page", "size_param": "per_page", "size": 3}, 3),  # stops at the short page
        ({"kind": "page"}, 4),  # stops at the empty page
    ],
)
def test_page_pagination(api: FakeApi, pagination: dict[str, Any], requests: int) -> None:
    def pages(hit: Hit) -> Reply:
        assert hit.query.get("per_page", "3") == "3"
        return 200, {}, {"rows": page_of(int(hit.query["page"]))}

    url = api.route("/paged", pages)
    out = extract({"url": url, "records_path": "rows", "pagination": pagination})
    assert out.rows() == RECORDS
    assert [h.query["page"] for h in api.requests("/paged")] == [
        str(n) for n in range(1, requests + 1)
    ]


def test_page_pagination_start_zero(api: FakeApi) -> None:
    url = api.route("/zero", lambda hit: (200, {}, page_of(int(hit.query["p"]) + 1)))
    out = extract({"url": url, "pagination": {"kind": "page", "param": "p", "start": 0}})
    assert out.rows() == RECORDS


def test_offset_pagination(api: FakeApi) -> None:
    def rows(hit: Hit) -> Reply:
        offset, limit = int(hit.query["skip"]), int(hit.query["take"])
        return 200, {}, {"data": RECORDS[offset : offset + limit]}

    url = api.route("/offset", rows)
    out = extract(
        {
            "url": url,
            "records_path": "data",
            "pagination": {
                "kind": "offset",
                "offset_param": "skip",
                "limit_param": "take",
                "limit": 3,
            },
        }
    )
    assert out.rows() == RECORDS
    assert [h.query["skip"] for h in api.requests("/offset")] == ["0", "3", "6"]


def test_cursor_pagination(api: FakeApi) -> None:
    def rows(hit: Hit) -> Reply:
        page = {None: 1, "c2": 2, "c3": 3}[hit.query.get("after")]
        nxt = {1: "c2", 2: "c3", 3: None}[page]
        return 200, {}, {"items": page_of(page), "meta": {"next_cursor": nxt}}

    url = api.route("/cursor", rows)
    out = extract(
        {
            "url": url,
            "records_path": "items",
            "pagination": {
                "kind": "cursor",
                "cursor_path": "meta.next_cursor",
                "cursor_param": "after",
            },
        }
    )
    assert out.rows() == RECORDS
    assert [h.query.get("after") for h in api.requests("/cursor")] == [None, "c2", "c3"]


def test_repeating_next_link_stops(api: FakeApi) -> None:
    api.json("/loop", {"items": RECORDS[:2], "next": "/loop"})
    api.json("/ping", {"items": RECORDS[:1], "next": "/pong"})
    api.json("/pong", {"items": RECORDS[1:2], "next": "/ping"})
    pagination = {"kind": "next_link", "next_path": "next"}
    out = extract({"url": api.base + "/loop", "records_path": "items", "pagination": pagination})
    assert out.rows() == RECORDS[:2]
    assert len(api.requests("/loop")) == 1
    assert any("already read" in w for w in out.warnings())

    out = extract({"url": api.base + "/ping", "records_path": "items", "pagination": pagination})
    assert out.rows() == RECORDS[:2]
    assert len(api.requests("/ping")) == len(api.requests("/pong")) == 1


def test_repeating_cursor_stops(api: FakeApi) -> None:
    url = api.route(
        "/stuck",
        lambda hit: (200, {}, {"items": [{"page": hit.query.get("c", "first")}], "next": "x"}),
    )
    out = extract(
        {
            "url": url,
            "records_path": "items",
            "pagination": {"kind": "cursor", "cursor_path": "next", "cursor_param": "c"},
        }
    )
    assert out.rows() == [{"page": "first"}, {"page": "x"}]
    assert len(api.requests("/stuck")) == 2
    assert any("already used" in w for w in out.warnings())


def test_server_ignoring_the_page_param_stops(api: FakeApi) -> None:
    url = api.json("/same", RECORDS[:3])
    out = extract({"url": url, "pagination": {"kind": "offset", "limit": 3}})
    assert out.rows() == RECORDS[:3]  # the repeated page is not read twice
    assert len(api.requests("/same")) == 2
    assert any("exactly page 1 again" in w for w in out.warnings())


def test_max_pages_and_progress_logs(api: FakeApi) -> None:
    url = api.route("/endless", lambda hit: (200, {}, [{"page": int(hit.query["page"])}]))
    out = extract({"url": url, "pagination": {"kind": "page"}, "max_pages": 25})
    assert out.rows() == [{"page": n} for n in range(1, 26)]
    assert len(api.requests("/endless")) == 25
    assert any("max_pages (25)" in w for w in out.warnings())
    assert sum("records so far" in m for _, m in out.logs) == 2  # one line per 10 pages


def test_next_link_to_another_origin_is_refused(api: FakeApi) -> None:
    port = api.base.rsplit(":", 1)[1]
    url = api.json("/away", {"items": [], "next": f"http://localhost:{port}/away"})
    with pytest.raises(PluginError, match=r"leads away from http://127\.0\.0\.1"):
        extract(
            {
                "url": url,
                "records_path": "items",
                "pagination": {"kind": "next_link", "next_path": "next"},
            }
        )


# --- retries and errors ------------------------------------------------------------------
def flaky(failures: list[Reply], then: Any) -> Callable[[Hit], Reply]:
    """Reply with each of `failures` in turn, then `then` forever."""
    pending = list(failures)

    def handler(hit: Hit) -> Reply:
        return pending.pop(0) if pending else (200, {}, then)

    return handler


def test_429_honours_retry_after(api: FakeApi) -> None:
    url = api.route("/limited", flaky([(429, {"Retry-After": "1"}, {"error": "slow"})], RECORDS))
    out = extract({"url": url, **FAST})
    assert out.rows() == RECORDS
    first, second = api.requests("/limited")
    assert second.at - first.at >= 1.0  # not the 0.01 s backoff
    assert any("HTTP 429" in w and "retrying in 1.00 s" in w for w in out.warnings())


def test_retry_after_as_http_date() -> None:
    now = dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("Mon, 01 Jan 2024 12:00:02 GMT", now) == 2.0
    assert retry_after_seconds("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds("3", now) == 3.0
    assert retry_after_seconds("999999", now) == 600.0  # capped
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_500_twice_then_success(api: FakeApi) -> None:
    url = api.route("/shaky", flaky([(500, {}, {"e": 1}), (502, {}, b"bad gateway")], RECORDS))
    out = extract({"url": url, **FAST})
    assert out.rows() == RECORDS
    assert len(api.requests("/shaky")) == 3
    assert len(out.warnings()) == 2


def test_500_forever_fails_transient(api: FakeApi, tmp_path: Path) -> None:
    url = api.json("/down", {"error": "down"}, status=500)
    result, _ = run({"url": url, "max_retries": 2, **FAST}, tmp_path)
    assert result.status == "failed"
    assert result.transient
    assert result.error_message is not None
    assert "HTTP 500" in result.error_message
    assert f"GET {url}" in result.error_message
    assert "3 attempts" in result.error_message
    assert len(api.requests("/down")) == 3


def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientPluginError, match="ConnectError"):
        extract({"url": f"http://127.0.0.1:{port}/x", "max_retries": 1, **FAST})


def test_404_fails_at_once(api: FakeApi, tmp_path: Path) -> None:
    url = api.json("/missing", {"error": "gone"}, status=404)
    result, _ = run({"url": url, "max_retries": 5}, tmp_path)
    assert result.status == "failed"
    assert not result.transient
    assert result.error_message is not None
    assert "HTTP 404 Not Found" in result.error_message
    assert url in result.error_message
    assert len(api.requests("/missing")) == 1


def test_non_json_body(api: FakeApi) -> None:
    url = api.route("/html", lambda hit: (200, {"Content-Type": "text/html"}, b"<html>oops</html>"))
    with pytest.raises(PluginError, match=r"not JSON \(content-type text/html.*<html>oops"):
        extract({"url": url})


def test_wrong_records_path_names_the_keys(api: FakeApi) -> None:
    url = api.json("/shape", {"data": {"rows": [], "count": 0}, "meta": {}})
    with pytest.raises(PluginError) as info:
        extract({"url": url, "records_path": "data.items"})
    message = str(info.value)
    assert "records_path 'data.items'" in message
    assert "no key 'items' at 'data'" in message
    assert "keys there: rows, count" in message
    with pytest.raises(
        PluginError, match="no key 'results' at the top level; keys there: data, meta"
    ):
        extract({"url": url, "records_path": "results"})


def test_scalar_response_is_an_error(api: FakeApi) -> None:
    url = api.json("/scalar", 42)
    with pytest.raises(PluginError, match="is a number, not a list of records"):
        extract({"url": url})


# --- secrets -----------------------------------------------------------------------------
TOKEN = "tok-s3cr3t-4f9a2b"


def test_secret_header_reaches_the_server_but_no_message(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)

    def secure(hit: Hit) -> Reply:
        if hit.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"error": "who are you"}
        return 200, {}, {"items": RECORDS}

    def rejecting(hit: Hit) -> Reply:  # an error body that echoes the credentials
        return 403, {}, {"error": f"{hit.headers.get('authorization')} may not read this"}

    config = {
        "headers": {"Authorization": "Bearer ${env:API_TOKEN}"},
        "params": {"api_key": "${env:API_TOKEN}"},
        "records_path": "items",
    }
    ok, ok_messages = run({"url": api.route("/secure", secure), **config}, tmp_path)
    assert ok.status == "success", ok.error_message
    assert ok.rows_loaded == len(RECORDS)
    hit = api.requests("/secure")[0]
    assert hit.headers["authorization"] == f"Bearer {TOKEN}"
    assert hit.query["api_key"] == TOKEN

    bad, bad_messages = run({"url": api.route("/rejecting", rejecting), **config}, tmp_path)
    assert bad.status == "failed"
    assert bad.error_message is not None
    assert "HTTP 403" in bad.error_message
    assert f"{api.base}/rejecting?api_key=***" in bad.error_message
    assert "may not read this" in bad.error_message
    shown = [str(m) for m in ok_messages + bad_messages] + [bad.error_message]
    assert not [m for m in shown if TOKEN in m]


def test_plugin_masks_headers_and_secret_params_itself(api: FakeApi) -> None:
    """Without the runner's masking (literal values, no ${env:}), the plugin still hides them."""
    url = api.route(
        "/echo-403",
        lambda hit: (403, {}, {"echo": hit.headers.get("x-api-key"), "q": hit.query}),
    )
    logs: list[tuple[str, str]] = []
    with pytest.raises(PluginError) as info:
        extract(
            {
                "url": url,
                "headers": {"X-Api-Key": "literal-key-8472"},
                "params": {"access_token": "literal-token-1234", "page_size": 5},
            },
            logs=logs,
        )
    text = str(info.value) + " ".join(m for _, m in logs)
    assert "access_token=***" in text
    assert "page_size=5" in text
    assert "literal-key-8472" not in text
    assert "literal-token-1234" not in text


# --- schema ------------------------------------------------------------------------------
def test_schema_drift(api: FakeApi) -> None:
    records = [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
        {"a": 3, "c": "new"},  # b missing, c unknown
        {"b": "z", "a": 4, "d": True},  # another order, d unknown
        {"a": 5, "e": 1},  # later unknown keys: dropped without another warning
    ]
    url = api.json("/drift", records)
    out = extract({"url": url, "batch_size": 2})
    assert [b.num_rows for b in out.batches] == [2, 2, 1]
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    assert all(b.schema == schema for b in out.batches)
    assert out.rows() == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
        {"a": 3, "b": None},
        {"a": 4, "b": "z"},
        {"a": 5, "b": None},
    ]
    warnings = out.warnings()
    assert len(warnings) == 1
    assert "c, d" in warnings[0]


def test_types_conform_across_batches(api: FakeApi) -> None:
    records = [
        {"n": 1, "f": 1.5, "s": "a", "flag": True, "nothing": None},
        {"n": 2.0, "f": 2, "s": 7, "flag": None, "nothing": 3},
    ]
    out = extract({"url": api.json("/types", records), "batch_size": 1})
    assert out.table is not None
    assert out.table.schema == pa.schema(
        [
            ("n", pa.int64()),
            ("f", pa.float64()),
            ("s", pa.string()),
            ("flag", pa.bool_()),
            ("nothing", pa.string()),  # all null in the first batch: string
        ]
    )
    assert out.rows()[1] == {"n": 2, "f": 2.0, "s": "7", "flag": None, "nothing": "3"}


def test_inferred_int_then_fraction_names_the_fix(api: FakeApi) -> None:
    url = api.json("/fraction", [{"n": 1}, {"n": 1.5}])
    with pytest.raises(PluginError, match=r"column 'n' was inferred as int64.*1\.5.*float64"):
        extract({"url": url, "batch_size": 1})


def test_nested_values_become_json_strings(api: FakeApi) -> None:
    records = [
        {"id": 1, "obj": {"x": 1, "y": [1, 2]}, "arr": [1, "a", None], "text": "é"},
        {"id": 2, "obj": {}, "arr": [], "text": {"k": "ü"}},
    ]
    out = extract({"url": api.json("/nested", records)})
    assert out.rows() == [
        {"id": 1, "obj": '{"x":1,"y":[1,2]}', "arr": '[1,"a",null]', "text": "é"},
        {"id": 2, "obj": "{}", "arr": "[]", "text": '{"k":"ü"}'},
    ]


def test_non_object_records_become_value(api: FakeApi) -> None:
    assert extract({"url": api.json("/scalars", [1, 2, 3])}).rows() == [
        {"value": 1},
        {"value": 2},
        {"value": 3},
    ]


def test_declared_columns(api: FakeApi) -> None:
    records = [
        {"amount": 0.1, "ts": "2024-01-02T03:04:05Z", "day": "2024-01-31", "id": "7"},
        {"amount": "12.30", "ts": None, "day": None, "id": 8, "late": 5},
    ]
    out = extract(
        {
            "url": api.json("/typed", records),
            "batch_size": 1,
            "columns": {
                "amount": "decimal128(12,2)",
                "ts": "timestamp[us, tz=UTC]",
                "day": "date32",
                "id": "int64",
                "late": "int32",  # absent from the first batch: kept because declared
            },
        }
    )
    assert out.table is not None
    assert out.table.schema.names == ["amount", "ts", "day", "id", "late"]
    assert out.table.schema.field("amount").type == pa.decimal128(12, 2)
    assert out.table.schema.field("late").type == pa.int32()
    assert out.rows() == [
        {
            "amount": Decimal("0.10"),
            "ts": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "day": dt.date(2024, 1, 31),
            "id": 7,
            "late": None,
        },
        {"amount": Decimal("12.30"), "ts": None, "day": None, "id": 8, "late": 5},
    ]
    assert out.warnings() == []

    with pytest.raises(PluginError, match=r"declared in `columns` as int64.*'abc'"):
        extract({"url": api.json("/bad-int", [{"id": "abc"}]), "columns": {"id": "int64"}})


def test_pages_fill_batches(api: FakeApi) -> None:
    url = api.route("/fill", lambda hit: (200, {}, page_of(int(hit.query["page"]))))
    out = extract({"url": url, "pagination": {"kind": "page"}, "batch_size": 4})
    assert [b.num_rows for b in out.batches] == [4, 3]
    assert out.rows() == RECORDS


# --- cancellation ------------------------------------------------------------------------
def test_cancelled_between_pages(api: FakeApi) -> None:
    url = api.route("/forever", lambda hit: (200, {}, [{"page": int(hit.query["page"])}]))
    with pytest.raises(TaskCancelled):
        extract(
            {"url": url, "pagination": {"kind": "page"}},
            cancelled=lambda: len(api.requests("/forever")) >= 2,
        )
    assert len(api.requests("/forever")) == 2


def test_cancelled_while_waiting_to_retry(api: FakeApi) -> None:
    url = api.route("/busy", lambda hit: (503, {"Retry-After": "30"}, {"error": "busy"}))
    started = time.monotonic()
    with pytest.raises(TaskCancelled):
        extract({"url": url}, cancelled=lambda: time.monotonic() - started > 0.3)
    assert time.monotonic() - started < 3
    assert len(api.requests("/busy")) == 1


# --- through the task path into loaders --------------------------------------------------
def test_into_null_loader(api: FakeApi, tmp_path: Path) -> None:
    url = api.route("/to-null", lambda hit: (200, {}, page_of(int(hit.query["page"]))))
    result, _ = run({"url": url, "pagination": {"kind": "page"}, "batch_size": 2}, tmp_path)
    assert result.status == "success", result.error_message
    assert (result.rows_extracted, result.rows_loaded) == (7, 7)


def test_into_parquet_loader(api: FakeApi, tmp_path: Path) -> None:
    if "parquet" not in registry.known_names("loader"):
        pytest.skip("the parquet loader is not registered")
    records = [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}]
    result, _ = run(
        {"url": api.json("/to-parquet", {"data": records}), "records_path": "data"},
        tmp_path,
        {"type": "parquet", "path": "out/http.parquet"},
    )
    assert result.status == "success", result.error_message
    table = pq.read_table(tmp_path / "out" / "http.parquet")
    assert table.to_pylist() == [{"id": 1, "tags": '["a","b"]'}, {"id": 2, "tags": "[]"}]


# --- options -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"url": "ftp://example.com/x"}, "url: .*http:// or https://"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://x.org", "body": {"a": 1}}, "body needs method POST"),
        ({"url": "https://x.org", "pagination": {"kind": "pages"}}, "pagination"),
        (
            {"url": "https://x.org", "pagination": {"kind": "page", "size_param": "n"}},
            "size_param needs size",
        ),
        ({"url": "https://x.org", "pagination": {"kind": "cursor"}}, "cursor_path"),
        ({"url": "https://x.org", "records_path": "a..b"}, "records_path"),
        ({"url": "https://x.org", "columns": {"a": "int65"}}, "column 'a'"),
        ({"url": "https://x.org", "headers": {"Bad Name": "v"}}, "not a valid header name"),
        ({"url": "https://x.org", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_options(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        registry.validate_config("extractor", {"type": "http", **config})


def test_references_are_accepted_before_resolution() -> None:
    model = registry.validate_config(
        "extractor",
        {
            "type": "http",
            "url": "${env:API_URL}",
            "headers": {"Authorization": "Bearer ${env:API_TOKEN}"},
        },
    )
    assert model.type == "http"
