"""Running the long-lived processes: `qgjob server`, `qgjob agent` and `qgjob up` (both in one
event loop, the agent talking to the server over loopback HTTP like any other agent)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import secrets
import signal
import socket
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from qgjob.agent.client import AgentClient
from qgjob.agent.executors.base import Executor
from qgjob.agent.identity import AgentIdentity, identity_folder
from qgjob.agent.runner import Agent
from qgjob.domain.models import DeviceSpec
from qgjob.servers import server_url
from qgjob.settings import ServerSettings

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

log = logging.getLogger("qgjob")


class ListenError(Exception):
    pass


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


BIND_HINTS = {
    errno.EADDRINUSE: "is another qgjob server running? choose one with --port",
    errno.EADDRNOTAVAIL: "no network interface of this machine has that address",
    errno.EACCES: "ports below 1024 need privileges: choose another with --port",
}
"""What to do about a bind that failed, by its error."""


def check_listen_host(host: str) -> None:
    """A host to listen on is an IP address or a name this machine resolves: said before
    anything else about it (whether it is loopback, whether tokens are needed)."""
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise ListenError(f"cannot listen on {host!r}: not an IP address or a host name this "
                          "machine can resolve (--host 127.0.0.1 is this machine only, "
                          "0.0.0.0 every interface)") from None


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind before starting, so a taken port is one clear error rather than a log line."""
    from qgjob.api.http_guard import LISTEN_BACKLOG

    check_listen_host(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio turns Nagle off only on accepted sockets whose proto is
    # IPPROTO_TCP, and with Nagle on every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = BIND_HINTS.get(exc.errno or 0)
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                          + (f" ({hint})" if hint else "")) from None
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def run_server(settings: ServerSettings, sock: socket.socket, access_log: bool) -> None:
    """Serve until SIGINT/SIGTERM, then drain: waiting claims are answered at once (their
    agents will find the next server), in-flight requests finish."""
    from qgjob.api.app import create_app

    app = create_app(settings)
    server = qgjob_server(app, settings, access_log=access_log, log_level="info",
                          handle_signals=True)
    _freeze_heap()
    server.run(sockets=[sock])


def _freeze_heap() -> None:
    """Move what start-up built (modules, the app, its schemas) out of the garbage collector's
    sight: it lives as long as the process, yet every full collection walked it again. Bulk
    submits allocate enough to trigger one every few requests (measured: a 1,000-job batch
    spent about a fifth of its time in the collector)."""
    gc.collect()
    gc.freeze()


async def run_agent(
    server: str, token: str | None, identity: AgentIdentity, devices: Sequence[DeviceSpec],
    executor: Executor,
) -> None:
    """Run an agent until SIGINT/SIGTERM: the first signal finishes running jobs and hands
    back the rest; a second one hands back running jobs too. Raises NameInUse when another
    live agent holds the name."""
    client = AgentClient(server, token)
    agent = Agent(client, identity.name, devices, executor, identity)
    with _stop_on_signals(agent, interrupt_first=False):
        try:
            await agent.run()
        finally:
            await client.close()


async def run_up(
    settings: ServerSettings, sock: socket.socket, devices: Sequence[DeviceSpec],
    executor: Executor,
) -> None:
    """Server and a local agent in one process. Ctrl-C hands running simulated jobs back to
    the queue (their attempts are not spent) and stops both; the database keeps everything."""

    from qgjob.api.app import create_app
    from qgjob.auth.principal import Principal
    from qgjob.auth.tokens import Role

    host, port = sock.getsockname()[:2]
    # The local agent's credential lives only in this process: `up` works whether or not the
    # database holds tokens, and nothing is written for it.
    local_token = secrets.token_urlsafe(32)
    app = create_app(settings, process_tokens={local_token: Principal(Role.AGENT, None, "local")})
    server = qgjob_server(app, settings, access_log=False, log_level="warning",
                          handle_signals=False)
    _freeze_heap()
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            await serving
            return
        await asyncio.sleep(0.01)
    client = AgentClient(server_url(host, port), local_token)
    # `local` (or local-2… while another `up` runs on this host), the same after a restart
    identity = AgentIdentity.first_free(identity_folder(), "local")
    agent = Agent(client, identity.name, devices, executor, identity)
    try:
        with _stop_on_signals(agent, interrupt_first=True):
            await agent.run()
    finally:
        await client.close()
        server.should_exit = True
        await serving


def qgjob_server(
    app: FastAPI, settings: ServerSettings, *, access_log: bool, log_level: str,
    handle_signals: bool,
) -> uvicorn.Server:
    """uvicorn as every qgjob server runs: connections guarded (`qgjob.api.http_guard`),
    proxy headers believed from trusted proxies only, and a drain at shutdown that first
    answers the app's long-poll claims and ends dashboards' event streams (else they would
    hold the graceful shutdown). Without `handle_signals` it leaves signals to us (`qgjob up`
    stops its agent first)."""
    import uvicorn

    from qgjob.api.app import end_live_streams
    from qgjob.api.http_guard import (
        LISTEN_BACKLOG,
        ConnectionGuard,
        connection_cap,
        guarded_protocol,
    )

    cap = connection_cap(settings.max_connections)
    if cap < settings.max_connections:
        log.warning("the descriptor limit allows %d connections, not QGJOB_MAX_CONNECTIONS=%d "
                    "(raise LimitNOFILE)", cap, settings.max_connections)
    guard = ConnectionGuard(cap, settings.http_header_seconds, settings.http_body_seconds)
    proxies = settings.trusted_proxy_networks()
    config = uvicorn.Config(
        app, log_level=log_level, access_log=access_log, timeout_graceful_shutdown=10,
        http=guarded_protocol(guard),
        timeout_keep_alive=settings.http_idle_seconds,  # type: ignore[arg-type]  # a float works
        # uvicorn believes X-Forwarded-For from loopback unless told otherwise: any local
        # client could then pick its own rate-limit bucket.
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies, backlog=LISTEN_BACKLOG)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            guard.watch_accept_errors(asyncio.get_running_loop())
            await super().startup(sockets)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            service = getattr(app.state, "service", None)
            if service is not None:
                service.drain()
            end_live_streams(app)
            await super().shutdown(sockets)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if handle_signals:
                with super().capture_signals():
                    yield
            else:
                yield

    return Server(config)


@contextlib.contextmanager
def _stop_on_signals(agent: Agent, interrupt_first: bool) -> Iterator[None]:
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if agent.stopping or interrupt_first:
            log.warning("stopping: handing running jobs back to the queue")
            agent.stop(interrupt=True)
        else:
            log.warning("stopping: finishing running jobs (signal again to hand them back)")
            agent.stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
