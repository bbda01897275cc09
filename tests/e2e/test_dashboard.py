"""The dashboard in a real headless Chromium against a real `orc up` process.

Every page is saved as a full-page screenshot under `test-artifacts/screenshots/` so a person
can look at what users see. Needs Debian's `chromium` and the `playwright` package; without them
the test skips locally and fails in CI (CI set).
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.conftest import OrcProcess, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("ORC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ADMIN_PASSWORD = "dashboard-admin-password"
ANALYST_PASSWORD = "analyst-password-123"
WAIT_MS = 45_000

pytestmark = pytest.mark.timeout(300)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the dashboard's browser test must run in CI")
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def orc_up(tmp_path: Path, orc_env: dict[str, str], processes: list[OrcProcess]) -> Iterator[str]:
    port = free_port()
    env = {**orc_env, "ORC_ADMIN_PASSWORD": ADMIN_PASSWORD}
    proc = OrcProcess(["up", "--port", str(port)], env, tmp_path, "up")
    processes.append(proc)
    base = f"http://127.0.0.1:{port}"
    proc.wait_for_http(f"{base}/health")
    yield base
    assert proc.stop(signal.SIGTERM) == 0, proc.output()


def _job(name: str, extractor: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "job_name": name,
        "schedule": extra.pop("schedule", "0 2 * * *"),
        "tasks": [
            {"task_order": 1, "extractor_config": extractor, "loader_config": {"type": "null"}}
        ],
        **extra,
    }


def _create_jobs(http: httpx.Client) -> dict[str, str]:
    bodies = [
        # ~50 batches with a short pause each: long enough to watch the page go live to success.
        _job(
            "daily-export",
            {"type": "generate", "rows": 50_000, "batch_size": 1000, "sleep_seconds": 0.04},
            description="Synthetic rows into the null loader, every night at two.",
        ),
        # ~20 s of work, to cancel while it runs.
        _job(
            "slow-backfill",
            {"type": "generate", "rows": 20, "batch_size": 1, "sleep_seconds": 1.0},
            schedule="0 */6 * * *",
        ),
        {
            "job_name": "orders-to-warehouse",
            "description": "Orders API into the warehouse, weekday mornings in Berlin.",
            "schedule": "0 6 * * 1-5",
            "timezone": "Europe/Berlin",
            "is_active": False,
            "tasks": [
                {
                    "task_order": 1,
                    "extractor_config": {
                        "type": "http",
                        "url": "https://api.example.com/v1/orders",
                        "headers": {"Authorization": "Bearer hunter2-secret-token"},
                        "records_path": "data",
                    },
                    "loader_config": {
                        "type": "postgres",
                        "url": "postgresql://etl:warehouse-password@db.internal/warehouse",
                        "table": "raw.orders",
                        "mode": "merge",
                        "key": ["order_id"],
                    },
                }
            ],
        },
    ]
    ids = {}
    for body in bodies:
        response = http.post("/api/v1/jobs", json=body)
        assert response.status_code == 201, response.text
        ids[body["job_name"]] = response.json()["job_id"]
    return ids


def _wait_for_run(http: httpx.Client, run_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if http.get(f"/api/v1/runs/{run_id}").json()["status"] not in ("queued", "running"):
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _log_in(page: Page, base: str, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.url.startswith(base)


def test_dashboard_in_a_real_browser(orc_up: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    base = orc_up
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")  # 401/403/404
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if "/static/" in r.url and r.status != 200
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    foreign: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(base) else None)
    page.on("dialog", lambda d: d.accept())

    with httpx.Client(base_url=base, timeout=10.0) as http:
        # Logged out: any page sends us to the login form, which remembers where we were going.
        page.goto("/runs")
        expect(page).to_have_url(f"{base}/login?next=/runs")
        _shot(page, "login")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")

        page.goto("/login")
        _log_in(page, base, "admin", ADMIN_PASSWORD)
        expect(page.get_by_test_id("empty-state")).to_contain_text("No jobs yet")
        _shot(page, "jobs-empty")

        token = http.post(
            "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        ids = _create_jobs(http)

        page.reload()
        table = page.get_by_test_id("jobs-table")
        for name in ids:
            expect(table).to_contain_text(name)
        expect(table).to_contain_text("every day at 02:00")
        expect(table).to_contain_text("every weekday at 06:00")
        _shot(page, "jobs")

        # Open the job, trigger it, and watch the run page update itself to success.
        page.get_by_role("link", name="daily-export").click()
        expect(page.get_by_role("heading", name="daily-export")).to_be_visible()
        page.get_by_test_id("trigger").click()
        expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
        page.evaluate("window.__stillTheSamePage = true")
        live = page.locator("#run-live")
        expect(live).to_have_attribute("data-run-status", "success", timeout=WAIT_MS)
        assert page.evaluate("window.__stillTheSamePage") is True, "updated without a reload"
        expect(page.get_by_test_id("rows-loaded")).to_have_text("50,000")
        expect(page.get_by_test_id("rows-extracted")).to_have_text("50,000")
        expect(page.get_by_test_id("logs")).to_contain_text("generating 50000 rows")
        expect(page.locator("#run-live[data-poll]")).to_have_count(0)  # polling stopped
        _shot(page, "run-finished")

        # Two more runs for the duration chart, then the job page.
        for _ in range(2):
            run = http.post(f"/api/v1/jobs/{ids['daily-export']}/runs").json()
            _wait_for_run(http, run["run_id"])
        page.goto(f"/jobs/{ids['daily-export']}")
        # (at least: a scheduled slot may fall inside the test)
        expect(page.get_by_test_id("duration-chart").locator("rect").nth(2)).to_be_visible()
        expect(page.get_by_test_id("runs-table").locator("tbody tr").nth(2)).to_be_visible()
        _shot(page, "job-detail")

        # Secrets never reach the page.
        page.goto(f"/jobs/{ids['orders-to-warehouse']}")
        body = page.content()
        assert "hunter2-secret-token" not in body and "warehouse-password" not in body
        expect(page.locator("main")).to_contain_text("***")
        _shot(page, "job-detail-masked")

        # The long job: trigger, see it running with rows arriving, cancel, see it cancelled.
        page.goto(f"/jobs/{ids['slow-backfill']}")
        page.get_by_test_id("trigger").click()
        live = page.locator("#run-live")
        expect(live).to_have_attribute("data-run-status", "running", timeout=WAIT_MS)
        expect(page.get_by_test_id("rows-extracted")).not_to_have_text("0", timeout=WAIT_MS)
        _shot(page, "run-running")
        page.get_by_test_id("cancel").click()
        expect(page.locator("#run-live")).to_have_attribute(
            "data-run-status", "cancelled", timeout=WAIT_MS
        )
        _shot(page, "run-cancelled")

        page.goto("/runs")
        expect(page.get_by_test_id("runs-table").locator("tbody tr").nth(3)).to_be_visible()
        expect(page.get_by_test_id("runs-table")).to_contain_text("slow-backfill")
        _shot(page, "runs")

        # Users: an admin sees and manages them.
        page.get_by_role("link", name="Users").click()
        expect(page.get_by_test_id("users-table")).to_contain_text("admin")
        page.get_by_label("Username").fill("analyst")
        page.get_by_label("Password").fill(ANALYST_PASSWORD)
        page.get_by_role("button", name="Create user").click()
        expect(page.get_by_role("status")).to_contain_text("Created user analyst")
        expect(page.get_by_test_id("users-table")).to_contain_text("analyst")
        _shot(page, "users")

        page.goto(f"/jobs/{uuid.uuid4()}")
        expect(page.locator(".error-code")).to_have_text("404")
        _shot(page, "error-404")

        # A non-admin gets a designed 403 for the users page.
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/login"))
        _log_in(page, base, "analyst", ANALYST_PASSWORD)
        expect(page.get_by_test_id("current-user")).to_have_text("analyst")
        response = page.goto("/users")
        assert response is not None and response.status == 403
        expect(page.locator(".error-code")).to_have_text("403")
        _shot(page, "error-403")

    context.close()
    assert not foreign, f"requests left the server: {foreign}"
    assert not problems, f"console errors (CSP violations show here): {problems}"
