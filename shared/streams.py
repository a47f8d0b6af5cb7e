"""The streams of the bus: their names and subjects, and setting them up (the admin's work) or checking them."""

from __future__ import annotations

from collections.abc import Iterable

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from shared.events import EVENT_TYPES, Event, RunProgress

STREAM = "AUTORESEARCH"
# Step lines are chatty (one every few seconds of every run): they live in their own stream with bounded
# retention, so replays of the record never grow with them.
PROGRESS_STREAM = "AUTORESEARCH_PROGRESS"
PROGRESS_LIMITS = {"max_msgs": 100_000, "max_bytes": 256 * 1024 * 1024}
STREAMS: dict[str, list[str]] = {
    STREAM: [subject for subject in EVENT_TYPES if subject != RunProgress.subject],
    PROGRESS_STREAM: [RunProgress.subject],
}
OBJECT_BUCKET = "autoresearch-objects"
OBJECT_STREAM = f"OBJ_{OBJECT_BUCKET}"  # the stream JetStream keeps the object store in


class BusSetupError(Exception):
    """The bus cannot be used as it is (a stream missing, credentials refused): waiting or restarting will not help."""


def missing_stream(name: str) -> BusSetupError:
    """The error that stops a service whose stream (or object store) is not there."""
    what = f"the object store {OBJECT_BUCKET}" if name == OBJECT_STREAM else f"the stream {name}"
    return BusSetupError(f"{what} does not exist: start with `autoresearch up` or create it with an admin credential")


def stream_of(kinds: Iterable[type[Event]]) -> str:
    """The one stream holding these event types; a consumer or replay reads one stream."""
    streams = {name for kind in kinds for name, subjects in STREAMS.items() if kind.subject in subjects}
    if len(streams) != 1:
        raise ValueError(f"event types {sorted(k.__name__ for k in kinds)} do not live in exactly one stream: {streams}")
    return streams.pop()


async def check_streams(js: JetStreamContext) -> None:
    """Make sure the event streams and the object store exist; BusSetupError names the first one missing."""
    for name in (*STREAMS, OBJECT_STREAM):
        try:
            await js.stream_info(name)
        except NotFoundError:
            raise missing_stream(name) from None


async def ensure_streams(js: JetStreamContext) -> None:
    """Create the event streams with file storage, or bring their subjects and limits up to date; create the object store."""
    # The record first: in a store made before run.progress had its own stream, the record's `run.*`
    # must give way before the progress stream can claim the subject.
    for name, subjects in STREAMS.items():
        limits = PROGRESS_LIMITS if name == PROGRESS_STREAM else {}
        config = js_api.StreamConfig(
            name=name, subjects=subjects, storage=js_api.StorageType.FILE, duplicate_window=600.0,
            discard=js_api.DiscardPolicy.OLD, **limits,
        )
        try:
            await js.stream_info(name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)
    try:
        await js.object_store(OBJECT_BUCKET)
    except NotFoundError:
        await js.create_object_store(
            OBJECT_BUCKET, config=js_api.ObjectStoreConfig(bucket=OBJECT_BUCKET, storage=js_api.StorageType.FILE)
        )
