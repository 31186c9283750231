"""Signed webhook delivery from the PostgreSQL outbox, with durable retries.

Pure parts (``classify``, ``backoff``, ``retry_after``, ``next_step``, ``signed_headers``,
``probe_targets``, ``next_probe``) decide; ``Deliverer`` does the I/O: it claims due rows
(leased, ``SKIP LOCKED``), posts them with the Standard Webhooks headers, records every
attempt, and schedules the next one. It runs as its own asyncio task (HTTP is async, the
database calls go to threads), so a slow or dead receiver never holds up the
classify/persist agents.

- 2xx: delivered.
- 408, 429, 5xx and network errors: retried with exponential back-off and jitter
  (``Retry-After`` honoured) until the delivery's horizon, then failed.
- 410 Gone: the receiver is disabled (and its pending deliveries with it).
- any other status (other 4xx, a redirect): failed at once, not retried.

A receiver that recovers is not left to its deliveries' back-offs (up to
``RetryPolicy.max_delay``): while it has pending deliveries none of which is due, the
deliverer sends the earliest queued one ahead of time as a probe, at most every
``RetryPolicy.probe`` seconds (a failed probe is an attempt like any other); once any
delivery to it succeeds, its other pending deliveries are due at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from sqlalchemy import Engine
from standardwebhooks import Webhook

from alerts.config import Receiver
from alerts.evaluator import AlertingConfig
from alerts.formats import render
from core.outage import Outage
from storage.alerts import (
    AttemptResult,
    DeliveryJob,
    claim_due,
    claim_probe,
    get_event,
    hurry_pending,
    latest_event,
    record_attempt,
)

log = logging.getLogger(__name__)


def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"finsent/{version('finsent')}"
    except PackageNotFoundError:
        return "finsent"


USER_AGENT = _user_agent()

Outcome = Literal["delivered", "retry", "failed", "disabled"]
RETRYABLE = {408, 429}
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 5.0
    max_delay: float = 600.0
    jitter: float = 0.5
    #: Seconds between probes of a receiver whose pending deliveries are all waiting.
    probe: float = 15.0


def classify(status: int | None) -> Outcome:
    """What a response (None: no response, a network error) means for the delivery."""
    if status is None or status in RETRYABLE or 500 <= status <= 599:
        return "retry"
    if 200 <= status <= 299:
        return "delivered"
    if status == 410:
        return "disabled"
    return "failed"


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds before retry number ``attempt`` (1-based): doubling, capped, jittered
    down by up to ``jitter`` of itself so that many deliverers do not retry in step."""
    delay = min(policy.max_delay, policy.base * 2 ** max(0, attempt - 1))
    return float(delay * (1 - policy.jitter * rng.random()))


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_step(
    job: DeliveryJob,
    status: int | None,
    error: str | None,
    *,
    started_at: datetime,
    duration_ms: float,
    retry_after_s: float | None,
    policy: RetryPolicy,
    rng: random.Random,
) -> AttemptResult:
    """The outcome of one attempt and, for a retry, when the next one is due."""
    outcome = classify(status)
    next_at = None
    if outcome == "retry":
        delay = backoff(job.attempts + 1, policy, rng)
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        next_at = started_at + timedelta(seconds=delay)
        if job.give_up_at is not None and next_at > job.give_up_at:
            outcome = "failed"
            error = f"gave up after {job.attempts + 1} attempts: {error or f'HTTP {status}'}"
            next_at = None
    if outcome == "failed" and error is None:
        error = f"HTTP {status}: not retried"
    if outcome == "disabled":
        error = error or "410 Gone: receiver disabled"
    return AttemptResult(outcome, started_at, duration_ms, status, error, next_at)


def probe_targets(
    receivers: Sequence[str],
    not_before: Mapping[str, float],
    busy: Collection[str],
    now: float,
    limit: int,
) -> list[str]:
    """The receivers to probe now, at most ``limit``, longest waiting first: those whose
    ``not_before`` (a clock reading; absent: never probed) has come and that this
    deliverer is not sending to already (``busy``: that request tells as much)."""
    if limit <= 0:
        return []
    ready = [r for r in receivers if r not in busy and not_before.get(r, -math.inf) <= now]
    ready.sort(key=lambda r: not_before.get(r, -math.inf))
    return ready[:limit]


def next_probe(now: float, interval: float, retry_after_s: float | None = None) -> float:
    """When a receiver may be probed next, after a probe or a refused attempt at ``now``:
    one ``interval`` later, or when its ``Retry-After`` ends if that is later."""
    return now + max(interval, retry_after_s or 0.0)


def signed_headers(receiver: Receiver, msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """Standard Webhooks headers over ``id.timestamp.body`` plus the receiver's own."""
    signature = Webhook(receiver.secret).sign(msg_id, now, body.decode())
    return {
        **receiver.headers,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"


async def post(
    client: httpx.AsyncClient, receiver: Receiver, msg_id: str, url: str, body: bytes
) -> tuple[int | None, str | None, float | None, datetime, float]:
    """POST once: (status, error, retry-after seconds, started at, duration in ms)."""
    started = datetime.now(UTC)
    clock = time.monotonic()
    try:
        response = await client.post(
            url,
            content=body,
            headers=signed_headers(receiver, msg_id, body, started),
            timeout=receiver.timeout,
        )
    except httpx.HTTPError as e:
        elapsed = (time.monotonic() - clock) * 1000
        reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        return None, _short(reason), None, started, elapsed
    elapsed = (time.monotonic() - clock) * 1000
    error = None
    if not 200 <= response.status_code <= 299:
        error = _short(f"HTTP {response.status_code}: {response.text[:200]}")
    wait = retry_after(response.headers.get("retry-after"), started)
    return response.status_code, error, wait, started, elapsed


class Deliverer:
    """Claims due outbox rows and sends them, ``concurrency`` at a time."""

    def __init__(
        self,
        engine: Engine,
        config: AlertingConfig,
        policy: RetryPolicy,
        *,
        poll: float = 1.0,
        concurrency: int = 4,
        worker: str = "finsent",
        external_url: str | None = None,
        rng: random.Random | None = None,
        on_attempt: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.config, self.policy = engine, config, policy
        #: Told (receiver, outcome) after each recorded attempt, e.g. to count it.
        self.on_attempt = on_attempt
        self.poll, self.concurrency, self.worker = poll, concurrency, worker
        self.external_url = external_url
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.names = [r.name for r in config.receivers]
        longest = max((r.timeout for r in config.receivers), default=10.0)
        self.lease = timedelta(seconds=longest + 30)
        self._claim_outage = Outage("claiming webhook deliveries (every poll)", log)
        self.clock = clock
        #: receiver -> when (``clock``) it may be probed next; requests in flight to it
        self._probe_at: dict[str, float] = {}
        self._busy: Counter[str] = Counter()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        running: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(follow_redirects=False) as client:
            try:
                while not stop.is_set():
                    free = self.concurrency - len(running)
                    jobs = await self._claim(free) if free > 0 else []
                    probes = await self._probe(free - len(jobs)) if free > len(jobs) else []
                    for job, probe in [(j, False) for j in jobs] + [(j, True) for j in probes]:
                        self._busy[job.receiver] += 1
                        task = asyncio.create_task(self._deliver(client, job, probe))
                        running.add(task)
                        task.add_done_callback(running.discard)
                    jobs += probes
                    if len(jobs) < free or free <= 0:  # nothing more due now, or full
                        await self._wait(stop, running)
            finally:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)

    async def _wait(self, stop: asyncio.Event, running: set[asyncio.Task[None]]) -> None:
        """Until stop, a finished delivery, or the poll interval, whichever comes first."""
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {stopper, *running}, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopper.cancel()

    async def _claim(self, limit: int) -> list[DeliveryJob]:
        now = datetime.now(UTC)
        try:
            jobs = await asyncio.to_thread(
                claim_due, self.engine, self.names, now, now + self.lease, limit
            )
        except Exception as e:  # the database may be away; try again next poll
            self._claim_outage.failed(e)  # logged once per outage, not once per poll
            return []
        self._claim_outage.succeeded()
        return jobs

    async def _probe(self, limit: int) -> list[DeliveryJob]:
        """Claim a probe for each receiver whose probe time has come (none if nothing
        of it is waiting, it was tried lately, or it is disabled: see ``claim_probe``)."""
        busy = {name for name, n in self._busy.items() if n > 0}
        jobs = []
        for name in probe_targets(self.names, self._probe_at, busy, self.clock(), limit):
            self._probe_at[name] = next_probe(self.clock(), self.policy.probe)
            now = datetime.now(UTC)
            quiet_since = now - timedelta(seconds=self.policy.probe)
            try:
                job = await asyncio.to_thread(
                    claim_probe, self.engine, name, now + self.lease, quiet_since
                )
            except Exception as e:  # the database may be away; try again next poll
                self._claim_outage.failed(e)
                break
            if job is not None:
                jobs.append(job)
        return jobs

    async def deliver_due(self) -> int:
        """One pass: claim what is due and send it all (for tests and the CLI)."""
        jobs = await self._claim(1000)
        self._busy.update(job.receiver for job in jobs)
        async with httpx.AsyncClient(follow_redirects=False) as client:
            await asyncio.gather(*(self._deliver(client, job) for job in jobs))
        return len(jobs)

    def _event(self, job: DeliveryJob, receiver: Receiver) -> dict[str, Any] | None:
        alert = job.payload.get("alert_id")
        if receiver.format == "alertmanager-api" and isinstance(alert, str):
            return latest_event(self.engine, alert)
        return get_event(self.engine, job.event_id)

    async def _deliver(
        self, client: httpx.AsyncClient, job: DeliveryJob, probe: bool = False
    ) -> None:
        try:
            await self._attempt(client, job, probe)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The row stays leased and is retried when the lease ends.
            log.exception("delivery %s to %s: unexpected error", job.event_id, job.receiver)
        finally:
            self._busy[job.receiver] -= 1

    async def _attempt(self, client: httpx.AsyncClient, job: DeliveryJob, probe: bool) -> None:
        receiver = self.config.receiver(job.receiver)
        assert receiver is not None  # only configured receivers are claimed
        event = await asyncio.to_thread(self._event, job, receiver)
        wait = None
        if event is None:
            now = datetime.now(UTC)
            result = AttemptResult("failed", now, 0.0, None, "event not found in alert_events")
        else:
            url, body = render(
                receiver,
                event,
                now=datetime.now(UTC),
                resend=self.config.resend,
                external_url=self.external_url,
            )
            status, error, wait, started, elapsed = await post(
                client, receiver, job.event_id, url, body
            )
            result = next_step(
                job,
                status,
                error,
                started_at=started,
                duration_ms=elapsed,
                retry_after_s=wait,
                policy=self.policy,
                rng=self.rng,
            )
        await asyncio.to_thread(record_attempt, self.engine, job, result, self.worker)
        if self.on_attempt is not None:
            self.on_attempt(job.receiver, result.outcome)
        log.log(
            logging.INFO if result.outcome == "delivered" else logging.WARNING,
            "webhook %s -> %s: %s (%sattempt %d%s)",
            job.event_id,
            job.receiver,
            result.outcome,
            "probe, " if probe else "",
            job.attempts + 1,
            f", {result.error}" if result.error else "",
        )
        if result.outcome == "retry":
            later = next_probe(self.clock(), self.policy.probe, wait)
            self._probe_at[job.receiver] = max(self._probe_at.get(job.receiver, later), later)
        elif result.outcome == "delivered":
            await self._hurry(job.receiver)

    async def _hurry(self, receiver: str) -> None:
        """The receiver answers: what waits for it is due now."""
        now = datetime.now(UTC)
        try:
            moved = await asyncio.to_thread(
                hurry_pending, self.engine, receiver, now, now + self.lease
            )
        except Exception as e:  # they go out at their own times instead
            log.warning("webhooks to %s: could not bring the queue forward: %s", receiver, e)
            return
        if moved:
            log.info(
                "webhooks to %s: it answers again, %d queued deliveries due now", receiver, moved
            )
