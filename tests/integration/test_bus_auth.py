"""A bus no one else can write to: a real nats-server with the project's credentials and per-role permissions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import nats
import pytest

from shared.auth import BusCredentials, ensure_credentials
from shared.bus import OBJECT_BUCKET, OBJECT_STREAM, PROGRESS_STREAM, STREAM, STREAMS, Bus, BusSetupError, connect
from shared.credentials import connect_options
from shared.embedded import EmbeddedNats
from shared.events import EVENT_TYPES
from shared.permissions import MONITOR, SERVICE_ROLES, event_subjects
from tests.conftest import AuthNats

FORGED = ("verdict.decided", "run.finished", "campaign.finished", "proposal.requested", "commit.made")


class Client:
    """A plain NATS client of one role that keeps the errors the server sends it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: nats.NATS | None = None

    async def open(self, server: AuthNats, role: str) -> Client:
        async def keep(exc: Exception) -> None:
            self.errors.append(str(exc).lower())

        self.nc = await nats.connect(server.url, error_cb=keep, **connect_options(server.creds(role)))
        return self

    async def refused(self, count: int) -> list[str]:
        """The permission violations the server reported, once there are count of them (or the server fell silent)."""
        await self.nc.flush()
        for _ in range(100):
            if len(self.violations) >= count:
                break
            await asyncio.sleep(0.02)
        return self.violations

    @property
    def violations(self) -> list[str]:
        return [error for error in self.errors if "permissions violation" in error]


async def stored(bus: Bus, expected: int) -> dict[str, int]:
    """How many messages the event streams hold, by subject, once they hold expected (or stopped growing)."""
    for _ in range(100):
        counts: dict[str, int] = {}
        for stream in STREAMS:
            info = await bus.js.stream_info(stream, subjects_filter=">")
            counts.update(info.state.subjects or {})
        if sum(counts.values()) >= expected:
            break
        await asyncio.sleep(0.02)
    return counts


async def in_effect(reader: nats.NATS, writer: nats.NATS) -> None:
    """Return once the server holds reader's subscriptions so far.

    nats-py's flush can overtake subscriptions still in its buffer, so a probe subscribed after them has to arrive.
    """
    probe = reader.new_inbox()
    arrived = asyncio.Event()

    async def note(msg) -> None:
        arrived.set()

    await reader.subscribe(probe, cb=note)
    for _ in range(100):
        await writer.publish(probe, b"")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), 0.05)
            return
    raise AssertionError("the subscriptions never took effect")


async def quiet(exc: Exception) -> None:
    """An error callback that keeps nats-py from printing each failed attempt."""


@pytest.fixture
async def admin(auth_nats_server: AuthNats) -> AsyncIterator[Bus]:
    """`up`'s connection: the admin credential, which sets up the streams and the object store."""
    bus = await connect(auth_nats_server.url, "test/admin", auth_nats_server.creds("admin"), manage=True)
    yield bus
    await bus.close()


async def test_a_client_without_credentials_is_refused_at_once(auth_nats_server: AuthNats) -> None:
    with pytest.raises(BusSetupError, match="refused the connection without credentials"):
        await connect(auth_nats_server.url, "test/anonymous", wait=30.0)
    with pytest.raises(nats.errors.NoServersError):
        await nats.connect(auth_nats_server.url, max_reconnect_attempts=1, reconnect_time_wait=0.1, error_cb=quiet)


async def test_a_seed_the_server_does_not_know_is_refused(auth_nats_server: AuthNats, tmp_path) -> None:
    stranger = ensure_credentials(tmp_path / "elsewhere")["admin"]
    with pytest.raises(BusSetupError, match="refused the credentials"):
        await connect(auth_nats_server.url, "test/stranger", str(stranger), manage=True)


async def test_the_monitor_reads_the_stream_and_sees_events_but_publishes_nothing(
    auth_nats_server: AuthNats, admin: Bus,
) -> None:
    monitor = await Client().open(auth_nats_server, MONITOR)
    live: list[str] = []

    async def seen(msg) -> None:
        live.append(msg.subject)

    await monitor.nc.subscribe("run.*", cb=seen)  # as `nats sub 'run.*'` does
    await in_effect(monitor.nc, admin.nc)
    await admin.js.publish("run.finished", b'{"real": true}', stream=STREAM)
    stored_message = await monitor.nc.jetstream().get_msg(STREAM, subject="run.finished", direct=False)
    assert stored_message.data == b'{"real": true}'
    for subject in EVENT_TYPES:
        await monitor.nc.publish(subject, b"{}")
    assert len(await monitor.refused(len(EVENT_TYPES))) == len(EVENT_TYPES)
    assert live == ["run.finished"]
    assert await stored(admin, 1) == {"run.finished": 1}
    await monitor.nc.close()


@pytest.mark.parametrize("role", SERVICE_ROLES)
async def test_each_service_publishes_its_own_subjects_and_no_others(auth_nats_server: AuthNats, admin: Bus, role: str) -> None:
    client = await Client().open(auth_nats_server, role)
    for subject in EVENT_TYPES:
        await client.nc.publish(subject, b"{}")
    own = set(event_subjects(role))
    refused = await client.refused(len(EVENT_TYPES) - len(own))
    assert {error.rsplit('"', 2)[-2] for error in refused} == set(EVENT_TYPES) - own
    assert await stored(admin, len(own)) == {subject: 1 for subject in own}
    await client.nc.close()


async def test_a_proposer_cannot_forge_what_others_say(auth_nats_server: AuthNats, admin: Bus) -> None:
    proposer = await connect(auth_nats_server.url, "test/proposer", auth_nats_server.creds("proposer"))
    js = proposer.nc.jetstream(timeout=0.5)  # a refused publish is never acknowledged: fail fast
    answers = await asyncio.gather(*(js.publish(subject, b"{}", stream=STREAM) for subject in FORGED), return_exceptions=True)
    assert all(isinstance(answer, nats.errors.TimeoutError) for answer in answers)
    await js.publish("proposal.created", b"{}", stream=STREAM)
    assert await stored(admin, 1) == {"proposal.created": 1}
    await proposer.close()


def stream_attacks(role: str) -> list[str]:
    """JetStream API requests that would delete, purge, change or take over the bus's streams."""
    attacks = [f"$JS.API.STREAM.{verb}.{stream}" for verb in ("DELETE", "PURGE", "UPDATE") for stream in (*STREAMS, OBJECT_STREAM)]
    attacks += [f"$JS.API.STREAM.CREATE.{STREAM}", "$JS.API.STREAM.CREATE.TAKEOVER", f"$JS.API.STREAM.MSG.DELETE.{STREAM}"]
    if role in ("editor", "trainer"):  # the bundle store's writers may replace an object's chunks, nothing else
        attacks.remove(f"$JS.API.STREAM.PURGE.{OBJECT_STREAM}")
    return attacks


async def test_no_credential_but_the_admins_can_delete_purge_or_change_a_stream(auth_nats_server: AuthNats, admin: Bus) -> None:
    await admin.js.publish("run.finished", b"{}", stream=STREAM)
    roles = [*SERVICE_ROLES, MONITOR]
    clients = {role: await Client().open(auth_nats_server, role) for role in roles}
    answers = await asyncio.gather(*(
        client.nc.request(subject, b"{}", timeout=0.5) for role, client in clients.items() for subject in stream_attacks(role)
    ), return_exceptions=True)
    assert answers and all(isinstance(answer, nats.errors.TimeoutError) for answer in answers)
    for role, client in clients.items():
        assert len(await client.refused(len(stream_attacks(role)))) == len(stream_attacks(role)), role
        await client.nc.close()
    assert (await admin.js.stream_info(STREAM)).state.messages == 1
    assert {info.config.name for info in await admin.js.streams_info()} == {*STREAMS, OBJECT_STREAM}
    assert await admin.js.object_store(OBJECT_BUCKET)


async def test_the_admin_credential_may_delete_a_stream(auth_nats_server: AuthNats, admin: Bus) -> None:
    """The refusals above are the permissions', not the server's: the admin's same request is carried out."""
    await admin.nc.request(f"$JS.API.STREAM.DELETE.{PROGRESS_STREAM}", b"", timeout=2)
    assert PROGRESS_STREAM not in {info.config.name for info in await admin.js.streams_info()}


async def test_a_service_credential_does_not_set_up_streams(auth_nats_server: AuthNats) -> None:
    with pytest.raises(BusSetupError, match="the stream AUTORESEARCH does not exist"):
        await connect(auth_nats_server.url, "test/ledger", auth_nats_server.creds("ledger"))
    with pytest.raises(BusSetupError, match="may not set up the streams"):
        await connect(auth_nats_server.url, "test/ledger", auth_nats_server.creds("ledger"), manage=True)


def test_a_service_started_before_the_streams_exist_stops_with_a_clear_message(auth_nats_server: AuthNats) -> None:
    env = {**os.environ, "NATS_URL": auth_nats_server.url, "NATS_CREDS": auth_nats_server.creds("evaluator")}
    done = subprocess.run([sys.executable, "-m", "autoresearch", "service", "evaluator"], env=env,
                          capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "the stream AUTORESEARCH does not exist: start with `autoresearch up` or create it with an admin credential" in output
    assert "Traceback" not in output


async def test_a_user_and_password_file_logs_in_where_the_server_has_passwords(tmp_path) -> None:
    config = tmp_path / "nats.conf"
    config.write_text('authorization { user: "trainer", password: "s3cret" }\n')
    server = EmbeddedNats(tmp_path / "nats", config=config)
    url = server.start()
    try:
        login, wrong = tmp_path / "login", tmp_path / "wrong"
        login.write_text("user=trainer\npassword=s3cret\n")
        wrong.write_text("user=trainer\npassword=guess\n")
        bus = await connect(url, "test/login", str(login), manage=True)
        assert (await bus.js.stream_info(STREAM)).config.name == STREAM
        await bus.close()
        with pytest.raises(BusSetupError, match="refused the credentials"):
            await connect(url, "test/login", str(wrong))
    finally:
        server.stop()


async def test_an_embedded_server_restarted_by_up_still_admits_only_the_credentials(tmp_path) -> None:
    from autoresearch.supervision import keep_nats_up

    credentials = BusCredentials.prepare(tmp_path / "creds")
    server = EmbeddedNats(tmp_path / "nats", config=credentials.config)
    url = server.start()
    stop, failure = asyncio.Event(), []
    keeper = asyncio.create_task(keep_nats_up(server, stop, failure, every=0.05))
    try:
        first = server.process.pid
        server.kill()
        for _ in range(400):
            if server.process.pid != first and server.process.poll() is None:
                break
            await asyncio.sleep(0.05)
        assert server.process.pid != first and server.url == url
        with pytest.raises(BusSetupError, match="without credentials"):
            await connect(url, "test/anonymous", wait=10.0)
        bus = await connect(url, "test/admin", credentials.file("admin"), manage=True, wait=10.0)
        await bus.close()
    finally:
        stop.set()
        await keeper
        server.stop()


async def test_the_event_tail_of_up_and_watch_gets_in_with_the_watchers_credential_only(
    auth_nats_server: AuthNats, admin: Bus,
) -> None:
    from autoresearch.tail import EventTail, TailError
    from shared.events import VerdictDecided

    seen: list = []
    with pytest.raises(TailError, match="Authorization Violation"):
        await EventTail(auth_nats_server.url, None, seen.append).start(wait=1.0)
    tail = EventTail(auth_nats_server.url, "c1", seen.append, access=connect_options(auth_nats_server.creds(MONITOR)))
    await tail.start()
    await in_effect(tail.nc, admin.nc)
    await admin.publish(VerdictDecided(campaign="c1", experiment_id="c1-0001", producer="test/1", commit="1" * 40,
                                       status="keep", head="a" * 40))
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.02)
    await tail.close()
    assert [event.experiment_id for event in seen] == ["c1-0001"]
