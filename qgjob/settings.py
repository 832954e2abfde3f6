"""Server settings: defaults, overridden by `QGJOB_*` environment variables, overridden by
command-line options. One frozen object, passed to the app factory; no module globals."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


def default_database_url() -> str:
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('qgjob')) / 'qgjob.db'}"


@dataclass(frozen=True)
class ServerSettings:
    database_url: str = ""
    """Empty means the default: a SQLite file under the user's data directory."""
    group_by_org: bool = False
    """Group jobs by (org, app build, target) instead of (app build, target)."""
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    claim_wait_seconds: float = 30.0
    """Longest a device's claim is held open when there is no work."""
    claim_poll_seconds: float = 2.0
    """A waiting claim looks again this often even without a wake-up (a safety net)."""
    maintenance_seconds: float = 1.0
    max_batch: int = 4
    max_attempts: int = 3
    max_infra_failures: int = 5
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    agent_offline_seconds: float = 30.0
    max_body_bytes: int = 64 * 1024

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or default_database_url()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Read `QGJOB_<FIELD>` variables (e.g. QGJOB_LEASE_SECONDS, QGJOB_DB for the
        database URL), then apply `overrides` that are not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            name = "QGJOB_DB" if field.name == "database_url" else f"QGJOB_{field.name.upper()}"
            raw = env.get(name)
            if raw is not None and raw != "":
                values[field.name] = _parse(field.name, str(field.type), raw)
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def _parse(name: str, kind: str, raw: str) -> Any:
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes", "on")
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ValueError(f"QGJOB_{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
