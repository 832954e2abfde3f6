"""The agent's side of the agent protocol, over HTTP. Network trouble and server restarts
surface as `ServerUnavailable` so the runner can back off and try again; given several server
replicas, the next call goes to the next one that works."""

from __future__ import annotations

import base64
import functools
import json
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from qgjob import __version__
from qgjob.agent.executors.base import Evidence, JobTicket
from qgjob.agent.output import OutputGap
from qgjob.domain.attempts import Outcome
from qgjob.domain.models import AttemptFile, CaseResult, DeviceSpec
from qgjob.domain.values import TargetName
from qgjob.nettune import NO_DELAY
from qgjob.protocol import agents as wire
from qgjob.protocol import limits
from qgjob.protocol.jobs import CasePublic
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
    target: TargetName
    jobs: tuple[JobTicket, ...]


@dataclass(frozen=True)
class Orders:
    """What a heartbeat answer asks of the agent."""

    cancel: tuple[str, ...] = ()
    """Running jobs a user cancelled: stop them, report `cancelled`."""
    preempt: tuple[str, ...] = ()
    """Running jobs urgent work needs the device of: stop them, report `preempted`."""


DeviceStatus = wire.DeviceStatus
P = ParamSpec("P")
R = TypeVar("R")


def _refuses_invalid(call: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Requests are built from the server's own models, so one the server would refuse is
    refused here, as the server would (`Rejected`), before it is sent; so is an answer that
    does not read as the protocol says."""
    @functools.wraps(call)
    async def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await call(*args, **kwargs)
        except ValidationError as invalid:
            problem = invalid.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise Rejected(f"{invalid.title}: {where}: {problem['msg']}") from None
    return checked


def _body(request: BaseModel) -> dict[str, Any]:
    """A request's JSON, without the fields left at their defaults: the server reads those
    the same way, and one older than a field still takes the request."""
    return request.model_dump(mode="json", exclude_defaults=True)


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

    @_refuses_invalid
    async def register(
        self, name: str, executor: str, devices: Sequence[DeviceSpec],
        replaces: str | None = None,
    ) -> Registration:
        """`replaces`: this process's earlier session (a restarted agent takes it over)."""
        body = wire.AgentRegistration(
            name=name, version=__version__, executor=executor, replaces_agent_id=replaces,
            devices=[wire.DeviceAnnouncement(name=d.name, target=d.target,
                                             holds_app_version_id=d.holds_app_version_id)
                     for d in devices])
        # The answer is read field by field: older servers leave out the newer ones.
        data = await self._post("/agents", _body(body))
        self.agent_id = data["agent"]["agent_id"]
        limit = data.get("report_max_bytes")
        self.report_max_bytes = limit if isinstance(limit, int) else OLD_SERVER_BODY_BYTES
        self.output_offsets = data.get("output_offsets") is True
        return Registration(self.agent_id, data["heartbeat_seconds"], data["lease_seconds"],
                            data["claim_wait_seconds"],
                            data.get("report_takes_output") is True)

    @_refuses_invalid
    async def claim(
        self, device: str, target: TargetName, holds: str | None, wait_seconds: float
    ) -> Assignment | None:
        body = wire.ClaimRequest(device=device, target=target, holds_app_version_id=holds,
                                 wait_seconds=wait_seconds)
        data = await self._post(f"/agents/{self.agent_id}/claim", _body(body),
                                timeout=wait_seconds + self._timeout)
        if data is None:
            return None
        jobs = tuple(
            JobTicket(j["job_id"], j["org_id"], j["app_version_id"], j["test_path"],
                      j["target"], j["priority"])
            for j in data["jobs"]
        )
        return Assignment(data["lease_id"], data["app_version_id"], data["target"], jobs)

    @_refuses_invalid
    async def start(self, job_id: str, lease_id: str) -> int:
        """Mark the job running; returns the attempt number."""
        data = await self._post(f"/agents/{self.agent_id}/jobs/{job_id}/start",
                                _body(wire.StartRequest(lease_id=lease_id)))
        return int(data["attempts"])

    @_refuses_invalid
    async def report(
        self, job_id: str, lease_id: str, attempt: int, outcome: Outcome, error: str | None,
        cases: Sequence[CaseResult] = (), output: str = "", output_offset: int = 0,
    ) -> str:
        """`output`: the end of the attempt's output, for a server whose registration said
        it takes it; it starts `output_offset` characters into the attempt's output."""
        report = wire.AttemptReport(
            lease_id=lease_id, attempt=attempt, outcome=outcome,
            error=error[-limits.REPORT_ERROR_MAX:] if error else None,
            tests=[_case(case) for case in cases[:limits.REPORT_CASES_MAX]],
            output=output,
            output_offset=output_offset if output and self.output_offsets else None)
        body = fit_report(_body(report), self.report_max_bytes)
        data = await self._post(f"/agents/{self.agent_id}/jobs/{job_id}/report", body)
        return str(data["status"])

    @_refuses_invalid
    async def send_output(self, job_id: str, lease_id: str, attempt: int, text: str,
                          offset: int = 0) -> None:
        """`offset`: the characters of the attempt's output sent before `text`; a server that
        takes it keeps only the part of `text` it does not hold yet."""
        chunk = wire.OutputChunk(lease_id=lease_id, attempt=attempt, text=text,
                                 offset=offset if self.output_offsets else None)
        await self._post(f"/agents/{self.agent_id}/jobs/{job_id}/output", _body(chunk))

    @_refuses_invalid
    async def upload_file(self, job_id: str, lease_id: str, attempt: int,
                          file: AttemptFile) -> None:
        upload = wire.FileUpload(
            lease_id=lease_id, attempt=attempt, name=file.name, media_type=file.media_type,
            content_base64=base64.b64encode(file.content).decode("ascii"))
        await self._post(f"/agents/{self.agent_id}/jobs/{job_id}/files", _body(upload),
                         timeout=60.0)

    @_refuses_invalid
    async def upload_evidence(self, job_id: str, lease_id: str, attempt: int,
                              evidence: Evidence) -> None:
        """One file of the attempt's failure evidence, as raw bytes. Rejected (413) when it
        does not fit the attempt's cap on the server, which lists it as dropped."""
        params = {"lease_id": lease_id, "attempt": str(attempt),
                  **({"test": evidence.test[:limits.CASE_TITLE_MAX]} if evidence.test else {})}
        await self._send(self._pools[zlib.crc32(job_id.encode()) % POOLS], "PUT",
                         f"/agents/{self.agent_id}/jobs/{job_id}/artifacts/{evidence.name}",
                         timeout=120.0, params=params, content=evidence.path.read_bytes(),
                         headers={"Content-Type": "application/octet-stream"})

    @_refuses_invalid
    async def release(self, lease_id: str, job_ids: Sequence[str]) -> None:
        await self._post(f"/agents/{self.agent_id}/leases/{lease_id}/release",
                         _body(wire.ReleaseRequest(job_ids=list(job_ids))))

    @_refuses_invalid
    async def heartbeat(self, devices: Sequence[DeviceStatus]) -> Orders:
        body = _body(wire.Heartbeat(devices=list(devices)))
        reply = wire.HeartbeatReply.model_validate(
            await self._post(f"/agents/{self.agent_id}/heartbeat", body))
        if not reply.known:
            raise AgentUnknown("the server does not know this agent")
        return Orders(tuple(reply.cancel_job_ids), tuple(reply.preempt_job_ids))

    async def sign_off(self) -> None:
        """This session stopped: its name is free at once."""
        await self._post(f"/agents/{self.agent_id}/sign-off", {}, timeout=5.0)

    @_refuses_invalid
    async def record_install(
        self, device: str, app_version_id: str, target: TargetName, seconds: float, ok: bool
    ) -> None:
        install = wire.InstallReport(device=device, app_version_id=app_version_id,
                                     target=target, seconds=seconds, ok=ok)
        await self._post(f"/agents/{self.agent_id}/installs", _body(install))

    async def _post(self, path: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        pool = self._pools[zlib.crc32(f"{path} {body.get('device')}".encode()) % POOLS]
        return await self._send(pool, "POST", path, json=body, timeout=timeout)

    async def _send(self, pool: httpx.AsyncClient, method: str, path: str,
                    timeout: float | None = None, **request: Any) -> Any:
        server = self.servers.current()
        try:
            response = await pool.request(method, server + path,
                                          timeout=timeout or self._timeout, **request)
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
        if response.status_code == 409 and code == "output_gap":
            raise OutputGap(detail, _next_offset(response))
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
    cases = body.get("tests", [])
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


def _case(case: CaseResult) -> CasePublic:
    return CasePublic.model_validate({
        "title": case.title[:limits.CASE_TITLE_MAX], "status": case.status,
        "duration_seconds": limits.case_seconds(case.duration_seconds),
        "error": case.error[-limits.CASE_ERROR_MAX:] if case.error else None,
        "file": case.file[:limits.CASE_FILE_MAX] if case.file else None})


def _next_offset(response: httpx.Response) -> int:
    """Where an `output_gap` answer says the server's output ends (0 if it does not say)."""
    held = response.json().get("next_offset")
    return held if isinstance(held, int) and not isinstance(held, bool) and held >= 0 else 0


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
