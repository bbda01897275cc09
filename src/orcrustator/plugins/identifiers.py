"""SQL identifiers from configs: validated when saved, always quoted when used.

Table names are `name` or `schema.name`, each part a plain identifier; nothing from a config is
ever spliced into SQL unquoted. Column names come from the data (a CSV header, a source table)
and may hold any character: they are quoted with embedded quotes doubled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field

_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def quote(identifier: str) -> str:
    """Quote one identifier for PostgreSQL and SQLite alike."""
    if "\x00" in identifier:
        raise ValueError("an identifier may not contain a NUL byte")
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableRef:
    schema: str | None
    name: str

    @classmethod
    def parse(cls, text: str) -> TableRef:
        parts = text.split(".")
        if len(parts) > 2 or not all(_PART.match(p) for p in parts):
            raise ValueError(
                f"'{text}' is not a table name: use name or schema.name, each starting with a "
                "letter or underscore and holding only letters, digits and underscores"
            )
        return cls(parts[0], parts[1]) if len(parts) == 2 else cls(None, parts[0])

    @property
    def sql(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}" if self.schema else quote(self.name)

    def with_name(self, name: str) -> TableRef:
        return TableRef(self.schema, name)

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def _check_table(value: str) -> str:
    TableRef.parse(value)
    return value


def _check_column(value: str) -> str:
    if not _PART.match(value):
        raise ValueError(
            f"'{value}' is not a column name: start with a letter or underscore, then letters, "
            "digits and underscores (at most 63)"
        )
    return value


TableName = Annotated[str, Field(description="name or schema.name"), AfterValidator(_check_table)]
ColumnName = Annotated[str, AfterValidator(_check_column)]
