"""Test health: each test's history and flakiness, and the tests an org quarantined. A
submitter sees and quarantines its own org's tests only, like its jobs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from qgjob.api.deps import Caller, ServiceDep
from qgjob.api.problems import ERROR_RESPONSES
from qgjob.api.visibility import check_may_submit
from qgjob.auth.principal import Principal
from qgjob.domain.health import TestQuery
from qgjob.protocol import limits
from qgjob.protocol.fields import OrgId, TargetName, TestPath
from qgjob.protocol.health import (
    OrgStatsPublic,
    QuarantineCreate,
    QuarantineList,
    QuarantinePublic,
    StatsList,
    TestHealthList,
    TestHealthPublic,
)

router = APIRouter(tags=["test health"], responses=ERROR_RESPONSES)

TestSort = Literal["flaky", "failing", "slowest", "runs", "recent", "name"]


def _scoped_org(caller: Principal, org_id: str | None) -> tuple[str | None, bool]:
    """The org to read (None: every org, for admins), and whether the caller may see it."""
    if caller.sees_every_org:
        return org_id, True
    return caller.org_id, org_id is None or org_id == caller.org_id


@router.get("/tests", response_model=TestHealthList)
async def list_tests(
    service: ServiceDep,
    caller: Caller,
    org_id: Annotated[OrgId | None, Query()] = None,
    target: Annotated[TargetName | None, Query()] = None,
    test_path: Annotated[TestPath | None, Query(description="one test file")] = None,
    cases: Annotated[bool, Query(description="each test case too, not only files")] = False,
    sort: Annotated[TestSort, Query()] = "flaky",
    limit: Annotated[int, Query(ge=1, le=limits.MAX_LIST_LIMIT)] = 200,
) -> TestHealthList:
    """Each test's health: runs, pass rate, flaky score, duration p50/p95 and trend, last
    failure. Sorted most flaky first unless `sort` says otherwise. A submitter token sees its
    own org's tests only (another org's filter gives an empty list)."""
    org, visible = _scoped_org(caller, org_id)
    threshold = service.settings.flaky_threshold
    rows = await service.test_health(TestQuery(
        org_id=org, target=target, test_path=test_path, cases=cases, sort=sort, limit=limit,
    )) if visible else []
    return TestHealthList(tests=[TestHealthPublic.of(r, threshold) for r in rows],
                          flaky_threshold=threshold)


@router.get("/quarantine", response_model=QuarantineList)
async def list_quarantined(
    service: ServiceDep,
    caller: Caller,
    org_id: Annotated[OrgId | None, Query()] = None,
) -> QuarantineList:
    """The tests quarantined: they still run and are reported, but a failure of theirs does
    not fail `qgjob run` or `qgjob wait`."""
    org, visible = _scoped_org(caller, org_id)
    found = await service.quarantined(org) if visible else []
    return QuarantineList(quarantined=[QuarantinePublic.of(q) for q in found])


@router.post("/quarantine", status_code=status.HTTP_201_CREATED,
             response_model=QuarantinePublic,
             responses={200: {"description": "it was quarantined already (its reason is "
                                             "now the one sent, if any)"}})
async def add_quarantine(body: QuarantineCreate, service: ServiceDep, caller: Caller,
                         response: Response) -> QuarantinePublic:
    """Quarantine a test file of an org (every target). Again for a test quarantined already:
    200, with the `reason` sent replacing its own (one left out or null keeps it); who added
    it and when stay."""
    check_may_submit(caller, {body.org_id})
    entry, made = await service.quarantine(body.org_id, body.test_path, body.reason,
                                           caller.token_id)
    if not made:
        response.status_code = status.HTTP_200_OK
    return QuarantinePublic.of(entry)


@router.delete("/quarantine", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response)
async def remove_quarantine(
    service: ServiceDep,
    caller: Caller,
    org_id: Annotated[OrgId, Query()],
    test_path: Annotated[TestPath, Query()],
) -> Response:
    """Take a test out of quarantine; 404 if it was not in it."""
    check_may_submit(caller, {org_id})
    if not await service.unquarantine(org_id, test_path):
        raise HTTPException(404, f"{test_path!r} of org {org_id!r} is not quarantined")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/stats", response_model=StatsList)
async def org_stats(
    service: ServiceDep,
    caller: Caller,
    org_id: Annotated[OrgId | None, Query()] = None,
    days: Annotated[float, Query(allow_inf_nan=False, gt=0, le=limits.STATS_DAYS_MAX, description=(
        "how far back, in days (whole hours are counted)"))] = 7,
) -> StatsList:
    """Per org: jobs finished, success and flaky rates, device-hours used, queue wait p50 and
    p95. A submitter token sees its own org's only."""
    org, visible = _scoped_org(caller, org_id)
    found = await service.org_stats(org, days) if visible else []
    return StatsList(days=days, stats=[OrgStatsPublic.of(s) for s in found])
