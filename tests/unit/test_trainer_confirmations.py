"""The trainer's side of confirmation runs, exhausted proposals and results the bus refuses."""

from __future__ import annotations

import nats

from services.trainer.handlers import (
    on_commit_made, on_confirmation_requested, on_proposal_exhausted, on_verdict_decided, run_baseline,
)
from shared.events import CampaignFinished, ConfirmationRequested, ProposalExhausted, ProposalRequested, RunFinished
from shared.ids import experiment_id
from tests.unit.test_trainer_handlers import (
    BASE, CAMPAIGN, FIRST, IDS, SECOND, after_baseline, commit_made, make_context, verdict,
)


def confirmation(sequence: int, commit: str, repeat: int, kept_state: bool = False, baseline: bool = False) -> ConfirmationRequested:
    return ConfirmationRequested(**IDS, experiment_id=experiment_id(CAMPAIGN, sequence), commit=commit, repeat=repeat,
                                 kept_state=kept_state, baseline=baseline, description="x")


async def test_baseline_repeats_are_run_as_the_baseline_with_their_repeat_number():
    ctx = make_context()
    await run_baseline(ctx)
    await on_confirmation_requested(confirmation(0, BASE, 1, baseline=True), ctx)
    runs = ctx.publish.of(RunFinished)
    assert [(r.repeat, r.baseline, r.parent, r.discard_ref) for r in runs] == [(0, True, None, None), (1, True, None, None)]
    assert runs[1].event_id != runs[0].event_id and ctx.run.runs == 2
    await on_confirmation_requested(confirmation(0, BASE, 1, baseline=True), ctx)
    assert ctx.run.runs == 2  # the same request again runs nothing


async def test_the_change_and_the_kept_state_are_run_again_for_the_awaited_experiment():
    ctx = make_context()
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    await on_confirmation_requested(confirmation(1, FIRST, 1), ctx)
    await on_confirmation_requested(confirmation(1, BASE, 1, kept_state=True), ctx)
    first, again, kept = ctx.publish.of(RunFinished)
    assert (again.commit, again.repeat, again.kept_state, again.parent) == (FIRST, 1, False, BASE)
    assert (kept.commit, kept.repeat, kept.kept_state, kept.baseline, kept.discard_ref) == (BASE, 1, True, False, None)
    assert ctx.progress.awaiting_verdict == experiment_id(CAMPAIGN, 1)


async def test_confirmations_of_commits_the_experiment_did_not_run_are_refused():
    ctx = make_context()
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    runs = ctx.run.runs
    await on_confirmation_requested(confirmation(1, SECOND, 1), ctx)  # a commit no ticket of this experiment produced
    await on_confirmation_requested(confirmation(1, SECOND, 1, kept_state=True), ctx)  # not the branch tip
    await on_confirmation_requested(confirmation(2, FIRST, 1), ctx)  # an experiment whose verdict is not awaited
    await on_verdict_decided(verdict(1, FIRST, "discard", BASE), ctx)
    await on_confirmation_requested(confirmation(1, FIRST, 2), ctx)  # decided already
    assert ctx.run.runs == runs


async def test_an_exhausted_tip_stops_tickets_and_ends_the_campaign_with_the_reason():
    ctx = make_context(lookahead=0)
    await after_baseline(ctx)
    assert ctx.progress.tickets == 1  # the one ticket the lookahead allows went out with the baseline's verdict
    exhausted = ProposalExhausted(**IDS, experiment_id=experiment_id(CAMPAIGN, 1), base_commit=BASE,
                                  reason="every move from bbbbbbb was tried")
    await on_proposal_exhausted(exhausted, ctx)
    assert ctx.publish.of(ProposalRequested) == []
    [finished] = ctx.publish.of(CampaignFinished)
    assert "no change left to propose: every move from bbbbbbb was tried" == finished.reason
    await on_proposal_exhausted(exhausted, ctx)
    assert len(ctx.publish.of(CampaignFinished)) == 1


async def test_an_exhausted_tip_does_not_stop_a_campaign_whose_tip_has_moved():
    ctx = make_context(lookahead=1)
    await after_baseline(ctx)
    ctx.publish.events.clear()
    await on_proposal_exhausted(ProposalExhausted(**IDS, experiment_id=experiment_id(CAMPAIGN, 1), base_commit=FIRST,
                                                  reason="nothing left at 1111111"), ctx)
    assert ctx.publish.of(CampaignFinished) == [] and len(ctx.publish.of(ProposalRequested)) == 1


async def test_a_result_the_bus_refuses_goes_out_as_a_crash_saying_why():
    ctx = make_context()
    published = ctx.publish

    async def small_payloads(event) -> None:
        if isinstance(event, RunFinished) and event.status == "ok":
            raise nats.errors.MaxPayloadError
        await published(event)

    ctx.publish = small_payloads
    await run_baseline(ctx)
    [finished] = published.of(RunFinished)
    assert finished.status == "crash" and "could not be published" in finished.log_tail
    assert finished.metrics == {"crash_reason": finished.log_tail}  # none of the refused run's metrics, only why
    assert ctx.progress.awaiting_verdict == finished.experiment_id
