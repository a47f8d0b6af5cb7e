"""The proposer fits a draft to the proposal contract, or hands the ticket back for another draft; it never drops it."""

from __future__ import annotations

import pytest

from services.proposer.handlers import ProposerContext, on_proposal_requested
from services.proposer.records import CampaignRecords
from services.proposer.researcher import Draft, ResearchContext
from shared.bus import handle_message
from shared.failures import RetryLater
from shared.edits import EDITS_MAX, Edit
from shared.events import NOTE_MAX, TEXT_MAX, ProposalCreated, ProposalRequested
from tests.fakes import FakePublisher
from tests.message_fakes import FakeMsg

BASE = "b" * 40
TRAIN_PY = "LEARNING_RATE = 0.01\n"


class FakeResearcher:
    """Hands out the drafts it was given, one per call."""

    kind = "fake"

    def __init__(self, *drafts: Draft) -> None:
        self.drafts = list(drafts)

    async def propose(self, context: ResearchContext) -> Draft:
        return self.drafts.pop(0)


def draft(**overrides: object) -> Draft:
    fields = dict(description="raise the rate", rationale="it helps", expected_vram_impact="none",
                  edits=[Edit(search="LEARNING_RATE = 0.01", replace="LEARNING_RATE = 0.02")])
    return Draft(**{**fields, **overrides})


def proposer(*drafts: Draft) -> tuple[ProposerContext, FakePublisher]:
    async def records(campaign: str) -> CampaignRecords:
        return CampaignRecords()

    async def read_file(campaign: str, commit: str, path: str) -> str | None:
        return TRAIN_PY if path == "train.py" else None

    publish = FakePublisher()
    return ProposerContext(FakeResearcher(*drafts), publish, records, read_file, "proposer/test"), publish


TICKET = ProposalRequested(campaign="c1", experiment_id="c1-0001", producer="trainer/1", base_commit=BASE, sequence=1)


async def test_long_rationale_and_memory_note_are_cut_to_the_contract():
    ctx, publish = proposer(draft(rationale="because " * 5_000, expected_vram_impact="about the same " * 500))
    await on_proposal_requested(TICKET, ctx)
    [proposal] = publish.of(ProposalCreated)
    assert len(proposal.rationale) == TEXT_MAX and proposal.rationale.startswith("because because")
    assert len(proposal.expected_vram_impact) == NOTE_MAX


async def test_draft_that_cannot_become_a_proposal_hands_the_ticket_back_for_another_draft():
    too_many = [Edit(search=f"X{i} = 1", replace=f"X{i} = 2") for i in range(EDITS_MAX + 1)]
    ctx, publish = proposer(draft(edits=too_many), draft())
    with pytest.raises(RetryLater, match="edits"):
        await on_proposal_requested(TICKET, ctx)
    await on_proposal_requested(TICKET, ctx)  # the ticket comes back; the next draft fits
    assert [p.description for p in publish.of(ProposalCreated)] == ["raise the rate"]


async def test_draft_that_does_not_fit_is_not_set_aside_by_the_bus():
    ctx, _ = proposer(draft(description="raise \x1b[31mthe rate"))
    msg = FakeMsg(ProposalRequested.subject, TICKET.model_dump_json().encode())
    await handle_message(msg, {ProposalRequested.subject: lambda e: on_proposal_requested(e, ctx)}, 30.0, -1)
    assert msg.settled == ["nak"]
