"""`finsent dashboard` refuses what cannot work with one line, before Streamlit starts."""

from __future__ import annotations

import socket
import subprocess

from testkit.processes import FINSENT


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FINSENT, "dashboard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_names_every_setting(cli_env: dict[str, str]) -> None:
    out = run(cli_env, "--help").stdout
    for var in (
        "FINSENT_DATABASE_URL",
        "FINSENT_DASHBOARD_HOST",
        "FINSENT_DASHBOARD_PORT",
        "FINSENT_DASHBOARD_REFRESH_INTERVAL",
    ):
        assert var in out


def test_an_unreachable_database_is_one_line(cli_env: dict[str, str]) -> None:
    cli_env["FINSENT_DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    result = run(cli_env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot connect to the database at 127.0.0.1:1/nowhere")
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_one_line(cli_env: dict[str, str], pg_url: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        cli_env.update(FINSENT_DATABASE_URL=pg_url, FINSENT_DASHBOARD_PORT=str(s.getsockname()[1]))
        result = run(cli_env)
    assert result.returncode == 1
    assert "is already in use" in result.stderr and "FINSENT_DASHBOARD_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_is_one_line(cli_env: dict[str, str]) -> None:
    cli_env["FINSENT_DASHBOARD_REFRESH_INTERVAL"] = "soon"
    result = run(cli_env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "FINSENT_DASHBOARD_REFRESH_INTERVAL='soon'" in result.stderr
