"""The LLM proposer's first prompt waits for the baseline's verdict: never "No result yet" once it exists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.proposer.handlers import ProposerContext, on_proposal_requested
from services.proposer.llm.researcher import LLMResearcher
from services.proposer.records import CampaignRecords
from services.proposer.search import SearchResearcher
from shared.bus import handle_message
from shared.events import Event, ProposalCreated, ProposalRequested, RunFinished, VerdictDecided
from shared.failures import RetryLater
from tests.fakes import FakePublisher
from tests.message_fakes import FakeMsg
from tests.unit.test_llm_program_fit import HEAD, TICKET, TRAIN_PY, FakeChatClient

NOW = datetime.now(UTC)
BASELINE = dict(campaign="mar5", experiment_id="mar5-0000", producer="test/1", commit=HEAD, baseline=True)
BASELINE_RUN = RunFinished(**BASELINE, status="ok", metrics={"val_bpb": 0.9979, "num_steps": 953.0},
                           started_at=NOW, finished_at=NOW)
BASELINE_KEPT = VerdictDecided(**BASELINE, status="keep", val_bpb=0.9979, memory_gb=44.0, head=HEAD)


class FakeFollower:
    """The proposer's record of a stream: each catch-up folds in the next batch of events that reached it."""

    def __init__(self, *batches: list[Event]) -> None:
        self.batches, self.records_now, self.catch_ups = list(batches), CampaignRecords(), 0

    async def records(self, campaign: str) -> CampaignRecords:
        self.catch_ups += 1
        for event in self.batches.pop(0) if self.batches else []:
            self.records_now.apply(event)
        return self.records_now


def proposer(follower: FakeFollower, researcher=None) -> tuple[ProposerContext, FakeChatClient, FakePublisher]:
    client, publish = FakeChatClient(), FakePublisher()

    async def read_file(campaign: str, commit: str, path: str) -> str | None:
        return TRAIN_PY if path == "train.py" else None

    ctx = ProposerContext(researcher or LLMResearcher(client), publish, follower.records, read_file, "proposer/t")
    return ctx, client, publish


async def test_a_record_behind_the_stream_catches_up_before_the_first_prompt():
    # The verdict is in the stream, but the first read of it has not reached the proposer's record yet.
    follower = FakeFollower([BASELINE_RUN], [BASELINE_KEPT])
    ctx, client, publish = proposer(follower)
    await on_proposal_requested(TICKET, ctx)
    [prompt] = client.prompts
    assert "No result yet" not in prompt
    assert "Best val_bpb so far: 0.997900 (baseline)" in prompt and "num_steps: 953" in prompt
    assert len(publish.of(ProposalCreated)) == 1


async def test_a_ticket_before_the_baseline_verdict_is_handed_back_without_a_prompt():
    follower = FakeFollower([BASELINE_RUN])
    ctx, client, publish = proposer(follower)
    with pytest.raises(RetryLater, match="baseline"):
        await on_proposal_requested(TICKET, ctx)
    assert client.prompts == [] and publish.events == [] and follower.catch_ups == 2
    msg = FakeMsg(ProposalRequested.subject, TICKET.model_dump_json().encode())
    await handle_message(msg, {ProposalRequested.subject: lambda e: on_proposal_requested(e, ctx)}, 30.0, -1)
    assert msg.settled == ["nak"]  # handed back for later, never set aside
    follower.batches.append([BASELINE_KEPT])
    await handle_message(msg.redelivered(), {ProposalRequested.subject: lambda e: on_proposal_requested(e, ctx)}, 30.0, -1)
    [prompt] = client.prompts
    assert "No result yet" not in prompt and "0.997900" in prompt


async def test_a_crashed_baseline_is_a_verdict_the_prompt_reports():
    crashed = RunFinished(**BASELINE, status="crash", started_at=NOW, finished_at=NOW)
    follower = FakeFollower([crashed, VerdictDecided(**BASELINE, status="crash", head=HEAD)])
    ctx, client, _ = proposer(follower)
    await on_proposal_requested(TICKET, ctx)
    assert "No result yet" not in client.prompts[0]
    assert "No kept result: the baseline ended as crash" in client.prompts[0]


async def test_the_search_proposer_does_not_wait_for_the_baseline():
    ctx, _, publish = proposer(FakeFollower(), researcher=SearchResearcher())
    await on_proposal_requested(TICKET, ctx)
    assert len(publish.of(ProposalCreated)) == 1
