"""Settings from the environment and the database URL forms users write."""

from __future__ import annotations

from pathlib import Path

import pytest

from orcrustator.db.urls import parse_database_url
from orcrustator.errors import InvalidInput
from orcrustator.settings import DEFAULT_SQLITE_URL, Settings


@pytest.mark.parametrize(
    "raw", ["postgres://u:p@db:5432/orc-rust-ator", "postgresql://u:p@db:5432/orc-rust-ator"]
)
def test_both_postgres_schemes_mean_postgresql(raw: str) -> None:
    url = parse_database_url(raw)
    assert url.backend == "postgresql"
    assert url.async_url.drivername == "postgresql+psycopg"
    assert url.sync_url.database == "orc-rust-ator"
    assert "p@" not in url.display()


def test_sqlite_url_uses_aiosqlite_for_the_service() -> None:
    url = parse_database_url("sqlite:///data/orc.db")
    assert url.is_sqlite
    assert url.async_url.drivername == "sqlite+aiosqlite"
    assert url.sqlite_path == Path("data/orc.db")


@pytest.mark.parametrize("raw", ["mysql://root@localhost/db", "nonsense"])
def test_other_urls_are_refused_with_a_message(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_database_url(raw)
    assert info.value.field == "DATABASE_URL"


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "ORC_HOST", "ORC_PORT", "ORC_DATA_DIR", "ORC_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == DEFAULT_SQLITE_URL
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.secret_key is None


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / ".env").write_text(
        "DATABASE_URL=postgres://user:password@localhost:5432/orc-rust-ator\nORC_PORT=9090\n"
    )
    monkeypatch.setenv("ORC_PORT", "9191")
    settings = Settings()
    assert settings.database_url.startswith("postgres://user")
    assert settings.port == 9191, "the environment wins over .env"


def test_secrets_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_SECRET_KEY", "super-secret-signing-key")
    monkeypatch.setenv("ORC_ADMIN_PASSWORD", "super-secret-password")
    shown = repr(Settings(_env_file=None))  # type: ignore[call-arg]
    assert "super-secret" not in shown
