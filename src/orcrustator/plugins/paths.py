"""File paths in configs resolve under the data directory, and may not leave it.

The check resolves symlinks, so a link inside the data directory that points outside it is
refused as well. It runs when a config is saved (the API passes its data directory in the
validation context) and again when the task runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo

from orcrustator.errors import InvalidInput

DATA_DIR_CONTEXT_KEY = "data_dir"


def resolve_data_path(data_dir: Path, path: str) -> Path:
    """The absolute path of `path` under `data_dir`; InvalidInput if it escapes."""
    if "\x00" in path:
        raise InvalidInput("path contains a NUL byte", field="path")
    root = data_dir.resolve()
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise InvalidInput(
            f"path '{path}' is outside the data directory (ORC_DATA_DIR)", field="path"
        )
    return resolved


def _check(value: str, info: ValidationInfo) -> str:
    context = info.context or {}
    data_dir = context.get(DATA_DIR_CONTEXT_KEY)
    if data_dir is not None:
        try:
            resolve_data_path(Path(data_dir), value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
    return value


DataPath = Annotated[
    str,
    Field(min_length=1, max_length=4096, description="a path under the data directory"),
    AfterValidator(_check),
]
"""A config option naming a file under the data directory."""
