"""Runtime configuration, read once from the environment and a `.env` file.

A `Settings` object is built at process start and passed in explicitly (`create_app(settings)`);
nothing reads it as a global, so tests can run several differently configured apps side by side.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///orc.db"


class Settings(BaseSettings):
    """Every knob of the service: `ORC_*` variables, plus the seed's `DATABASE_URL`."""

    model_config = SettingsConfigDict(
        env_prefix="ORC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "ORC_DATABASE_URL", "database_url"),
        description="postgres:// or postgresql:// for PostgreSQL; unset means SQLite in ./orc.db",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path("data")
    admin_password: SecretStr | None = None
    secret_key: SecretStr | None = Field(
        default=None,
        description="JWT signing key; unset means a generated key kept in the database, "
        "so every api process on one database accepts the others' tokens",
    )
    token_ttl_seconds: int = Field(default=3600, ge=60, le=30 * 24 * 3600)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    cors_origins: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool | None = Field(
        default=None, description="JSON log lines; unset means JSON unless stderr is a terminal"
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)

    # engine
    worker_concurrency: int = Field(default=4, ge=1, le=256)
    lease_seconds: float = Field(
        default=30.0, gt=0, description="a running run whose worker is silent this long is lost"
    )
    heartbeat_seconds: float = Field(
        default=2.0, gt=0, description="how often workers heart-beat and look for cancels"
    )
    poll_seconds: float = Field(
        default=1.0, gt=0, description="fallback polling when no notification arrives"
    )
    drain_seconds: float = Field(
        default=30.0, ge=0, description="on SIGTERM, how long in-flight runs may take to finish"
    )
    progress_log_seconds: float = Field(
        default=5.0,
        gt=0,
        description="a long task writes a progress line to its run log this often",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="`orc worker` / `orc scheduler` serve their own /metrics here (0: off)",
    )
    max_catchup_runs: int = Field(
        default=100, ge=1, description="with catchup on, at most this many missed slots are run"
    )

    @field_validator("cors_origins")
    @classmethod
    def _bare_origins(cls, value: list[str]) -> list[str]:
        # Browsers send `Origin` without a trailing slash; `https://app.example/` would never
        # match it and CORS would stay closed without a word.
        return [origin.strip().rstrip("/") for origin in value if origin.strip()]

    @field_validator("database_url")
    @classmethod
    def _non_empty_url(cls, value: str) -> str:
        value = value.strip()
        return value or DEFAULT_SQLITE_URL


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, `.env`, and explicit overrides (which win)."""
    return Settings(**overrides)  # type: ignore[arg-type]
