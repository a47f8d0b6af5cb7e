"""The chaos benchmark's fuzz corpus: malformed, mistyped, huge and foreign payloads for every event subject, and sending it."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from datetime import UTC, datetime

import nats
from chaos_watch import quiet

from shared.events import EVENT_TYPES

HASH = "f" * 40
EPOCH, FAR_FUTURE = "1970-01-01T00:00:00+00:00", "2999-12-31T23:59:59+00:00"
_FIELDS = {  # what each event type needs beyond the common fields, with plausible values
    "campaign.started": {"branch": "autoresearch/fuzz", "base_commit": HASH, "bundle": "fuzz", "lookahead": 1},
    "proposal.requested": {"base_commit": HASH, "sequence": 1},
    "proposal.created": {"base_commit": HASH, "description": "fuzz", "edits": [{"search": "A = 1", "replace": "A = 2"}]},
    "proposal.rejected": {"reason": "fuzz", "description": "fuzz"},
    "commit.made": {"commit": HASH, "parent": HASH, "message": "experiment: fuzz", "description": "fuzz", "diff": "",
                    "lines_added": 0, "lines_removed": 0, "bundle": "fuzz"},
    "commit.stale": {"commit": HASH, "head": HASH},
    "run.started": {"commit": HASH, "command": "true"},
    "run.progress": {"commit": HASH, "step": 1},
    "run.finished": {"commit": HASH, "status": "ok", "metrics": {"val_bpb": 0.5}},
    "verdict.decided": {"commit": HASH, "status": "keep", "head": HASH, "val_bpb": 0.5},
    "campaign.finished": {"experiments": 1, "head": HASH},
}
_TEXT = ("log_tail", "diff", "rationale", "reason", "description", "producer")  # the first one a type has gets the huge text


def plausible_event(subject: str, campaign: str, /, **changes: object) -> dict:
    """A JSON object shaped like an event of this type (valid as long as the contracts keep these fields), changed as asked."""
    now = datetime.now(UTC).isoformat()
    event = {"event_id": uuid.uuid4().hex, "type": subject, "schema_version": 1, "campaign": campaign,
             "experiment_id": f"{campaign}-0001", "occurred_at": now, "producer": "fuzz/1", **_FIELDS.get(subject, {})}
    if subject == "run.finished":
        event.update(started_at=now, finished_at=now)
    event.update(changes)
    return event


def fuzz_corpus(subject: str, campaign: str, rng: random.Random) -> list[tuple[str, bytes]]:
    """(category, payload) for one subject: nothing valid names `campaign`; valid-looking events name unknown campaigns."""

    def dump(event: dict) -> bytes:
        return json.dumps(event).encode()

    def stranger() -> str:
        return f"fuzz-{rng.randrange(16 ** 8):08x}"

    unknown = {"injected": {"rm": "-rf /"}}  # a field no contract has: invalid under any version of the contracts
    text = next((name for name in _TEXT if name in plausible_event(subject, campaign)), "producer")
    nested = b"[" * 100_000 + b"]" * 100_000
    return [
        *(("malformed json", p) for p in (b"{not json", b'{"type": "' + subject.encode(), b"", b"null", b"[1, 2, 3]",
                                          b"\xff\xfe\x00\x01", nested, b'"' + b"\\u0000" * 1000 + b'"')),
        ("wrong types", dump(plausible_event(subject, campaign, experiment_id=12345))),
        ("wrong types", dump(plausible_event(subject, campaign, campaign=[campaign]))),
        ("wrong types", dump(plausible_event(subject, campaign, schema_version="one", occurred_at="yesterday"))),
        ("wrong types", dump(plausible_event(subject, campaign, type="commit.made" if subject != "commit.made" else "run.started"))),
        ("wrong types", dump({key: None for key in plausible_event(subject, campaign)})),
        ("wrong types", dump(plausible_event(subject, campaign, **unknown))),
        ("huge fields", dump(plausible_event(subject, campaign, **unknown, **{text: "x" * 900_000}))),
        ("huge fields", dump(plausible_event(subject, stranger(), **{text: "x" * 900_000}))),
        ("unknown campaign", dump(plausible_event(subject, stranger()))),
        ("unknown campaign", dump(plausible_event(subject, "-not a campaign-"))),
        ("dates of 1970 and 2999", dump(plausible_event(subject, stranger(), occurred_at=EPOCH))),
        ("dates of 1970 and 2999", dump(plausible_event(subject, stranger(), occurred_at=FAR_FUTURE))),
        ("dates of 1970 and 2999", dump(plausible_event(subject, campaign, occurred_at="1970-13-45T99:99:99Z"))),
        ("ids of 1 MB", dump(plausible_event(subject, stranger(), event_id="i" * 1_000_000))),
        ("ids of 1 MB", dump(plausible_event(subject, stranger(), experiment_id="e" * 1_000_000))),
    ]


async def send_fuzz(url: str, campaign: str, rng: random.Random, sent: Counter) -> None:
    """One round of the fuzz corpus at every subject, from a plain NATS client; counts what went out in sent."""
    nc = await nats.connect(url, max_reconnect_attempts=3, error_cb=quiet)
    try:
        for subject in EVENT_TYPES:
            for category, payload in fuzz_corpus(subject, campaign, rng):
                try:
                    await nc.publish(subject, payload)
                    sent[category] += 1
                    sent["bytes"] += len(payload)
                except Exception:
                    sent["refused by the client"] += 1
            await nc.flush(timeout=10)
    finally:
        await nc.close()
