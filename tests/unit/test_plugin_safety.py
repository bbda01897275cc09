"""Paths stay in the data directory, identifiers are validated and quoted, secrets are masked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orcrustator.errors import InvalidInput
from orcrustator.plugins import secrets
from orcrustator.plugins.identifiers import TableRef, quote
from orcrustator.plugins.paths import resolve_data_path


def test_relative_paths_resolve_inside(tmp_path: Path) -> None:
    assert resolve_data_path(tmp_path, "in/file.csv") == (tmp_path / "in/file.csv").resolve()


@pytest.mark.parametrize("path", ["../x.csv", "a/../../x.csv", "/etc/passwd"])
def test_paths_that_escape_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(InvalidInput, match="outside the data directory") as info:
        resolve_data_path(tmp_path / "data", path)
    assert info.value.field == "path"


def test_a_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", data / "link.txt")
    with pytest.raises(InvalidInput, match="outside"):
        resolve_data_path(data, "link.txt")


def test_nul_in_a_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="NUL"):
        resolve_data_path(tmp_path, "a\x00b")


@pytest.mark.parametrize("name", ["orders", "_x1", "analytics.orders"])
def test_valid_table_names(name: str) -> None:
    assert str(TableRef.parse(name)) == name


@pytest.mark.parametrize(
    "name", ["", "1abc", "a-b", 'x"; DROP TABLE users; --', "a.b.c", "a b", "x" * 64]
)
def test_invalid_table_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a table name"):
        TableRef.parse(name)


def test_quote_doubles_embedded_quotes() -> None:
    assert quote('we"ird') == '"we""ird"'
    assert TableRef.parse("s.t").sql == '"s"."t"'
    with pytest.raises(ValueError, match="NUL"):
        quote("a\x00")


def test_references_resolve_from_the_environment() -> None:
    config = {"url": "postgresql://u:${env:PW}@h/db", "headers": {"X": "${env:TOKEN}"}, "n": 3}
    resolved, used = secrets.resolve(config, {"PW": "pa55word", "TOKEN": "tok-123"})
    assert resolved == {"url": "postgresql://u:pa55word@h/db", "headers": {"X": "tok-123"}, "n": 3}
    assert used == {"pa55word", "tok-123"}


def test_a_missing_variable_names_field_and_variable() -> None:
    with pytest.raises(InvalidInput, match=r"headers\.X: environment variable TOKEN is not set"):
        secrets.resolve({"headers": {"X": "${env:TOKEN}"}}, {})


def test_masking_for_display() -> None:
    config = {
        "url": "postgresql://user:hunter2@db/x",
        "password": "plain",
        "headers": {"Authorization": "Bearer abc", "Accept": "json"},
        "token": "${env:TOKEN}",
    }
    assert secrets.mask_config(config) == {
        "url": "postgresql://user:***@db/x",
        "password": "***",
        "headers": {"Authorization": "***", "Accept": "json"},
        "token": "${env:TOKEN}",
    }


def test_mask_text_hides_known_values_and_url_passwords() -> None:
    text = "connect to postgresql://u:hunter2@h failed; key=abcdef"
    assert secrets.mask_text(text, {"abcdef"}) == "connect to postgresql://u:***@h failed; key=***"


def test_unmask_restores_what_the_client_was_shown() -> None:
    stored = {"url": "postgresql://u:hunter2@h/db", "password": "p", "table": "t"}
    shown = secrets.mask_config(stored)
    edited = {**shown, "table": "t2"}
    assert secrets.unmask(edited, stored) == {**stored, "table": "t2"}


def test_referenced_environment_names_are_found_at_any_depth() -> None:
    from orcrustator.plugins.secrets import referenced_names

    config = {
        "type": "http",
        "url": "https://x/${env:API_HOST}/v1",
        "headers": {"Authorization": "Bearer ${env:API_TOKEN}"},
        "pages": [{"q": "${env:A}${env:B}"}, 3, None],
    }
    assert referenced_names([config, {"type": "null"}]) == {"API_HOST", "API_TOKEN", "A", "B"}


@pytest.mark.parametrize(
    ("name", "reserved"),
    [
        ("DATABASE_URL", True),
        ("database_url", True),
        ("ORC_SECRET_KEY", True),
        ("orc_admin_password", True),
        ("ORC_", True),
        ("ORCHARD_TOKEN", False),
        ("MY_ORC_TOKEN", False),
        ("DATABASE_URL_REPLICA", False),
        ("PGPASSWORD", False),
    ],
)
def test_service_settings_are_told_apart_from_plugin_secrets(name: str, reserved: bool) -> None:
    assert secrets.is_service_setting(name) is reserved


def test_the_first_reference_to_a_service_setting_is_found_with_its_path() -> None:
    config = {
        "type": "http",
        "url": "https://x/${env:API_HOST}",
        "pages": [{"q": "ok"}, {"q": "${env:A}${env:orc_secret_key}"}],
    }
    assert secrets.service_setting_reference(config) == ("pages[1].q", "orc_secret_key")
    assert secrets.service_setting_reference({"url": "${env:API_HOST}"}) is None


def test_resolving_a_service_setting_is_refused_even_when_it_is_set() -> None:
    with pytest.raises(InvalidInput, match="setting of the service itself") as caught:
        secrets.resolve({"headers": {"X": "${env:ORC_SECRET_KEY}"}}, {"ORC_SECRET_KEY": "k3y"})
    assert caught.value.field == "headers.X"
    assert "k3y" not in caught.value.message
