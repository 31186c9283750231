"""`finsent up` on a clean data directory: database migrated, broker answering, clean stop."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from streams.embedded_broker import answers_metadata, free_port
from tests.processes import FINSENT


def test_up_runs_the_embedded_defaults_and_stops_cleanly(cli_env: dict[str, str]) -> None:
    port = free_port()
    cli_env["FINSENT_BROKER_PORT"] = str(port)
    proc = subprocess.Popen(
        [FINSENT, "up"], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("finsent is up"):
                break
        assert any(line.startswith("finsent is up") for line in lines), lines
        assert f"kafka: embedded broker at 127.0.0.1:{port} (memory only)" in lines
        assert any(
            line.startswith("database: sqlite:///") and "revision 0001" in line for line in lines
        )
        assert (Path(cli_env["FINSENT_DATA_DIR"]) / "finsent.db").is_file()
        assert answers_metadata("127.0.0.1", port)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "finsent stopped" in out
    assert not answers_metadata("127.0.0.1", port, timeout=0.5)


def test_up_reports_a_taken_broker_port(cli_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        cli_env["FINSENT_BROKER_PORT"] = str(s.getsockname()[1])
        result = subprocess.run(
            [FINSENT, "up"], env=cli_env, capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "is already in use" in result.stderr
