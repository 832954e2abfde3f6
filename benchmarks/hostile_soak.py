"""Soak under a hostile mix (issue 17): a steady submit/claim load on a real `qgjob server`
and real `qgjob agent` processes while, all at once,

- an idle-connection flood holds thousands of sockets that never send a byte (reopened as the
  server closes them),
- slowloris clients begin a request and drip a header byte every half second,
- the disk is full for 15 s: on SQLite, `prlimit --fsize=1` on the server process, lifted after
  15 s; on PostgreSQL, see `PostgresDiskFull`,
- a third of the jobs go to an agent whose test (the command executor) prints a NUL and passes,
- now and then a twin agent starts under the simulated agent's name, from another host or the
  same one, and must be refused.

It reports /health p50/p99 during the run (a fresh connection every quarter second, as a
monitor would), jobs acknowledged (201) against jobs found in the store, jobs stuck (not final
a while after the load stopped), and jobs wrongly failed: no test here ever fails, so a failed
job is a wrongly failed one ("lost its device"...). Goal: 0 lost, 0 stuck, 0 wrongly failed,
/health p99 < 1 s.

    python -m benchmarks.hostile_soak [--seconds 300] [--stores sqlite,postgres]
                                      [--rate 10] [--idle 3000] [--slow 300] [--postgres URL]
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import at_least, percentile, print_table, write_result
from benchmarks.stores import DEFAULT_PG, database
from tests.e2e.processes import Process, free_port, wait_healthy
from tests.e2e.test_hostile_connections import closed_by_server

FINAL = ("completed", "failed", "cancelled")
DISK_FULL_SECONDS = 15.0
SIM_AGENT = "soak-sim"
PRINTS_NUL = "/usr/bin/printf 'before\\0after\\n'"


@dataclass
class Lab:
    """The run's processes and what its clients saw, with the time each thing happened."""

    url: str
    work: Path
    began: float = field(default_factory=time.time)
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: dict[str, str] = field(default_factory=dict)
    """job id -> target, for every job a 201 answered."""
    submits: list[tuple[float, str]] = field(default_factory=list)
    health: list[tuple[float, float, str]] = field(default_factory=list)
    disk_full: list[float] = field(default_factory=list)
    """When the fault began and ended."""
    twins: list[dict[str, Any]] = field(default_factory=list)
    sockets: Counter[str] = field(default_factory=Counter)


# load ---------------------------------------------------------------------------------------

def submit_load(lab: Lab, rate: int) -> None:
    """`rate` jobs a second in one batch, every third to the NUL agent's target, each batch
    re-sent with its idempotency keys until it is answered 201."""
    n = 0
    with httpx.Client(base_url=lab.url, timeout=10) as http:
        while not lab.stop.wait(max(0.0, 1.0 - (time.monotonic() % 1.0))):
            jobs = [{"org_id": f"org{i % 5}", "app_version_id": f"build{i // 200}",
                     "test_path": f"tests/t{i}.spec.js", "idempotency_key": f"soak-{i}",
                     "target": "device" if i % 3 == 0 else "emulator"}
                    for i in range(n, n + rate)]
            n += rate
            while not send_batch(lab, http, jobs) and not lab.stop.is_set():
                time.sleep(0.5)


def send_batch(lab: Lab, http: httpx.Client, jobs: list[dict[str, Any]]) -> bool:
    try:
        answer = http.post("/jobs/batch", json={"jobs": jobs})
    except httpx.HTTPError as error:
        lab.submits.append((time.time(), type(error).__name__))
        return False
    lab.submits.append((time.time(), str(answer.status_code)))
    if answer.status_code != 201:
        return False
    lab.acknowledged.update((j["job_id"], j["target"]) for j in answer.json()["jobs"])
    return True


def probe_health(lab: Lab) -> None:
    while not lab.stop.wait(0.25):
        began = time.monotonic()
        try:
            status = str(httpx.get(f"{lab.url}/health", timeout=5).status_code)
        except httpx.HTTPError as error:
            status = type(error).__name__
        lab.health.append((time.time(), time.monotonic() - began, status))


# hostile connections ------------------------------------------------------------------------

def hold_connections(lab: Lab, count: int, kind: str) -> None:
    """Keep `count` connections open that never complete a request: `idle` ones send nothing,
    `slow` ones send a request line and then one header byte every half second. Each one the
    server closes is counted and opened again."""
    port = int(lab.url.rsplit(":", 1)[1])
    held: list[socket.socket] = []
    try:
        while not lab.stop.wait(0.5):
            for sock in [s for s in held if closed_by_server(s)]:
                held.remove(sock)
                sock.close()
                lab.sockets[f"{kind} closed by the server"] += 1
            with contextlib.suppress(OSError):
                for sock in held if kind == "slow" else ():
                    sock.send(b"X")
            while len(held) < count and not lab.stop.is_set():
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                    if kind == "slow":
                        sock.sendall(b"GET /health HTTP/1.1\r\nHost: soak\r\n")
                except OSError:
                    lab.sockets[f"{kind} connects failed"] += 1
                    break
                held.append(sock)
                lab.sockets[f"{kind} opened"] += 1
    finally:
        for sock in held:
            sock.close()


# twin agents --------------------------------------------------------------------------------

def start_twins(lab: Lab, at: list[float], began: float) -> None:
    """At each of `at` (seconds into the run) a second `qgjob agent --name soak-sim`, from
    another host and from the same one by turns; it must exit 2 with a refusal."""
    for index, offset in enumerate(sorted(at)):
        if lab.stop.wait(max(0.0, began + offset - time.monotonic())):
            return
        host = "another host" if index % 2 == 0 else "the same host"
        data = {"XDG_DATA_HOME": str(lab.work / "twin-host")} if index % 2 == 0 else {}
        started = time.time()
        twin = Process("--server", lab.url, "agent", "--name", SIM_AGENT, "--devices",
                       "emulator:1", "--install-seconds", "0", "--test-seconds", "0.2",
                       log=lab.work / f"twin-{index}.log", env=data)
        try:
            code: int | str = twin.popen.wait(60)
        except subprocess.TimeoutExpired:
            code = "still running after 60 s"
        twin.stop(signal.SIGTERM)
        lines = twin.output().strip().splitlines()
        lab.twins.append({"at": round(started - lab.began, 1), "from": host,
                          "exit": code, "said": lines[-1][-160:] if lines else ""})


# disk full ----------------------------------------------------------------------------------

class SqliteDiskFull:
    """A full disk as the server process sees it: every write past a file's first byte fails
    (EFBIG), the database's as much as anything else."""

    def __init__(self, server: Process) -> None:
        self.pid = server.popen.pid

    def begin(self) -> None:
        subprocess.run(["prlimit", f"--pid={self.pid}", "--fsize=1:"], check=True)

    def end(self) -> None:
        subprocess.run(["prlimit", f"--pid={self.pid}", "--fsize=unlimited:"], check=True)


class PostgresDiskFull:
    """The error PostgreSQL answers when it cannot extend a table's file, SQLSTATE 53100
    (disk_full), raised by a trigger on every row written to the run's schema. A real full
    disk under the shared PostgreSQL server would stop its write-ahead log too, and the whole
    cluster (other work's databases with it) would go down: not ours to do. Unlike a real one
    this fault does not refuse writes that touch no table, so the server's write probe
    (`txid_current()`) succeeds and /health turns 200 between refused writes."""

    def __init__(self, pg_url: str, schema: str) -> None:
        self.pg_url, self.schema = pg_url, schema

    def _tables(self, conn: Any) -> list[str]:
        return [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,))]

    def begin(self) -> None:
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            conn.execute(f'''CREATE OR REPLACE FUNCTION "{self.schema}".soak_disk_full()
                RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                RAISE EXCEPTION 'could not extend file: No space left on device (simulated)'
                USING ERRCODE = 'disk_full'; END $$''')
            for table in self._tables(conn):
                conn.execute(f'CREATE TRIGGER soak_disk_full BEFORE INSERT OR UPDATE OR DELETE '
                             f'ON "{self.schema}"."{table}" FOR EACH ROW EXECUTE FUNCTION '
                             f'"{self.schema}".soak_disk_full()')

    def end(self) -> None:
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            for table in self._tables(conn):
                conn.execute(f'DROP TRIGGER IF EXISTS soak_disk_full '
                             f'ON "{self.schema}"."{table}"')


def fill_disk(lab: Lab, fault: SqliteDiskFull | PostgresDiskFull, at: float,
              began: float) -> None:
    if lab.stop.wait(max(0.0, began + at - time.monotonic())):
        return
    lab.disk_full.append(time.time())
    fault.begin()
    try:
        lab.stop.wait(DISK_FULL_SECONDS)
    finally:
        fault.end()
        lab.disk_full.append(time.time())


# the run ------------------------------------------------------------------------------------

@contextlib.contextmanager
def processes(db_url: str, work: Path, test_seconds: float) -> Iterator[tuple[str, Process]]:
    """The server (its output piped: a full disk must not take its log) and two agents: one
    simulated, one whose test prints a NUL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Process("server", "--port", str(port), "--db", db_url, "--log-level", "warning",
                     log=work / "server.log", piped=True)
    agents: list[Process] = []
    try:
        wait_healthy(url, server, timeout=60)
        agents.append(Process("--server", url, "agent", "--name", SIM_AGENT, "--devices",
                              "emulator:8", "--install-seconds", "0.05", "--test-seconds",
                              str(test_seconds), "--log-level", "warning",
                              log=work / "agent-sim.log"))
        agents.append(Process("--server", url, "agent", "--name", "soak-nul", "--devices",
                              "device:2", "--executor", "command", "--run-cmd", PRINTS_NUL,
                              "--log-level", "warning", log=work / "agent-nul.log"))
        yield url, server
    finally:
        for agent in agents:
            agent.stop(signal.SIGTERM)
        server.stop(signal.SIGTERM)


def soak(kind: str, db_url: str, work: Path, args: argparse.Namespace,
         read_jobs: Callable[[], dict[str, tuple[str, str | None]]],
         fault: Callable[[Process], SqliteDiskFull | PostgresDiskFull]) -> dict[str, Any]:
    with processes(db_url, work, args.test_seconds) as (url, server):
        lab = Lab(url, work)
        began = time.monotonic()
        seconds = args.seconds
        disk_at = seconds / 3
        workers = [
            threading.Thread(target=probe_health, args=(lab,)),
            threading.Thread(target=submit_load, args=(lab, args.rate)),
            threading.Thread(target=hold_connections, args=(lab, args.idle, "idle")),
            threading.Thread(target=hold_connections, args=(lab, args.slow, "slow")),
            threading.Thread(target=fill_disk, args=(lab, fault(server), disk_at, began)),
            threading.Thread(target=start_twins, args=(
                lab, [10, disk_at + 5, *range(40, int(seconds) - 20, 45)], began)),
        ]
        for worker in workers:
            worker.start()
        lab.stop.wait(seconds)
        lab.stop.set()
        for worker in workers:
            worker.join()
        load_stopped = time.time()
        stored = wait_final(read_jobs, set(lab.acknowledged), args.drain)
        nul_logs = sample_nul_logs(url, [j for j, t in lab.acknowledged.items() if t == "device"])
    return summarize(kind, lab, stored, nul_logs, load_stopped, server.output(), args)


def wait_final(read_jobs: Callable[[], dict[str, tuple[str, str | None]]], ids: set[str],
               drain: float) -> dict[str, tuple[str, str | None]]:
    """The store's jobs once every acknowledged one is final, or after `drain` seconds."""
    deadline = time.monotonic() + drain
    while True:
        stored = read_jobs()
        if all(stored.get(i, ("missing",))[0] in FINAL for i in ids) or \
                time.monotonic() > deadline:
            return stored
        time.sleep(1)


def sample_nul_logs(url: str, ids: list[str], count: int = 20) -> dict[str, int]:
    """Of `count` NUL-printing jobs, how many logs hold all the text, the NUL shown as
    U+FFFD."""
    seen = Counter[str]()
    for job_id in ids[-count:]:
        logs = httpx.get(f"{url}/jobs/{job_id}/logs", timeout=10).text
        seen["faithful" if "before\ufffdafter\n" in logs else "not faithful"] += 1
    return dict(seen)


def summarize(kind: str, lab: Lab, stored: dict[str, tuple[str, str | None]],
              nul_logs: dict[str, int], load_stopped: float, server_log: str,
              args: argparse.Namespace) -> dict[str, Any]:
    latencies = [seconds for _, seconds, _ in lab.health]
    states = Counter(stored.get(i, ("missing", None))[0] for i in lab.acknowledged)
    wrongly = {i: stored[i][1] for i in lab.acknowledged if stored.get(i, ("",))[0] == "failed"}
    window = lab.disk_full[:2] if len(lab.disk_full) == 2 else [0.0, 0.0]
    during = Counter(s for t, s in lab.submits if window[0] <= t <= window[1] + 1)
    refused = sum(1 for t in lab.twins if t["exit"] == 2)
    return {
        "store": kind,
        "seconds": args.seconds,
        "health p50 ms": round(percentile(latencies, 50) * 1000, 1),
        "health p99 ms": round(percentile(latencies, 99) * 1000, 1),
        "health max ms": round(max(latencies) * 1000, 1),
        "health answers": dict(Counter(s for _, _, s in lab.health)),
        "acknowledged": len(lab.acknowledged),
        "found in the store": sum(1 for i in lab.acknowledged if i in stored),
        "lost": states["missing"],
        "stuck": sum(n for s, n in states.items() if s not in (*FINAL, "missing")),
        "wrongly failed": len(wrongly),
        "completed": states["completed"],
        "stored but not acknowledged": len(set(stored) - set(lab.acknowledged)),
        "submit answers": dict(Counter(s for _, s in lab.submits)),
        "submit answers while the disk was full": dict(during),
        "disk full": "prlimit --fsize=1 on the server" if kind == "sqlite"
        else "trigger raising SQLSTATE 53100 (disk_full) on every row write",
        "NUL jobs": sum(1 for t in lab.acknowledged.values() if t == "device"),
        "NUL logs sampled": nul_logs,
        "twins refused": f"{refused}/{len(lab.twins)}",
        "twins": lab.twins,
        "connections": dict(lab.sockets),
        "drain seconds": round(time.time() - load_stopped, 1),
        "server log": {"Traceback": server_log.count("Traceback"),
                       "refuses writes": server_log.count("the database refuses writes"),
                       "out of system resource": server_log.count("out of system resource")},
        "wrongly failed jobs (first 10)": dict(list(wrongly.items())[:10]),
    }


# the stores ---------------------------------------------------------------------------------

def run_store(kind: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    with database(kind, work, args.postgres) as db_url:
        if kind == "sqlite":
            path = db_url.removeprefix("sqlite:///")

            def read_jobs() -> dict[str, tuple[str, str | None]]:
                with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                    return {i: (s, e) for i, s, e in conn.execute(
                        "SELECT id, state, error FROM jobs")}

            return soak(kind, db_url, work, args, read_jobs, SqliteDiskFull)
        schema = db_url.rsplit("schema=", 1)[1]

        def read_pg_jobs() -> dict[str, tuple[str, str | None]]:
            import psycopg

            with psycopg.connect(args.postgres) as conn:
                return {i: (s, e) for i, s, e in conn.execute(
                    f'SELECT id, state, error FROM "{schema}".jobs')}

        return soak(kind, db_url, work, args, read_pg_jobs,
                    lambda _: PostgresDiskFull(args.postgres, schema))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the mix runs")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--rate", type=at_least(1), default=10, help="jobs submitted a second")
    parser.add_argument("--idle", type=at_least(0), default=3000, help="idle connections held")
    parser.add_argument("--slow", type=at_least(0), default=300, help="slowloris connections held")
    parser.add_argument("--test-seconds", type=float, default=0.2)
    parser.add_argument("--drain", type=float, default=120.0,
                        help="seconds after the load for every job to finish; later: stuck")
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--no-save", action="store_true",
                        help="write the JSON under the temporary directory, not results/")
    args = parser.parse_args()
    results = {}
    for kind in args.stores.split(","):
        with tempfile.TemporaryDirectory(prefix=f"qgjob-hostile-{kind}-") as work:
            results[kind] = run_store(kind, Path(work), args)
    show(results)
    path = write_result("hostile_soak", {
        "command": " ".join(["python", "-m", "benchmarks.hostile_soak", *sys.argv[1:]]),
        "goal": "0 lost, 0 stuck, 0 wrongly failed, /health p99 < 1 s", "results": results},
        save=not args.no_save)
    print(f"\nwrote {path}")


def show(results: dict[str, dict[str, Any]]) -> None:
    kinds = list(results)
    measures = ["seconds", "health p50 ms", "health p99 ms", "health max ms", "acknowledged",
                "found in the store", "lost", "stuck", "wrongly failed", "completed",
                "NUL jobs", "twins refused"]
    print_table(["measure", *kinds], [[m, *[results[k][m] for k in kinds]] for m in measures])
    for kind in kinds:
        r = results[kind]
        print(f"\n{kind}: health answers {r['health answers']}; submits while the disk was full "
              f"{r['submit answers while the disk was full']}; connections {r['connections']}; "
              f"server log {r['server log']}")


if __name__ == "__main__":
    main()
