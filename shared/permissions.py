"""Who may say what on the bus: each role's publish and subscribe subjects, enforced by the NATS server.

A role is a service (several proposers share one), the ledger and watchers, who only read, and the admin
(`autoresearch up`, `autoresearch streams`), the only one that creates, updates or deletes the streams.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.streams import OBJECT_BUCKET, OBJECT_STREAM, STREAMS
from shared.events import (
    CampaignFinished, CampaignLimited, CampaignStarted, CommitMade, CommitStale, ConfirmationRequested, Event,
    ProposalCreated, ProposalExhausted, ProposalRejected, ProposalRequested, RunFinished, RunProgress, RunStarted,
    VerdictDecided,
)

ADMIN, MONITOR = "admin", "monitor"
SERVICE_ROLES = ("trainer", "evaluator", "editor", "proposer", "ledger")
ROLES = (ADMIN, *SERVICE_ROLES, MONITOR)

# The one owner of "who says what": every event type has exactly one role that may publish it.
PUBLISHES: dict[str, tuple[type[Event], ...]] = {
    "trainer": (CampaignStarted, CampaignLimited, CampaignFinished, ProposalRequested, CommitStale, RunStarted,
                RunProgress, RunFinished),
    "evaluator": (VerdictDecided, ConfirmationRequested),
    "editor": (CommitMade, ProposalRejected),
    "proposer": (ProposalCreated, ProposalExhausted),
    "ledger": (),
}
OBJECT_WRITERS = ("editor", "trainer")  # the editor ships commits, the trainer a campaign's base history
OBJECT_READERS = ("editor", "trainer", "proposer")  # the proposer reads train.py at a proposal's base commit
_API = "$JS.API"
INBOXES = "_INBOX.>"


@dataclass(frozen=True)
class Permissions:
    """The subjects one role may publish to and subscribe to; everything else the server refuses."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def _reading(role: str) -> tuple[str, ...]:
    """What a service's reading takes: the check that the streams exist, its durable consumers and the ephemeral
    ones of its replays (create, fetch, acknowledge, delete) and, for those that read bundles, the object store.

    Stream create, update, delete and purge are not among them. Found by running `up` against a server with
    these permissions and reading its log's permission violations and protocol trace.
    """
    subjects = [f"{_API}.STREAM.INFO.{stream}" for stream in (*STREAMS, OBJECT_STREAM)]
    for stream in STREAMS:
        subjects += [
            f"{_API}.CONSUMER.CREATE.{stream}", f"{_API}.CONSUMER.DURABLE.CREATE.{stream}.*",
            f"{_API}.CONSUMER.MSG.NEXT.{stream}.*", f"{_API}.CONSUMER.DELETE.{stream}.*", f"$JS.ACK.{stream}.>",
        ]
    if role in OBJECT_READERS:  # an object is read by its last meta message and an ordered consumer of its chunks
        subjects += [
            f"{_API}.STREAM.NAMES", f"{_API}.STREAM.MSG.GET.{OBJECT_STREAM}", f"{_API}.DIRECT.GET.{OBJECT_STREAM}.>",
            f"{_API}.CONSUMER.CREATE.{OBJECT_STREAM}", f"$JS.FC.{OBJECT_STREAM}.>",
        ]
    return tuple(subjects)


def _watching() -> tuple[str, ...]:
    """What a watcher may ask JetStream: information on streams and consumers and single messages; no consumer."""
    subjects = [f"{_API}.INFO", f"{_API}.STREAM.NAMES", f"{_API}.STREAM.LIST"]
    for stream in STREAMS:
        subjects += [
            f"{_API}.STREAM.INFO.{stream}", f"{_API}.STREAM.MSG.GET.{stream}", f"{_API}.DIRECT.GET.{stream}",
            f"{_API}.DIRECT.GET.{stream}.>", f"{_API}.CONSUMER.INFO.{stream}.*", f"{_API}.CONSUMER.LIST.{stream}",
            f"{_API}.CONSUMER.NAMES.{stream}",
        ]
    return tuple(subjects)


def event_subjects(role: str) -> tuple[str, ...]:
    """The event subjects a role may publish."""
    return tuple(kind.subject for kind in PUBLISHES.get(role, ()))


def permissions(role: str) -> Permissions | None:
    """A role's permissions; None for the admin, who may do anything."""
    if role == ADMIN:
        return None
    if role == MONITOR:  # `nats sub 'run.*'` asks for the family, so the families are allowed, not their members
        families = sorted({subject.split(".")[0] + ".*" for subjects in STREAMS.values() for subject in subjects})
        return Permissions(publish=_watching(), subscribe=(*families, INBOXES))
    if role not in PUBLISHES:
        raise ValueError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    # putting an object replaces the chunks of an earlier one by purging them
    objects = (f"$O.{OBJECT_BUCKET}.>", f"{_API}.STREAM.PURGE.{OBJECT_STREAM}") if role in OBJECT_WRITERS else ()
    return Permissions(publish=(*event_subjects(role), *objects, *_reading(role)), subscribe=(INBOXES,))
