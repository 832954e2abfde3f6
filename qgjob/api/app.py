"""The app factory: every server, test and `qgjob up` builds its app here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping

from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from qgjob import __version__
from qgjob.api.auth import Gatekeeper
from qgjob.api.browser_guard import BrowserGuard
from qgjob.api.errors import RequestGuard, install_error_handlers
from qgjob.api.events import ChangeFeed
from qgjob.api.head import HeadAsGet
from qgjob.api.params import single_query_values
from qgjob.api.routes import agents, artifacts, cluster, fleet, health, history, jobs, live, runs
from qgjob.artifacts import ArtifactStore, DirectoryArtifactStore
from qgjob.auth.network import machine_names
from qgjob.auth.principal import Principal
from qgjob.evidence import EvidenceService
from qgjob.metrics import Metrics
from qgjob.runs import RunService
from qgjob.service import JobService
from qgjob.settings import ServerSettings
from qgjob.store import open_store
from qgjob.store.base import Store
from qgjob.web import install_dashboard


def create_app(
    settings: ServerSettings | None = None,
    store: Store | None = None,
    *,
    clock: Callable[[], float] = time.time,
    maintenance: bool = True,
    process_tokens: Mapping[str, Principal] | None = None,
    artifact_store: ArtifactStore | None = None,
) -> FastAPI:
    """Build the API. Without `store`, the app opens (and migrates) the database its settings
    name at start-up and closes it at shutdown. `process_tokens` are accepted besides the
    stored ones and live only in this process (the local agent of `qgjob up`). Without
    `artifact_store`, failure evidence goes to the directory its settings name."""
    settings = settings or ServerSettings.from_env()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        if store is None:
            active = await to_thread.run_sync(open_store, settings.resolved_database_url)
        else:
            active = store
        service = JobService(settings, active, clock=clock, metrics=metrics)
        app.state.service = service
        app.state.runs = RunService(service)
        app.state.events = ChangeFeed(service.change_marker)
        evidence = EvidenceService(service, artifact_store or DirectoryArtifactStore(
            settings.resolved_artifact_dir, settings.artifact_attempt_max_bytes),
            settings.artifact_retention_days)
        app.state.evidence = evidence
        service.maintenance_hooks.append(evidence.sweep_due)
        metrics.watch(active)
        app.state.gatekeeper = Gatekeeper.of(settings, active, clock, process_tokens or {})
        task = None
        if maintenance:
            await service.start_up()
            task = asyncio.create_task(service.maintain_forever())
        try:
            yield
        finally:
            await app.state.events.aclose()
            metrics.unwatch()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await service.settle()  # a cancelled task's store call may still be running
            if own_store:
                active.close()

    # /docs loads Swagger UI from the server itself (fastapi-offline ships its files;
    # FastAPI's own page fetches them from a CDN), so it works offline like the dashboard
    # that links to it. No /redoc: ReDoc's page fetches its logo from its maker's site.
    app = FastAPIOffline(
        favicon_url="/favicon.ico",
        static_url="/docs/static",
        redoc_url=None,
        title="qgjob",
        version=__version__,
        summary="Queue, group and run AppWright tests on emulators, devices and BrowserStack.",
        lifespan=lifespan,
        dependencies=[Depends(single_query_values)],
    )
    install_error_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes,
                       artifact_bytes=settings.artifact_attempt_max_bytes)
    app.add_middleware(BrowserGuard, allowed_hosts=settings.allowed_host_names(),
                       own_names=machine_names())
    app.add_middleware(HeadAsGet)  # outermost: every layer below sees the GET
    app.include_router(jobs.router)
    app.include_router(runs.router)
    app.include_router(artifacts.router)
    app.include_router(cluster.router)
    app.include_router(agents.router)
    app.include_router(fleet.router)
    app.include_router(history.router)
    app.include_router(health.router)
    app.include_router(live.router)
    install_dashboard(app)
    return app


def end_live_streams(app: object) -> None:
    """The server calls this as it begins to shut down: open dashboards' event streams end
    at once instead of holding up the drain of in-flight requests."""
    feed = getattr(getattr(app, "state", None), "events", None)
    if isinstance(feed, ChangeFeed):
        feed.close()
