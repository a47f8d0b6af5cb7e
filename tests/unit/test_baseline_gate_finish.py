"""`up` bears out the end a failed baseline announces, and reads back why it failed and how its log ended."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import autoresearch.finish as finish
from shared.events import CampaignFinished, Event, ProposalRequested, RunFinished, VerdictDecided
from shared.ids import experiment_id

CAMPAIGN, BASE = "c1", "b" * 40
IDS = dict(campaign=CAMPAIGN, producer="test/1")
NOW = datetime(2025, 11, 27, tzinfo=UTC)
LOG = "\n".join(f"line {n}" for n in range(40)) + "\n\n/bin/sh: 1: uv: not found\n"


class FakeRecord:
    """The stream as replay() reads it: the events of the asked types, in the order they were published."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, bus, kinds, campaign) -> list[Event]:
        return [event for event in self.events if isinstance(event, tuple(kinds)) and event.campaign == campaign]


@pytest.fixture
def record(monkeypatch) -> FakeRecord:
    fake = FakeRecord()
    monkeypatch.setattr(finish, "replay", fake)
    return fake


def baseline_run(status: str = "crash", reason: str | None = "/bin/sh: 1: uv: not found") -> RunFinished:
    return RunFinished(**IDS, experiment_id=experiment_id(CAMPAIGN, 0), commit=BASE, status=status, started_at=NOW,
                       finished_at=NOW, baseline=True, log_tail=LOG, metrics={"crash_reason": reason} if reason else {})


def baseline_verdict(status: str) -> VerdictDecided:
    return VerdictDecided(**IDS, experiment_id=experiment_id(CAMPAIGN, 0), commit=BASE, status=status, head=BASE,
                          baseline=True, reason="crashed: /bin/sh: 1: uv: not found")


def end(reason: str) -> CampaignFinished:
    return CampaignFinished(**IDS, experiment_id=experiment_id(CAMPAIGN, 0), experiments=0, head=BASE, reason=reason)


def ticket(sequence: int) -> ProposalRequested:
    return ProposalRequested(**IDS, experiment_id=experiment_id(CAMPAIGN, sequence), base_commit=BASE, sequence=sequence)


async def test_the_end_a_failed_baseline_announces_is_borne_out(record: FakeRecord):
    record.events += [baseline_run(), baseline_verdict("crash")]
    assert not await finish.finish_borne_out(None, CAMPAIGN)  # failed, but not yet announced
    record.events.append(end("baseline failed: /bin/sh: 1: uv: not found"))
    assert await finish.finish_borne_out(None, CAMPAIGN)


async def test_a_failed_baseline_ends_even_a_campaign_whose_tickets_went_out_during_it(record: FakeRecord):
    record.events += [ticket(1), ticket(2), baseline_run(), baseline_verdict("crash"), end("baseline failed: x")]
    assert await finish.finish_borne_out(None, CAMPAIGN)


async def test_an_end_announced_before_the_baseline_was_judged_is_not_borne_out(record: FakeRecord):
    record.events += [end("forged"), baseline_run()]
    assert not await finish.finish_borne_out(None, CAMPAIGN)
    record.events.append(baseline_verdict("crash"))
    assert not await finish.finish_borne_out(None, CAMPAIGN)  # the forged end came before the failure, not on it


async def test_the_failed_baseline_is_read_back_with_its_reason_and_the_last_lines_of_its_log(record: FakeRecord):
    record.events += [baseline_run(), baseline_verdict("crash"), end("baseline failed: /bin/sh: 1: uv: not found")]
    failed = await finish.failed_baseline(None, CAMPAIGN)
    assert failed is not None and failed.reason == "/bin/sh: 1: uv: not found"
    assert len(failed.log_lines) == 15 and failed.log_lines[-1] == "/bin/sh: 1: uv: not found"
    assert failed.log_lines[0] == "line 26"  # blank lines left out


async def test_a_kept_baseline_is_no_failure(record: FakeRecord):
    record.events += [baseline_run("ok", None), baseline_verdict("keep")]
    assert await finish.failed_baseline(None, CAMPAIGN) is None
