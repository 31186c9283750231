"""``finsent alerts list|test|replay|enable|deliver|evaluate`` and ``finsent webhook-echo``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import click

from finsent.cli.app import UserError, cli, settings_options, stop_on_signals
from finsent.settings import Settings, env_var


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


@cli.group("alerts")
def alerts_group() -> None:
    """Alerts: list them, test a receiver, replay an event, run the deliverer."""


@alerts_group.command("list")
@click.option("--limit", type=click.IntRange(min=1, max=10_000), default=20, show_default=True)
@click.option("--status", type=click.Choice(["firing", "resolved"]), help="Only these alerts.")
@click.option("--topic", help="Only alerts on this topic.")
@settings_options("alerts.receivers")
def list_command(limit: int, status: str | None, topic: str | None, settings: Settings) -> None:
    """The latest alerts, their events and deliveries, and the receivers' state."""
    from finsent.runtime import alerting_config, open_engine
    from storage.alerts import disabled_receivers, evaluator_status, list_alerts, list_deliveries

    config = alerting_config(settings)
    engine = open_engine(settings)
    evaluated = evaluator_status(engine)
    if evaluated is None:
        click.echo("rules never evaluated")
    else:
        click.echo(
            f"rules last evaluated {_when(evaluated.last_run_at)} by {evaluated.holder} "
            f"(buckets up to {_when(evaluated.as_of)}; {evaluated.late_items} items came "
            "after their bucket was evaluated)"
        )
    alerts = list_alerts(engine, status=status, topic=topic, limit=limit)
    if not alerts:
        click.echo("no alerts")
    for a in alerts:
        firing = a.details.get("firing", {}) if isinstance(a.details, dict) else {}
        click.echo(
            f"{_when(a.starts_at)}  {a.status:<8} {a.severity:<8} {a.rule}/{a.topic}  "
            f"value {_num(a.value)} baseline {_num(a.baseline)}  ended {_when(a.ends_at)}  "
            f"events {firing.get('id', '-')}"
            + (f", {a.details['resolved'].get('id')}" if "resolved" in a.details else "")
        )
        if firing.get("summary"):
            click.echo(f"    {firing['summary']}")
    deliveries = list_deliveries(engine, limit=limit)
    if deliveries:
        click.echo("deliveries:")
    for d in deliveries:
        click.echo(
            f"  {d.event_id} -> {d.receiver:<16} {d.status:<9} attempts {d.attempts}  "
            f"last {d.last_status or '-'}  next {_when(d.next_attempt_at)}"
            + (f"  {d.last_error}" if d.last_error and d.status != "delivered" else "")
        )
    disabled = disabled_receivers(engine)
    for r in config.receivers:
        state = "enabled"
        if r.name in disabled:
            at, why = disabled[r.name]
            state = f"DISABLED since {_when(at)}: {why} (finsent alerts enable {r.name})"
        click.echo(f"receiver {r.name} ({r.format}, {r.safe_url}): {state}")


@alerts_group.command("test")
@click.argument("receiver")
@click.option("--topic", default="test", show_default=True, help="Topic named in the test event.")
@settings_options("alerts.receivers")
def test_command(receiver: str, topic: str, settings: Settings) -> None:
    """Send a signed test event to RECEIVER now (not through the outbox); exit 1 unless
    it answers 2xx."""
    from alerts.delivery import post
    from alerts.events import test_event
    from alerts.formats import render
    from finsent.runtime import alerting_config

    config = alerting_config(settings)
    target = config.receiver(receiver)
    if target is None:
        names = ", ".join(r.name for r in config.receivers) or "none configured"
        raise UserError(f"no receiver {receiver!r} (receivers: {names})", exit_code=2)
    event = test_event(topic, datetime.now(UTC))
    if target.format == "alertmanager-api":
        event["ends_at"] = None
    url, body = render(
        target,
        event,
        now=datetime.now(UTC),
        resend=config.resend,
        external_url=config.dashboard_url,
    )

    async def send() -> tuple[int | None, str | None, float]:
        import httpx

        async with httpx.AsyncClient(follow_redirects=False) as client:
            status, error, _, _, elapsed = await post(client, target, event["id"], url, body)
        return status, error, elapsed

    status, error, elapsed = asyncio.run(send())
    if status is not None and 200 <= status <= 299:
        click.echo(f"{receiver} ({target.format}) answered {status} in {elapsed:.0f} ms")
        return
    raise UserError(f"{receiver} ({target.format}, {target.safe_url}): {error}")


@alerts_group.command("replay")
@click.argument("event_id")
@click.option(
    "--receiver",
    "only",
    multiple=True,
    help="Only to this receiver (repeatable). Default: every configured receiver.",
)
@settings_options("alerts.receivers")
def replay_command(event_id: str, only: tuple[str, ...], settings: Settings) -> None:
    """Queue EVENT_ID for delivery again (same webhook id, a fresh retry horizon)."""
    from finsent.runtime import alerting_config, open_engine
    from storage.alerts import get_event, requeue

    config = alerting_config(settings)
    names = [r.name for r in config.receivers]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise UserError(f"no receiver {', '.join(unknown)} (receivers: {', '.join(names)})", 2)
    targets = list(only) or names
    if not targets:
        raise UserError(f"no receivers configured ({env_var('alerts', 'receivers')})", 2)
    engine = open_engine(settings)
    event = get_event(engine, event_id)
    if event is None:
        raise UserError(f"no event {event_id!r} (see `finsent alerts list`)")
    now = datetime.now(UTC)
    horizon = now + config.retry_horizon
    count = requeue(engine, event_id, {"alert_id": event.get("alert_id")}, targets, now, horizon)
    click.echo(
        f"queued {event_id} ({event.get('summary', '')}) for {', '.join(targets)}: {count} "
        "deliveries pending; the worker's deliverer (or `finsent alerts deliver`) sends them"
    )


@alerts_group.command("enable")
@click.argument("receiver")
@click.option(
    "--requeue",
    is_flag=True,
    help="Also queue again the deliveries it missed while disabled (same webhook ids, a "
    "fresh retry horizon).",
)
@settings_options()
def enable_command(receiver: str, requeue: bool, settings: Settings) -> None:
    """Enable RECEIVER again after it answered 410 Gone (new events go to it again)."""
    from finsent.runtime import open_engine
    from storage.alerts import requeue_disabled, set_receiver_enabled

    engine = open_engine(settings)
    now = datetime.now(UTC)
    if set_receiver_enabled(engine, receiver, now):
        click.echo(f"{receiver} enabled")
    else:
        click.echo(f"{receiver} was not disabled")
    if requeue:
        horizon = now + timedelta(seconds=settings.alerts.retry_horizon)
        count = requeue_disabled(engine, receiver, now, horizon)
        click.echo(
            f"{count} deliveries to {receiver} queued again; the worker's deliverer "
            "(or `finsent alerts deliver`) sends them"
        )


@alerts_group.command("deliver")
@settings_options("alerts.receivers")
def deliver_command(settings: Settings) -> None:
    """Run a webhook deliverer until SIGTERM (besides or instead of the workers' own)."""
    from finsent.runtime import alerting_config, open_deliverer, open_engine

    config = alerting_config(settings)
    if not config.receivers:
        raise UserError(f"no receivers configured ({env_var('alerts', 'receivers')})", 2)
    deliverer = open_deliverer(settings, open_engine(settings), config)
    stopped = stop_on_signals()
    click.echo(f"delivering to {', '.join(deliverer.names)}", err=True)

    async def run() -> None:
        stop = asyncio.Event()

        async def watch() -> None:
            while not stopped.is_set():
                await asyncio.sleep(0.2)
            stop.set()

        watcher = asyncio.create_task(watch())
        await deliverer.run(stop)
        watcher.cancel()

    asyncio.run(run())


@alerts_group.command("evaluate")
@click.option(
    "--at",
    "at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]),
    help="Evaluate as if it were this time (UTC unless it has an offset). Default: now.",
)
@settings_options("alerts.rules", "alerts.receivers")
def evaluate_command(at: datetime | None, settings: Settings) -> None:
    """Run one evaluation round now (or --at a time) and print its events."""
    from alerts.evaluator import evaluate_once
    from finsent.runtime import alerting_config, open_engine

    config = alerting_config(settings)
    now = datetime.now(UTC) if at is None else at.replace(tzinfo=at.tzinfo or UTC)
    outcome = evaluate_once(open_engine(settings), config, now)
    if not outcome.ran:
        click.echo("another evaluator holds the lock: this round is theirs")
        return
    click.echo(f"evaluated up to {_when(outcome.as_of)}: {len(outcome.events)} events")
    for event in outcome.events:
        click.echo(json.dumps(event, ensure_ascii=False))


@cli.command("webhook-echo")
@click.option(
    "--secret",
    envvar=env_var("alerts", "secret"),
    required=True,
    help=f"Signing secret (whsec_ + base64). [env: {env_var('alerts', 'secret')}]",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=9000, show_default=True)
def webhook_echo_command(secret: str, host: str, port: int) -> None:
    """A tiny webhook receiver: verify each request's signature, print the event as one
    JSON line; 401 for a bad signature. Point a receiver's url at it."""
    from alerts.config import check_secret
    from alerts.echo import make_server, serve

    try:
        check_secret(secret)
    except ValueError as e:
        raise UserError(f"--secret: {e}", exit_code=2) from None
    try:
        server = make_server(host, port, secret)
    except OSError as e:
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"webhook-echo listening on http://{bound_host!s}:{bound_port}/", err=True)
    stopped = stop_on_signals()
    serve(server, stopped.is_set)
