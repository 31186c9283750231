"""``finsent up``: the embedded all-in-one for a laptop, started by one command."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from finsent.cli.api import check_api_startable
from finsent.cli.app import Option, UserError, cli, settings_options, stop_on_signals
from finsent.cli.dashboard import check_port_free as check_dashboard_port
from finsent.cli.demo import DEMO_LANGUAGES, make_demo
from finsent.runtime import (
    children_environ,
    open_engine,
    running_local_broker,
    training_csvs,
)
from finsent.settings import Settings
from finsent.supervisor import Child, finsent_argv, supervise
from streams.topics import TOPICS_CHANGED


def ensure_model(settings: Settings) -> None:
    """Train a first model (FINSENT_MODEL_FIRST_PROFILE, quick by default) into the
    default model path when nothing is there yet, on the configured CSVs or the set that
    ships with finsent.

    A configured FINSENT_MODEL_PATH (a directory or a Hugging Face id) is used as it is:
    the worker's loader says clearly what is wrong with it.
    """
    path = Path(settings.model_path).expanduser()
    if settings.model.path is not None or path.is_dir():
        return
    profile = settings.model.first_profile
    train, valid = training_csvs(settings, profile)
    click.echo(f"no model at {path}: training one ({profile} profile) on {train}")
    train_into(
        path,
        "the first model",
        ["--profile", profile, "--train", str(train), "--valid", str(valid)],
    )


def ensure_zh_model(settings: Settings) -> None:
    """Train a model for Chinese items (the multilingual-e5-small base, quick profile, on
    the shipped multilingual set) into the default path when the Chinese demo needs one
    and none is configured or there yet."""
    from finsent.datasets import MULTILINGUAL_CSV, tfns_csv

    if settings.zh_model_path is not None:
        return
    path = settings.general.data_dir / "models" / "finsent-sentiment-zh"
    click.echo(
        f"no model for Chinese items at {path}: training one (multilingual-e5-small, quick "
        f"profile) on {MULTILINGUAL_CSV}; this takes about half an hour on 2 CPU cores"
    )
    base = ["--base", "multilingual-e5-small", "--profile", "quick"]
    data = ["--train", str(MULTILINGUAL_CSV), "--valid", str(tfns_csv("valid"))]
    train_into(path, "the model for Chinese items", base + data)


def train_into(path: Path, what: str, options: list[str]) -> None:
    """``finsent train OPTIONS --out PATH`` in a child process, its output on the
    terminal; a failure is one line naming ``what`` was being trained, and where."""
    argv = finsent_argv("train", *options, "--out", str(path))
    if subprocess.run(argv, check=False).returncode != 0:
        raise UserError(f"training {what} into {path} failed (see above)")


def demo_alerting(settings: Settings, env: dict[str, str]) -> list[Child]:
    """Make the built-in demo raise its planted alert, and show the signed webhook.

    The demo replays six hours of history in minutes with the items' own times, so the
    rules follow the data's clock (``FINSENT_ALERTS_CLOCK=data``) and look often. When no
    receivers are configured, a ``webhook-echo`` child receives the alerts and prints them.
    Explicit settings in the environment win.
    """
    env.setdefault("FINSENT_ALERTS_CLOCK", "data")
    env.setdefault("FINSENT_ALERTS_INTERVAL", "5")
    if settings.alerts.receivers is not None or not settings.alerts.enabled:
        return []
    from streams.broker_process import free_port

    secret = (
        settings.alerts.secret.get_secret_value()
        if settings.alerts.secret is not None
        else "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    port = free_port()
    receivers = settings.general.data_dir / "demo-receivers.yaml"
    receivers.write_text(
        "# Written by `finsent up --demo`: the demo's alerts go to its webhook-echo child.\n"
        "receivers:\n"
        "  - name: webhook-echo\n"
        f"    url: http://127.0.0.1:{port}/\n"
        "    format: generic\n"
    )
    env.update(FINSENT_ALERTS_RECEIVERS=str(receivers), FINSENT_ALERTS_SECRET=secret)
    return [Child("webhook-echo", finsent_argv("webhook-echo", "--port", str(port)), env)]


@cli.command("up")
@settings_options("database.url", Option("broker.port", "--broker-port"))
@click.option(
    "--demo",
    is_flag=True,
    help="Replay the demo: six hours of real headlines on a synthetic clock ending now, "
    "with one planted surge of negative news on one topic that raises an alert (sent, "
    "signed, to a webhook-echo child unless FINSENT_ALERTS_RECEIVERS is set). Rebuilt "
    "each run under the data directory. Skipped when FINSENT_FEEDS_FILE names feeds: "
    "they are polled instead.",
)
@click.option(
    "--demo-lang",
    type=click.Choice(DEMO_LANGUAGES),
    default="en",
    show_default=True,
    help="The built-in demo's language: en (real headlines) or zh (Chinese headlines "
    "written for the demo; a model for Chinese items is trained first if there is none: "
    "about half an hour on 2 CPU cores).",
)
@click.option(
    "--demo-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replay this CSV/JSONL file of news items instead, its times moved to start now.",
)
@click.option(
    "--demo-speed",
    type=click.FloatRange(min=0.001),
    default=60.0,
    show_default=True,
    help="Time compression of the demo replay.",
)
def up_command(
    demo: bool, demo_lang: str, demo_file: Path | None, demo_speed: float, settings: Settings
) -> None:
    """Run finsent on its embedded defaults until Ctrl-C.

    Migrates the database (an embedded PostgreSQL server under the data directory
    unless FINSENT_DATABASE_URL is set), trains a first model if none exists (quick
    profile, on the set that ships with finsent),
    starts the embedded Kafka-protocol broker (unless FINSENT_KAFKA_BOOTSTRAP_SERVERS
    names an existing Kafka) and the worker, the feed scheduler when FINSENT_FEEDS_FILE
    is set (else, with --demo, replays the demo), the dashboard and the read API. Every
    child's log lines are prefixed with its name; Ctrl-C stops them all.
    """
    from storage import migrate
    from storage.db import describe

    engine = open_engine(settings)  # an embedded server lives as long as this process
    migrate.upgrade(engine)
    click.echo(f"database: {describe(engine.url)} at revision {migrate.current_revision(engine)}")
    engine.dispose()
    if settings.uses_local_broker:  # fail now, not after training a model
        from streams.broker_process import check_port_free

        check_port_free(settings.broker.host, settings.broker.port)
        if settings.broker.kind == "kafka":
            from streams.kafka_broker import find_java

            find_java()
    check_dashboard_port(settings.dashboard.host, settings.dashboard.port)
    check_api_startable(settings)
    feeds_file = settings.sources.file
    if feeds_file is not None:  # a malformed feed file fails now, naming its line
        from sources.feeds import load_feeds

        click.echo(f"feeds: {len(load_feeds(feeds_file))} in {feeds_file}")
        if demo and demo_file is None:
            click.echo("feeds are configured: polling them instead of replaying the demo")
            demo = False
    ensure_model(settings)
    history = demo and demo_file is None  # the built-in demo: 6 h of history ending now
    if history and demo_lang == "zh":
        ensure_zh_model(settings)
    if history:
        from storage.alerts import restart_data_clock

        demo_file = settings.general.data_dir / "demo.jsonl"
        click.echo(
            make_demo(settings, None, demo_file, hours=6.0, items=1500, seed=7, lang=demo_lang)
        )
        # Its six hours end now: they overlap an earlier demo's, which the rules' clock
        # has passed already; the clock starts over with this replay.
        restart_data_clock(engine)
    stop = stop_on_signals()
    with ExitStack() as stack:
        bootstrap = settings.bootstrap_servers
        if settings.uses_local_broker:
            broker = stack.enter_context(running_local_broker(settings))
            bootstrap = broker.bootstrap_servers
            click.echo(f"kafka: {broker.kind_name} at {bootstrap} ({broker.persistence()})")
        else:
            click.echo(f"kafka: external bootstrap {bootstrap}")
        given = children_environ(settings, engine, bootstrap)
        # what up gives wins over a secret file the user named for it (NAME_FILE)
        env = {k: v for k, v in os.environ.items() if k.removesuffix("_FILE") not in given}
        env.update(given)
        children = []
        if history:
            children += demo_alerting(settings, env)
        restart_on = frozenset({TOPICS_CHANGED})  # its broker lost its topics
        children.insert(0, Child("worker", finsent_argv("worker"), env, restart_on=restart_on))
        if demo_file is not None:
            timing = "--keep-time" if history else "--rebase"
            replay = finsent_argv("replay", str(demo_file), "--speed", str(demo_speed), timing)
            children.append(Child("demo", replay, env, oneshot=True))
        if feeds_file is not None:
            children.append(Child("scheduler", finsent_argv("scheduler"), env))
        children.append(Child("dashboard", finsent_argv("dashboard"), env))
        children.append(Child("api", finsent_argv("api"), env))
        click.echo(
            f"finsent is up: {', '.join(c.name for c in children)}; dashboard at "
            f"http://{settings.dashboard.host}:{settings.dashboard.port}, API at "
            f"http://{settings.api.host}:{settings.api.port}/docs. Ctrl-C stops everything."
        )
        status = supervise(children, stop, sys.stdout)
    click.echo("finsent stopped")
    if status:
        raise SystemExit(status)
