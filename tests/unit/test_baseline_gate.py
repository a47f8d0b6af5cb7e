"""The baseline gate: nothing is proposed before the baseline is kept, and a failed baseline ends the campaign, saying why."""

from __future__ import annotations

from services.trainer.handlers import (
    TrainerContext, on_commit_made, on_confirmation_requested, on_proposal_rejected, on_verdict_decided, request_proposals,
    run_baseline,
)
from services.trainer.progress import CampaignProgress
from shared.events import (
    CampaignFinished, CampaignStarted, CommitMade, ConfirmationRequested, Event, ProposalRejected, ProposalRequested,
    RunFinished, VerdictDecided,
)
from shared.ids import experiment_id
from tests.fakes import FakePublisher
from tests.unit.test_trainer_handlers import FakeObjects, FakeRunner, FakeWorkspace

CAMPAIGN, BASE, FIRST = "c1", "b" * 40, "1" * 40
IDS = dict(campaign=CAMPAIGN, producer="test/1")
BASELINE = experiment_id(CAMPAIGN, 0)
MISSING = "ModuleNotFoundError: No module named 'kernels'"
TRACEBACK = f"Traceback (most recent call last):\n  File \"train.py\", line 21, in <module>\n    import kernels\n{MISSING}"


def started() -> CampaignStarted:
    return CampaignStarted(**IDS, experiment_id=BASELINE, branch="autoresearch/c1", base_commit=BASE, bundle="b", lookahead=1)


def context(history: list[Event] = (), lookahead: int = 1, session: str | None = "up-1", runner: FakeRunner | None = None,
            limit: int | None = None) -> TrainerContext:
    """A trainer as it starts: its progress rebuilt from the history, as main.py rebuilds it from the stream."""
    progress = CampaignProgress(CAMPAIGN, lookahead=lookahead, limit=limit)
    for event in [started(), *history]:
        progress.apply(event)
    ctx = TrainerContext(workspace=FakeWorkspace(BASE), progress=progress, publish=FakePublisher(), run=runner or FakeRunner(),
                         ensure_commit=FakeObjects(), command="uv run train.py", producer="trainer/test", session=session,
                         run_timeout=600.0)
    if progress.awaiting_verdict is None:
        ctx.idle.set()
    return ctx


def crashing(log_tail: str = TRACEBACK, status: str = "crash") -> FakeRunner:
    runner = FakeRunner(status)
    runner.outcome.metrics, runner.outcome.log_tail = {}, log_tail
    return runner


def baseline_verdict(status: str, reason: str = "") -> VerdictDecided:
    return VerdictDecided(**IDS, experiment_id=BASELINE, commit=BASE, status=status, head=BASE, baseline=True, reason=reason)


async def serve(ctx: TrainerContext) -> None:
    """What the trainer's serve() does at start: tickets first, then the baseline."""
    await request_proposals(ctx)
    await run_baseline(ctx)


async def failed_campaign(session: str = "up-1", runner: FakeRunner | None = None) -> TrainerContext:
    """A campaign whose baseline ran, crashed and was judged a crash; its publisher holds the stream's record in order."""
    ctx = context(session=session, runner=runner or crashing())
    await serve(ctx)
    verdict = baseline_verdict("crash", f"crashed: {MISSING}")
    ctx.publish.events.append(verdict)  # the evaluator's, in the stream before the end the trainer announces on it
    await on_verdict_decided(verdict, ctx)
    return ctx


async def test_no_ticket_goes_out_while_the_baseline_runs_even_with_lookahead():
    ctx = context(lookahead=2)
    await serve(ctx)
    assert ctx.publish.of(ProposalRequested) == []
    await on_verdict_decided(baseline_verdict("keep", "baseline"), ctx)
    assert [t.sequence for t in ctx.publish.of(ProposalRequested)] == [1, 2, 3]


async def test_no_ticket_goes_out_while_the_baseline_is_being_confirmed():
    ctx = context()
    await serve(ctx)
    confirm = ConfirmationRequested(**IDS, experiment_id=BASELINE, commit=BASE, repeat=1, baseline=True, description="baseline")
    await on_confirmation_requested(confirm, ctx)
    await on_proposal_rejected(ProposalRejected(**IDS, experiment_id=experiment_id(CAMPAIGN, 1), reason="x"), ctx)
    assert ctx.run.runs == 2 and ctx.publish.of(ProposalRequested) == []


async def test_a_crashed_baseline_ends_the_campaign_with_its_reason_and_proposes_nothing():
    ctx = await failed_campaign()
    [finished] = ctx.publish.of(RunFinished)
    assert finished.metrics["crash_reason"] == MISSING
    [end] = ctx.publish.of(CampaignFinished)
    assert end.reason == f"baseline failed: {MISSING}" and end.experiments == 0 and end.head == BASE
    assert ctx.publish.of(ProposalRequested) == []
    await on_commit_made(CommitMade(**IDS, experiment_id=experiment_id(CAMPAIGN, 1), commit=FIRST, parent=BASE, message="m",
                                    description="d", diff="", lines_added=1, lines_removed=0, bundle="x"), ctx)
    assert ctx.run.runs == 1  # nothing runs after a failed baseline


async def test_a_baseline_that_timed_out_says_how_long_it_had():
    ctx = await failed_campaign(runner=crashing("step 00010 (3.0%) | loss: 4.1\n", status="timeout"))
    [end] = ctx.publish.of(CampaignFinished)
    assert end.reason == "baseline failed: timed out after 600 s"


async def test_a_baseline_with_a_failed_repeat_but_a_successful_first_run_is_kept_and_the_campaign_goes_on():
    ctx = context()
    await serve(ctx)
    ctx.run = crashing()
    confirm = ConfirmationRequested(**IDS, experiment_id=BASELINE, commit=BASE, repeat=1, baseline=True, description="baseline")
    await on_confirmation_requested(confirm, ctx)
    await on_verdict_decided(baseline_verdict("keep", f"baseline, mean of 1 runs (a repeat crashed: {MISSING})"), ctx)
    assert ctx.publish.of(CampaignFinished) == []
    assert [t.sequence for t in ctx.publish.of(ProposalRequested)] == [1, 2]


async def test_a_trainer_restarted_in_the_same_session_does_not_announce_the_end_again():
    first = await failed_campaign(session="up-1")
    restarted = context(first.publish.events, session="up-1")
    await serve(restarted)
    await on_proposal_rejected(ProposalRejected(**IDS, experiment_id=experiment_id(CAMPAIGN, 1), reason="x"), restarted)
    assert restarted.publish.events == [] and restarted.run.runs == 0


async def test_a_resumed_campaign_ends_again_at_once_with_the_same_reason():
    first = await failed_campaign(session="up-1")
    resumed = context(first.publish.events, session="up-2")
    await serve(resumed)
    [end] = resumed.publish.events
    assert isinstance(end, CampaignFinished) and end.reason == f"baseline failed: {MISSING}"
    assert end.event_id != first.publish.of(CampaignFinished)[0].event_id  # else JetStream would drop it as a duplicate
    assert resumed.run.runs == 0  # neither the baseline again nor anything else


async def test_a_trainer_restarted_mid_baseline_runs_it_again_and_still_proposes_nothing():
    ctx = context()
    await request_proposals(ctx)  # killed here, during the baseline: nothing in the record but the campaign's start
    restarted = context(ctx.publish.events)
    await serve(restarted)
    record = ctx.publish.events + restarted.publish.events
    assert restarted.run.runs == 1 and [event for event in record if isinstance(event, ProposalRequested)] == []
    assert restarted.progress.awaiting_verdict == BASELINE


async def test_a_baseline_verdict_that_is_not_a_keep_ends_even_without_a_reason_from_the_run():
    progress = CampaignProgress(CAMPAIGN)
    for event in (started(), baseline_verdict("crash", "reported no finite val_bpb")):
        progress.apply(event)
    assert progress.baseline_failure == "reported no finite val_bpb" and not progress.wants_ticket()
    assert progress.should_announce_failure("finished-c1-baseline-failed")


async def test_the_limit_does_not_stand_in_for_the_failure():
    ctx = context(limit=0, runner=crashing())
    await serve(ctx)
    await on_verdict_decided(baseline_verdict("crash", "crashed"), ctx)
    [end] = ctx.publish.of(CampaignFinished)
    assert end.reason.startswith("baseline failed:")

