"""What a process costs, read from Linux's /proc (no psutil): CPU seconds, the TCP
connections it holds to a port, and the processes of a program (PostgreSQL's backends)."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
ESTABLISHED = "01"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of the process, all its threads, so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


def busy_between(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time that was busy between two `machine_busy`."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def pids_named(command: str) -> list[int]:
    """Processes whose command name is `command` (e.g. every PostgreSQL backend)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def cpu_of(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in pids}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two `cpu_of` readings; a process that appeared in between
    counts whole, one that left counts nothing (its last reading is lost with it)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def connections_to(pid: int, port: int) -> int:
    """Established TCP connections the process holds to `port` on any host."""
    inodes = socket_inodes(pid)
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            remote, state, inode = parts[2], parts[3], parts[9]
            if state == ESTABLISHED and inode in inodes and int(remote.split(":")[1], 16) == port:
                count += 1
    return count


def socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        descriptors = list(os.scandir(f"/proc/{pid}/fd"))
    except OSError:
        return inodes
    for fd in descriptors:
        try:
            target = os.readlink(fd.path)
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes
