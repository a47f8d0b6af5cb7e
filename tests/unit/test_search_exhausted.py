"""A proposer whose search has nothing left answers the ticket with proposal.exhausted instead of handing it back forever."""

from __future__ import annotations

import pytest

from services.proposer.handlers import ProposerContext, on_proposal_requested
from services.proposer.records import CampaignRecords
from services.proposer.search import SearchResearcher
from shared.bus import handle_message
from shared.edits import Edit
from shared.events import ProposalCreated, ProposalExhausted, ProposalRequested
from shared.failures import RetryLater
from shared.ids import exhausted_id
from tests.fakes import FakePublisher
from tests.message_fakes import FakeMsg

BASE = "b" * 40
TICKET = ProposalRequested(campaign="c1", experiment_id="c1-0009", producer="trainer/1", base_commit=BASE, sequence=9)
NOTHING_TO_TUNE = "SEED = 1\nTIME_BUDGET = 300\nprint(SEED, TIME_BUDGET)\n"


def proposer(train_py: str, records: CampaignRecords | None = None) -> tuple[ProposerContext, FakePublisher]:
    async def campaign_records(campaign: str) -> CampaignRecords:
        return records or CampaignRecords()

    async def read_file(campaign: str, commit: str, path: str) -> str | None:
        return train_py if path == "train.py" else None

    publish = FakePublisher()
    return ProposerContext(SearchResearcher(), publish, campaign_records, read_file, "proposer/test"), publish


def handlers(ctx: ProposerContext) -> dict:
    return {ProposalRequested.subject: lambda e: on_proposal_requested(e, ctx)}


async def test_exhausted_search_publishes_proposal_exhausted_for_the_ticket():
    ctx, publish = proposer(NOTHING_TO_TUNE)
    await on_proposal_requested(TICKET, ctx)
    [exhausted] = publish.events
    assert isinstance(exhausted, ProposalExhausted)
    assert exhausted.event_id == exhausted_id(TICKET.experiment_id, BASE)
    assert (exhausted.campaign, exhausted.experiment_id, exhausted.base_commit) == ("c1", "c1-0009", BASE)
    assert exhausted.reason.startswith("nothing left to try from bbbbbbb")


async def test_exhausted_ticket_is_acknowledged_not_handed_back():
    ctx, publish = proposer(NOTHING_TO_TUNE)
    msg = FakeMsg(ProposalRequested.subject, TICKET.model_dump_json().encode())
    await handle_message(msg, handlers(ctx), 30.0, -1)
    assert msg.settled == ["ack"]
    assert publish.of(ProposalExhausted) and not publish.of(ProposalCreated)


async def test_search_waiting_on_an_undecided_change_hands_the_ticket_back_and_says_nothing():
    train_py = "import os\nDEPTH = 1\n"
    records = CampaignRecords()
    for number, value in enumerate([2, 3, 4, 5, 7], start=1):  # every move of DEPTH = 1, none decided yet
        experiment = f"c1-{number:04d}"
        records.apply(ProposalCreated(campaign="c1", experiment_id=experiment, producer="proposer/test", base_commit=BASE,
                                      description=f"DEPTH {value}", edits=[Edit(search="DEPTH = 1", replace=f"DEPTH = {value}")],
                                      proposer_kind="search"))
    ctx, publish = proposer(train_py, records)
    with pytest.raises(RetryLater, match="still undecided"):
        await on_proposal_requested(TICKET, ctx)
    assert publish.events == []
