"""Running finsent as a user does: real processes, real topics, counted by consuming."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

FINSENT = str(Path(sys.executable).with_name("finsent"))


#: Every process started by a test; the ``reap_processes`` fixture kills what a test
#: left running (a failed assertion must not leave a worker behind).
STARTED: list[FinsentProcess] = []


class FinsentProcess:
    """One ``finsent`` subcommand in the background, its output in a log file."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        argv: list[str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """``args`` of the installed ``finsent``, or the whole ``argv`` when given."""
        self.args, self.env, self.log_path = args, env, log_path
        self.argv, self.cwd = argv or [FINSENT, *args], cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FinsentProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        STARTED.append(self)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def database_url(self) -> str:
        """The database a ``finsent up`` uses, from its ``database: URL at revision`` line
        (an embedded server's URL has no password to hide)."""
        import re

        found = re.search(r"^database: (\S+) at revision", self.log(), re.MULTILINE)
        assert found, f"no database line in:\n{self.log()[-3000:]}"
        return found.group(1)

    def wait_for_log(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if not self.alive:
                raise AssertionError(f"{self.args} exited:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not seen in {timeout}s:\n{self.log()[-3000:]}")

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, as a user stops ``finsent up``; the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9, no goodbye."""
        if self.alive:
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 60) -> int | None:
        if self.proc is None:
            return None
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


def consume_all(
    bootstrap: str,
    topic: str,
    *,
    expect: int | None = None,
    idle: float = 3.0,
    timeout: float = 120,
) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of ``topic`` from the start: until ``expect`` are read, or nothing new
    arrived for ``idle`` seconds (delivery is proven by consuming, not by offsets)."""
    from aiokafka import AIOKafkaConsumer

    async def run() -> list[tuple[bytes | None, bytes | None]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            enable_auto_commit=False,
        )
        await consumer.start()
        got: list[tuple[bytes | None, bytes | None]] = []
        try:
            deadline = time.monotonic() + timeout
            last = time.monotonic()
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for messages in batch.values():
                    got += [(m.key, m.value) for m in messages]
                    last = time.monotonic()
                if expect is not None and len(got) >= expect:
                    break
                if expect is None and time.monotonic() - last > idle:
                    break
        finally:
            await consumer.stop()
        return got

    return asyncio.run(run())


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
