"""The NATS JetStream bus: one stream, validated publishes, durable pull consumers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from shared.answers import RecentAnswers, SettledMessage
from shared.connection import Complaints, reach, unless_refused
from shared.credentials import CredentialsError, TlsFiles, connect_options
from shared.events import Event, parse_event
from shared.failures import RetryLater, is_permanent, redelivery_delay
from shared.streams import (  # noqa: F401 (the streams' names are the bus's too: services import them from here)
    OBJECT_BUCKET, OBJECT_STREAM, PROGRESS_STREAM, STREAM, STREAMS, BusSetupError, check_streams,
    ensure_streams, missing_stream, stream_of,
)

# How long an event handed to a process that died waits before JetStream gives it to the next one: the
# longest pause in a service's recovery. Live handlers keep their events with in-progress acks every third of it.
ACK_WAIT = 8.0
JETSTREAM_TIMEOUT = 4.0  # seconds to wait for a JetStream reply (a publish's acknowledgement, an API call)
FETCH_WAIT = 1.0  # seconds one pull request waits for a message; a stop ends the wait at once
log = structlog.get_logger("bus")

Handler = Callable[[Event], Awaitable[None]]
Handlers = Mapping[type[Event], Handler]


@dataclass
class Bus:
    """A connection to NATS with the project's stream and object store."""

    nc: NATS
    js: JetStreamContext
    producer: str
    _objects: object | None = field(default=None, repr=False)
    _closing: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def publish(self, event: Event) -> None:
        """Validate and publish an event, deduplicated by its event_id."""
        payload = type(event).model_validate(event.model_dump()).model_dump_json().encode()
        stream = stream_of([type(event)])
        await self.js.publish(event.subject, payload, stream=stream, headers={"Nats-Msg-Id": event.event_id})
        log.debug("published", subject=event.subject, experiment_id=event.experiment_id)

    async def objects(self):
        """Return the object store bucket that carries git bundles (made when the streams are set up)."""
        if self._objects is None:
            try:
                self._objects = await self.js.object_store(OBJECT_BUCKET)
            except NotFoundError:
                raise missing_stream(OBJECT_STREAM) from None
        return self._objects

    async def close(self) -> None:
        """Drain the connection: finish in-flight work, then close."""
        self._closing.set()
        with contextlib.suppress(Exception):
            await self.nc.drain()


async def connect(
    url: str, producer: str, creds: str | None = None, wait: float = 60.0, *, tls: TlsFiles | None = None,
    manage: bool | None = None,
) -> Bus:
    """Connect to NATS (waiting up to `wait` seconds for it, then reconnecting forever) and check the streams.

    creds is one credentials file of any kind (see shared/credentials.py). manage: create or bring up to date the
    streams and the object store, the admin's work (`autoresearch up`); otherwise they must exist already. None
    manages them only on a connection without credentials, to a server that lets anyone do it anyway.
    """
    try:
        options = connect_options(creds, tls)
    except CredentialsError as exc:
        raise BusSetupError(str(exc)) from None
    complaints, closing = Complaints(), asyncio.Event()  # closing: set by Bus.close, a disconnect then is expected
    nc = await reach(url, producer, options, wait, complaints, closing)
    if nc is None and complaints.login_refused:
        who = f"the credentials in {creds}" if creds else "the connection without credentials"
        raise BusSetupError(f"NATS at {url} refused {who}: set NATS_CREDS to a credentials file the server knows")
    if nc is None:
        raise BusSetupError(
            f"TLS with NATS at {url} failed ({complaints.final_reason}): see NATS_TLS_CA, NATS_TLS_CERT, NATS_TLS_KEY"
        )
    # A JetStream acknowledgement takes milliseconds; one whose request died with the server never comes, and
    # the handler waiting for it is retried only when this runs out, so it is short.
    js = nc.jetstream(timeout=JETSTREAM_TIMEOUT)
    try:
        if manage if manage is not None else not creds:
            await unless_refused(ensure_streams(js), complaints)
        else:
            await check_streams(js)
    except BaseException:
        closing.set()
        await nc.close()
        raise
    return Bus(nc=nc, js=js, producer=producer, _closing=closing)


async def _keep_alive(msg: Msg, every: float) -> None:
    """Tell JetStream we are still working on msg, so it is not redelivered elsewhere."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):
            await msg.in_progress()


async def _run_unless_stopped(work: Awaitable[None], stop: asyncio.Event | None) -> bool:
    """Await work; return False if stop was set first (work is then cancelled)."""
    task = asyncio.ensure_future(work)
    if stop is None:
        await task
        return True
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False


async def handle_message(
    msg: Msg, handlers: Mapping[str, Handler], ack_wait: float, max_deliver: int, stop: asyncio.Event | None = None
) -> None:
    """Decode, dispatch and acknowledge one message; never raises.

    When stop is set while the handler runs, the handler is cancelled and the
    message is handed back to JetStream, to be handled again after a restart.
    """
    handler = handlers.get(msg.subject)
    if handler is None:
        await msg.ack()
        return
    try:
        event = parse_event(msg.data, msg.subject)
    except (ValidationError, ValueError) as exc:
        log.error("malformed event set aside", subject=msg.subject, reason=str(exc)[:500])
        await msg.term()
        return
    keeper = asyncio.create_task(_keep_alive(msg, max(ack_wait / 3, 0.5)))
    try:
        if not await _run_unless_stopped(handler(event), stop):
            log.info("handler interrupted by shutdown", subject=msg.subject, experiment_id=event.experiment_id)
            await msg.nak()
            return
    except RetryLater as exc:
        delivered = msg.metadata.num_delivered if msg.metadata else 1
        log.warning("event handed back for later", subject=msg.subject, experiment_id=event.experiment_id, reason=str(exc))
        await msg.nak(delay=redelivery_delay(delivered, retry_later=True))
    except Exception as exc:  # a handler bug must not take the consumer down
        delivered = msg.metadata.num_delivered if msg.metadata else 1
        if is_permanent(exc):  # it would fail the same way again: set it aside now, not after max_deliver tries
            log.error(
                "event set aside", subject=msg.subject, experiment_id=event.experiment_id, error=type(exc).__name__,
                reason=str(exc)[:500],
            )
            await msg.term()
            return
        log.exception("handler failed", subject=msg.subject, experiment_id=event.experiment_id, delivered=delivered)
        if 0 < max_deliver <= delivered:
            log.error("event set aside after retries", subject=msg.subject, reason=str(exc)[:500])
            await msg.term()
        else:
            await msg.nak(delay=redelivery_delay(delivered, retry_later=False))
    else:
        await msg.ack()
    finally:
        keeper.cancel()


async def consume(
    bus: Bus,
    durable: str,
    handlers: Handlers,
    stop: asyncio.Event,
    *,
    ack_wait: float = ACK_WAIT,
    max_deliver: int = 5,
    max_ack_pending: int = 1,
    deliver_new: bool = False,
) -> None:
    """Run a durable pull consumer over the handlers' event types until stop is set.

    Across a NATS outage it keeps fetching (each fetch waits at most a second) and, once reconnected,
    gives its latest answers again, so a server that was killed and lost them does not hold it back.
    Setting stop ends a waiting fetch at once: no message is begun after it.
    """
    stream = stream_of(handlers)
    by_subject = {kind.subject: handler for kind, handler in handlers.items()}
    subjects = sorted(by_subject)
    config = js_api.ConsumerConfig(
        durable_name=durable, ack_policy=js_api.AckPolicy.EXPLICIT, ack_wait=ack_wait, max_deliver=max_deliver,
        filter_subjects=subjects, max_ack_pending=max_ack_pending,
        deliver_policy=js_api.DeliverPolicy.NEW if deliver_new else js_api.DeliverPolicy.ALL,
    )
    try:
        await bus.js.add_consumer(stream, config)
    except Exception as exc:  # an existing durable with other settings is kept as it is
        log.debug("consumer exists", durable=durable, detail=str(exc))
    sub = await bus.js.pull_subscribe_bind(durable=durable, stream=stream)
    log.info("consuming", durable=durable, subjects=list(subjects))
    answers = RecentAnswers()
    reconnects = bus.nc.stats["reconnects"]
    try:
        while not stop.is_set():
            if bus.nc.stats["reconnects"] != reconnects:
                reconnects = bus.nc.stats["reconnects"]
                await answers.give_again(bus.nc, durable)
            try:
                msgs = await _fetch_unless_stopped(sub, stop)
            except (TimeoutError, asyncio.TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:
                log.warning("fetch failed", durable=durable, error=str(exc))
                await _run_unless_stopped(asyncio.sleep(FETCH_WAIT), stop)
                continue
            for msg in msgs:
                kept = SettledMessage(msg)
                await handle_message(kept, by_subject, ack_wait, max_deliver, stop)
                answers.remember(kept)
    finally:
        # The pull request a cancelled fetch left on the server dies with the subscription, so what is
        # published from now on stays in the stream for the next consumer instead of coming to this one.
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _fetch_unless_stopped(sub: JetStreamContext.PullSubscription, stop: asyncio.Event) -> list[Msg]:
    """One fetch of at most FETCH_WAIT seconds, cancelled the moment stop is set (then nothing is returned).

    A message that arrives as the fetch is cancelled is never handled here: it is left unacknowledged,
    and JetStream delivers it again (see `consume`).
    """
    fetching = asyncio.ensure_future(sub.fetch(1, timeout=FETCH_WAIT))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not fetching.done():
            fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetching
    if fetching.cancelled():
        return []
    msgs = fetching.result()
    if stop.is_set():  # fetched in the same moment as the stop: handed back at once rather than begun
        for msg in msgs:
            with contextlib.suppress(Exception):
                await msg.nak()
        return []
    return msgs
