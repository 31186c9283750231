"""A tiny process supervisor for ``finsent up``: children with prefixed logs, one stop.

Each child is a ``finsent`` subcommand in its own process group. Its output is copied
line by line to ours with a ``[name]`` prefix. A long-running child that exits ends
the whole group (a broken worker should not leave a dashboard pretending all is well),
unless it exits with a status it names as "start me again" (a worker whose broker lost
its topics), a few times; a one-shot child (a replay) may finish.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    oneshot: bool = False
    #: Exit statuses after which the child is started again, at most ``max_restarts``
    #: times in all.
    restart_on: frozenset[int] = frozenset()
    max_restarts: int = 5
    restarts: int = field(default=0, init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, out: IO[str]) -> None:
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, args=(self.process, out), daemon=True).start()

    def _pump(self, process: subprocess.Popen[bytes], out: IO[str]) -> None:
        assert process.stdout is not None
        with process.stdout:
            for raw in iter(process.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                # tqdm redraws with carriage returns: show the latest state only
                print(f"[{self.name}] {line.rsplit(chr(13), 1)[-1]}", file=out, flush=True)

    @property
    def restartable(self) -> bool:
        """It ended with a status that asks to start it again, and may be started again."""
        return self.returncode in self.restart_on and self.restarts < self.max_restarts

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def wait(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


def finsent_argv(*args: str) -> list[str]:
    """The argv that runs ``finsent ARGS`` with this interpreter."""
    return [sys.executable, "-m", "finsent", *args]


def supervise(children: list[Child], stop: threading.Event, out: IO[str]) -> int:
    """Start ``children`` and wait until ``stop`` is set or a long-running one exits.
    Then stop them all (SIGTERM, then SIGKILL after 30 s). Returns the exit status."""
    for child in children:
        child.start(out)
    status = 0
    while not stop.wait(0.5):
        for c in children:
            if c.restartable:
                c.restarts += 1
                print(
                    f"[up] {c.name} exited with status {c.returncode}: starting it again "
                    f"({c.restarts} of at most {c.max_restarts})",
                    file=out,
                    flush=True,
                )
                c.start(out)
        ended = [c for c in children if c.returncode is not None and not c.oneshot]
        failed = [c for c in children if c.oneshot and c.returncode not in (None, 0)]
        if ended or failed:
            for c in ended + failed:
                print(f"[up] {c.name} exited with status {c.returncode}", file=out, flush=True)
            status = 1
            break
    shutdown(children)
    return status


def shutdown(children: list[Child], grace: float = 30.0) -> None:
    for child in children:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        if child.wait(max(0.1, deadline - time.monotonic())) is None:
            child.signal(signal.SIGKILL)
            child.wait(5)
