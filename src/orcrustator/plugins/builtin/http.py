"""Extractor `http`: the records of a JSON API, page after page, with retries.

One request per page (GET, or POST with a JSON `body`); the records sit at `records_path` in
each response (`data.items`; none: the response itself is the list, or one object = one record).
Pagination kinds: `none`, `next_link` (a URL in the body at `next_path`, or the RFC 8288
`Link: <...>; rel="next"` header), `page` (a page-number parameter), `offset` (offset and limit
parameters) and `cursor` (a value from the body sent back as a parameter). Pagination stops at
the end the API signals, after `max_pages` pages, or, with a warning, when a next link or cursor
repeats or a page is byte-for-byte the previous one (an API that ignores the page parameter):
no configuration loops forever.

Next links are followed with the same method, body and headers; the configured `params` are
added to a next link only where it lacks them. A next link to another origin (host, port, or a
downgrade from https) is refused, so the configured headers (credentials) go nowhere else.

Retries: 429, 408, 5xx, timeouts and connection errors are retried up to `max_retries` times,
waiting `backoff_seconds` doubled each time (at most 60 s), or what `Retry-After` says on 429
and 503 (seconds or an HTTP date; at most 10 minutes). When retries run out the error is
transient (the run-level retries apply); any other 4xx fails at once. Header values are never
logged, and URLs in messages have the values of credential-like query parameters masked.

Records become Arrow rows: the columns are the keys of the records in the first batch (in the
order first seen) plus any declared in `columns`; their types come from `columns`, else from the
destination's existing types, else from the values of the first batch (all null: string). Later
records are conformed to that schema: missing keys become nulls, keys not in it are dropped
(one warning names them; declare a column in `columns` to keep one that appears late). Nested
objects and arrays are stored as JSON text (`{"a":1}`), so every loader can store them; a
record that is not an object becomes `{"value": ...}`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import httpx
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orcrustator.plugins.base import (
    Extractor,
    PluginConfig,
    PluginError,
    PluginSpec,
    RunContext,
    TransientPluginError,
)
from orcrustator.plugins.builtin._files import TYPE_EXAMPLES, check_column_types, column_types
from orcrustator.plugins.secrets import MASK, mask_config, mask_text

MAX_BACKOFF_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 600.0
LOG_EVERY_PAGES = 10
SLEEP_SLICE_SECONDS = 0.1
RETRYABLE_STATUSES = frozenset({408, 429})
RETRY_AFTER_STATUSES = frozenset({429, 503})
USER_AGENT = "orc-rust-ator (http extractor)"
_SHOWN_KEYS = 20  # keys named at most in one message
_SNIPPET = 200  # characters of a response body quoted in an error
_SECRET_PARAM = re.compile(
    r"(^|[_\-.])(key|sig|signature|auth|session|jwt|pass|pwd)([_\-.]|$)", re.IGNORECASE
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

# --- options -----------------------------------------------------------------------------


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoPagination(_Options):
    kind: Literal["none"] = "none"


class NextLinkPagination(_Options):
    kind: Literal["next_link"]
    next_path: str | None = Field(
        None,
        min_length=1,
        description="Dotted path of the next page's URL in the body (absolute or relative); "
        'none: the `Link: <...>; rel="next"` header.',
    )


class PagePagination(_Options):
    kind: Literal["page"]
    param: str = Field("page", min_length=1, description="The page-number query parameter.")
    start: int = Field(1, ge=0, description="The first page's number.")
    size_param: str | None = Field(None, min_length=1, description="Page-size parameter.")
    size: int | None = Field(
        None, ge=1, description="Records per page: a shorter page is the last one."
    )

    @model_validator(mode="after")
    def _size_with_param(self) -> PagePagination:
        if self.size_param is not None and self.size is None:
            raise ValueError("size_param needs size")
        return self


class OffsetPagination(_Options):
    kind: Literal["offset"]
    offset_param: str = Field("offset", min_length=1)
    limit_param: str = Field("limit", min_length=1)
    limit: int = Field(100, ge=1, description="Records per request; fewer ends pagination.")


class CursorPagination(_Options):
    kind: Literal["cursor"]
    cursor_path: str = Field(min_length=1, description="Dotted path of the next cursor.")
    cursor_param: str = Field("cursor", min_length=1, description="Where the cursor is sent.")


Pagination = Annotated[
    NoPagination | NextLinkPagination | PagePagination | OffsetPagination | CursorPagination,
    Field(discriminator="kind"),
]


def _check_path(value: str | None) -> str | None:
    if value is not None and any(not part for part in value.split(".")):
        raise ValueError("must be dot-separated keys, e.g. data.items")
    return value


class HttpExtractorConfig(PluginConfig):
    type: Literal["http"] = "http"
    url: str = Field(description="http:// or https:// URL of the first page.")
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Query parameters."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers; put credentials in as ${env:NAME}. Never logged.",
    )
    body: dict[str, Any] | None = Field(None, description="JSON body (POST only).")
    records_path: str | None = Field(
        None,
        description="Dotted path of the records in each response (data.items); none: the "
        "response itself is the list (or a single record).",
    )
    pagination: Pagination = Field(default_factory=NoPagination)
    max_pages: int = Field(10_000, ge=1, description="Stop after this many pages.")
    timeout_seconds: float = Field(30.0, gt=0, le=3600)
    max_retries: int = Field(5, ge=0, le=100)
    backoff_seconds: float = Field(
        1.0, ge=0, le=MAX_BACKOFF_SECONDS, description="First retry's wait; doubles each time."
    )
    batch_size: int = Field(10_000, ge=1, le=1_000_000, description="Records per batch.")
    columns: dict[str, str] | None = Field(
        None, description=f"Arrow types by column name, e.g. {TYPE_EXAMPLES}."
    )

    _columns = field_validator("columns")(check_column_types)
    _records_path = field_validator("records_path")(_check_path)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if "${env:" in value:  # checked again once resolved, when the task runs
            if not value.startswith(("http://", "https://", "${env:")):
                raise ValueError("must be an http:// or https:// URL")
            return value
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("headers")
    @classmethod
    def _header_syntax(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"'{name}' is not a valid header name")
            if any(c in text for c in "\r\n\0"):  # never echo the value: it may be a secret
                raise ValueError(f"header '{name}' has a line break or NUL in its value")
        return value

    @model_validator(mode="after")
    def _body_needs_post(self) -> HttpExtractorConfig:
        if self.body is not None and self.method != "POST":
            raise ValueError("body needs method POST")
        for option in ("next_path", "cursor_path"):
            _check_path(getattr(self.pagination, option, None))
        return self


# --- helpers -----------------------------------------------------------------------------


def _secret_param(name: str) -> bool:
    return bool(_SECRET_PARAM.search(name)) or mask_config({name: "x"})[name] == MASK


def _names(keys: Any) -> str:
    keys = [str(k) for k in keys]
    shown = ", ".join(keys[:_SHOWN_KEYS])
    if len(keys) > _SHOWN_KEYS:
        shown += f" and {len(keys) - _SHOWN_KEYS} more"
    return shown or "none"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _get(body: Any, path: str) -> Any:
    """The value at a dotted path, or None where any step is missing."""
    node = body
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """A `Retry-After` header (seconds, or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row(record: Any) -> dict[str, Any]:
    """A record as a flat row: nested objects and lists become JSON text."""
    if not isinstance(record, dict):
        record = {"value": record}
    return {
        key: _as_text(value) if isinstance(value, dict | list) else value
        for key, value in record.items()
    }


_ARROW_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    OverflowError,
    TypeError,
    ValueError,
)


def _to_arrow(values: list[Any], wanted: pa.DataType) -> pa.Array:
    """Values as an array of `wanted`, or raise one of `_ARROW_ERRORS` when one does not fit.

    Values are inferred first and then cast safely (never `pa.array(values, type=...)`, which
    truncates 1.7 to an int64 1), else read from their JSON text (decimals always are: "0.1"
    gives exactly 0.10, the float would not).
    """
    if pa.types.is_string(wanted) or pa.types.is_large_string(wanted):
        return pa.array([_as_text(v) for v in values], wanted)
    if not pa.types.is_decimal(wanted):
        try:
            return pa.array(values).cast(wanted, safe=True)
        except _ARROW_ERRORS:
            pass
    return pa.array([_as_text(v) for v in values], pa.string()).cast(wanted, safe=True)


def _inferred(values: list[Any]) -> pa.Array:
    try:
        array = pa.array(values)
    except _ARROW_ERRORS:  # mixed kinds (1 and "a"), or an integer beyond int64
        return pa.array([_as_text(v) for v in values], pa.string())
    if pa.types.is_null(array.type):
        return array.cast(pa.string())
    return array


class _Batcher:
    """Records in, record batches of `size` rows out, all with the first batch's schema."""

    def __init__(
        self,
        size: int,
        declared: dict[str, pa.DataType],
        hints: dict[str, pa.DataType],
        log: Callable[[str, str], None],
    ) -> None:
        self.size = size
        self.declared = declared
        self.hints = hints
        self.log = log
        self.schema: pa.Schema | None = None
        self.pending: list[dict[str, Any]] = []
        self.warned = False

    def add(self, records: list[Any]) -> Iterator[pa.RecordBatch]:
        self.pending.extend(_row(r) for r in records)
        while len(self.pending) >= self.size:
            chunk = self.pending[: self.size]
            del self.pending[: self.size]
            yield self._convert(chunk)

    def flush(self) -> Iterator[pa.RecordBatch]:
        if self.pending:
            chunk, self.pending = self.pending, []
            yield self._convert(chunk)

    def _convert(self, rows: list[dict[str, Any]]) -> pa.RecordBatch:
        keys = list(dict.fromkeys(key for row in rows for key in row))
        if self.schema is None:
            names = keys + [name for name in self.declared if name not in keys]
            arrays = []
            for name in names:
                values = [row.get(name) for row in rows]
                wanted = self.declared.get(name, self.hints.get(name))
                if wanted is None:
                    arrays.append(_inferred(values))
                else:
                    arrays.append(self._column(name, values, wanted))
            self.schema = pa.schema(
                [pa.field(n, a.type) for n, a in zip(names, arrays, strict=True)]
            )
            return pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        if not self.warned:
            known = set(self.schema.names)
            unknown = [key for key in keys if key not in known]
            if unknown:
                self.warned = True
                self.log(
                    "WARNING",
                    f"dropping keys that were not in the first batch: {_names(unknown)} "
                    "(declare them in `columns` to keep them); further ones are dropped silently",
                )
        arrays = [
            self._column(f.name, [row.get(f.name) for row in rows], f.type) for f in self.schema
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _column(self, name: str, values: list[Any], wanted: pa.DataType) -> pa.Array:
        try:
            return _to_arrow(values, wanted)
        except _ARROW_ERRORS:
            pass
        bad = next((v for v in values if v is not None and not self._fits(v, wanted)), "(a value)")
        shown = repr(bad) if len(repr(bad)) <= 100 else repr(bad)[:97] + "..."
        if name in self.declared:
            raise PluginError(
                f"column '{name}' is declared in `columns` as {wanted}, which cannot hold {shown}"
            )
        if name in self.hints:
            raise PluginError(
                f"column '{name}' is {wanted} in the destination, which cannot hold {shown}"
            )
        suggestion = "float64" if isinstance(bad, float) else "string"
        raise PluginError(
            f"column '{name}' was inferred as {wanted} from the first batch, but a later value "
            f'is {shown}; declare its type in `columns` (e.g. "{name}": "{suggestion}")'
        )

    @staticmethod
    def _fits(value: Any, wanted: pa.DataType) -> bool:
        try:
            _to_arrow([value], wanted)
        except _ARROW_ERRORS:
            return False
        return True


# --- the extractor -----------------------------------------------------------------------


class HttpExtractor(Extractor):
    def __init__(self, config: HttpExtractorConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        # Values no message may show, besides the ones the runner masks (resolved ${env:...}).
        self.secrets = [v for v in config.headers.values() if v] + [
            str(v) for k, v in config.params.items() if _secret_param(k) and str(v)
        ]

    # -- messages --
    def shown(self, url: httpx.URL | str) -> str:
        """A URL fit for messages: credential-like query values and URL passwords masked."""
        url = httpx.URL(url)
        text = str(url.copy_with(query=None, fragment=None))
        query = [f"{k}={MASK if _secret_param(k) else v}" for k, v in url.params.multi_items()]
        if query:
            text += "?" + "&".join(query)
        return self.mask(text)

    def mask(self, text: str) -> str:
        return mask_text(text, self.secrets)

    def _snippet(self, response: httpx.Response) -> str:
        text = " ".join(response.text[:_SNIPPET].split())
        return self.mask(text)

    # -- requests --
    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.ctx.raise_if_cancelled()
            time.sleep(min(SLEEP_SLICE_SECONDS, left))
        self.ctx.raise_if_cancelled()

    def _request(self, client: httpx.Client, url: httpx.URL) -> httpx.Response:
        cfg = self.config
        attempts = cfg.max_retries + 1
        where = f"{cfg.method} {self.shown(url)}"
        attempt = 0
        while True:
            attempt += 1
            self.ctx.raise_if_cancelled()
            wait: float | None = None
            try:
                response = client.request(cfg.method, url, json=cfg.body)
            except (
                httpx.UnsupportedProtocol,
                httpx.LocalProtocolError,
                httpx.TooManyRedirects,
                httpx.DecodingError,
                httpx.InvalidURL,
            ) as exc:
                raise PluginError(
                    f"request {where} failed: {type(exc).__name__}: {self.mask(str(exc))}"
                ) from None
            except httpx.TimeoutException as exc:
                problem = f"timed out after {cfg.timeout_seconds:g} s ({type(exc).__name__})"
            except httpx.TransportError as exc:  # refused, reset, DNS, a broken response
                problem = f"{type(exc).__name__}: {self.mask(str(exc)) or 'connection error'}"
            else:
                status = response.status_code
                if status < 400:
                    return response
                problem = f"HTTP {status} {response.reason_phrase}".rstrip()
                if status not in RETRYABLE_STATUSES and status < 500:
                    detail = self._snippet(response)
                    raise PluginError(f"{problem} from {where}" + (f": {detail}" if detail else ""))
                if status in RETRY_AFTER_STATUSES:
                    wait = retry_after_seconds(response.headers.get("retry-after"))
            if attempt == attempts:
                raise TransientPluginError(
                    f"{problem} from {where} (gave up after {attempts} "
                    f"attempt{'s' if attempts > 1 else ''})"
                )
            if wait is None:
                wait = min(MAX_BACKOFF_SECONDS, cfg.backoff_seconds * 2 ** (attempt - 1))
            self.ctx.log(
                "WARNING",
                f"{problem} from {where}; retrying in {wait:.2f} s "
                f"(attempt {attempt + 1} of {attempts})",
            )
            self._sleep(wait)

    def _body(self, response: httpx.Response) -> Any:
        if response.status_code == 204:  # No Content: no records
            return None
        try:
            return json.loads(response.content)
        except ValueError as exc:
            ctype = response.headers.get("content-type", "none")
            raise PluginError(
                f"the response from {self.config.method} {self.shown(response.request.url)} "
                f"is not JSON (content-type {ctype}; {exc}); it starts with "
                f"{self._snippet(response)!r}"
            ) from None

    def _records(self, body: Any, url: httpx.URL) -> list[Any]:
        path = self.config.records_path
        if body is None:
            return []
        node = body
        if path is not None:
            done: list[str] = []
            for part in path.split("."):
                where = f"'{'.'.join(done)}'" if done else "the top level"
                if isinstance(node, dict):
                    if part not in node:
                        raise PluginError(
                            f"records_path '{path}': the response from {self.shown(url)} has "
                            f"no key '{part}' at {where}; keys there: {_names(node)}"
                        )
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    raise PluginError(
                        f"records_path '{path}': the response from {self.shown(url)} has "
                        f"{_kind(node)} at {where}, where '{part}' was expected"
                    )
                done.append(part)
        if node is None:
            return []
        if isinstance(node, list):
            return node
        if isinstance(node, dict):
            return [node]
        where = f"records_path '{path}'" if path else "the response"
        raise PluginError(
            f"{where} from {self.shown(url)} is {_kind(node)}, not a list of records"
            + ("" if path else "; set records_path to where the records are")
        )

    def _next_link(self, body: Any, response: httpx.Response) -> str | None:
        assert isinstance(self.config.pagination, NextLinkPagination)
        path = self.config.pagination.next_path
        if path is None:
            for rel, link in response.links.items():
                if rel and "next" in rel.lower().split():
                    return link.get("url") or None
            return None
        value = _get(body, path)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise PluginError(f"next_path '{path}' holds {_kind(value)}, not a URL")
        return value

    def _follow(self, current: httpx.URL, link: str) -> httpx.URL:
        """The next link as an absolute URL with the configured params it lacks."""
        first = httpx.URL(self.config.url)
        try:
            url = current.join(link)
        except httpx.InvalidURL as exc:
            raise PluginError(f"the next link is not a URL: {exc}") from None
        same_host = url.host == first.host
        same = same_host and url.scheme == first.scheme and url.port == first.port
        upgrade = same_host and first.scheme == "http" and url.scheme == "https"
        if not (same or upgrade):
            raise PluginError(
                f"the next link {self.shown(url)} leads away from {first.scheme}://{first.host}"
                f"{'' if first.port is None else f':{first.port}'}; not sending the configured "
                "headers there"
            )
        present = set(url.params.keys())
        missing = {k: v for k, v in self.config.params.items() if k not in present}
        return url.copy_merge_params(missing) if missing else url

    def _pages(self, client: httpx.Client) -> Iterator[list[Any]]:
        """Each page's records, in order, until the API signals the end."""
        cfg = self.config
        pagination = cfg.pagination
        first = httpx.URL(cfg.url)
        url = first.copy_merge_params(cfg.params) if cfg.params else first
        page = pagination.start if isinstance(pagination, PagePagination) else 0
        offset = 0
        links: set[str] = set()  # URLs requested (next_link)
        cursors: set[str] = set()
        previous: bytes | None = None
        number = 0
        while True:
            if isinstance(pagination, PagePagination):
                extra: dict[str, str | int] = {pagination.param: page}
                if pagination.size_param and pagination.size:
                    extra[pagination.size_param] = pagination.size
                url = first.copy_merge_params({**cfg.params, **extra})
            elif isinstance(pagination, OffsetPagination):
                extra = {pagination.offset_param: offset, pagination.limit_param: pagination.limit}
                url = first.copy_merge_params({**cfg.params, **extra})
            links.add(str(url))
            response = self._request(client, url)
            number += 1
            digest = hashlib.sha256(response.content).digest()
            if digest == previous and response.content:
                self.ctx.log(
                    "WARNING",
                    f"page {number} is exactly page {number - 1} again: stopping (does the API "
                    "take the pagination parameters?)",
                )
                return
            previous = digest
            body = self._body(response)
            records = self._records(body, response.request.url)
            yield records

            match pagination:
                case NoPagination():
                    return
                case NextLinkPagination():
                    link = self._next_link(body, response)
                    if link is None:
                        return
                    links.add(str(response.url))  # where a redirect led
                    url = self._follow(response.url, link)
                    if str(url) in links:
                        self.ctx.log(
                            "WARNING",
                            f"the next link after page {number} leads to a page already read "
                            f"({self.shown(url)}): stopping",
                        )
                        return
                case PagePagination():
                    if not records or (pagination.size and len(records) < pagination.size):
                        return
                    page += 1
                case OffsetPagination():
                    if len(records) < pagination.limit:
                        return
                    offset += len(records)
                case CursorPagination():
                    cursor = _get(body, pagination.cursor_path)
                    if cursor is None or cursor == "":
                        return
                    value = cursor if isinstance(cursor, str) else str(_as_text(cursor))
                    if value in cursors:
                        self.ctx.log(
                            "WARNING",
                            f"the cursor after page {number} was already used: stopping",
                        )
                        return
                    cursors.add(value)
                    url = first.copy_merge_params({**cfg.params, pagination.cursor_param: value})
            if number >= cfg.max_pages:
                self.ctx.log(
                    "WARNING",
                    f"stopping after max_pages ({cfg.max_pages}) pages; the API has more",
                )
                return

    def batches(self) -> Iterator[pa.RecordBatch]:
        cfg = self.config
        hints: dict[str, pa.DataType] = {}
        if self.ctx.target_schema is not None:
            hints = {f.name: f.type for f in self.ctx.target_schema if _hintable(f.type)}
        batcher = _Batcher(cfg.batch_size, column_types(cfg.columns), hints, self.ctx.log)
        given = {name.lower() for name in cfg.headers}
        defaults = {"Accept": "application/json", "User-Agent": USER_AGENT}
        headers = {k: v for k, v in defaults.items() if k.lower() not in given} | cfg.headers
        self.ctx.raise_if_cancelled()
        first = httpx.URL(cfg.url).copy_merge_params(cfg.params)
        self.ctx.log(
            "INFO",
            f"requesting {cfg.method} {self.shown(first)} (pagination: {cfg.pagination.kind})",
        )
        rows = 0
        pages = 0
        with httpx.Client(
            headers=headers, timeout=cfg.timeout_seconds, follow_redirects=True
        ) as client:
            for records in self._pages(client):
                pages += 1
                rows += len(records)
                self.ctx.progress(rows, 0, 0)
                if pages % LOG_EVERY_PAGES == 0:
                    self.ctx.log("INFO", f"{pages} pages, {rows} records so far")
                yield from batcher.add(records)
        yield from batcher.flush()
        self.ctx.log("INFO", f"read {rows} records from {pages} pages")


def _hintable(data_type: pa.DataType) -> bool:
    t = pa.types
    return bool(
        t.is_integer(data_type)
        or t.is_floating(data_type)
        or t.is_decimal(data_type)
        or t.is_boolean(data_type)
        or t.is_date(data_type)
        or t.is_timestamp(data_type)
        or t.is_string(data_type)
        or t.is_large_string(data_type)
    )


def _build(config: HttpExtractorConfig, ctx: RunContext) -> HttpExtractor:
    return HttpExtractor(config, ctx)


extractor_spec: PluginSpec[HttpExtractorConfig, HttpExtractor] = PluginSpec(
    name="http",
    kind="extractor",
    config_model=HttpExtractorConfig,
    factory=_build,
    description="records of a JSON API, with pagination (next link, page, offset, cursor) and "
    "retries",
)
