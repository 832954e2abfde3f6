"""Which agent process on this host holds a name, and which server session it had last.

A name is one agent's: two processes under one name would take each other's devices and
batches in turn. Each agent process holds a lock on a file per name under the user's data
directory for as long as it runs, so a second process on the same host learns at once that
the name is taken. The file keeps the process's last session: after a crash or a restart
the next process under the name tells the server which session it replaces, and takes it
over at once rather than wait for it to go stale. Without --name an agent takes the first
free name of `HOST`, `HOST-2`, `HOST-3`…: one agent per host keeps the host name, as before,
and a second one on the same host gets a name of its own (the same one each time it starts,
while the first keeps running)."""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import IO

MAX_SLOTS = 100


class NameTaken(Exception):
    """Another agent process on this host holds the name."""


class AgentIdentity:
    def __init__(self, name: str, handle: IO[str]) -> None:
        self.name = name
        self._handle = handle

    @classmethod
    def hold(cls, folder: Path, name: str) -> AgentIdentity:
        """Hold `name` for this process (until `release` or exit); NameTaken if held."""
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        handle = (folder / f"{safe}.agent").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise NameTaken(f"another agent on this host runs under the name {name!r}; "
                            "give this one another --name") from None
        return cls(name, handle)

    @classmethod
    def first_free(cls, folder: Path, host: str) -> AgentIdentity:
        """`host`, or `host-2`, `host-3`… whichever no agent on this host holds."""
        for slot in range(1, MAX_SLOTS + 1):
            try:
                return cls.hold(folder, host if slot == 1 else f"{host}-{slot}")
            except NameTaken:
                continue
        raise NameTaken(f"{MAX_SLOTS} agents run on this host already; give this one --name")

    def last_session(self) -> str | None:
        self._handle.seek(0)
        return self._handle.read().strip() or None

    def remember(self, agent_id: str) -> None:
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(agent_id)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def release(self) -> None:
        self._handle.close()


def identity_folder() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("qgjob")) / "agents"
