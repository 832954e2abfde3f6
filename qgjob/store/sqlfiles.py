"""SQL lives in `.sql` files, one per dialect, under the same query names; Python refers to
queries by name. Migrations are numbered files `NNNN_what.sql`, applied in order, forward only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from qgjob.domain.queue_order import CLAIM_ORDER_SQL

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


SHARED = {"{claim_order}": CLAIM_ORDER_SQL}
"""Rules the domain declares, put where a query names them."""


def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """Read `-- name: query_name` blocks from a package's SQL file."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    for placeholder, sql in SHARED.items():
        text = text.replace(placeholder, sql)
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{package}/{filename}: query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
    return queries


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(package: str) -> list[Migration]:
    folder = resources.files(package)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append(
                Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8"))
            )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"{package}: migrations must be numbered 1..n without gaps: {versions}")
    return found
