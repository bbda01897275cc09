"""`${env:NAME}` references in configs, and masking of credentials wherever configs show.

Configs are stored with their references unresolved; the executor resolves them just before
the task runs, from the worker's environment. Anything shown to a person (API responses, logs,
error messages) goes through the maskers here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from orcrustator.errors import InvalidInput

MASK = "***"
_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")
_SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|authorization|credential|private[_-]?key)",
    re.IGNORECASE,
)


def is_service_setting(name: str) -> bool:
    """Whether NAME configures the service itself (`DATABASE_URL`, any `ORC_*`).

    Those hold the service's database password, its token signing key, the admin password. A
    plugin never gets them: any logged-in user may write a job, and an `http` extractor pointed
    at `https://example.net/?k=${env:ORC_SECRET_KEY}` would hand the key to whoever runs that
    server. Settings are read case-insensitively, so the check is too.
    """
    upper = name.upper()
    return upper == "DATABASE_URL" or upper.startswith("ORC_")


def service_setting_reference(config: Any) -> tuple[str, str] | None:
    """(path, NAME) of the first `${env:NAME}` naming a service setting, or None."""
    for path, text in _strings(config):
        for name in _REFERENCE.findall(text):
            if is_service_setting(name):
                return path, name
    return None


def service_setting_error(field: str, name: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: ${{env:{name}}} is a setting of the service itself, which plugins may not "
        "read; put the value in a variable of its own",
        field=field,
    )


def resolve(
    config: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], set[str]]:
    """The config with every `${env:NAME}` replaced, and the set of values substituted."""
    used: set[str] = set()

    def visit(value: Any, path: str) -> Any:
        if isinstance(value, str):

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if is_service_setting(name):  # a job saved before the check existed
                    raise service_setting_error(path, name)
                if name not in environ:
                    raise InvalidInput(
                        f"{path}: environment variable {name} is not set on this worker",
                        field=path,
                    )
                if environ[name]:
                    used.add(environ[name])
                return environ[name]

            return _REFERENCE.sub(substitute, value)
        if isinstance(value, Mapping):
            return {k: visit(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [visit(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    return visit(dict(config), ""), used


def _strings(config: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a config, however deep, with its path (`headers.X`, `pages[1].q`)."""
    if isinstance(config, str):
        yield path, config
    elif isinstance(config, Mapping):
        for key, value in config.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(config, list):
        for index, value in enumerate(config):
            yield from _strings(value, f"{path}[{index}]")


def referenced_names(config: Any) -> set[str]:
    """The NAMEs of every `${env:NAME}` in the config's strings, however deep (service
    settings included: callers filter them with `is_service_setting`)."""
    return {name for _, text in _strings(config) for name in _REFERENCE.findall(text)}


def starts_with_reference(value: str) -> bool:
    """True for `${env:NAME}…`: a value whose scheme is known only once resolved, at run time."""
    return _REFERENCE.match(value) is not None


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide URL passwords and any of the given secret values in free text."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:  # masking "a" would shred every message
            text = text.replace(secret, MASK)
    return text


def mask_config(config: Any, _key: str = "") -> Any:
    """A copy for display: secret-named options and URL passwords masked, references kept."""
    if isinstance(config, Mapping):
        return {k: mask_config(v, str(k)) for k, v in config.items()}
    if isinstance(config, list):
        return [mask_config(v, _key) for v in config]
    if isinstance(config, str):
        if _REFERENCE.fullmatch(config):
            return config  # a reference names a variable; it is not the secret itself
        if _SECRET_KEYS.search(_key) and config:
            return MASK
        return mask_text(config)
    return config


def unmask(incoming: Any, stored: Any) -> Any:
    """Put stored secrets back where a client sent the mask it was shown (GET, edit, PATCH)."""
    if isinstance(incoming, Mapping) and isinstance(stored, Mapping):
        return {k: unmask(v, stored.get(k)) for k, v in incoming.items()}
    if isinstance(incoming, list) and isinstance(stored, list) and len(incoming) == len(stored):
        return [unmask(a, b) for a, b in zip(incoming, stored, strict=True)]
    if isinstance(incoming, str) and isinstance(stored, str) and MASK in incoming:
        if incoming == MASK:
            return stored
        if mask_text(stored) == incoming:
            return stored
    return incoming
