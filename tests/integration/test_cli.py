"""The ``finsent`` command as a user runs it: a real process, real services."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from testkit.processes import FINSENT


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
        ["up"],
        ["worker"],
        ["publish"],
        ["replay"],
        ["train"],
        ["evaluate"],
        ["demo-data"],
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
    from storage.migrate import head_revision

    assert f"database at revision {head_revision()}" in up.stdout
    assert "(up to date)" in run(["db", "current"], cli_env).stdout
    check = run(["db", "check"], cli_env)
    assert check.returncode == 0, check.stderr
    assert "models and migrations agree" in check.stdout
    down = run(["db", "downgrade", "base"], cli_env)
    assert down.returncode == 0 and "base (empty)" in down.stdout


def test_db_upgrade_defaults_to_an_embedded_postgresql_under_the_data_dir(
    cli_env: dict[str, str],
) -> None:
    result = run(["db", "upgrade"], cli_env)
    assert result.returncode == 0, result.stderr
    pgdata = Path(cli_env["FINSENT_DATA_DIR"]) / "postgres"
    assert (pgdata / "PG_VERSION").read_text().strip().startswith("18")
    assert not (pgdata / "postmaster.pid").exists()  # stopped when the command exited
    check = run(["db", "check"], cli_env)  # started again, the migrated schema still there
    assert check.returncode == 0, check.stderr
    assert "models and migrations agree" in check.stdout


def test_an_old_sqlite_data_dir_gets_one_clear_message(cli_env: dict[str, str]) -> None:
    data = Path(cli_env["FINSENT_DATA_DIR"])
    data.mkdir(parents=True)
    (data / "finsent.db").write_bytes(b"SQLite format 3\x00")
    result = run(["db", "upgrade"], cli_env)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "finsent.db" in line]
    assert len(notices) == 1
    assert "no longer reads" in notices[0] and f"delete {data / 'finsent.db'}" in notices[0]


def test_check_refuses_a_database_behind_head(cli_env: dict[str, str]) -> None:
    result = run(["db", "check"], cli_env)
    assert result.returncode == 1
    assert "run `finsent db upgrade` first" in one_line_error(result)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("notaurl", "cannot parse database URL 'notaurl'"),
        ("postgres ql://x", "cannot parse database URL"),
        ("mysql://root@localhost/x", "unsupported database 'mysql'"),
    ],
)
def test_malformed_database_urls(url: str, expected: str, cli_env: dict[str, str]) -> None:
    cli_env["FINSENT_DATABASE_URL"] = url
    result = run(["db", "current"], cli_env)
    assert result.returncode == 2
    line = one_line_error(result)
    assert line.startswith("error: FINSENT_DATABASE_URL: ")
    assert expected in line
    assert "unset FINSENT_DATABASE_URL for the embedded PostgreSQL server" in line


def test_a_malformed_database_url_option_names_the_option(cli_env: dict[str, str]) -> None:
    result = run(["db", "current", "--database-url", "notaurl"], cli_env)
    assert result.returncode == 2
    assert one_line_error(result).startswith("error: --database-url: cannot parse")


def refused_quickly(url: str, cli_env: dict[str, str]) -> tuple[str, str]:
    """Run ``db current`` on ``url`` with a retry budget of a minute; return the error
    line and stderr, checking that it failed at once."""
    import time

    cli_env["FINSENT_DATABASE_URL"] = url
    cli_env["FINSENT_DATABASE_CONNECT_RETRIES"] = "5"
    cli_env["FINSENT_DATABASE_CONNECT_RETRY_DELAY"] = "2"
    started = time.monotonic()
    result = run(["db", "current"], cli_env)
    assert time.monotonic() - started < 20  # 2+4+8+16+32 s with retries
    assert result.returncode == 1
    assert "retry" not in result.stderr
    return one_line_error(result), result.stderr


def test_a_missing_database_fails_at_once_saying_what_to_do(
    empty_pg_url: str, cli_env: dict[str, str]
) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(empty_pg_url).set(database="finsent_no_such_db")
    line, _ = refused_quickly(url.render_as_string(hide_password=False), cli_env)
    assert line.startswith("error: FINSENT_DATABASE_URL: ")
    assert 'database "finsent_no_such_db" does not exist' in line
    assert 'create it (CREATE DATABASE "finsent_no_such_db")' in line


def test_an_unknown_user_fails_at_once_saying_what_to_do(
    empty_pg_url: str, cli_env: dict[str, str]
) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(empty_pg_url).set(username="finsent_no_such_role", password="sesame")
    line, stderr = refused_quickly(url.render_as_string(hide_password=False), cli_env)
    assert line.startswith("error: FINSENT_DATABASE_URL: ")
    assert "refused user 'finsent_no_such_role'" in line
    assert "check the user name and password" in line
    assert "sesame" not in stderr


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


@pytest.fixture
def publish_to(broker: Any, cli_env: dict[str, str]) -> tuple[str, str]:
    """``cli_env`` aimed at the run's broker with topics of its own: (bootstrap, raw topic)."""
    from testkit.processes import unique_prefix

    prefix = unique_prefix()
    cli_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    cli_env["FINSENT_KAFKA_TOPIC_PREFIX"] = prefix
    return broker.bootstrap_servers, f"{prefix}news.raw"


def test_publish_sends_valid_rows_keyed_by_id(
    publish_to: tuple[str, str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    import json

    from streams.records import stable_id
    from testkit.processes import consume_all

    bootstrap, raw_topic = publish_to
    path = tmp_path / "items.jsonl"
    path.write_text(
        '{"title": "Oil jumps", "url": "https://a.example/1"}\n'
        '{"title": ""}\n'
        '{"title": "Fed holds rates", "source": "wire"}\n'
        '{"title": "broken\n'
    )
    result = run(["publish", "--skip-bad-lines", str(path)], cli_env)
    assert result.returncode == 0, result.stderr
    assert "published 2 of 2 items" in result.stdout
    assert "line 2: empty title" in result.stderr
    assert "line 4: not JSON" in result.stderr
    assert f"skipped 2 bad lines (lines 2, 4) of {path}" in result.stderr
    got = consume_all(bootstrap, raw_topic, expect=2)
    keys = sorted(k.decode() for k, _ in got if k)
    assert keys == sorted(
        [
            stable_id("https://a.example/1", "items", "Oil jumps"),
            stable_id(None, "wire", "Fed holds rates"),
        ]
    )
    assert all(json.loads(v or b"{}")["schema"] == 1 for _, v in got)


def test_publish_to_an_unreachable_broker_is_one_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    from streams.broker_process import free_port

    cli_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"
    cli_env["FINSENT_KAFKA_CONNECT_TIMEOUT"] = "3"
    path = tmp_path / "items.jsonl"
    path.write_text('{"title": "Oil jumps", "source": "s"}\n')
    result = run(["publish", str(path)], cli_env, timeout=120)
    assert result.returncode == 1
    assert "cannot reach Kafka" in one_line_error(result)
    assert result.stderr.strip().splitlines() == [one_line_error(result)]  # no client noise


@pytest.mark.parametrize("command", ["publish", "replay"])
@pytest.mark.parametrize(
    ("name", "content", "bad"),
    [
        (
            "items.jsonl",
            '{"title": "Oil jumps"}\n{"title": "Fed\n[1]\n{"title": "Gold slips"}\n',
            "2 bad lines (lines 2, 3)",
        ),
        (
            "items.csv",
            'title,url\n"Oil jumps,https://a.example/1\nFed holds,\nGold slips,\n',
            "1 bad line (line 2)",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_its_lines(
    command: str, name: str, content: str, bad: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    cli_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"  # never reached
    path = tmp_path / name
    path.write_text(content)
    result = run([command, str(path)], cli_env, timeout=20)
    assert result.returncode == 1
    line = one_line_error(result)
    assert f"{path}: {bad}; nothing was sent" in line
    assert "--skip-bad-lines to send the 2 good items" in line
    assert f"bad {path}: line 2: " in result.stderr


def test_replay_reads_the_time_formats_of_news_exports(
    publish_to: tuple[str, str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    import json

    from testkit.processes import consume_all

    bootstrap, raw_topic = publish_to
    path = tmp_path / "export.csv"
    path.write_text(
        "headline,published_at\n"
        'Oil jumps,"Mon, 01 Dec 2025 08:00:00 GMT"\n'
        "Fed holds,01/12/2025 08:00:01\n"
        "Gold slips,2025-12-01 08:00:02\n"
        "Tin rises,1764576003\n"
        "Zinc falls,2025-12-01T09:00:04+01:00\n"
        '"Copper,12/31/2025\n'
    )
    args = ["replay", str(path), "--keep-time", "--speed", "1000", "--skip-bad-lines"]
    result = run(args, cli_env)
    assert result.returncode == 0, result.stderr
    assert "replayed 5 of 5 items" in result.stdout
    assert f"skipped 1 bad line (line 7) of {path}" in result.stderr
    got = consume_all(bootstrap, raw_topic, expect=5)
    times = sorted(json.loads(v or b"{}")["published_at"] for _, v in got)
    assert times == [f"2025-12-01T08:00:0{n}Z" for n in range(5)]


def test_worker_refuses_a_malformed_watchlist_naming_the_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("topics:\n  - name: oil\n    patterns: ['(unclosed']\n")
    result = run(["worker", "--watchlist", str(watchlist)], cli_env)
    assert result.returncode == 1
    assert f"{watchlist} line 2 (topic 'oil') pattern '(unclosed'" in one_line_error(result)


def test_worker_without_a_model_says_how_to_train_one(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    cli_env["FINSENT_MODEL_PATH"] = str(tmp_path / "missing-model")
    result = run(["worker"], cli_env)
    assert result.returncode == 1
    line = one_line_error(result)
    assert str(tmp_path / "missing-model") in line
    assert "finsent train" in line


def test_demo_data_writes_a_replayable_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    import json

    labelled = tmp_path / "labelled.csv"
    rows = [f'"Oil prices slump as demand fades {n}",0' for n in range(12)]
    rows += [f'"Shares edge higher in quiet trade {n}",1' for n in range(40)]
    labelled.write_text("text,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "demo.jsonl"
    result = run(["demo-data", "--out", str(out), "--csv", str(labelled), "--items", "40"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "planted surge of 12 negative 'oil-energy' headlines" in result.stdout
    assert "the timing is made up" in result.stdout
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == 52
    assert {"title", "source", "url", "published_at"} <= set(items[0])


def test_worker_against_an_unreachable_broker_is_one_line(
    pipeline_model: Path, cli_env: dict[str, str]
) -> None:
    from streams.broker_process import free_port

    cli_env["FINSENT_MODEL_PATH"] = str(pipeline_model)
    cli_env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_port()}"
    cli_env["FINSENT_KAFKA_CONNECT_TIMEOUT"] = "3"
    result = run(["worker"], cli_env, timeout=180)
    assert result.returncode == 1
    assert "cannot reach Kafka" in one_line_error(result)
    assert "kafka." not in result.stderr, result.stderr
