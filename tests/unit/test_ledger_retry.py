"""The ledger's results.tsv after a write that failed: the retried verdict writes the row."""

from __future__ import annotations

import json
from pathlib import Path

from services.ledger.handlers import LedgerContext, on_event
from services.ledger.store import EventStore
from shared.bus import handle_message
from shared.events import CampaignStarted, VerdictDecided
from tests.message_fakes import FakeMsg

HEAD = "b" * 40


def verdict(number: int) -> VerdictDecided:
    return VerdictDecided(campaign="c1", experiment_id=f"c1-{number:04d}", producer="evaluator/1",
                          commit=f"{number:040d}", status="keep", val_bpb=1.0 - number / 100, head=HEAD,
                          description=f"experiment {number}")


async def test_verdict_redelivered_after_a_failed_write_puts_its_row_in_results_tsv(tmp_path: Path):
    store = EventStore(tmp_path / "events.sqlite3")
    store.add(CampaignStarted(campaign="c1", experiment_id="c1-0000", producer="trainer/1", branch="autoresearch/c1",
                              base_commit=HEAD, bundle="b", lookahead=1))
    folder = tmp_path / "results"
    folder.write_text("")  # a file where the results folder belongs: the first write fails
    ctx = LedgerContext(store, folder, {})
    handlers = {VerdictDecided.subject: lambda event: on_event(event, ctx)}
    first = FakeMsg(VerdictDecided.subject, verdict(1).model_dump_json().encode())

    await handle_message(first, handlers, ack_wait=30.0, max_deliver=5)
    assert first.settled == ["nak"]  # stored, but results.tsv could not be written: handed back

    folder.unlink()
    again = first.redelivered()
    await handle_message(again, handlers, ack_wait=30.0, max_deliver=5)
    assert again.settled == ["ack"]
    rows = ctx.results_path("c1").read_text().splitlines()
    assert rows[1:] == [f"{'0' * 7}\t0.990000\t0.0\tkeep\texperiment 1"]
    store.close()


def test_a_stored_event_that_no_longer_validates_is_skipped_not_raised(tmp_path: Path):
    store = EventStore(tmp_path / "events.sqlite3")
    store.add(verdict(1))
    loose = verdict(2).model_dump(mode="json") | {"reason": "x" * 20_000}  # over today's bound on a reason
    with store.db:
        store.db.execute(
            "INSERT INTO events (event_id, type, campaign, experiment_id, occurred_at, payload) VALUES (?,?,?,?,?,?)",
            ("old-1", VerdictDecided.subject, "c1", "c1-0002", loose["occurred_at"], json.dumps(loose)),
        )
    assert [event.experiment_id for event in store.events("c1")] == ["c1-0001"]
    assert [v.experiment_id for v in store.verdicts("c1")] == ["c1-0001"]
    store.close()
