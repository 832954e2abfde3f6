"""Fleet operations: draining agents by name, forgetting offline ones, taking devices out of
rotation after repeated failures and putting them back, counting the time devices spend in
each state, and reading the recorded history back for `qgjob export-trace`. Each function
runs inside the caller's transaction."""

from __future__ import annotations

from qgjob.domain.history import RecordedAttempt, RecordedJob, Recording
from qgjob.store.base import AgentOnline, UnknownAgent, UnknownDevice
from qgjob.store.sql.database import Tx


def check_agent_known(conn: Tx, name: str) -> None:
    if conn.run("sessions_named", {"name": name}).fetchone() is None:
        raise UnknownAgent(f"no agent named {name!r}")


def drain(conn: Tx, name: str, now: float) -> dict[str, list[str]]:
    """Mark the name drained; the unstarted jobs its batches hold, per lease, for the caller
    to hand back to the queue."""
    check_agent_known(conn, name)
    conn.run("drain_agent", {"name": name, "now": now})
    held: dict[str, list[str]] = {}
    for row in conn.run("assigned_jobs_of_agent_named", {"name": name}):
        held.setdefault(row["lease_id"], []).append(row["id"])
    return held


def undrain(conn: Tx, name: str) -> bool:
    check_agent_known(conn, name)
    return bool(conn.run("undrain_agent", {"name": name}).rowcount)


def forget(conn: Tx, name: str, now: float, offline_seconds: float) -> None:
    """Forget an agent that is offline: its sessions, devices and drain. One heard from in
    the last `offline_seconds` is refused (AgentOnline): its process would come back."""
    sessions = conn.run("sessions_named", {"name": name}).fetchall()
    if not sessions:
        raise UnknownAgent(f"no agent named {name!r}")
    live = [s for s in sessions
            if s["state"] == "online" and now - s["last_seen_at"] < offline_seconds]
    if live:
        raise AgentOnline(
            f"agent {name!r} is online (heard from {now - live[0]['last_seen_at']:.0f} s ago); "
            f"stop its process first, or drain it with `qgjob agents drain {name}`")
    conn.run("forget_agent", {"name": name})
    conn.run("delete_devices_named", {"name": name})
    conn.run("undrain_agent", {"name": name})


def device_failed(conn: Tx, device_id: str, what: str, limit: int, now: float) -> str | None:
    """Count a failed install or a lost attempt; at `limit` in a row (0: never) the device
    leaves the rotation. Returns the reason when this call took it out."""
    row = conn.run("device_failed", {"device_id": device_id}).fetchone()
    if row is None or limit <= 0 or row["failure_streak"] < limit \
            or row["disabled_reason"] is not None:
        return None
    reason = f"{row['failure_streak']} failures in a row (the last: {what})"
    conn.run("disable_device", {"device_id": device_id, "reason": reason, "now": now})
    return reason


def build_installed_before(conn: Tx, app_version_id: str, target: str) -> bool:
    """Whether the build ever installed on a device of the target: only then does a failed
    install say something about the device rather than the build."""
    return conn.run("build_installed_before", {"app_version_id": app_version_id,
                                               "target": target}).fetchone() is not None


def device_succeeded(conn: Tx, device_id: str) -> None:
    conn.run("device_succeeded", {"device_id": device_id})


def enable(conn: Tx, device_id: str) -> None:
    if not conn.run("enable_device", {"device_id": device_id}).rowcount:
        raise UnknownDevice(f"no device {device_id!r}")


def drains(conn: Tx) -> dict[str, float]:
    return {row["name"]: float(row["since"]) for row in conn.run("agent_drains")}


def count_time(conn: Tx, now: float, max_step: float) -> None:
    conn.run("count_device_time", {"now": now, "max_step": max_step})


def recording(conn: Tx, since: float, until: float) -> Recording:
    attempts: dict[str, list[RecordedAttempt]] = {}
    ran: dict[str, str] = {}
    jobs = conn.run("trace_jobs", {"since": since}).fetchall()
    targets = {row["id"]: row["target"] for row in jobs}
    for row in conn.run("trace_attempts", {"since": since}):
        attempts.setdefault(row["job_id"], []).append(RecordedAttempt(
            row["device_id"], float(row["started_at"]),
            None if row["finished_at"] is None else float(row["finished_at"]), row["outcome"]))
        ran.setdefault(row["device_id"], targets[row["job_id"]])
    for row in conn.run("listed_devices"):
        ran.setdefault(row["id"], row["target"])
    installs = {row["target"]: float(row["seconds"])
                for row in conn.run("trace_install_seconds", {"since": since})}
    return Recording(
        since=since, until=until,
        jobs=tuple(RecordedJob(r["id"], r["org_id"], r["app_version_id"], r["test_path"],
                               r["target"], int(r["priority"]), float(r["created_at"]),
                               r["state"], tuple(attempts.get(r["id"], ())))
                   for r in jobs),
        install_seconds=installs,
        devices=tuple(sorted(ran.items())),
    )
