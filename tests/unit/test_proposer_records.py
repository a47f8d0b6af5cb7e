"""A proposer's records of the campaign: what a ticket costs does not grow with the campaign's length."""

from __future__ import annotations

from services.proposer.records import CampaignRecords
from shared.edits import Edit
from shared.events import ProposalCreated, VerdictDecided

BASE = "a" * 40


def proposal(number: int) -> ProposalCreated:
    return ProposalCreated(campaign="c1", experiment_id=f"c1-{number:04d}", producer="t/1", base_commit=BASE,
                           description=f"idea {number}", edits=[Edit(search="A", replace="B")])


def test_each_ticket_copies_only_the_records_that_changed_since_the_last():
    records = CampaignRecords()
    for number in range(1, 4):
        records.apply(proposal(number))
    first = records.records()
    records.apply(VerdictDecided(campaign="c1", experiment_id="c1-0002", producer="t/1", commit="c" * 40,
                                 status="discard", val_bpb=1.0, head=BASE))
    second = records.records()
    assert [a is b for a, b in zip(first, second)] == [True, False, True]
    assert (first[1].status, second[1].status) == ("pending", "discard")  # a copy handed out never changes
