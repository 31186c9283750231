"""The ``finsent`` command as a user runs it: a real process, real services."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.processes import FINSENT


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FINSENT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["config"],
        ["db"],
        ["db", "upgrade"],
        ["db", "downgrade"],
        ["db", "current"],
        ["db", "check"],
        ["broker"],
    ],
)
def test_every_command_has_help(command: list[str], cli_env: dict[str, str]) -> None:
    result = run([*command, "--help"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "Usage: finsent" in result.stdout


def test_options_name_their_environment_variables(cli_env: dict[str, str]) -> None:
    assert "FINSENT_DATABASE_URL" in run(["db", "upgrade", "--help"], cli_env).stdout
    broker_help = run(["broker", "--help"], cli_env).stdout
    assert "FINSENT_BROKER_PORT" in broker_help and "FINSENT_BROKER_HOST" in broker_help


def test_db_upgrade_current_check_on_postgresql(empty_pg_url: str, cli_env: dict[str, str]) -> None:
    cli_env["FINSENT_DATABASE_URL"] = empty_pg_url
    before = run(["db", "current"], cli_env)
    assert before.returncode == 0 and "base (empty)" in before.stdout
    up = run(["db", "upgrade"], cli_env)
    assert up.returncode == 0, up.stderr
    assert "database at revision 0001" in up.stdout
    assert "(up to date)" in run(["db", "current"], cli_env).stdout
    check = run(["db", "check"], cli_env)
    assert check.returncode == 0, check.stderr
    assert "models and migrations agree" in check.stdout
    down = run(["db", "downgrade", "base"], cli_env)
    assert down.returncode == 0 and "base (empty)" in down.stdout


def test_db_upgrade_defaults_to_sqlite_under_the_data_dir(cli_env: dict[str, str]) -> None:
    result = run(["db", "upgrade"], cli_env)
    assert result.returncode == 0, result.stderr
    assert (Path(cli_env["FINSENT_DATA_DIR"]) / "finsent.db").is_file()
    assert run(["db", "check"], cli_env).returncode == 0


def test_check_refuses_a_database_behind_head(cli_env: dict[str, str]) -> None:
    result = run(["db", "check"], cli_env)
    assert result.returncode == 1
    assert "run `finsent db upgrade` first" in one_line_error(result)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres ql://x", "cannot parse database URL"),
        ("mysql://root@localhost/x", "unsupported database 'mysql'"),
    ],
)
def test_malformed_database_urls(url: str, expected: str, cli_env: dict[str, str]) -> None:
    cli_env["FINSENT_DATABASE_URL"] = url
    result = run(["db", "current"], cli_env)
    assert result.returncode == 1
    assert expected in one_line_error(result)


def test_unreachable_database_names_the_host_after_a_bounded_retry(
    cli_env: dict[str, str],
) -> None:
    with socket.socket() as s:  # a port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli_env["FINSENT_DATABASE_URL"] = f"postgresql://u:secret@127.0.0.1:{port}/finsent"
    cli_env["FINSENT_DATABASE_CONNECT_RETRIES"] = "2"
    cli_env["FINSENT_DATABASE_CONNECT_RETRY_DELAY"] = "0.1"
    result = run(["db", "upgrade"], cli_env)
    assert result.returncode == 1
    line = one_line_error(result)
    assert f"127.0.0.1:{port}/finsent after 3 attempt(s)" in line
    assert "secret" not in result.stderr
    assert result.stderr.count("retry") == 2


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FINSENT_MODEL_DEVICE", "gpu"),
        ("FINSENT_BROKER_PORT", "ninety"),
        ("FINSENT_LOG_LEVEL", "chatty"),
    ],
)
def test_an_unknown_setting_value_exits_2_with_one_line(
    var: str, value: str, cli_env: dict[str, str]
) -> None:
    cli_env[var] = value
    result = run(["config"], cli_env)
    assert result.returncode == 2
    assert one_line_error(result).startswith(f"error: {var}={value!r} is not valid")


def test_a_bad_option_value_exits_2(cli_env: dict[str, str]) -> None:
    result = run(["broker", "--port", "99999"], cli_env)
    assert result.returncode == 2
    assert "FINSENT_BROKER_PORT=99999" in one_line_error(result)


def test_config_masks_the_password(cli_env: dict[str, str]) -> None:
    cli_env["FINSENT_DATABASE_URL"] = "postgresql+psycopg://app:hunter2@db:5432/finsent"
    result = run(["config"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert "FINSENT_DATABASE_URL = postgresql+psycopg://app:***@db:5432/finsent" in result.stdout
    assert "FINSENT_KAFKA_BOOTSTRAP_SERVERS = (unset)" in result.stdout
