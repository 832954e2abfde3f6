"""Fleet operations: drain, undrain and remove agents by name (admins), the devices with
their rotation and utilisation, putting a device back in rotation (admins), and the recorded
history as a simulator trace (admins: it holds every org's work)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from qgjob.api.auth import reads_every_org, require
from qgjob.api.deps import Caller, ServiceDep
from qgjob.api.params import AgentNamePath
from qgjob.api.problems import ERROR_RESPONSES
from qgjob.api.visibility import visible_agents
from qgjob.auth.principal import ADMINS, VIEWER, Principal
from qgjob.protocol.fleet import DeviceChoice, DeviceList, DrainResult, FleetDevice
from qgjob.sim.export import trace_of

router = APIRouter(tags=["fleet"], responses=ERROR_RESPONSES)
Admin = Annotated[Principal, Depends(require(ADMINS))]
WEEK_SECONDS = 7 * 86400.0


@router.post("/agents/{name}/drain", response_model=DrainResult)
async def drain_agent(name: AgentNamePath, service: ServiceDep, _: Admin) -> DrainResult:
    """The agent finishes the jobs it runs and takes no new work, across restarts, until
    undrained; the unstarted jobs of its batches go back to the queue at once. 404
    (`unknown_agent`) for a name no agent registered under."""
    released = await service.drain_agent(name)
    return DrainResult(name=name, draining=True,
                       released_job_ids=[job.job_id for job in released])


@router.post("/agents/{name}/undrain", response_model=DrainResult)
async def undrain_agent(name: AgentNamePath, service: ServiceDep, _: Admin) -> DrainResult:
    """The agent takes work again (a no-op if it was not drained)."""
    await service.undrain_agent(name)
    return DrainResult(name=name, draining=False)


@router.delete("/agents/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_agent(name: AgentNamePath, service: ServiceDep, _: Admin) -> Response:
    """Forget an offline agent and its devices (their history stays). 409 (`agent_online`)
    while it is online: stop its process first."""
    await service.remove_agent(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/devices", response_model=DeviceList)
async def list_devices(request: Request, service: ServiceDep, caller: Caller) -> DeviceList:
    """Every device: state, rotation, the build it holds, the test it runs, and utilisation
    (busy / installing / idle shares and idle seconds while work waited), per device and
    per target. A submitter token sees what a device holds and runs only for its own jobs."""
    return DeviceList.of(await visible_agents(service, caller),
                         may_operate=caller.role in ADMINS and caller is not VIEWER,
                         may_read_all=reads_every_org(request, caller))


@router.post("/devices/enable", response_model=FleetDevice)
async def enable_device(body: DeviceChoice, service: ServiceDep, _: Admin) -> FleetDevice:
    """Put a device back in rotation, its failure count reset. 404 (`unknown_device`), or
    409 (`device_ambiguous`) for a name several agents' devices have."""
    agent, device = await service.enable_device(body.device)
    return FleetDevice.of(agent, device)


@router.get("/trace")
async def export_trace(
    service: ServiceDep, _: Admin,
    since_seconds: Annotated[float, Query(allow_inf_nan=False, gt=0, le=366 * 86400, description=(
        "how far back: jobs submitted in that window"))] = WEEK_SECONDS,
) -> dict[str, Any]:
    """The recorded history as a trace `qgjob simulate` reads (examples/traces/README.md):
    arrivals, orgs, priorities, targets, each job's measured test time and attempt
    outcomes, install times, and the fleet."""
    recording = await service.recording(since_seconds)
    return trace_of(recording, service.settings.max_attempts)
