"""`finsent up` on a clean data directory: database migrated, broker answering, clean stop."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from storage.articles import latest_articles
from storage.db import make_engine
from streams.broker_process import answers_metadata, free_port
from testkit.processes import FINSENT, FinsentProcess, wait_until
from tests.conftest import BROKER_KINDS


@pytest.mark.parametrize("kind", BROKER_KINDS)
def test_up_runs_the_embedded_defaults_and_stops_cleanly(
    kind: str, cli_env: dict[str, str], pipeline_model: Path, tmp_path: Path
) -> None:
    port = free_port()
    demo = tmp_path / "demo.jsonl"
    demo.write_text(
        "".join(
            json.dumps(
                {
                    "title": f"Oil prices rise for day {n}",
                    "source": "demo",
                    "published_at": f"2026-03-02T10:{n:02d}:00Z",
                }
            )
            + "\n"
            for n in range(20)
        )
    )
    dashboard_port = free_port()
    cli_env.update(
        FINSENT_BROKER_KIND=kind,
        FINSENT_BROKER_PORT=str(port),
        FINSENT_MODEL_PATH=str(pipeline_model),
        FINSENT_MODEL_VARIANT="fp32",
        FINSENT_DASHBOARD_PORT=str(dashboard_port),
    )
    up = FinsentProcess(
        ["up", "--demo-file", str(demo), "--demo-speed", "600"], cli_env, tmp_path / "up.log"
    ).start()
    try:
        up.wait_for_log("finsent is up: worker, demo", timeout=120)
        data = Path(cli_env["FINSENT_DATA_DIR"])
        if kind == "kafka":
            assert (
                f"kafka: Apache Kafka at 127.0.0.1:{port} (log under {data / 'kafka'}" in up.log()
            )
            assert (data / "kafka" / "logs" / "meta.properties").is_file()  # KRaft, formatted
        else:
            assert f"kafka: embedded broker at 127.0.0.1:{port} (memory only)" in up.log()
        from storage.migrate import head_revision

        assert f"revision {head_revision()}" in up.log()
        pgdata = data / "postgres"
        assert (pgdata / "postmaster.pid").is_file()  # the embedded server, under the data dir
        engine = make_engine(up.database_url())
        wait_until(
            lambda: len(latest_articles(engine, limit=100)) == 20,
            240,
            "the demo's 20 articles in the embedded PostgreSQL",
        )
        engine.dispose()
        assert "[demo] replayed 20 of 20 items" in up.log()
        assert "[worker] " in up.log()
        assert answers_metadata("127.0.0.1", port)
        wait_until(
            lambda: "[dashboard]" in up.log() and dashboard_answers(dashboard_port),
            60,
            "the dashboard's health endpoint",
        )
        assert up.interrupt(timeout=60) == 0, up.log()[-3000:]
    finally:
        up.kill()
    assert "finsent stopped" in up.log()
    assert not answers_metadata("127.0.0.1", port, timeout=0.5)
    wait_until(lambda: not (pgdata / "postmaster.pid").exists(), 30, "the server stopped")


def dashboard_answers(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def test_up_reports_a_taken_broker_port(cli_env: dict[str, str], tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        cli_env["FINSENT_BROKER_PORT"] = str(s.getsockname()[1])
        cli_env["FINSENT_MODEL_PATH"] = str(tmp_path / "no-model-needed")
        result = subprocess.run(
            [FINSENT, "up"], env=cli_env, capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "is already in use" in result.stderr


def test_up_replays_the_chinese_demo_through_the_model_for_chinese(
    cli_env: dict[str, str], pipeline_model: Path, tmp_path: Path
) -> None:
    """Issue 26, item 5: `finsent up --demo --demo-lang zh` replays the Chinese demo's
    headlines, and the worker scores them with the model for Chinese items."""
    import shutil

    from sqlalchemy import text

    zh_model = tmp_path / "zh-model"
    shutil.copytree(pipeline_model, zh_model)
    cli_env.update(
        FINSENT_BROKER_KIND="embedded",
        FINSENT_BROKER_PORT=str(free_port()),
        FINSENT_MODEL_PATH=str(pipeline_model),
        FINSENT_MODEL_ZH_PATH=str(zh_model),
        FINSENT_MODEL_VARIANT="fp32",
        FINSENT_DASHBOARD_PORT=str(free_port()),
    )
    argv = ["up", "--demo", "--demo-lang", "zh", "--demo-speed", "3000"]
    up = FinsentProcess(argv, cli_env, tmp_path / "up.log").start()
    try:
        up.wait_for_log("finsent is up: worker, webhook-echo, demo", timeout=120)
        assert "Chinese headlines written for the demo" in up.log()
        assert "planted surge of 60 negative 'oil-energy' headlines" in up.log()
        engine = make_engine(up.database_url())

        def by_language() -> dict[tuple[str, str], int]:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT a.lang, s.model_name, count(*) FROM articles a"
                        " JOIN article_sentiment s ON s.article_id = a.id GROUP BY 1, 2"
                    )
                )
                return {(lang, model): n for lang, model, n in rows}

        wait_until(lambda: sum(by_language().values()) >= 100, 240, "100 demo articles")
        assert set(by_language()) == {("zh", "zh-model")}
        engine.dispose()
        assert up.interrupt(timeout=60) == 0, up.log()[-3000:]
    finally:
        up.kill()
