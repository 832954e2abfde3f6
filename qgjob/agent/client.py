"""The agent's side of the agent protocol, over HTTP. Network trouble and server restarts
surface as `ServerUnavailable` so the runner can back off and try again; given several server
replicas, the next call goes to the next one that works."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from qgjob import __version__
from qgjob.agent.executors.base import JobTicket
from qgjob.domain.attempts import Outcome
from qgjob.domain.models import AttemptFile, CaseResult, DeviceSpec
from qgjob.nettune import NO_DELAY
from qgjob.servers import ServerList

OLD_SERVER_BODY_BYTES = 64 * 1024
"""What a server that does not say its report cap takes."""
POOLS = 16
"""HTTP connection pools per agent (see `AgentClient.__init__`)."""


class ServerUnavailable(Exception):
    """The server could not be reached or answered with a 5xx."""


class AgentUnknown(Exception):
    """The server does not know this agent (any more): register again."""


class LeaseLost(Exception):
    """The job left this agent's lease (cancelled, rescued, reassigned): drop it."""


class YieldToUrgentWork(Exception):
    """The server handed the rest of the batch back: more urgent work should take this
    device. Drop the batch and ask for work again."""


class Rejected(Exception):
    """The server refused a request as invalid (4xx): a bug or a version mismatch."""


class NameInUse(Rejected):
    """Another live agent holds this agent's name: this one must not run under it."""


@dataclass(frozen=True)
class Registration:
    agent_id: str
    heartbeat_seconds: float
    lease_seconds: float
    claim_wait_seconds: float
    report_takes_output: bool
    """The server takes the end of an attempt's output with its report (older ones do not
    say so, and get it by `send_output` as before)."""


@dataclass(frozen=True)
class Assignment:
    lease_id: str
    app_version_id: str
    target: str
    jobs: tuple[JobTicket, ...]


@dataclass(frozen=True)
class Orders:
    """What a heartbeat answer asks of the agent."""

    cancel: tuple[str, ...] = ()
    """Running jobs a user cancelled: stop them, report `cancelled`."""
    preempt: tuple[str, ...] = ()
    """Running jobs urgent work needs the device of: stop them, report `preempted`."""


@dataclass(frozen=True)
class DeviceStatus:
    name: str
    state: str
    holds_app_version_id: str | None
    current_job_id: str | None
    lease_id: str | None


class AgentClient:
    def __init__(self, server: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        """`server`: one URL, or several replicas' URLs separated by commas (the first that
        works is used)."""
        headers = {"User-Agent": f"qgjob-agent/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.servers = ServerList(server)
        self._timeout = timeout
        # Several small connection pools rather than one big one: httpx checks every pooled
        # connection (a select() each) on every request, so one pool holding a long-poll per
        # device costs O(devices) per call. A device's claims, and a job's calls, keep to one
        # pool (and so mostly to one kept-alive connection).
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        self._pools = [httpx.AsyncClient(
            headers=headers, timeout=timeout,
            transport=httpx.AsyncHTTPTransport(socket_options=NO_DELAY, limits=limits),
        ) for _ in range(POOLS)]
        self.agent_id = ""
        self.report_max_bytes = OLD_SERVER_BODY_BYTES
        """The largest report the server takes (it says so when the agent registers)."""
        self.output_offsets = False
        """The server keeps output by offset (older ones append every chunk they get)."""

    async def close(self) -> None:
        for pool in self._pools:
            await pool.aclose()

    async def register(
        self, name: str, executor: str, devices: Sequence[DeviceSpec],
        replaces: str | None = None,
    ) -> Registration:
        """`replaces`: this process's earlier session (a restarted agent takes it over)."""
        body = {
            "name": name, "version": __version__, "executor": executor,
            "devices": [
                {"name": d.name, "target": d.target,
                 "holds_app_version_id": d.holds_app_version_id}
                for d in devices
            ],
            **({"replaces_agent_id": replaces} if replaces else {}),
        }
        data = await self._post("/agents", body)
        self.agent_id = data["agent"]["agent_id"]
        limit = data.get("report_max_bytes")
        self.report_max_bytes = limit if isinstance(limit, int) else OLD_SERVER_BODY_BYTES
        self.output_offsets = data.get("output_offsets") is True
        return Registration(self.agent_id, data["heartbeat_seconds"], data["lease_seconds"],
                            data["claim_wait_seconds"],
                            data.get("report_takes_output") is True)

    async def claim(
        self, device: str, target: str, holds: str | None, wait_seconds: float
    ) -> Assignment | None:
        body = {"device": device, "target": target, "holds_app_version_id": holds,
                "wait_seconds": wait_seconds}
        data = await self._post(f"/agents/{self.agent_id}/claim", body,
                                timeout=wait_seconds + self._timeout)
        if data is None:
            return None
        jobs = tuple(
            JobTicket(j["job_id"], j["org_id"], j["app_version_id"], j["test_path"],
                      j["target"], j["priority"])
            for j in data["jobs"]
        )
        return Assignment(data["lease_id"], data["app_version_id"], data["target"], jobs)

    async def start(self, job_id: str, lease_id: str) -> int:
        """Mark the job running; returns the attempt number."""
        data = await self._post(f"/agents/{self.agent_id}/jobs/{job_id}/start",
                                {"lease_id": lease_id})
        return int(data["attempts"])

    async def report(
        self, job_id: str, lease_id: str, attempt: int, outcome: Outcome, error: str | None,
        cases: Sequence[CaseResult] = (), output: str = "", output_offset: int = 0,
    ) -> str:
        """`output`: the end of the attempt's output, for a server whose registration said
        it takes it; it starts `output_offset` characters into the attempt's output."""
        body: dict[str, Any] = {
            "lease_id": lease_id, "attempt": attempt, "outcome": outcome.value,
            "error": error[-8000:] if error else None,
            "tests": [_case_body(case) for case in cases[:2000]]}
        if output:
            body["output"] = output
            if self.output_offsets:
                body["output_offset"] = output_offset
        body = fit_report(body, self.report_max_bytes)
        data = await self._post(f"/agents/{self.agent_id}/jobs/{job_id}/report", body)
        return str(data["status"])

    async def send_output(self, job_id: str, lease_id: str, attempt: int, text: str,
                          offset: int = 0) -> None:
        """`offset`: the characters of the attempt's output sent before `text`; a server that
        takes it keeps only the part of `text` it does not hold yet."""
        body: dict[str, Any] = {"lease_id": lease_id, "attempt": attempt, "text": text}
        if self.output_offsets:
            body["offset"] = offset
        await self._post(f"/agents/{self.agent_id}/jobs/{job_id}/output", body)

    async def upload_file(self, job_id: str, lease_id: str, attempt: int,
                          file: AttemptFile) -> None:
        await self._post(f"/agents/{self.agent_id}/jobs/{job_id}/files", {
            "lease_id": lease_id, "attempt": attempt, "name": file.name,
            "media_type": file.media_type,
            "content_base64": base64.b64encode(file.content).decode("ascii")},
            timeout=60.0)

    async def release(self, lease_id: str, job_ids: Sequence[str]) -> None:
        await self._post(f"/agents/{self.agent_id}/leases/{lease_id}/release",
                         {"job_ids": list(job_ids)})

    async def heartbeat(self, devices: Sequence[DeviceStatus]) -> Orders:
        body = {"devices": [d.__dict__ for d in devices]}
        data = await self._post(f"/agents/{self.agent_id}/heartbeat", body)
        if not data["known"]:
            raise AgentUnknown("the server does not know this agent")
        return Orders(tuple(data["cancel_job_ids"]), tuple(data.get("preempt_job_ids", ())))

    async def sign_off(self) -> None:
        """This session stopped: its name is free at once."""
        await self._post(f"/agents/{self.agent_id}/sign-off", {}, timeout=5.0)

    async def record_install(
        self, device: str, app_version_id: str, target: str, seconds: float, ok: bool
    ) -> None:
        await self._post(f"/agents/{self.agent_id}/installs",
                         {"device": device, "app_version_id": app_version_id,
                          "target": target, "seconds": seconds, "ok": ok})

    async def _post(self, path: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        server = self.servers.current()
        pool = self._pools[zlib.crc32(f"{path} {body.get('device')}".encode()) % POOLS]
        try:
            response = await pool.post(server + path, json=body,
                                       timeout=timeout or self._timeout)
        except httpx.HTTPError as exc:
            self.servers.failed(server)
            raise ServerUnavailable(f"{server}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            self.servers.failed(server)
            raise ServerUnavailable(f"{server} answered {response.status_code}")
        self.servers.worked(server)
        if response.status_code == 204:
            return None
        if response.status_code == 429:
            # Over the rate limit; the runner backs off and tries again (same replica).
            raise ServerUnavailable(f"{server} answered 429 (rate limited)")
        detail, code = _problem(response)
        if response.status_code >= 400 and code in _CODES:
            raise _CODES[code](detail)
        if response.status_code >= 400:
            raise Rejected(f"{response.status_code}: {detail}")
        return response.json()


_CODES: dict[str, type[Exception]] = {
    "lease_lost": LeaseLost, "yield": YieldToUrgentWork, "agent_name_in_use": NameInUse,
    "register_again": AgentUnknown}
"""The error codes the agent acts on, and what each means to it."""


def fit_report(body: dict[str, Any], limit: int) -> dict[str, Any]:
    """The report, under the server's body cap (a bigger one is refused, and its job would
    run again and again). First the test cases' errors get shorter (an error starts with its
    message); if that is not enough, the cases that did not pass are kept before those that
    did, as many as fit."""
    if _size(body) <= limit:
        return body
    cases = body["tests"]
    for keep in (2000, 500, 100, 0):
        shorter = [{**case, "error": (case["error"] or "")[:keep] or None} for case in cases]
        if _size({**body, "tests": shorter}) <= limit:
            return {**body, "tests": shorter}
    ordered = sorted(shorter, key=lambda case: case["status"] == "passed")
    room = limit - _size({**body, "tests": []})
    kept: list[dict[str, Any]] = []
    for case in ordered:
        room -= _size(case) + 2  # and the ", " before it
        if room < 0:
            break
        kept.append(case)
    return {**body, "tests": kept}


def _size(value: Any) -> int:
    return len(json.dumps(value).encode())


def _case_body(case: CaseResult) -> dict[str, Any]:
    return {"title": case.title[:2000], "status": case.status,
            "duration_seconds": max(case.duration_seconds, 0.0),
            "error": case.error[-20000:] if case.error else None,
            "file": case.file[:1000] if case.file else None}


def _problem(response: httpx.Response) -> tuple[str, str | None]:
    """An error answer's one line and its machine-readable `code`, if it has them."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200], None
    if not isinstance(body, dict):
        return response.text[:200], None
    code = body.get("code")
    return str(body.get("detail", response.text[:200])), code if isinstance(code, str) else None
