"""The claim order is declared once (qgjob/domain/queue_order.py). The queries take it from
there; the triggers of the migrations spell it out, as frozen history, and must agree."""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from qgjob.domain.queue_order import CLAIM_ORDER_SQL
from qgjob.store import open_store
from qgjob.store.postgres.database import parse_url
from tests.postgres import fresh_schema

_ORDER_BY = re.compile(r"ORDER BY\s+([a-z_.]+ DESC,\s*[a-z_.]+,\s*[a-z_.]+)", re.IGNORECASE)


def _orders_by_priority(sql: str) -> list[str]:
    """Each `ORDER BY x.priority DESC, x.created_at, …` in `sql` (a lane's jobs in claim
    order), without table aliases."""
    return [re.sub(r"\b[a-z]\.", "", re.sub(r"\s+", " ", order))
            for order in _ORDER_BY.findall(sql) if "priority" in order and "created_at" in order]


@pytest.mark.parametrize("package", ["qgjob.store.sqlite", "qgjob.store.postgres"])
def test_queries_take_the_claim_order_from_the_domain(package: str) -> None:
    text = resources.files(package).joinpath("queries.sql").read_text(encoding="utf-8")
    assert text.count("{claim_order}") == 2
    assert _orders_by_priority(text) == []


def test_sqlite_triggers_keep_the_claim_order(tmp_path: Path) -> None:
    open_store(str(tmp_path / "q.db")).close()
    conn = sqlite3.connect(tmp_path / "q.db")
    triggers = " ".join(sql for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger'"))
    orders = _orders_by_priority(triggers)
    assert orders and set(orders) == {CLAIM_ORDER_SQL}


@pytest.mark.postgres
def test_postgres_triggers_keep_the_claim_order() -> None:
    import psycopg

    with fresh_schema() as url:
        open_store(url).close()
        conninfo, schema, _ = parse_url(url)
        with psycopg.connect(conninfo) as conn:
            bodies = " ".join(src for (src,) in conn.execute(
                "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = %s", [schema]))
    orders = _orders_by_priority(bodies)
    assert orders and set(orders) == {CLAIM_ORDER_SQL}
