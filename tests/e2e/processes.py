"""Starting real qgjob processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """`python -m qgjob ARGS` (or another `module`; after a `prefix` command such as
    `prlimit --nofile=…`), its output appended to `log`. `piped`: the output comes through a
    pipe and this process writes it to `log`, so a file-size limit put on the child
    (`prlimit --fsize`, a full disk) does not take its log away."""

    def __init__(self, *args: str, log: Path, env: dict[str, str] | None = None,
                 module: str = "qgjob", prefix: tuple[str, ...] = (), piped: bool = False
                 ) -> None:
        self.log = log
        self._log_file = log.open("ab")
        # Agents hold their names under the data folder: one per test, so tests running at
        # once (or a developer's own agents) never share a name.
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "XDG_DATA_HOME": str(log.parent / "data"), **(env or {})}
        self.popen = subprocess.Popen([*prefix, sys.executable, "-m", module, *args],
                                      stdout=subprocess.PIPE if piped else self._log_file,
                                      stderr=subprocess.STDOUT, env=env)
        self._copier: threading.Thread | None = None
        if piped:
            self._copier = threading.Thread(target=self._copy_output, daemon=True)
            self._copier.start()

    def _copy_output(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._log_file.write(line)
            self._log_file.flush()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()
            if self._copier is not None:
                self._copier.join(5)
                assert self.popen.stdout is not None
                self.popen.stdout.close()
            self._log_file.close()


def wait_healthy(url: str, process: Process, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"process exited early:\n{process.output()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server did not become healthy:\n{process.output()}")


def cli(url: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qgjob", "--server", url, *args],
                          capture_output=True, text=True, timeout=timeout)
