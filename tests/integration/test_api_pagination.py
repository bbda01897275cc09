"""Keyset pagination of the list endpoints: `after` cursors, `X-Next-Cursor` and `Link`."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from orcrustator.db.tables import job_runs
from orcrustator.db.urls import parse_database_url
from tests.integration.conftest import Api, job_body

JOBS = "/api/v1/jobs"
RUNS = "/api/v1/runs"
_NEXT_LINK = re.compile(r'^<(/api/v1/[^>]+)>; rel="next"$')


def new_job(api: Api, name: str, **overrides: Any) -> str:
    response = api.post(JOBS, json=job_body(name, **overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["job_id"])


def trigger(api: Api, job_id: str) -> str:
    response = api.post(f"{JOBS}/{job_id}/runs")
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


def ids(response: httpx.Response, key: str) -> list[str]:
    assert response.status_code == 200, response.text
    return [str(item[key]) for item in response.json()]


def walk(api: Api, first_url: str, key: str) -> tuple[list[str], list[httpx.Response]]:
    """Every item from `first_url` on, following each page's `Link: rel="next"`."""
    seen: list[str] = []
    pages: list[httpx.Response] = []
    url: str | None = first_url
    while url is not None:
        page = api.get(url)
        seen += ids(page, key)
        pages.append(page)
        assert len(pages) < 50, "the pages never end"
        link = page.headers.get("link")
        if link is None:
            assert "x-next-cursor" not in page.headers
            url = None
            continue
        match = _NEXT_LINK.match(link)
        assert match is not None, link
        url = match.group(1)
        assert f"after={page.headers['x-next-cursor']}" in url
        assert "offset=" not in url
    return seen, pages


def set_created_at(database_url: str, run_ids: list[str], when: datetime) -> None:
    engine = sa.create_engine(parse_database_url(database_url).sync_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(job_runs)
                .where(job_runs.c.run_id.in_([uuid.UUID(r) for r in run_ids]))
                .values(created_at=when)
            )
    finally:
        engine.dispose()


@pytest.fixture
def eleven_runs(admin: Api, clean_database: str) -> dict[str, Any]:
    """Job a: 8 runs, five of them created in the same microsecond; job b: 3 runs."""
    a, b = new_job(admin, "a"), new_job(admin, "b")
    runs_a = [trigger(admin, a) for _ in range(8)]
    runs_b = [trigger(admin, b) for _ in range(3)]
    set_created_at(clean_database, runs_a[2:7], datetime.now(UTC) - timedelta(hours=1))
    assert admin.post(f"{RUNS}/{runs_a[0]}/cancel").status_code == 200
    return {"a": a, "b": b, "runs_a": runs_a, "runs_b": runs_b}


def test_runs_walked_by_cursor_are_the_whole_list_once(
    admin: Api, eleven_runs: dict[str, Any]
) -> None:
    everything = ids(admin.get(f"{RUNS}?limit=1000"), "run_id")
    assert len(everything) == 11
    for limit in (1, 2, 3, 5, 10, 11):
        seen, pages = walk(admin, f"{RUNS}?limit={limit}", "run_id")
        assert seen == everything, f"limit {limit}"
        assert len(pages) == -(-11 // limit)
        assert {p.headers["x-total-count"] for p in pages} == {"11"}


def test_cursor_pages_keep_the_filters(admin: Api, eleven_runs: dict[str, Any]) -> None:
    data = eleven_runs
    cases = [
        (f"{RUNS}?status=queued", 2),
        (f"{RUNS}?job_id={data['a']}", 3),
        (f"{RUNS}?job_id={data['a']}&status=queued", 2),
        (f"{JOBS}/{data['a']}/runs?status=queued", 2),
        (f"{JOBS}/{data['b']}/runs?status=queued", 1),
    ]
    for filtered, limit in cases:
        everything = ids(admin.get(f"{filtered}&limit=1000"), "run_id")
        first = f"{filtered}&limit={limit}"
        seen, pages = walk(admin, first, "run_id")
        assert seen == everything, first
        assert len(seen) >= 2, first
        assert {p.headers["x-total-count"] for p in pages} == {str(len(everything))}, first


def test_a_cursor_is_not_moved_by_new_runs(admin: Api, eleven_runs: dict[str, Any]) -> None:
    everything = ids(admin.get(RUNS), "run_id")
    first = admin.get(f"{RUNS}?limit=4")
    cursor = first.headers["x-next-cursor"]
    fresh = trigger(admin, eleven_runs["b"])
    # An offset now shows the last run of the first page again; the cursor goes on from it.
    assert ids(admin.get(f"{RUNS}?limit=4&offset=4"), "run_id")[0] == everything[3]
    assert ids(admin.get(f"{RUNS}?limit=4&after={cursor}"), "run_id") == everything[4:8]
    assert ids(admin.get(RUNS), "run_id")[0] == fresh


def test_a_full_last_page_has_no_next(admin: Api, eleven_runs: dict[str, Any]) -> None:
    last = admin.get(f"{RUNS}?limit=11")
    assert len(last.json()) == 11
    assert "x-next-cursor" not in last.headers
    assert "link" not in last.headers
    before_last = admin.get(f"{RUNS}?limit=10")
    assert "x-next-cursor" in before_last.headers
    tail = admin.get(f"{RUNS}?limit=10&after={before_last.headers['x-next-cursor']}")
    assert len(tail.json()) == 1
    assert "x-next-cursor" not in tail.headers


def test_an_offset_page_hands_over_to_cursors(admin: Api, eleven_runs: dict[str, Any]) -> None:
    everything = ids(admin.get(RUNS), "run_id")
    seen, _ = walk(admin, f"{RUNS}?limit=3&offset=2", "run_id")
    assert seen == everything[2:]


def test_jobs_walked_by_cursor(admin: Api) -> None:
    names = ["zeta", "Alpha", "alpha", "béta", "o'neil", "x,y", "a b", "ünï", "delta", "eta"]
    for index, name in enumerate(names):
        new_job(admin, name, is_active=index % 3 != 0)
    for filtered, limit in (("", 3), ("", 1), ("is_active=true&", 2), ("is_active=false&", 2)):
        everything = ids(admin.get(f"{JOBS}?{filtered}limit=1000"), "job_id")
        query = f"{filtered}limit={limit}"
        seen, pages = walk(admin, f"{JOBS}?{query}", "job_id")
        assert seen == everything, query
        assert {p.headers["x-total-count"] for p in pages} == {str(len(everything))}, query
    assert len(ids(admin.get(f"{JOBS}?limit=1000"), "job_id")) == len(names)


def test_the_longest_job_names_still_make_usable_cursors(admin: Api) -> None:
    longest = ["\U0001f600" * 255, "\U0001f601" * 255, "\U0001f602" * 255]
    for name in longest:
        new_job(admin, name)
    seen, pages = walk(admin, f"{JOBS}?limit=1", "job_name")
    assert seen == longest
    assert len(pages) == 3


def _tampered(kind: str, parts: object) -> str:
    packed = base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")
    return f"{kind}.{packed}"


def test_bad_cursors_are_refused_by_name(
    admin: Api, eleven_runs: dict[str, Any], subtests: pytest.Subtests
) -> None:
    runs_cursor = admin.get(f"{RUNS}?limit=1").headers["x-next-cursor"]
    jobs_cursor = admin.get(f"{JOBS}?limit=1").headers["x-next-cursor"]
    job_a = eleven_runs["a"]
    now = datetime.now(UTC).isoformat()
    bad = [
        "garbage",
        "runs.",
        "runs.%%%",
        "runs.!!!!",
        _tampered("runs", {"a": 1}),
        _tampered("runs", [now]),
        _tampered("runs", [now, "not-a-uuid"]),
        _tampered("runs", ["yesterday", str(uuid.uuid4())]),
        _tampered("runs", [datetime(2026, 1, 1).isoformat(), str(uuid.uuid4())]),  # no zone
        _tampered("runs", [1, 2]),
        "runs." + base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        jobs_cursor,
    ]
    for cursor in bad:
        for url in (RUNS, f"{JOBS}/{job_a}/runs"):
            with subtests.test(url=url, cursor=cursor):
                response = admin.get(url, params={"after": cursor})
                assert response.status_code == 422, response.text
                body = response.json()
                assert body["field"] == "after"
                assert "cursor of the runs list" in body["detail"]
    no_job = str(uuid.uuid4())
    for cursor in (
        "garbage",
        runs_cursor,
        _tampered("jobs", ["a", "b"]),
        _tampered("jobs", ["a\x00", no_job]),
    ):
        with subtests.test(jobs_cursor=cursor):
            response = admin.get(JOBS, params={"after": cursor})
            assert response.status_code == 422, response.text
            assert response.json()["field"] == "after"
    too_long = admin.get(RUNS, params={"after": "runs." + "A" * 2100})
    assert too_long.status_code == 422
    assert too_long.json()["field"] == "after"


def test_offset_and_cursor_together_are_refused(admin: Api, eleven_runs: dict[str, Any]) -> None:
    cursor = admin.get(f"{RUNS}?limit=2").headers["x-next-cursor"]
    both = admin.get(RUNS, params={"after": cursor, "offset": 2})
    assert both.status_code == 422
    assert both.json()["field"] == "offset"
    assert "either offset or after" in both.json()["detail"]
    # offset=0 is the default, so it goes with a cursor.
    assert admin.get(RUNS, params={"after": cursor, "offset": 0}).status_code == 200


def test_a_cursor_past_the_end_gives_an_empty_page(admin: Api, eleven_runs: dict[str, Any]) -> None:
    oldest = _tampered("runs", [datetime(2000, 1, 1, tzinfo=UTC).isoformat(), str(uuid.uuid4())])
    response = admin.get(RUNS, params={"after": oldest})
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["x-total-count"] == "11"
    assert "link" not in response.headers
